"""The Django admin: every page opens for a superuser; what must stay immutable cannot be added,
changed or deleted; writes that have a service go through it, with the operator as the actor."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import models
from django.test import Client

from contracts.models import (
    ApiKey,
    AuditEntry,
    Contract,
    ContractStatus,
    ContractVersion,
    Customer,
    Membership,
    OutcomeType,
    Role,
    Vendor,
    WebhookSecret,
    WebhookSource,
)
from contracts.services.contracts import contract_activate
from contracts.services.credentials import api_key_create
from tests.factories import CustomerFactory, VendorFactory, contract_create_for, webhook_source_create_for

pytestmark = pytest.mark.django_db

OPERATOR = "ops@verity.test"
ACTOR = f"user:{OPERATOR}"


@dataclass
class World:
    """One of everything the contracts app stores, made through the services."""

    vendor: Vendor
    membership: Membership
    customer: Customer
    api_key: ApiKey
    source: WebhookSource
    signing_secret: str
    active: Contract
    draft: Contract

    @property
    def locked_version(self) -> ContractVersion:
        return self.active.versions.get(number=1)

    @property
    def draft_version(self) -> ContractVersion:
        return self.draft.versions.get(number=1)


@pytest.fixture
def world() -> World:
    vendor = VendorFactory.create()
    member = get_user_model().objects.create_user(username="member@vendor.test", email="member@vendor.test")
    membership = Membership.objects.create(user=member, vendor=vendor, role=Role.ADMIN)
    customer = CustomerFactory.create(vendor=vendor)
    api_key, _ = api_key_create(vendor=vendor, name="integration", actor="system")
    source, signing_secret = webhook_source_create_for(customer)
    active = contract_activate(contract=contract_create_for(customer, reference="CTR-ACTIVE"), actor="system")
    draft = contract_create_for(customer, reference="CTR-DRAFT")
    return World(vendor, membership, customer, api_key, source, signing_secret, active, draft)


@pytest.fixture
def admin_client() -> Client:
    operator = get_user_model().objects.create_superuser(
        username=OPERATOR, email=OPERATOR, password="unused-in-tests"
    )
    client = Client()
    client.force_login(operator)
    return client


class FormFields(HTMLParser):
    """What a browser would submit from the page's forms: inputs, selected options, textareas."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        name = attr.get("name")
        if tag == "input" and name and attr.get("type") not in ("submit", "button", "checkbox"):
            self.data[name] = attr.get("value") or ""
        elif tag == "input" and name and attr.get("type") == "checkbox" and "checked" in attr:
            self.data[name] = "on"
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attr:
            self.data[self._select] = attr.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] += data.removeprefix("\n")


def form_data(client: Client, url: str, **changes: Any) -> dict[str, Any]:
    page = client.get(url)
    assert page.status_code == 200
    parser = FormFields()
    parser.feed(page.content.decode())
    return {**parser.data, **changes}


def url(model: type[models.Model], view: str = "changelist", obj: models.Model | None = None) -> str:
    base = f"/admin/contracts/{model._meta.model_name}/"
    if view == "changelist":
        return base
    if view == "add":
        return f"{base}add/"
    assert obj is not None
    return f"{base}{obj.pk}/" + ("change/" if view == "change" else f"{view}/")


ALL_MODELS = [
    Vendor,
    Membership,
    Customer,
    ApiKey,
    WebhookSource,
    WebhookSecret,
    Contract,
    ContractVersion,
    OutcomeType,
    AuditEntry,
]

ONE_OF: dict[type[models.Model], Callable[[World], models.Model]] = {
    Vendor: lambda w: w.vendor,
    Membership: lambda w: w.membership,
    Customer: lambda w: w.customer,
    ApiKey: lambda w: w.api_key,
    WebhookSource: lambda w: w.source,
    WebhookSecret: lambda w: w.source.secrets.get(),
    Contract: lambda w: w.active,
    ContractVersion: lambda w: w.locked_version,
    OutcomeType: lambda w: w.locked_version.outcome_types.get(),
    AuditEntry: lambda w: AuditEntry.objects.filter(vendor=w.vendor).first() or w.vendor,
}


# --- every page opens -----------------------------------------------------------------------


def test_admin_index_lists_every_contracts_model(admin_client: Client) -> None:
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    for model in ALL_MODELS:
        assert url(model) in response.content.decode()


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_changelist_opens(admin_client: Client, world: World, model: type[models.Model]) -> None:
    response = admin_client.get(url(model))

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_changelist_search_opens(admin_client: Client, world: World, model: type[models.Model]) -> None:
    assert admin_client.get(url(model), {"q": "a"}).status_code == 200


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_change_page_opens(admin_client: Client, world: World, model: type[models.Model]) -> None:
    response = admin_client.get(url(model, "change", ONE_OF[model](world)))

    assert response.status_code == 200


@pytest.mark.parametrize("model", [Contract, ContractVersion], ids=lambda m: m.__name__)
def test_draft_change_pages_open(admin_client: Client, world: World, model: type[models.Model]) -> None:
    obj = world.draft if model is Contract else world.draft_version

    assert admin_client.get(url(model, "change", obj)).status_code == 200


def test_the_staff_login_page_and_the_demo_flow_work(world: World) -> None:
    get_user_model().objects.create_superuser(
        username="root@verity.test", email="root@verity.test", password="pw"
    )
    client = Client()

    client.post("/admin/login/", {"username": "root@verity.test", "password": "pw"})

    assert client.get(url(Contract)).status_code == 200


# --- immutable things -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [AuditEntry, WebhookSecret, ApiKey, WebhookSource, Contract, ContractVersion, OutcomeType],
    ids=lambda m: m.__name__,
)
def test_add_is_refused(admin_client: Client, world: World, model: type[models.Model]) -> None:
    before = model._default_manager.count()

    assert admin_client.get(url(model, "add")).status_code == 403
    assert admin_client.post(url(model, "add"), {}).status_code == 403
    assert model._default_manager.count() == before


@pytest.mark.parametrize(
    "model",
    [AuditEntry, WebhookSecret, ApiKey, WebhookSource, Contract, ContractVersion, OutcomeType],
    ids=lambda m: m.__name__,
)
def test_delete_is_refused(admin_client: Client, world: World, model: type[models.Model]) -> None:
    obj = ONE_OF[model](world)
    before = model._default_manager.count()

    assert admin_client.post(url(model, "delete", obj), {"post": "yes"}).status_code == 403
    assert model._default_manager.count() == before


def test_audit_entry_is_view_only(admin_client: Client, world: World) -> None:
    entry = AuditEntry.objects.filter(vendor=world.vendor).first()
    assert entry is not None
    change_url = url(AuditEntry, "change", entry)

    page = admin_client.get(change_url)
    refused = admin_client.post(change_url, {"actor": "someone:else", "action": "forged"})

    assert 'name="_save"' not in page.content.decode()
    assert refused.status_code == 403
    entry_after = AuditEntry.objects.get(pk=entry.pk)
    assert (entry_after.actor, entry_after.action) == (entry.actor, entry.action)


def test_api_key_pages_never_show_the_hash_and_only_the_name_changes(
    admin_client: Client, world: World
) -> None:
    api_key = world.api_key
    change_url = url(ApiKey, "change", api_key)
    for page_url in (url(ApiKey), change_url):
        assert api_key.secret_hash not in admin_client.get(page_url).content.decode()

    data = form_data(admin_client, change_url, name="renamed", scope="read", prefix="forged")
    response = admin_client.post(change_url, data)

    assert response.status_code == 302
    after = ApiKey.objects.get(pk=api_key.pk)
    assert after.name == "renamed"
    assert (after.scope, after.prefix, after.secret_hash) == (
        api_key.scope,
        api_key.prefix,
        api_key.secret_hash,
    )


def test_webhook_secret_pages_never_show_the_secret(admin_client: Client, world: World) -> None:
    secret = world.source.secrets.get()
    pages = [
        url(WebhookSecret),
        url(WebhookSecret, "change", secret),
        url(WebhookSource, "change", world.source),
    ]
    for page_url in pages:
        content = admin_client.get(page_url).content.decode()
        assert secret.secret_encrypted not in content
        assert world.signing_secret not in content
    assert f"whsec_…{secret.hint}" in admin_client.get(url(WebhookSecret)).content.decode()


def test_webhook_secret_cannot_be_changed(admin_client: Client, world: World) -> None:
    secret = world.source.secrets.get()

    response = admin_client.post(url(WebhookSecret, "change", secret), {"hint": "XXXX"})

    assert response.status_code == 403
    assert WebhookSecret.objects.get(pk=secret.pk).hint == secret.hint


def test_locked_version_page_offers_no_save_and_a_post_changes_nothing(
    admin_client: Client, world: World
) -> None:
    version = world.locked_version
    pricing = version.outcome_types.get().pricing
    change_url = url(ContractVersion, "change", version)

    page = admin_client.get(change_url).content.decode()
    data = form_data(
        admin_client,
        change_url,
        notes="changed after signing",
        platform_fee_minor="1",
        **{
            "outcome_types-TOTAL_FORMS": "1",
            "outcome_types-INITIAL_FORMS": "1",
            "outcome_types-0-id": str(version.outcome_types.get().pk),
            "outcome_types-0-pricing": json.dumps({"model": "per_unit", "unit_price": "0.01"}),
        },
    )
    response = admin_client.post(change_url, data)

    assert 'name="_save"' not in page
    assert 'name="outcome_types-0-pricing"' not in page
    assert response.status_code == 403
    after = ContractVersion.objects.get(pk=version.pk)
    assert (after.notes, after.platform_fee_minor) == (version.notes, version.platform_fee_minor)
    assert after.outcome_types.get().pricing == pricing


def test_locked_outcome_type_cannot_be_changed(admin_client: Client, world: World) -> None:
    outcome_type = world.locked_version.outcome_types.get()

    response = admin_client.post(url(OutcomeType, "change", outcome_type), {"free_units": "999"})

    assert response.status_code == 403
    assert OutcomeType.objects.get(pk=outcome_type.pk).free_units == outcome_type.free_units


# --- writes through the services --------------------------------------------------------------


def test_draft_version_is_replaced_through_the_service(admin_client: Client, world: World) -> None:
    version = world.draft_version
    change_url = url(ContractVersion, "change", version)
    data = form_data(
        admin_client,
        change_url,
        notes="negotiated",
        **{"outcome_types-0-pricing": json.dumps({"model": "per_unit", "unit_price": "0.850"})},
    )

    response = admin_client.post(change_url, data)

    assert response.status_code == 302
    after = ContractVersion.objects.get(pk=version.pk)
    assert after.notes == "negotiated"
    assert after.locked_at is None
    (outcome_type,) = after.outcome_types.all()
    assert (outcome_type.pricing_model, outcome_type.pricing) == (
        "per_unit",
        {"model": "per_unit", "unit_price": "0.85"},
    )
    entry = AuditEntry.objects.get(action="contract.version_replaced")
    assert (entry.actor, entry.object_id, entry.details) == (ACTOR, str(world.draft.pk), {"version": 1})


def test_draft_version_with_invalid_terms_shows_field_errors_and_changes_nothing(
    admin_client: Client, world: World
) -> None:
    version = world.draft_version
    before = version.outcome_types.get()
    change_url = url(ContractVersion, "change", version)
    data = form_data(
        admin_client,
        change_url,
        notes="should not stick",
        **{"outcome_types-0-pricing": json.dumps({"model": "per_unit", "unit_price": 0.9})},
    )

    response = admin_client.post(change_url, data)

    assert response.status_code == 200
    inline_form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert "pricing" in inline_form.errors
    assert "never as JSON numbers" in str(inline_form.errors["pricing"])
    after = ContractVersion.objects.get(pk=version.pk)
    assert after.notes == version.notes
    assert after.outcome_types.get().pricing == before.pricing
    assert not AuditEntry.objects.filter(action="contract.version_replaced").exists()


def test_contract_status_is_read_only_on_every_contract(admin_client: Client, world: World) -> None:
    active_page = form_data(admin_client, url(Contract, "change", world.active))
    draft_page = form_data(admin_client, url(Contract, "change", world.draft))

    assert "status" not in active_page
    assert "activated_at_0" not in active_page
    assert "reference" not in active_page  # an active contract changes by amendment only
    assert "status" not in draft_page
    assert "reference" in draft_page


def test_draft_contract_header_changes_through_the_service(admin_client: Client, world: World) -> None:
    change_url = url(Contract, "change", world.draft)
    data = form_data(admin_client, change_url, reference="CTR-RENAMED", status="active")

    response = admin_client.post(change_url, data)

    assert response.status_code == 302
    after = Contract.objects.get(pk=world.draft.pk)
    assert (after.reference, after.status) == ("CTR-RENAMED", ContractStatus.DRAFT)
    entry = AuditEntry.objects.get(action="contract.updated")
    assert (entry.actor, entry.details) == (ACTOR, {"fields": ["reference"]})


def test_draft_contract_with_invalid_header_changes_nothing(admin_client: Client, world: World) -> None:
    change_url = url(Contract, "change", world.draft)
    data = form_data(admin_client, change_url, reference="CTR-NEW", timezone="Mars/Olympus_Mons")

    response = admin_client.post(change_url, data)

    assert response.status_code == 200
    assert "timezone" in response.context["adminform"].form.errors
    assert Contract.objects.get(pk=world.draft.pk).reference == "CTR-DRAFT"


def test_activate_action_moves_a_draft_through_the_service(admin_client: Client, world: World) -> None:
    response = admin_client.post(
        url(Contract), {"action": "activate", "_selected_action": [str(world.draft.pk)]}
    )

    assert response.status_code == 302
    after = Contract.objects.get(pk=world.draft.pk)
    assert after.status == ContractStatus.ACTIVE
    assert world.draft_version.locked_at == after.activated_at
    entry = AuditEntry.objects.get(action="contract.active", object_id=str(world.draft.pk))
    assert entry.actor == ACTOR


def test_an_invalid_transition_action_reports_and_changes_nothing(admin_client: Client, world: World) -> None:
    response = admin_client.post(
        url(Contract), {"action": "resume", "_selected_action": [str(world.draft.pk)]}, follow=True
    )

    assert response.status_code == 200
    assert "cannot" in response.content.decode()
    assert Contract.objects.get(pk=world.draft.pk).status == ContractStatus.DRAFT


def test_customer_added_in_the_admin_is_created_through_the_service(
    admin_client: Client, world: World
) -> None:
    data = form_data(
        admin_client,
        url(Customer, "add"),
        vendor=str(world.vendor.pk),
        name="Globex",
        external_ref="globex",
        billing_email="ap@globex.test",
    )

    response = admin_client.post(url(Customer, "add"), data)

    assert response.status_code == 302
    customer = Customer.objects.get(external_ref="globex")
    assert customer.vendor == world.vendor
    entry = AuditEntry.objects.get(action="customer.created", object_id=str(customer.pk))
    assert entry.actor == ACTOR


def test_customer_with_an_invalid_email_is_not_created(admin_client: Client, world: World) -> None:
    data = form_data(
        admin_client,
        url(Customer, "add"),
        vendor=str(world.vendor.pk),
        name="Globex",
        external_ref="globex",
        billing_email="not-an-email",
    )

    response = admin_client.post(url(Customer, "add"), data)

    assert response.status_code == 200
    assert "billing_email" in response.context["adminform"].form.errors
    assert not Customer.objects.filter(external_ref="globex").exists()


def test_revoke_action_revokes_an_api_key_through_the_service(admin_client: Client, world: World) -> None:
    response = admin_client.post(
        url(ApiKey), {"action": "revoke", "_selected_action": [str(world.api_key.pk)]}
    )

    assert response.status_code == 302
    assert ApiKey.objects.get(pk=world.api_key.pk).revoked_at is not None
    assert AuditEntry.objects.get(action="api_key.revoked").actor == ACTOR


def test_draft_contract_cannot_be_moved_to_another_vendors_customer(
    admin_client: Client, world: World
) -> None:
    stranger = CustomerFactory.create()
    change_url = url(Contract, "change", world.draft)
    data = form_data(admin_client, change_url, customer=str(stranger.pk))

    response = admin_client.post(change_url, data)

    assert response.status_code == 200
    assert "customer" in response.context["adminform"].form.errors
    assert Contract.objects.get(pk=world.draft.pk).customer_id == world.customer.pk
