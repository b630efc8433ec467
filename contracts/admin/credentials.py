"""Admin for credentials: API keys and webhook sources with their secrets, created only by their services
(a secret is shown once); here they are named, viewed and revoked."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from contracts.admin.tenancy import admin_actor
from contracts.models import ApiKey, WebhookSecret, WebhookSource
from contracts.services import credentials


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created by the service (the plaintext is shown once); only the name may change."""

    list_display = ("name", "display", "vendor", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter), "vendor")
    search_fields = ("name", "prefix", "vendor__name")
    list_select_related = ("vendor",)
    fields = (
        "name",
        "display",
        "vendor",
        "scope",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = tuple(name for name in fields if name != "name")
    actions = ("revoke",)

    @admin.display(description="Key")
    def display(self, obj: ApiKey) -> str:
        return f"vrt_{obj.prefix}_…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead: the audit log keeps naming the key by its prefix

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset.select_related("vendor"):
            credentials.api_key_revoke(api_key=api_key, actor=admin_actor(request))
        self.message_user(request, f"Revoked {queryset.count()} API key(s).", messages.SUCCESS)


class WebhookSecretInline(admin.TabularInline):
    model = WebhookSecret
    extra = 0
    fields = ("__str__", "hint", "created_at", "expires_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookSource)
class WebhookSourceAdmin(admin.ModelAdmin):
    """Sources are created by the service (the signing secret is shown once); only the name may change.

    No approval here: only the customer approves its system of record, with its own API key (an operator
    cannot tell the customer's request from the vendor's, and would see the new secret)."""

    list_display = ("name", "kind", "customer", "vendor", "created_at", "approved_at", "revoked_at")
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter), "vendor")
    search_fields = ("name", "id", "customer__name", "customer__external_ref", "vendor__name")
    list_select_related = ("customer", "vendor")
    fields = (
        "id",
        "name",
        "kind",
        "vendor",
        "customer",
        "endpoint",
        "created_at",
        "approved_at",
        "approved_by",
        "revoked_at",
    )
    readonly_fields = tuple(name for name in fields if name != "name")
    inlines = (WebhookSecretInline,)
    actions = ("revoke",)

    @admin.display(description="Endpoint")
    def endpoint(self, obj: WebhookSource) -> str:
        return f"/webhooks/v1/sources/{obj.pk}/events"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookSource | None = None) -> bool:
        return False  # revoke instead: received events keep pointing at their source

    @admin.action(description="Revoke selected webhook sources", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[WebhookSource]) -> None:
        for source in queryset.select_related("vendor"):
            credentials.webhook_source_revoke(source=source, actor=admin_actor(request))
        self.message_user(request, f"Revoked {queryset.count()} webhook source(s).", messages.SUCCESS)


@admin.register(WebhookSecret)
class WebhookSecretAdmin(admin.ModelAdmin):
    """View only; the encrypted secret is never displayed. Rotation goes through the API."""

    list_display = ("__str__", "source", "created_at", "expires_at")
    list_filter = (("expires_at", admin.EmptyFieldListFilter),)
    search_fields = ("source__name", "source__id", "hint")
    list_select_related = ("source",)
    fields = ("source", "hint", "created_at", "expires_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookSecret | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookSecret | None = None) -> bool:
        return False
