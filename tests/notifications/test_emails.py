"""A budget threshold reached, a draft waiting for approval and a contested draft also go as plain email to the vendor's
owners and admins; other events send none."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from contracts.models import Contract, Role
from notifications.dispatch import events_fan_out
from notifications.emails import event_emails_send
from notifications.models import Delivery, Endpoint, Event
from tests.factories import CustomerFactory, VendorFactory, contract_create_for
from tests.support.portal import make_member

pytestmark = pytest.mark.django_db


def recorded(contract: Contract, type_: str, object_id: str, data: dict[str, Any]) -> Event:
    now = timezone.now()
    return Event.objects.create(
        type=type_,
        vendor_id=contract.vendor_id,
        customer_id=contract.customer_id,
        contract_id=contract.pk,
        object_id=object_id,
        data=data,
        occurred_at=now,
        created_at=now,
    )


@pytest.fixture
def contract() -> Contract:
    vendor = VendorFactory.create(slug="acme")
    return contract_create_for(CustomerFactory.create(vendor=vendor, name="Globex"), reference="GLX-1")


BUDGET = {
    "percent": 80,
    "threshold_minor": 800_000,
    "amount_minor": 812_345,
    "cap_amount_minor": 1_000_000,
    "currency": "USD",
    "period_start": "2026-03-01T05:00:00+00:00",
    "period_end": "2026-04-01T04:00:00+00:00",
}
APPROVAL = {
    "number": None,
    "status": "draft",
    "period_start": "2026-03-01T05:00:00+00:00",
    "period_end": "2026-04-01T04:00:00+00:00",
    "period": "1\N{EN DASH}31 March 2026",
    "total_minor": 1_254_050,
    "currency": "USD",
    "due_at": None,
    "hosted_invoice_url": None,
    "approval_threshold_minor": 1_000_000,
    "approve_by": "2026-04-04T04:00:00+00:00",
}


def test_a_budget_threshold_is_emailed_to_the_owners_and_admins_only(contract: Contract) -> None:
    owner = make_member(role=Role.OWNER, vendor=contract.vendor)
    admin = make_member(role=Role.ADMIN, vendor=contract.vendor)
    make_member(role=Role.VIEWER, vendor=contract.vendor)
    make_member(role=Role.OWNER)  # another vendor's owner
    event = recorded(contract, "budget.threshold_reached", str(contract.pk), BUDGET)

    assert event_emails_send(events=[event]) == 1

    [email] = mail.outbox
    assert sorted(email.to) == sorted([owner.user.email, admin.user.email])
    assert email.from_email == "Verity <no-reply@verity.invalid>"
    assert email.subject == "Globex: 80% of the budget of GLX-1 reached"
    assert email.body == (
        "Globex's contract GLX-1 has reached 80% of its cap for the current period.\n\n"
        "Billed so far this period: 8,123.45 USD\n"
        "Threshold: 8,000.00 USD (80% of the cap)\n"
        "Cap per period: 10,000.00 USD\n"
        "Period: 1\N{EN DASH}31 March 2026\n\n"
        "Outcomes beyond the cap are held, not billed. You receive this once per period and threshold.\n\n"
        f"The contract: http://127.0.0.1:8000/contracts/{contract.pk}/\n"
    )


def test_a_draft_awaiting_approval_is_emailed_with_its_total_and_link(contract: Contract) -> None:
    owner = make_member(role=Role.OWNER, vendor=contract.vendor)
    event = recorded(contract, "invoice.awaiting_approval", "321", APPROVAL)

    assert event_emails_send(events=[event]) == 1

    [email] = mail.outbox
    assert email.to == [owner.user.email]
    assert (
        email.subject
        == "Globex: draft invoice for 1\N{EN DASH}31 March 2026 (12,540.50 USD) waits for approval"
    )
    assert email.body == (
        "The draft invoice of Globex for 1\N{EN DASH}31 March 2026 under contract GLX-1 totals 12,540.50 USD, "
        "above the approval threshold of 10,000.00 USD.\n\n"
        "It is finalized only once the customer approves this total (approved by "
        "2026-04-04T04:00:00+00:00, it is finalized on time).\n\n"
        "The invoice: http://127.0.0.1:8000/invoices/321/\n"
    )


def test_a_contested_draft_is_emailed_with_the_customers_reason(contract: Contract) -> None:
    admin = make_member(role=Role.ADMIN, vendor=contract.vendor)
    data = {
        **APPROVAL,
        "reason": "T-3 was reopened.",
        "contested_at": "2026-04-02T09:00:00+00:00",
        "contested_by": "customer_user:ap@globex.test",
    }
    event = recorded(contract, "invoice.contested", "321", data)

    assert event_emails_send(events=[event]) == 1

    [email] = mail.outbox
    assert email.to == [admin.user.email]
    assert email.subject == "Globex contests the draft invoice for 1\N{EN DASH}31 March 2026 (12,540.50 USD)"
    assert email.body == (
        "Globex contests the draft invoice for 1\N{EN DASH}31 March 2026 under contract GLX-1 (12,540.50 USD).\n\n"
        "Their reason, as customer_user:ap@globex.test gave it:\n\nT-3 was reopened.\n\n"
        "The draft keeps waiting for their approval: it is not finalized without one. Rebuild it if the "
        "reason holds, or answer them; they may approve it as it is.\n\n"
        "The invoice: http://127.0.0.1:8000/invoices/321/\n"
    )


def test_other_events_and_vendors_without_contacts_send_nothing(contract: Contract) -> None:
    make_member(role=Role.VIEWER, vendor=contract.vendor)
    finalized = recorded(contract, "invoice.finalized", "321", {**APPROVAL, "status": "finalized"})
    budget = recorded(contract, "budget.threshold_reached", str(contract.pk), BUDGET)

    assert event_emails_send(events=[finalized, budget]) == 0
    assert mail.outbox == []


def test_one_email_per_event(contract: Contract) -> None:
    make_member(role=Role.ADMIN, vendor=contract.vendor)
    events = [
        recorded(contract, "budget.threshold_reached", str(contract.pk), {**BUDGET, "percent": percent})
        for percent in (50, 80)
    ]

    assert event_emails_send(events=events) == 2
    assert [email.subject for email in mail.outbox] == [
        "Globex: 50% of the budget of GLX-1 reached",
        "Globex: 80% of the budget of GLX-1 reached",
    ]


class BrokenMailServer(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise ConnectionRefusedError("the mail server is down")


def test_a_mail_server_that_is_down_holds_up_no_webhook(
    contract: Contract, settings: SettingsWrapper, caplog: pytest.LogCaptureFixture
) -> None:
    """The fan-out commits and its deliveries exist although the email could not be sent; the loss is logged."""
    settings.EMAIL_BACKEND = f"{__name__}.BrokenMailServer"
    make_member(role=Role.OWNER, vendor=contract.vendor)
    endpoint = Endpoint.objects.create(vendor=contract.vendor, url="https://hooks.example.com/verity")
    event = recorded(contract, "budget.threshold_reached", str(contract.pk), BUDGET)

    assert events_fan_out(now=timezone.now()) == (1, 1)

    event.refresh_from_db()
    assert event.fanned_out
    assert list(Delivery.objects.values_list("event_id", "endpoint_id")) == [(event.pk, endpoint.pk)]
    assert mail.outbox == []
    assert f"Alert emails for events [{event.pk}] were not sent" in caplog.text
