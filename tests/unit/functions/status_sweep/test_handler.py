"""The StatusSweep function on the scheduler's event: it runs the partners' lapse sweep and the teams' sweeps
(tests/unit/partners/test_lapse_sweep.py and tests/unit/teams/test_reminders.py test the sweeps themselves)."""

from __future__ import annotations

from typing import Any

from local.twilio_fake import FakeTwilio
from tests.support import invoke, load_event
from tests.unit.conftest import FrozenClock
from tests.unit.partners.test_lapse_sweep import _lead, _partner, _status
from tests.unit.teams import test_reminders as reminders
from tests.unit.teams.test_reminders import M1, add_customer, new_team

# The reminders tests' Twilio stand-in, as a fixture here too (pytest finds fixtures among a module's names).
twilio = reminders.twilio


def test_the_handler_runs_the_sweep_on_the_scheduler_event(frozen_clock: Any) -> None:
    _partner("handled")
    _lead("handled")
    frozen_clock.advance(days=45)
    result = invoke("status_sweep.handler.lambda_handler", load_event("scheduler_event.json"))
    no_teams = {"orgs": 0, "due": 0, "reminded": 0, "digests": 0, "failed": 0, "items_read": 0}
    no_requests = {"orgs": 0, "due": 0, "expired": 0, "items_read": 0}
    assert result == {"due": 1, "lapsed": 1, "items_read": 1, "reminders": no_teams, "referrals": no_requests}
    assert _status("handled") == "LAPSED"


def test_the_handler_runs_both_sweeps(twilio: FakeTwilio, frozen_clock: FrozenClock) -> None:
    org_id, team_id = new_team()
    add_customer(org_id, team_id, M1)
    frozen_clock.advance(days=8)
    result = invoke("status_sweep.handler.lambda_handler", load_event("scheduler_event.json"))
    assert result["lapsed"] == 0
    assert result["reminders"] | {"items_read": 0} == {
        "orgs": 1,
        "due": 1,
        "reminded": 1,
        "digests": 1,
        "failed": 0,
        "items_read": 0,
    }
