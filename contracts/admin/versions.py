"""Admin for contract versions and their outcome types: an unlocked draft version is validated whole with
the API's VersionTerms and replaced through the service; a locked one is view only."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from contracts.admin.tenancy import admin_actor
from contracts.forms.contract import version_terms
from contracts.models import Contract, ContractVersion, OutcomeType
from contracts.services import contracts as contract_services
from contracts.terms import OutcomeTypeTerms, VersionTerms, parse
from core.errors import DomainError, ValidationFailed
from core.portal import add_domain_error

OUTCOME_TYPE_ERROR = re.compile(r"^outcome_types\[(?P<index>\d+)\]\.?(?P<path>.*)$")


class OutcomeTypeInlineForm(forms.ModelForm):
    verification_policy = forms.JSONField(
        required=False, help_text="Rule parameters; omitted rules and parameters take their defaults."
    )

    class Meta:
        model = OutcomeType
        fields = tuple(OutcomeTypeTerms.model_fields)  # every term of an outcome type, as the API takes them


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
        data = {
            **version_terms(self.instance),
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
                terms=terms,
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
