"""manage.py load_weapon_types FILE [--as USERNAME] [--dry-run]"""
from django.core.management.base import BaseCommand, CommandError

from incidents.importer import ImportFailed, load_weapon_types

from .import_incidents import read_file, user_named


class Command(BaseCommand):
    help = (
        "Create or update weapon types from a curated CSV (name, aliases separated by ';', category, "
        "is_cluster_munition, origin_as_reported, origin_reported_by). Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path of the CSV file (UTF-8).")
        parser.add_argument("--as", dest="username", help="Who the audit log names; the system when omitted.")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")

    def handle(self, *args, file, username, dry_run, **options):
        data = read_file(file)
        actor = user_named(username) if username else None
        try:
            outcome = load_weapon_types(data, actor=actor, dry_run=dry_run)
        except ImportFailed as failure:
            raise CommandError("\n".join([*map(str, failure.problems), str(failure)])) from None
        would = "would be " if dry_run else ""
        self.stdout.write(
            f"Weapon types: {len(outcome['created'])} {would}created, {len(outcome['updated'])} {would}updated, "
            f"{len(outcome['unchanged'])} unchanged."
        )
        for verb in ("created", "updated"):
            if outcome[verb]:
                self.stdout.write(f"{verb.capitalize()}: {', '.join(outcome[verb])}")
