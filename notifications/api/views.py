"""Thin API views of the webhook endpoints: the vendor's (its own and its customers'), and a customer's own
(registered with its customer key). Each operation is written once, with the scope it reads through
(`VendorScope` or `CustomerScope`) mixed in; the two audiences differ only in which endpoints they find."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from contracts import selectors as contract_selectors
from contracts.api.base import CustomerApiView, VendorApiView
from contracts.models import Customer
from core.errors import NotFound, ValidationFailed
from notifications import selectors
from notifications.api.serializers import (
    CustomerWebhookEndpointCreateIn,
    RotatedWebhookEndpointSecretOut,
    WebhookDeliveryFilter,
    WebhookDeliveryOut,
    WebhookEndpointCreatedOut,
    WebhookEndpointCreateIn,
    WebhookEndpointOut,
    WebhookEndpointRotateIn,
    WebhookEndpointUpdateIn,
    WebhookResendSinceIn,
    WebhookResendSinceOut,
)
from notifications.models import Endpoint
from notifications.services import deliveries, endpoints

ViewT = TypeVar("ViewT", bound=VendorApiView)

# --- the two scopes -------------------------------------------------------------------------------


class ScopedApiView(VendorApiView):
    """An operation on one endpoint, written once for both audiences; a view names its scope first
    among its bases (`class X(VendorScope, _Detail)`), so the scope's `endpoint` is the one found."""

    def endpoint(self, endpoint_id: str) -> Endpoint:
        """The endpoint this key may manage, else NotFound."""
        raise NotImplementedError


class VendorScope(ScopedApiView):
    """A vendor key: the vendor's endpoints and every endpoint of its customers."""

    def endpoint(self, endpoint_id: str) -> Endpoint:
        return selectors.endpoint_get(vendor=self.vendor, endpoint_id=endpoint_id)


class CustomerScope(CustomerApiView, ScopedApiView):
    """A customer key: the endpoints that customer registered, nothing else."""

    def endpoint(self, endpoint_id: str) -> Endpoint:
        return selectors.endpoint_get_for_customer(customer=self.customer, endpoint_id=endpoint_id)


def _fresh(view: ScopedApiView, endpoint: Endpoint) -> Endpoint:
    """The endpoint re-read with its secrets, as the answer shows it."""
    return view.endpoint(str(endpoint.pk))


def _created(
    view: ScopedApiView, body: dict[str, Any], *, customer: Customer | None, registered_by: str
) -> Response:
    """Register the endpoint the body describes; the answer shows its signing secret, this once."""
    endpoint, secret = endpoints.endpoint_create(
        vendor=view.vendor,
        customer=customer,
        registered_by=registered_by,
        url=body["url"],
        description=body["description"],
        event_types=body["event_types"],
        actor=view.actor,
    )
    data = WebhookEndpointOut(_fresh(view, endpoint)).data
    return Response({**data, "signing_secret": secret}, status=status.HTTP_201_CREATED)


# --- the operations, written once -------------------------------------------------------------------


class _Detail(ScopedApiView):
    @extend_schema(responses=WebhookEndpointOut, description="One endpoint, with the secrets that sign now.")
    def get(self, request: Request, endpoint_id: str) -> Response:
        return Response(WebhookEndpointOut(self.endpoint(endpoint_id)).data)

    @extend_schema(
        request=WebhookEndpointUpdateIn,
        responses=WebhookEndpointOut,
        description="Change the URL, description or event types; the secrets and the log stay.",
    )
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint(endpoint_id)
        endpoint = endpoints.endpoint_update(
            endpoint=endpoint, **self.body(WebhookEndpointUpdateIn), actor=self.actor
        )
        return Response(WebhookEndpointOut(_fresh(self, endpoint)).data)

    @extend_schema(responses={204: None}, description="Delete the endpoint with its delivery log.")
    def delete(self, request: Request, endpoint_id: str) -> Response:
        endpoints.endpoint_delete(endpoint=self.endpoint(endpoint_id), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _Rotate(ScopedApiView):
    @extend_schema(
        request=WebhookEndpointRotateIn,
        responses=RotatedWebhookEndpointSecretOut,
        description="A new signing secret, shown only this once; the current ones keep signing for the overlap.",
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint(endpoint_id)
        seconds = self.body(WebhookEndpointRotateIn).get("overlap_seconds")
        secret = endpoints.endpoint_secret_rotate(
            endpoint=endpoint,
            overlap=None if seconds is None else dt.timedelta(seconds=seconds),
            actor=self.actor,
        )
        return Response(
            {"signing_secret": secret, "webhook_endpoint": WebhookEndpointOut(_fresh(self, endpoint)).data}
        )


class _Enable(ScopedApiView):
    @extend_schema(
        request=None,
        responses=WebhookEndpointOut,
        description="Re-enable an endpoint disabled after failing too long; its failure count starts again.",
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = endpoints.endpoint_enable(endpoint=self.endpoint(endpoint_id), actor=self.actor)
        return Response(WebhookEndpointOut(_fresh(self, endpoint)).data)


class _Deliveries(ScopedApiView):
    @extend_schema(
        parameters=[WebhookDeliveryFilter],
        responses=WebhookDeliveryOut(many=True),
        description="The endpoint's delivery log, latest first, each delivery with its attempts.",
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint(endpoint_id)
        return self.paginated(
            selectors.delivery_list(endpoint=endpoint, **self.query(WebhookDeliveryFilter)),
            WebhookDeliveryOut,
        )


class _Resend(ScopedApiView):
    @extend_schema(
        request=None,
        responses={202: WebhookDeliveryOut},
        description="Send this delivery's event again, now, with the same `webhook-id`.",
    )
    def post(self, request: Request, endpoint_id: str, delivery_id: str) -> Response:
        endpoint = self.endpoint(endpoint_id)
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery_id)
        delivery = deliveries.delivery_resend(endpoint=endpoint, event=delivery.event, actor=self.actor)
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery.pk)
        return Response(WebhookDeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)


class _ResendSince(ScopedApiView):
    @extend_schema(
        request=WebhookResendSinceIn,
        responses={202: WebhookResendSinceOut},
        description="Send again every event this endpoint receives recorded since a time (those it "
        "missed while disabled too), each with its own `webhook-id`.",
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint(endpoint_id)
        since = self.body(WebhookResendSinceIn)["since"]
        count = deliveries.deliveries_resend_since(endpoint=endpoint, since=since, actor=self.actor)
        return Response({"deliveries": count}, status=status.HTTP_202_ACCEPTED)


class _Test(ScopedApiView):
    @extend_schema(
        request=None,
        responses={202: WebhookDeliveryOut},
        description="Send a `webhook.test` event to this endpoint only.",
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint(endpoint_id)
        delivery = deliveries.endpoint_send_test(endpoint=endpoint, actor=self.actor)
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=delivery.pk)
        return Response(WebhookDeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)


def _named(prefix: str, **operations: str) -> Callable[[type[ViewT]], type[ViewT]]:
    """Each method's operation id, `<prefix>_<name>`: the two audiences' operations are named apart."""
    return extend_schema_view(
        **{method: extend_schema(operation_id=f"{prefix}_{name}") for method, name in operations.items()}
    )


# --- the vendor's -------------------------------------------------------------------------------

VENDOR = "webhook_endpoints"
ENDPOINT_FILTERS = [OpenApiParameter("customer_id", str, description="Only this customer's endpoints.")]


class EndpointListCreateApi(VendorScope):
    @extend_schema(
        operation_id=f"{VENDOR}_list",
        parameters=ENDPOINT_FILTERS,
        responses=WebhookEndpointOut(many=True),
        description="The vendor's endpoints and its customers' (however registered), latest first.",
    )
    def get(self, request: Request) -> Response:
        customer_id = request.query_params.get("customer_id")
        if customer_id:
            customer_id = str(contract_selectors.customer_get(vendor=self.vendor, customer_id=customer_id).pk)
        return self.paginated(
            selectors.endpoint_list(vendor=self.vendor, customer_id=customer_id), WebhookEndpointOut
        )

    @extend_schema(
        operation_id=f"{VENDOR}_create",
        request=WebhookEndpointCreateIn,
        responses={201: WebhookEndpointCreatedOut},
        description="Register an endpoint (the vendor's, or with `customer_id` a customer's); the response "
        "carries its signing secret, shown only this once.",
    )
    def post(self, request: Request) -> Response:
        body = self.body(WebhookEndpointCreateIn)
        customer: Customer | None = None
        if body.get("customer_id"):
            try:
                customer = contract_selectors.customer_get(
                    vendor=self.vendor, customer_id=body["customer_id"]
                )
            except NotFound:
                raise ValidationFailed.on_field("customer_id", "not_found", "No such customer.") from None
        return _created(self, body, customer=customer, registered_by=Endpoint.Owner.VENDOR)


@_named(VENDOR, get="retrieve", patch="update", delete="delete")
class EndpointDetailApi(VendorScope, _Detail):
    pass


@_named(VENDOR, post="rotate_secret")
class EndpointRotateApi(VendorScope, _Rotate):
    pass


@_named(VENDOR, post="enable")
class EndpointEnableApi(VendorScope, _Enable):
    pass


@_named(VENDOR, get="deliveries_list")
class EndpointDeliveryListApi(VendorScope, _Deliveries):
    pass


@_named(VENDOR, post="deliveries_resend")
class EndpointDeliveryResendApi(VendorScope, _Resend):
    pass


@_named(VENDOR, post="resend_since")
class EndpointResendSinceApi(VendorScope, _ResendSince):
    pass


@_named(VENDOR, post="send_test")
class EndpointTestApi(VendorScope, _Test):
    pass


# --- a customer's own ---------------------------------------------------------------------------

CUSTOMER = "customer_webhook_endpoints"


class CustomerEndpointListCreateApi(CustomerScope):
    @extend_schema(
        operation_id=f"{CUSTOMER}_list",
        responses=WebhookEndpointOut(many=True),
        description="The endpoints this customer registered with its key, latest first.",
    )
    def get(self, request: Request) -> Response:
        return self.paginated(
            selectors.endpoint_list_for_customer(customer=self.customer), WebhookEndpointOut
        )

    @extend_schema(
        operation_id=f"{CUSTOMER}_create",
        request=CustomerWebhookEndpointCreateIn,
        responses={201: WebhookEndpointCreatedOut},
        description="Register an endpoint for this customer's events; the response carries its signing "
        "secret, shown only this once.",
    )
    def post(self, request: Request) -> Response:
        body = self.body(CustomerWebhookEndpointCreateIn)
        return _created(self, body, customer=self.customer, registered_by=Endpoint.Owner.CUSTOMER)


@_named(CUSTOMER, get="retrieve", patch="update", delete="delete")
class CustomerEndpointDetailApi(CustomerScope, _Detail):
    pass


@_named(CUSTOMER, post="rotate_secret")
class CustomerEndpointRotateApi(CustomerScope, _Rotate):
    pass


@_named(CUSTOMER, post="enable")
class CustomerEndpointEnableApi(CustomerScope, _Enable):
    pass


@_named(CUSTOMER, get="deliveries_list")
class CustomerEndpointDeliveryListApi(CustomerScope, _Deliveries):
    pass


@_named(CUSTOMER, post="deliveries_resend")
class CustomerEndpointDeliveryResendApi(CustomerScope, _Resend):
    pass


@_named(CUSTOMER, post="resend_since")
class CustomerEndpointResendSinceApi(CustomerScope, _ResendSince):
    pass


@_named(CUSTOMER, post="send_test")
class CustomerEndpointTestApi(CustomerScope, _Test):
    pass
