"""Portal pages of the contracts app: contracts, settings (sources, keys, team) and the audit log."""

from django.urls import path

from contracts.views import audit, contracts, settings

app_name = "contracts"

urlpatterns = [
    path("contracts/", contracts.contract_list, name="contract-list"),
    path("contracts/new/", contracts.contract_create, name="contract-create"),
    path("contracts/<str:contract_id>/", contracts.contract_detail, name="contract-detail"),
    path("contracts/<str:contract_id>/edit/", contracts.contract_edit, name="contract-edit"),
    path("contracts/<str:contract_id>/amend/", contracts.contract_amend, name="contract-amend"),
    path(
        "contracts/<str:contract_id>/<str:move>/", contracts.contract_transition, name="contract-transition"
    ),
    path("settings/", settings.settings_home, name="settings"),
    path("settings/sources/", settings.source_create, name="source-create"),
    path("settings/sources/<str:source_id>/", settings.source_detail, name="source-detail"),
    path("settings/sources/<str:source_id>/rotate/", settings.source_rotate, name="source-rotate"),
    path("settings/sources/<str:source_id>/revoke/", settings.source_revoke, name="source-revoke"),
    path("settings/api-keys/", settings.api_key_create, name="api-key-create"),
    path("settings/api-keys/<str:api_key_id>/revoke/", settings.api_key_revoke, name="api-key-revoke"),
    path("settings/team/", settings.member_add, name="member-add"),
    path("settings/team/<str:membership_id>/role/", settings.member_role, name="member-role"),
    path("settings/team/<str:membership_id>/remove/", settings.member_remove, name="member-remove"),
    path("settings/invoice-details/", settings.invoice_details_page, name="invoice-details"),
    path("audit/", audit.audit_log, name="audit-log"),
]
