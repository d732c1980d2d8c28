"""Admin for messaging. Messages and comments are read-only: moderation is deleting them,
through the editing service (a soft delete: the row stays as a tombstone without text, like a
moderator's deletion in the app, and the deletion is audited). Messages show their thread
(parent, reply count) and edit history.

Rooms change through messaging.services.rooms (`as_admin=True`), like everywhere else: a
member removed here loses their open sockets at once and the audit log records it; the board,
type, organization and creator are read-only, rooms are created in the app, and a direct
room's people are fixed (the same people always get the same room)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from kanban.access import board_readers

from .models import (
    ChatMessage,
    ChatMessageEdit,
    ChatRoom,
    Notification,
    TaskThreadComment,
    TaskThreadCommentEdit,
    UserTypingStatus,
)
from .services import rooms as room_services
from .services.editing import delete_chat_message, delete_task_comment

INLINE_MESSAGES = 50


class ChatMessageInline(admin.TabularInline):
    """The room's newest messages, read-only; tick "delete" to moderate."""

    model = ChatMessage
    fields = ("created_at", "author", "content", "parent", "is_edited", "is_deleted")
    readonly_fields = fields
    extra = 0
    max_num = 0  # no adding messages from the admin: they would bypass the posting service
    can_delete = False  # deleting goes through the message's own page (the editing service)
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
    list_display = ("name", "room_type", "board", "organization", "created_by", "created_at")
    list_filter = ("room_type", "created_at")
    list_select_related = ("board", "organization", "created_by")
    search_fields = ("name", "description", "board__name", "created_by__username")
    fields = (
        "room_type",
        "board",
        "organization",
        "name",
        "description",
        "created_by",
        "members",
        "created_at",
    )
    autocomplete_fields = ("members",)
    readonly_fields = ("room_type", "board", "organization", "created_by", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: ChatRoom | None = None):
        if obj is not None and obj.is_direct:
            return (*self.readonly_fields, "members")
        return self.readonly_fields

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
        if "members" not in form.cleaned_data:  # a direct room: its people are fixed
            for formset in formsets:
                self.save_formset(request, form, formset, change=change)
            return
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

    def delete_model(self, request: HttpRequest, obj) -> None:
        self.delete_post(post=obj, staff=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for post in queryset:
            self.delete_post(post=post, staff=request.user)

    def delete_post(self, *, post, staff) -> None:
        raise NotImplementedError

    def deleted_label(self, pk: object) -> str:
        """What the admin calls a post it deleted: never its text, which is gone (issue 10)."""
        return f"{self.opts.verbose_name} {pk}"

    def log_deletions(self, request: HttpRequest, queryset) -> list[LogEntry]:
        """Django's own log (django_admin_log, the index's "Recent actions") would keep
        `str(post)`, the first 40 characters of the deleted text: log a text-free label."""
        content_type = ContentType.objects.get_for_model(self.model, for_concrete_model=False)
        return LogEntry.objects.bulk_create(
            [
                LogEntry(
                    user_id=request.user.pk,
                    content_type_id=content_type.pk,
                    object_id=str(post.pk),
                    object_repr=self.deleted_label(post.pk),
                    action_flag=DELETION,
                )
                for post in queryset
            ]
        )

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id) -> HttpResponse:
        # obj_display is str(post) taken before the deletion: the "was deleted" message
        # would show the text just removed.
        return super().response_delete(request, self.deleted_label(obj_id), obj_id)


class _EditInline(admin.TabularInline):
    """Earlier versions of an edited post, oldest first (read-only)."""

    fields = ("created_at", "replaced_at", "content")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = "edit history (earlier versions)"


class ChatMessageEditInline(_EditInline):
    model = ChatMessageEdit


class TaskThreadCommentEditInline(_EditInline):
    model = TaskThreadCommentEdit


@admin.register(ChatMessage)
class ChatMessageAdmin(_ReadOnlyPostAdmin):
    list_display = (
        "__str__",
        "chat_room",
        "author",
        "created_at",
        "parent",
        "reply_count",
        "is_edited",
        "is_deleted",
    )
    list_filter = (
        "created_at",
        "is_edited",
        "is_deleted",
        "chat_room__room_type",
        ("parent", admin.EmptyFieldListFilter),
        ("mentions_notified_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("chat_room", "author", "parent__author", "parent__chat_room")
    raw_id_fields = ("parent",)
    inlines = [ChatMessageEditInline]

    def delete_post(self, *, post, staff) -> None:
        delete_chat_message(message=post, deleted_by=staff, by_staff=True)

    search_fields = ("content", "author__username", "chat_room__name")
    autocomplete_fields = ("author", "mentioned_users")
    date_hierarchy = "created_at"
    ordering = ("-pk",)


@admin.register(TaskThreadComment)
class TaskThreadCommentAdmin(_ReadOnlyPostAdmin):
    list_display = ("__str__", "task", "author", "created_at", "is_edited", "is_deleted")
    list_filter = (
        "created_at",
        "is_edited",
        "is_deleted",
        ("mentions_notified_at", admin.EmptyFieldListFilter),
    )
    inlines = [TaskThreadCommentEditInline]

    def delete_post(self, *, post, staff) -> None:
        delete_task_comment(comment=post, deleted_by=staff, by_staff=True)

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
    raw_id_fields = ("chat_message", "task_thread_comment", "task", "board", "chat_room")
    # Issue 11: the event key and the e-mail bookkeeping are the services' (an edited claim
    # could e-mail a notification twice).
    readonly_fields = (
        "created_at",
        "event_key",
        "dismissed_at",
        "email_claimed_at",
        "email_claim",
        "emailed_at",
    )
    date_hierarchy = "created_at"


@admin.register(UserTypingStatus)
class UserTypingStatusAdmin(admin.ModelAdmin):
    list_display = ("user", "chat_room", "last_update")
    list_filter = ("last_update",)
    list_select_related = ("user", "chat_room")
    search_fields = ("user__username", "chat_room__name")
    autocomplete_fields = ("user", "chat_room")
