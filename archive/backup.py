"""Consistent online backups of the archive (the database and every stored file) and their restore.

A backup is a directory, readable by its owner only:

    manifest.json                     every file with its SHA-256 and size, the database dump's SHA-256,
                                      the audit head, counts of the main tables, the applied migrations
    database.sqlite3 | database.pgdump
    files/objects/ab/cd/<sha256>      the stored files, under their storage names

The database is copied as one snapshot while the archive keeps running:
SQLite's backup API in a single step, or pg_dump inside a snapshot exported by
a REPEATABLE READ transaction. The list of files, the counts and the audit head
are read from that same snapshot. Stored files are content-addressed and are
written before the row naming them commits, so every file the snapshot names is
already on disk, and files arriving later belong to rows the snapshot lacks.

The manifest is written last: a directory without one is an unfinished backup.
Restoring checks every hash before it touches anything, refuses a database or
file store that is not empty (unless forced), and afterwards compares what it
restored with the manifest and re-verifies the audit chain.
"""
import datetime
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path, PurePosixPath

import django
from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction

from . import audit
from .models import AuditEvent

FORMAT = 1
MANIFEST = "manifest.json"
FILES_DIR = "files"
DUMP_NAMES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
CHUNK = 1024 * 1024
COUNTED_APPS = ("archive", "incidents", "sources")
# libpq reads these from the environment, so no password appears on a command line.
PG_OPTION_VARIABLES = {
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE", "service": "PGSERVICE", "connect_timeout": "PGCONNECT_TIMEOUT",
}


class BackupError(Exception):
    pass


def sha256_of_file(path):
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def counted_tables():
    """Model label -> table, for the tables whose row counts a manifest records."""
    models = [apps.get_model("auth", "User"), apps.get_model("auth", "Group")]
    for label in COUNTED_APPS:
        models += [m for m in apps.get_app_config(label).get_models(include_auto_created=True)
                   if m._meta.managed and not m._meta.proxy]
    return {model._meta.label_lower: model._meta.db_table for model in models}


def read_facts(cursor, existing_tables):
    """What a manifest says about a database, read through one DB-API cursor (so from one snapshot)."""
    counts = {}
    for label, table in sorted(counted_tables().items()):
        if table in existing_tables:
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
            counts[label] = cursor.fetchone()[0]
    cursor.execute(f'SELECT storage_name, sha256, size FROM "{apps.get_model("sources", "StoredFile")._meta.db_table}" ORDER BY id')
    stored = [{"storage_name": name, "sha256": digest, "size": size} for name, digest, size in cursor.fetchall()]
    cursor.execute(f'SELECT seq, hash FROM "{AuditEvent._meta.db_table}" ORDER BY seq DESC LIMIT 1')
    last = cursor.fetchone()
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    migrations = {}
    for app, name in cursor.fetchall():
        migrations.setdefault(app, []).append(name)
    return {
        "counts": counts, "stored_files": stored, "migrations": migrations,
        "audit_head": f"{last[0]}:{last[1]}" if last else f"0:{audit.GENESIS}",
    }


def safe_relative(name):
    """A storage name or manifest path as a relative path that cannot leave the directory it is joined to."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or "\\" in name or any(part in ("", ".", "..") for part in name.split("/")):
        raise BackupError(f"Refusing the unsafe path {name!r}.")
    return path


# --- making a backup -----------------------------------------------------------------------------------------

def _dump_sqlite(target):
    connection.ensure_connection()
    destination = sqlite3.connect(target)
    try:
        # pages=-1: the whole database in one step, under one read transaction, so writers
        # (in WAL mode) carry on and the copy is a single consistent snapshot.
        connection.connection.backup(destination, pages=-1)
        destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        tables = {row[0] for row in destination.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return read_facts(destination.cursor(), tables)
    finally:
        destination.close()


def postgres_environment():
    values = connection.settings_dict
    env = dict(os.environ)
    for key, variable in (("NAME", "PGDATABASE"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD"),
                          ("HOST", "PGHOST"), ("PORT", "PGPORT")):
        if values.get(key):
            env[variable] = str(values[key])
    for option, variable in PG_OPTION_VARIABLES.items():
        if values.get("OPTIONS", {}).get(option):
            env[variable] = str(values["OPTIONS"][option])
    return env


def _tool(name):
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} was not found; install the PostgreSQL client tools (Debian: postgresql-client).")
    return path


def _run_tool(arguments):
    done = subprocess.run(arguments, env=postgres_environment(), capture_output=True, text=True)
    if done.returncode:
        raise BackupError(f"{Path(arguments[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")


def _dump_postgres(target):
    pg_dump = _tool("pg_dump")
    if connection.in_atomic_block:
        raise BackupError("A backup opens its own snapshot transaction; run it outside any transaction.")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        facts = read_facts(cursor, set(connection.introspection.table_names(cursor)))
        # The snapshot lives as long as this transaction, so pg_dump sees exactly what was read above.
        _run_tool([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                   f"--file={target}"])
    return facts


def _copy_stored_files(stored, directory):
    entries, problems = [], []
    for row in stored:
        relative = safe_relative(row["storage_name"])
        target = directory / FILES_DIR / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        try:
            with default_storage.open(row["storage_name"], "rb") as source, open(target, "wb") as copy:
                for chunk in iter(lambda: source.read(CHUNK), b""):
                    digest.update(chunk)
                    copy.write(chunk)
                    size += len(chunk)
        except FileNotFoundError:
            problems.append(f"missing: {row['storage_name']}")
            continue
        if digest.hexdigest() != row["sha256"] or size != row["size"]:
            problems.append(f"changed: {row['storage_name']} (expected sha256 {row['sha256']}, found {digest.hexdigest()})")
        entries.append({"path": f"{FILES_DIR}/{relative}", "storage_name": row["storage_name"],
                        "sha256": row["sha256"], "size": row["size"]})
    if problems:
        raise BackupError("The stored files do not match the database, so no backup was written "
                          "(manage.py verify_files names them):\n  " + "\n  ".join(problems))
    return entries


def backup(directory):
    """Write a backup into `directory` (new or empty) and return its manifest."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty; a backup goes into a new or empty directory.")
    if connection.vendor not in DUMP_NAMES:
        raise BackupError(f"Backups of {connection.vendor} databases are not supported.")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)  # the backup holds restricted fields and original files with their GPS data
    dump = directory / DUMP_NAMES[connection.vendor]
    facts = _dump_sqlite(dump) if connection.vendor == "sqlite" else _dump_postgres(dump)
    files = _copy_stored_files(facts.pop("stored_files"), directory)
    digest, size = sha256_of_file(dump)
    manifest = {
        "format": FORMAT,
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "vendor": connection.vendor,
        "database": {"path": dump.name, "sha256": digest, "size": size},
        "files": files,
        "files_total_bytes": sum(entry["size"] for entry in files),
        "django": django.get_version(),
        **facts,
    }
    partial = directory / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    partial.replace(directory / MANIFEST)
    return manifest


# --- restoring -------------------------------------------------------------------------------------------------

def read_manifest(directory):
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise BackupError(f"{path} is missing: this is not a finished backup.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise BackupError(f"{path} is not readable JSON: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a backup manifest of format {FORMAT}.")
    missing = [key for key in ("vendor", "database", "files", "counts", "audit_head", "migrations") if key not in manifest]
    if missing:
        raise BackupError(f"{path} lacks {', '.join(missing)}: this is not a complete backup manifest.")
    return manifest


def verify_backup(directory, manifest):
    """Re-hash the dump and every file against the manifest; raise naming each one that does not match."""
    directory, problems = Path(directory), []
    entries = [("database dump", manifest["database"])] + [("file", entry) for entry in manifest["files"]]
    for what, entry in entries:
        safe_relative(entry.get("storage_name", entry["path"]))
        path = directory / safe_relative(entry["path"])
        if not path.is_file():
            problems.append(f"{what} {entry['path']} is missing")
            continue
        digest, size = sha256_of_file(path)
        if (digest, size) != (entry["sha256"], entry["size"]):
            problems.append(f"{what} {entry['path']} does not match the manifest "
                            f"(expected sha256 {entry['sha256']}, found {digest})")
    if problems:
        raise BackupError("The backup is damaged; nothing was restored:\n  " + "\n  ".join(problems))


def _database_is_empty():
    if connection.vendor == "sqlite":
        path = Path(connection.settings_dict["NAME"])
        if not path.exists() or path.stat().st_size == 0:
            return True
    try:
        with connection.cursor() as cursor:
            return not connection.introspection.table_names(cursor)
    except DatabaseError as error:
        raise BackupError(f"Cannot open the database to restore into ({error}); for PostgreSQL, create it "
                          "first (createdb NAME). Nothing was restored.") from None


def _file_store_is_empty():
    try:
        folders, names = default_storage.listdir("")
    except FileNotFoundError:
        return True
    return not folders and not names


def _restore_sqlite(dump, force):
    target = Path(connection.settings_dict["NAME"])
    connection.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"{dump.resolve().as_uri()}?mode=ro", uri=True)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination, pages=-1)  # replaces every page of the destination
    finally:
        source.close()
        destination.close()


def _restore_postgres(dump, force):
    pg_restore = _tool("pg_restore")
    connection.close()
    options = ["--clean", "--if-exists"] if force else []
    _run_tool([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", *options,
               f"--dbname={connection.settings_dict['NAME']}", str(dump)])


def _restore_files(directory, manifest):
    for entry in manifest["files"]:
        name = str(safe_relative(entry["storage_name"]))
        if default_storage.exists(name):
            if _stored_sha256(name) == entry["sha256"]:
                continue
            default_storage.delete(name)  # only reachable with --force: the store was not empty
        with open(Path(directory) / safe_relative(entry["path"]), "rb") as handle:
            saved = default_storage.save(name, File(handle))
        if saved != name:
            raise BackupError(f"The file store saved {name} as {saved}; the restore is incomplete.")


def _stored_sha256(name):
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _compare_with_manifest(manifest):
    """What the restored database and files say, against what the manifest promised."""
    with connection.cursor() as cursor:
        facts = read_facts(cursor, set(connection.introspection.table_names(cursor)))
    problems = []
    for key in ("counts", "audit_head", "migrations"):
        if facts[key] != manifest[key]:
            problems.append(f"{key}: the manifest says {manifest[key]}, the restored database {facts[key]}")
    expected = [(e["storage_name"], e["sha256"]) for e in manifest["files"]]
    if [(row["storage_name"], row["sha256"]) for row in facts["stored_files"]] != expected:
        problems.append("the stored-file rows differ from the files in the manifest")
    problems += [f"file {name} does not match its SHA-256 after the restore"
                 for name, digest in expected if _stored_sha256(name) != digest]
    chain = audit.verify()
    if not chain.ok:
        problems.append(f"audit log: {chain.problem}")
    return facts, chain, problems


def restore(directory, *, force=False):
    """Restore a backup into an empty database and file store; return what was restored."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    verify_backup(directory, manifest)
    if manifest["vendor"] != connection.vendor:
        raise BackupError(f"This is a backup of a {manifest['vendor']} database, but DATABASE_URL points to "
                          f"{connection.vendor}; nothing was restored.")
    occupied = [what for what, empty in (("the database", _database_is_empty()),
                                         (f"the file store ({settings.MEDIA_ROOT})", _file_store_is_empty())) if not empty]
    if occupied and not force:
        raise BackupError(f"{' and '.join(occupied).capitalize()} already hold data; restore into an empty "
                          "location, or pass --force to replace it. Nothing was restored.")
    dump = directory / safe_relative(manifest["database"]["path"])
    (_restore_sqlite if connection.vendor == "sqlite" else _restore_postgres)(dump, force)
    _restore_files(directory, manifest)
    facts, chain, problems = _compare_with_manifest(manifest)
    if problems:
        raise BackupError("Restored, but the result differs from the backup:\n  " + "\n  ".join(problems))
    return {"manifest": manifest, "counts": facts["counts"], "audit": chain, "files": len(manifest["files"])}
