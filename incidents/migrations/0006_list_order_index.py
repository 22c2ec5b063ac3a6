"""PostgreSQL: an index for the incident list's default order, newest first with undated incidents last.

The list (incidents.filters.SORTS["date"]) orders by date_start DESC NULLS
LAST, id DESC. The index of 0001 (date_start DESC, id DESC) serves that order
on SQLite, where NULL sorts lowest and so comes last when descending, and
serves oldest-first on both databases; on PostgreSQL a descending index puts
NULL first, so without this one every list page sorts the whole table.
SQLite does not accept NULLS LAST in CREATE INDEX, hence SQL per database
(as in 0005) rather than a Meta index.
"""
from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS incident_newest_first ON incidents_incident (date_start DESC NULLS LAST, id DESC)"
)
DROP = "DROP INDEX IF EXISTS incident_newest_first"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0005_search_index")]
    operations = [migrations.RunPython(create, drop)]
