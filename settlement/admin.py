"""Django admin of the settlement app: a customer's Stripe customer, linked only once Stripe confirms it.

The contracts app's CustomerAdmin is extended here, not there, because checking in Stripe is settlement's
(contracts imports no settlement code). Linking goes through customer_stripe_link, as the API and the portal
do, on a page of its own: the admin's change form saves in a transaction, and a Stripe call never runs in one.

Invoices, their settlement steps and credit notes are view only: they change through the settlement
services. An operator retries a step Stripe refused, or abandons a settlement, with the invoice list's
actions (the same services as `manage.py settlement_steps`, audited as `admin:<username>`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from contracts.admin.tenancy import CustomerAdmin, admin_actor
from contracts.models import Customer
from contracts.terms import parse
from core.errors import DomainError, ValidationFailed
from core.portal import add_domain_errors
from settlement.models import CreditNote, CreditNoteOutcome, Invoice, SettlementStep
from settlement.services.customer_billing import StripeLinkIn, customer_stripe_link, customer_stripe_unlink
from settlement.services.invoice_actions import invoice_step_retry_now
from settlement.services.settlement_steps import settlement_abandon


class StripeLinkForm(forms.Form):
    stripe_customer_id = forms.CharField(
        max_length=100,
        label="Stripe customer",
        help_text="The id of an existing customer in Stripe, e.g. cus_NffrFeUfNV2Hib; it is checked there.",
    )


admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerStripeAdmin(CustomerAdmin):
    actions = ("stripe_check", "stripe_unlink")

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        return (*super().get_list_display(request), "can_be_charged_automatically")

    def get_readonly_fields(self, request: HttpRequest, obj: Customer | None = None) -> tuple[str, ...]:
        return (*super().get_readonly_fields(request, obj), "stripe_default_payment_method", "stripe_link")

    @admin.display(boolean=True, description="Card on file")
    def can_be_charged_automatically(self, obj: Customer) -> bool:
        return obj.can_be_charged_automatically

    @admin.display(description="Link in Stripe")
    def stripe_link(self, obj: Customer) -> str:
        if obj.pk is None:
            return "—"
        return format_html(
            '<a href="{}">Link to an existing Stripe customer…</a>',
            reverse("admin:contracts_customer_stripe_link", args=[obj.pk]),
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/stripe-link/",
                self.admin_site.admin_view(self.stripe_link_view),
                name="contracts_customer_stripe_link",
            ),
            *super().get_urls(),
        ]

    def stripe_link_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        customer = self.get_object(request, object_id)
        if customer is None:
            raise Http404("No such customer.")
        if not self.has_change_permission(request, customer):
            raise PermissionDenied
        form = StripeLinkForm(
            request.POST or None, initial={"stripe_customer_id": customer.stripe_customer_id}
        )
        if request.method == "POST" and form.is_valid():
            try:
                link = parse(StripeLinkIn, form.cleaned_data)
                customer_stripe_link(customer=customer, link=link, actor=admin_actor(request))
            except ValidationFailed as exc:
                add_domain_errors(form, exc)
            except DomainError as exc:  # Stripe unreachable: nothing changed
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"{customer} is linked to Stripe customer {customer.stripe_customer_id}.",
                    messages.SUCCESS,
                )
                return redirect("admin:contracts_customer_change", customer.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Link {customer} to a Stripe customer",
            "form": form,
            "original": customer,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/settlement/customer_stripe_link.html", context)

    @admin.action(description="Check the Stripe customer (exists, card on file)", permissions=["change"])
    def stripe_check(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        for customer in queryset.select_related("vendor").exclude(stripe_customer_id=""):
            try:
                link = parse(StripeLinkIn, {"stripe_customer_id": customer.stripe_customer_id})
                checked = customer_stripe_link(customer=customer, link=link, actor=admin_actor(request))
            except DomainError as exc:
                problems = [item["message"] for items in exc.field_errors.values() for item in items]
                self.message_user(request, f"{customer}: {' '.join(problems) or exc.message}", messages.ERROR)
            else:
                card = "card on file" if checked.can_be_charged_automatically else "no card on file"
                self.message_user(
                    request, f"{customer}: {checked.stripe_customer_id}, {card}.", messages.SUCCESS
                )

    @admin.action(description="Unlink from Stripe", permissions=["change"])
    def stripe_unlink(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        for customer in queryset.select_related("vendor"):
            customer_stripe_unlink(customer=customer, actor=admin_actor(request))
        self.message_user(request, f"Unlinked {queryset.count()} customer(s) from Stripe.", messages.SUCCESS)


# --- invoices and their settlement ----------------------------------------------------------


def settlement_actor(request: HttpRequest) -> str:
    """The audit actor of an operator acting on a settlement: `admin:<username>`."""
    return f"admin:{request.user.get_username()}"


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]  # not subscriptable at run time
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SettlementStepInline(ReadOnlyInline):
    model = SettlementStep
    fields = ("step", "status", "error", "stripe_id", "attempts", "key_version", "started_at", "done_at")
    readonly_fields = fields
    ordering = ("id",)


class CreditNoteInline(ReadOnlyInline):
    model = CreditNote
    fields = (
        "amount_minor",
        "status",
        "method",
        "reason",
        "stripe_credit_note_id",
        "created_at",
        "issued_at",
    )
    readonly_fields = fields
    show_change_link = True


class InvoiceActionForm(ActionForm):
    reason = forms.CharField(
        required=False, max_length=500, label="Reason", help_text="Needed to abandon a settlement."
    )


class ViewOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # not subscriptable at run time
    """Rows that only the settlement services write: never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(ViewOnlyAdmin):
    """An invoice's page is view only (saving it would write stale columns back over what Stripe's
    webhooks set meanwhile); the actions on the list go through the settlement services."""

    list_display = (
        "id",
        "number",
        "vendor",
        "contract",
        "period_start",
        "status",
        "settlement_status",
        "total_minor",
        "currency",
        "overdue_at",
    )
    list_filter = ("status", "settlement_status", ("overdue_at", admin.EmptyFieldListFilter), "vendor")
    search_fields = ("=id", "=number", "stripe_invoice_id", "contract__reference", "vendor__name")
    list_select_related = ("vendor", "contract")
    date_hierarchy = "period_start"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("id", "number", "status"),
                    ("vendor", "contract"),
                    ("period_start", "period_end"),
                    ("total_minor", "currency"),
                )
            },
        ),
        (
            "Draft and approval",
            {
                "fields": (
                    ("built_at", "finalize_after", "finalized_at"),
                    ("approval_status", "approved_total_minor", "approved_at", "approved_by"),
                    "held_over_cap",
                )
            },
        ),
        (
            "Settlement through Stripe",
            {
                "fields": (
                    "settlement_status",
                    ("stripe_customer_id", "stripe_invoice_id", "stripe_status"),
                    "stripe_error",
                    "stripe_hosted_url",
                )
            },
        ),
        (
            "Collection",
            {
                "fields": (
                    ("due_at", "overdue_at", "paid_at"),
                    ("payment_attempts", "next_payment_attempt_at"),
                    "payment_error",
                    ("stripe_event_at", "created_at"),
                )
            },
        ),
    )
    readonly_fields = flatten_fieldsets(fieldsets)
    inlines = (SettlementStepInline, CreditNoteInline)
    action_form = InvoiceActionForm
    actions = ("retry_failed_steps", "abandon_settlement")

    def has_change_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        # The list's actions need "change"; an invoice's own page stays view only.
        return obj is None and admin.ModelAdmin.has_change_permission(self, request)

    @admin.action(description="Retry failed settlement steps", permissions=["change"])
    def retry_failed_steps(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        for invoice in queryset.order_by("id"):
            failed = invoice.settlement_steps.filter(status=SettlementStep.Status.FAILED).order_by("id")
            steps = list(failed.values_list("step", flat=True))
            if not steps:
                self.message_user(request, f"Invoice {invoice.pk}: no failed step.", messages.WARNING)
            for step in steps:
                try:
                    invoice_step_retry_now(invoice=invoice, step=step, actor=settlement_actor(request))
                except DomainError as exc:
                    self.message_user(request, f"Invoice {invoice.pk}: {exc.message}", messages.ERROR)
                else:
                    self.message_user(
                        request, f"Invoice {invoice.pk}: step {step} will run again.", messages.SUCCESS
                    )

    @admin.action(description="Abandon settlement (give a reason)", permissions=["change"])
    def abandon_settlement(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(
                request, "Nothing abandoned: give a reason (it goes to the audit log).", messages.ERROR
            )
            return
        for invoice in queryset.order_by("id"):
            try:
                settlement_abandon(invoice_id=invoice.pk, actor=settlement_actor(request), reason=reason)
            except DomainError as exc:
                self.message_user(request, f"Invoice {invoice.pk}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"Invoice {invoice.pk}: settlement abandoned.", messages.SUCCESS)


@admin.register(SettlementStep)
class SettlementStepAdmin(ViewOnlyAdmin):
    list_display = (
        "invoice",
        "step",
        "status",
        "attempts",
        "key_version",
        "stripe_id",
        "started_at",
        "done_at",
    )
    list_filter = ("status",)
    search_fields = ("=invoice__id", "step", "stripe_id", "idempotency_key")
    list_select_related = ("invoice",)


class CreditNoteOutcomeInline(ReadOnlyInline):
    model = CreditNoteOutcome
    fields = ("outcome",)
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[CreditNoteOutcome]:
        return super().get_queryset(request).select_related("outcome").order_by("outcome_id")


@admin.register(CreditNote)
class CreditNoteAdmin(ViewOnlyAdmin):
    list_display = (
        "id",
        "invoice",
        "amount_minor",
        "status",
        "method",
        "stripe_credit_note_id",
        "created_at",
    )
    list_filter = ("status", "method")
    search_fields = ("=id", "=invoice__id", "stripe_credit_note_id", "reason")
    list_select_related = ("invoice",)
    inlines = (CreditNoteOutcomeInline,)
