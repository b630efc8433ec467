"""Fixtures for ingestion: an active contract, its customer's webhook source, and a signed poster."""

from __future__ import annotations

import pytest

from tests.support.ingest import Ingest, make_ingest


@pytest.fixture
def ingest(db: None) -> Ingest:
    return make_ingest()
