from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "display_name", "email", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("username", "display_name", "email", "first_name", "last_name")
    fieldsets = DjangoUserAdmin.fieldsets + (("TaskFlow", {"fields": ("display_name",)}),)
    add_fieldsets = DjangoUserAdmin.add_fieldsets + (
        ("TaskFlow", {"fields": ("display_name",)}),
    )
