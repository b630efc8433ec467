"""The outbound event catalogue: every type the issue names is there, each example is a valid envelope of
its type, the checks refuse a clashing or duplicated type, and the OpenAPI document lists exactly it."""

from __future__ import annotations

import dataclasses

import fastjsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from core.events import CUSTOMER, VENDOR, EventType
from notifications.api.schema import component_name
from notifications.catalogue import (
    COMMON_DATA_SCHEMA,
    EVENT_TYPES,
    EVENT_TYPES_BY_NAME,
    catalogue_problems,
    envelope_example,
    envelope_schema,
)

ISSUE_TYPES = {
    "outcome.billable",
    "outcome.rejected",
    "outcome.flagged",
    "outcome.reversed",
    "outcome.clawed_back",
    "review.decided",
    "dispute.opened",
    "dispute.deadline_approaching",
    "dispute.resolved",
    "audit_sample.requested",
    "audit_sample.deadline_approaching",
    "invoice.draft_created",
    "invoice.awaiting_approval",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.overdue",
    "credit_note.created",
    "budget.threshold_reached",
    "cap.reached",
    "contract.activated",
    "contract.amended",
    "source.secret_expiring",
    "endpoint.disabled",
    "webhook.test",
}

ALL = pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda event_type: event_type.name)


def test_every_type_the_issue_names_is_in_the_catalogue_sorted_by_name() -> None:
    names = [event_type.name for event_type in EVENT_TYPES]

    assert set(names) >= ISSUE_TYPES
    assert names == sorted(names)
    assert len(names) == len(set(names))
    assert {event_type.name: event_type for event_type in EVENT_TYPES} == EVENT_TYPES_BY_NAME


def test_the_catalogue_as_declared_has_no_problems() -> None:
    assert catalogue_problems(EVENT_TYPES) == []


def test_vendor_internal_types_are_not_sent_to_customers() -> None:
    vendor_only_types = {
        event_type.name for event_type in EVENT_TYPES if CUSTOMER not in event_type.audiences
    }

    assert {"endpoint.disabled", "source.secret_expiring"} <= vendor_only_types
    assert "outcome.billable" not in vendor_only_types
    assert all(VENDOR in event_type.audiences for event_type in EVENT_TYPES)


@ALL
def test_each_example_is_a_valid_envelope_of_its_type(event_type: EventType) -> None:
    validate = fastjsonschema.compile(envelope_schema(event_type))
    example = envelope_example(event_type)

    assert validate(example) == example
    assert example["type"] == event_type.name
    assert example["data"]["object"] == event_type.object


@ALL
def test_the_envelope_refuses_another_type_and_unknown_or_missing_keys(event_type: EventType) -> None:
    validate = fastjsonschema.compile(envelope_schema(event_type))
    example = envelope_example(event_type)
    other = next(name for name in EVENT_TYPES_BY_NAME if name != event_type.name)

    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validate({**example, "type": other})
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validate({**example, "data": {**example["data"], "unknown_key": 1}})
    without_links = {key: value for key, value in example["data"].items() if key != "links"}
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validate({**example, "data": without_links})


@ALL
def test_a_customer_endpoint_body_without_the_vendor_only_keys_is_valid(event_type: EventType) -> None:
    """Customer endpoints receive the data less the vendor-only keys: those are never required."""
    example = envelope_example(event_type)
    data = {key: value for key, value in example["data"].items() if key not in event_type.vendor_only}

    assert not event_type.vendor_only & set(event_type.data_schema.get("required", []))
    assert fastjsonschema.compile(envelope_schema(event_type))({**example, "data": data})["data"] == data


def test_a_type_whose_data_reuses_a_common_key_is_refused() -> None:
    billable = EVENT_TYPES_BY_NAME["outcome.billable"]
    clashing = dataclasses.replace(
        billable,
        name="outcome.clashing",
        data_schema={
            **billable.data_schema,
            "properties": {**billable.data_schema["properties"], "contract_id": {"type": "string"}},
        },
    )

    assert catalogue_problems([billable, clashing]) == [
        "outcome.clashing: `contract_id` clashes with the envelope's common data"
    ]


def test_a_name_declared_twice_is_refused() -> None:
    billable = EVENT_TYPES_BY_NAME["outcome.billable"]

    assert catalogue_problems([billable, billable]) == ["outcome.billable: declared twice"]


def test_bad_names_audiences_schemas_and_vendor_only_keys_are_refused() -> None:
    billable = EVENT_TYPES_BY_NAME["outcome.billable"]
    odd = dataclasses.replace(
        billable,
        name="Outcome-Odd",
        audiences=frozenset({CUSTOMER}),
        data_schema={"type": "object", "properties": {}},
        example={},
        vendor_only=frozenset({"notes"}),
    )

    assert catalogue_problems([odd]) == [
        "Outcome-Odd: not an `<object>.<what_happened>` name in lower case",
        "Outcome-Odd: audiences ['customer']: the vendor's and maybe the customer's",
        "Outcome-Odd: its data schema is not an object with additionalProperties false",
        "Outcome-Odd: vendor-only `notes` is not in its data schema",
    ]


def test_the_envelope_schema_holds_the_common_keys_then_the_type_specific_ones() -> None:
    billable = EVENT_TYPES_BY_NAME["outcome.billable"]
    data = envelope_schema(billable)["properties"]["data"]

    assert list(data["properties"])[: len(COMMON_DATA_SCHEMA["properties"])] == list(
        COMMON_DATA_SCHEMA["properties"]
    )
    assert set(data["properties"]) == set(COMMON_DATA_SCHEMA["properties"]) | set(
        billable.data_schema["properties"]
    )
    assert data["required"] == [*COMMON_DATA_SCHEMA["required"], *billable.data_schema["required"]]
    assert data["properties"]["object"]["const"] == "outcome"


def test_the_openapi_webhooks_section_lists_exactly_the_catalogue() -> None:
    document = SchemaGenerator().get_schema(request=None, public=True)
    webhooks = document["webhooks"]

    assert list(webhooks) == [event_type.name for event_type in EVENT_TYPES]
    for event_type in EVENT_TYPES:
        operation = webhooks[event_type.name]["post"]
        body = operation["requestBody"]["content"]["application/json"]
        name = component_name(event_type)
        assert list(webhooks[event_type.name]) == ["post"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{name}"}
        assert document["components"]["schemas"][name] == envelope_schema(event_type)
        assert body["example"] == envelope_example(event_type)
        assert [(p["name"], p["in"], p["required"]) for p in operation["parameters"]] == [
            ("webhook-id", "header", True),
            ("webhook-timestamp", "header", True),
            ("webhook-signature", "header", True),
        ]
        assert "2XX" in operation["responses"]
        assert operation["tags"] == ["Events sent"]
