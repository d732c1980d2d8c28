"""The engine-specific text index beside the SearchDocument table.

PostgreSQL: a GIN index on the stored tsvector (`search_vector`, written by the index
services with settings.SEARCH_LANGUAGE).
SQLite: an FTS5 table over `text` with the document table as its external content, kept in
step by triggers, so every write path (services, cascading deletes, reindex) updates it.
"""

from django.conf import settings
from django.db import migrations

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE search_fts USING fts5(
        text, content='search_searchdocument', content_rowid='id', tokenize='{tokenize}'
    )""",
    """CREATE TRIGGER search_fts_ai AFTER INSERT ON search_searchdocument BEGIN
        INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER search_fts_ad AFTER DELETE ON search_searchdocument BEGIN
        INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER search_fts_au AFTER UPDATE OF text ON search_searchdocument BEGIN
        INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text);
    END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS search_fts_au",
    "DROP TRIGGER IF EXISTS search_fts_ad",
    "DROP TRIGGER IF EXISTS search_fts_ai",
    "DROP TABLE IF EXISTS search_fts",
]
POSTGRES_FORWARD = [
    "CREATE INDEX search_vector_gin ON search_searchdocument USING gin (search_vector)",
]
POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS search_vector_gin"]


def sqlite_tokenizer() -> str:
    language = getattr(settings, "SEARCH_LANGUAGE", "english")
    return "porter unicode61 remove_diacritics 2" if language == "english" else "unicode61 remove_diacritics 2"


def forward(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement.format(tokenize=sqlite_tokenizer()))
    elif vendor == "postgresql":
        for statement in POSTGRES_FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}.get(vendor, [])
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
