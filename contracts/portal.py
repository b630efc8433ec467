"""The vendor portal's session, shared by every app's pages: who is signed in, for which vendor, with which role
(the plumbing any portal shares is core.portal).

Every portal view is wrapped in `portal_view`: it requires a signed-in member of a vendor, attaches
`request.vendor` and `request.membership`, refuses (403) any change by a viewer, and shows a
selector's NotFound as the 404 page. Pages then read
through the app's selectors with `vendor=request.vendor`, so another vendor's object is a 404.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, cast, overload

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from contracts.models import Customer, CustomerMembership, Membership, Vendor
from core.errors import NotFound
from core.portal import NavItem

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class PortalRequest(HttpRequest):
    """An HttpRequest that went through `portal_view` (for type checkers)."""

    vendor: Vendor
    membership: Membership


View = Callable[..., HttpResponse]


def portal_actor(request: HttpRequest) -> str:
    """The audit actor of a signed-in person: `user:<email>` (as the admin writes it too)."""
    user = request.user
    return f"user:{getattr(user, 'email', '') or user.get_username()}"


@overload
def portal_view(view: View, *, write: bool = False) -> View: ...
@overload
def portal_view(view: None = None, *, write: bool = False) -> Callable[[View], View]: ...
def portal_view(view: View | None = None, *, write: bool = False) -> View | Callable[[View], View]:
    """Decorate a portal page. `write=True` marks a page that exists only to change things (a form):
    viewers get 403 even on GET. Any unsafe method from a viewer is a 403 regardless."""

    def decorate(func: View) -> View:
        @login_required
        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = Membership.objects.select_related("vendor").filter(user=request.user).first()  # type: ignore[misc]
            if membership is None:
                # A customer's person who signed in (or followed a link) here: their pages are the
                # customer portal's. Nobody else is told anything.
                person = CustomerMembership.objects.filter(user=request.user)  # type: ignore[misc]
                if request.method in SAFE_METHODS and person.exists():
                    return redirect("customer:overview")
                raise PermissionDenied("This account is not a member of any vendor.")
            if (write or request.method not in SAFE_METHODS) and not membership.can_write:
                raise PermissionDenied("Viewers cannot change anything.")
            portal_request = cast(PortalRequest, request)
            portal_request.vendor = membership.vendor
            portal_request.membership = membership
            try:
                return func(portal_request, *args, **kwargs)
            except NotFound as exc:  # a selector's "not yours or not there": the portal's 404 page
                raise Http404(exc.message) from exc

        return wrapper

    return decorate(view) if view is not None else decorate


# One list, in the order the sidebar shows it; `section` matches a view's `portal_section`.
NAV = (
    NavItem("Dashboard", "settlement:dashboard", "dashboard"),
    NavItem("Contracts", "contracts:contract-list", "contracts"),
    NavItem("Outcomes", "outcomes:outcome-list", "outcomes"),
    NavItem("Review queue", "outcomes:review-queue", "review"),
    NavItem("Disputes", "outcomes:dispute-list", "disputes"),
    NavItem("Invoices", "settlement:invoice-list", "invoices"),
    NavItem("Customers", "settlement:customer-list", "customers"),
    NavItem("Settings", "contracts:settings", "settings"),
    NavItem("Audit log", "contracts:audit-log", "audit"),
)


def portal_context(request: HttpRequest) -> dict[str, Any]:
    """Template context for every page: the member, what they may do, the navigation."""
    membership = getattr(request, "membership", None)
    return {
        "portal_membership": membership,
        "portal_vendor": getattr(request, "vendor", None),
        "can_write": bool(membership and membership.can_write),
        "portal_nav": NAV,
        "stripe_is_local": settings.STRIPE_IS_LOCAL_TEST_SERVER,
    }


def customer_choices(customers: Iterable[Customer], empty: str) -> list[tuple[str, str]]:
    """A select's options for one of the vendor's customers, the empty choice first."""
    return [("", empty)] + [(str(c.pk), f"{c.name} ({c.external_ref})") for c in customers]
