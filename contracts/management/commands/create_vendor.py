"""`manage.py create_vendor --name NAME --slug SLUG --owner-email EMAIL --base-url URL`: a vendor and its
first owner, with a link where the owner sets a password (printed once, on the last line)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts.services.members import set_password_link
from contracts.services.vendors import VendorFields, vendor_create
from contracts.terms import parse
from core.errors import DomainError

ACTOR = "system:cli"


class Command(BaseCommand):
    help = "Create a vendor and its first owner; prints the link where the owner sets a password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="The vendor's name, e.g. 'Acme Agents'.")
        parser.add_argument(
            "--slug", required=True, help="Lower-case letters, digits and dashes, e.g. 'acme'."
        )
        parser.add_argument("--owner-email", required=True, help="The first owner's email (their login).")
        parser.add_argument(
            "--base-url", required=True, help="Where the portal is served, e.g. https://verity.example.com"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data = {"name": options["name"], "slug": options["slug"], "owner_email": options["owner_email"]}
        try:
            membership = vendor_create(fields=parse(VendorFields, data), actor=ACTOR)
        except DomainError as exc:
            details = "; ".join(
                f"{field}: {error['message']}"
                for field, errors in exc.field_errors.items()
                for error in errors
            )
            raise CommandError(f"{exc.message}{' (' + details + ')' if details else ''}") from exc
        vendor, user = membership.vendor, membership.user
        self.stdout.write(f"Vendor {vendor.name} ({vendor.slug}) created; owner {user.email}.")
        self.stdout.write("The owner sets a password here (the link works once):")
        self.stdout.write(set_password_link(user=user, base_url=options["base_url"]))
