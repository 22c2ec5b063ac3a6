"""manage.py restore DIR: restore a backup made by manage.py backup into an empty database and file store."""
from django.core.management.base import BaseCommand, CommandError

from archive import backup


class Command(BaseCommand):
    help = (
        "Check every hash in DIR's manifest, then restore its database and stored files into the database of "
        "DATABASE_URL and the file store of MEDIA_ROOT, which must be empty (--force replaces what is there; stop "
        "the server first). Afterwards the restored data is compared with the manifest and the audit chain is "
        "verified. Run manage.py migrate after restoring a backup made by an older version."
    )
    # The database may not exist yet: nothing should touch it before the restore does.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR")
        parser.add_argument("--force", action="store_true",
                            help="Replace a database and file store that already hold data.")

    def handle(self, *args, directory, force, **options):
        try:
            result = backup.restore(directory, force=force)
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        manifest = result["manifest"]
        self.stdout.write(
            f"Restored the backup of {manifest['created_at']}: {result['files']} stored files; "
            f"audit log OK ({result['audit'].checked} entries, head {result['audit'].head})."
        )
        self.stdout.write("Rows: " + ", ".join(f"{label} {count}" for label, count in result["counts"].items() if count))
