"""A team member's text to our number: its keyword, what it does in each team the number is in, and the
reply to text back. Twilio's side of it (the signed request, TwiML) is the webhook's (functions/referrals).

A member accepts a referral (YES <code>), pauses or resumes their referral texts in every team they are
in, opts the number out of every text or back in (STOP / START), or asks for the keywords (HELP). A number
that is no member's is answered and changes nothing, except an opt-out or opt-in, which concerns the
number whoever it is.

A member's text is acted on once per MessageSid (Twilio posts it again when we answer too slowly), by a
notice (common.platform.notices) that stores the reply: a redelivery gets the same reply and changes
nothing. A claim never finished (the function was stopped between the claim and the end) holds for
CLAIM_LEASE, longer than the webhook may run; meanwhile a redelivery is refused (NoticeInProgress: the
webhook answers 503 and Twilio may retry), then the message is processed again: every action is safe to
repeat (pausing and opting out set a value; an acceptance repeated by its winner changes nothing and
answers "you already accepted"), so a crash may repeat an action but never lose one.

    inbound sms   see team_model.inbound_message_key   a notice: claimed_at, claim_id, done_at, outcome
                  (reply, outcome, command, teams); deleted by DynamoDB after RECORD_TTL. Neither the
                  number nor the text is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit

from common.orgs.access import user_actor
from common.platform import db, notices
from common.platform.observability import logger, metrics
from common.platform.validation import is_e164
from common.teams import membership
from common.teams.referral_acceptance import AcceptanceOutcome, accept_by_code
from common.teams.team_model import INBOUND_NOTICE, inbound_message_owner

# Longer than the webhook function may run (its timeout is 10 s): an unfinished claim this old was abandoned.
CLAIM_LEASE = timedelta(seconds=15)
# Twilio redelivers within seconds to minutes; the record is kept a few days, then DynamoDB deletes it.
RECORD_TTL = timedelta(days=3)

# -- replies -----------------------------------------------------------------------------------------

HELP_TEXT = (
    "Partner team texts: reply YES and the code (e.g. YES 4821) to accept a referral, PAUSE to stop "
    "referral offers for now, RESUME to get them again, STOP to get no texts at all, START to opt back in."
)
UNKNOWN_TEXT = "Sorry, we did not understand that. Reply YES and the code to accept a referral, or HELP."
CODE_MISSING_TEXT = "Reply YES and the code from the offer, e.g. YES 4821."
PAUSED_TEXT = "You are paused: no referral offers until you reply RESUME. Your team still gets them."
RESUMED_TEXT = "Welcome back: you will get referral offers again. Reply PAUSE to pause."
STOPPED_TEXT = "You will get no more texts from us. Reply START to opt back in."
STARTED_TEXT = "You are opted back in to partner team texts. Reply HELP for the keywords."
NOT_A_MEMBER_TEXT = (
    "This number is not on a partner team, so there is nothing to reply to. If you expected texts from us, "
    "ask your team leader to add this number."
)

# -- keywords ----------------------------------------------------------------------------------------

Kind = Literal["accept", "pause", "resume", "stop", "start", "help", "unknown"]

ACCEPT_WORDS = frozenset({"yes", "y", "accept"})
# Twilio's own opt-out and opt-in keywords (it honours them itself on Messaging Services): we record
# them too, so that nothing is ever texted to a number that opted out.
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
START_WORDS = frozenset({"start", "unstop"})
HELP_WORDS = frozenset({"help", "info"})
SIMPLE_WORDS: dict[str, Kind] = {
    **dict.fromkeys(STOP_WORDS, "stop"),
    **dict.fromkeys(START_WORDS, "start"),
    **dict.fromkeys(HELP_WORDS, "help"),
    "pause": "pause",
    "resume": "resume",
}
_CODE = re.compile(r"^#?([0-9]{1,10})$")
_TRAILING_PUNCTUATION = ".!?,;:"


@dataclass(frozen=True)
class Command:
    kind: Kind
    code: str | None = None


def parse(body: str) -> Command:
    """The keyword of a reply, case-insensitive, surrounding spaces and trailing punctuation ignored:
    YES/Y/ACCEPT <code> (also written YES4821 or YES #4821), PAUSE, RESUME, STOP and its synonyms, START,
    HELP; anything else is unknown. An accept word without a code is an accept without a code."""
    words = body.casefold().split()
    words = [w.strip(_TRAILING_PUNCTUATION) for w in words]
    words = [w for w in words if w]
    if not words:
        return Command("unknown")
    first = words[0]
    if len(words) == 1 and first in SIMPLE_WORDS:
        return Command(SIMPLE_WORDS[first])
    if first in ACCEPT_WORDS:
        rest = "".join(words[1:])
        if not rest:
            return Command("accept")
        match = _CODE.match(rest)
        return Command("accept", match.group(1)) if match else Command("unknown")
    glued = re.match(r"^(yes|accept|y)#?([0-9]{1,10})$", "".join(words))
    if glued:
        return Command("accept", glued.group(2))
    return Command("unknown")


# -- what a text does --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """The text to send back, what the message did (its command, or how an acceptance ended), and in how
    many of the number's teams it acted."""

    text: str
    outcome: str
    teams: int = 0


def reply(message_sid: str, phone: str, text: str) -> Reply:
    """What the text `text` from `phone` (Twilio's message `message_sid`) does, and the reply. A member's
    message acts in every team the number is in, once per message; anyone else's writes no record of it
    and acts at most on the number (an opt-out or opt-in sets a value, safe to repeat). Raises
    notices.NoticeInProgress while another delivery of the message is acting."""
    command = parse(text)
    links: list[db.Item] = []
    if is_e164(phone):
        _, links = membership.phone_memberships(phone)
    if not links:
        logger.info("sms from a non-member", extra={"message_sid": message_sid, "command": command.kind})
        if command.kind in ("stop", "start") and is_e164(phone):
            membership.set_opted_out(phone, command.kind == "stop")
            return Reply(STOPPED_TEXT if command.kind == "stop" else STARTED_TEXT, command.kind)
        return Reply(NOT_A_MEMBER_TEXT, "not-a-member")
    return _once(message_sid, command, lambda: _act(command, phone, links, message_sid))


def _once(message_sid: str, command: Command, act: Callable[[], Reply]) -> Reply:
    """`act` for the message unless an earlier delivery did: then the reply it stored. A failed action
    releases the claim, so Twilio's retry acts again."""
    done = notices.done_once(
        inbound_message_owner(message_sid),
        INBOUND_NOTICE,
        lambda: {**asdict(act()), "command": command.kind},
        lease=CLAIM_LEASE,
        keep_for=RECORD_TTL,
    )
    stored = done.outcome
    answer = Reply(str(stored.get("text") or ""), str(stored.get("outcome") or ""), int(stored.get("teams") or 0))
    if not done.acted:
        logger.info("sms redelivered", extra={"message_sid": message_sid, "outcome": answer.outcome})
        return answer
    metrics.add_metric(name="SmsRepliesProcessed", unit=MetricUnit.Count, value=1)
    logger.info(
        "sms processed",
        extra={"message_sid": message_sid, "command": command.kind, "outcome": answer.outcome, "teams": answer.teams},
    )
    return answer


def combined(outcomes: list[AcceptanceOutcome]) -> tuple[str, str]:
    """One reply for a "YES <code>" tried in each of the number's teams: the acceptances (a code may be
    open in two of them), else why the request the code stands for was refused, else "no such code"."""
    accepted = [o for o in outcomes if o.accepted]
    if accepted:
        return " ".join(o.reply for o in accepted), accepted[0].result
    found = [o for o in outcomes if o.found]
    chosen = found[0] if found else outcomes[0]
    return chosen.reply, chosen.result


def _act(command: Command, phone: str, links: list[db.Item], message_sid: str) -> Reply:
    """Carry out the command for the number (a member of every team in `links`)."""
    teams = len(links)
    if command.kind == "accept":
        if command.code is None:
            return Reply(CODE_MISSING_TEXT, "code-missing", teams)
        outcomes = [accept_by_code(link, command.code, message_sid=message_sid) for link in links]
        return Reply(*combined(outcomes), teams)
    if command.kind in ("pause", "resume"):
        # The member pauses themselves, in every team they are in; the teams are not paused.
        paused = command.kind == "pause"
        for link in links:
            user_id = link["user_id"]
            membership.set_paused(link["org_id"], link["team_id"], user_id, paused, user_actor(user_id))
        return Reply(PAUSED_TEXT if paused else RESUMED_TEXT, command.kind, teams)
    if command.kind in ("stop", "start"):
        membership.set_opted_out(phone, command.kind == "stop")
        return Reply(STOPPED_TEXT if command.kind == "stop" else STARTED_TEXT, command.kind, teams)
    if command.kind == "help":
        return Reply(HELP_TEXT, "help", teams)
    return Reply(UNKNOWN_TEXT, "unknown", teams)
