"""Vendor API over outcomes and the raw inbox: thin views over outcomes.selectors."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from contracts import selectors as contract_selectors
from contracts.api.base import CustomerApiView, VendorApiView
from outcomes import selectors
from outcomes.api.serializers import (
    AttestIn,
    AuditSampleOut,
    CustomerCapIn,
    CustomerCapOut,
    CustomerDisputeOut,
    CustomerOutcomeDetailOut,
    DeliveryDetailOut,
    DeliveryOut,
    DisputeFilter,
    DisputeOpenIn,
    DisputeOut,
    DisputeRespondIn,
    DisqualifierContestAnswerIn,
    DisqualifierContestOut,
    OutcomeDetailOut,
    OutcomeFilter,
    OutcomeOut,
    ReviewDecisionIn,
    ReviewDecisionOut,
    ReviewQueueItemOut,
    VerifierAccuracyOut,
)
from outcomes.models import Party
from outcomes.rules import FLAGS
from outcomes.services.customer_caps import customer_cap_remove, customer_cap_set
from outcomes.services.review import (
    dispute_open,
    dispute_respond,
    disqualifier_contest_answer,
    review_decide,
    sample_attest,
    vendor_party,
)
from outcomes.trail import outcome_trail_for_customer


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


# --- verification: review queue and disputes (vendor) -----------------------------------


class ReviewQueueApi(VendorApiView):
    @extend_schema(
        operation_id="review_queue_list",
        responses=ReviewQueueItemOut(many=True),
        description="Flagged outcomes with the facts that raised each flag and who may decide it.",
    )
    def get(self, request: Request) -> Response:
        return self.paginated(selectors.review_queue(vendor=self.vendor), ReviewQueueItemOut)


class VerifierAccuracyApi(VendorApiView):
    pagination_class = None  # one row per verifier the vendor's policies name, all at once

    @extend_schema(
        operation_id="verifier_accuracy_list",
        responses=VerifierAccuracyOut(many=True),
        description="Each external verifier's accuracy on your outcomes: a share of its accepts is sent to a "
        "person (the verifier policy's sample_percent); accuracy is the share of the decided ones people "
        "upheld.",
    )
    def get(self, request: Request) -> Response:
        rows = selectors.verifier_accuracy(vendor=self.vendor)
        return Response(VerifierAccuracyOut(rows, many=True).data)


class OutcomeReviewApi(VendorApiView):
    @extend_schema(
        operation_id="outcomes_review",
        request=ReviewDecisionIn,
        responses={201: ReviewDecisionOut},
        # Each flag's sentence comes from the rule raising it.
        description=" ".join(
            [
                "Decide an open flag. No one decides alone what pays them: the vendor never accepts a "
                "flag whose acceptance bills the customer (403 decision_needs_other_party); the customer "
                "or a neutral operator does.",
                *(flag.who_decides for flag in FLAGS.values()),
            ]
        ),
    )
    def post(self, request: Request, outcome_id: str) -> Response:
        outcome = selectors.outcome_get(vendor=self.vendor, outcome_id=outcome_id)
        body = self.body(ReviewDecisionIn)
        party = vendor_party(body["flag_reason"])
        decision = review_decide(outcome=outcome, party=party, actor=self.actor, **body)
        return Response(ReviewDecisionOut(decision).data, status=status.HTTP_201_CREATED)


class DisputeListApi(VendorApiView):
    @extend_schema(operation_id="disputes_list", parameters=[DisputeFilter], responses=DisputeOut(many=True))
    def get(self, request: Request) -> Response:
        return self.paginated(
            selectors.dispute_list(vendor=self.vendor, **self.query(DisputeFilter)),
            DisputeOut,
            ordering=("-opened_at", "-id"),
        )


class DisputeRespondApi(VendorApiView):
    @extend_schema(
        operation_id="disputes_respond",
        request=DisputeRespondIn,
        responses=DisputeOut,
        description="Accept the dispute (no bill, or a credit on the next invoice) or reject it with evidence.",
    )
    def post(self, request: Request, dispute_id: str) -> Response:
        dispute = selectors.dispute_get(vendor=self.vendor, dispute_id=dispute_id)
        dispute = dispute_respond(dispute=dispute, actor=self.actor, **self.body(DisputeRespondIn))
        return Response(DisputeOut(dispute).data)


# --- the customer-facing API (a customer's key) -----------------------------------------


class CustomerOutcomeListApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_outcomes_list",
        parameters=[OutcomeFilter],
        responses=OutcomeOut(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = self.query(OutcomeFilter)
        return self.paginated(
            selectors.outcome_list_for_customer(customer=self.customer, **filters), OutcomeOut
        )


class CustomerOutcomeDetailApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_outcomes_retrieve",
        responses=CustomerOutcomeDetailOut,
        description="One of your outcomes with its trail, as the customer portal shows it: the raw "
        "events, every verdict and state change, decisions, the dispute and the audit sample; without "
        "what is the vendor's own (who at the vendor acted, its notes and evidence, the facts that "
        "raised a flag).",
    )
    def get(self, request: Request, outcome_id: str) -> Response:
        trail = outcome_trail_for_customer(customer=self.customer, outcome_id=outcome_id)
        return Response(CustomerOutcomeDetailOut(trail.outcome, context={"trail": trail}).data)


class CustomerOutcomeReviewApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_outcomes_review",
        request=ReviewDecisionIn,
        responses={201: ReviewDecisionOut},
        description=(
            "Confirm (accept) or deny (reject) a flagged outcome. No one decides alone what pays them: "
            "the customer never accepts a flag whose acceptance credits it, nor rejects one raised "
            "against it, such as suspected suppression (403 decision_needs_other_party)."
        ),
    )
    def post(self, request: Request, outcome_id: str) -> Response:
        outcome = selectors.outcome_get_for_customer(customer=self.customer, outcome_id=outcome_id)
        decision = review_decide(
            outcome=outcome, party=Party.CUSTOMER, actor=self.actor, **self.body(ReviewDecisionIn)
        )
        return Response(ReviewDecisionOut(decision).data, status=status.HTTP_201_CREATED)


class CustomerOutcomeDisputeApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_outcomes_dispute",
        request=DisputeOpenIn,
        responses={201: CustomerDisputeOut},
    )
    def post(self, request: Request, outcome_id: str) -> Response:
        outcome = selectors.outcome_get_for_customer(customer=self.customer, outcome_id=outcome_id)
        dispute = dispute_open(outcome=outcome, actor=self.actor, **self.body(DisputeOpenIn))
        return Response(CustomerDisputeOut(dispute).data, status=status.HTTP_201_CREATED)


class CustomerOutcomeContestApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_outcomes_contest_answer",
        request=DisqualifierContestAnswerIn,
        responses=DisqualifierContestOut,
        description=(
            "Answer a contested disqualifier (your disqualifier that the vendor's own evidence "
            "contradicts) before its deadline: withdraw it (the outcome is billed) or uphold it with "
            "evidence (a neutral operator then decides; the vendor may still concede). 404 no_contest "
            "when the outcome has none; 409 contest_closed once resolved or past the deadline."
        ),
    )
    def post(self, request: Request, outcome_id: str) -> Response:
        outcome = selectors.outcome_get_for_customer(customer=self.customer, outcome_id=outcome_id)
        contest = disqualifier_contest_answer(
            outcome=outcome, actor=self.actor, **self.body(DisqualifierContestAnswerIn)
        )
        return Response(DisqualifierContestOut(contest).data)


class CustomerOutcomeAttestApi(CustomerApiView):
    @extend_schema(
        operation_id="customer_outcomes_attest",
        request=AttestIn,
        responses=AuditSampleOut,
        description="Attest (or deny) an outcome sampled for audit, before its deadline.",
    )
    def post(self, request: Request, outcome_id: str) -> Response:
        outcome = selectors.outcome_get_for_customer(customer=self.customer, outcome_id=outcome_id)
        sample = selectors.audit_sample_get(outcome=outcome)
        sample = sample_attest(sample=sample, actor=self.actor, **self.body(AttestIn))
        return Response(AuditSampleOut(sample).data)


# --- the customer's own caps (rule 11a) ------------------------------------------------------


class ContractCustomerCapListApi(VendorApiView):
    pagination_class = None  # a contract's few outcome types, all at once

    @extend_schema(
        operation_id="contract_customer_caps_list",
        responses=CustomerCapOut(many=True),
        description="The caps the customer set for itself on the contract's outcome types (read only: "
        "only the customer sets, changes or removes them).",
    )
    def get(self, request: Request, contract_id: str) -> Response:
        contract = contract_selectors.contract_get(vendor=self.vendor, contract_id=contract_id)
        caps = contract_selectors.customer_cap_list(contract=contract)
        return Response(CustomerCapOut(caps, many=True).data)


class CustomerContractCapListApi(CustomerApiView):
    pagination_class = None

    @extend_schema(operation_id="customer_contract_caps_list", responses=CustomerCapOut(many=True))
    def get(self, request: Request, contract_id: str) -> Response:
        contract = contract_selectors.contract_get_for_customer(
            customer=self.customer, contract_id=contract_id
        )
        caps = contract_selectors.customer_cap_list(contract=contract)
        return Response(CustomerCapOut(caps, many=True).data)


class CustomerContractCapApi(CustomerApiView):
    @extend_schema(operation_id="customer_contract_caps_retrieve", responses=CustomerCapOut)
    def get(self, request: Request, contract_id: str, outcome_type: str) -> Response:
        contract = contract_selectors.contract_get_for_customer(
            customer=self.customer, contract_id=contract_id
        )
        cap = contract_selectors.customer_cap_get(contract=contract, outcome_type_key=outcome_type)
        return Response(CustomerCapOut(cap).data)

    @extend_schema(
        operation_id="customer_contract_caps_set",
        request=CustomerCapIn,
        responses=CustomerCapOut,
        description=(
            "Set or change the customer's own cap on an outcome type, per billing period: a count of "
            "outcomes, an amount in minor units of the contract's currency (max_amount_minor), or both; each at or below the "
            "contract's (400 above_contract_cap). Past it, an outcome is flagged customer_cap_exceeded "
            "for the customer's approval instead of being billed; raising the cap releases what it held."
        ),
    )
    def put(self, request: Request, contract_id: str, outcome_type: str) -> Response:
        contract = contract_selectors.contract_get_for_customer(
            customer=self.customer, contract_id=contract_id
        )
        cap = customer_cap_set(
            contract=contract, outcome_type_key=outcome_type, actor=self.actor, **self.body(CustomerCapIn)
        )
        return Response(CustomerCapOut(cap).data)

    @extend_schema(
        operation_id="customer_contract_caps_delete",
        responses={204: None},
        description="Remove the customer's own cap: what it held is evaluated again at once.",
    )
    def delete(self, request: Request, contract_id: str, outcome_type: str) -> Response:
        contract = contract_selectors.contract_get_for_customer(
            customer=self.customer, contract_id=contract_id
        )
        customer_cap_remove(contract=contract, outcome_type_key=outcome_type, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)
