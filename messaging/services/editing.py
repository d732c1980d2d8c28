"""Editing and deleting chat messages and task comments.

Authors edit their own posts; every edit keeps the version it replaces (text, html and time).
People newly mentioned by an edit are notified once: the notification task is idempotent per
recipient and post, so nobody is notified twice. Deletion is soft: the row stays as a tombstone
without text (threads stay readable), its history, reactions and mentions go, and its unread
notifications disappear from every badge. The author deletes; so does a moderator (see
`can_moderate_message` / `can_moderate_comment`), whose deletion of someone else's post is
written to the log of moderation actions.

Each change stamps the thread's next sequence number and is broadcast after commit.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import record_audit
from accounts.models import AuditLog, User
from kanban import services as kanban_services
from messaging import access, realtime
from messaging.formatting import render_markdown
from messaging.mentions import extract_mentions
from messaging.models import (
    ChatMessage,
    ChatMessageEdit,
    Notification,
    TaskThreadComment,
    TaskThreadCommentEdit,
)
from messaging.selectors.notifications import unread_counts
from messaging.selectors.rooms import resolve_room_mentions
from messaging.selectors.threads import resolve_task_mentions
from messaging.services import attachments as attachment_service
from messaging.services import replies
from messaging.services.changes import lock_thread, stamp
from messaging.services.notifications import schedule_mention_notifications
from messaging.services.posting import clean_content
from search import services as search_index

DELETED_NOTIFICATION_TEXT = "This message was deleted."


def _forbidden(message: str) -> ValidationError:
    """Someone else's post in a thread the user can read: interfaces answer 403."""
    return ValidationError(message, code="forbidden")


# --- chat messages ----------------------------------------------------------------------


@transaction.atomic
def edit_chat_message(*, message: ChatMessage, editor: User, content: str) -> ChatMessage:
    """Replace the text of the editor's own message, keeping the old version."""
    content = clean_content(content)
    room = message.chat_room
    lock_thread(room)
    message = ChatMessage.objects.select_related("author").get(pk=message.pk)
    if not access.can_read_room_id(user_id=editor.pk, room_id=room.pk):
        raise ValidationError("You are not a member of this room.", code="not_member")
    if message.author_id != editor.pk:
        raise _forbidden("You can only edit your own messages.")
    if message.is_deleted:
        raise ValidationError("This message was deleted.", code="deleted")
    if content == message.content:
        return message
    mentioned = resolve_room_mentions(room, extract_mentions(content), exclude_user_id=editor.pk)
    _keep_version(ChatMessageEdit, message=message)
    newly = _apply_edit(message, room, content, mentioned)
    if newly:
        schedule_mention_notifications(kind="chat_message", object_id=message.pk)
    names = [user.username for user in mentioned]
    realtime.broadcast_on_commit(
        realtime.room_group(room.pk), realtime.message_edited_payload(message, names)
    )
    return message


@transaction.atomic
def delete_chat_message(
    *, message: ChatMessage, deleted_by: User, by_staff: bool = False
) -> ChatMessage:
    """Turn a message into a tombstone. Deleting a tombstone again changes nothing.
    `by_staff`: a site admin deleting from the Django admin (no room access needed; the
    deletion is audited like a moderator's)."""
    room = message.chat_room
    lock_thread(room)
    message = ChatMessage.objects.select_related("author").get(pk=message.pk)
    if not by_staff:
        if not access.can_read_room_id(user_id=deleted_by.pk, room_id=room.pk):
            raise ValidationError("You are not a member of this room.", code="not_member")
        if message.author_id != deleted_by.pk and not access.can_moderate_message(
            deleted_by, message
        ):
            raise _forbidden("You can only delete your own messages.")
    if message.is_deleted:
        return message
    message.edits.all().delete()
    _tombstone(message, room)
    if message.parent_id:
        replies.detach_reply(room=room, reply=message)  # the root's count and last reply
    attachment_service.discard_post_attachments(message)  # issue 12: files go after commit
    _withdraw_notifications(Notification.objects.filter(chat_message=message))
    if message.author_id != deleted_by.pk:
        _record_moderation(deleted_by, message, access.room_organization_id(room), message.author)
    realtime.broadcast_on_commit(
        realtime.room_group(room.pk), realtime.message_deleted_payload(message)
    )
    # One fewer unread message for whoever had not read it (issue 11: room_unread frames).
    realtime.room_activity_on_commit(room.pk, access.room_reader_ids(room.pk) - {message.author_id})
    return message


# --- task comments ----------------------------------------------------------------------


@transaction.atomic
def edit_task_comment(
    *, comment: TaskThreadComment, editor: User, content: str
) -> TaskThreadComment:
    """Replace the text of the editor's own comment, keeping the old version."""
    content = clean_content(content)
    task = comment.task
    lock_thread(task)
    comment = TaskThreadComment.objects.select_related("author").get(pk=comment.pk)
    if not access.can_read_task_thread_id(user_id=editor.pk, task_id=task.pk):
        raise ValidationError("You are not a member of this board.", code="not_member")
    if comment.author_id != editor.pk:
        raise _forbidden("You can only edit your own comments.")
    if comment.is_deleted:
        raise ValidationError("This comment was deleted.", code="deleted")
    if content == comment.content:
        return comment
    mentioned = resolve_task_mentions(task, extract_mentions(content), exclude_user_id=editor.pk)
    _keep_version(TaskThreadCommentEdit, comment=comment)
    newly = _apply_edit(comment, task, content, mentioned)
    if newly:
        schedule_mention_notifications(kind="comment", object_id=comment.pk)
    names = [user.username for user in mentioned]
    realtime.broadcast_on_commit(
        realtime.task_group(task.pk), realtime.comment_edited_payload(comment, names)
    )
    return comment


@transaction.atomic
def delete_task_comment(
    *, comment: TaskThreadComment, deleted_by: User, by_staff: bool = False
) -> TaskThreadComment:
    """Turn a comment into a tombstone. Deleting a tombstone again changes nothing.
    `by_staff`: as for `delete_chat_message`. The board's pages get the new comment count."""
    task = comment.task
    # The board's row lock before the task's, as when commenting (posting.post_task_comment).
    board_version = None if comment.is_deleted else kanban_services.lock_board_for(task=task)
    lock_thread(task)
    comment = TaskThreadComment.objects.select_related("author").get(pk=comment.pk)
    if not by_staff:
        if not access.can_read_task_thread_id(user_id=deleted_by.pk, task_id=task.pk):
            raise ValidationError("You are not a member of this board.", code="not_member")
        if comment.author_id != deleted_by.pk and not access.can_moderate_comment(
            deleted_by, comment
        ):
            raise _forbidden("You can only delete your own comments.")
    if comment.is_deleted or board_version is None:
        return comment
    comment.edits.all().delete()
    _tombstone(comment, task)
    kanban_services.note_comment_count(task=task, version=board_version)
    attachment_service.discard_post_attachments(comment)  # issue 12: files go after commit
    _withdraw_notifications(Notification.objects.filter(task_thread_comment=comment))
    if comment.author_id != deleted_by.pk:
        _record_moderation(deleted_by, comment, task.column.board.organization_id, comment.author)
    realtime.broadcast_on_commit(
        realtime.task_group(task.pk), realtime.comment_deleted_payload(comment)
    )
    return comment


# --- shared steps -----------------------------------------------------------------------


def _keep_version(model: type[ChatMessageEdit] | type[TaskThreadCommentEdit], **target) -> None:
    (post,) = target.values()
    model.objects.create(
        **target,
        content=post.content,
        html=post.html,
        created_at=post.edited_at or post.created_at,
        replaced_at=timezone.now(),
    )


def _apply_edit(post, thread, content: str, mentioned: list[User]) -> bool:
    """Save the new text, html and mentions; return whether anyone is newly mentioned (their
    notifications are then owed again: the task creates only the missing ones)."""
    before = set(post.mentioned_users.values_list("pk", flat=True))
    newly = [user for user in mentioned if user.pk not in before]
    post.content = content
    post.html = render_markdown(content, mentions=[user.username for user in mentioned])
    post.is_edited = True
    post.edited_at = timezone.now()
    stamp(post, thread)
    fields = ["content", "html", "is_edited", "edited_at", "seq"]
    if newly:
        post.mentions_notified_at = None
        fields.append("mentions_notified_at")
    post.save(update_fields=fields)
    post.mentioned_users.set(mentioned)
    _reindex(post)  # found by its new words, no longer by its old ones
    return bool(newly)


def _tombstone(post, thread) -> None:
    post.content = ""
    post.html = ""
    post.is_deleted = True
    stamp(post, thread)
    post.save(update_fields=["content", "html", "is_deleted", "seq"])
    post.mentioned_users.clear()
    post.reactions.all().delete()
    _reindex(post)  # a deleted post leaves the search index


def _reindex(post) -> None:
    """Keep the search index in step, in the same transaction as the change."""
    if isinstance(post, ChatMessage):
        search_index.index_message(post)
    else:
        search_index.index_comment(post)


def _withdraw_notifications(notifications) -> None:
    """Unread notifications of a deleted post go (and every badge shows the new count); read
    ones stay in the list without the text."""
    unread = list(notifications.filter(is_read=False).values_list("recipient_id", flat=True))
    notifications.filter(is_read=False).delete()
    notifications.update(text=DELETED_NOTIFICATION_TEXT)
    if unread:
        for user_id, count in unread_counts(unread).items():
            realtime.push_to_user_on_commit(user_id, realtime.unread_count_payload(count))


def _record_moderation(actor: User, post, organization_id: int, author: User) -> None:
    """A moderator removed someone else's post: write it to the organization's audit log
    (without the text, which is gone)."""
    record_audit(
        organization=organization_id,
        actor=actor,
        action=AuditLog.Action.MESSAGE_DELETED,
        target_type=post._meta.model_name,
        target_id=post.pk,
        target_label=f"{post._meta.verbose_name} by {author.username}",
        changes={"author": author.username},
    )
