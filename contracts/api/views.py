"""Thin API views: parse the request, call one service or selector, render the result."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from contracts import selectors
from contracts.api.base import CustomerApiView, VendorApiView
from contracts.api.serializers import (
    ApiKeyCreatedOut,
    ApiKeyCreateIn,
    ApiKeyOut,
    ContractFilter,
    ContractOut,
    ContractVersionOut,
    CustomerFilter,
    CustomerOut,
    CustomerWebhookSourceCreateIn,
    InForceQuery,
    RotatedSecretOut,
    RotateSecretIn,
    WebhookSourceCreatedOut,
    WebhookSourceCreateIn,
    WebhookSourceOut,
)
from contracts.models import Contract, WebhookSource
from contracts.services import contracts as contract_services
from contracts.services import credentials, customers
from contracts.terms import Amendment, ContractHeader, VersionTerms, parse
from core.errors import NotFound, ValidationFailed


class ContractCreateIn(ContractHeader):
    """A draft contract with its first version's terms."""

    terms: VersionTerms


# --- customers ------------------------------------------------------------------------------


class CustomerListCreateApi(VendorApiView):
    @extend_schema(
        operation_id="customers_list", parameters=[CustomerFilter], responses=CustomerOut(many=True)
    )
    def get(self, request: Request) -> Response:
        return self.paginated(
            selectors.customer_list(vendor=self.vendor, **self.query(CustomerFilter)), CustomerOut
        )

    @extend_schema(
        operation_id="customers_create",
        request=customers.CustomerFields,
        responses={201: CustomerOut},
    )
    def post(self, request: Request) -> Response:
        fields = customers.customer_fields_parse(request.data)
        customer = customers.customer_create(vendor=self.vendor, fields=fields, actor=self.actor)
        return Response(CustomerOut(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailApi(VendorApiView):
    @extend_schema(operation_id="customers_retrieve", responses=CustomerOut)
    def get(self, request: Request, customer_id: str) -> Response:
        return Response(CustomerOut(selectors.customer_get(vendor=self.vendor, customer_id=customer_id)).data)

    @extend_schema(operation_id="customers_update", request=customers.CustomerFields, responses=CustomerOut)
    def patch(self, request: Request, customer_id: str) -> Response:
        customer = selectors.customer_get(vendor=self.vendor, customer_id=customer_id)
        fields = customers.customer_fields_parse(request.data, current=customer)
        customer = customers.customer_update(customer=customer, fields=fields, actor=self.actor)
        return Response(CustomerOut(customer).data)

    @extend_schema(operation_id="customers_delete", responses={204: None})
    def delete(self, request: Request, customer_id: str) -> Response:
        customer = selectors.customer_get(vendor=self.vendor, customer_id=customer_id)
        customers.customer_delete(customer=customer, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- contracts ------------------------------------------------------------------------------


class ContractListCreateApi(VendorApiView):
    @extend_schema(
        operation_id="contracts_list", parameters=[ContractFilter], responses=ContractOut(many=True)
    )
    def get(self, request: Request) -> Response:
        filters = self.query(ContractFilter)
        if "customer_id" in filters:
            filters["customer_id"] = str(filters["customer_id"])
        return self.paginated(selectors.contract_list(vendor=self.vendor, **filters), ContractOut)

    @extend_schema(operation_id="contracts_create", request=ContractCreateIn, responses={201: ContractOut})
    def post(self, request: Request) -> Response:
        header, terms = contract_services.contract_create_parse(request.data)
        contract = contract_services.contract_create(
            vendor=self.vendor, header=header, terms=terms, actor=self.actor
        )
        return Response(ContractOut(self._reload(contract)).data, status=status.HTTP_201_CREATED)

    def _reload(self, contract: Contract) -> Contract:
        return selectors.contract_get(vendor=self.vendor, contract_id=contract.pk)


class ContractDetailApi(VendorApiView):
    @extend_schema(operation_id="contracts_retrieve", responses=ContractOut)
    def get(self, request: Request, contract_id: str) -> Response:
        return Response(ContractOut(selectors.contract_get(vendor=self.vendor, contract_id=contract_id)).data)

    @extend_schema(
        operation_id="contracts_update_draft",
        request=ContractHeader,
        responses=ContractOut,
        description="Change a draft contract's own fields (partial). Active contracts are amended via versions.",
    )
    def patch(self, request: Request, contract_id: str) -> Response:
        contract = selectors.contract_get(vendor=self.vendor, contract_id=contract_id)
        header = contract_services.contract_header_parse(request.data, current=contract)
        contract_services.contract_update_draft(
            contract=contract, header=header, fields=list(request.data), actor=self.actor
        )
        return Response(ContractOut(selectors.contract_get(vendor=self.vendor, contract_id=contract_id)).data)


class ContractVersionListCreateApi(VendorApiView):
    pagination_class = None  # a contract's few versions, all at once

    @extend_schema(operation_id="contract_versions_list", responses=ContractVersionOut(many=True))
    def get(self, request: Request, contract_id: str) -> Response:
        contract = selectors.contract_get(vendor=self.vendor, contract_id=contract_id)
        return Response(ContractVersionOut(contract.versions.all(), many=True).data)

    @extend_schema(
        operation_id="contract_versions_amend",
        request=Amendment,
        responses={201: ContractVersionOut},
        description=(
            "Amend the terms: a new version effective from `effective_from` (default now). A date means "
            "local midnight in the contract's time zone. An active contract cannot be amended in the past."
        ),
    )
    def post(self, request: Request, contract_id: str) -> Response:
        contract = selectors.contract_get(vendor=self.vendor, contract_id=contract_id)
        amendment = parse(Amendment, request.data)
        version = contract_services.contract_amend(contract=contract, amendment=amendment, actor=self.actor)
        version = selectors.contract_version_get(contract=contract, number=version.number)
        return Response(ContractVersionOut(version).data, status=status.HTTP_201_CREATED)


class ContractVersionDetailApi(VendorApiView):
    @extend_schema(operation_id="contract_versions_retrieve", responses=ContractVersionOut)
    def get(self, request: Request, contract_id: str, number: int) -> Response:
        contract = selectors.contract_get(vendor=self.vendor, contract_id=contract_id)
        return Response(
            ContractVersionOut(selectors.contract_version_get(contract=contract, number=number)).data
        )

    @extend_schema(
        operation_id="contract_versions_replace",
        request=VersionTerms,
        responses=ContractVersionOut,
        description="Replace a version's terms while the contract is a draft.",
    )
    def put(self, request: Request, contract_id: str, number: int) -> Response:
        contract = selectors.contract_get(vendor=self.vendor, contract_id=contract_id)
        terms = parse(VersionTerms, request.data)
        contract_services.contract_version_replace(
            contract=contract, number=number, terms=terms, actor=self.actor
        )
        return Response(
            ContractVersionOut(selectors.contract_version_get(contract=contract, number=number)).data
        )


class ContractVersionInForceApi(VendorApiView):
    @extend_schema(
        operation_id="contract_version_in_force",
        parameters=[InForceQuery],
        responses=ContractVersionOut,
        description="The version whose terms governed the given instant; 404 when none was in force.",
    )
    def get(self, request: Request, contract_id: str) -> Response:
        contract = selectors.contract_get(vendor=self.vendor, contract_id=contract_id)
        at: dt.datetime = self.query(InForceQuery)["at"]
        version = selectors.contract_version_in_force(contract=contract, at=at)
        if version is None:
            raise NotFound("No version of this contract was in force at that instant.", code="not_in_force")
        return Response(ContractVersionOut(version).data)


def _transition_view(name: str, service: Callable[..., Contract], summary: str) -> type[VendorApiView]:
    class ContractTransitionApi(VendorApiView):
        @extend_schema(operation_id=f"contracts_{name}", request=None, responses=ContractOut, summary=summary)
        def post(self, request: Request, contract_id: str) -> Response:
            contract = selectors.contract_get(vendor=self.vendor, contract_id=contract_id)
            service(contract=contract, actor=self.actor)
            return Response(
                ContractOut(selectors.contract_get(vendor=self.vendor, contract_id=contract_id)).data
            )

    ContractTransitionApi.__name__ = ContractTransitionApi.__qualname__ = f"Contract{name.title()}Api"
    return ContractTransitionApi


ContractActivateApi = _transition_view(
    "activate", contract_services.contract_activate, "draft → active; locks terms"
)
ContractSuspendApi = _transition_view("suspend", contract_services.contract_suspend, "active → suspended")
ContractResumeApi = _transition_view("resume", contract_services.contract_resume, "suspended → active")
ContractTerminateApi = _transition_view(
    "terminate",
    contract_services.contract_terminate,
    "active or suspended → terminated, effective now",
)


# --- webhook sources ------------------------------------------------------------------------

SOURCE_FILTERS = [OpenApiParameter("customer_id", str, description="Only this customer's sources.")]


class WebhookSourceListCreateApi(VendorApiView):
    @extend_schema(
        operation_id="webhook_sources_list",
        parameters=SOURCE_FILTERS,
        responses=WebhookSourceOut(many=True),
    )
    def get(self, request: Request) -> Response:
        customer_id = request.query_params.get("customer_id")
        if customer_id:
            customer_id = str(selectors.customer_get(vendor=self.vendor, customer_id=customer_id).pk)
        return self.paginated(
            selectors.webhook_source_list(vendor=self.vendor, customer_id=customer_id),
            WebhookSourceOut,
        )

    @extend_schema(
        operation_id="webhook_sources_create",
        request=WebhookSourceCreateIn,
        responses={201: WebhookSourceCreatedOut},
        description="Create a source; the response carries its signing secret, shown only this once.",
    )
    def post(self, request: Request) -> Response:
        body = self.body(WebhookSourceCreateIn)
        try:
            customer = selectors.customer_get(vendor=self.vendor, customer_id=body["customer_id"])
        except NotFound:
            raise ValidationFailed.on_field("customer_id", "not_found", "No such customer.") from None
        source, secret = credentials.webhook_source_create(
            vendor=self.vendor,
            customer=customer,
            name=body["name"],
            kind=body["kind"],
            actor=self.actor,
        )
        data = WebhookSourceOut(selectors.webhook_source_get(vendor=self.vendor, source_id=source.pk)).data
        return Response({**data, "signing_secret": secret}, status=status.HTTP_201_CREATED)


class WebhookSourceDetailApi(VendorApiView):
    @extend_schema(operation_id="webhook_sources_retrieve", responses=WebhookSourceOut)
    def get(self, request: Request, source_id: str) -> Response:
        return Response(
            WebhookSourceOut(selectors.webhook_source_get(vendor=self.vendor, source_id=source_id)).data
        )


class WebhookSourceRotateApi(VendorApiView):
    @extend_schema(
        operation_id="webhook_sources_rotate_secret",
        request=RotateSecretIn,
        responses=RotatedSecretOut,
    )
    def post(self, request: Request, source_id: str) -> Response:
        source = selectors.webhook_source_get(vendor=self.vendor, source_id=source_id)
        overlap = dt.timedelta(seconds=self.body(RotateSecretIn)["overlap_seconds"])
        secret = credentials.webhook_source_rotate_secret(source=source, overlap=overlap, actor=self.actor)
        source = selectors.webhook_source_get(vendor=self.vendor, source_id=source_id)
        return Response({"signing_secret": secret, "webhook_source": WebhookSourceOut(source).data})


class WebhookSourceRevokeApi(VendorApiView):
    @extend_schema(operation_id="webhook_sources_revoke", request=None, responses=WebhookSourceOut)
    def post(self, request: Request, source_id: str) -> Response:
        source = selectors.webhook_source_get(vendor=self.vendor, source_id=source_id)
        credentials.webhook_source_revoke(source=source, actor=self.actor)
        return Response(
            WebhookSourceOut(selectors.webhook_source_get(vendor=self.vendor, source_id=source_id)).data
        )


# --- a customer's own systems of record (a customer's API key) ------------------------------


class CustomerWebhookSourceListCreateApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_webhook_sources_list",
        responses=WebhookSourceOut(many=True),
        description="Your systems of record's sources (the vendor's agent sources are the vendor's).",
    )
    def get(self, request: Request) -> Response:
        return self.paginated(
            selectors.webhook_source_list_for_customer(customer=self.customer), WebhookSourceOut
        )

    @extend_schema(
        operation_id="customer_webhook_sources_create",
        request=CustomerWebhookSourceCreateIn,
        responses={201: WebhookSourceCreatedOut},
        description=(
            "Create a source for your system of record (kind customer_system), approved at once: only "
            "you see its signing secret, shown this once, so its events speak for you."
        ),
    )
    def post(self, request: Request) -> Response:
        source, secret = credentials.webhook_source_create(
            vendor=self.vendor,
            customer=self.customer,
            name=self.body(CustomerWebhookSourceCreateIn)["name"],
            kind=WebhookSource.Kind.CUSTOMER_SYSTEM,
            actor=self.actor,
            by_customer=True,
        )
        data = WebhookSourceOut(
            selectors.webhook_source_get_for_customer(customer=self.customer, source_id=source.pk)
        ).data
        return Response({**data, "signing_secret": secret}, status=status.HTTP_201_CREATED)


class CustomerWebhookSourceApproveApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_webhook_sources_approve",
        request=None,
        responses=RotatedSecretOut,
        description=(
            "Approve a source the vendor created for your system of record: from now on its events speak "
            "for you (they confirm and dispute outcomes). The vendor has seen its secrets, so they all "
            "stop verifying now; the new one is shown only this once. Events received before stay "
            "unconfirming. 409 source_already_approved, source_revoked."
        ),
    )
    def post(self, request: Request, source_id: str) -> Response:
        source = selectors.webhook_source_get_for_customer(customer=self.customer, source_id=source_id)
        secret = credentials.webhook_source_approve(source=source, actor=self.actor)
        source = selectors.webhook_source_get_for_customer(customer=self.customer, source_id=source_id)
        return Response({"signing_secret": secret, "webhook_source": WebhookSourceOut(source).data})


class CustomerWebhookSourceRotateApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_webhook_sources_rotate_secret",
        request=RotateSecretIn,
        responses=RotatedSecretOut,
        description="A new signing secret, shown only this once; the current ones keep verifying for the overlap.",
    )
    def post(self, request: Request, source_id: str) -> Response:
        source = selectors.webhook_source_get_for_customer(customer=self.customer, source_id=source_id)
        overlap = dt.timedelta(seconds=self.body(RotateSecretIn)["overlap_seconds"])
        secret = credentials.webhook_source_rotate_secret(
            source=source, overlap=overlap, actor=self.actor, by_customer=True
        )
        source = selectors.webhook_source_get_for_customer(customer=self.customer, source_id=source_id)
        return Response({"signing_secret": secret, "webhook_source": WebhookSourceOut(source).data})


# --- API keys -------------------------------------------------------------------------------


class ApiKeyListCreateApi(VendorApiView):
    @extend_schema(operation_id="api_keys_list", responses=ApiKeyOut(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(selectors.api_key_list(vendor=self.vendor), ApiKeyOut)

    @extend_schema(
        operation_id="api_keys_create",
        request=ApiKeyCreateIn,
        responses={201: ApiKeyCreatedOut},
        description="Create a key; the response carries the full key, shown only this once.",
    )
    def post(self, request: Request) -> Response:
        body = self.body(ApiKeyCreateIn)
        api_key, raw = credentials.api_key_create(
            vendor=self.vendor, name=body["name"], scope=body["scope"], actor=self.actor
        )
        return Response({**ApiKeyOut(api_key).data, "key": raw}, status=status.HTTP_201_CREATED)


class CustomerApiKeyCreateApi(VendorApiView):
    @extend_schema(
        operation_id="customer_api_keys_create",
        request=ApiKeyCreateIn,
        responses={201: ApiKeyCreatedOut},
        description=(
            "Issue an API key to one of your customers for the customer-facing API (/api/v1/customer/): "
            "it reads only that customer's outcomes and confirms, attests and disputes them. Shown once."
        ),
    )
    def post(self, request: Request, customer_id: str) -> Response:
        customer = selectors.customer_get(vendor=self.vendor, customer_id=customer_id)
        body = self.body(ApiKeyCreateIn)
        api_key, raw = credentials.api_key_create(
            vendor=self.vendor, name=body["name"], scope=body["scope"], actor=self.actor, customer=customer
        )
        return Response({**ApiKeyOut(api_key).data, "key": raw}, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(VendorApiView):
    @extend_schema(operation_id="api_keys_retrieve", responses=ApiKeyOut)
    def get(self, request: Request, api_key_id: str) -> Response:
        return Response(ApiKeyOut(selectors.api_key_get(vendor=self.vendor, api_key_id=api_key_id)).data)


class ApiKeyRevokeApi(VendorApiView):
    @extend_schema(operation_id="api_keys_revoke", request=None, responses=ApiKeyOut)
    def post(self, request: Request, api_key_id: str) -> Response:
        api_key = selectors.api_key_get(vendor=self.vendor, api_key_id=api_key_id)
        return Response(ApiKeyOut(credentials.api_key_revoke(api_key=api_key, actor=self.actor)).data)
