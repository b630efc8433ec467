"""`manage.py create_api_key --vendor <slug> --name NAME [--scope write|read]`: the key is printed once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts.models import ApiKey, Vendor
from contracts.services.credentials import api_key_create

ACTOR = "system:cli"


class Command(BaseCommand):
    help = "Create an API key for a vendor and print it. Only a hash is stored: copy the key now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--vendor", required=True, help="The vendor's slug.")
        parser.add_argument("--name", required=True, help="A label for the key, e.g. 'billing sync'.")
        parser.add_argument("--scope", choices=ApiKey.Scope.values, default=ApiKey.Scope.WRITE)

    def handle(self, *args: Any, **options: Any) -> None:
        vendor = Vendor.objects.filter(slug=options["vendor"]).first()
        if vendor is None:
            raise CommandError(f"No vendor with slug {options['vendor']!r}.")
        name = options["name"].strip()
        max_length = ApiKey._meta.get_field("name").max_length or 0
        if not 1 <= len(name) <= max_length:
            raise CommandError(f"--name must be 1 to {max_length} characters.")
        api_key, raw_key = api_key_create(vendor=vendor, name=name, scope=options["scope"], actor=ACTOR)
        # The key alone on the last line, so a script can take it with `tail -n 1`.
        self.stdout.write(f"API key {api_key.name!r} ({api_key.scope}) for {vendor.name}; shown only now:")
        self.stdout.write(raw_key)
