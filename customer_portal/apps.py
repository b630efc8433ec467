from django.apps import AppConfig


class CustomerPortalConfig(AppConfig):
    name = "customer_portal"
    default_auto_field = "django.db.models.BigAutoField"
