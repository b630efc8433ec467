"""Vendor API over outcomes and the raw inbox: thin views over outcomes.selectors."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from contracts import selectors as contract_selectors
from contracts.api.views import VendorApiView
from outcomes import selectors
from outcomes.api.serializers import (
    DeliveryDetailOut,
    DeliveryOut,
    OutcomeDetailOut,
    OutcomeFilter,
    OutcomeOut,
)


class OutcomeListApi(VendorApiView):
    @extend_schema(operation_id="outcomes_list", parameters=[OutcomeFilter], responses=OutcomeOut(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(
            selectors.outcome_list(vendor=self.vendor, **self.query(OutcomeFilter)), OutcomeOut
        )


class OutcomeDetailApi(VendorApiView):
    @extend_schema(
        operation_id="outcomes_retrieve",
        responses=OutcomeDetailOut,
        description="One outcome with the raw events merged into it and every state transition.",
    )
    def get(self, request: Request, outcome_id: str) -> Response:
        outcome = selectors.outcome_get(vendor=self.vendor, outcome_id=outcome_id)
        raw_events = selectors.outcome_raw_events(outcome=outcome)
        return Response(OutcomeDetailOut(outcome, context={"raw_events": raw_events}).data)


class DeliveryListApi(VendorApiView):
    @extend_schema(operation_id="webhook_source_deliveries_list", responses=DeliveryOut(many=True))
    def get(self, request: Request, source_id: str) -> Response:
        source = contract_selectors.webhook_source_get(vendor=self.vendor, source_id=source_id)
        return self.paginated(
            selectors.delivery_list(source=source), DeliveryOut, ordering=("-received_at", "-id")
        )


class DeliveryDetailApi(VendorApiView):
    @extend_schema(operation_id="webhook_source_deliveries_retrieve", responses=DeliveryDetailOut)
    def get(self, request: Request, source_id: str, delivery_id: str) -> Response:
        source = contract_selectors.webhook_source_get(vendor=self.vendor, source_id=source_id)
        return Response(
            DeliveryDetailOut(selectors.delivery_get(source=source, delivery_id=delivery_id)).data
        )
