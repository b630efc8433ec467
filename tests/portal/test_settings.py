"""Settings: webhook sources (secret shown once, rotation with overlap, a curl example that really
signs), API keys (shown once, revoke), the team (add by email, roles, never without an owner)."""

from __future__ import annotations

import datetime as dt
import html
import re
import subprocess
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from contracts.models import ApiKey, AuditEntry, Membership, Role, WebhookSource
from contracts.services.contracts import contract_activate
from contracts.services.credentials import api_key_authenticate, api_key_create
from core.crypto import decrypt
from tests.factories import CustomerFactory, contract_create_for, webhook_source_create_for
from tests.portal.test_contracts import errors_beside
from tests.support.portal import Member, make_member
from tests.support.vendors import make_vendor_api

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{20,}")


def secret_on(content: str) -> str:
    found = SECRET.search(content)
    assert found is not None
    return found.group(0)


def signed_in(member: Member) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


# --- webhook sources --------------------------------------------------------------------------


def test_create_a_source_shows_its_secret_once(owner_client: Client, owner: Member) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    response = owner_client.post(
        "/settings/sources/", {"name": "Helpdesk", "kind": "customer_system", "customer_id": str(customer.pk)}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    source = WebhookSource.objects.get(vendor=owner.vendor)
    secret = secret_on(response.content.decode())
    assert decrypt(source.secrets.get().secret_encrypted) == secret
    assert "shown only once" in response.content.decode()
    for page in ("/settings/", f"/settings/sources/{source.pk}/"):
        content = owner_client.get(page).content.decode()
        assert "Helpdesk" in content
        assert secret not in content
        assert secret[-4:] in content
    entry = AuditEntry.objects.get(vendor=owner.vendor, action="webhook_source.created")
    assert entry.actor == f"user:{owner.user.email}"


def test_source_form_errors_are_the_apis(owner_client: Client, owner: Member) -> None:
    body = {"name": "", "kind": "fax", "customer_id": "nope"}
    response = owner_client.post("/settings/sources/", body)
    assert response.status_code == 400
    api = make_vendor_api(owner.vendor).client.post("/api/v1/webhook-sources", body, format="json").json()
    content = response.content.decode()
    assert set(api["field_errors"]) == {"name", "kind", "customer_id"}
    for path, items in api["field_errors"].items():
        assert errors_beside(content, path, "source") == [item["message"] for item in items]
    foreign = CustomerFactory.create()
    response = owner_client.post(
        "/settings/sources/", {"name": "X", "kind": "customer_system", "customer_id": str(foreign.pk)}
    )
    assert response.status_code == 400
    assert errors_beside(response.content.decode(), "customer_id", "source") == ["No such customer."]
    assert not WebhookSource.objects.exists()


def test_rotate_with_an_overlap(owner_client: Client, owner: Member) -> None:
    source, old = webhook_source_create_for(CustomerFactory.create(vendor=owner.vendor), approved=False)
    before = timezone.now()
    response = owner_client.post(f"/settings/sources/{source.pk}/rotate/", {"overlap_seconds": "86400"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    new = secret_on(response.content.decode())
    assert new != old
    secrets = {decrypt(s.secret_encrypted): s.expires_at for s in source.secrets.all()}
    assert secrets[new] is None
    old_expiry = secrets[old]
    assert old_expiry is not None
    assert before + dt.timedelta(days=1) <= old_expiry <= timezone.now() + dt.timedelta(days=1)
    assert AuditEntry.objects.get(action="webhook_source.secret_rotated").details == {
        "overlap_seconds": 86400
    }

    response = owner_client.post(f"/settings/sources/{source.pk}/rotate/", {"overlap_seconds": "99999999"})
    assert response.status_code == 400
    assert "Ensure this value is less than or equal to 2592000." in response.content.decode()
    assert source.secrets.count() == 2


def test_revoke_a_source(owner_client: Client, owner: Member) -> None:
    source, _ = webhook_source_create_for(CustomerFactory.create(vendor=owner.vendor))
    response = owner_client.post(f"/settings/sources/{source.pk}/revoke/", follow=True)
    assert "revoked" in response.content.decode()
    source.refresh_from_db()
    assert source.revoked_at is not None
    assert "Rotate secret" not in owner_client.get(f"/settings/sources/{source.pk}/").content.decode()


def test_the_source_pages_show_who_must_approve_and_offer_the_vendor_no_approval(
    owner_client: Client, owner: Member
) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    awaiting, _ = webhook_source_create_for(customer, approved=False, name="Vendor-made helpdesk")
    approved, _ = webhook_source_create_for(customer, name="Customer-made helpdesk")

    listing = owner_client.get("/settings/").content.decode()
    waiting_page = owner_client.get(f"/settings/sources/{awaiting.pk}/").content.decode()
    approved_page = owner_client.get(f"/settings/sources/{approved.pk}/").content.decode()

    assert listing.count('class="badge badge-approval-awaiting_customer_approval"') == 1
    assert listing.count('class="badge badge-approval-approved"') == 1
    assert 'id="approval-needed"' in waiting_page
    assert "The customer must approve this source" in waiting_page
    assert "Rotate secret" in waiting_page  # still the vendor's to rotate until approved
    assert 'id="approval-done"' in approved_page
    assert "Rotate secret" not in approved_page
    for page in (waiting_page, approved_page):
        actions = re.findall(r'<form[^>]*action="([^"]*)"', page)
        buttons = re.findall(r"<button[^>]*>([^<]*)</button>", page)
        assert actions  # revoke, at least
        assert not [text for text in actions + buttons if "approv" in text.lower()]


def test_the_curl_example_delivers_a_signed_event(owner: Member, live_server: Any) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    contract = contract_create_for(customer, reference="ACME-2026")
    contract_activate(contract=contract, actor="system")
    client = signed_in(owner)
    response = client.post(
        "/settings/sources/",
        {"name": "Agent", "kind": "vendor_agent", "customer_id": str(customer.pk)},
        SERVER_NAME=live_server.thread.host,
        SERVER_PORT=str(live_server.thread.port),
    )
    shown = re.search(
        r'<pre id="curl-example"[^>]*><code>(.*?)</code></pre>', response.content.decode(), re.S
    )
    assert shown is not None
    script = html.unescape(shown.group(1))
    assert live_server.url in script
    assert "ACME-2026" in script
    # The page's own script, run as a person would paste it into a shell.
    run = subprocess.run(  # noqa: S603 - the script is the page's curl example
        ["/usr/bin/bash", "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    assert '"accepted":1' in run.stdout.replace(" ", ""), run.stdout + run.stderr


def test_the_curl_example_picks_the_contract_in_force_now(owner_client: Client, owner: Member) -> None:
    # given a contract in force since 2026 and a newer one, also active, that starts only in 2099
    customer = CustomerFactory.create(vendor=owner.vendor)
    in_force = contract_create_for(customer, reference="ACME-NOW")
    contract_activate(contract=in_force, actor="system")
    future = contract_create_for(customer, reference="ACME-LATER", starts_at="2099-01-01")
    contract_activate(contract=future, actor="system")
    source, _ = webhook_source_create_for(customer)

    # when the source's page shows its signed curl example
    content = html.unescape(owner_client.get(f"/settings/sources/{source.pk}/").content.decode())

    # then the example names the contract an event would be accepted for, not the newest one
    assert '"contract":"ACME-NOW"' in content
    assert "ACME-LATER" not in content


def test_the_source_page_has_a_curl_example_without_the_secret(owner_client: Client, owner: Member) -> None:
    source, secret = webhook_source_create_for(CustomerFactory.create(vendor=owner.vendor))
    content = html.unescape(owner_client.get(f"/settings/sources/{source.pk}/").content.decode())
    assert "SECRET='whsec_…'" in content
    assert secret not in content
    assert f"/webhooks/v1/sources/{source.pk}/events" in content


# --- API keys ---------------------------------------------------------------------------------


def test_create_an_api_key_shown_once_and_revoke_it(owner_client: Client, owner: Member) -> None:
    response = owner_client.post("/settings/api-keys/", {"name": "Exporter", "scope": "read"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    raw = re.search(r"vrt_[0-9a-f]{12}_[A-Za-z0-9_-]+", response.content.decode()).group(0)  # type: ignore[union-attr]
    api_key = ApiKey.objects.get(vendor=owner.vendor)
    assert api_key.scope == "read"
    assert api_key.created_by_id == owner.user.pk
    assert api_key_authenticate(raw_key=raw) == api_key
    assert raw not in owner_client.get("/settings/").content.decode()
    owner_client.post(f"/settings/api-keys/{api_key.pk}/revoke/")
    assert api_key_authenticate(raw_key=raw) is None
    assert list(
        AuditEntry.objects.filter(vendor=owner.vendor).order_by("id").values_list("action", flat=True)
    ) == ["api_key.created", "api_key.revoked"]


def test_a_key_for_a_customer_reaches_only_the_customer_api(owner_client: Client, owner: Member) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor, name="Acme Support")
    response = owner_client.post(
        "/settings/api-keys/", {"name": "Acme's helpdesk", "scope": "write", "customer_id": str(customer.pk)}
    )
    assert response.status_code == 200
    assert "give it to them" in response.content.decode()
    raw = re.search(r"vrt_[0-9a-f]{12}_[A-Za-z0-9_-]+", response.content.decode()).group(0)  # type: ignore[union-attr]
    api_key = ApiKey.objects.get(vendor=owner.vendor)
    assert api_key.customer_id == customer.pk
    holder = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert holder.get("/api/v1/customer/outcomes").status_code == 200
    assert holder.get("/api/v1/contracts").status_code in (401, 403)
    assert "customer key: Acme Support" in owner_client.get("/settings/").content.decode()


def test_a_key_for_another_vendors_customer_is_refused(owner_client: Client, owner: Member) -> None:
    foreign = CustomerFactory.create()
    response = owner_client.post(
        "/settings/api-keys/", {"name": "X", "scope": "read", "customer_id": str(foreign.pk)}
    )
    assert response.status_code == 400
    assert errors_beside(response.content.decode(), "customer_id", "api_key") == ["No such customer."]
    assert not ApiKey.objects.exists()


def test_api_key_form_errors_are_the_apis(owner_client: Client, owner: Member) -> None:
    body = {"name": "", "scope": "admin"}
    response = owner_client.post("/settings/api-keys/", body)
    assert response.status_code == 400
    api = make_vendor_api(owner.vendor).client.post("/api/v1/api-keys", body, format="json").json()
    for path, items in api["field_errors"].items():
        assert errors_beside(response.content.decode(), path, "api_key") == [
            item["message"] for item in items
        ]
    assert ApiKey.objects.filter(vendor=owner.vendor).count() == 1  # the API's own key only


# --- isolation and viewers --------------------------------------------------------------------


def test_another_vendors_source_key_and_member_are_404(owner_client: Client) -> None:
    other = make_member()
    source, _ = webhook_source_create_for(CustomerFactory.create(vendor=other.vendor))
    api_key, _ = api_key_create(vendor=other.vendor, name="theirs", actor="system")
    membership = Membership.objects.get(user=other.user)
    for method, url in [
        ("get", f"/settings/sources/{source.pk}/"),
        ("post", f"/settings/sources/{source.pk}/rotate/"),
        ("post", f"/settings/sources/{source.pk}/revoke/"),
        ("post", f"/settings/api-keys/{api_key.pk}/revoke/"),
        ("post", f"/settings/team/{membership.pk}/role/"),
        ("post", f"/settings/team/{membership.pk}/remove/"),
        ("get", "/settings/sources/not-a-uuid/"),
    ]:
        assert (
            getattr(owner_client, method)(url, {"overlap_seconds": "0", "role": "viewer"}).status_code == 404
        ), url
    source.refresh_from_db()
    api_key.refresh_from_db()
    assert source.revoked_at is None
    assert source.secrets.count() == 1
    assert api_key.revoked_at is None
    assert Membership.objects.get(pk=membership.pk).role == Role.OWNER


def test_a_viewer_sees_no_edit_controls_and_forged_posts_are_refused(
    viewer_client: Client, viewer: Member, owner: Member
) -> None:
    customer = CustomerFactory.create(vendor=viewer.vendor)
    source, _ = webhook_source_create_for(customer)
    api_key, _ = api_key_create(vendor=viewer.vendor, name="ours", actor="system")
    membership = Membership.objects.get(user=owner.user)
    content = viewer_client.get("/settings/").content.decode()
    assert "Create source" not in content
    assert "Create key" not in content
    assert "Add member" not in content
    assert "Revoke" not in content
    assert "Change role" not in content
    assert "Remove" not in content
    assert "Rotate secret" not in viewer_client.get(f"/settings/sources/{source.pk}/").content.decode()
    before = AuditEntry.objects.count()
    for url, data in [
        ("/settings/sources/", {"name": "X", "kind": "customer_system", "customer_id": str(customer.pk)}),
        (f"/settings/sources/{source.pk}/rotate/", {"overlap_seconds": "0"}),
        (f"/settings/sources/{source.pk}/revoke/", {}),
        ("/settings/api-keys/", {"name": "X", "scope": "write"}),
        (f"/settings/api-keys/{api_key.pk}/revoke/", {}),
        ("/settings/team/", {"email": "new@x.test", "role": "owner"}),
        (f"/settings/team/{membership.pk}/role/", {"role": "viewer"}),
        (f"/settings/team/{membership.pk}/remove/", {}),
    ]:
        response = viewer_client.post(url, data)
        assert response.status_code == 403, url
        assert b"Viewers cannot change anything." in response.content
    assert AuditEntry.objects.count() == before
    assert not mail.outbox


# --- team -------------------------------------------------------------------------------------


def test_add_a_new_member_who_sets_a_password_from_the_email(
    owner_client: Client, owner: Member, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/settings/team/", {"email": "Ada@Example.test", "role": "admin"})
    assert response.status_code == 302
    membership = Membership.objects.get(user__email__iexact="ada@example.test")
    assert membership.vendor == owner.vendor
    assert membership.role == Role.ADMIN
    assert not membership.user.has_usable_password()
    [message] = mail.outbox
    assert message.to == ["Ada@example.test"]
    assert owner.vendor.name in message.subject
    link = re.search(r"http://testserver(/accounts/reset/\S+)", str(message.body))
    assert link is not None
    client = Client()
    response = client.get(link.group(1), follow=True)
    password = "a-long-new-passphrase-99"
    client.post(response.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})
    assert (
        Client().post("/accounts/login/", {"username": "Ada@Example.test", "password": password}).status_code
        == 302
    )
    entry = AuditEntry.objects.get(action="member.added")
    assert entry.details == {"email": "Ada@example.test", "role": "admin"}


def test_member_form_errors(owner_client: Client, owner: Member) -> None:
    other = make_member()
    response = owner_client.post("/settings/team/", {"email": "not-an-email", "role": "king"})
    assert response.status_code == 400
    content = response.content.decode()
    assert errors_beside(content, "email", "member") == ["Enter a valid email address."]
    assert errors_beside(content, "role", "member") == ["Input should be 'owner', 'admin' or 'viewer'"]
    response = owner_client.post("/settings/team/", {"email": other.user.email, "role": "viewer"})
    assert errors_beside(response.content.decode(), "email", "member") == [
        "This person is already in another vendor's team."
    ]
    response = owner_client.post("/settings/team/", {"email": owner.user.email, "role": "viewer"})
    assert errors_beside(response.content.decode(), "email", "member") == [
        "This person is already in this team."
    ]
    assert not mail.outbox


def test_a_vendor_always_keeps_an_owner(owner_client: Client, owner: Member) -> None:
    mine = Membership.objects.get(user=owner.user)
    response = owner_client.post(f"/settings/team/{mine.pk}/role/", {"role": "admin"}, follow=True)
    assert "A vendor needs at least one owner" in response.content.decode()
    response = owner_client.post(f"/settings/team/{mine.pk}/remove/", follow=True)
    assert "A vendor needs at least one owner" in response.content.decode()
    mine.refresh_from_db()
    assert mine.role == Role.OWNER
    second = make_member(role=Role.VIEWER, vendor=owner.vendor)
    owner_client.post(
        f"/settings/team/{Membership.objects.get(user=second.user).pk}/role/", {"role": "owner"}
    )
    owner_client.post(f"/settings/team/{mine.pk}/role/", {"role": "viewer"})
    mine.refresh_from_db()
    assert mine.role == Role.VIEWER
    assert list(
        AuditEntry.objects.filter(action="member.role_changed")
        .order_by("id")
        .values_list("details", flat=True)
    ) == [
        {"email": second.user.email, "from": "viewer", "to": "owner"},
        {"email": owner.user.email, "from": "owner", "to": "viewer"},
    ]


def test_an_admin_cannot_touch_owners(owner: Member) -> None:
    admin = make_member(role=Role.ADMIN, vendor=owner.vendor)
    client = signed_in(admin)
    owner_membership = Membership.objects.get(user=owner.user)
    content = client.get("/settings/").content.decode()
    assert '<option value="owner"' not in content
    response = client.post("/settings/team/", {"email": "boss@x.test", "role": "owner"})
    assert response.status_code == 403
    assert "Only an owner can grant" in response.content.decode()
    response = client.post(f"/settings/team/{owner_membership.pk}/remove/", follow=True)
    assert "Only an owner can grant, change or remove the owner role." in response.content.decode()
    assert Membership.objects.filter(pk=owner_membership.pk).exists()
    viewer = make_member(role=Role.VIEWER, vendor=owner.vendor)
    viewer_membership = Membership.objects.get(user=viewer.user)
    client.post(f"/settings/team/{viewer_membership.pk}/remove/")
    assert not Membership.objects.filter(pk=viewer_membership.pk).exists()
    assert get_user_model().objects.filter(pk=viewer.user.pk).exists()
    assert AuditEntry.objects.get(action="member.removed").details == {
        "email": viewer.user.email,
        "role": "viewer",
    }


# --- a page showing a secret, reloaded --------------------------------------------------------

TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def token_on(content: str) -> str:
    found = TOKEN.search(content)
    assert found is not None, "the form carries a one-time token"
    return found.group(1)


def test_reloading_a_new_sources_secret_page_makes_no_second_source(
    owner_client: Client, owner: Member
) -> None:
    customer = CustomerFactory.create(vendor=owner.vendor)
    form = {
        "name": "Helpdesk",
        "kind": "customer_system",
        "customer_id": str(customer.pk),
        "form_token": token_on(owner_client.get("/settings/").content.decode()),
    }
    assert owner_client.post("/settings/sources/", form).status_code == 200
    source = WebhookSource.objects.get(vendor=owner.vendor)

    again = owner_client.post("/settings/sources/", form)  # what a reload of the answer sends

    assert again.status_code == 302
    assert again["Location"] == f"/settings/sources/{source.pk}/"
    assert WebhookSource.objects.filter(vendor=owner.vendor).count() == 1
    assert "already sent" in owner_client.get(again["Location"]).content.decode()
    # A form rendered afresh carries a new token: a second source is made when asked for.
    form["form_token"] = token_on(owner_client.get("/settings/").content.decode())
    assert owner_client.post("/settings/sources/", form).status_code == 200
    assert WebhookSource.objects.filter(vendor=owner.vendor).count() == 2


def test_reloading_a_rotations_secret_page_rotates_once(owner_client: Client, owner: Member) -> None:
    source, _ = webhook_source_create_for(CustomerFactory.create(vendor=owner.vendor), approved=False)
    page = owner_client.get(f"/settings/sources/{source.pk}/").content.decode()
    form = {"overlap_seconds": "3600", "form_token": token_on(page)}
    assert owner_client.post(f"/settings/sources/{source.pk}/rotate/", form).status_code == 200

    again = owner_client.post(f"/settings/sources/{source.pk}/rotate/", form)

    assert again.status_code == 302
    assert source.secrets.count() == 2  # the first secret (overlapping) and one new one, not two


def test_reloading_a_new_api_keys_page_makes_no_second_key(owner_client: Client, owner: Member) -> None:
    form = {
        "name": "CI",
        "scope": "read",
        "form_token": token_on(owner_client.get("/settings/").content.decode()),
    }
    assert owner_client.post("/settings/api-keys/", form).status_code == 200

    again = owner_client.post("/settings/api-keys/", form)

    assert again.status_code == 302
    assert again["Location"] == "/settings/#api-keys"
    assert ApiKey.objects.filter(vendor=owner.vendor, name="CI").count() == 1
