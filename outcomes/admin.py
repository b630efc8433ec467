"""Admin for flag decisions: the operator, Verity's neutral reviewer, decides a flag that neither party
may decide alone (a flag whose acceptance bills the customer, which the vendor never accepts alone, or
one raised against the customer that it never rejects alone); every decision is listed, none changed.

A decision is made only by outcomes.services.review (who may decide, the justification both parties
see, the evidence, the re-evaluation and the audit entry): this form checks with it, then records
through it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from contracts.admin.tenancy import admin_actor
from core.errors import DomainError
from outcomes.models import Party, ReviewDecision
from outcomes.services.review import review_check, review_decide


class OperatorDecisionForm(forms.ModelForm):
    """An operator's decision on an open flag: the outcome, the flag, the verdict, why, and the evidence."""

    class Meta:
        model = ReviewDecision
        fields = ("outcome", "flag_reason", "verdict", "justification", "evidence")
        help_texts = {
            "justification": "Why you decide so; the vendor and the customer both see it.",
            "evidence": "What the decision rests on (JSON), e.g. the vendor's transcript link.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["evidence"].required = False  # the service says when a decision needs it

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            review_check(
                outcome=data["outcome"],
                flag_reason=data["flag_reason"],
                verdict=data["verdict"],
                party=Party.OPERATOR,
                justification=data.get("justification") or "",
                evidence=data.get("evidence") or None,
            )
        except DomainError as exc:
            for path, errors in exc.field_errors.items():
                field = path if path in self.fields else None
                for error in errors:
                    self.add_error(field, error["message"])
            if not exc.field_errors:
                raise forms.ValidationError(exc.message, code=exc.code) from None
        return data


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(admin.ModelAdmin):
    """Every decision on a flag, view only; an operator adds one through the review service."""

    form = OperatorDecisionForm
    list_display = ("at", "outcome", "flag_reason", "verdict", "party", "actor")
    list_filter = ("party", "verdict", "flag_reason")
    search_fields = ("flag_reason", "actor", "outcome__natural_key")
    raw_id_fields = ("outcome",)
    date_hierarchy = "at"

    def get_readonly_fields(self, request: HttpRequest, obj: ReviewDecision | None = None) -> Any:
        if obj is None:
            return ()
        return ("outcome", "flag_reason", "verdict", "party", "actor", "justification", "evidence", "at")

    def has_change_permission(self, request: HttpRequest, obj: ReviewDecision | None = None) -> bool:
        return obj is None  # a decision stands; viewing it needs no change permission

    def has_delete_permission(self, request: HttpRequest, obj: ReviewDecision | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ReviewDecision, form: Any, change: bool) -> None:
        decision = review_decide(
            outcome=obj.outcome,
            flag_reason=obj.flag_reason,
            verdict=obj.verdict,
            party=Party.OPERATOR,
            actor=admin_actor(request),
            justification=obj.justification,
            evidence=obj.evidence or None,
        )
        obj.pk, obj.party, obj.actor, obj.at = decision.pk, decision.party, decision.actor, decision.at
