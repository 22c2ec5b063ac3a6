"""Fill a database of its own with a realistic synthetic archive for benchmarks."""
import os
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from incidents import synthetic


class Command(BaseCommand):
    help = "Generate N synthetic incidents (marked synthetic everywhere) into an empty or synthetic-only database."

    def add_arguments(self, parser):
        parser.add_argument("--incidents", type=int, required=True)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--database", help="DATABASE_URL of the database to fill (migrated first).")
        parser.add_argument("--batch", type=int, default=2000)

    def handle(self, *args, **options):
        if options["incidents"] < 1:
            raise CommandError("--incidents must be at least 1")
        if options["database"]:
            return self._in_other_database(options)
        started = time.perf_counter()
        try:
            made = synthetic.generate(
                options["incidents"], options["seed"], batch=options["batch"],
                progress=lambda done, total: self.stdout.write(f"  {done:,}/{total:,} incidents", ending="\r"),
            )
        except synthetic.RealDataPresent as error:
            raise CommandError(str(error)) from None
        seconds = time.perf_counter() - started
        self.stdout.write(f"\n{made:,} synthetic incidents in {seconds:.1f} s ({made / seconds:,.0f}/s)")

    def _in_other_database(self, options):
        environment = {**os.environ, "DATABASE_URL": options["database"]}
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        steps = [
            manage + ["migrate", "--no-input", "-v", "0"],
            manage + ["synth", "--incidents", str(options["incidents"]), "--seed", str(options["seed"]),
                      "--batch", str(options["batch"])],
        ]
        for step in steps:
            if subprocess.run(step, env=environment).returncode != 0:
                raise CommandError(f"failed: {' '.join(step[1:])}")
