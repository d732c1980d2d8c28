"""Tokens in the admin: read-only (secrets are never stored, so there is nothing to show or
edit); staff revoke them through the service, e.g. for a compromised account."""

from __future__ import annotations

from django.contrib import admin, messages

from . import tokens
from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = [field.name for field in ApiToken._meta.fields]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # made by their owner, who alone sees the secret

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the row is the record of what the token did

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        for token in queryset:
            tokens.revoke_token(token=token, revoked_by=request.user, as_admin=True)
        messages.success(request, f"{queryset.count()} token(s) revoked.")
