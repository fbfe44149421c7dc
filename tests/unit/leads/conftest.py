"""The sale fixtures (sale_fixtures.py) for this folder's tests."""

from tests.unit.leads.sale_fixtures import sale_org  # noqa: F401 - the fixture
