"""Recount the balance tally from scratch: after a bulk load, or when a weapon type changed category."""
import time

from django.core.management.base import BaseCommand

from incidents import tally


class Command(BaseCommand):
    help = "Recount the balance view's running totals from every record incident."

    def handle(self, *args, **options):
        started = time.perf_counter()
        counted = tally.rebuild(progress=lambda done, total: self.stdout.write(f"  {done:,}/{total:,}", ending="\r"))
        self.stdout.write(f"\nRecounted {counted:,} incidents in {time.perf_counter() - started:.1f} s")
