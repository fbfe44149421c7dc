"""Entry point of the partners consumer: the e-mails and follow-ups of partner changes.

Its queue receives the changes of the entities its reactions handle (common.platform.change_fanout), one stream
record per message. Each message is handled on its own; a failing one is reported in batchItemFailures and
retried without redoing the others, and notices make a redelivered change send nothing twice."""

from __future__ import annotations

from common.deals import credited_leads, mail
from common.partners import mail as partner_mail
from common.platform import queued_changes
from common.platform.settings import Deployment, Portal, SenderDomains, SesConfiguration, validate_settings
from common.programme import mail as programme_mail
from common.programme import registration_attempts

validate_settings(Deployment, Portal, SenderDomains, SesConfiguration)

# Each module reacts to the changes of its own entities: (old image or None, new image or None).
REACTIONS: tuple[queued_changes.Reaction, ...] = (
    partner_mail.on_change,
    programme_mail.on_change,
    mail.on_change,
    credited_leads.on_change,
    registration_attempts.on_change,
)

lambda_handler = queued_changes.consumer(REACTIONS)
