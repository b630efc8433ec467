"""Fixtures for the settlement tests: a contract whose outcomes become billable at once
(the stories themselves are in tests/support/settlement.py)."""

from __future__ import annotations

import pytest

from tests.support.ingest import Ingest, make_ingest
from tests.support.settlement import graduated_terms


@pytest.fixture
def ingest() -> Ingest:
    return make_ingest(terms=graduated_terms())
