"""The customer portal's foundation: a vendor invites a customer's people (roles viewer, approver,
admin), who sign in at the same page and see their chosen customer's overview, outcomes and trails;
`customer_portal_view` picks the customer, refuses a viewer's changes and another customer's objects."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from contracts.models import AuditEntry, CustomerMembership, CustomerRole, Role
from contracts.services.customer_members import (
    CustomerMemberFields,
    customer_member_change_role,
    customer_member_invite,
    customer_member_remove,
)
from core.errors import NotFound, PermissionDenied, ValidationFailed
from outcomes.models import Outcome, OutcomeVerdict, ReviewDecision
from tests.factories import CustomerFactory
from tests.support.ingest import make_ingest
from tests.support.portal import Member, make_customer_member, make_member, signed_in
from tests.support.settlement import MARCH, billable

pytestmark = pytest.mark.django_db


def _vendor_owner(member: Member) -> Any:
    return member.user.membership


# --- services --------------------------------------------------------------------------------------


def test_an_admin_invites_a_customers_person_who_sets_a_password_and_lands_on_the_customer_portal(
    owner_client: Client, owner: Member, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            f"/customers/{customer.pk}/members/", {"email": "Cleo@Buyer.test", "role": "approver"}
        )
    assert response.status_code == 302
    member = CustomerMembership.objects.get(user__email__iexact="cleo@buyer.test")
    assert (member.customer, member.role) == (customer, CustomerRole.APPROVER)
    [message] = mail.outbox
    assert customer.name in message.subject
    assert owner.vendor.name in message.subject
    link = re.search(r"http://testserver(/accounts/reset/\S+)", str(message.body))
    assert link is not None
    client = Client()
    response = client.get(link.group(1), follow=True)
    password = "a-long-new-passphrase-99"
    client.post(response.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})
    person = Client()
    response = person.post(
        "/accounts/login/", {"username": "Cleo@Buyer.test", "password": password}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/customer/"  # the vendor's dashboard sends them on
    assert customer.name in response.content.decode()
    entry = AuditEntry.objects.get(action="customer_member.invited")
    assert entry.details == {"customer_id": str(customer.pk), "email": "Cleo@buyer.test", "role": "approver"}
    # The customer's page lists them.
    assert "Cleo@buyer.test" in owner_client.get(f"/customers/{customer.pk}/").content.decode()


def test_an_invitation_with_errors_shows_them_beside_the_inputs_of_the_customers_page(
    owner_client: Client, owner: Member
) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)

    bad = owner_client.post(f"/customers/{customer.pk}/members/", {"email": "nope", "role": "owner"})

    assert bad.status_code == 400
    page = bad.content.decode()
    assert "2 problems to fix" in page
    for name in ("email", "role"):
        errors = re.search(rf'id="[^"]*{name}-errors">(.*?)</ul>', page, re.S)
        assert errors is not None, name
        assert "<li>" in errors.group(1), name
    assert 'value="nope"' in page
    assert not CustomerMembership.objects.exists()
    assert not mail.outbox


def test_roles_change_and_removal_and_a_person_in_several_places(owner: Member) -> None:
    by = _vendor_owner(owner)
    customer, other = CustomerFactory.create(vendor=owner.vendor), CustomerFactory.create(vendor=owner.vendor)
    fields = CustomerMemberFields(email=owner.user.email, role="viewer")
    # The vendor's own owner may belong to customers too (of this vendor or another's).
    mine = customer_member_invite(customer=customer, fields=fields, by=by, actor="t", base_url="http://x")
    customer_member_invite(customer=other, fields=fields, by=by, actor="t", base_url="http://x")
    assert not mail.outbox  # they have a password already
    with pytest.raises(ValidationFailed) as twice:
        customer_member_invite(customer=customer, fields=fields, by=by, actor="t", base_url="http://x")
    assert twice.value.field_errors["email"][0]["code"] == "already_member"
    assert customer_member_change_role(membership=mine, role="admin", by=by, actor="t").role == "admin"
    customer_member_remove(membership=mine, by=by, actor="t")
    assert list(CustomerMembership.objects.filter(user=owner.user).values_list("customer", flat=True)) == [
        other.pk
    ]
    assert [
        e.action for e in AuditEntry.objects.order_by("pk") if e.action.startswith("customer_member")
    ] == [
        "customer_member.invited",
        "customer_member.invited",
        "customer_member.role_changed",
        "customer_member.removed",
    ]


def test_only_the_vendors_owners_and_admins_invite_and_never_to_another_vendors_customer(
    owner: Member, viewer: Member
) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    fields = CustomerMemberFields(email="x@buyer.test", role="viewer")
    stranger = make_member(role=Role.ADMIN)
    with pytest.raises(NotFound):
        customer_member_invite(
            customer=customer, fields=fields, by=_vendor_owner(stranger), actor="t", base_url="http://x"
        )
    with pytest.raises(PermissionDenied):
        customer_member_invite(
            customer=customer, fields=fields, by=_vendor_owner(viewer), actor="t", base_url="http://x"
        )
    assert not CustomerMembership.objects.exists()
    assert (
        signed_in(stranger)
        .post(f"/customers/{customer.pk}/members/", {"email": "x@b.test", "role": "viewer"})
        .status_code
        == 404
    )
    assert not CustomerMembership.objects.exists()


# --- the decorator and the pages ----------------------------------------------------------------------


@pytest.fixture
def scene(owner: Member) -> dict[str, Any]:
    """Two customers of one vendor, each with a contract and outcomes in March."""
    from tests.support.vendors import make_vendor_api

    api = make_vendor_api(owner.vendor)
    ours, theirs = make_ingest(api=api, reference="CTR-ours"), make_ingest(api=api, reference="CTR-theirs")
    billable(ours, 2, MARCH + dt.timedelta(days=2), prefix="OURS")
    billable(theirs, 1, MARCH + dt.timedelta(days=2), prefix="THEIRS")
    return {"ours": ours, "theirs": theirs}


def test_a_member_sees_their_customers_overview_and_outcomes_only(scene: dict[str, Any]) -> None:
    ours = scene["ours"]
    member = make_customer_member(customer=ours.contract.customer)
    client = signed_in(member)
    overview = client.get("/customer/").content.decode()
    assert "CTR-ours" in overview
    assert "CTR-theirs" not in overview
    listing = client.get("/customer/outcomes/").content.decode()
    assert "OURS-0" in listing
    assert "OURS-1" in listing
    assert "THEIRS-0" not in listing
    assert "OURS-0" not in client.get("/customer/outcomes/?state=rejected").content.decode()
    outcome = Outcome.objects.get(natural_key="OURS-0")
    trail = client.get(f"/customer/outcomes/{outcome.pk}/").content.decode()
    assert "Trail" in trail
    assert "OURS-0" in trail
    assert 'class="entry-event"' in trail
    theirs = Outcome.objects.get(natural_key="THEIRS-0")
    assert client.get(f"/customer/outcomes/{theirs.pk}/").status_code == 404


def test_the_trail_leaves_out_the_vendors_own_words(scene: dict[str, Any]) -> None:
    outcome = Outcome.objects.get(natural_key="OURS-0")
    ReviewDecision.objects.create(
        outcome=outcome,
        flag_reason="velocity_anomaly",
        verdict="accept",
        party="vendor",
        actor="user:reviewer@vendor.test",
        justification="Internal note: bill it anyway.",
        evidence={"ticket": "internal"},
        at=MARCH + dt.timedelta(days=3),
    )
    client = signed_in(make_customer_member(customer=scene["ours"].contract.customer))
    trail = client.get(f"/customer/outcomes/{outcome.pk}/").content.decode()
    assert "Flag decided by a person" in trail
    for internal in ("Internal note", "reviewer@vendor.test", "internal", "user:"):
        assert internal not in trail, internal


def test_the_trail_names_none_of_the_vendors_people_nor_a_decided_flags_evidence(
    scene: dict[str, Any],
) -> None:
    outcome = Outcome.objects.get(natural_key="OURS-0")
    at = MARCH + dt.timedelta(days=4)
    for rule, reason, facts in (
        ("disputes", "dispute_rejected", {"status": "rejected", "resolved_by": "user:answerer@vendor.test"}),
        (
            "anomaly",
            "velocity_anomaly_cleared",
            {
                "flag_facts": {"z": "secret-z"},
                "decided_by": "user:admin@vendor.test",
                "party": "vendor_admin",
            },
        ),
    ):
        OutcomeVerdict.objects.create(
            outcome=outcome, rule=rule, decision="accept", reason=reason, facts=facts, at=at
        )
    client = signed_in(make_customer_member(customer=scene["ours"].contract.customer))
    trail = client.get(f"/customer/outcomes/{outcome.pk}/").content.decode()
    assert "rejected" in trail  # the dispute's own facts stay
    for internal in ("answerer@vendor.test", "admin@vendor.test", "secret-z"):
        assert internal not in trail, internal


def test_viewers_change_nothing_and_switching_is_limited_to_ones_own_customers(
    scene: dict[str, Any],
) -> None:
    ours, theirs = scene["ours"].contract.customer, scene["theirs"].contract.customer
    viewer = make_customer_member(customer=ours, role=CustomerRole.VIEWER)
    client = signed_in(viewer)
    assert client.post("/customer/").status_code == 403
    assert client.post(f"/customer/accounts/{theirs.pk}/").status_code == 404  # not theirs: not found
    other_vendors = CustomerFactory.create()
    make_customer_member(customer=other_vendors, user=viewer.user, role=CustomerRole.ADMIN)
    accounts = client.get("/customer/accounts/").content.decode()
    assert ours.name in accounts
    assert other_vendors.name in accounts
    assert other_vendors.vendor.name in accounts
    assert client.post(f"/customer/accounts/{other_vendors.pk}/").status_code == 302  # a viewer may switch
    assert other_vendors.name in client.get("/customer/").content.decode()
    assert "OURS-0" not in client.get("/customer/outcomes/").content.decode()
    assert client.post("/customer/").status_code == 200  # an admin there


def test_who_gets_which_portal(owner: Member, owner_client: Client) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    assert owner_client.get("/customer/").status_code == 403  # a vendor's member only
    assert 'id="switch-portal"' not in owner_client.get("/").content.decode()
    make_customer_member(customer=customer, user=owner.user)  # now both: a link to switch
    page = owner_client.get("/").content.decode()
    assert 'id="switch-portal"' in page
    assert owner_client.get("/customer/").status_code == 200
    only_customer = signed_in(make_customer_member(customer=customer))
    response = only_customer.get("/contracts/")
    assert (response.status_code, response["Location"]) == (302, "/customer/")
    assert only_customer.post("/settings/team/", {"email": "x@y.test", "role": "owner"}).status_code == 403
