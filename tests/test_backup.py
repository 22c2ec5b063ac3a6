"""Backups: an online copy of the database and the stored files that restores into an empty location intact.

The backup reads committed data the way a running archive holds it, so these
tests run in committed transactions (`transactional_db`), like
test_concurrency.py. The restore runs in a separate process pointed at a new
SQLite file or a new PostgreSQL database (whichever the suite runs on) and an
empty MEDIA_ROOT, as an operator would run it.
"""
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection

from archive import audit, triggers
from archive.models import AuditEvent
from incidents.models import Incident
from sources import services as source_services
from sources.models import Capture, StoredFile
from tests import factories
from tests.images import image_bytes

ROOT = Path(__file__).resolve().parent.parent

# Run in the restored archive: what it holds, then the two verification commands.
INSPECT = """
import io, json, django
django.setup()
from django.core.management import call_command
from archive import audit
from archive.models import AuditEvent
from incidents.models import Incident
from sources import files
from sources.models import Capture, StoredFile
facts = {
    "audit_head": audit.head(),
    "incidents": sorted(map(list, Incident.objects.values_list("reference_code", "status", "title"))),
    "counts": [AuditEvent.objects.count(), Capture.objects.count(), StoredFile.objects.count()],
    "files": sorted([s.sha256, files.rehash(s)] for s in StoredFile.objects.all()),
}
for command in ("verify_files", "verify_audit"):
    out = io.StringIO()
    call_command(command, stdout=out)
    facts[command] = out.getvalue().strip()
print(json.dumps(facts))
"""


@pytest.fixture(autouse=True)
def append_only_again_afterwards(django_db_blocker):
    """Runs its teardown last: the flush after the test is done, so the triggers can come back."""
    yield
    with django_db_blocker.unblock():
        triggers.create(connection)


@pytest.fixture
def committed(django_db_serialized_rollback, transactional_db):
    """Committed data; the audit log's triggers are dropped just before the flush that ends the test."""
    yield
    triggers.drop(connection)


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def archive_with_files(committed, media_root):
    """Published and draft incidents, and captures whose files (an image with its derivatives, a text) are stored."""
    researcher = factories.user("rita", role="researcher")
    factories.published_incident(author=researcher, title="Shelling of the market")
    factories.incident(author=researcher, title="Strike on the bridge")
    source = factories.source(title="Report with annexes")
    uploads = [SimpleUploadedFile("photo.png", image_bytes("PNG", size=(640, 480))), SimpleUploadedFile("notes.txt", b"Field notes.\n")]
    source_services.add_captures(
        actor=researcher, source=source, prepared=[source_services.prepare_upload(u) for u in uploads]
    )
    return researcher


@pytest.fixture
def empty_location(tmp_path):
    """DATABASE_URL and MEDIA_ROOT of an empty place to restore into: a new SQLite file, or a new PostgreSQL database."""
    media = tmp_path / "restored-media"
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'archive.sqlite3'}", media
        return
    import psycopg

    values = connection.settings_dict
    name = f"archive_f_restore_{os.getpid()}"
    server = {"host": values["HOST"] or None, "port": values["PORT"] or None, "user": values["USER"] or None,
              "password": values["PASSWORD"] or None}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    credentials = quote(values["USER"] or "") + (f":{quote(values['PASSWORD'])}" if values["PASSWORD"] else "")
    try:
        yield f"postgres://{credentials}@{values['HOST'] or '127.0.0.1'}:{values['PORT'] or 5432}/{name}", media
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def in_location(location, *command):
    database_url, media = location
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(DATABASE_URL=database_url, MEDIA_ROOT=str(media), DJANGO_SETTINGS_MODULE="archive.settings",
               DJANGO_SECRET_KEY="restore-test-key")
    return subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_a_backup_restored_into_an_empty_location_has_the_same_rows_files_and_audit_chain(
    archive_with_files, empty_location, tmp_path
):
    expected = {
        "audit_head": audit.head(),
        "incidents": sorted(map(list, Incident.objects.values_list("reference_code", "status", "title"))),
        "counts": [AuditEvent.objects.count(), Capture.objects.count(), StoredFile.objects.count()],
        "files": sorted([s.sha256, s.sha256] for s in StoredFile.objects.all()),
    }
    call_command("backup", str(tmp_path / "backup"), stdout=io.StringIO())

    restored = in_location(empty_location, "manage.py", "restore", str(tmp_path / "backup"))
    inspected = in_location(empty_location, "-c", INSPECT)

    assert restored.returncode == 0, restored.stderr
    assert inspected.returncode == 0, inspected.stderr
    facts = json.loads(inspected.stdout.strip().splitlines()[-1])
    assert {key: facts[key] for key in expected} == expected
    assert expected["counts"][2] == 4  # the image, its public copy, its thumbnail, the text
    assert f"{expected['counts'][2]} stored files verified" in facts["verify_files"]
    assert facts["verify_audit"].startswith("Audit log OK")
    assert sorted(p.name for p in empty_location[1].rglob("*") if p.is_file()) == sorted(s for s, _ in expected["files"])


def test_the_manifest_lists_every_stored_file_the_dump_and_the_audit_head(archive_with_files, tmp_path):
    call_command("backup", str(tmp_path / "backup"), stdout=io.StringIO())

    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    dump = tmp_path / "backup" / manifest["database"]["path"]
    listed = {(entry["storage_name"], entry["sha256"], entry["size"]) for entry in manifest["files"]}
    assert listed == set(StoredFile.objects.values_list("storage_name", "sha256", "size"))
    assert all((tmp_path / "backup" / entry["path"]).read_bytes() for entry in manifest["files"])
    assert manifest["database"]["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
    assert manifest["audit_head"] == audit.head()
    assert manifest["counts"]["incidents.incident"] == Incident.objects.count() == 2
    assert "0001_initial" in manifest["migrations"]["archive"]
    assert (tmp_path / "backup").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("damaged", ["a stored file", "the database dump"])
def test_a_tampered_backup_is_refused_naming_the_file_and_nothing_is_restored(
    archive_with_files, empty_location, tmp_path, damaged
):
    call_command("backup", str(tmp_path / "backup"), stdout=io.StringIO())
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    entry = manifest["files"][0] if damaged == "a stored file" else manifest["database"]
    target = tmp_path / "backup" / entry["path"]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))

    restored = in_location(empty_location, "manage.py", "restore", str(tmp_path / "backup"))
    inspected = in_location(empty_location, "-c", "import django; django.setup(); from django.db import connection; "
                            "print(len(connection.introspection.table_names()))")

    assert restored.returncode != 0
    assert f"{entry['path']} does not match the manifest" in restored.stderr
    assert "nothing was restored" in restored.stderr
    assert inspected.stdout.strip() == "0"
    assert not empty_location[1].exists()


def test_restore_refuses_a_database_that_already_holds_data(archive_with_files, tmp_path):
    call_command("backup", str(tmp_path / "backup"), stdout=io.StringIO())
    factories.incident(title="Written after the backup")

    with pytest.raises(CommandError, match="already hold data"):
        call_command("restore", str(tmp_path / "backup"))

    assert Incident.objects.filter(title="Written after the backup").exists()


def test_a_backup_goes_only_into_a_new_or_empty_directory(media_root, tmp_path):
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "earlier.txt").write_text("an earlier backup")

    with pytest.raises(CommandError, match="not empty"):
        call_command("backup", str(tmp_path / "backup"))

    assert [p.name for p in (tmp_path / "backup").iterdir()] == ["earlier.txt"]
