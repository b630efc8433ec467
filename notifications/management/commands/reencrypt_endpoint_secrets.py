"""`manage.py reencrypt_endpoint_secrets`: rewrite every outbound webhook endpoint's signing secret with the
first FIELD_ENCRYPTION_KEYS key; run it beside `reencrypt_secrets` when rotating those keys."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts.services.credentials import webhook_secrets_reencrypt
from notifications.models import EndpointSecret


class Command(BaseCommand):
    help = (
        "Re-encrypt outbound webhook endpoints' signing secrets with the first FIELD_ENCRYPTION_KEYS key. "
        "Safe to run again; fails (listing secret ids) if a secret is readable by no configured key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Secrets per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = webhook_secrets_reencrypt(batch_size=options["batch_size"], model=EndpointSecret)
        self.stdout.write(
            f"Re-encrypted {result.reencrypted} endpoint secret(s); {result.current} already used the first key."
        )
        if result.unreadable:
            ids = ", ".join(str(pk) for pk in result.unreadable)
            raise CommandError(
                f"{len(result.unreadable)} endpoint secret(s) could not be decrypted with any configured key "
                f"(ids {ids}): put back the key that encrypted them and run again."
            )
