# The raw inbox is append-only (contracts/append_only.py): deliveries, their answers, their events and
# tamper evidence are never updated (processing state is the OutcomeEvent link) nor deleted.

from django.db import migrations

from core.db.append_only import append_only_trigger


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0004_append_only_audit"),
        ("outcomes", "0003_daily_counters"),
    ]

    operations = [
        append_only_trigger("outcomes_delivery"),
        append_only_trigger("outcomes_deliveryresult"),
        append_only_trigger("outcomes_rawevent"),
        append_only_trigger("outcomes_tamperevidence"),
        append_only_trigger("outcomes_outcometransition"),
    ]
