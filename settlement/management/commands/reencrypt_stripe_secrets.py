"""`manage.py reencrypt_stripe_secrets`: rewrite every vendor's Stripe key and webhook secret with the first
FIELD_ENCRYPTION_KEYS key; run it beside `reencrypt_secrets` when rotating those keys."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from settlement.stripe_connections.credentials import stripe_connection_secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt vendors' Stripe keys and webhook secrets with the first FIELD_ENCRYPTION_KEYS key. Safe to "
        "run again; fails (listing connection ids) if a secret is readable by no configured key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = stripe_connection_secrets_reencrypt()
        self.stdout.write(
            f"Re-encrypted {result.reencrypted} Stripe connection(s); {result.current} already used the first key."
        )
        if result.unreadable:
            ids = ", ".join(str(pk) for pk in result.unreadable)
            raise CommandError(
                f"{len(result.unreadable)} Stripe connection(s) could not be decrypted with any configured key "
                f"(ids {ids}): put back the key that encrypted them and run again."
            )
