"""Customer systems of record created before sources needed the customer's approval keep speaking for the
customer: they are marked approved from their creation, by "migration:grandfathered" (docs/verification.md,
"Who may create the source that speaks for the customer"), so deployed contracts keep working and no
past confirmation changes meaning."""

from typing import Any

from django.db import migrations
from django.db.models import F

GRANDFATHERED = "migration:grandfathered"


def grandfather(apps: Any, schema_editor: Any) -> None:
    WebhookSource = apps.get_model("contracts", "WebhookSource")
    WebhookSource.objects.filter(kind="customer_system", approved_at__isnull=True).update(
        approved_at=F("created_at"), approved_by=GRANDFATHERED
    )


def forget(apps: Any, schema_editor: Any) -> None:
    WebhookSource = apps.get_model("contracts", "WebhookSource")
    WebhookSource.objects.filter(approved_by=GRANDFATHERED).update(approved_at=None, approved_by="")


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0010_webhook_source_customer_approval"),
    ]

    operations = [migrations.RunPython(grandfather, forget)]
