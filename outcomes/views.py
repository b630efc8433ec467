"""Portal pages of the outcomes app: the explorer, an outcome's trail, the review queue, disputes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from contracts.portal import PortalRequest, portal_actor, portal_view
from core.errors import DomainError, ValidationFailed
from core.portal import add_domain_errors, keyset_page
from core.templatetags.portal import humanize_code
from outcomes import selectors
from outcomes.forms import DisputeResponseForm, OutcomeFilterForm, ReviewDecisionForm, ReviewGroupDecisionForm
from outcomes.models import Dispute, DisputeAttachment, Outcome, OutcomeVerdict, Party
from outcomes.rules import reason_text
from outcomes.rules.disputes import Disputes
from outcomes.services.review import (
    ACCEPT,
    REJECT,
    deciders,
    dispute_respond,
    evidence_to_clear,
    open_flags,
    review_decide,
    review_decide_group,
    vendor_party,
    who_may,
)
from outcomes.timeline import outcome_timeline, readable_facts
from outcomes.trail import outcome_trail

# Counting outcomes per state reads at most this many rows; a broader filter shows no counts.
STATE_COUNT_CAP = 10_000
PARTY_WORDS: dict[str, str] = {
    Party.CUSTOMER: "the customer (through their own key or portal)",
    Party.VENDOR: "the vendor, with its evidence",
    Party.VENDOR_ADMIN: "a vendor owner or admin, with a reason the customer can see",
    Party.OPERATOR: "a neutral operator (Verity's reviewer), with a reason both sides can see",
}


@portal_view
def outcome_list_page(request: PortalRequest) -> HttpResponse:
    form = OutcomeFilterForm(request.GET, vendor=request.vendor)
    outcomes = selectors.outcome_list(vendor=request.vendor, **form.selector_filters())
    page = keyset_page(request, outcomes.select_related("contract"))
    without_state = {**form.selector_filters(), "state": None}
    counts = selectors.outcome_state_counts(
        outcomes=selectors.outcome_list(vendor=request.vendor, **without_state), cap=STATE_COUNT_CAP
    )
    return render(
        request,
        "outcomes/outcome_list.html",
        {
            "section": "outcomes",
            "form": form,
            "page": page,
            "state_counts": counts,
            "state_count_cap": STATE_COUNT_CAP,
            "state_links": _state_links(request, counts or {}),
        },
    )


def _state_links(request: PortalRequest, counts: dict[str, int]) -> list[dict[str, Any]]:
    """Each state with its count and a link to the same filter narrowed to it (paging reset)."""
    links = []
    for state, count in counts.items():
        params = request.GET.copy()
        for name in ("before", "after"):
            params.pop(name, None)
        params["state"] = state
        links.append(
            {
                "state": state,
                "count": count,
                "query": params.urlencode(),
                "current": request.GET.get("state") == state,
            }
        )
    return links


@portal_view
def outcome_detail_page(request: PortalRequest, outcome_id: str) -> HttpResponse:
    trail = outcome_trail(vendor=request.vendor, outcome_id=outcome_id)
    outcome = trail.outcome
    invoice_links = list(selectors.outcome_invoice_lines(outcome=outcome))
    return render(
        request,
        "outcomes/outcome_detail.html",
        {
            "section": "outcomes",
            "outcome": outcome,
            "timeline": outcome_timeline(trail=trail, invoice_links=invoice_links, invoice_url=invoice_url),
            "flags": _flag_cards(request, outcome),
            "invoice_links": [(link, invoice_url(link.line.invoice_id)) for link in invoice_links],
            "dispute": getattr(outcome, "dispute", None),
        },
    )


def invoice_url(invoice_id: int) -> str:
    """The portal page of an invoice (settlement's pages are linked by URL, not imported)."""
    try:
        return reverse("settlement:invoice-detail", args=[invoice_id])
    except NoReverseMatch:
        return f"/invoices/{invoice_id}/"


def _flag_cards(
    request: PortalRequest, outcome: Outcome, bound: ReviewDecisionForm | None = None
) -> list[dict[str, Any]]:
    """Each open flag of an outcome: the facts that raised it, who may decide, and whether this member
    may (with the form when so, and the reason when not)."""
    cards = []
    for reason, verdict in open_flags(outcome).items():
        form = bound if bound is not None and bound.data.get("flag_reason") == reason else None
        cards.append(
            {
                "reason": reason,
                "verdict": verdict,
                "facts": readable_facts(verdict.facts),
                "explanation": reason_text(reason),
                **_who_decides(request, reason),
                "form": form or ReviewDecisionForm(initial={"flag_reason": reason}),
                "form_id": f"flag-{outcome.pk}-{reason}",
            }
        )
    return cards


def _who_decides(request: PortalRequest, reason: str) -> dict[str, Any]:
    """Who may decide a kind of flag each way, as whom this member would, and which way they may (else
    why not): no one decides alone what pays them, so the vendor may not accept a flag that bills."""
    party = vendor_party(reason)
    accepters, rejecters = who_may(reason, ACCEPT), who_may(reason, REJECT)
    may_accept, may_reject = party in accepters, party in rejecters
    if not request.membership.can_write:
        why_not = "You are a viewer: only the vendor's owners and admins decide flags."
    elif not (may_accept or may_reject):
        why_not = (
            f"Only {' or '.join(PARTY_WORDS[p] for p in sorted(deciders(reason)))} may decide this flag."
        )
    else:
        why_not = ""
    return {
        "deciders": [
            f"accepted by {' or '.join(PARTY_WORDS[p] for p in accepters)}",
            f"rejected by {' or '.join(PARTY_WORDS[p] for p in rejecters)}",
        ],
        "as_party": party,
        "needs_justification": party == Party.VENDOR_ADMIN,
        "needs_evidence": may_accept and evidence_to_clear(reason, party),
        "may_decide": not why_not,
        "may_accept": may_accept,
        "may_reject": may_reject,
        "accept_note": (
            ""
            if may_accept
            else "Accepting it is not the vendor's to decide alone: "
            f"{' or '.join(PARTY_WORDS[p] for p in accepters)} accepts it."
        ),
        "why_not": why_not,
    }


@dataclass(frozen=True)
class NumberedPage:
    """A page of the review queue's groups (?page=N), in the shape portal/_pagination.html reads."""

    has_next: bool
    has_previous: bool
    next_query: str
    previous_query: str


GROUPS_PER_PAGE = 20
MAX_PAGE = 10_000


@portal_view
def review_queue_page(request: PortalRequest) -> HttpResponse:
    """The open flags in groups (contract, kind of flag, local day), each decided at once or opened."""
    text = request.GET.get("page", "")
    # Any other text is the first page; plain ASCII digits only, so int() never sees "²" or 5,000 digits.
    number = min(max(int(text), 1), MAX_PAGE) if text.isascii() and text.isdigit() and len(text) < 8 else 1
    groups = selectors.flag_group_list(
        vendor=request.vendor, offset=(number - 1) * GROUPS_PER_PAGE, limit=GROUPS_PER_PAGE + 1
    )
    page = NumberedPage(
        has_next=len(groups) > GROUPS_PER_PAGE,
        has_previous=number > 1,
        next_query=_page_query(request, number + 1),
        previous_query=_page_query(request, number - 1),
    )
    cards = [_group_card(request, group) for group in groups[:GROUPS_PER_PAGE]]
    accuracy = selectors.verifier_accuracy(vendor=request.vendor)
    return render(
        request,
        "outcomes/review_queue.html",
        {"section": "review", "page": page, "groups": cards, "verifiers": accuracy},
    )


def _page_query(request: HttpRequest, number: int) -> str:
    params = request.GET.copy()
    params["page"] = str(number)
    return params.urlencode()


def _group_form_id(group: selectors.FlagGroup) -> str:
    return f"group-{group.contract.pk}-{group.flag_reason}-{group.day.isoformat()}"


def _group_card(
    request: PortalRequest, group: selectors.FlagGroup, bound: ReviewGroupDecisionForm | None = None
) -> dict[str, Any]:
    """A group of flags as the queue shows it: what, where, when, how many, why, and the one decision."""
    form_id = _group_form_id(group)
    form = bound or ReviewGroupDecisionForm(
        initial={"newest_outcome_id": group.newest_outcome_id or None, "shown": group.count},
        auto_id=f"{form_id}-%s",
    )
    return {
        "group": group,
        "reason": group.flag_reason,
        "explanation": reason_text(group.flag_reason),
        "facts": readable_facts(group.sample.facts) if group.sample else [],
        "url": reverse(
            "outcomes:review-group", args=[group.contract.pk, group.flag_reason, group.day.isoformat()]
        ),
        **_who_decides(request, group.flag_reason),
        "form": form,
        "form_id": form_id,
    }


@portal_view
@require_http_methods(["GET", "POST"])
def review_group_page(request: PortalRequest, contract_id: str, flag_reason: str, day: str) -> HttpResponse:
    """A group's outcomes, each with its own flag cards; a POST decides the whole group at once (from
    here or from the queue); on a field error, this page shows the group's form again."""
    group = selectors.flag_group_get(
        vendor=request.vendor, contract_id=contract_id, flag_reason=flag_reason, day=day
    )
    form = None
    if request.method == "POST":
        form = ReviewGroupDecisionForm(request.POST, auto_id=f"{_group_form_id(group)}-%s")
        if form.is_valid():
            try:
                decisions = review_decide_group(
                    vendor=request.vendor,
                    contract_id=group.contract.pk,
                    flag_reason=flag_reason,
                    day=group.day,
                    verdict=form.cleaned_data["verdict"],
                    party=vendor_party(flag_reason),
                    actor=portal_actor(request),
                    justification=form.cleaned_data["justification"],
                    evidence=form.evidence(),
                    newest_outcome_id=form.cleaned_data["newest_outcome_id"],
                )
            except ValidationFailed as exc:
                add_domain_errors(form, exc)
            except DomainError as exc:
                messages.error(request, exc.message)
                return redirect(_next_url(request, default=reverse("outcomes:review-queue")))
            else:
                _report_group_decision(request, group, form, decided=len(decisions))
                return redirect(_next_url(request, default=reverse("outcomes:review-queue")))
    page = keyset_page(request, selectors.flag_group_outcomes(group=group), per_page=25)
    items = [{"outcome": outcome, "flags": _flag_cards(request, outcome)} for outcome in page.items]
    return render(
        request,
        "outcomes/review_group.html",
        {"section": "review", "card": _group_card(request, group, bound=form), "page": page, "items": items},
    )


def _report_group_decision(
    request: HttpRequest, group: selectors.FlagGroup, form: ReviewGroupDecisionForm, *, decided: int
) -> None:
    day = f"{group.day.day} {group.day:%B %Y}"
    what = f"{humanize_code(group.flag_reason).lower()} flags of {group.contract.reference} on {day}"
    verdict = "accepted (billed)" if form.cleaned_data["verdict"] == "accept" else "rejected (not billed)"
    shown = form.cleaned_data["shown"]
    if not decided:
        messages.warning(request, f"Nothing decided: none of the {what} was still open.")
        return
    left = ""
    if shown and shown > decided:
        left = f" {shown - decided} of the {shown} shown were decided meanwhile or no longer open: left as they are."
    messages.success(request, f"{decided} {what} {verdict}, each recorded on its outcome.{left}")


@portal_view(write=True)
@require_http_methods(["GET", "POST"])
def outcome_review_page(request: PortalRequest, outcome_id: str) -> HttpResponse:
    """Decide a flag (POST from the queue or the trail); on a field error, this page shows the form again."""
    outcome = selectors.outcome_get(vendor=request.vendor, outcome_id=outcome_id)
    form = ReviewDecisionForm(request.POST) if request.method == "POST" else None
    if form is not None and form.is_valid():
        reason = form.cleaned_data["flag_reason"]
        try:
            decision = review_decide(
                outcome=outcome,
                flag_reason=reason,
                verdict=form.cleaned_data["verdict"],
                party=vendor_party(reason),
                actor=portal_actor(request),
                justification=form.cleaned_data["justification"],
                evidence=form.evidence(),
            )
        except ValidationFailed as exc:
            add_domain_errors(form, exc)
        except DomainError as exc:
            messages.error(request, f"Outcome #{outcome.pk}: {exc.message}")
            return redirect(_next_url(request, default=reverse("outcomes:review-queue")))
        else:
            outcome.refresh_from_db()
            messages.success(
                request,
                f"{decision.get_verdict_display()}: the {reason} flag on outcome #{outcome.pk} "
                f"({outcome.natural_key}) is decided; it is now {outcome.get_state_display().lower()}.",
            )
            return redirect(_next_url(request, default=reverse("outcomes:review-queue")))
    return render(
        request,
        "outcomes/outcome_review.html",
        {"section": "review", "outcome": outcome, "flags": _flag_cards(request, outcome, bound=form)},
    )


def _next_url(request: HttpRequest, *, default: str) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@portal_view
def dispute_list_page(request: PortalRequest) -> HttpResponse:
    open_disputes = list(
        selectors.dispute_list(vendor=request.vendor, status=Dispute.Status.OPEN).order_by("deadline", "id")
    )
    resolved = keyset_page(
        request,
        selectors.dispute_list(vendor=request.vendor).exclude(status=Dispute.Status.OPEN),
        per_page=25,
    )
    return render(
        request,
        "outcomes/dispute_list.html",
        {"section": "disputes", "open_disputes": open_disputes, "resolved": resolved, "now": timezone.now()},
    )


@portal_view
@require_http_methods(["GET", "POST"])
def dispute_detail_page(request: PortalRequest, dispute_id: str) -> HttpResponse:
    dispute = selectors.dispute_get(vendor=request.vendor, dispute_id=dispute_id)
    form = DisputeResponseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            dispute = dispute_respond(
                dispute=dispute,
                accept=form.cleaned_data["accept"],
                response=form.cleaned_data["response"],
                evidence=form.evidence(),
                actor=portal_actor(request),
            )
        except ValidationFailed as exc:
            add_domain_errors(form, exc)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("outcomes:dispute-detail", dispute_id=dispute.pk)
        else:
            messages.success(
                request, f"Dispute on outcome #{dispute.outcome_id}: {dispute.get_status_display()}."
            )
            return redirect("outcomes:dispute-detail", dispute_id=dispute.pk)
    outcome = selectors.outcome_get(vendor=request.vendor, outcome_id=str(dispute.outcome_id))
    return render(
        request,
        "outcomes/dispute_detail.html",
        {
            "section": "disputes",
            "dispute": dispute,
            "outcome": outcome,
            "form": form,
            "now": timezone.now(),
            "verdicts": [(v, readable_facts(v.facts)) for v in _dispute_verdicts(outcome)],
        },
    )


def _dispute_verdicts(outcome: Outcome) -> list[OutcomeVerdict]:
    """The dispute rule's verdicts on the outcome (what the dispute did to its billing), oldest first."""
    return [v for v in outcome.verdict_trail if v.rule == Disputes.name]


# --- a dispute's evidence files (the customer's uploads: customer_portal.outcome_actions) ---


def attachment_response(attachment: DisputeAttachment) -> HttpResponse:
    """The file as a download (at most 5 MB), never shown in the page: its stored type, no sniffing."""
    with attachment.file.open("rb") as stored:
        response = HttpResponse(stored.read(), content_type=attachment.content_type)
    response["Content-Disposition"] = (
        content_disposition_header(True, attachment.original_name) or "attachment"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def attachment_file(queryset: QuerySet[DisputeAttachment], attachment_id: str) -> DisputeAttachment:
    attachment = queryset.filter(pk=attachment_id).first() if attachment_id.isdigit() else None
    if attachment is None:
        raise Http404("No such file.")
    return attachment


@portal_view
def dispute_attachment_page(request: PortalRequest, dispute_id: str, attachment_id: str) -> HttpResponse:
    dispute = selectors.dispute_get(vendor=request.vendor, dispute_id=dispute_id)
    return attachment_response(attachment_file(dispute.attachments.all(), attachment_id))
