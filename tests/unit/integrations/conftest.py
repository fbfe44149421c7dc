"""The table's stream, read back as the dispatcher hands its records on; Twilio's stand-in for the texts; the
deliveries' fakes (endpoints, the delivery queue, a receiver, the settings); an organisation that sells leads."""

from tests.unit.integrations.delivery_fakes import (  # noqa: F401 - fixtures of this folder's tests
    fake_endpoints,
    queue,
    receiver,
    sqs_queue,
    webhook_settings,
)
from tests.unit.integrations.table_stream import stream  # noqa: F401 - the fixture
from tests.unit.leads.sale_fixtures import sale_org  # noqa: F401 - the fixture
from tests.unit.teams.test_reminders import twilio  # noqa: F401 - the fixture
