"""Portal pages of the contracts app: contracts, settings (sources, keys, team, invoice details) and the
audit log."""

from django.urls import path

from contracts.views import api_keys, audit, contracts, invoice_details, settings, sources, team

app_name = "contracts"

urlpatterns = [
    path("contracts/", contracts.contract_list_page, name="contract-list"),
    path("contracts/new/", contracts.contract_create_page, name="contract-create"),
    path("contracts/<str:contract_id>/", contracts.contract_detail_page, name="contract-detail"),
    path("contracts/<str:contract_id>/edit/", contracts.contract_edit_page, name="contract-edit"),
    path("contracts/<str:contract_id>/amend/", contracts.contract_amend_page, name="contract-amend"),
    path(
        "contracts/<str:contract_id>/<str:move>/",
        contracts.contract_transition_page,
        name="contract-transition",
    ),
    path("settings/", settings.settings_home, name="settings"),
    path("settings/sources/", sources.source_create_page, name="source-create"),
    path("settings/sources/<str:source_id>/", sources.source_detail_page, name="source-detail"),
    path("settings/sources/<str:source_id>/rotate/", sources.source_rotate_page, name="source-rotate"),
    path("settings/sources/<str:source_id>/revoke/", sources.source_revoke_page, name="source-revoke"),
    path("settings/api-keys/", api_keys.api_key_create_page, name="api-key-create"),
    path("settings/api-keys/<str:api_key_id>/revoke/", api_keys.api_key_revoke_page, name="api-key-revoke"),
    path("settings/team/", team.member_add_page, name="member-add"),
    path("settings/team/<str:membership_id>/role/", team.member_role_page, name="member-role"),
    path("settings/team/<str:membership_id>/remove/", team.member_remove_page, name="member-remove"),
    path("settings/invoice-details/", invoice_details.invoice_details_page, name="invoice-details"),
    path("audit/", audit.audit_log_page, name="audit-log"),
]
