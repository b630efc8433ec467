"""The vendor's invoice details page: the seller its invoices name (name, address, tax ids)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from contracts.forms.customer import (
    address_and_tax_id_values,
    errors_on_rows,
    tax_details_body,
    tax_details_form,
)
from contracts.portal import PortalRequest, portal_actor, portal_view
from contracts.services.vendors import vendor_invoice_details_parse, vendor_invoice_details_update
from core.errors import DomainError
from core.forms import Input, errors_of


def _seller_name_input(value: str) -> list[Input]:
    return [
        Input("name", "Name on invoices", value=value, help="Your organization as your invoices name it.")
    ]


@portal_view
def invoice_details_page(request: PortalRequest) -> HttpResponse:
    """The seller on the vendor's invoices: its name, address and tax ids (owners and admins change them)."""
    vendor = request.vendor
    status = 200
    if request.method == "POST":  # a viewer's POST is refused by portal_view
        body, rows = tax_details_body(request.POST)
        body = {
            "name": request.POST.get("name", "").strip(),
            "address": body["address"],
            "tax_ids": body["tax_ids"],
        }
        try:
            details = vendor_invoice_details_parse(body, vendor=vendor)
            vendor_invoice_details_update(vendor=vendor, details=details, actor=portal_actor(request))
        except DomainError as exc:
            errors = errors_on_rows(errors_of(exc), rows)
            form = tax_details_form(
                request.POST, errors, with_exemption=False, identity=_seller_name_input(body["name"])
            )
            status = exc.status
        else:
            messages.success(request, "Invoice details saved.")
            return redirect("contracts:invoice-details")
    else:
        values = address_and_tax_id_values(vendor.address, vendor.tax_ids)
        form = tax_details_form(values, with_exemption=False, identity=_seller_name_input(vendor.name))
    return render(
        request,
        "contracts/invoice_details.html",
        {"section": "settings", "tax_form": form},
        status=status,
    )
