from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Outbound webhooks and alert emails: the room that listens to every domain (they never import it)."""

    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The domain apps publish through core.events; the outbox records in their transaction.
        from core.events import events_recorder_register
        from notifications.outbox import events_record

        events_recorder_register(events_record)
