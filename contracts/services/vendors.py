"""A new vendor and its first owner: how a real deployment starts, without the Django admin or a shell; and the
vendor's details as its invoices show the seller (name, address, tax ids)."""

from __future__ import annotations

from typing import Annotated

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import AfterValidator, Field

from contracts.audit import audit_record
from contracts.billing_details import Address, TaxIds
from contracts.models import Membership, Role, Vendor
from contracts.services.customers import valid_email
from contracts.terms import Terms, parse
from core.errors import Conflict, ValidationFailed


class VendorFields(Terms):
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S(.*\S)?$")]
    slug: Annotated[str, Field(min_length=2, max_length=80, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    owner_email: Annotated[str, AfterValidator(valid_email)]


def vendor_create(*, fields: VendorFields, actor: str) -> Membership:
    """Create a vendor and its first owner (a person without a password yet: they set one through a
    set-password link). Refused if the slug is taken or the person already belongs to a vendor."""
    user_model = get_user_model()
    with transaction.atomic():
        if Vendor.objects.filter(slug=fields.slug).exists():
            raise Conflict(f"A vendor with slug {fields.slug!r} already exists.", code="duplicate_slug")
        user = user_model.objects.filter(email__iexact=fields.owner_email).order_by("pk").first()
        if user is not None and Membership.objects.filter(user=user).exists():
            raise ValidationFailed.on_field(
                "owner_email", "already_member", "This person already belongs to a vendor's team."
            )
        if user is None:
            user = user_model.objects.create_user(username=fields.owner_email, email=fields.owner_email)
            user.set_unusable_password()
            user.save(update_fields=["password"])
        try:
            vendor = Vendor.objects.create(name=fields.name, slug=fields.slug)
        except IntegrityError as exc:  # a concurrent create took the slug
            raise Conflict(
                f"A vendor with slug {fields.slug!r} already exists.", code="duplicate_slug"
            ) from exc
        membership = Membership.objects.create(user=user, vendor=vendor, role=Role.OWNER)
        audit_record(
            vendor=vendor,
            actor=actor,
            action="vendor.created",
            target=vendor,
            at=timezone.now(),
            details={"owner_email": user.email},
        )
    return membership


class VendorInvoiceDetails(Terms):
    """The seller as the vendor's invoices name it."""

    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S(.*\S)?$")]
    address: Address | None = Field(default=None, description="null: no address.")
    tax_ids: TaxIds = Field(default_factory=list)


def vendor_invoice_details_parse(data: dict[str, object], *, vendor: Vendor) -> VendorInvoiceDetails:
    """The seller's details from a partial body over the vendor's current ones."""
    current = {name: getattr(vendor, name) for name in VendorInvoiceDetails.model_fields}
    return parse(VendorInvoiceDetails, {**current, **data})


def vendor_invoice_details_update(*, vendor: Vendor, details: VendorInvoiceDetails, actor: str) -> Vendor:
    """Set the seller's name, address and tax ids; audited with the fields that changed."""
    current = {name: getattr(vendor, name) for name in VendorInvoiceDetails.model_fields}
    changed = {name: value for name, value in details.model_dump().items() if current[name] != value}
    if not changed:
        return vendor
    with transaction.atomic():
        Vendor.objects.filter(pk=vendor.pk).update(**changed)
        audit_record(
            vendor=vendor,
            actor=actor,
            action="vendor.updated",
            target=vendor,
            at=timezone.now(),
            details={"fields": sorted(changed)},
        )
    vendor.refresh_from_db()
    return vendor
