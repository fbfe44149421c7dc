"""The event catalogue the endpoint tests name types from: the real one (common.integrations.catalogue) when
it exists, else a stand-in holding the few types these tests use, installed for the test."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

import common.integrations
import pytest

CATALOGUE = "common.integrations.catalogue"
# Types of the catalogue (leads, deals, payouts) the tests subscribe to.
TYPES = ("lead.converted", "deal.stage_changed", "payout.paid")


@contextmanager
def catalogue_with_test_types() -> Iterator[None]:
    try:
        importlib.import_module(CATALOGUE)
    except ModuleNotFoundError:
        with pytest.MonkeyPatch.context() as patch:
            stand_in = types.ModuleType(CATALOGUE)
            stand_in.EVENT_TYPES = frozenset(TYPES)  # type: ignore[attr-defined]
            patch.setitem(sys.modules, CATALOGUE, stand_in)
            patch.setattr(common.integrations, "catalogue", stand_in, raising=False)
            yield
        return
    yield
