"""PostgreSQL: the search vector stored in a generated column with its own GIN index (incidents.search)."""
from django.db import migrations

# The statements are written out here, not read from incidents.search, so that this migration keeps doing
# what it did whatever that module later becomes.
SETUP = [
    "ALTER TABLE incidents_incidenttext ADD COLUMN IF NOT EXISTS body_tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED",
    "CREATE INDEX IF NOT EXISTS incidents_text_body_tsv ON incidents_incidenttext USING GIN (body_tsv)",
    "DROP INDEX IF EXISTS incidents_text_tsv",
    # Statistics of the new column, without which the planner guesses that any word matches a few rows.
    "ANALYZE incidents_incidenttext",
]
TEARDOWN = [
    "CREATE INDEX IF NOT EXISTS incidents_text_tsv ON incidents_incidenttext USING GIN (to_tsvector('simple', body))",
    "ALTER TABLE incidents_incidenttext DROP COLUMN IF EXISTS body_tsv",
]


def run(statements):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return operation


class Migration(migrations.Migration):
    dependencies = [("incidents", "0015_balance_tally_month_indexes")]
    operations = [migrations.RunPython(run(SETUP), run(TEARDOWN))]
