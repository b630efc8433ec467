"""Alert emails to people: a budget threshold reached, a draft waiting for the customer's approval and a
draft the customer contested also go, in plain words, to the vendor's billing contacts (its owners and
admins) through Django's email backend. Called by the dispatcher's fan-out step for the events it fans out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse

from contracts.models import Contract, Membership, Role
from contracts.periods import period_label
from contracts.wording import minor_text
from notifications.models import Event
from settlement.domain_events import AWAITING_APPROVAL, BUDGET_THRESHOLD_REACHED, CONTESTED


def billing_contacts(*, vendor_id: Any) -> list[str]:
    """The emails of the vendor's owners and admins (those who may act on billing), in a stable order."""
    emails = (
        Membership.objects.filter(vendor_id=vendor_id, role__in=[Role.OWNER, Role.ADMIN])
        .exclude(user__email="")
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )
    return list(dict.fromkeys(emails))


def _portal(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def _budget_email(event: Event, contract: Contract) -> tuple[str, str]:
    data = event.data
    currency = data["currency"]
    period = period_label(
        dt.datetime.fromisoformat(data["period_start"]),
        dt.datetime.fromisoformat(data["period_end"]),
        contract.timezone,
    )
    subject = f"{contract.customer.name}: {data['percent']}% of the budget of {contract.reference} reached"
    body = (
        f"{contract.customer.name}'s contract {contract.reference} has reached {data['percent']}% of its "
        f"cap for the current period.\n\n"
        f"Billed so far this period: {minor_text(data['amount_minor'], currency)}\n"
        f"Threshold: {minor_text(data['threshold_minor'], currency)} ({data['percent']}% of the cap)\n"
        f"Cap per period: {minor_text(data['cap_amount_minor'], currency)}\n"
        f"Period: {period}\n\n"
        "Outcomes beyond the cap are held, not billed. You receive this once per period and threshold.\n\n"
        f"The contract: {_portal(reverse('contracts:contract-detail', args=[contract.pk]))}\n"
    )
    return subject, body


def _approval_email(event: Event, contract: Contract) -> tuple[str, str]:
    data = event.data
    currency = data["currency"]
    total = minor_text(data["total_minor"], currency)
    subject = f"{contract.customer.name}: draft invoice for {data['period']} ({total}) waits for approval"
    body = (
        f"The draft invoice of {contract.customer.name} for {data['period']} under contract "
        f"{contract.reference} totals {total}, above the approval threshold of "
        f"{minor_text(data['approval_threshold_minor'], currency)}.\n\n"
        f"It is finalized only once the customer approves this total (approved by {data['approve_by']}, "
        "it is finalized on time).\n\n"
        f"The invoice: {_portal(reverse('settlement:invoice-detail', args=[event.object_id]))}\n"
    )
    return subject, body


def _contest_email(event: Event, contract: Contract) -> tuple[str, str]:
    data = event.data
    total = minor_text(data["total_minor"], data["currency"])
    subject = f"{contract.customer.name} contests the draft invoice for {data['period']} ({total})"
    body = (
        f"{contract.customer.name} contests the draft invoice for {data['period']} under contract "
        f"{contract.reference} ({total}).\n\n"
        f"Their reason, as {data['contested_by']} gave it:\n\n{data['reason']}\n\n"
        "The draft keeps waiting for their approval: it is not finalized without one. Rebuild it if "
        "the reason holds, or answer them; they may approve it as it is.\n\n"
        f"The invoice: {_portal(reverse('settlement:invoice-detail', args=[event.object_id]))}\n"
    )
    return subject, body


EMAILS: dict[str, Callable[[Event, Contract], tuple[str, str]]] = {
    BUDGET_THRESHOLD_REACHED: _budget_email,
    AWAITING_APPROVAL: _approval_email,
    CONTESTED: _contest_email,
}


def event_emails_send(*, events: Sequence[Event]) -> int:
    """Send one plain-text email per event that people should read (EMAILS), to its vendor's billing
    contacts; other events, and vendors without a contact, send nothing. Returns the emails sent."""
    wanted = [event for event in events if event.type in EMAILS and event.contract_id is not None]
    if not wanted:
        return 0
    contracts = Contract.objects.select_related("customer").in_bulk({event.contract_id for event in wanted})
    contacts: dict[Any, list[str]] = {}
    sent = 0
    for event in wanted:
        contract = contracts.get(event.contract_id)
        if contract is None:
            continue
        if event.vendor_id not in contacts:
            contacts[event.vendor_id] = billing_contacts(vendor_id=event.vendor_id)
        if not contacts[event.vendor_id]:
            continue
        subject, body = EMAILS[event.type](event, contract)
        sent += EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=contacts[event.vendor_id],
        ).send()
    return sent
