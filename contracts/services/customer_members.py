"""A customer's people in the customer portal: a vendor's owner or admin, or the customer's own admin,
invites them by email with a role (viewer, approver, admin), changes a role, removes one.

A customer's admin manages only its own customer's people (another customer's is NotFound), and may not
remove or demote the customer's last admin, itself included (Conflict `last_admin`): the customer keeps
someone who can manage its people and controls. The vendor's owners and admins are not held to that.

An invitee without a password gets the same set-password email flow as a vendor's member, and signs in
at the same page. A person may be a member of customers of several vendors, and of a vendor's team too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import AfterValidator, Field

from contracts.audit import audit_record
from contracts.models import Customer, CustomerMembership, CustomerRole, Membership
from contracts.services.customers import valid_email
from contracts.services.members import invitation_email_send, user_for_email
from contracts.terms import Terms
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

CustomerRoleName = Literal["viewer", "approver", "admin"]


class CustomerMemberFields(Terms):
    email: Annotated[str, Field(max_length=254), AfterValidator(valid_email)]
    role: CustomerRoleName


class CustomerRoleFields(Terms):
    role: CustomerRoleName


Manager = Membership | CustomerMembership
"""Who decides: a vendor's member (owner or admin), or a person of the customer (its admin)."""


def _require_manager(by: Manager, customer: Customer) -> None:
    """Who may manage this customer's people: the vendor's owners and admins, and the customer's own
    admins. Anyone else of the vendor or of the customer is refused; another vendor's member, or another
    customer's person, finds no such customer."""
    if isinstance(by, CustomerMembership):
        if by.customer_id != customer.pk:
            raise NotFound("No such customer.")  # another customer's person: as if it did not exist
        if by.role != CustomerRole.ADMIN:
            raise PermissionDenied("Only the customer's admins change its people.")
        return
    if by.vendor_id != customer.vendor_id:
        raise NotFound("No such customer.")  # another vendor's customer: as if it did not exist
    if not by.can_write:
        raise PermissionDenied("Viewers cannot change a customer's members.")


def _keep_an_admin(membership: CustomerMembership, *, by: Manager, role: str | None) -> None:
    """A customer's admin may not leave the customer without an admin: removing (`role` None) or
    demoting its last one is a Conflict. Locks the customer's admins (call inside the transaction)."""
    if not isinstance(by, CustomerMembership) or role == CustomerRole.ADMIN:
        return
    admins = list(
        CustomerMembership.objects.select_for_update()
        .filter(customer_id=membership.customer_id, role=CustomerRole.ADMIN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if admins == [membership.pk]:
        raise Conflict(
            "This is the customer's last admin: make someone else an admin first.", code="last_admin"
        )


def customer_member_invite(
    *, customer: Customer, fields: CustomerMemberFields, by: Manager, actor: str, base_url: str
) -> CustomerMembership:
    """Invite a person to a customer's portal by email. Someone without a password yet is emailed a link
    to set one, after the commit; someone who has one signs in as they do already."""
    _require_manager(by, customer)
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
    *, membership: CustomerMembership, role: CustomerRoleName, by: Manager, actor: str
) -> CustomerMembership:
    _require_manager(by, membership.customer)
    with transaction.atomic():
        _keep_an_admin(membership, by=by, role=role)
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


def customer_member_remove(*, membership: CustomerMembership, by: Manager, actor: str) -> None:
    """Take a person off a customer (their user remains, with their other memberships)."""
    _require_manager(by, membership.customer)
    with transaction.atomic():
        _keep_an_admin(membership, by=by, role=None)
        if CustomerMembership.objects.filter(pk=membership.pk).delete()[0]:
            audit_record(
                vendor=membership.customer.vendor,
                actor=actor,
                action="customer_member.removed",
                target=membership,
                at=timezone.now(),
                details={"email": membership.user.email, "role": membership.role},
            )
