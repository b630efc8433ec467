"""The customer's actions on its outcomes, from the portal: decide a flag the customer may decide
(confirm or reject with a reason), dispute a billable or billed outcome within its window (a reason,
evidence text and up to five files), answer an audit sample, answer a contested disqualifier; the same
confirm/reject on every outcome a filter of the outcomes list shows (after a step saying how many), and
that list as CSV.

Every action goes through the service the customer API calls (outcomes.services.review), with the
same rules and the same messages, shown on the form; the audit trail is the services'. A viewer gets
403 (customer_portal_view); another customer's outcome or file, 404. A dispute's files are served back
as downloads only, to the customer's members here and to the vendor's members
(outcomes.views.dispute_attachment_page).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from contracts.models import Contract
from core.errors import DomainError, ValidationFailed
from core.portal import add_domain_errors
from customer_portal.portal import CustomerPortalRequest, customer_portal_actor, customer_portal_view
from customer_portal.views import CustomerOutcomeFilterForm
from outcomes import selectors
from outcomes.models import (
    AuditSample,
    DisputeAttachment,
    DisqualifierContest,
    Outcome,
    OutcomeState,
    OutcomeTransition,
    Party,
    ReviewDecision,
)
from outcomes.rules import FLAGS
from outcomes.services.dispute_evidence import ACCEPTED, MAX_BYTES, MAX_FILES, evidence_check, evidence_store
from outcomes.services.review import (
    decision_refusal,
    dispute_closes_at,
    dispute_open,
    disqualifier_contest_answer,
    open_flags,
    review_decide,
    sample_attest,
)
from outcomes.views import attachment_file, attachment_response
from settlement.money import format_minor

ACCEPT, REJECT = ReviewDecision.Verdict.ACCEPT, ReviewDecision.Verdict.REJECT
BULK_LIMIT = 500  # outcomes one bulk action decides at most; narrow the filter for more
DISPUTABLE = (OutcomeState.BILLABLE, OutcomeState.BILLED)


# --- forms ---------------------------------------------------------------------------------------


class FlagDecisionForm(forms.Form):
    flag_reason = forms.CharField(widget=forms.HiddenInput, max_length=64)
    verdict = forms.ChoiceField(choices=[(ACCEPT, "Confirm"), (REJECT, "Reject")], widget=forms.HiddenInput)
    reason = forms.CharField(
        label="Reason", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("verdict") == REJECT and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why you reject it.")
        return data


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern): a list of them, maybe empty."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class DisputeForm(forms.Form):
    reason = forms.CharField(
        label="Why you dispute it", max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    evidence = forms.CharField(
        label="Evidence", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    attachments = MultipleFileField(
        label=f"Files (up to {MAX_FILES}, {MAX_BYTES // (1024 * 1024)} MB each: {ACCEPTED})",
        required=False,
        widget=MultipleFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,.txt,.csv"}),
    )

    def dispute_reason(self) -> str:
        reason, evidence = self.cleaned_data["reason"], self.cleaned_data["evidence"].strip()
        return f"{reason}\n\nEvidence: {evidence}" if evidence else reason


class AttestForm(forms.Form):
    answer = forms.ChoiceField(
        label="Did it happen?",
        choices=[("attest", "Yes: it happened (attest)"), ("deny", "No: it did not (deny)")],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label="Evidence", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ContestAnswerForm(forms.Form):
    answer = forms.ChoiceField(
        label="Your disqualifier",
        choices=[("withdraw", "Withdraw it (the outcome is billed)"), ("uphold", "Uphold it, with evidence")],
        widget=forms.RadioSelect,
    )
    response = forms.CharField(
        label="Your answer to the vendor", max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    evidence = forms.CharField(
        label="Evidence", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )


class BulkForm(forms.Form):
    verdict = forms.ChoiceField(choices=[(ACCEPT, "Confirm"), (REJECT, "Reject")])
    reason = forms.CharField(label="Reason (for every one)", required=False, max_length=5000)
    newest_outcome_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("verdict") == REJECT and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why you reject them.")
        return data


# --- what applies to an outcome -----------------------------------------------------------------


def decidable_flags(outcome: Outcome, verdict: str | None = None) -> list[dict[str, Any]]:
    """The outcome's open flags the customer may decide alone: each with whether it may confirm or reject."""
    if outcome.state != OutcomeState.FLAGGED:
        return []
    cards = []
    for reason in open_flags(outcome):
        may: dict[str, bool] = {
            v: decision_refusal(flag_reason=reason, verdict=v, party=Party.CUSTOMER) is None
            for v in (ACCEPT, REJECT)
        }
        if (verdict is None and any(may.values())) or (verdict is not None and may[verdict]):
            flag = FLAGS.get(reason)
            cards.append(
                {
                    "reason": reason,
                    "suspicion": flag.suspicion if flag else reason,
                    "may_accept": may[ACCEPT],
                    "may_reject": may[REJECT],
                }
            )
    return cards


def dispute_window(outcome: Outcome) -> dt.datetime | bool | None:
    """When the outcome's dispute window closes (None: it has no end yet), or False when it cannot be
    disputed now (not billable or billed, already disputed, window closed)."""
    if outcome.state not in DISPUTABLE or outcome.version is None or hasattr(outcome, "dispute"):
        return False
    closes = dispute_closes_at(outcome)
    if closes is not None and timezone.now() > closes:
        return False
    return closes


def outcome_actions_context(request: CustomerPortalRequest, outcome: Outcome) -> dict[str, Any]:
    """What the trail page shows of the customer's actions (templates/customer_portal/outcomes/_actions.html)."""
    now = timezone.now()
    dispute = getattr(outcome, "dispute", None)
    sample = AuditSample.objects.filter(outcome=outcome, answer="", deadline__gt=now).first()
    contest = DisqualifierContest.objects.filter(
        outcome=outcome, status=DisqualifierContest.Status.OPEN, deadline__gt=now
    ).first()
    window = dispute_window(outcome)
    return {
        "can_act": request.customer_membership.can_write,
        "flags": decidable_flags(outcome),
        "disputable": window is not False,
        "dispute_closes": window or None,
        "dispute_form": DisputeForm(),
        "dispute_attachments": list(dispute.attachments.order_by("pk")) if dispute else [],
        "sample": sample,
        "attest_form": AttestForm(),
        "contest": contest,
        "contest_form": ContestAnswerForm(),
    }


# --- one outcome's actions ------------------------------------------------------------------------


def _outcome(request: CustomerPortalRequest, outcome_id: str) -> Outcome:
    return selectors.outcome_get_for_customer(customer=request.customer, outcome_id=outcome_id)


def _refused(
    request: CustomerPortalRequest, outcome: Outcome, form: forms.Form, exc: DomainError
) -> HttpResponse:
    """The form again with the service's refusal on it (nothing changed)."""
    if isinstance(exc, ValidationFailed):
        add_domain_errors(form, exc)
    else:
        form.add_error(None, exc.message)
    return _form_page(request, outcome, form, status=exc.status)


def _form_page(
    request: CustomerPortalRequest, outcome: Outcome, form: forms.Form, *, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "customer_portal/outcomes/action.html",
        {"section": "outcomes", "outcome": outcome, "form": form, "multipart": isinstance(form, DisputeForm)},
        status=status,
    )


def _done(request: CustomerPortalRequest, outcome: Outcome, what: str) -> HttpResponse:
    outcome.refresh_from_db()
    messages.success(
        request, f"Outcome #{outcome.pk}: {what}; it is now {outcome.get_state_display().lower()}."
    )
    return redirect("customer:outcome-detail", outcome_id=outcome.pk)


@require_POST
@customer_portal_view(write=True)
def outcome_decide_page(request: CustomerPortalRequest, outcome_id: str) -> HttpResponse:
    outcome = _outcome(request, outcome_id)
    form = FlagDecisionForm(request.POST)
    if not form.is_valid():
        return _form_page(request, outcome, form)
    verdict = form.cleaned_data["verdict"]
    try:
        review_decide(
            outcome=outcome,
            flag_reason=form.cleaned_data["flag_reason"],
            verdict=verdict,
            party=Party.CUSTOMER,
            actor=customer_portal_actor(request),
            justification=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        return _refused(request, outcome, form, exc)
    return _done(request, outcome, "confirmed" if verdict == ACCEPT else "rejected")


@require_POST
@customer_portal_view(write=True)
def outcome_dispute_page(request: CustomerPortalRequest, outcome_id: str) -> HttpResponse:
    outcome = _outcome(request, outcome_id)
    form = DisputeForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_page(request, outcome, form)
    actor = customer_portal_actor(request)
    try:
        files = evidence_check(form.cleaned_data["attachments"])
        dispute = dispute_open(outcome=outcome, reason=form.dispute_reason(), actor=actor)
    except DomainError as exc:
        return _refused(request, outcome, form, exc)
    evidence_store(dispute=dispute, files=files, actor=actor)
    return _done(
        request, outcome, "disputed; the vendor answers before " + f"{dispute.deadline:%Y-%m-%d %H:%M} UTC"
    )


@require_POST
@customer_portal_view(write=True)
def outcome_attest_page(request: CustomerPortalRequest, outcome_id: str) -> HttpResponse:
    outcome = _outcome(request, outcome_id)
    form = AttestForm(request.POST)
    if not form.is_valid():
        return _form_page(request, outcome, form)
    attested = form.cleaned_data["answer"] == "attest"
    try:
        sample = selectors.audit_sample_get(outcome=outcome)
        sample_attest(
            sample=sample,
            attested=attested,
            actor=customer_portal_actor(request),
            note=form.cleaned_data["note"],
        )
    except DomainError as exc:
        return _refused(request, outcome, form, exc)
    return _done(request, outcome, "attested" if attested else "denied")


@require_POST
@customer_portal_view(write=True)
def outcome_contest_page(request: CustomerPortalRequest, outcome_id: str) -> HttpResponse:
    outcome = _outcome(request, outcome_id)
    form = ContestAnswerForm(request.POST)
    if not form.is_valid():
        return _form_page(request, outcome, form)
    uphold = form.cleaned_data["answer"] == "uphold"
    evidence = form.cleaned_data["evidence"].strip()
    try:
        disqualifier_contest_answer(
            outcome=outcome,
            uphold=uphold,
            response=form.cleaned_data["response"],
            evidence={"note": evidence} if evidence else None,
            actor=customer_portal_actor(request),
        )
    except DomainError as exc:
        return _refused(request, outcome, form, exc)
    return _done(
        request, outcome, "your disqualifier is upheld" if uphold else "your disqualifier is withdrawn"
    )


# --- a dispute's files --------------------------------------------------------------------------


@customer_portal_view
def attachment_download_page(
    request: CustomerPortalRequest, outcome_id: str, attachment_id: str
) -> HttpResponse:
    outcome = _outcome(request, outcome_id)
    return attachment_response(
        attachment_file(DisputeAttachment.objects.filter(dispute__outcome=outcome), attachment_id)
    )


# --- the filtered list: bulk decisions and CSV --------------------------------------------------


def _filtered(
    request: CustomerPortalRequest, data: Any
) -> tuple[CustomerOutcomeFilterForm, QuerySet[Outcome]]:
    contracts = list(Contract.objects.filter(customer=request.customer).order_by("reference"))
    form = CustomerOutcomeFilterForm(data, contracts=contracts)
    return form, selectors.outcome_list_for_customer(customer=request.customer, **form.selector_filters())


def bulk_candidates(
    outcomes: QuerySet[Outcome], verdict: str, newest: int | None
) -> list[tuple[Outcome, list[str]]]:
    """The flagged outcomes of the filter (up to `newest`, as the person saw them) with the flags the
    customer may give this verdict on."""
    flagged = (
        outcomes.filter(state=OutcomeState.FLAGGED).prefetch_related("verdicts", "evaluations").order_by("pk")
    )
    if newest is not None:
        flagged = flagged.filter(pk__lte=newest)
    found = []
    for outcome in flagged[:BULK_LIMIT]:
        reasons = [card["reason"] for card in decidable_flags(outcome, verdict)]
        if reasons:
            found.append((outcome, reasons))
    return found


@customer_portal_view(write=True)
@require_http_methods(["GET", "POST"])
def outcome_bulk_page(request: CustomerPortalRequest) -> HttpResponse:
    """GET: how many of the shown outcomes the verdict changes (the confirmation step); POST: decide them,
    one decision (and audit entry) per flag, each through review_decide; one decided meanwhile is skipped."""
    data = request.POST if request.method == "POST" else request.GET
    filters, outcomes = _filtered(request, data)
    form = BulkForm(data)
    if not (form.is_valid() and filters.is_valid()):
        # An unknown contract or state is refused, never read as "no filter" (every outcome).
        return render(
            request,
            "customer_portal/outcomes/bulk.html",
            {"section": "outcomes", "form": form, "filters": filters, "count": None},
            status=200,
        )
    verdict = form.cleaned_data["verdict"]
    newest = form.cleaned_data["newest_outcome_id"]
    if request.method == "GET":
        newest = outcomes.order_by("-pk").values_list("pk", flat=True).first()
    candidates = bulk_candidates(outcomes, verdict, newest)
    if request.method == "GET":
        return render(
            request,
            "customer_portal/outcomes/bulk.html",
            {
                "section": "outcomes",
                "form": form,
                "filters": filters,
                "count": len(candidates),
                "newest": newest,
                "verdict_label": "confirm" if verdict == ACCEPT else "reject",
                "limit": BULK_LIMIT,
            },
        )
    decided, skipped = 0, 0
    for outcome, reasons in candidates:
        for reason in reasons:
            try:
                review_decide(
                    outcome=outcome,
                    flag_reason=reason,
                    verdict=verdict,
                    party=Party.CUSTOMER,
                    actor=customer_portal_actor(request),
                    justification=form.cleaned_data["reason"],
                )
                decided += 1
            except DomainError:
                skipped += 1
    left = f" {skipped} decided meanwhile or no longer open: left as they are." if skipped else ""
    what = "confirmed" if verdict == ACCEPT else "rejected"
    messages.success(request, f"{decided} flagged outcome(s) {what}, each recorded on its outcome.{left}")
    query = urlencode({key: value for key, value in filters.cleaned_data.items() if value})
    return redirect(reverse("customer:outcome-list") + (f"?{query}" if query else ""))


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_HEADER = ["id", "contract", "outcome_type", "natural_key", "occurred_at", "state", "reason", "amount"]


def _csv_rows(outcomes: QuerySet[Outcome]) -> Iterator[list[str]]:
    yield CSV_HEADER
    for outcome in outcomes.iterator(chunk_size=500):
        amount = (
            ""
            if outcome.value_minor is None
            else format_minor(outcome.value_minor, outcome.contract.currency)
        )
        yield [
            str(outcome.pk),
            outcome.contract.reference,
            outcome.outcome_type_key,
            outcome.natural_key,
            outcome.occurred_at.isoformat(),
            outcome.state,
            getattr(outcome, "last_reason", None) or "",
            amount,
        ]


@customer_portal_view
def outcome_export_page(request: CustomerPortalRequest) -> HttpResponse:
    """The filtered outcomes list as CSV, streamed (every row, not one page): the latest transition's
    reason, and the amount the event reported when it reported one."""
    _, outcomes = _filtered(request, request.GET)
    latest_reason = (
        OutcomeTransition.objects.filter(outcome=OuterRef("pk")).order_by("-at", "-pk").values("reason")[:1]
    )
    rows = (
        outcomes.select_related("contract")
        .annotate(last_reason=Subquery(latest_reason))
        .order_by("-occurred_at", "-pk")
    )
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(_safe(row)) for row in _csv_rows(rows)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="outcomes-{timezone.now():%Y%m%d}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return cast(
        HttpResponse, response
    )  # the portal decorators type pages as HttpResponse: a stream is one too


def _safe(row: list[str]) -> list[str]:
    """No cell a spreadsheet would run as a formula (a natural key is the vendor's text)."""
    return ["'" + cell if cell[:1] in ("=", "+", "-", "@") and not _number(cell) else cell for cell in row]


def _number(cell: str) -> bool:
    try:
        float(cell.split(" ")[0])
    except ValueError:
        return False
    return True
