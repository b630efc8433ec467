"""Vendor API over invoices, customers' Stripe side and the vendor's Stripe connection: thin views over
settlement's selectors and services."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from contracts import selectors as contract_selectors
from contracts.api.base import CustomerApiView, VendorApiView
from contracts.api.serializers import CustomerOut
from contracts.models import Vendor
from contracts.terms import parse
from core.api.schema import ERROR_STATUSES
from settlement.api.serializers import (
    CreditNoteOut,
    CustomerInvoiceOut,
    InvoiceContestIn,
    InvoiceDetailOut,
    InvoiceFilter,
    InvoiceOut,
    LineOutcomeOut,
    SetupLinkOut,
    ShareLinkCreatedOut,
    ShareLinkOut,
    StripeConnectionOut,
)
from settlement.models import Invoice, StripeConnection
from settlement.printing import csp_nonce, invoice_print_html
from settlement.selectors.invoices import (
    invoice_credit_notes,
    invoice_get,
    invoice_get_for_customer,
    invoice_list,
    invoice_list_for_customer,
    line_outcomes,
)
from settlement.selectors.share_links import share_link_get, share_link_list
from settlement.selectors.stripe_accounts import stripe_connection_of
from settlement.services.approval import invoice_approve, invoice_contest
from settlement.services.customer_billing import (
    SetupLinkIn,
    StripeLinkIn,
    customer_setup_link_create,
    customer_stripe_link,
    customer_stripe_unlink,
)
from settlement.services.share_links import (
    ShareLinkIn,
    share_link_create,
    share_link_revoke,
    share_link_url,
)
from settlement.stripe_connections.account import platform_available
from settlement.stripe_connections.connect import stripe_connection_connect, stripe_connection_disconnect
from settlement.stripe_connections.credentials import stripe_connection_test
from settlement.stripe_connections.inputs import StripeConnectionIn, stripe_connection_parse


class InvoiceListApi(VendorApiView):
    @extend_schema(operation_id="invoices_list", parameters=[InvoiceFilter], responses=InvoiceOut(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(
            invoice_list(vendor=self.vendor, **self.query(InvoiceFilter)),
            InvoiceOut,
            ordering=("-period_start", "-id"),
        )


class InvoiceDetailApi(VendorApiView):
    @extend_schema(
        operation_id="invoices_retrieve",
        responses=InvoiceDetailOut,
        description="An invoice with its lines, what was held over an amount cap, and each Stripe call made.",
    )
    def get(self, request: Request, invoice_id: str) -> Response:
        return Response(InvoiceDetailOut(invoice_get(vendor=self.vendor, invoice_id=invoice_id)).data)


class InvoiceLineOutcomesApi(VendorApiView):
    @extend_schema(
        operation_id="invoice_line_outcomes_list",
        responses=LineOutcomeOut(many=True),
        description="The outcomes a line bills or credits, with each exact share; follow /outcomes/{id} to raw events.",
    )
    def get(self, request: Request, invoice_id: str, position: int) -> Response:
        invoice = invoice_get(vendor=self.vendor, invoice_id=invoice_id)
        return self.paginated(
            line_outcomes(invoice=invoice, position=position),
            LineOutcomeOut,
            ordering=("outcome_id",),
        )


CREDIT_NOTES = (
    "Its credit notes, newest first: each credits outcomes billed on the invoice and reversed since, "
    "by what re-rating the period without them takes off (`charges_minor - rerated_minor - "
    "credited_before_minor`, never below 0); `status` is `pending` until issued on Stripe, `method` "
    "says how Stripe applied it."
)


class InvoiceCreditNotesApi(VendorApiView):
    @extend_schema(
        operation_id="invoice_credit_notes_list", responses=CreditNoteOut(many=True), description=CREDIT_NOTES
    )
    def get(self, request: Request, invoice_id: str) -> Response:
        invoice = invoice_get(vendor=self.vendor, invoice_id=invoice_id)
        return self.paginated(invoice_credit_notes(invoice=invoice, with_outcome_ids=True), CreditNoteOut)


class InvoicePrintApi(VendorApiView):
    @extend_schema(operation_id="invoices_print", responses={(200, "text/html"): OpenApiTypes.STR})
    def get(self, request: Request, invoice_id: str) -> HttpResponse:
        invoice = invoice_get(vendor=self.vendor, invoice_id=invoice_id)
        return HttpResponse(
            invoice_print_html(invoice=invoice, style_nonce=csp_nonce(request)),
            content_type="text/html; charset=utf-8",
        )


# --- share links for an auditor (the vendor's and the customer's alike) ---------------------------

SHARE_LINK_CREATE = (
    "Make a read-only, expiring, revocable link to the invoice's evidence (lines, outcomes, raw events, "
    "verdicts in plain words, credit notes, a CSV) for someone without an account. `url` is returned only "
    "here. 409 `invoice_not_shareable` for a draft; 400 when `expires_at` is not between 1 hour and 90 days "
    "from now."
)


class _ShareLinks:
    """The share-link operations over an invoice the caller may read (the vendor's or the customer's)."""

    def _invoice(self, invoice_id: str) -> Invoice:
        raise NotImplementedError

    def list_links(self, view: VendorApiView, invoice_id: str) -> Response:
        return view.paginated(share_link_list(invoice=self._invoice(invoice_id)), ShareLinkOut)

    def create_link(self, view: VendorApiView, request: Request, invoice_id: str) -> Response:
        invoice = self._invoice(invoice_id)
        body = parse(ShareLinkIn, request.data if request.data is not None else {})
        link, token = share_link_create(
            invoice=invoice, actor=view.actor, label=body.label, expires_at=body.expires_at
        )
        created = ShareLinkCreatedOut(link, context={"url": share_link_url(token)})
        return Response(created.data, status=status.HTTP_201_CREATED)

    def revoke_link(self, view: VendorApiView, invoice_id: str, link_id: str) -> Response:
        link = share_link_get(invoice=self._invoice(invoice_id), link_id=link_id)
        return Response(ShareLinkOut(share_link_revoke(link=link, actor=view.actor)).data)


class InvoiceShareLinksApi(_ShareLinks, VendorApiView):
    def _invoice(self, invoice_id: str) -> Invoice:
        return invoice_get(vendor=self.vendor, invoice_id=invoice_id)

    @extend_schema(operation_id="invoice_share_links_list", responses=ShareLinkOut(many=True))
    def get(self, request: Request, invoice_id: str) -> Response:
        return self.list_links(self, invoice_id)

    @extend_schema(
        operation_id="invoice_share_links_create",
        request=ShareLinkIn,
        responses={201: ShareLinkCreatedOut},
        description=SHARE_LINK_CREATE,
    )
    def post(self, request: Request, invoice_id: str) -> Response:
        return self.create_link(self, request, invoice_id)


class InvoiceShareLinkRevokeApi(_ShareLinks, VendorApiView):
    def _invoice(self, invoice_id: str) -> Invoice:
        return invoice_get(vendor=self.vendor, invoice_id=invoice_id)

    @extend_schema(
        operation_id="invoice_share_links_revoke",
        request=None,
        responses=ShareLinkOut,
        description="Revoke the link at once: it opens nothing from now on. Revoking it again changes nothing.",
    )
    def post(self, request: Request, invoice_id: str, link_id: str) -> Response:
        return self.revoke_link(self, invoice_id, link_id)


class CustomerInvoiceShareLinksApi(_ShareLinks, CustomerApiView):
    def _invoice(self, invoice_id: str) -> Invoice:
        return invoice_get_for_customer(customer=self.customer, invoice_id=invoice_id)

    @extend_schema(operation_id="customer_invoice_share_links_list", responses=ShareLinkOut(many=True))
    def get(self, request: Request, invoice_id: str) -> Response:
        return self.list_links(self, invoice_id)

    @extend_schema(
        operation_id="customer_invoice_share_links_create",
        request=ShareLinkIn,
        responses={201: ShareLinkCreatedOut},
        description=SHARE_LINK_CREATE,
    )
    def post(self, request: Request, invoice_id: str) -> Response:
        return self.create_link(self, request, invoice_id)


class CustomerInvoiceShareLinkRevokeApi(_ShareLinks, CustomerApiView):
    def _invoice(self, invoice_id: str) -> Invoice:
        return invoice_get_for_customer(customer=self.customer, invoice_id=invoice_id)

    @extend_schema(
        operation_id="customer_invoice_share_links_revoke",
        request=None,
        responses=ShareLinkOut,
        description="Revoke the link at once (a link the vendor made too): it opens nothing from now on.",
    )
    def post(self, request: Request, invoice_id: str, link_id: str) -> Response:
        return self.revoke_link(self, invoice_id, link_id)


# --- a customer's Stripe customer and card -----------------------------------------------


class CustomerStripeApi(VendorApiView):
    @extend_schema(
        operation_id="customers_stripe_link",
        request=StripeLinkIn,
        responses=CustomerOut,
        description="Link the customer to an existing customer of Verity's Stripe account, checked in Stripe "
        "(400 `stripe_customer_not_found` if Stripe does not know it, 503 `stripe_unavailable` if Stripe "
        "cannot be reached; nothing changes then). Its default payment method for invoices is read too.",
    )
    def put(self, request: Request, customer_id: str) -> Response:
        customer = contract_selectors.customer_get(vendor=self.vendor, customer_id=customer_id)
        link = parse(StripeLinkIn, request.data)
        customer = customer_stripe_link(customer=customer, link=link, actor=self.actor)
        return Response(CustomerOut(customer).data)

    @extend_schema(
        operation_id="customers_stripe_unlink",
        responses={204: None},
        description="Forget the customer's Stripe customer (Stripe keeps it and the invoices sent to it).",
    )
    def delete(self, request: Request, customer_id: str) -> Response:
        customer = contract_selectors.customer_get(vendor=self.vendor, customer_id=customer_id)
        customer_stripe_unlink(customer=customer, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerSetupLinkApi(VendorApiView):
    @extend_schema(
        operation_id="customers_stripe_setup_link",
        request=SetupLinkIn,
        responses={201: SetupLinkOut},
        description="A Stripe page (Checkout in setup mode) where the customer saves a card; send them its "
        "`url`. Their Stripe customer is made first if they have none. Once they save it, the card becomes "
        "the default for their invoices and `can_be_charged_automatically` turns true.",
    )
    def post(self, request: Request, customer_id: str) -> Response:
        customer = contract_selectors.customer_get(vendor=self.vendor, customer_id=customer_id)
        setup = parse(SetupLinkIn, request.data if request.data is not None else {})  # null: no options
        url = customer_setup_link_create(
            customer=customer,
            setup=setup,
            default_success_url=request.build_absolute_uri(reverse("settlement:card-saved")),
            actor=self.actor,
        )
        body = {"url": url, "stripe_customer_id": customer.stripe_customer_id}
        return Response(SetupLinkOut(body).data, status=status.HTTP_201_CREATED)


# --- the customer-facing API (a customer's key) -----------------------------------------


class CustomerInvoiceListApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_invoices_list",
        parameters=[InvoiceFilter],
        responses=CustomerInvoiceOut(many=True),
        description="The customer's invoices, drafts included; `approval_status=pending` marks a draft "
        "that waits for their approval before it is finalized.",
    )
    def get(self, request: Request) -> Response:
        return self.paginated(
            invoice_list_for_customer(customer=self.customer, **self.query(InvoiceFilter)),
            CustomerInvoiceOut,
            ordering=("-period_start", "-id"),
        )


class CustomerInvoiceApproveApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_invoices_approve",
        request=None,
        responses=CustomerInvoiceOut,
        description="Approve a draft's current total (contracts with an approval threshold). If the "
        "grace period is over, the invoice is finalized at once; a later rebuild that changes the "
        "total asks for approval again.",
    )
    def post(self, request: Request, invoice_id: str) -> Response:
        invoice = invoice_approve(customer=self.customer, invoice_id=invoice_id, actor=self.actor)
        return Response(CustomerInvoiceOut(invoice).data)


class CustomerInvoiceContestApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_invoices_contest",
        request=InvoiceContestIn,
        responses=CustomerInvoiceOut,
        description="Contest a draft waiting for your approval, with a reason: it keeps waiting (a draft "
        "above the approval threshold is never finalized without an approval), the vendor reads your "
        "reason on the invoice and is told (`invoice.contested`, and by email). The vendor may rebuild "
        "it; you may still approve it. Contesting again replaces the reason. 409 invoice_not_draft or "
        "approval_not_requested as for approving.",
    )
    def post(self, request: Request, invoice_id: str) -> Response:
        invoice = invoice_contest(
            customer=self.customer, invoice_id=invoice_id, actor=self.actor, **self.body(InvoiceContestIn)
        )
        return Response(CustomerInvoiceOut(invoice).data)


class CustomerInvoiceCreditNotesApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_invoice_credit_notes_list",
        responses=CreditNoteOut(many=True),
        description=CREDIT_NOTES,
    )
    def get(self, request: Request, invoice_id: str) -> Response:
        invoice = invoice_get_for_customer(customer=self.customer, invoice_id=invoice_id)
        return self.paginated(invoice_credit_notes(invoice=invoice, with_outcome_ids=True), CreditNoteOut)


# --- the vendor's Stripe account -----------------------------------------------------------


def _stripe_connection_body(request: Request, vendor: Vendor) -> dict[str, Any]:
    connection = stripe_connection_of(vendor=vendor)
    body: dict[str, Any] = dict.fromkeys(
        (
            "mode",
            "account_id",
            "account_name",
            "account_country",
            "secret_key_hint",
            "checked_at",
            "check_error",
            "last_event_at",
            "connected_at",
            "webhook_url",
        )
    )
    body.update(connected=connection is not None, tax_enabled=False, platform_available=platform_available())
    if connection is not None:
        body.update({name: getattr(connection, name) for name in body if hasattr(connection, name)})
        if connection.mode == StripeConnection.Mode.OWN_ACCOUNT:
            body["webhook_url"] = request.build_absolute_uri(
                reverse("stripe-vendor-webhook", args=[vendor.pk])
            )
        else:
            body["secret_key_hint"] = None
    return body


class StripeConnectionApi(VendorApiView):
    @extend_schema(
        operation_id="stripe_connection_retrieve",
        responses=StripeConnectionOut,
        description="Which Stripe account the vendor's invoices settle in (`connected: false`: the deployment's "
        "key), the last check, when a webhook event of that account last arrived, and tax. Secrets never show.",
    )
    def get(self, request: Request) -> Response:
        return Response(StripeConnectionOut(_stripe_connection_body(request, self.vendor)).data)

    @extend_schema(
        operation_id="stripe_connection_put",
        extensions={ERROR_STATUSES: ["503"]},
        request=StripeConnectionIn,
        responses=StripeConnectionOut,
        description="Connect the vendor's own Stripe account (`own_account`: `secret_key`, `webhook_secret`) or "
        "an account connected to the deployment's platform (`connected_account`: `account_id`; 400 "
        "`platform_unavailable` without a platform key). Checked in Stripe first (GET /v1/account): 400 "
        "`stripe_key_refused`, `stripe_account_not_connected`, `stripe_account_connected_elsewhere`; 503 "
        "`stripe_unavailable`; nothing changes then. Sending the account already connected replaces its "
        "credentials; another account is 409 `stripe_connection_exists` (DELETE first), and any change of "
        "account is 409 `settlement_in_progress` while an invoice is being settled in the current one. "
        "`tax_enabled` omitted: unchanged.",
    )
    def put(self, request: Request) -> Response:
        fields = stripe_connection_parse(request.data, vendor=self.vendor, by=self.principal.api_key)
        stripe_connection_connect(
            vendor=self.vendor, fields=fields, by=self.principal.api_key, actor=self.actor
        )
        return Response(StripeConnectionOut(_stripe_connection_body(request, self.vendor)).data)

    @extend_schema(
        operation_id="stripe_connection_delete",
        extensions={ERROR_STATUSES: ["404"]},
        responses={204: None},
        description="Disconnect: invoices settle with the deployment's key again and the account's events are "
        "refused. 409 `settlement_in_progress` while an invoice is being settled in it; 404 "
        "`stripe_not_connected` without a connection.",
    )
    def delete(self, request: Request) -> Response:
        stripe_connection_disconnect(vendor=self.vendor, by=self.principal.api_key, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StripeConnectionTestApi(VendorApiView):
    @extend_schema(
        operation_id="stripe_connection_test",
        extensions={ERROR_STATUSES: ["404", "503"]},
        request=None,
        responses=StripeConnectionOut,
        description="Check the connection in Stripe again: `checked_at` moves, `check_error` says what Stripe "
        "refused (empty: it answered). 503 `stripe_unavailable` if Stripe cannot be reached (nothing recorded).",
    )
    def post(self, request: Request) -> Response:
        stripe_connection_test(vendor=self.vendor, by=self.principal.api_key, actor=self.actor)
        return Response(StripeConnectionOut(_stripe_connection_body(request, self.vendor)).data)
