"""The settings page's forms: a new webhook source, a new API key, a new team member. Inputs are named by
the API's fields, so the API's serializers check them and their errors land beside the input they name."""

from __future__ import annotations

from contracts import selectors
from contracts.models import ApiKey, CustomerRole, Role, WebhookSource
from contracts.portal import PortalRequest, customer_choices
from core.errors import FieldErrors
from core.forms import Form, Input, bind


def role_choices(request: PortalRequest) -> list[tuple[str, str]]:
    """Only an owner may hand out the owner role."""
    return [
        (role.value, role.label)
        for role in Role
        if role != Role.OWNER or request.membership.role == Role.OWNER
    ]


def _customer_choices(request: PortalRequest, empty: str) -> list[tuple[str, str]]:
    return customer_choices(selectors.customer_list(vendor=request.vendor), empty)


def source_form(
    request: PortalRequest, values: dict[str, str] | None = None, errors: FieldErrors | None = None
) -> Form:
    values = values or {}
    return bind(
        [
            Input("name", "Name", value=values.get("name", ""), help="e.g. Helpdesk production"),
            Input(
                "kind",
                "Kind",
                value=values.get("kind", ""),
                widget="select",
                choices=[("", "Choose a kind"), *WebhookSource.Kind.choices],
                help="A customer system speaks for the customer once the customer approves it.",
            ),
            Input(
                "customer_id",
                "Customer",
                value=values.get("customer_id", ""),
                widget="select",
                choices=_customer_choices(request, "Choose a customer"),
            ),
        ],
        errors,
        form_name="source",
    )


def api_key_form(
    request: PortalRequest, values: dict[str, str] | None = None, errors: FieldErrors | None = None
) -> Form:
    values = values or {}
    return bind(
        [
            Input(
                "name", "Name", value=values.get("name", ""), help="Where the key is used, e.g. CI exporter"
            ),
            Input(
                "scope",
                "Scope",
                value=values.get("scope", ApiKey.Scope.WRITE),
                widget="select",
                choices=list(ApiKey.Scope.choices),
            ),
            Input(
                "customer_id",
                "Holder",
                value=values.get("customer_id", ""),
                widget="select",
                choices=_customer_choices(request, "This vendor (the vendor API)"),
                help="A customer's key reaches only the customer API: that customer's outcomes and invoices.",
            ),
        ],
        errors,
        form_name="api_key",
    )


def member_form(
    request: PortalRequest, values: dict[str, str] | None = None, errors: FieldErrors | None = None
) -> Form:
    values = values or {}
    return bind(
        [
            Input("email", "Email", value=values.get("email", ""), widget="email"),
            Input(
                "role",
                "Role",
                value=values.get("role", Role.VIEWER),
                widget="select",
                choices=role_choices(request),
            ),
        ],
        errors,
        form_name="member",
    )


def customer_member_form(values: dict[str, str] | None = None, errors: FieldErrors | None = None) -> Form:
    """Invite a person of one of the vendor's customers to the customer portal."""
    values = values or {}
    return bind(
        [
            Input("email", "Email", value=values.get("email", ""), widget="email"),
            Input(
                "role",
                "Role",
                value=values.get("role", CustomerRole.VIEWER),
                widget="select",
                choices=list(CustomerRole.choices),
                help="Viewers look; approvers and admins also act for the customer.",
            ),
        ],
        errors,
        form_name="customer_member",
    )
