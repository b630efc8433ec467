"""Portal forms of the settlement app: the invoice list's filters, abandoning a settlement."""

from __future__ import annotations

from typing import Any

from django import forms

from contracts.models import Contract, Customer, Vendor
from settlement.models import InvoiceStatus
from settlement.selectors.invoices import CollectionProblem


class ContractChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]  # not subscriptable at run time
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.reference} · {obj.customer.name}"


class InvoiceFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *InvoiceStatus.choices], required=False)
    collection = forms.ChoiceField(
        choices=[("", "Any"), *CollectionProblem.choices], required=False, label="To collect"
    )
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.none(), required=False, empty_label="Any customer"
    )
    contract = ContractChoiceField(
        queryset=Contract.objects.none(), required=False, empty_label="Any contract"
    )
    period = forms.DateField(
        required=False,
        label="Period (month)",
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
        help_text="Periods that mostly lie in this month.",
    )

    def __init__(self, *args: Any, vendor: Vendor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["customer"].queryset = Customer.objects.filter(vendor=vendor).order_by("name")
        fields["contract"].queryset = (
            Contract.objects.filter(vendor=vendor).select_related("customer").order_by("reference")
        )


class SettlementAbandonForm(forms.Form):
    """Why an operator stops settling an invoice through Verity (it goes to the audit log)."""

    reason = forms.CharField(max_length=500, strip=True, label="Reason")


class ShareLinkForm(forms.Form):
    """A share link for an auditor: who it is for and how long it lives (settlement.services.share_links)."""

    label = forms.CharField(
        max_length=200, required=False, strip=True, label="For", help_text="e.g. the auditor's name"
    )
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=90, initial=14, label="Expires in (days)", help_text="From 1 to 90 days."
    )
