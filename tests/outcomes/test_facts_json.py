"""A verdict's facts are stored as the JSON value json.dumps(facts, default=str, sort_keys=True) gives."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

from outcomes.models import Decision
from outcomes.services.verification import _facts_json


def test_facts_encode_to_the_same_json_value_as_json_dumps_with_str_for_the_rest() -> None:
    facts = {
        "z": 3.517,
        "count": 5,
        "baseline_median": 1.5,
        "claimed_at": dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC),
        "day": dt.date(2026, 6, 1),
        "window": dt.timedelta(hours=72),
        "source_id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "price": Decimal("12.50"),
        "decision": Decision.FLAG,
        "nested": {"b": [1, None, True, "x"], "a": {"é": "ü"}},
        "ratio": None,
        "big": 2**62,
    }
    expected = json.dumps(facts, default=str, sort_keys=True)
    assert json.loads(_facts_json(facts)) == json.loads(expected)
    assert list(json.loads(_facts_json(facts))) == sorted(facts)
