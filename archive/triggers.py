"""Database triggers that make the audit log append-only on SQLite and PostgreSQL."""

SQLITE_CREATE = [
    """CREATE TRIGGER IF NOT EXISTS archive_auditevent_no_update BEFORE UPDATE ON archive_auditevent
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS archive_auditevent_no_delete BEFORE DELETE ON archive_auditevent
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS archive_auditevent_no_update",
    "DROP TRIGGER IF EXISTS archive_auditevent_no_delete",
]
POSTGRES_CREATE = [
    """CREATE OR REPLACE FUNCTION archive_auditevent_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'the audit log is append-only'; END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS archive_auditevent_no_change ON archive_auditevent",
    """CREATE TRIGGER archive_auditevent_no_change BEFORE UPDATE OR DELETE ON archive_auditevent
       FOR EACH ROW EXECUTE FUNCTION archive_auditevent_append_only()""",
    "DROP TRIGGER IF EXISTS archive_auditevent_no_truncate ON archive_auditevent",
    """CREATE TRIGGER archive_auditevent_no_truncate BEFORE TRUNCATE ON archive_auditevent
       FOR EACH STATEMENT EXECUTE FUNCTION archive_auditevent_append_only()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS archive_auditevent_no_change ON archive_auditevent",
    "DROP TRIGGER IF EXISTS archive_auditevent_no_truncate ON archive_auditevent",
]


def _run(connection, statements):
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def create(connection):
    _run(connection, POSTGRES_CREATE if connection.vendor == "postgresql" else SQLITE_CREATE)


def drop(connection):
    _run(connection, POSTGRES_DROP if connection.vendor == "postgresql" else SQLITE_DROP)
