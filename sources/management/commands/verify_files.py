"""Re-hash every stored file and report any that changed or disappeared."""
from django.core.management.base import BaseCommand, CommandError

from sources import files, services
from sources.models import StoredFile


class Command(BaseCommand):
    help = "Re-hash every stored file; exit non-zero naming any file that changed or is missing."

    def add_arguments(self, parser):
        parser.add_argument("--no-record", action="store_true", help="Do not write the results to the custody log.")

    def handle(self, *args, **options):
        problems, checked = [], 0
        for stored in StoredFile.objects.order_by("pk").iterator(chunk_size=500):
            found = files.rehash(stored)
            checked += 1
            if options["no_record"]:
                status = "ok" if found == stored.sha256 else ("missing" if found is None else "changed")
            else:
                status = services.record_verification(stored=stored, found_sha256=found)
            if status != "ok":
                problems.append(f"{status}: file #{stored.pk} {stored.storage_name} expected sha256 {stored.sha256}"
                                + (f", found {found}" if found else ""))
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} of {checked} stored files failed verification")
        self.stdout.write(f"{checked} stored files verified: all match their SHA-256")
