"""The keywords of a team member's text reply (common.teams.text_replies.parse). The webhook that receives
the replies: tests/unit/functions/referrals/test_sms_webhook.py."""

from __future__ import annotations

import pytest
from common.teams.text_replies import Command, parse


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("YES 4821", Command("accept", "4821")),
        ("  yes   4821  ", Command("accept", "4821")),
        ("Y 4821", Command("accept", "4821")),
        ("accept 0042", Command("accept", "0042")),
        ("Yes #4821", Command("accept", "4821")),
        ("YES4821", Command("accept", "4821")),
        ("yes 4821!", Command("accept", "4821")),
        ("YES", Command("accept")),
        ("yes please", Command("unknown")),
        ("YES 4821 and 1234", Command("unknown")),
        ("PAUSE", Command("pause")),
        ("pause.", Command("pause")),
        ("Resume", Command("resume")),
        ("STOP", Command("stop")),
        ("stopall", Command("stop")),
        ("Unsubscribe", Command("stop")),
        ("cancel", Command("stop")),
        ("END", Command("stop")),
        ("quit", Command("stop")),
        ("START", Command("start")),
        ("unstop", Command("start")),
        ("HELP", Command("help")),
        ("info", Command("help")),
        ("", Command("unknown")),
        ("   ", Command("unknown")),
        ("stop it", Command("unknown")),
        ("hello there", Command("unknown")),
        ("4821", Command("unknown")),
    ],
)
def test_keywords(body: str, expected: Command) -> None:
    assert parse(body) == expected
