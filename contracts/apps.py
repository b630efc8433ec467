from django.apps import AppConfig
from django.core import checks


class ContractsConfig(AppConfig):
    name = "contracts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contracts.checks import field_encryption_keys_check, field_encryption_single_key_check

        checks.register(field_encryption_keys_check, checks.Tags.security)
        checks.register(field_encryption_single_key_check, checks.Tags.security, deploy=True)
