"""The customer portal's contracts: terms in plain words and the version history, none of the vendor's
own (drafts, its notes on a version)."""

from __future__ import annotations

import pytest

from contracts.models import ContractVersion, CustomerRole
from tests.factories import contract_create_for, outcome_type_terms, version_terms
from tests.support.ingest import make_ingest
from tests.support.portal import make_customer_member, signed_in

pytestmark = pytest.mark.django_db


def test_a_contract_shows_its_terms_and_versions_and_none_of_the_vendors_own() -> None:
    ingest = make_ingest(
        terms=version_terms(
            outcome_types=[outcome_type_terms(cap_units=500)], notes="VENDOR-ONLY margin note"
        )
    )
    contract = ingest.contract
    draft = contract_create_for(contract.customer, reference="CTR-draft-in-the-works")
    client = signed_in(make_customer_member(customer=contract.customer, role=CustomerRole.VIEWER))

    listing = client.get("/customer/contracts/").content.decode()
    assert contract.reference in listing
    assert draft.reference not in listing  # the vendor's draft is the vendor's

    page = client.get(f"/customer/contracts/{contract.pk}/").content.decode()
    assert "0.90 USD per resolved ticket" in page  # contracts.wording, the vendor's partial
    assert "Version 1" in page
    assert "In force" in page
    assert "500" in page  # the contract's cap, in words
    assert "VENDOR-ONLY" not in page
    assert ContractVersion.objects.get(contract=contract).notes == "VENDOR-ONLY margin note"
    assert client.get(f"/customer/contracts/{draft.pk}/").status_code == 404
