"""The benchmark: build or reuse synthetic datasets, measure each, print one table.

    .venv/bin/python bench/run.py                      # 10^4 and 10^5 incidents, SQLite and PostgreSQL
    .venv/bin/python bench/run.py --sizes 1000000      # 10^6 on request (takes long to build)
    .venv/bin/python bench/run.py --sizes 10000 100000 1000000 --postgres-sizes 10000 100000
    .venv/bin/python bench/run.py --databases sqlite --sizes 10000

Datasets are kept (var/bench/*.sqlite3, PostgreSQL databases bench_synth_N)
and reused when they already hold the requested number of incidents.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")

TARGETS = {
    "list p95 ms": 150, "list ratio": 3, "balance p95 ms": 500, "export rows/s": 20000,
    "import rows/s": 1000, "verify entries/s": 50000,
}


def database_url(vendor, size):
    if vendor == "sqlite":
        return f"sqlite:///{ROOT / 'var' / 'bench' / f'synth-{size}.sqlite3'}"
    return f"{PG_SERVER}/bench_synth_{size}"


def environment(url):
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SECRET_KEY": "benchmark-only-secret-key-0123456789-abcdefghij",
            "DJANGO_ALLOWED_HOSTS": "testserver", "DJANGO_SECURE": "0"}


def incident_count(url):
    code = "from incidents.models import Incident; print(Incident.objects.count())"
    result = subprocess.run([PYTHON, "manage.py", "shell", "-c", code], cwd=ROOT, env=environment(url),
                            capture_output=True, text=True)
    lines = result.stdout.strip().splitlines()
    return int(lines[-1]) if result.returncode == 0 and lines else 0


def ensure_postgres_database(name):
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def ensure_dataset(vendor, size):
    url = database_url(vendor, size)
    if vendor == "sqlite":
        (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    else:
        ensure_postgres_database(f"bench_synth_{size}")
    migrated = subprocess.run([PYTHON, "manage.py", "migrate", "--no-input", "-v", "1"], cwd=ROOT,
                              env=environment(url), check=True, capture_output=True, text=True)
    # A migration may rewrite the tally (0017 recounts it): compact what it left, as after building.
    rewritten = "Applying" in migrated.stdout
    have = incident_count(url)
    if have < size:
        print(f"building {vendor} dataset of {size:,} incidents (have {have:,})", file=sys.stderr)
        subprocess.run([PYTHON, "manage.py", "synth", "--incidents", str(size - have), "--seed", str(size)],
                       cwd=ROOT, env=environment(url), check=True)
        rewritten = True
    if rewritten:
        compact(vendor, size)
    return url


# The balance totals take an upsert per key and batch while synth loads; what a bulk load leaves is compacted
# once, as after any bulk load (at 10^5 on SQLite the balance of whole months took 0.45 s before, 0.3 s after).
TALLY_TABLES = "incidents_balancetally, incidents_balancetallybymonth, incidents_timelinetally, incidents_incidenttally"


def compact(vendor, size):
    """Rewrite a freshly built dataset compactly: SQLite's VACUUM; on PostgreSQL, VACUUM FULL of the tally tables
    (every upsert left a dead row version) and VACUUM ANALYZE of the rest."""
    if vendor == "sqlite":
        import sqlite3

        connection = sqlite3.connect(database_url(vendor, size).removeprefix("sqlite:///"))
        connection.execute("VACUUM")
        connection.close()
        return
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/bench_synth_{size}", autocommit=True) as conn:
        conn.execute(f"VACUUM (FULL, ANALYZE) {TALLY_TABLES}")
        conn.execute("VACUUM ANALYZE")


# The CSV export is measured at about 10^4 rows on the smaller datasets (everything)
# and about 10^5 rows on the 10^5 dataset (the incidents since March 2022).
EXPORT_QUERY = {10_000: "", 100_000: "date_from=2022-03", 1_000_000: "date_from=2024-09"}


def measure(url, size, repeat):
    query = EXPORT_QUERY.get(size, "")
    result = subprocess.run([PYTHON, "bench/measure.py", "--repeat", str(repeat), "--export-query", query],
                            cwd=ROOT, env=environment(url), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"measurement failed for {url}:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


PAGE_LIMIT_AT_A_MILLION_MS = 1000


def verdict(value, target, higher_is_better=False, vendor="sqlite", size=100_000):
    """" ✗" when a figure misses its target; PostgreSQL's targets are twice as lenient. The targets are set
    for 10^5 incidents (the export's also for about 10^4 rows); at 10^6 the only one is that no page takes
    over 1 s."""
    if size >= 1_000_000:
        return " ✗" if not higher_is_better and value > PAGE_LIMIT_AT_A_MILLION_MS else ""
    if size < 100_000 and target != TARGETS["export rows/s"]:
        return ""
    if vendor != "sqlite":
        target = target / 2 if higher_is_better else target * 2
    ok = value >= target if higher_is_better else value <= target
    return "" if ok else " ✗"


def ratio_verdict(ratio, vendor, size):
    """" ✗" when the list page takes over 3× the SQL it runs (PostgreSQL 6×); a target at 10^5 only."""
    if size != 100_000:
        return ""
    return "" if ratio <= TARGETS["list ratio"] * (1 if vendor == "sqlite" else 2) else " ✗"


def spread(result):
    """" (lowest–highest)" of a median's runs."""
    runs = result.get("runs") or []
    return f" ({min(runs):,}–{max(runs):,})" if len(runs) > 1 else ""


def table(results):
    lines = [
        "| database | incidents | list: no filter p50/p95 ms | one filter | three filters "
        "| ratio to the page's SQL run raw (and the copy's count, †) (p50) | ratio to the rows' SQL alone "
        "| queries at 25 / 100 | last ÷ first page | balance p50/p95 ms | CSV export rows/s (rows, peak MB) "
        "| balance, one party p50/p95 ms | balance, whole months p50/p95 ms "
        "| balance, one weapon category p50/p95 ms | balance, three weapon categories p50/p95 ms "
        "| balance of three organizations (column copy) p50/p95 ms | the same counted in SQL p50/p95 ms "
        "| import rows/s, median of 3 (range) | verify_audit entries/s, median of 3 (range) "
        "| column copy: read s, arrays MB, peak memory growth MB |",
        "|" + "---|" * 20,
    ]
    for r in results:
        lst = r["list"]
        cells = [
            r["vendor"], f"{r['incidents']:,}",
            *[f"{lst[k]['median_ms']} / {lst[k]['p95_ms']}{verdict(lst[k]['p95_ms'], TARGETS['list p95 ms'], vendor=r['vendor'], size=r['incidents'])}"
              for k in ("no filter", "one filter", "three filters")],
            " · ".join(f"{lst[k]['ratio_to_all_sql']}×{'†' if lst[k].get('counted_by_copy') else ''}"
                       f"{ratio_verdict(lst[k]['ratio_to_all_sql'], r['vendor'], r['incidents'])}"
                       for k in ("no filter", "one filter", "three filters")),
            " · ".join(f"{lst[k]['ratio_to_rows']}×" for k in ("no filter", "one filter", "three filters")),
            f"{r['queries_by_page_size']['25']} / {r['queries_by_page_size']['100']}",
            f"{r['deep_page']['ratio']}",
            f"{r['balance']['median_ms']} / {r['balance']['p95_ms']}{verdict(r['balance']['p95_ms'], TARGETS['balance p95 ms'], vendor=r['vendor'], size=r['incidents'])}",
            f"{r['export']['rows_per_s']:,}{verdict(r['export']['rows_per_s'], TARGETS['export rows/s'], True, r['vendor'], r['incidents'])} "
            f"({r['export']['rows']:,}, {r['export']['peak_mb']})",
            f"{r['balance']['party_filter']['median_ms']} / {r['balance']['party_filter']['p95_ms']}"
            f"{verdict(r['balance']['party_filter']['p95_ms'], TARGETS['balance p95 ms'], vendor=r['vendor'], size=r['incidents'])}",
            f"{r['balance']['dates']['median_ms']} / {r['balance']['dates']['p95_ms']}"
            f"{verdict(r['balance']['dates']['p95_ms'], TARGETS['balance p95 ms'], vendor=r['vendor'], size=r['incidents'])}"
            f" ({r['balance']['dates']['query']})",
            f"{r['balance']['facet']['median_ms']} / {r['balance']['facet']['p95_ms']}"
            f"{verdict(r['balance']['facet']['p95_ms'], TARGETS['balance p95 ms'], vendor=r['vendor'], size=r['incidents'])}"
            f" ({r['balance']['facet']['query']})",
            *([f"{r['balance']['joint']['median_ms']} / {r['balance']['joint']['p95_ms']}"
               f"{verdict(r['balance']['joint']['p95_ms'], TARGETS['balance p95 ms'], vendor=r['vendor'], size=r['incidents'])}"
               f" ({r['balance']['joint']['query']})"] if "joint" in r["balance"] else ["–"]),
            f"{r['balance']['live']['median_ms']} / {r['balance']['live']['p95_ms']}"
            f"{verdict(r['balance']['live']['p95_ms'], TARGETS['balance p95 ms'], vendor=r['vendor'], size=r['incidents'])}"
            f" ({r['balance']['live']['query']})",
            (f"{r['balance']['live_sql']['median_ms']} / {r['balance']['live_sql']['p95_ms']}"
             if "live_sql" in r["balance"] else "–"),
            f"{r['import']['rows_per_s']:,}{verdict(r['import']['rows_per_s'], TARGETS['import rows/s'], True, r['vendor'], r['incidents'])}"
            f"{spread(r['import'])}",
            f"{r['verify_audit']['entries_per_s']:,}"
            f"{verdict(r['verify_audit']['entries_per_s'], TARGETS['verify entries/s'], True, r['vendor'], r['incidents'])}"
            f"{spread(r['verify_audit'])}",
            (f"{r['column_copy']['read_s']} s, {r['column_copy']['arrays_mb']} MB, {r['column_copy']['peak_growth_mb']} MB"
             if "column_copy" in r else "–"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


OTHER_PAGES = ["list, three organizations", "list, three weapon categories", "list, one organization", "balance, one organization",
               "timeline, one organization", "list, two organizations", "balance, two organizations",
               "timeline, two organizations", "balance, independent sources", "map", "timeline", "timeline, three organizations", "timeline, three weapon categories",
               "sources", "sources middle", "most cited source", "incident",
               "review queue", "audit log (admin)"]


def other_pages_table(results):
    """The other pages a reader opens, p50/p95 ms: the issue's only target for them is 1 s at 10^6."""
    measured = [r for r in results if "other_pages" in r]
    if not measured:
        return ""
    lines = [
        "| database | incidents | " + " | ".join(f"{name} p50/p95 ms" for name in OTHER_PAGES) + " |",
        "|" + "---|" * (2 + len(OTHER_PAGES)),
    ]
    for r in measured:
        pages = r["other_pages"]
        cells = [r["vendor"], f"{r['incidents']:,}"] + ["–" if name not in pages else
            f"{pages[name]['median_ms']} / {pages[name]['p95_ms']}"
            f"{verdict(pages[name]['p95_ms'], PAGE_LIMIT_AT_A_MILLION_MS, vendor=r['vendor'], size=r['incidents']) if r['incidents'] >= 1_000_000 else ''}"
            for name in OTHER_PAGES
        ]
        lines.append("| " + " | ".join(cells) + " |")
    addresses = measured[-1]["other_pages"]
    lines.append("")
    lines.append("Addresses (at the largest size): " + "; ".join(
        f"{name} `{addresses[name]['url']}`" for name in OTHER_PAGES if name in addresses))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"])
    parser.add_argument("--postgres-sizes", type=int, nargs="+", help="PostgreSQL's sizes, when not --sizes")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--table-from", help="print the table of the results a run wrote with --json, measure nothing")
    options = parser.parse_args()
    if options.table_from:
        results = json.loads(Path(options.table_from).read_text())
        print(table(results) + "\n\n" + other_pages_table(results))
        return
    results = []
    for vendor in options.databases:
        for size in (options.postgres_sizes or options.sizes) if vendor == "postgres" else options.sizes:
            url = ensure_dataset(vendor, size)
            print(f"measuring {vendor} at {size:,}", file=sys.stderr)
            results.append(measure(url, size, options.repeat))
            if options.json:
                Path(options.json).write_text(json.dumps(results, indent=2))
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")
    print(table(results) + "\n\n" + other_pages_table(results))
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
