"""Django admin for the contracts app: an operator's view that never bypasses the domain.

Writes that have a service go through it (with the operator as the audit actor), and forms
validate with the same terms models as the API. What must stay immutable is read-only here:
the audit log, credentials' secrets, locked contract versions, and a contract's status (moved
only by the transition actions).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from contracts.models import (
    ApiKey,
    AuditEntry,
    Contract,
    ContractStatus,
    ContractVersion,
    Customer,
    Membership,
    OutcomeType,
    Vendor,
    WebhookSecret,
    WebhookSource,
)
from contracts.portal import portal_actor
from contracts.services import contracts as contract_services
from contracts.services import credentials, customers
from contracts.terms import ContractHeader, OutcomeTypeTerms, VersionTerms, parse
from core.errors import DomainError, ValidationFailed
from core.portal import add_domain_error, add_domain_errors

# The contract's own columns a draft may change, as the API's ContractHeader names them.
HEADER_COLUMNS = tuple(name for name in ContractHeader.model_fields if name != "customer_id")
OUTCOME_TYPE_ERROR = re.compile(r"^outcome_types\[(?P<index>\d+)\]\.?(?P<path>.*)$")


def admin_actor(request: HttpRequest) -> str:
    """The audit actor for an operator: `user:<email>`, as the portal writes it."""
    return portal_actor(request)


# --- tenancy --------------------------------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    raw_id_fields = ("user",)


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("id", "created_at")
    inlines = (MembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "vendor", "role", "created_at")
    list_filter = ("role", "vendor")
    search_fields = ("user__email", "user__username", "vendor__name")
    list_select_related = ("user", "vendor")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at",)


# The customer fields the admin edits; the address and tax ids are edited in the portal or the API.
CUSTOMER_FIELDS = ("name", "external_ref", "billing_email")


class CustomerForm(forms.ModelForm):
    """Validated by the services' own customer validator, so admin and API accept the same input."""

    class Meta:
        model = Customer
        fields = ("vendor", *CUSTOMER_FIELDS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        data = {name: cleaned.get(name) for name in CUSTOMER_FIELDS}
        if all(value is not None for value in data.values()):
            try:
                parse(customers.CustomerFields, data)
            except ValidationFailed as exc:
                add_domain_errors(self, exc)
        return cleaned


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerForm
    list_display = ("name", "external_ref", "vendor", "billing_email", "stripe_customer_id", "created_at")
    list_filter = ("vendor",)
    search_fields = ("name", "external_ref", "billing_email", "stripe_customer_id")
    list_select_related = ("vendor",)
    readonly_fields = (
        "id",
        "stripe_customer_id",
        "address",
        "tax_ids",
        "tax_exempt",
        "created_at",
        "updated_at",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Customer | None = None) -> tuple[str, ...]:
        # A customer never moves to another vendor: that would hand its data to a stranger.
        extra = ("vendor",) if obj is not None else ()
        return (*self.readonly_fields, *extra)

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in CUSTOMER_FIELDS}
        actor = admin_actor(request)
        if change:
            current = Customer.objects.select_related("vendor").get(pk=obj.pk)
            saved = customers.customer_update(customer=current, data=data, actor=actor)
        else:
            saved = customers.customer_create(vendor=obj.vendor, data=data, actor=actor)
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Customer) -> None:
        customers.customer_delete(customer=obj, actor=admin_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        for customer in queryset.select_related("vendor"):
            self.delete_model(request, customer)


# --- credentials ----------------------------------------------------------------------------


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created by the service (the plaintext is shown once); only the name may change."""

    list_display = ("name", "display", "vendor", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter), "vendor")
    search_fields = ("name", "prefix", "vendor__name")
    list_select_related = ("vendor",)
    fields = (
        "name",
        "display",
        "vendor",
        "scope",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = tuple(name for name in fields if name != "name")
    actions = ("revoke",)

    @admin.display(description="Key")
    def display(self, obj: ApiKey) -> str:
        return f"vrt_{obj.prefix}_…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead: the audit log keeps naming the key by its prefix

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset.select_related("vendor"):
            credentials.api_key_revoke(api_key=api_key, actor=admin_actor(request))
        self.message_user(request, f"Revoked {queryset.count()} API key(s).", messages.SUCCESS)


class WebhookSecretInline(admin.TabularInline):
    model = WebhookSecret
    extra = 0
    fields = ("__str__", "hint", "created_at", "expires_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookSource)
class WebhookSourceAdmin(admin.ModelAdmin):
    """Sources are created by the service (the signing secret is shown once); only the name may change."""

    list_display = ("name", "kind", "customer", "vendor", "created_at", "revoked_at")
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter), "vendor")
    search_fields = ("name", "id", "customer__name", "customer__external_ref", "vendor__name")
    list_select_related = ("customer", "vendor")
    fields = ("id", "name", "kind", "vendor", "customer", "endpoint", "created_at", "revoked_at")
    readonly_fields = tuple(name for name in fields if name != "name")
    inlines = (WebhookSecretInline,)
    actions = ("revoke",)

    @admin.display(description="Endpoint")
    def endpoint(self, obj: WebhookSource) -> str:
        return f"/webhooks/v1/sources/{obj.pk}/events"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookSource | None = None) -> bool:
        return False  # revoke instead: received events keep pointing at their source

    @admin.action(description="Revoke selected webhook sources", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[WebhookSource]) -> None:
        for source in queryset.select_related("vendor"):
            credentials.webhook_source_revoke(source=source, actor=admin_actor(request))
        self.message_user(request, f"Revoked {queryset.count()} webhook source(s).", messages.SUCCESS)


@admin.register(WebhookSecret)
class WebhookSecretAdmin(admin.ModelAdmin):
    """View only; the encrypted secret is never displayed. Rotation goes through the API."""

    list_display = ("__str__", "source", "created_at", "expires_at")
    list_filter = (("expires_at", admin.EmptyFieldListFilter),)
    search_fields = ("source__name", "source__id", "hint")
    list_select_related = ("source",)
    fields = ("source", "hint", "created_at", "expires_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookSecret | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookSecret | None = None) -> bool:
        return False


# --- contracts ------------------------------------------------------------------------------


class ContractVersionInline(admin.TabularInline):
    model = ContractVersion
    extra = 0
    fields = ("number", "effective_from", "locked_at", "platform_fee_minor", "minimum_commitment_minor")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # amendments go through the API, which validates the terms

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ContractForm(forms.ModelForm):
    """A draft's header, checked by the API's own validator (ContractHeader)."""

    class Meta:
        model = Contract
        fields = ("customer", *HEADER_COLUMNS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "customer" in self.fields:  # only the contract's own vendor's customers may be chosen
            customer_field = self.fields["customer"]
            assert isinstance(customer_field, forms.ModelChoiceField)
            customer_field.queryset = Customer.objects.filter(vendor_id=self.instance.vendor_id)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        customer = cleaned.get("customer")
        header = {name: cleaned.get(name) for name in HEADER_COLUMNS}
        if customer is not None and not self.errors:
            try:
                parse(ContractHeader, {**header, "customer_id": str(customer.pk)})
            except ValidationFailed as exc:
                add_domain_errors(self, exc)
        return cleaned


def _transition_action(
    name: str, service: Callable[..., Contract], description: str
) -> Callable[[admin.ModelAdmin[Contract], HttpRequest, QuerySet[Contract]], None]:
    """An admin action applying one lifecycle transition through its service, contract by contract."""

    def action(
        model_admin: admin.ModelAdmin[Contract], request: HttpRequest, queryset: QuerySet[Contract]
    ) -> None:
        done = 0
        for contract in queryset.select_related("vendor"):
            try:
                service(contract=contract, actor=admin_actor(request))
                done += 1
            except DomainError as exc:
                model_admin.message_user(request, f"{contract}: {exc.message}", messages.ERROR)
        if done:
            model_admin.message_user(request, f"{description}: {done} contract(s).", messages.SUCCESS)

    action.__name__ = name
    return admin.action(description=description, permissions=["change"])(action)


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    """A draft's header may be edited (through the service); the status moves only by the actions."""

    form = ContractForm
    list_display = (
        "reference",
        "vendor",
        "customer",
        "status",
        "currency",
        "timezone",
        "starts_at",
        "ends_at",
    )
    list_filter = ("status", "currency", "collection_method", "vendor")
    search_fields = ("reference", "customer__name", "customer__external_ref", "vendor__name")
    list_select_related = ("vendor", "customer")
    date_hierarchy = "starts_at"
    status_fields = ("id", "vendor", "status", "activated_at", "terminated_at", "created_at", "updated_at")
    all_fields = (*status_fields, "customer", *HEADER_COLUMNS)
    fields = all_fields
    inlines = (ContractVersionInline,)
    actions = (
        _transition_action("activate", contract_services.contract_activate, "Activate (draft → active)"),
        _transition_action("suspend", contract_services.contract_suspend, "Suspend (active → suspended)"),
        _transition_action("resume", contract_services.contract_resume, "Resume (suspended → active)"),
        _transition_action(
            "terminate", contract_services.contract_terminate, "Terminate (active or suspended, now)"
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Contract | None = None) -> tuple[str, ...]:
        if obj is not None and obj.status == ContractStatus.DRAFT:
            return self.status_fields
        return self.all_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a contract is created with its first version's terms, through the API

    def has_delete_permission(self, request: HttpRequest, obj: Contract | None = None) -> bool:
        return False  # terminate instead

    def save_model(self, request: HttpRequest, obj: Contract, form: Any, change: bool) -> None:
        data: dict[str, Any] = {}
        for name in form.changed_data:
            value = form.cleaned_data[name]
            if name == "customer":
                data["customer_id"] = str(value.pk)
            else:
                data[name] = value
        if not data:
            return
        current = Contract.objects.select_related("vendor").get(pk=obj.pk)
        try:
            contract_services.contract_update_draft(contract=current, data=data, actor=admin_actor(request))
        except DomainError as exc:  # the contract left draft since the form was shown
            raise PermissionDenied(exc.message) from exc


class OutcomeTypeInlineForm(forms.ModelForm):
    verification_policy = forms.JSONField(
        required=False, help_text="Rule parameters; omitted rules and parameters take their defaults."
    )

    class Meta:
        model = OutcomeType
        fields = (
            "key",
            "description",
            "natural_key_field",
            "billing_basis",
            "pricing",
            "free_units",
            "cap_units",
            "cap_amount_minor",
            "verification_policy",
        )


class OutcomeTypeFormSet(forms.BaseInlineFormSet):
    """Validates the whole version (its own fields and every row) with VersionTerms, as the API does.

    The parsed terms are kept on the formset; ContractVersionAdmin hands them to the service.
    """

    version_terms: VersionTerms | None = None

    def _rows(self) -> list[forms.ModelForm[OutcomeType]]:
        return [form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rows = self._rows()
        version = self.instance
        data = {
            "platform_fee_minor": version.platform_fee_minor,
            "minimum_commitment_minor": version.minimum_commitment_minor,
            "cap_amount_minor": version.cap_amount_minor,
            "budget_alert_percents": version.budget_alert_percents,
            "notes": version.notes,
            "outcome_types": [
                {
                    name: form.cleaned_data[name]
                    for name in OutcomeTypeTerms.model_fields
                    if form.cleaned_data.get(name) is not None
                }
                for form in rows
            ],
        }
        try:
            self.version_terms = parse(VersionTerms, data)
        except ValidationFailed as exc:
            self.version_terms = None
            problems = self._place_errors(exc, rows)
        else:
            return
        raise forms.ValidationError(problems or "Some outcome types are invalid; see below.")

    @staticmethod
    def _place_errors(exc: ValidationFailed, rows: list[Any]) -> list[str]:
        """Row errors go on their row's field; the version's own errors are returned for the formset."""
        version_level: list[str] = []
        for path, items in exc.field_errors.items():
            match = OUTCOME_TYPE_ERROR.match(path)
            for item in items:
                if match is not None and int(match["index"]) < len(rows):
                    add_domain_error(rows[int(match["index"])], match["path"], item["message"])
                else:
                    version_level.append(f"{path}: {item['message']}")
        return version_level


class OutcomeTypeInline(admin.StackedInline):
    model = OutcomeType
    form = OutcomeTypeInlineForm
    formset = OutcomeTypeFormSet
    extra = 0
    fields = ("pricing_model", *OutcomeTypeInlineForm.Meta.fields)
    readonly_fields = ("pricing_model",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and not obj.is_locked and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and not obj.is_locked and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and not obj.is_locked and super().has_delete_permission(request, obj)


@admin.register(ContractVersion)
class ContractVersionAdmin(admin.ModelAdmin):
    """A draft's unlocked version may be edited; the whole version is replaced through the service.

    A locked version (the contract was activated, or it is an amendment) is view only.
    """

    list_display = ("__str__", "contract", "number", "effective_from", "locked_at", "outcome_type_count")
    list_filter = (("locked_at", admin.EmptyFieldListFilter), "contract__vendor")
    search_fields = ("contract__reference", "contract__customer__name")
    list_select_related = ("contract",)
    fields = (
        "contract",
        "number",
        "effective_from",
        "locked_at",
        "created_at",
        "platform_fee_minor",
        "minimum_commitment_minor",
        "cap_amount_minor",
        "budget_alert_percents",
        "notes",
    )
    readonly_fields = ("contract", "number", "effective_from", "locked_at", "created_at")
    inlines = (OutcomeTypeInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContractVersion]:
        return super().get_queryset(request).annotate(outcome_type_total=Count("outcome_types"))

    @admin.display(description="Outcome types", ordering="outcome_type_total")
    def outcome_type_count(self, obj: ContractVersion) -> int:
        return int(getattr(obj, "outcome_type_total", 0))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a new version is an amendment, made through the API

    def has_change_permission(self, request: HttpRequest, obj: ContractVersion | None = None) -> bool:
        if obj is not None and obj.is_locked:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ContractVersion | None = None) -> bool:
        return False  # versions are the contract's history

    def save_model(self, request: HttpRequest, obj: ContractVersion, form: Any, change: bool) -> None:
        """Nothing here: save_related replaces the version and its outcome types in one service call."""

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> list[dict[str, Any]]:
        # The outcome-type rows are rewritten by the service, not saved by their formset; the
        # version's audit entry records the replacement.
        return super().construct_change_message(request, form, [], add)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        terms = next(
            (formset.version_terms for formset in formsets if isinstance(formset, OutcomeTypeFormSet)),
            None,
        )
        if terms is None:
            raise PermissionDenied("The outcome types could not be validated.")
        contract = Contract.objects.select_related("vendor").get(pk=form.instance.contract_id)
        try:
            contract_services.contract_version_replace(
                contract=contract,
                number=form.instance.number,
                data=terms.model_dump(mode="json"),
                actor=admin_actor(request),
            )
        except DomainError as exc:  # the version was locked since the form was shown
            raise PermissionDenied(exc.message) from exc


@admin.register(OutcomeType)
class OutcomeTypeAdmin(admin.ModelAdmin):
    """View only: outcome types are edited with their version, where the whole version is validated."""

    list_display = ("key", "version", "billing_basis", "pricing_model", "free_units", "cap_units")
    list_filter = ("billing_basis", "pricing_model", ("version__locked_at", admin.EmptyFieldListFilter))
    search_fields = ("key", "version__contract__reference")
    list_select_related = ("version__contract",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OutcomeType | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OutcomeType | None = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Append-only: view, never add, change or delete."""

    list_display = ("at", "vendor", "actor", "action", "object_type", "object_id")
    list_filter = ("action", "object_type", "vendor")
    search_fields = ("actor", "action", "object_id")
    list_select_related = ("vendor",)
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False
