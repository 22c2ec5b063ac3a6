"""A few seconds of bench/load.py: the archive under gunicorn with concurrent readers, researchers and reviewers.

The full run (24 clients for 60 s, on SQLite and PostgreSQL, with a worker
killed) is described in the README; this one proves, on every suite run where
gunicorn is installed (the `load` extra), that the script and the archive still
pass together on SQLite: no 5xx, no "database is locked", every acknowledged
write present, the audit chain and the files verified, and a backup taken mid-run
restored and verified.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None,
    reason="gunicorn is not installed (pip install -e '.[load]')",
)


def test_a_short_load_run_on_sqlite_passes_with_every_acknowledged_write_present(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_URL"))}

    run = subprocess.run(
        [sys.executable, "bench/load.py", "--database", "sqlite", "--seconds", "6", "--clients", "6", "--backup",
         "--workdir", str(tmp_path / "load")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stdout.rstrip().endswith("PASS")
    acknowledged = re.search(r"\(total (\d+)\); present afterwards: all (\d+)", run.stdout)
    assert acknowledged and int(acknowledged.group(1)) > 0
    assert "5xx: 0;" in run.stdout and "database is locked: 0" in run.stdout
