"""manage.py backup DIR: a consistent online copy of the database and the stored files, with a manifest of hashes."""
from django.core.management.base import BaseCommand, CommandError

from archive import backup


class Command(BaseCommand):
    help = (
        "Copy the database (one consistent snapshot, taken while the archive keeps running) and every stored "
        "file into DIR, a new or empty directory, with manifest.json listing each file's SHA-256 and size, the "
        "dump's SHA-256, the audit head and the table counts. Keep the printed audit head apart from the backup."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR")

    def handle(self, *args, directory, **options):
        try:
            manifest = backup.backup(directory)
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        database = manifest["database"]
        self.stdout.write(
            f"Backup written to {directory}: {manifest['vendor']} database {database['path']} "
            f"({database['size']:,} bytes, sha256 {database['sha256']}), {len(manifest['files'])} stored files "
            f"({manifest['files_total_bytes']:,} bytes)."
        )
        self.stdout.write(f"Audit head: {manifest['audit_head']}")
        self.stdout.write("Rows: " + ", ".join(f"{label} {count}" for label, count in manifest["counts"].items() if count))
