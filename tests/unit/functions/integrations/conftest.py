"""The table's stream, read back as the dispatcher hands its records on."""

from tests.unit.integrations.table_stream import stream  # noqa: F401 - the fixture
