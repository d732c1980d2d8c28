from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "display_name", "email", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("username", "display_name", "email", "first_name", "last_name")
    fieldsets = (*DjangoUserAdmin.fieldsets, ("TaskFlow", {"fields": ("display_name",)}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("TaskFlow", {"fields": ("display_name",)}))
    actions = ["deactivate_users"]

    @admin.action(description="Deactivate selected users (and close their live connections)")
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = 0
        for user in queryset:
            if user.pk == request.user.pk:
                self.message_user(request, "You cannot deactivate yourself.", messages.ERROR)
                continue
            services.deactivate_user(user=user)
            count += 1
        if count:
            self.message_user(request, f"Deactivated {count} user(s).", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: User, form, change: bool) -> None:
        """Unticking "active" on the change form goes through the same service as the
        action, so the user's open sockets close as well."""
        deactivating = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if deactivating:
            services.deactivate_user(user=obj)
