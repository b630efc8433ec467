"""A month end to end with two vendors on two Stripe accounts: one connected with its own key, one a connected
account under the deployment's platform key. Through faults at every call, each vendor's customers, invoices,
payments and credit notes exist only in its own account, and a Stripe webhook for one account never moves
another vendor's invoice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from devtools.stripe_server import RunningServer
from settlement.models import CreditNoteStatus, Invoice, InvoiceStatus, SettlementStatus
from settlement.stripe_connections.connect import stripe_connection_connect
from settlement.stripe_connections.inputs import stripe_connection_parse
from tests.settlement.stripe_accounts import (
    ACCT_A,
    ACCT_CONNECTED,
    CONNECT_SECRET,
    KEY_A,
    WHSEC_A,
    own_account,
    owner_of,
    stripe_accounts_register,
)
from tests.support.faults import FaultProxy, stripe_behind_a_fault_proxy
from tests.support.ingest import Ingest, make_ingest
from tests.support.settlement import APRIL, finalized_invoice, graduated_terms, reverse_all, settlement_round
from tests.support.stripe import card_on_file, deliver_stripe_events, post_signed_event

pytestmark = pytest.mark.django_db

DEFAULT_ACCOUNT = "acct_1LocalStripeDflt"  # the test server's account of the deployment's (platform) key


@pytest.fixture
def accounts_behind_faults(
    settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FaultProxy, RunningServer]]:
    with stripe_behind_a_fault_proxy(settings, monkeypatch, share=0.0, seed=5) as (proxy, server):
        stripe_accounts_register(server, settings)
        yield proxy, server


def settle_everything(rounds: int = 40) -> None:
    """The periodic job, in-process, until nothing is left to do on Stripe."""
    if not any(settlement_round() for _ in range(rounds)):
        pytest.fail("settlement did not finish")


def verity_ids(state: dict[str, Any], kind: str) -> set[str]:
    return {obj["metadata"].get("verity_invoice_id", "") for obj in state[kind].values()}


def test_two_vendors_settle_in_their_own_accounts_and_never_touch_each_other(
    accounts_behind_faults: tuple[FaultProxy, RunningServer], settings: SettingsWrapper
) -> None:
    proxy, server = accounts_behind_faults
    # Vendor A connects its own account (its restricted key); vendor B a connected account of the platform.
    own, connected = make_ingest(terms=graduated_terms()), make_ingest(terms=graduated_terms())
    stripe_connection_connect(
        vendor=own.api.vendor,
        fields=stripe_connection_parse(own_account(), vendor=own.api.vendor, by=owner_of(own.api.vendor)),
        by=owner_of(own.api.vendor),
        actor="test",
    )
    stripe_connection_connect(
        vendor=connected.api.vendor,
        fields=stripe_connection_parse(
            {"mode": "connected_account", "account_id": ACCT_CONNECTED},
            vendor=connected.api.vendor,
            by=owner_of(connected.api.vendor),
        ),
        by=owner_of(connected.api.vendor),
        actor="test",
    )
    card_on_file(own.contract.customer, server.base_url, api_key=KEY_A)
    card_on_file(
        connected.contract.customer,
        server.base_url,
        api_key=settings.STRIPE_API_KEY,
        stripe_account=ACCT_CONNECTED,
    )
    invoices: dict[str, tuple[Ingest, Invoice]] = {
        ACCT_A: (own, finalized_invoice(own, outcomes=4, card=None)),
        ACCT_CONNECTED: (connected, finalized_invoice(connected, outcomes=4, card=None)),
    }

    proxy.share = 0.3  # Stripe misbehaves at every call from now on
    settle_everything()
    for ingest, _ in invoices.values():
        reverse_all(ingest, 2, APRIL + dt.timedelta(days=2))
    settle_everything()
    proxy.share = 0

    for account, (ingest, invoice) in invoices.items():
        invoice.refresh_from_db()
        assert (invoice.status, invoice.settlement_status) == (InvoiceStatus.PAID, SettlementStatus.DONE)
        state = server.admin.state(account=account)
        # Only this vendor's objects in its account: one invoice, one customer, one credit note.
        assert verity_ids(state, "invoices") == {str(invoice.pk)}
        assert [c["id"] for c in state["customers"].values()] == [ingest.contract.customer.stripe_customer_id]
        [note] = invoice.credit_notes.all()
        assert note.status == CreditNoteStatus.ISSUED
        assert list(state["credit_notes"]) == [note.stripe_credit_note_id]
        [remote] = state["invoices"].values()
        assert (remote["status"], remote["amount_paid"]) == ("paid", invoice.total_minor)
    assert server.admin.state(account=DEFAULT_ACCOUNT)["invoices"] == {}  # nothing in the platform's own
    assert {"500", "429", "drop_after"} <= set(proxy.fired), proxy.fired

    # Each account's events reach its own endpoint; they move only their vendor's invoice.
    (own_ingest, own_invoice), (_, other_invoice) = invoices[ACCT_A], invoices[ACCT_CONNECTED]
    deliver_stripe_events(
        server, account=ACCT_A, path=f"/webhooks/stripe/{own_ingest.api.vendor.pk}", secret=WHSEC_A
    )
    deliver_stripe_events(server, account=ACCT_CONNECTED, secret=CONNECT_SECRET)
    # A void of the other vendor's Stripe invoice, signed for A's account, arriving at A's endpoint, and a
    # void of A's invoice claiming to be a connected account's event: neither moves anything.
    forged = server.admin.events("invoice.paid", account=ACCT_CONNECTED)[-1]
    post_signed_event(
        {**forged, "id": "evt_forged_1", "type": "invoice.voided", "account": None},
        path=f"/webhooks/stripe/{own_ingest.api.vendor.pk}",
        secret=WHSEC_A,
    )
    own_paid = server.admin.events("invoice.paid", account=ACCT_A)[-1]
    post_signed_event(
        {**own_paid, "id": "evt_forged_2", "type": "invoice.voided", "account": ACCT_CONNECTED},
        secret=CONNECT_SECRET,
    )
    own_invoice.refresh_from_db()
    other_invoice.refresh_from_db()
    assert own_invoice.status == other_invoice.status == InvoiceStatus.PAID
    assert own_invoice.stripe_invoice_id != other_invoice.stripe_invoice_id
