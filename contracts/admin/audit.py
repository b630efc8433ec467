"""Admin for the audit log: append-only, so view only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from contracts.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Append-only: view, never add, change or delete."""

    list_display = ("at", "vendor", "actor", "action", "object_type", "object_id")
    list_filter = ("action", "object_type", "vendor")
    search_fields = ("actor", "action", "object_id")
    list_select_related = ("vendor",)
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False
