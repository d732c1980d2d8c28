from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse


class Board(models.Model):
    """A kanban board shared by its members, inside one organization (whose members are the
    only people who can be added). The creator is always a member."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="boards"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="boards_created"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="boards")
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped by every service that changes what the board page shows, under the board's row
    # lock: board frames carry it, and a client that sees a gap fetches the board's state.
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("kanban:board_detail", args=[self.pk])


class Column(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=80)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["board", "position", "id"]
        indexes = [models.Index(fields=["board", "position"])]

    def __str__(self) -> str:
        return f"{self.board.name} / {self.name}"


class Task(models.Model):
    class Priority(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    column = models.ForeignKey(Column, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tasks",
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    due_date = models.DateField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks_created"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    labels = models.ManyToManyField("Label", blank=True, related_name="tasks")
    # The comment thread's change counter: the `seq` its latest change got
    # (messaging.services.changes).
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["column", "position", "id"]
        indexes = [models.Index(fields=["column", "position"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("kanban:task_detail", args=[self.pk])


class Label(models.Model):
    """A board's label. Colours come from a fixed palette whose text/background pairs meet
    WCAG AA contrast (static/css/board.css defines `.label-<colour>`)."""

    class Colour(models.TextChoices):
        GREY = "grey", "Grey"
        RED = "red", "Red"
        ORANGE = "orange", "Orange"
        YELLOW = "yellow", "Yellow"
        GREEN = "green", "Green"
        TEAL = "teal", "Teal"
        BLUE = "blue", "Blue"
        PURPLE = "purple", "Purple"

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=40)
    colour = models.CharField(max_length=10, choices=Colour.choices, default=Colour.GREY)

    class Meta:
        ordering = ["board", "name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "board", name="uniq_label_name_per_board"),
        ]

    def __str__(self) -> str:
        return self.name


class ChecklistItem(models.Model):
    """One line of a task's checklist; positions are dense 0..n-1 per task."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="checklist_items")
    text = models.CharField(max_length=200)
    done = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["task", "position", "id"]
        indexes = [models.Index(fields=["task", "position"])]

    def __str__(self) -> str:
        return self.text


class TaskActivity(models.Model):
    """What happened to a task, by whom and when; written by the service that made the change,
    in its transaction. `data` holds the before/after values as plain text, so the entry still
    reads right after the column or label it names is renamed or deleted."""

    class Kind(models.TextChoices):
        CREATED = "created", "created"
        MOVED = "moved", "moved"
        ASSIGNED = "assigned", "assigned"
        DUE_DATE = "due_date", "due date changed"
        LABELS = "labels", "labels changed"
        TITLE = "title", "title changed"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="activities")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["task", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.task_id} {self.kind}"

    @property
    def text(self) -> str:
        """What the entry says after the actor's name ("moved this from To Do to Done")."""
        from .activity import activity_text

        return activity_text(self.kind, self.data)


class DueReminder(models.Model):
    """A due-date reminder that was sent: one per task, kind and due date (the constraint makes
    the beat task idempotent; a new due date earns new reminders)."""

    class Kind(models.TextChoices):
        DUE_SOON = "due_soon", "due tomorrow"
        OVERDUE = "overdue", "overdue"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="due_reminders")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    due_date = models.DateField()
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["task", "kind", "due_date"], name="uniq_due_reminder_per_task_kind_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for task {self.task_id} due {self.due_date}"
