"""The customer's contracts: each one's terms in plain words (contracts.wording, the vendor's contract page
partials) and its version history. The vendor's drafts, its notes on a version and its view of the
customer are the vendor's own and are not shown."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from contracts import selectors
from contracts.wording import approval_text, contract_versions_words, period_text
from customer_portal.portal import CustomerPortalRequest, customer_portal_view


@customer_portal_view
def contract_list_page(request: CustomerPortalRequest) -> HttpResponse:
    contracts = selectors.contract_list_for_customer(customer=request.customer).order_by("reference")
    return render(
        request,
        "customer_portal/contracts/contract_list.html",
        {
            "section": "contracts",
            "contracts": [{"contract": contract, "period": period_text(contract)} for contract in contracts],
        },
    )


@customer_portal_view
def contract_detail_page(request: CustomerPortalRequest, contract_id: str) -> HttpResponse:
    contract = selectors.contract_get_with_terms_for_customer(
        customer=request.customer, contract_id=contract_id
    )
    in_force = selectors.contract_version_in_force(contract=contract, at=timezone.now())
    return render(
        request,
        "customer_portal/contracts/contract_detail.html",
        {
            "section": "contracts",
            "contract": contract,
            "period": period_text(contract),
            "approval": approval_text(contract),
            "versions": contract_versions_words(contract, in_force),
            "caps": {cap.outcome_type_key: cap for cap in selectors.customer_cap_list(contract=contract)},
        },
    )
