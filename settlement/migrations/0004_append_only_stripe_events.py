# Stripe's raw events are append-only (contracts/append_only.py): only the processing state changes.

from django.db import migrations

from core.db.append_only import append_only_trigger


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0004_append_only_audit"),
        ("settlement", "0003_invoice_stripe_hosted_url_due_at"),
    ]

    operations = [append_only_trigger("settlement_stripeevent", "processed_at", "error")]
