"""Full-text index over IncidentText: FTS5 on SQLite, a GIN tsvector index on PostgreSQL."""
from django.db import migrations


def create(apps, schema_editor):
    from incidents import search

    statements = search.POSTGRES_SETUP if schema_editor.connection.vendor == "postgresql" else search.SQLITE_SETUP
    for statement in statements:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    from incidents import search

    statements = search.POSTGRES_TEARDOWN if schema_editor.connection.vendor == "postgresql" else search.SQLITE_TEARDOWN
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_incident_text")]
    operations = [migrations.RunPython(create, drop)]
