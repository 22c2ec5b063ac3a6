"""manage.py import_incidents FILE [--dry-run] [--as USERNAME]"""
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from incidents import services
from incidents.importer import ImportFailed, import_incidents


class Command(BaseCommand):
    help = (
        "Import incidents from an interchange CSV (INTERCHANGE.md). All rows or none: any problem is reported "
        "with its line and column and nothing is written. Imported incidents are authored by --as and submitted "
        "for review; the import never approves."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path of the CSV file (UTF-8).")
        parser.add_argument("--dry-run", action="store_true", help="Check the file and report what would change; write nothing.")
        parser.add_argument("--as", dest="username", help="The researcher the incidents are imported as (required unless --dry-run).")

    def handle(self, *args, file, dry_run, username, **options):
        data = read_file(file)
        actor = user_named(username) if username else None
        try:
            report = import_incidents(data, actor=actor, dry_run=dry_run, filename=Path(file).name)
        except services.PermissionRefused as error:
            raise CommandError(f"{error.message} Use --as USERNAME.") from None
        except ImportFailed as failure:
            raise CommandError("\n".join([*map(str, failure.problems), str(failure)])) from None
        for line in report.lines():
            self.stdout.write(line)


def read_file(file):
    try:
        return Path(file).read_bytes()
    except OSError as error:
        raise CommandError(f"Cannot read {file}: {error.strerror or error}") from None


def user_named(username):
    try:
        return get_user_model().objects.get_by_natural_key(username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"There is no user named {username!r}.") from None
