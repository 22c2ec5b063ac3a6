"""Print the audit log's head as SEQ:HASH, to publish or keep outside the database."""
from django.core.management.base import BaseCommand

from archive import audit


class Command(BaseCommand):
    help = "Print the last entry of the audit log as SEQ:HASH (0:000… for an empty log), for verify_audit --expect-head."

    def handle(self, *args, **options):
        self.stdout.write(audit.head())
