"""The table's stream, read back as the dispatcher hands its records on; Twilio's stand-in for the texts."""

from tests.unit.integrations.table_stream import stream  # noqa: F401 - the fixture
from tests.unit.teams.test_reminders import twilio  # noqa: F401 - the fixture
