"""Contract pages: list with filters and keyset paging, detail in plain words, create and amend through
forms that give the API's own field errors beside the inputs, lifecycle moves, isolation, viewers."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client, RequestFactory

from contracts.forms.contract import collect
from contracts.models import AuditEntry, Contract, ContractStatus, Role
from contracts.selectors import contract_list
from contracts.services.contracts import contract_activate
from core.forms import dom_id
from core.portal import keyset_page
from tests.factories import CustomerFactory, contract_create_for, outcome_type_terms
from tests.support.portal import Member, make_member
from tests.support.vendors import make_vendor_api

pytestmark = pytest.mark.django_db


def form_post(customer_id: str, **overrides: str) -> dict[str, str]:
    """What the create form posts for a valid graduated contract (flat path names, as typed)."""
    post = {
        "customer_id": customer_id,
        "reference": "ACME-2026",
        "currency": "USD",
        "timezone": "Europe/Berlin",
        "period_count": "1",
        "anchor_day": "1",
        "starts_at": "2026-01-01",
        "ends_at": "",
        "collection_method": "charge_automatically",
        "days_until_due": "",
        "withhold_credits_while_overdue": "true",  # a checkbox: the page always posts it
        "grace_period_hours": "72",
        "terms.platform_fee_minor": "500.00",  # amounts in major units of the currency
        "terms.minimum_commitment_minor": "0",
        "terms.cap_amount_minor": "",
        "terms.budget_alert_percents": "80, 95",
        "terms.notes": "",
        "terms.outcome_types[0].key": "ticket.resolved",
        "terms.outcome_types[0].description": "",
        "terms.outcome_types[0].natural_key_field": "ticket_id",
        "terms.outcome_types[0].billing_basis": "per_outcome",
        "terms.outcome_types[0].pricing.model": "graduated",
        "terms.outcome_types[0].pricing.unit_price": "9.99",  # another model's input: ignored
        "terms.outcome_types[0].pricing.tiers[0].up_to": "1000",
        "terms.outcome_types[0].pricing.tiers[0].unit_price": "0.99",
        "terms.outcome_types[0].pricing.tiers[0].flat_fee": "",
        "terms.outcome_types[0].pricing.tiers[1].up_to": "",
        "terms.outcome_types[0].pricing.tiers[1].unit_price": "0.79",
        "terms.outcome_types[0].pricing.tiers[1].flat_fee": "",
        "terms.outcome_types[0].pricing.tiers[2].up_to": "",
        "terms.outcome_types[0].pricing.tiers[2].unit_price": "",
        "terms.outcome_types[0].pricing.tiers[2].flat_fee": "",
        "terms.outcome_types[0].free_units": "100",
        "terms.outcome_types[0].cap_units": "",
        "terms.outcome_types[0].cap_amount_minor": "",
        "terms.outcome_types[0].verification_policy.maturation.hold_hours": "48",
        "terms.outcome_types[0].verification_policy.confirmation.required": "false",
    }
    post.update(overrides)
    return post


def errors_beside(content: str, path: str, form_name: str = "") -> list[str]:
    """The error messages rendered in the error list tied to the input (or group) named by `path`."""
    input_id = dom_id(f"{form_name}.{path}" if form_name else path)
    found = re.search(
        rf'<ul class="errorlist[^"]*" id="{re.escape(input_id)}-errors">(.*?)</ul>', content, re.S
    )
    assert found is not None, f"no error list for {path}"
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def contract_of(member: Member, **overrides: Any) -> Contract:
    return contract_create_for(CustomerFactory.create(vendor=member.vendor), **overrides)


# --- list -------------------------------------------------------------------------------------


def test_the_list_filters_by_status_customer_and_search(owner_client: Client, owner: Member) -> None:
    draft = contract_of(owner, reference="HELIX-1")
    active = contract_of(owner, reference="ORBIT-7")
    contract_activate(contract=active, actor="system")
    contract_of(owner, reference="ZETA-3")
    foreign = contract_create_for(reference="FOREIGN-1")  # another vendor's

    content = owner_client.get("/contracts/").content.decode()
    assert "HELIX-1" in content
    assert "ORBIT-7" in content
    assert "ZETA-3" in content
    assert foreign.reference not in content

    content = owner_client.get("/contracts/?status=active").content.decode()
    assert "ORBIT-7" in content
    assert "HELIX-1" not in content
    content = owner_client.get(f"/contracts/?customer_id={draft.customer_id}").content.decode()
    assert "HELIX-1" in content
    assert "ORBIT-7" not in content
    content = owner_client.get("/contracts/?q=orb").content.decode()
    assert "ORBIT-7" in content
    assert "HELIX-1" not in content
    content = owner_client.get(f"/contracts/?q={active.customer.name}").content.decode()
    assert "ORBIT-7" in content
    assert "HELIX-1" not in content


def test_a_bad_filter_is_shown_and_ignored(owner_client: Client, owner: Member) -> None:
    contract_of(owner, reference="HELIX-1")
    response = owner_client.get("/contracts/?status=bogus&customer_id=not-a-uuid")
    assert response.status_code == 200
    content = response.content.decode()
    assert "HELIX-1" in content
    assert "status: " in content
    assert "(ignored)" in content


def test_contracts_page_by_key_newest_first_without_gaps(owner: Member) -> None:
    references = [contract_of(owner, reference=f"C-{n}").reference for n in range(5)]
    queryset = contract_list(vendor=owner.vendor)
    seen, query = [], ""
    for _ in range(5):
        page = keyset_page(
            RequestFactory().get(f"/contracts/?{query}"), queryset, key=("created_at", "id"), per_page=2
        )
        seen += [contract.reference for contract in page.items]
        if not page.has_next:
            break
        query = page.next_query
    assert seen == references[::-1]
    back = keyset_page(
        RequestFactory().get(f"/contracts/?{page.previous_query}"),
        queryset,
        key=("created_at", "id"),
        per_page=2,
    )
    assert [c.reference for c in back.items] == references[::-1][2:4]
    garbage = keyset_page(
        RequestFactory().get("/contracts/?before=nonsense"), queryset, key=("created_at", "id"), per_page=2
    )
    assert [c.reference for c in garbage.items] == references[::-1][:2]


# --- detail -----------------------------------------------------------------------------------


def test_the_detail_tells_the_terms_in_plain_words(owner_client: Client, owner: Member) -> None:
    contract = contract_of(
        owner,
        terms={
            "platform_fee_minor": 50_000,
            "cap_amount_minor": 1_000_000,
            "outcome_types": [
                outcome_type_terms(
                    pricing={"model": "per_unit", "unit_price": "1.20"},
                    free_units=100,
                    verification_policy={"evidence": {"required_fields": {"ticket_status": "string"}}},
                ),
                outcome_type_terms(
                    key="lead.qualified",
                    natural_key_field="lead_id",
                    pricing={
                        "model": "graduated",
                        "tiers": [
                            {"up_to": 1000, "unit_price": "0.99"},
                            {"up_to": None, "unit_price": "0.79"},
                        ],
                    },
                ),
            ],
        },
    )
    content = html.unescape(owner_client.get(f"/contracts/{contract.pk}/").content.decode())
    assert "1.20 USD per resolved ticket; first 100 free each period; verified outcomes only" in content
    assert "Graduated tiers per period: 1 to 1,000 at 0.99 USD each, above 1,000 at 0.79 USD each" in content
    assert "Confirmation by the customer within 72 hours; unconfirmed claims are rejected." in content
    assert "24 h maturation before billing" in content
    assert "Evidence required: ticket_status (string)." in content
    assert "Platform fee 500.00 USD per period." in content
    assert (
        "Billing capped at 10,000.00 USD per period; budget alerts at 80%, 95%"
        " (a budget.threshold_reached webhook and an email to the vendor's owners and admins, once per period"
        " and threshold)." in content
    )
    assert "Monthly from day 1 (America/New_York)" in content


def test_another_vendors_contract_is_a_404_on_every_page(owner_client: Client) -> None:
    foreign = contract_create_for()
    assert owner_client.get(f"/contracts/{foreign.pk}/").status_code == 404
    assert owner_client.get(f"/contracts/{foreign.pk}/amend/").status_code == 404
    assert owner_client.post(f"/contracts/{foreign.pk}/amend/", {}).status_code == 404
    assert owner_client.post(f"/contracts/{foreign.pk}/activate/").status_code == 404
    assert owner_client.get("/contracts/not-a-uuid/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == ContractStatus.DRAFT
    assert foreign.versions.count() == 1


# --- create -----------------------------------------------------------------------------------


def test_create_a_contract_through_the_form(owner_client: Client, owner: Member) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    assert owner_client.get("/contracts/new/").status_code == 200
    response = owner_client.post("/contracts/new/", form_post(str(customer.pk)))
    contract = Contract.objects.get(vendor=owner.vendor, reference="ACME-2026")
    assert response.status_code == 302
    assert response["Location"] == f"/contracts/{contract.pk}/"
    version = contract.versions.get()
    outcome_type = version.outcome_types.get()
    assert contract.status == ContractStatus.DRAFT
    assert contract.timezone == "Europe/Berlin"
    assert version.platform_fee_minor == 50_000
    assert version.budget_alert_percents == [80, 95]
    assert outcome_type.pricing == {
        "model": "graduated",
        "tiers": [
            {"up_to": 1000, "unit_price": "0.99", "flat_fee": "0"},
            {"up_to": None, "unit_price": "0.79", "flat_fee": "0"},
        ],
    }
    assert outcome_type.free_units == 100
    assert outcome_type.verification_policy["maturation"]["hold_hours"] == 48
    assert outcome_type.verification_policy["confirmation"]["required"] is False
    # The inputs the form did not post take their defaults, as they do in the API.
    assert outcome_type.verification_policy["confirmation"]["match_window_hours"] == 72
    entry = AuditEntry.objects.get(vendor=owner.vendor, action="contract.created")
    assert entry.actor == f"user:{owner.user.email}"
    assert entry.object_id == str(contract.pk)
    page = owner_client.get(response["Location"]).content.decode()
    assert "created as a draft" in page


def assert_same_errors_as_the_api(owner: Member, post: dict[str, str], content: str) -> set[str]:
    """The API, given the body the form stands for, answers with the paths and messages shown beside the inputs."""
    data, _ = collect(post)
    body = make_vendor_api(owner.vendor).client.post("/api/v1/contracts", data, format="json").json()
    for path, items in body["field_errors"].items():
        assert errors_beside(content, path) == [item["message"] for item in items], path
    count = sum(len(items) for items in body["field_errors"].values())
    assert f"{count} problem{'s' if count != 1 else ''} to fix" in content
    return set(body["field_errors"])


def test_a_bad_tier_table_shows_the_apis_errors_beside_the_table(owner_client: Client, owner: Member) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    post = form_post(
        str(customer.pk),
        **{
            "terms.outcome_types[0].pricing.tiers[1].up_to": "500",  # not above tier 0's 1000
            "terms.outcome_types[0].pricing.tiers[2].unit_price": "0.59",
            "period_count": "twelve",
            "currency": "XXY",
        },
    )
    response = owner_client.post("/contracts/new/", post)
    assert response.status_code == 400
    assert not Contract.objects.filter(vendor=owner.vendor).exists()
    content = response.content.decode()
    paths = assert_same_errors_as_the_api(owner, post, content)
    assert paths == {"period_count", "currency", "terms.outcome_types[0].pricing.tiers"}
    [tier_error] = errors_beside(content, "terms.outcome_types[0].pricing.tiers")
    assert tier_error.startswith("Tier 1 ends at 500")  # the API's index: the table's second row
    # What was typed is shown again, not reset.
    assert 'value="twelve"' in content
    assert 'value="500"' in content


def test_a_currency_stripe_cannot_charge_is_refused_beside_the_currency(
    owner_client: Client, owner: Member
) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    post = form_post(str(customer.pk), currency="IQD")
    response = owner_client.post("/contracts/new/", post)
    assert response.status_code == 400
    assert not Contract.objects.filter(vendor=owner.vendor).exists()
    content = response.content.decode()
    assert assert_same_errors_as_the_api(owner, post, content) == {"currency"}
    [error] = errors_beside(content, "currency")
    assert error.startswith("IQD is not a currency Stripe can charge")


def test_a_bad_tier_row_shows_the_error_in_its_cell(owner_client: Client, owner: Member) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    post = form_post(str(customer.pk), **{"terms.outcome_types[0].pricing.tiers[1].unit_price": "abc"})
    response = owner_client.post("/contracts/new/", post)
    assert response.status_code == 400
    content = response.content.decode()
    assert assert_same_errors_as_the_api(owner, post, content) == {
        "terms.outcome_types[0].pricing.tiers[1].unit_price"
    }
    assert 'value="abc"' in content


def test_a_bad_policy_parameter_shows_the_apis_error_beside_its_input(
    owner_client: Client, owner: Member
) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    policy = "terms.outcome_types[0].verification_policy"
    post = form_post(
        str(customer.pk),
        **{
            f"{policy}.confirmation.match_window_hours": "0",
            f"{policy}.time_to_outcome.min_seconds": "600",
            f"{policy}.time_to_outcome.max_seconds": "60",  # not above min_seconds: the rule's own error
            f"{policy}.evidence.required_fields": "ticket_status: string\ntranscript: blob",
        },
    )

    response = owner_client.post("/contracts/new/", post)

    assert response.status_code == 400
    assert not Contract.objects.filter(vendor=owner.vendor).exists()
    content = response.content.decode()
    data, _ = collect(post)
    api = make_vendor_api(owner.vendor).client.post("/api/v1/contracts", data, format="json").json()
    messages = {path: [item["message"] for item in items] for path, items in api["field_errors"].items()}
    assert messages == {
        f"{policy}.confirmation.match_window_hours": ["Input should be greater than 0"],
        f"{policy}.time_to_outcome": ["min_seconds must be below max_seconds."],
        f"{policy}.evidence.required_fields.transcript": [
            "Input should be 'string', 'integer', 'number', 'boolean', 'datetime', 'sha256' or 'url'"
        ],
    }
    # Each beside its input; the rule's own error beside the rule; the unknown kind names its field.
    assert errors_beside(content, f"{policy}.confirmation.match_window_hours") == [
        "Input should be greater than 0"
    ]
    assert errors_beside(content, f"{policy}.time_to_outcome") == ["min_seconds must be below max_seconds."]
    assert errors_beside(content, f"{policy}.evidence.required_fields") == [
        "transcript: Input should be 'string', 'integer', 'number', 'boolean', 'datetime', 'sha256' or 'url'"
    ]
    assert "3 problems to fix" in content
    assert errors_beside(content, f"{policy}.maturation.hold_hours") == []


def test_a_policy_list_that_cannot_be_read_is_refused_beside_it(owner_client: Client, owner: Member) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    path = "terms.outcome_types[0].verification_policy.evidence.required_fields"
    response = owner_client.post(
        "/contracts/new/", form_post(str(customer.pk), **{path: "ticket_status string"})
    )
    assert response.status_code == 400
    assert not Contract.objects.filter(vendor=owner.vendor).exists()
    assert errors_beside(response.content.decode(), path) == [
        "Line 1: write a field and its kind, e.g. ticket_status: string."
    ]


@pytest.mark.parametrize(
    ("currency", "typed", "stored"),
    [("USD", "500.00", 50_000), ("USD", "500", 50_000), ("JPY", "500", 500), ("KWD", "1.5", 1_500)],
)
def test_amounts_are_typed_in_major_units_of_the_currency(
    owner_client: Client, owner: Member, currency: str, typed: str, stored: int
) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    post = form_post(str(customer.pk), currency=currency, **{"terms.platform_fee_minor": typed})
    response = owner_client.post("/contracts/new/", post)
    assert response.status_code == 302
    version = Contract.objects.get(vendor=owner.vendor).versions.get()
    assert version.platform_fee_minor == stored


@pytest.mark.parametrize(
    ("currency", "typed", "message"),
    [
        ("USD", "1.234", "USD has 2 decimal places."),
        ("JPY", "500.5", "JPY has no decimal places."),
        ("USD", "1,000.00", "Write an amount in USD as digits, e.g. 500.00."),
    ],
)
def test_an_amount_the_currency_cannot_hold_is_refused_beside_it(
    owner_client: Client, owner: Member, currency: str, typed: str, message: str
) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    name = "terms.outcome_types[0].cap_amount_minor"
    response = owner_client.post(
        "/contracts/new/", form_post(str(customer.pk), currency=currency, **{name: typed})
    )
    assert response.status_code == 400
    assert not Contract.objects.filter(vendor=owner.vendor).exists()
    content = response.content.decode()
    assert errors_beside(content, name) == [message]
    assert f'value="{typed}"' in content  # kept as typed


def test_a_duplicate_reference_is_an_error_on_the_reference(owner_client: Client, owner: Member) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    contract_create_for(customer, reference="ACME-2026")
    response = owner_client.post("/contracts/new/", form_post(str(customer.pk)))
    assert response.status_code == 400
    assert errors_beside(response.content.decode(), "reference") == ["Already used by another contract."]


def test_another_vendors_customer_cannot_be_chosen(owner_client: Client, owner: Member) -> None:
    foreign = CustomerFactory.create()
    response = owner_client.post("/contracts/new/", form_post(str(foreign.pk)))
    assert response.status_code == 400
    assert errors_beside(response.content.decode(), "customer_id") == ["No such customer."]
    assert foreign.name not in owner_client.get("/contracts/new/").content.decode()


def test_add_an_outcome_type_keeps_what_was_typed(owner_client: Client, owner: Member) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    response = owner_client.post("/contracts/new/", {**form_post(str(customer.pk)), "add_outcome_type": "1"})
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="terms.outcome_types[1].key"' in content
    assert 'value="ACME-2026"' in content
    assert not Contract.objects.exists()
    # A blank extra outcome type is left out when the form is sent.
    response = owner_client.post(
        "/contracts/new/",
        {
            **form_post(str(customer.pk)),
            "terms.outcome_types[1].pricing.model": "per_unit",
            "terms.outcome_types[1].billing_basis": "per_outcome",
            "terms.outcome_types[1].verification_policy.confirmation.required": "false",
        },
    )
    assert response.status_code == 302
    assert Contract.objects.get().versions.get().outcome_types.count() == 1


# --- amend and lifecycle ----------------------------------------------------------------------


def amend_post(contract: Contract, **overrides: str) -> dict[str, str]:
    """The amendment form as first shown (the latest terms), with some inputs changed."""
    client_form = {
        "effective_from": "",
        "terms.platform_fee_minor": "600.00",
        "terms.minimum_commitment_minor": "0",
        "terms.budget_alert_percents": "80, 95",
        "terms.outcome_types[0].key": "ticket.resolved",
        "terms.outcome_types[0].natural_key_field": "ticket_id",
        "terms.outcome_types[0].billing_basis": "per_outcome",
        "terms.outcome_types[0].pricing.model": "per_unit",
        "terms.outcome_types[0].pricing.unit_price": "1.10",
    }
    client_form.update(overrides)
    return client_form


def test_amend_an_active_contract_with_a_new_version(owner_client: Client, owner: Member) -> None:
    contract = contract_of(owner)
    contract_activate(contract=contract, actor="system")
    page = owner_client.get(f"/contracts/{contract.pk}/amend/").content.decode()
    assert 'value="500.00"' in page  # the platform fee in major units, beside its currency
    assert 'id="f-terms-platform-fee-minor-unit" data-currency-unit>USD</span>' in page
    assert 'value="0.9"' in page

    response = owner_client.post(
        f"/contracts/{contract.pk}/amend/", amend_post(contract, effective_from="2020-01-01")
    )
    assert response.status_code == 400
    assert errors_beside(response.content.decode(), "effective_from") == [
        "An amendment cannot take effect in the past."
    ]
    response = owner_client.post(f"/contracts/{contract.pk}/amend/", amend_post(contract))
    assert response.status_code == 302
    version = contract.versions.get(number=2)
    assert version.platform_fee_minor == 60_000
    assert version.is_locked
    assert version.outcome_types.get().pricing == {"model": "per_unit", "unit_price": "1.1"}
    assert AuditEntry.objects.filter(vendor=owner.vendor, action="contract.amended").count() == 1
    detail = html.unescape(owner_client.get(f"/contracts/{contract.pk}/").content.decode())
    assert "Version 2" in detail
    assert "1.10 USD per resolved ticket" in detail


def test_lifecycle_moves_through_the_service(owner_client: Client, owner: Member) -> None:
    contract = contract_of(owner)
    assert owner_client.post(f"/contracts/{contract.pk}/activate/").status_code == 302
    contract.refresh_from_db()
    assert contract.status == ContractStatus.ACTIVE
    response = owner_client.post(f"/contracts/{contract.pk}/activate/", follow=True)
    assert response.status_code == 200
    owner_client.post(f"/contracts/{contract.pk}/terminate/")
    response = owner_client.post(f"/contracts/{contract.pk}/resume/", follow=True)
    assert "A terminated contract cannot be resumed." in response.content.decode()
    assert owner_client.post(f"/contracts/{contract.pk}/explode/").status_code == 404
    assert owner_client.get(f"/contracts/{contract.pk}/activate/").status_code == 405
    assert list(
        AuditEntry.objects.filter(vendor=owner.vendor, object_id=str(contract.pk))
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["contract.created", "contract.active", "contract.terminated"]


# --- viewers ----------------------------------------------------------------------------------


def test_a_viewer_sees_no_edit_controls_and_every_form_refuses_a_forged_post(
    viewer_client: Client, viewer: Member
) -> None:
    contract = contract_of(viewer)
    listing = viewer_client.get("/contracts/").content.decode()
    detail = viewer_client.get(f"/contracts/{contract.pk}/").content.decode()
    assert contract.reference in listing
    assert "New contract" not in listing
    assert "Amend terms" not in detail
    assert "Activate" not in detail
    assert '<form method="post" action="/contracts' not in detail
    assert viewer_client.get("/contracts/new/").status_code == 403
    assert viewer_client.get(f"/contracts/{contract.pk}/amend/").status_code == 403
    customer_id = str(contract.customer_id)
    forged = [
        ("/contracts/new/", form_post(customer_id, reference="FORGED")),
        (f"/contracts/{contract.pk}/amend/", amend_post(contract)),
        *(
            (f"/contracts/{contract.pk}/{move}/", {})
            for move in ("activate", "suspend", "resume", "terminate")
        ),
    ]
    for url, data in forged:
        response = viewer_client.post(url, data)
        assert response.status_code == 403, url
        assert b"Viewers cannot change anything." in response.content
    contract.refresh_from_db()
    assert contract.status == ContractStatus.DRAFT
    assert contract.versions.count() == 1
    assert not Contract.objects.filter(reference="FORGED").exists()


def test_an_admin_may_create_and_amend(owner: Member) -> None:
    admin = make_member(role=Role.ADMIN, vendor=owner.vendor)
    client = Client()
    client.force_login(admin.user)
    contract = contract_of(owner)
    assert client.get("/contracts/new/").status_code == 200
    assert (
        client.post(
            f"/contracts/{contract.pk}/amend/", amend_post(contract, effective_from="2026-06-01")
        ).status_code
        == 302
    )
    assert contract.versions.count() == 2


def test_a_customer_approval_threshold_set_in_the_form_is_stored_and_shown(
    owner_client: Client, owner: Member
) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    post = {**form_post(str(customer.pk)), "approval_threshold_minor": "2500.00"}

    response = owner_client.post("/contracts/new/", post)

    contract = Contract.objects.get(vendor=owner.vendor, reference="ACME-2026")
    assert response.status_code == 302
    assert contract.approval_threshold_minor == 250_000
    page = owner_client.get(response["Location"]).content.decode()
    assert "Drafts over 2,500.00 USD wait for the customer&#x27;s approval" in page


# --- edit a draft -----------------------------------------------------------------------------


def edit_post(contract: Contract, **overrides: str) -> dict[str, str]:
    """What the edit form posts for `contract` as it is (its page's inputs, as shown)."""
    post = form_post(str(contract.customer_id), reference=contract.reference, timezone=contract.timezone)
    return {name: value for name, value in post.items() if not name.startswith("terms")} | overrides


def test_a_drafts_own_fields_are_edited_through_the_form(owner_client: Client, owner: Member) -> None:
    contract = contract_of(owner, reference="TYPO-1", approval_threshold_minor=5_000)
    page = owner_client.get(f"/contracts/{contract.pk}/edit/").content.decode()
    assert 'value="TYPO-1"' in page
    assert 'name="approval_threshold_minor" value="50.00"' in page
    other = CustomerFactory.create(vendor=owner.vendor)

    response = owner_client.post(
        f"/contracts/{contract.pk}/edit/",
        edit_post(contract, reference="FIXED-1", customer_id=str(other.pk), approval_threshold_minor=""),
    )

    assert response.status_code == 302
    assert response["Location"] == f"/contracts/{contract.pk}/"
    contract.refresh_from_db()
    assert (contract.reference, contract.customer_id) == ("FIXED-1", other.pk)
    assert contract.approval_threshold_minor is None  # a blank input clears an optional field
    assert contract.versions.count() == 1  # its terms are not touched
    entry = AuditEntry.objects.get(vendor=owner.vendor, action="contract.updated")
    assert entry.actor == f"user:{owner.user.email}"
    assert "Draft FIXED-1 updated" in owner_client.get(response["Location"]).content.decode()


def test_a_drafts_edit_errors_are_the_apis_and_change_nothing(owner_client: Client, owner: Member) -> None:
    contract = contract_of(owner, reference="KEEP-1")
    post = edit_post(contract, currency="XXY", period_count="0")

    response = owner_client.post(f"/contracts/{contract.pk}/edit/", post)

    assert response.status_code == 400
    content = response.content.decode()
    body = {"currency": "XXY", "period_count": 0}
    api = make_vendor_api(owner.vendor).client.patch(f"/api/v1/contracts/{contract.pk}", body, format="json")
    assert set(api.json()["field_errors"]) == {"currency", "period_count"}
    for path, items in api.json()["field_errors"].items():
        assert errors_beside(content, path) == [item["message"] for item in items], path
    contract.refresh_from_db()
    assert (contract.reference, contract.currency) == ("KEEP-1", "USD")


def test_only_a_draft_is_edited_and_only_by_a_writer(
    owner_client: Client, viewer_client: Client, owner: Member
) -> None:
    contract = contract_of(owner, reference="LIVE-1")
    assert viewer_client.get(f"/contracts/{contract.pk}/edit/").status_code == 403
    assert viewer_client.post(f"/contracts/{contract.pk}/edit/", edit_post(contract)).status_code == 403
    contract_activate(contract=contract, actor="test")

    response = owner_client.post(f"/contracts/{contract.pk}/edit/", edit_post(contract, reference="NEW"))

    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.reference == "LIVE-1"
    assert "Only a draft contract can be edited" in owner_client.get(response["Location"]).content.decode()
