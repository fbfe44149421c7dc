"""Entry point of the leads consumer: the e-mails that follow lead changes, customers sold to us, and a lead or
customer we sold.

Its queue receives those changes only (common.platform.change_fanout), one stream record per message. Each message is
handled on its own; a failing one is reported in batchItemFailures and retried without redoing the others,
and the notices make a redelivered change send nothing twice."""

from __future__ import annotations

from common.leads import customer_mail, mail, sale_mail
from common.platform import queued_changes
from common.platform.settings import Deployment, SesConfiguration, validate_settings

validate_settings(Deployment, SesConfiguration)

REACTIONS: tuple[queued_changes.Reaction, ...] = (mail.on_change, customer_mail.on_change, sale_mail.on_change)

lambda_handler = queued_changes.consumer(REACTIONS)
