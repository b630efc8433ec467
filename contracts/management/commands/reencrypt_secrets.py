"""`manage.py reencrypt_secrets`: rewrite every stored webhook signing secret with the first
FIELD_ENCRYPTION_KEYS key, the step between prepending a new key and removing the old one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts.services.credentials import webhook_secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt webhook signing secrets with the first FIELD_ENCRYPTION_KEYS key. Safe to run "
        "again; fails (listing secret ids) if a secret is readable by no configured key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Secrets per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = webhook_secrets_reencrypt(batch_size=options["batch_size"])
        self.stdout.write(
            f"Re-encrypted {result.reencrypted} webhook secret(s); {result.current} already used the first key."
        )
        if result.unreadable:
            ids = ", ".join(str(pk) for pk in result.unreadable)
            raise CommandError(
                f"{len(result.unreadable)} secret(s) could not be decrypted with any configured key "
                f"(ids {ids}): put back the key that encrypted them and run again."
            )
