"""Admin for contracts: a draft's header edited through the service, lifecycle moves as actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest

from contracts.admin.tenancy import admin_actor
from contracts.models import Contract, ContractStatus, ContractVersion, Customer
from contracts.services import contracts as contract_services
from contracts.terms import ContractHeader, parse
from core.errors import DomainError, ValidationFailed
from core.portal import add_domain_errors

# The contract's own columns a draft may change, as the API's ContractHeader names them.
HEADER_COLUMNS = tuple(name for name in ContractHeader.model_fields if name != "customer_id")


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
            header = contract_services.contract_header_parse(data, current=current)
            contract_services.contract_update_draft(
                contract=current, header=header, fields=list(data), actor=admin_actor(request)
            )
        except DomainError as exc:  # the contract left draft since the form was shown
            raise PermissionDenied(exc.message) from exc
