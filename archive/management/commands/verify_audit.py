"""Recompute the audit log's hash chain; exit non-zero naming the first entry that does not fit."""
from django.core.management.base import BaseCommand, CommandError

from archive import audit


class Command(BaseCommand):
    help = (
        "Recompute the hash chain of the audit log from its first entry. Exits non-zero and names the first "
        "edited, missing or reordered entry; with --expect-head, also a tail cut off after that head was published."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head", metavar="SEQ:HASH",
            help="A head printed earlier by audit_head and kept outside the database.",
        )

    def handle(self, *args, expect_head=None, **options):
        result = audit.verify(expect_head=expect_head)
        if not result.ok:
            raise CommandError(f"Audit log verification FAILED after {result.checked} good entries: {result.problem}")
        self.stdout.write(f"Audit log OK: {result.checked} entries checked; head {result.head}")
