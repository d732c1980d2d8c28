from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse


class User(AbstractUser):
    """A TaskFlow user. `display_name` is optional; the username stands in for it."""

    class Theme(models.TextChoices):
        AUTO = "auto", "Match my device"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    display_name = models.CharField(max_length=80, blank=True)
    # Colour theme of every page (templates/base.html); "auto" follows prefers-color-scheme.
    theme = models.CharField(max_length=5, choices=Theme.choices, default=Theme.AUTO)
    # Issue 15: the posting identity of an incoming webhook (webhooks.IncomingWebhook.bot).
    # It has no usable password (nobody logs in as it) and no board or organization: the
    # room rule (messaging.access) lets it into the one room its webhook posts to.
    is_bot = models.BooleanField(default=False)

    def get_display_name(self) -> str:
        return self.display_name or self.username

    def get_absolute_url(self) -> str:
        return reverse("accounts:profile")


class Organization(models.Model):
    """A workspace: the outer boundary of every board, room and person picker. Its people are
    its `Membership`s; a board belongs to exactly one organization."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        "User", through="Membership", related_name="organizations", blank=True
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("orgs:detail", args=[self.slug])


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey("User", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="uniq_membership")
        ]
        indexes = [models.Index(fields=["user", "organization"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def can_manage(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class Invitation(models.Model):
    """An e-mailed invitation to join an organization. The link carries a signed token
    (`accounts.invitations`); the row makes it single-use and revocable."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    # Random and secret: part of the signed token, so a token for a revoked row is dead.
    key = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        "User", on_delete=models.SET_NULL, null=True, related_name="invitations_sent"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        "User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitations_accepted",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} to {self.organization}"


class AuditLog(models.Model):
    """Who changed what, in which organization. Append-only: rows are written by the services
    (`accounts.audit.record_audit`) in the transaction of the change, and never edited."""

    class Action(models.TextChoices):
        ORG_CREATED = "org.created", "Organization created"
        ORG_RENAMED = "org.renamed", "Organization renamed"
        MEMBER_INVITED = "member.invited", "Member invited"
        MEMBER_JOINED = "member.joined", "Member joined"
        MEMBER_ROLE_CHANGED = "member.role_changed", "Member role changed"
        MEMBER_REMOVED = "member.removed", "Member removed"
        BOARD_CREATED = "board.created", "Board created"
        BOARD_RENAMED = "board.renamed", "Board renamed"
        BOARD_DELETED = "board.deleted", "Board deleted"
        BOARD_MEMBER_ADDED = "board.member_added", "Board member added"
        BOARD_MEMBER_REMOVED = "board.member_removed", "Board member removed"
        ROOM_CREATED = "room.created", "Room created"
        ROOM_RENAMED = "room.renamed", "Room renamed"
        ROOM_DELETED = "room.deleted", "Room deleted"
        ROOM_MEMBER_ADDED = "room.member_added", "Room member added"
        ROOM_MEMBER_REMOVED = "room.member_removed", "Room member removed"
        TASK_DELETED = "task.deleted", "Task deleted"
        MESSAGE_DELETED = "message.deleted", "Message deleted by a moderator"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="audit_logs"
    )
    actor = models.ForeignKey(
        "User", on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_logs"
    )
    # The actor's username when the row was written: survives deleting the user.
    actor_label = models.CharField(max_length=150, blank=True)
    # No `choices` on the column: a new action is a new enum member, not a migration.
    action = models.CharField(max_length=40, db_index=True)
    target_type = models.CharField(max_length=40)
    target_id = models.BigIntegerField(null=True, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.actor_label or 'system'} {self.action} {self.target_label}"

    @property
    def action_label(self) -> str:
        try:
            return self.Action(self.action).label
        except ValueError:
            return self.action


class NotificationPreferences(models.Model):
    """How a person wants to hear by e-mail about what they have not read (issue 11). One row
    per user, created on first save; a user without one gets the defaults (`immediate`).
    The field names are the e-mailed notification types (messaging's Notification.Type)."""

    class Email(models.TextChoices):
        IMMEDIATE = "immediate", "At once (after the delay)"
        HOURLY = "hourly", "Hourly digest"
        NEVER = "never", "Never"

    # The kinds that are e-mailed, in the order the preferences page lists them.
    KINDS = ("direct_message", "mention", "reply", "task_assigned")

    user = models.OneToOneField(
        "User", on_delete=models.CASCADE, related_name="notification_preferences"
    )
    direct_message = models.CharField(
        "Direct messages", max_length=10, choices=Email.choices, default=Email.IMMEDIATE
    )
    mention = models.CharField(
        "Mentions", max_length=10, choices=Email.choices, default=Email.IMMEDIATE
    )
    reply = models.CharField(
        "Replies to your threads", max_length=10, choices=Email.choices, default=Email.IMMEDIATE
    )
    task_assigned = models.CharField(
        "Tasks assigned to you", max_length=10, choices=Email.choices, default=Email.IMMEDIATE
    )
    # When the last hourly digest went out: the next is due an hour later.
    last_digest_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"e-mail preferences of {self.user_id}"

    def mode(self, kind: str) -> str:
        return getattr(self, kind, self.Email.NEVER) if kind in self.KINDS else self.Email.NEVER
