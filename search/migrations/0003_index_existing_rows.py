"""Index what already exists when search is added to an installation with data: every message,
comment and task gets its row (with its tsvector on PostgreSQL; the FTS5 triggers fill the
SQLite index). Plain SQL over the tables, so later model changes cannot break it. Later
rebuilds: `manage.py reindex_search`."""

from django.conf import settings
from django.db import migrations

MARKS = ("\ue000", "\ue001")  # search.engine's snippet markers, never stored
NULL = "CAST(NULL AS bigint)"
COLUMNS = (
    "kind, object_id, message_id, comment_id, room_id, task_id, board_id, author_id, "
    "created_at, text, has_attachments, indexed_at"
)


def _clean(expression: str) -> str:
    return f"replace(replace({expression}, %s, ' '), %s, ' ')"


def forward(apps, schema_editor) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    now = "CURRENT_TIMESTAMP"
    columns = COLUMNS + (", search_vector" if postgres else "")
    task_text = _clean(
        "CASE WHEN t.description = '' THEN t.title ELSE t.title || %s || t.description END"
    )
    selects = [
        (
            f"SELECT 'message', m.id, m.id, {NULL}, m.chat_room_id, {NULL}, r.board_id, m.author_id, "
            f"m.created_at, {_clean('m.content')} AS body, %s, {now} "
            "FROM messaging_chatmessage m JOIN messaging_chatroom r ON r.id = m.chat_room_id",
            [*MARKS, False],
        ),
        (
            f"SELECT 'comment', c.id, {NULL}, c.id, {NULL}, c.task_id, col.board_id, c.author_id, "
            f"c.created_at, {_clean('c.content')} AS body, %s, {now} "
            "FROM messaging_taskthreadcomment c JOIN kanban_task t ON t.id = c.task_id "
            "JOIN kanban_column col ON col.id = t.column_id",
            [*MARKS, False],
        ),
        (
            f"SELECT 'task', t.id, {NULL}, {NULL}, {NULL}, t.id, col.board_id, t.created_by_id, "
            f"t.created_at, {task_text} AS body, %s, {now} "
            "FROM kanban_task t JOIN kanban_column col ON col.id = t.column_id",
            ["\n\n", *MARKS, False],
        ),
    ]
    for select, params in selects:
        if postgres:
            sql = (
                f"INSERT INTO search_searchdocument ({columns}) "
                f"SELECT s.*, to_tsvector(%s::regconfig, s.body) FROM ({select}) s "
                "ON CONFLICT (kind, object_id) DO NOTHING"
            )
            params = [settings.SEARCH_LANGUAGE, *params]
        else:
            sql = (
                f"INSERT INTO search_searchdocument ({columns}) {select} WHERE true "
                "ON CONFLICT (kind, object_id) DO NOTHING"
            )
        schema_editor.execute(sql, params)


class Migration(migrations.Migration):
    dependencies = [("search", "0002_text_index")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
