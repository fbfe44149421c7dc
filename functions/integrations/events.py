"""Entry point of the integrations consumer: the events of the catalogue, from the table's changes, and the
posts of leads and customers sold by post (common.integrations.sale_deliveries), handed to the delivery engine.

Its queue receives the changes of the entities that have events (common.platform.change_fanout), one stream
record per message. Each message is handled on its own; a failing one is reported in batchItemFailures and
retried without redoing the others. A change's events have ids derived from the change itself, so a
redelivered change records nothing twice, and the deliveries it hands on are created once."""

from __future__ import annotations

from common.integrations import change_events, sale_deliveries
from common.platform import queued_changes
from common.platform.settings import Deployment, WebhookQueue, validate_settings

# Validated at cold start: the fan-out and the sales hand deliveries to the delivery queue.
validate_settings(Deployment, WebhookQueue)

# The reaction needs the record itself (its id names the events), not only its images.
RECORD_REACTIONS: tuple[queued_changes.RecordReaction, ...] = (change_events.on_change,)

REACTIONS: tuple[queued_changes.Reaction, ...] = (sale_deliveries.on_change,)

lambda_handler = queued_changes.consumer(REACTIONS, RECORD_REACTIONS)
