"""Admin for messaging. Messages and comments are read-only: moderation is deleting them
(the history endpoints and pages simply stop returning a deleted row).

Rooms change through messaging.services.rooms (`as_admin=True`), like everywhere else: a
member removed here loses their open sockets at once and the audit log records it; the board
and creator are read-only, and rooms are created in the app."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from kanban.access import board_readers

from .models import ChatMessage, ChatRoom, Notification, TaskThreadComment, UserTypingStatus
from .services import rooms as room_services

INLINE_MESSAGES = 50


class ChatMessageInline(admin.TabularInline):
    """The room's newest messages, read-only; tick "delete" to moderate."""

    model = ChatMessage
    fields = ("created_at", "author", "content", "client_id")
    readonly_fields = fields
    extra = 0
    max_num = 0  # no adding messages from the admin: they would bypass the posting service
    can_delete = True
    show_change_link = True
    ordering = ("-pk",)
    verbose_name_plural = f"newest {INLINE_MESSAGES} messages"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChatMessage]:
        queryset = super().get_queryset(request).select_related("author")
        room_id = (request.resolver_match.kwargs if request.resolver_match else {}).get("object_id")
        if room_id is None or not (str(room_id).isascii() and str(room_id).isdigit()):
            return queryset.none()
        newest = (
            ChatMessage.objects.filter(chat_room_id=room_id)
            .order_by("-pk")
            .values_list("pk", flat=True)[:INLINE_MESSAGES]
        )
        return queryset.filter(pk__in=list(newest))


class ChatRoomAdminForm(forms.ModelForm):
    class Meta:
        model = ChatRoom
        fields = ("name", "description", "members")

    def clean_members(self) -> QuerySet:
        members = self.cleaned_data["members"]
        room = self.instance
        current = set(room.members.values_list("pk", flat=True))
        readers = board_readers(room.board_id).values("pk")
        outsiders = members.exclude(pk__in=current).exclude(pk__in=readers)
        if outsiders:
            names = ", ".join(sorted(u.username for u in outsiders))
            raise ValidationError(f"Only members of the board can join this room (not: {names}).")
        if not members.filter(pk=room.created_by_id).exists():
            raise ValidationError("The room's creator cannot be removed.")
        return members


@admin.register(ChatRoom)
class ChatRoomAdmin(admin.ModelAdmin):
    form = ChatRoomAdminForm
    list_display = ("name", "board", "created_by", "created_at")
    list_filter = ("created_at",)
    list_select_related = ("board", "created_by")
    search_fields = ("name", "description", "board__name", "created_by__username")
    fields = ("board", "name", "description", "created_by", "members", "created_at")
    autocomplete_fields = ("members",)
    readonly_fields = ("board", "created_by", "created_at")
    inlines = [ChatMessageInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rooms are created on their board, by its members

    def save_model(self, request: HttpRequest, obj: ChatRoom, form, change: bool) -> None:
        if {"name", "description"} & set(form.changed_data):
            room_services.rename_chat_room(
                room=ChatRoom.objects.select_related("board").get(pk=obj.pk),
                name=obj.name,
                description=obj.description,
                renamed_by=request.user,
                as_admin=True,
            )

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """Members through add_room_member/remove_room_member (which close a removed
        member's sockets), never the form's raw m2m save."""
        room = form.instance
        wanted = {user.pk: user for user in form.cleaned_data["members"]}
        current = {user.pk: user for user in room.members.all()}
        for user_id in set(current) - set(wanted):
            room_services.remove_room_member(
                room=room, user=current[user_id], removed_by=request.user, as_admin=True
            )
        for user_id in set(wanted) - set(current):
            room_services.add_room_member(
                room=room, user=wanted[user_id], added_by=request.user, as_admin=True
            )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: ChatRoom) -> None:
        room_services.delete_chat_room(room=obj, deleted_by=request.user, as_admin=True)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ChatRoom]) -> None:
        for room in queryset:
            self.delete_model(request, room)


class _ReadOnlyPostAdmin(admin.ModelAdmin):
    """Posts go through the posting services; the admin only views and deletes them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ChatMessage)
class ChatMessageAdmin(_ReadOnlyPostAdmin):
    list_display = ("__str__", "chat_room", "author", "created_at", "mentions_notified_at")
    list_filter = ("created_at", ("mentions_notified_at", admin.EmptyFieldListFilter))
    list_select_related = ("chat_room", "author")
    search_fields = ("content", "author__username", "chat_room__name")
    autocomplete_fields = ("author", "mentioned_users")
    date_hierarchy = "created_at"
    ordering = ("-pk",)


@admin.register(TaskThreadComment)
class TaskThreadCommentAdmin(_ReadOnlyPostAdmin):
    list_display = ("__str__", "task", "author", "created_at", "mentions_notified_at")
    list_filter = ("created_at", ("mentions_notified_at", admin.EmptyFieldListFilter))
    list_select_related = ("task", "author")
    search_fields = ("content", "author__username", "task__title")
    autocomplete_fields = ("author", "mentioned_users")
    date_hierarchy = "created_at"
    ordering = ("-pk",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("recipient", "notification_type", "sender", "created_at", "is_read")
    list_filter = ("notification_type", "is_read", "created_at")
    list_select_related = ("recipient", "sender")
    search_fields = ("text", "recipient__username", "sender__username")
    autocomplete_fields = ("recipient", "sender")
    raw_id_fields = ("chat_message", "task_thread_comment")
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"


@admin.register(UserTypingStatus)
class UserTypingStatusAdmin(admin.ModelAdmin):
    list_display = ("user", "chat_room", "last_update")
    list_filter = ("last_update",)
    list_select_related = ("user", "chat_room")
    search_fields = ("user__username", "chat_room__name")
    autocomplete_fields = ("user", "chat_room")
