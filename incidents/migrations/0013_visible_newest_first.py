"""PostgreSQL: the list's newest-first order within the incidents a reader may see, in one index.

0011's incident_visible_by_date gives SQLite the list's order under the visibility columns, so
a deep page is found in the index alone. On PostgreSQL the newest-first order (date_start DESC
NULLS LAST) needs an index of its own (0006); putting the visibility columns first lets a
page's ids come from an index-only scan there too, instead of reading every row it skips.
Records only (a partial index): PostgreSQL does not keep an index's order after an IS NULL
condition on an earlier column, as it does after an equality.
"""
from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS incident_visible_newest_first ON incidents_incident "
    "(status, visibility, date_start DESC NULLS LAST, id DESC) WHERE draft_of_id IS NULL"
)
DROP = "DROP INDEX IF EXISTS incident_visible_newest_first"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0011_list_index_with_id")]
    operations = [migrations.RunPython(create, drop)]
