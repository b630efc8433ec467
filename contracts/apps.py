from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.core import checks


class ContractsConfig(AppConfig):
    name = "contracts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contracts.checks import field_encryption_keys_check, field_encryption_single_key_check

        checks.register(field_encryption_keys_check, checks.Tags.security)
        checks.register(field_encryption_single_key_check, checks.Tags.security, deploy=True)


class OperatorAdminConfig(admin_apps.AdminConfig):
    """Django's admin with Verity's site: for operators, never for a member of a vendor's team."""

    default = False  # named in INSTALLED_APPS; "contracts" itself stays ContractsConfig
    default_site = "contracts.admin_site.OperatorAdminSite"
