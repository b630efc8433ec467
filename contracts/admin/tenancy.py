"""Admin for vendors, their team members and their customers; and the operator's audit actor."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from contracts.models import Customer, Membership, Vendor
from contracts.portal import portal_actor
from contracts.services import customers
from contracts.terms import parse
from core.errors import ValidationFailed
from core.portal import add_domain_errors


def admin_actor(request: HttpRequest) -> str:
    """The audit actor for an operator: `user:<email>`, as the portal writes it."""
    return portal_actor(request)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    raw_id_fields = ("user",)


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("id", "created_at")
    inlines = (MembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "vendor", "role", "created_at")
    list_filter = ("role", "vendor")
    search_fields = ("user__email", "user__username", "vendor__name")
    list_select_related = ("user", "vendor")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at",)


# The customer fields the admin edits; the address and tax ids are edited in the portal or the API.
CUSTOMER_FIELDS = ("name", "external_ref", "billing_email")


class CustomerForm(forms.ModelForm):
    """Validated by the services' own customer validator, so admin and API accept the same input."""

    class Meta:
        model = Customer
        fields = ("vendor", *CUSTOMER_FIELDS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        data = {name: cleaned.get(name) for name in CUSTOMER_FIELDS}
        if all(value is not None for value in data.values()):
            try:
                parse(customers.CustomerFields, data)
            except ValidationFailed as exc:
                add_domain_errors(self, exc)
        return cleaned


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerForm
    list_display = ("name", "external_ref", "vendor", "billing_email", "stripe_customer_id", "created_at")
    list_filter = ("vendor",)
    search_fields = ("name", "external_ref", "billing_email", "stripe_customer_id")
    list_select_related = ("vendor",)
    readonly_fields = (
        "id",
        "stripe_customer_id",
        "address",
        "tax_ids",
        "tax_exempt",
        "created_at",
        "updated_at",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Customer | None = None) -> tuple[str, ...]:
        # A customer never moves to another vendor: that would hand its data to a stranger.
        extra = ("vendor",) if obj is not None else ()
        return (*self.readonly_fields, *extra)

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in CUSTOMER_FIELDS}
        actor = admin_actor(request)
        if change:
            current = Customer.objects.select_related("vendor").get(pk=obj.pk)
            fields = customers.customer_fields_parse(data, current=current)
            saved = customers.customer_update(customer=current, fields=fields, actor=actor)
        else:
            fields = customers.customer_fields_parse(data)
            saved = customers.customer_create(vendor=obj.vendor, fields=fields, actor=actor)
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Customer) -> None:
        customers.customer_delete(customer=obj, actor=admin_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        for customer in queryset.select_related("vendor"):
            self.delete_model(request, customer)
