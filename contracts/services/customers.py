"""Customers of a vendor: create, update (including what Stripe Tax needs: address, tax ids, exemption),
delete (only while nothing refers to them)."""

from __future__ import annotations

from typing import Annotated

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from contracts.audit import audit_record
from contracts.billing_details import Address, TaxExemption, TaxIds
from contracts.models import Customer, Vendor
from contracts.terms import Terms, parse
from core.errors import Conflict


def valid_email(value: str) -> str:
    # Django's validator, so the API and the portal's forms accept exactly the same addresses.
    try:
        validate_email(value)
    except DjangoValidationError:
        raise PydanticCustomError("invalid_email", "Enter a valid email address.") from None
    return value


class CustomerFields(Terms):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    external_ref: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")]
    billing_email: Annotated[str, Field(max_length=254), AfterValidator(valid_email)]
    address: Address | None = Field(default=None, description="null: no billing address.")
    tax_ids: TaxIds = Field(default_factory=list)
    tax_exempt: TaxExemption = "none"


def _duplicate_ref(external_ref: str) -> Conflict:
    return Conflict(
        f"A customer with external_ref {external_ref!r} already exists.",
        code="duplicate_external_ref",
        field_errors={
            "external_ref": [{"code": "duplicate", "message": "Already used by another customer."}]
        },
    )


def customer_fields_parse(data: object, *, current: Customer | None = None) -> CustomerFields:
    """A customer's fields from a body (the API's, a form's, the admin's); with `current`, the body is a
    partial update over that customer's values (fields not given keep their value)."""
    if current is not None and isinstance(data, dict):
        data = {**{name: getattr(current, name) for name in CustomerFields.model_fields}, **data}
    return parse(CustomerFields, data)


def customer_create(*, vendor: Vendor, fields: CustomerFields, actor: str) -> Customer:
    try:
        with transaction.atomic():
            customer = Customer.objects.create(vendor=vendor, **fields.model_dump())
            audit_record(
                vendor=vendor,
                actor=actor,
                action="customer.created",
                target=customer,
                at=customer.created_at,
            )
    except IntegrityError:
        raise _duplicate_ref(fields.external_ref) from None
    return customer


def customer_update(*, customer: Customer, fields: CustomerFields, actor: str) -> Customer:
    """Set the customer's fields (customer_fields_parse reads a partial body over its values); audited
    with the fields that changed."""
    current = {name: getattr(customer, name) for name in CustomerFields.model_fields}
    changed = {k: v for k, v in fields.model_dump().items() if current[k] != v}
    if not changed:
        return customer
    try:
        with transaction.atomic():
            Customer.objects.filter(pk=customer.pk).update(**changed, updated_at=timezone.now())
            audit_record(
                vendor=customer.vendor,
                actor=actor,
                action="customer.updated",
                target=customer,
                at=timezone.now(),
                details={"fields": sorted(changed)},
            )
    except IntegrityError:
        raise _duplicate_ref(fields.external_ref) from None
    customer.refresh_from_db()
    return customer


def customer_delete(*, customer: Customer, actor: str) -> None:
    """Delete a customer that has no contracts and no webhook sources."""
    try:
        with transaction.atomic():
            audit_record(
                vendor=customer.vendor,
                actor=actor,
                action="customer.deleted",
                target=customer,
                at=timezone.now(),
                details={"external_ref": customer.external_ref},
            )
            customer.delete()
    except ProtectedError:
        raise Conflict(
            "This customer has contracts or webhook sources; terminate or revoke them instead.",
            code="customer_in_use",
        ) from None
