"""Each room and task keeps its change counter on its own row (`last_seq`), starting from the
highest `seq` its posts already carry, so numbers handed out after the upgrade never repeat."""

from django.db import migrations, models
from django.db.models import Max, OuterRef, Subquery
from django.db.models.functions import Coalesce


def start_counters(apps, schema_editor):
    ChatRoom = apps.get_model("messaging", "ChatRoom")
    ChatMessage = apps.get_model("messaging", "ChatMessage")
    Task = apps.get_model("kanban", "Task")
    TaskThreadComment = apps.get_model("messaging", "TaskThreadComment")
    for thread_model, post_model, field in (
        (ChatRoom, ChatMessage, "chat_room"),
        (Task, TaskThreadComment, "task"),
    ):
        top = (
            post_model.objects.filter(**{field: OuterRef("pk")})
            .order_by()
            .values(field)
            .annotate(top=Max("seq"))
            .values("top")
        )
        thread_model.objects.update(
            last_seq=Coalesce(Subquery(top, output_field=models.PositiveBigIntegerField()), 0)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0005_attachments"),
        ("kanban", "0006_task_last_seq"),
    ]

    operations = [
        migrations.AddField(
            model_name="chatroom",
            name="last_seq",
            field=models.PositiveBigIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(start_counters, migrations.RunPython.noop),
    ]
