# The audit log is append-only (contracts/append_only.py); a vendor's deletion no longer takes it along.

import django.db.models.deletion
from django.db import migrations, models

from core.db.append_only import append_only_function, append_only_trigger


class Migration(migrations.Migration):
    dependencies = [("contracts", "0003_contract_approval_threshold")]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="vendor",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="audit_entries",
                to="contracts.vendor",
            ),
        ),
        append_only_function(),
        append_only_trigger("contracts_auditentry"),
    ]
