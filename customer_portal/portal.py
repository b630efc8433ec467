"""The customer portal's session: who is signed in, for which of their customers, with which role (the
vendor portal's twin is contracts.portal; the plumbing both share is core.portal).

Every page is wrapped in `customer_portal_view`: it requires a signed-in member of a customer, attaches
`request.customer` and `request.customer_membership` for the customer the person chose (kept in the
session; their first customer until they switch), refuses (403) any change by a viewer, and shows a
selector's NotFound as the 404 page. Pages read through the selectors scoped to `request.customer`
(`outcome_list_for_customer`, ...), so another customer's object, of the same vendor or another, is a 404.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast, overload

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from contracts.models import Customer, CustomerMembership, CustomerRole, Membership
from contracts.portal import SAFE_METHODS
from contracts.selectors import customer_memberships_of
from core.errors import NotFound
from core.portal import NavItem

CHOSEN_CUSTOMER = "customer_portal_customer_id"  # the session key of the customer the person chose


class CustomerPortalRequest(HttpRequest):
    """An HttpRequest that went through `customer_portal_view` (for type checkers)."""

    customer: Customer
    customer_membership: CustomerMembership
    customer_memberships: list[CustomerMembership]


View = Callable[..., HttpResponse]


def _user_id(request: HttpRequest) -> int:
    """The signed-in person's id (every caller runs after login_required)."""
    return cast(int, request.user.pk)


def customer_portal_actor(request: HttpRequest) -> str:
    """The audit actor of a customer's person: `customer_user:<email>` (never confused with a vendor's)."""
    user = request.user
    return f"customer_user:{getattr(user, 'email', '') or user.get_username()}"


def chosen_membership(request: HttpRequest, memberships: list[CustomerMembership]) -> CustomerMembership:
    chosen = request.session.get(CHOSEN_CUSTOMER)
    return next((m for m in memberships if str(m.customer_id) == chosen), memberships[0])


def customer_choose(request: HttpRequest, customer_id: str) -> CustomerMembership:
    """Make one of the person's customers the one their pages show; any other customer is a 404."""
    membership = next(
        (m for m in customer_memberships_of(user_id=_user_id(request)) if str(m.customer_id) == customer_id),
        None,
    )
    if membership is None:
        raise Http404("No such customer.")
    request.session[CHOSEN_CUSTOMER] = str(membership.customer_id)
    return membership


@overload
def customer_portal_view(view: View, *, write: bool = False) -> View: ...
@overload
def customer_portal_view(view: None = None, *, write: bool = False) -> Callable[[View], View]: ...
def customer_portal_view(view: View | None = None, *, write: bool = False) -> View | Callable[[View], View]:
    """Decorate a customer portal page. `write=True` marks a page that exists only to change things:
    viewers get 403 even on GET. Any unsafe method from a viewer is a 403 regardless."""

    def decorate(func: View) -> View:
        @login_required
        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            memberships = list(customer_memberships_of(user_id=_user_id(request)))
            if not memberships:
                raise PermissionDenied("This account is not a member of any customer.")
            membership = chosen_membership(request, memberships)
            if (write or request.method not in SAFE_METHODS) and not membership.can_write:
                raise PermissionDenied("Viewers cannot change anything.")
            portal_request = cast(CustomerPortalRequest, request)
            portal_request.customer = membership.customer
            portal_request.customer_membership = membership
            portal_request.customer_memberships = memberships
            try:
                return func(portal_request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message) from exc

        return wrapper

    return decorate(view) if view is not None else decorate


def is_customer_admin(request: CustomerPortalRequest) -> bool:
    return request.customer_membership.role == CustomerRole.ADMIN


def require_customer_admin(request: CustomerPortalRequest) -> None:
    """Only the customer's admins change its own controls (caps, sources, endpoints, API keys);
    approvers and viewers read them."""
    if not is_customer_admin(request):
        raise PermissionDenied("Only the customer's admins change its settings.")


NAV = (
    NavItem("Overview", "customer:overview", "overview"),
    NavItem("Outcomes", "customer:outcome-list", "outcomes"),
    NavItem("Invoices", "customer:invoice-list", "invoices"),
    NavItem("Contracts", "customer:contract-list", "contracts"),
    NavItem("Settings", "customer:settings", "settings"),
)


def _has_vendor_membership(request: HttpRequest) -> bool:
    return Membership.objects.filter(user_id=_user_id(request)).exists()


def customer_portal_context(request: HttpRequest) -> dict[str, Any]:
    """Template context on top of contracts.portal.portal_context: on a customer page, the sidebar of
    the customer portal; on a vendor page, whether the person may also go to the customer portal."""
    membership = getattr(request, "customer_membership", None)
    if membership is not None:
        memberships = cast(CustomerPortalRequest, request).customer_memberships
        return {
            "portal_membership": membership,
            "portal_customer": membership.customer,
            "portal_vendor": None,
            "portal_home": "customer:overview",
            "can_write": membership.can_write,
            "portal_nav": NAV,
            "portal_switch": SimpleLazyObject(
                lambda: len(memberships) > 1 or _has_vendor_membership(request)
            ),
        }
    if getattr(request, "membership", None) is not None:  # a vendor page
        return {
            "portal_switch": SimpleLazyObject(
                lambda: customer_memberships_of(user_id=_user_id(request)).exists()
            )
        }
    return {}
