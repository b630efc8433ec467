"""A vendor's team: add a member by email with a role, change a role, remove a member.

A new user gets an email with a link to set a password (Django's password-reset token). Owners and
admins manage the team; only an owner grants the owner role or changes or removes an owner; a vendor
always keeps at least one owner.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, User
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from pydantic import AfterValidator, Field

from contracts.audit import audit_record
from contracts.models import Membership, Role, Vendor
from contracts.services.customers import valid_email
from contracts.terms import Terms
from core.errors import Conflict, PermissionDenied, ValidationFailed

RoleName = Literal["owner", "admin", "viewer"]


class MemberFields(Terms):
    email: Annotated[str, Field(max_length=254), AfterValidator(valid_email)]
    role: RoleName


class RoleFields(Terms):
    role: RoleName


def _lock_vendor(vendor: Vendor) -> None:
    # Serializes team changes of one vendor: two admins demoting the last two owners at once must
    # not both see "another owner remains".
    Vendor.objects.select_for_update().filter(pk=vendor.pk).first()


def _require_manager(by: Membership) -> None:
    if not by.can_write:
        raise PermissionDenied("Viewers cannot change the team.")


def _require_owner_for(by: Membership, *roles: str) -> None:
    if Role.OWNER in roles and by.role != Role.OWNER:
        raise PermissionDenied("Only an owner can grant, change or remove the owner role.")


def _other_owners(membership: Membership) -> bool:
    return (
        Membership.objects.filter(vendor_id=membership.vendor_id, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    )


def set_password_link(*, user: AbstractUser, base_url: str) -> str:
    """A link where the person sets their password (Django's password-reset confirmation: it works once,
    until the password changes, and expires after PASSWORD_RESET_TIMEOUT)."""
    return base_url.rstrip("/") + reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )


def invitation_email_send(
    *, user: AbstractUser, subject: str, template: str, context: dict[str, Any], base_url: str
) -> None:
    """Email a person invited to a portal (a vendor's team, a customer's) the link to set their password."""
    link = set_password_link(user=user, base_url=base_url)
    send_mail(
        subject=subject,
        message=render_to_string(template, {**context, "link": link, "email": user.email}),
        from_email=None,
        recipient_list=[user.email],
    )


def _send_set_password_email(*, user: AbstractUser, vendor: Vendor, base_url: str) -> None:
    invitation_email_send(
        user=user,
        subject=f"You have been added to {vendor.name} on Verity",
        template="registration/member_invitation_email.txt",
        context={"vendor": vendor},
        base_url=base_url,
    )


def user_for_email(email: str) -> User:
    """The person with this email (the first, if several), else a new user without a usable password
    (they set one through the invitation's link). Call inside the caller's transaction."""
    user_model = get_user_model()
    user = user_model.objects.filter(email__iexact=email).order_by("pk").first()
    if user is None:
        user = user_model.objects.create_user(username=email, email=email)
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def member_add(
    *, vendor: Vendor, fields: MemberFields, by: Membership, actor: str, base_url: str
) -> Membership:
    """Add a person by email. A new user (or one who never set a password) is emailed a link to set
    one, after the commit. A person belongs to at most one vendor."""
    _require_manager(by)
    _require_owner_for(by, fields.role)
    with transaction.atomic():
        _lock_vendor(vendor)
        user = user_for_email(fields.email)
        existing = Membership.objects.filter(user=user).first()
        if existing is not None:
            where = "this team" if existing.vendor_id == vendor.pk else "another vendor's team"
            raise ValidationFailed.on_field("email", "already_member", f"This person is already in {where}.")
        membership = Membership.objects.create(user=user, vendor=vendor, role=fields.role)
        audit_record(
            vendor=vendor,
            actor=actor,
            action="member.added",
            target=membership,
            at=timezone.now(),
            details={"email": user.email, "role": fields.role},
        )
        if not user.has_usable_password():
            transaction.on_commit(
                lambda: _send_set_password_email(user=user, vendor=vendor, base_url=base_url)
            )
    return membership


def member_change_role(*, membership: Membership, role: RoleName, by: Membership, actor: str) -> Membership:
    """Give a member another role; the last owner stays an owner."""
    _require_manager(by)
    with transaction.atomic():
        _lock_vendor(membership.vendor)
        current = Membership.objects.select_related("user").get(pk=membership.pk)
        _require_owner_for(by, role, current.role)
        if current.role == role:
            return current
        if current.role == Role.OWNER and not _other_owners(current):
            raise Conflict(
                "A vendor needs at least one owner: make someone else owner first.", code="last_owner"
            )
        Membership.objects.filter(pk=current.pk).update(role=role)
        audit_record(
            vendor=current.vendor,
            actor=actor,
            action="member.role_changed",
            target=current,
            at=timezone.now(),
            details={"email": current.user.email, "from": current.role, "to": role},
        )
    membership.refresh_from_db()
    return membership


def member_remove(*, membership: Membership, by: Membership, actor: str) -> None:
    """Take a person off the team (their user remains, without access); never the last owner."""
    _require_manager(by)
    with transaction.atomic():
        _lock_vendor(membership.vendor)
        current = Membership.objects.select_related("user").filter(pk=membership.pk).first()
        if current is None:
            return  # removed meanwhile: nothing left to do
        _require_owner_for(by, current.role)
        if current.role == Role.OWNER and not _other_owners(current):
            raise Conflict(
                "A vendor needs at least one owner: make someone else owner first.", code="last_owner"
            )
        audit_record(
            vendor=current.vendor,
            actor=actor,
            action="member.removed",
            target=current,
            at=timezone.now(),
            details={"email": current.user.email, "role": current.role},
        )
        current.delete()
