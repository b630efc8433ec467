"""Money as the vendor reads it: every amount a portal page shows is in major units with its currency
("1,234.56 USD", "12,345 JPY"), never the integer of minor units the database and the API keep.

A vendor's contracts carry amounts chosen to be recognisable (1,234.56 USD is 123456 in minor units);
every page that shows them is swept for the major form and for the minor integer, which must not appear.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client

from contracts.models import Role
from outcomes.models import Outcome
from outcomes.services.building import outcomes_build_sweep
from outcomes.services.verification import outcomes_evaluate_due
from settlement.invoicing.close import period_close
from settlement.models import LineKind
from tests.factories import outcome_type_terms, version_terms
from tests.support.ingest import Ingest, event, make_ingest
from tests.support.portal import make_member, signed_in
from tests.support.settlement import APRIL, FAST, MARCH

pytestmark = pytest.mark.django_db

NOW = MARCH + dt.timedelta(days=10)

# Each amount in minor units, as stored, and as the vendor reads it.
USD_AMOUNTS = {
    123_456: "1,234.56 USD",  # the platform fee
    9_876_543: "98,765.43 USD",  # the contract's cap per period
    5_432_100: "54,321.00 USD",  # the outcome type's cap per period
    7_654_321: "76,543.21 USD",  # drafts above it wait for the customer's approval
    1_111: "11.11 USD",  # the least fee per deal
    999_999: "9,999.99 USD",  # the most fee per deal
    246_813: "2,468.13 USD",  # the value a deal reported
}
JPY_FEE = (12_345, "12,345 JPY")  # zero decimals: the minor unit is the yen


def deal_terms(platform_fee_minor: int, currency_caps: bool = True) -> dict[str, object]:
    """10 % of each deal's reported value, between the least and the most fee."""
    deal = outcome_type_terms(
        key="deal.closed",
        pricing={"model": "percentage", "percent": "10", "min_fee_minor": 1_111, "max_fee_minor": 999_999},
        verification_policy=FAST,
        **({"cap_amount_minor": 5_432_100} if currency_caps else {}),
    )
    terms = version_terms(
        platform_fee_minor=platform_fee_minor, minimum_commitment_minor=0, outcome_types=[deal]
    )
    if currency_caps:
        terms["cap_amount_minor"] = 9_876_543
    return terms


def deal(ingest: Ingest, value_minor: int, currency: str, at: dt.datetime) -> Outcome:
    with time_machine.travel(at, tick=False):
        body = {
            "events": [
                event(
                    contract=ingest.contract.reference,
                    outcome_type="deal.closed",
                    natural_key=f"D-{currency}",
                    occurred_at=at.isoformat(),
                    value={"amount_minor": value_minor, "currency": currency},
                )
            ]
        }
        assert ingest.post(body).status_code == 200
    with time_machine.travel(at + dt.timedelta(minutes=2), tick=False):
        outcomes_build_sweep()
        outcomes_evaluate_due()
    return Outcome.objects.get(contract=ingest.contract, natural_key=f"D-{currency}")


def shown(page: str) -> str:
    """What a page shows in its own words: its HTML without the scripts (chart data is the charts' input,
    in minor units with each currency's exponent beside them) and the raw events' bodies as received."""
    return re.sub(r"<script.*?</script>|<pre[^>]*>.*?</pre>", "", page, flags=re.DOTALL)


def get(client: Client, path: str) -> str:
    with time_machine.travel(NOW, tick=False):
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return shown(response.content.decode())


def test_every_amount_on_the_portal_pages_is_in_major_units_with_its_currency() -> None:
    usd = make_ingest(reference="CTR-usd", terms=deal_terms(123_456), approval_threshold_minor=7_654_321)
    jpy = make_ingest(
        usd.api, reference="CTR-jpy", terms=deal_terms(JPY_FEE[0], currency_caps=False), currency="JPY"
    )
    outcome = deal(usd, 246_813, "USD", MARCH + dt.timedelta(days=2))
    deal(jpy, 500_000, "JPY", MARCH + dt.timedelta(days=2))
    client = signed_in(make_member(role=Role.VIEWER, vendor=usd.api.vendor))
    dashboard = get(client, "/")
    invoice = period_close(contract_id=usd.contract.pk, period_start=MARCH, now=APRIL)
    yen_invoice = period_close(contract_id=jpy.contract.pk, period_start=MARCH, now=APRIL)
    usage = invoice.lines.get(kind=LineKind.USAGE)
    # 10 % of 2,468.13 USD: 246.813 USD, rounded once; with the fee the invoice is 1,481.37 USD.
    assert (usage.amount_minor, invoice.total_minor) == (24_681, 148_137)
    # 10 % of 500,000 JPY, with the fee: 62,345 JPY.
    assert yen_invoice.total_minor == 62_345

    pages = {
        "dashboard": dashboard,
        "contract": get(client, f"/contracts/{usd.contract.pk}/"),
        "yen contract": get(client, f"/contracts/{jpy.contract.pk}/"),
        "outcome": get(client, f"/outcomes/{outcome.pk}/"),
        "invoices": get(client, "/invoices/"),
        "invoice": get(client, f"/invoices/{invoice.pk}/"),
        "line": get(client, f"/invoices/{invoice.pk}/lines/{usage.position}/"),
        "printable": get(client, f"/invoices/{invoice.pk}/print/"),
        "yen invoice": get(client, f"/invoices/{yen_invoice.pk}/"),
        "yen printable": get(client, f"/invoices/{yen_invoice.pk}/print/"),
    }

    expected = {
        "dashboard": ["246.81 USD", "1,481.37 USD", "50,000 JPY", "62,345 JPY"],
        "contract": [text for minor, text in USD_AMOUNTS.items() if minor != 246_813],
        "yen contract": [JPY_FEE[1]],
        "outcome": ["2,468.13 USD", "246.813 USD"],  # its value; its exact share of the line
        "invoices": ["1,481.37 USD", "62,345 JPY"],
        "invoice": ["1,234.56 USD", "246.81 USD", "1,481.37 USD"],
        "line": ["246.81 USD", "246.813 USD"],
        "printable": ["1,234.56 USD", "246.81 USD", "1,481.37 USD"],
        "yen invoice": ["12,345 JPY", "50,000 JPY", "62,345 JPY"],
        "yen printable": ["12,345 JPY", "50,000 JPY", "62,345 JPY"],
    }
    missing = {name: [text for text in texts if text not in pages[name]] for name, texts in expected.items()}
    assert {name: texts for name, texts in missing.items() if texts} == {}
    # The same amounts as integers of minor units, grouped or not: on no page.
    minor = [*USD_AMOUNTS, 24_681, 148_137]
    raw = {
        name: [n for n in minor if re.search(rf"(?<![\w.,])({n}|{n:,})(?!\w)", page)]
        for name, page in pages.items()
        if "yen" not in name  # 1,111 JPY is the least fee there, rightly
    }
    assert {name: found for name, found in raw.items() if found} == {}
    # A yen has no decimals: no page shows a JPY amount with cents.
    assert [name for name, page in pages.items() if re.search(r"\d\.\d+ JPY", page)] == []
