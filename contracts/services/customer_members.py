"""A customer's people in the customer portal: a vendor's owner or admin invites them by email with a role
(viewer, approver, admin), changes a role, removes one.

An invitee without a password gets the same set-password email flow as a vendor's member, and signs in
at the same page. A person may be a member of customers of several vendors, and of a vendor's team too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import AfterValidator, Field

from contracts.audit import audit_record
from contracts.models import Customer, CustomerMembership, Membership
from contracts.services.customers import valid_email
from contracts.services.members import invitation_email_send, user_for_email
from contracts.terms import Terms
from core.errors import NotFound, PermissionDenied, ValidationFailed

CustomerRoleName = Literal["viewer", "approver", "admin"]


class CustomerMemberFields(Terms):
    email: Annotated[str, Field(max_length=254), AfterValidator(valid_email)]
    role: CustomerRoleName


class CustomerRoleFields(Terms):
    role: CustomerRoleName


def _require_vendor_manager(by: Membership, customer: Customer) -> None:
    if by.vendor_id != customer.vendor_id:
        raise NotFound("No such customer.")  # another vendor's customer: as if it did not exist
    if not by.can_write:
        raise PermissionDenied("Viewers cannot change a customer's members.")


def customer_member_invite(
    *, customer: Customer, fields: CustomerMemberFields, by: Membership, actor: str, base_url: str
) -> CustomerMembership:
    """Invite a person to a customer's portal by email. Someone without a password yet is emailed a link
    to set one, after the commit; someone who has one signs in as they do already."""
    _require_vendor_manager(by, customer)
    with transaction.atomic():
        user = user_for_email(fields.email)
        try:
            with transaction.atomic():  # a savepoint: the unique (user, customer) pair is the guard
                membership = CustomerMembership.objects.create(user=user, customer=customer, role=fields.role)
        except IntegrityError:
            raise ValidationFailed.on_field(
                "email", "already_member", "This person is already a member of this customer."
            ) from None
        audit_record(
            vendor=customer.vendor,
            actor=actor,
            action="customer_member.invited",
            target=membership,
            at=timezone.now(),
            details={"customer_id": str(customer.pk), "email": user.email, "role": fields.role},
        )
        if not user.has_usable_password():
            transaction.on_commit(
                lambda: invitation_email_send(
                    user=user,
                    subject=f"You have been invited to {customer.name}'s account with {customer.vendor.name} on Verity",
                    template="registration/customer_member_invitation_email.txt",
                    context={"customer": customer, "vendor": customer.vendor},
                    base_url=base_url,
                )
            )
    return membership


def customer_member_change_role(
    *, membership: CustomerMembership, role: CustomerRoleName, by: Membership, actor: str
) -> CustomerMembership:
    _require_vendor_manager(by, membership.customer)
    with transaction.atomic():
        previous = membership.role
        if CustomerMembership.objects.filter(pk=membership.pk).exclude(role=role).update(role=role):
            audit_record(
                vendor=membership.customer.vendor,
                actor=actor,
                action="customer_member.role_changed",
                target=membership,
                at=timezone.now(),
                details={"email": membership.user.email, "from": previous, "to": role},
            )
    membership.refresh_from_db()
    return membership


def customer_member_remove(*, membership: CustomerMembership, by: Membership, actor: str) -> None:
    """Take a person off a customer (their user remains, with their other memberships)."""
    _require_vendor_manager(by, membership.customer)
    with transaction.atomic():
        if CustomerMembership.objects.filter(pk=membership.pk).delete()[0]:
            audit_record(
                vendor=membership.customer.vendor,
                actor=actor,
                action="customer_member.removed",
                target=membership,
                at=timezone.now(),
                details={"email": membership.user.email, "role": membership.role},
            )
