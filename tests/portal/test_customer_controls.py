"""The customer's own controls in the portal (Settings): caps and alerts, its system of record's webhook
sources, its webhook endpoints and its API keys. Admins change them; approvers and viewers only read;
each secret is shown once."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from contracts.models import ApiKey, CustomerCap, CustomerRole, WebhookSecret, WebhookSource
from contracts.services.credentials import api_key_authenticate
from notifications.models import Endpoint
from tests.factories import outcome_type_terms, version_terms, webhook_source_create_for
from tests.support.ingest import Ingest, make_ingest
from tests.support.portal import make_customer_member, signed_in

pytestmark = pytest.mark.django_db

SETTINGS = "/customer/settings/"


def estate(role: str = CustomerRole.ADMIN) -> tuple[Ingest, Client]:
    ingest = make_ingest(terms=version_terms(outcome_types=[outcome_type_terms(cap_units=100)]))
    return ingest, signed_in(make_customer_member(customer=ingest.contract.customer, role=role))


def cap_url(ingest: Ingest, suffix: str = "") -> str:
    return f"{SETTINGS}caps/{ingest.contract.pk}/ticket.resolved/{suffix}"


def cap_fields(ingest: Ingest, max_units: str, alerts: str = "") -> dict[str, str]:
    prefix = f"cap-{ingest.contract.pk.hex[:8]}-ticket-resolved"
    return {f"{prefix}-max_units": max_units, f"{prefix}-alert_percents": alerts}


def token(page: str, action: str) -> str:
    form = page[page.index(f'action="{action}"') :]
    match = re.search(r'name="form_token" value="([^"]+)"', form)
    assert match is not None
    return match.group(1)


def test_caps_set_refused_above_the_contracts_and_removed() -> None:
    ingest, admin = estate()
    above = admin.post(cap_url(ingest), cap_fields(ingest, "101", "50, 80"))
    assert above.status_code == 400
    assert "caps ticket.resolved at 100 per period" in above.content.decode()
    assert not CustomerCap.objects.exists()  # nothing stored

    assert admin.post(cap_url(ingest), cap_fields(ingest, "60", "80, 50")).status_code == 302
    cap = CustomerCap.objects.get()
    assert (cap.max_units, cap.alert_percents, cap.set_by) == (60, [50, 80], cap.set_by)
    assert cap.set_by.startswith("customer_user:")
    assert "alerts at 50%, 80%" in admin.get(SETTINGS).content.decode()

    assert admin.post(cap_url(ingest, "remove/")).status_code == 302
    assert not CustomerCap.objects.exists()


def test_an_amount_cap_is_typed_in_the_contracts_currency_and_refused_when_bad() -> None:
    ingest = make_ingest(
        terms=version_terms(outcome_types=[outcome_type_terms(cap_units=100, cap_amount_minor=10_000)])
    )
    admin = signed_in(make_customer_member(customer=ingest.contract.customer, role=CustomerRole.ADMIN))
    prefix = f"cap-{ingest.contract.pk.hex[:8]}-ticket-resolved"

    def amount(text: str, units: str = "") -> dict[str, str]:
        return {
            f"{prefix}-max_units": units,
            f"{prefix}-max_amount_minor": text,
            f"{prefix}-alert_percents": "80",
        }

    assert "Most billed per period (USD)" in admin.get(SETTINGS).content.decode()
    for text, shown in [
        ("5.001", "USD has 2 decimal places."),
        ("-1", "An amount from 0 to "),
        ("100.01", "The contract caps ticket.resolved&#x27;s outcomes at 100.00 USD per period"),
        ("", "Set a most per period in units, in amount, or both."),
    ]:
        refused = admin.post(cap_url(ingest), amount(text))
        assert refused.status_code == 400, text
        assert shown in refused.content.decode(), text
    assert not CustomerCap.objects.exists()  # nothing stored

    assert admin.post(cap_url(ingest), amount("50.00", units="60")).status_code == 302
    cap = CustomerCap.objects.get()
    assert (cap.max_units, cap.max_amount_minor, cap.alert_percents) == (60, 5_000, [80])
    page = admin.get(SETTINGS).content.decode()
    assert "your cap: 60 and 50.00 USD billed" in page
    assert 'value="50.00"' in page  # shown back in major units
    detail = admin.get(f"/customer/contracts/{ingest.contract.pk}/").content.decode()
    assert "<code>ticket.resolved</code>: 60 and 50.00 USD billed per period, alerts at 80%" in detail


def test_approvers_and_viewers_read_the_settings_but_change_nothing() -> None:
    for role in (CustomerRole.APPROVER, CustomerRole.VIEWER):
        ingest, person = estate(role)
        source, _ = webhook_source_create_for(ingest.contract.customer, approved=False)
        page = person.get(SETTINGS)
        assert page.status_code == 200
        assert "helpdesk" in page.content.decode()
        assert "Save cap" not in page.content.decode()
        for url, body in (
            (cap_url(ingest), cap_fields(ingest, "10")),
            (f"{SETTINGS}sources/", {"name": "mine"}),
            (f"{SETTINGS}sources/{source.pk}/approve/", {}),
            (f"{SETTINGS}endpoints/", {"url": "https://hooks.example.com/x"}),
            (f"{SETTINGS}api-keys/", {"name": "mine"}),
        ):
            assert person.post(url, body).status_code == 403, (role, url)
    assert not CustomerCap.objects.exists()
    assert not ApiKey.objects.filter(name="mine").exists()
    assert not WebhookSource.objects.filter(name="mine").exists()


def test_a_source_created_by_the_customer_is_approved_and_its_secret_shown_once() -> None:
    _ingest, admin = estate()
    settings_page = admin.get(SETTINGS).content.decode()
    body = {"name": "Our CRM", "form_token": token(settings_page, f"{SETTINGS}sources/")}
    answer = admin.post(f"{SETTINGS}sources/", body)
    assert answer.status_code == 200
    assert answer["Cache-Control"] == "no-store"
    secret = re.search(r'id="signing-secret">(whsec_[^<]+)<', answer.content.decode())
    assert secret is not None
    source = WebhookSource.objects.get(name="Our CRM")
    assert source.approved_at is not None
    assert source.approved_by.startswith("customer_user:")
    # Never again: not on the settings page, and the same form sent again makes nothing.
    assert secret.group(1) not in admin.get(SETTINGS).content.decode()
    again = admin.post(f"{SETTINGS}sources/", body)
    assert again.status_code == 302
    assert secret.group(1) not in admin.get(again["Location"]).content.decode()
    assert WebhookSource.objects.filter(name="Our CRM").count() == 1


def test_approving_the_vendors_source_rotates_its_secret() -> None:
    ingest, admin = estate()
    source, vendor_seen = webhook_source_create_for(
        ingest.contract.customer, name="Vendor-made", approved=False
    )
    page = admin.get(SETTINGS).content.decode()
    url = f"{SETTINGS}sources/{source.pk}/approve/"
    answer = admin.post(url, {"form_token": token(page, url)})
    assert answer.status_code == 200
    new = re.search(r'id="signing-secret">(whsec_[^<]+)<', answer.content.decode())
    assert new is not None
    assert new.group(1) != vendor_seen
    source.refresh_from_db()
    assert source.approved_at is not None
    assert source.approved_by.startswith("customer_user:")
    live = WebhookSecret.objects.filter(source=source).exclude(expires_at__lte=timezone.now())
    assert [item.hint for item in live] == [new.group(1)[-4:]]  # the secret the vendor saw stopped
    assert admin.post(url).status_code == 302  # already approved: said so, nothing changes

    rotate = f"{SETTINGS}sources/{source.pk}/rotate/"
    page = admin.get(SETTINGS).content.decode()
    rotated = admin.post(rotate, {"overlap_seconds": "3600", "form_token": token(page, rotate)})
    assert rotated.status_code == 200
    assert "keeps verifying until the overlap ends" in rotated.content.decode()


def test_endpoints_registered_by_the_customer() -> None:
    ingest, admin = estate()
    answer = admin.post(
        f"{SETTINGS}endpoints/", {"url": "https://hooks.example.com/ours", "form_token": "t1"}
    )
    assert answer.status_code == 200
    assert "shown only once" in answer.content.decode()
    endpoint = Endpoint.objects.get()
    assert endpoint.registered_by == Endpoint.Owner.CUSTOMER
    assert endpoint.customer == ingest.contract.customer
    actions = f"{SETTINGS}endpoints/{endpoint.pk}/"
    assert admin.post(actions + "disable/").status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled
    assert admin.post(actions + "enable/").status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_enabled
    assert admin.post(actions + "test/").status_code == 302
    rotated = admin.post(actions + "rotate/", {"overlap_seconds": "0", "form_token": "t2"})
    assert rotated.status_code == 200
    assert "New signing secret" in rotated.content.decode()
    assert admin.post(actions + "delete/").status_code == 302
    assert not Endpoint.objects.exists()
    bad = admin.post(f"{SETTINGS}endpoints/", {"url": "not a url", "form_token": "t3"})
    assert bad.status_code == 400
    assert not Endpoint.objects.exists()


def test_api_keys_created_by_an_admin_record_who_and_are_revoked() -> None:
    ingest, admin = estate()
    answer = admin.post(f"{SETTINGS}api-keys/", {"name": "Finance", "scope": "read", "form_token": "k1"})
    assert answer.status_code == 200
    raw = re.search(r'id="api-key">(vrt_[^<]+)<', answer.content.decode())
    assert raw is not None
    api_key = ApiKey.objects.get(name="Finance")
    assert api_key.customer == ingest.contract.customer
    assert api_key.created_by is not None
    assert api_key_authenticate(raw_key=raw.group(1)) == api_key
    listing = admin.get(SETTINGS).content.decode()
    assert api_key.created_by.email in listing
    assert raw.group(1) not in listing

    # Another customer's admin, of the same vendor, finds none of it.
    neighbour = make_ingest(api=ingest.api, reference="CTR-neighbour").contract.customer
    stranger = signed_in(make_customer_member(customer=neighbour, role=CustomerRole.ADMIN))
    assert stranger.post(f"{SETTINGS}api-keys/{api_key.pk}/revoke/").status_code == 404
    assert f"vrt_{api_key.prefix}_" not in stranger.get(SETTINGS).content.decode()

    assert admin.post(f"{SETTINGS}api-keys/{api_key.pk}/revoke/").status_code == 302
    assert api_key_authenticate(raw_key=raw.group(1)) is None
