"""The Django admin's site: for operators only.

The admin lists every vendor's data, so a person who belongs to a vendor's team never enters it, even if
someone marked them staff: they work in the portal, which shows only their vendor. Operators are staff
accounts outside every team (`manage.py createsuperuser`, or the demo's `operator`).
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from contracts.models import Membership


class OperatorAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not super().has_permission(request) or not user.is_authenticated:
            return False
        return not Membership.objects.filter(user=user).exists()
