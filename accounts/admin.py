from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .confusables import lookalike_username_taken
from .forms import LOOKALIKE_MESSAGE
from .models import AuditLog, Membership, Organization, User


class ServicePasswordChangeForm(AdminPasswordChangeForm):
    """The admin's "change password" for another user, through `services.set_password`, so
    the user's open sockets close like their sessions stop working."""

    def save(self, commit: bool = True) -> User:
        if not commit:
            return super().save(commit=False)
        usable = self.cleaned_data.get("set_usable_password", True)
        password = self.cleaned_data.get("password1") if usable else None
        return services.set_password(user=self.user, password=password)


class LookalikeCheckedCreationForm(AdminUserCreationForm):
    """Staff adding a user meet the same look-alike rule as sign-up."""

    def clean_username(self) -> str:
        username = super().clean_username()
        if username and lookalike_username_taken(username):
            raise forms.ValidationError(LOOKALIKE_MESSAGE, code="lookalike")
        return username


class LookalikeCheckedChangeForm(UserChangeForm):
    """Renaming a user in the admin: not to a name that looks like someone else's."""

    def clean_username(self) -> str:
        username = self.cleaned_data.get("username")
        if (
            username
            and "username" in self.changed_data
            and lookalike_username_taken(username, exclude_pk=self.instance.pk)
        ):
            raise forms.ValidationError(LOOKALIKE_MESSAGE, code="lookalike")
        return username


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "display_name", "email", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("username", "display_name", "email", "first_name", "last_name")
    fieldsets = (*DjangoUserAdmin.fieldsets, ("TaskFlow", {"fields": ("display_name",)}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("TaskFlow", {"fields": ("display_name",)}))
    actions = ["deactivate_users"]
    change_password_form = ServicePasswordChangeForm
    add_form = LookalikeCheckedCreationForm
    form = LookalikeCheckedChangeForm

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

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        """Deleting a user closes their open sockets too (services.delete_user)."""
        services.delete_user(user=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.delete_user(user=user)


class MembershipInline(admin.TabularInline):
    """Read-only: people join by invitation and are managed on the organization's page
    (accounts.org_services keeps the last owner and closes removed members' sockets)."""

    model = Membership
    fields = ("user", "role", "joined_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    readonly_fields = ("name", "slug", "created_at")
    inlines = (MembershipInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Append-only: staff read the log; nobody adds, edits or deletes a row here."""

    list_display = ("created_at", "organization", "actor_label", "action", "target_label")
    list_filter = ("action", "organization", "created_at")
    search_fields = ("actor_label", "target_label", "organization__name")
    list_select_related = ("organization",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
