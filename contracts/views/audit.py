"""The audit log: who did what, when, filtered by actor and action, newest first."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from contracts import selectors
from contracts.portal import PortalRequest, portal_view
from core.portal import keyset_page


@portal_view
def audit_log_page(request: PortalRequest) -> HttpResponse:
    actor = request.GET.get("actor", "").strip()
    action = request.GET.get("action", "").strip()
    entries = selectors.audit_entry_list(vendor=request.vendor, actor=actor or None, action=action or None)
    return render(
        request,
        "contracts/audit_log.html",
        {
            "section": "audit",
            "page": keyset_page(request, entries, per_page=50),
            "actions": selectors.audit_action_list(vendor=request.vendor),
            "chosen": {"actor": actor, "action": action},
        },
    )
