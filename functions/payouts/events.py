"""Entry point of the payouts consumer: the commission cascade of deal stage changes, and the e-mail a partner
gets when their payout request is settled.

Its queue receives only those changes (common.platform.change_fanout), one stream record per message. Each message is
handled on its own; a failing one is reported in batchItemFailures and retried without redoing the others.
Every reaction is safe to repeat and to receive out of order: commission entries have deterministic ids and
conditional writes, e-mails go out once through notices."""

from __future__ import annotations

from common.money import commissions, payout_mail
from common.platform import queued_changes
from common.platform.settings import Deployment, Portal, SesConfiguration, validate_settings

validate_settings(Deployment, Portal, SesConfiguration)

REACTIONS: tuple[queued_changes.Reaction, ...] = (commissions.on_change, payout_mail.on_change)

lambda_handler = queued_changes.consumer(REACTIONS)
