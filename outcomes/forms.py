"""Portal forms of the outcomes app: the explorer's filters, a decision on a flag (or on a group of
flags), a dispute's answer.

Forms only shape input; the rules (who may decide, what a decision needs) stay in outcomes.services,
whose errors the views put back on these forms' fields.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from contracts.models import Contract, OutcomeType, Vendor, WebhookSource
from outcomes.models import OutcomeState, ReviewDecision


class OutcomeFilterForm(forms.Form):
    """The explorer's filters (GET). Dates are whole days in UTC, both ends inclusive."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        help_text="An outcome id, a natural key or an event id (exact).",
    )
    state = forms.ChoiceField(label="State", required=False)
    contract = forms.ChoiceField(label="Contract", required=False)
    outcome_type = forms.ChoiceField(label="Outcome type", required=False)
    source = forms.ChoiceField(label="Source", required=False)
    occurred_from = forms.DateField(
        label="Occurred from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    occurred_to = forms.DateField(
        label="Occurred to", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data: Any, *, vendor: Vendor) -> None:
        super().__init__(data)
        self.choices_of("state", [(value, label) for value, label in OutcomeState.choices], empty="Any state")
        contracts = Contract.objects.filter(vendor=vendor).order_by("reference")
        self.choices_of("contract", [(str(c.pk), c.reference) for c in contracts], empty="Any contract")
        type_keys = (
            OutcomeType.objects.filter(version__contract__vendor=vendor)
            .order_by("key")
            .values_list("key", flat=True)
            .distinct()
        )
        self.choices_of("outcome_type", [(key, key) for key in type_keys], empty="Any type")
        sources = WebhookSource.objects.filter(vendor=vendor).select_related("customer").order_by("name")
        self.choices_of(
            "source",
            [(str(s.pk), f"{s.customer.name} · {s.name}") for s in sources],
            empty="Any source",
        )

    def choices_of(self, name: str, choices: list[tuple[str, str]], *, empty: str) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", empty), *choices]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("occurred_from"), cleaned.get("occurred_to")
        if start and end and end < start:
            self.add_error("occurred_to", "The end date is before the start date.")
        return cleaned

    def selector_filters(self) -> dict[str, Any]:
        """The valid filters as `outcomes.selectors.outcome_list` takes them (an invalid one is left out)."""
        self.is_valid()  # an invalid field is dropped from cleaned_data, the others still filter
        cleaned = self.cleaned_data
        start: dt.date | None = cleaned.get("occurred_from")
        end: dt.date | None = cleaned.get("occurred_to")
        return {
            "search": cleaned.get("q") or None,
            "state": cleaned.get("state") or None,
            "contract_id": cleaned.get("contract") or None,
            "outcome_type": cleaned.get("outcome_type") or None,
            "source_id": cleaned.get("source") or None,
            "occurred_from": _midnight(start) if start else None,
            "occurred_to": _midnight(end + dt.timedelta(days=1)) if end else None,
        }

    @property
    def is_filtered(self) -> bool:
        return any(value for value in self.selector_filters().values())


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


class EvidenceFields(forms.Form):
    """Evidence as a person gives it in a form: a statement and, optionally, a link to a record."""

    evidence_note = forms.CharField(
        label="Evidence",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What shows it happened (or not): a record, a ticket, a log line.",
    )
    evidence_url = forms.URLField(
        label="Link to the evidence", required=False, max_length=2000, assume_scheme="https"
    )

    def evidence(self) -> dict[str, str]:
        """The evidence as the services store it (the API takes the same object)."""
        pairs = (
            ("note", self.cleaned_data.get("evidence_note")),
            ("url", self.cleaned_data.get("evidence_url")),
        )
        return {key: value.strip() for key, value in pairs if value and value.strip()}


class ReviewDecisionForm(EvidenceFields):
    flag_reason = forms.CharField(widget=forms.HiddenInput, max_length=64)
    verdict = forms.ChoiceField(choices=ReviewDecision.Verdict.choices)
    justification = forms.CharField(
        label="Reason",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why you decide so; the customer sees it.",
    )


class ReviewGroupDecisionForm(ReviewDecisionForm):
    """One decision (and one reason) for every open flag of a review queue group; the group is the URL."""

    flag_reason = None  # type: ignore[assignment]  # the group's, from its URL
    newest_outcome_id = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)
    shown = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)


class DisputeResponseForm(EvidenceFields):
    accept = forms.TypedChoiceField(
        label="Answer",
        choices=[
            ("false", "Reject the dispute: the outcome happened (bill it, with evidence)"),
            ("true", "Accept the dispute: the customer is right (not billed, or credited)"),
        ],
        coerce=lambda value: value == "true",
        widget=forms.RadioSelect,
    )
    response = forms.CharField(
        label="Response to the customer",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
