"""Entry point of the referrals consumer: a new referral request is texted to its team, and one made for an
area that expired unaccepted is offered on to the next team of its route.

Its queue receives the insertions of referral requests (common.platform.change_fanout), one stream record per
message. Each message is handled on its own; a change whose texts could not all go out (Twilio unreachable)
is reported in batchItemFailures and retried, and the per-member notices make the retry text only those not
texted yet."""

from __future__ import annotations

from common.platform import queued_changes
from common.platform.settings import Deployment, Portal, TwilioAuthToken, TwilioSender, validate_settings
from common.teams import referral_expiry, referral_offers

validate_settings(Deployment, Portal, TwilioAuthToken, TwilioSender)

REACTIONS: tuple[queued_changes.Reaction, ...] = (referral_offers.on_change, referral_expiry.on_change)

lambda_handler = queued_changes.consumer(REACTIONS)
