from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.integrations.catalogue import catalogue_with_test_types


@pytest.fixture(autouse=True)
def event_catalogue() -> Iterator[None]:
    with catalogue_with_test_types():
        yield
