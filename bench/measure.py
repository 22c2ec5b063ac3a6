"""Measure one database: run by bench/run.py with DATABASE_URL set; prints one JSON object.

Server times are measured in-process with Django's test client (middleware,
view, queries and template), without the network. The floor is the same page
of rows fetched with the SQL the list page itself runs, through a bare cursor.
"""
import argparse
import gc
import io
import json
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
os.environ.setdefault("DJANGO_SECURE", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402

from archive import audit  # noqa: E402
from incidents.models import Incident, Party, Side, WeaponType  # noqa: E402
from sources.models import Citation, Organization, Source  # noqa: E402


def timed(function, repeat):
    return interleaved([function], repeat)[0]


def get(client, url):
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    if hasattr(response, "streaming_content"):
        for _ in response.streaming_content:
            pass
    return response


def list_queries(url):
    """(number of queries, the SQL of the page's rows, all the SQL the page runs)."""
    client = Client()
    with CaptureQueriesContext(connection) as captured:
        get(client, url)
    # PostgreSQL may run a query through a server-side cursor (DECLARE ... CURSOR); the floor runs the SELECTs.
    statements = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    rows = [sql for sql in statements if sql.startswith('SELECT "incidents_incident"."id"')]
    return len(captured.captured_queries), rows[0], statements


def floor(*statements, counted=None):
    """The page's SQL run through a bare cursor, and `counted` (the copy's count, when the page's counts come
    from the column copy rather than from a statement)."""
    def run():
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                cursor.fetchall()
        if counted is not None:
            counted()
    return run


def copied_count(url):
    """The column copy's count of the list at `url`, as the page asks it (None when the page counts otherwise):
    where the counts come from the copy, it stands in the floor for the statement that would count them."""
    from django.contrib.auth.models import AnonymousUser
    from django.http import QueryDict

    from incidents import balance, columnar
    from incidents.filters import IncidentFilter

    user = AnonymousUser()
    filterset = IncidentFilter(QueryDict(url.partition("?")[2]), queryset=Incident.objects.visible_to(user), user=user)
    copy = columnar.current(filterset)
    if copy is None or balance.tallied_counts(filterset) is not None:
        return None
    return lambda: copy.counts(filterset)


def filters():
    side = Side.objects.filter(slug__startswith="syn-").order_by("pk").first()
    party = Party.objects.filter(slug__startswith="syn-").order_by("pk").first()
    weapon = WeaponType.objects.filter(slug__startswith="syn-").order_by("pk").first()
    return {
        "no filter": "/",
        "one filter": f"/?side={side.slug}",
        "three filters": f"/?party={party.slug}&weapon_category={weapon.category}&date_from=2018",
    }


def interleaved(functions, repeat):
    """timed() of each function, run in turn within each repetition: all of them meet the same moments of a
    machine whose speed varies (on this shared one, a loop of pure Python took 290 to 490 ms from run to run)."""
    samples = [[] for _ in functions]
    for _ in range(repeat):
        for function, times in zip(functions, samples):
            started = time.perf_counter()
            function()
            times.append((time.perf_counter() - started) * 1000)
    result = []
    for times in samples:
        times.sort()
        result.append({"median_ms": round(statistics.median(times), 2),
                       "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 2)})
    return result


def measure_list(repeat):
    client, rows = Client(), {}
    for name, url in filters().items():
        count, rows_sql, statements = list_queries(url)
        counted = copied_count(url)
        page, raw_rows, raw_all = interleaved(
            [lambda: get(client, url), floor(rows_sql), floor(*statements, counted=counted)], repeat)
        rows[name] = {**page, "rows_floor_median_ms": raw_rows["median_ms"], "all_sql_median_ms": raw_all["median_ms"],
                      "ratio_to_all_sql": round(page["median_ms"] / max(raw_all["median_ms"], 0.01), 1),
                      "ratio_to_rows": round(page["median_ms"] / max(raw_rows["median_ms"], 0.01), 1),
                      "queries": count, "url": url, "counted_by_copy": counted is not None}
    return rows


def measure_page_sizes():
    counts = {}
    for size in (25, 100):
        with override_settings(ARCHIVE_PAGE_SIZE=size):
            counts[size] = list_queries("/")[0]
    return counts


def measure_deep_page(repeat):
    client = Client()
    total = Incident.objects.published().count()
    last = max(1, -(-total // 25))
    first = timed(lambda: get(client, "/?page=1"), repeat)
    deep = timed(lambda: get(client, f"/?page={last}"), repeat)
    return {"first_ms": first["median_ms"], "last_ms": deep["median_ms"],
            "ratio": round(deep["median_ms"] / max(first["median_ms"], 0.01), 2)}


def several_categories(count):
    """The query of the first `count` weapon categories of the synthetic weapon types."""
    categories = list(WeaponType.objects.filter(slug__startswith="syn-").order_by("pk")
                      .values_list("category", flat=True).distinct()[:count])
    return "&".join(f"weapon_category={category}" for category in categories)


def most_cited_organizations(count):
    """The query of the `count` organizations cited most."""
    organizations = (Organization.objects.annotate(n=Count("sources__citations")).order_by("-n", "pk")
                     .values_list("slug", flat=True)[:count])
    return "&".join(f"organization={slug}" for slug in organizations)


def live_query():
    """The query of the three organizations cited most: a broad filter the running totals do not answer (they
    keep one organization's and each pair's, not three's), answered from the column copy (`incidents.columnar`)."""
    return most_cited_organizations(3)


def measure_balance(repeat, date_query):
    """The balance of the whole archive, of one party's allegations, of a range of whole months, of one weapon
    category and of three (all read from the running totals; three by inclusion and exclusion of their joint
    facets), and of the three organizations cited most (from the column copy, `live_query()`; and counted in SQL,
    as while the copy is read again after a write)."""
    client = Client()
    party = Party.objects.filter(slug__startswith="syn-").order_by("pk").first()
    facet_query, joint_query, counted_query = several_categories(1), several_categories(3), live_query()
    result = {**timed(lambda: get(client, "/balance/"), repeat),
              "party_filter": timed(lambda: get(client, f"/balance/?party={party.slug}"), repeat),
              "dates": {**timed(lambda: get(client, f"/balance/?{date_query}"), repeat), "query": date_query},
              "facet": {**timed(lambda: get(client, f"/balance/?{facet_query}"), repeat), "query": facet_query},
              "joint": {**timed(lambda: get(client, f"/balance/?{joint_query}"), repeat), "query": joint_query},
              "live": {**timed(lambda: get(client, f"/balance/?{counted_query}"), repeat), "query": counted_query}}
    with override_settings(ARCHIVE_COLUMNAR="off"):
        result["live_sql"] = {**timed(lambda: get(client, f"/balance/?{counted_query}"), 3), "query": counted_query}
    return result


def other_pages():
    """{name: address} of the other pages a reader opens, each at its heaviest usual case: the list and timeline
    of the three organizations cited most (their counts not in the running totals: from the column copy) and of three
    weapon categories (read from them), the list, balance and timeline of the organization cited most (the
    broadest filter of one organization) and of the two cited most (read from the totals of each and of the
    pair), the balance of the allegations that independent organizations cite
    (a kind of organization, read from the totals), the map (5,000 points), the timeline of everything, the source list's
    first and middle page, the page of the most cited source, and an incident's page."""
    counted_query, joint_query, pair_query = live_query(), several_categories(3), most_cited_organizations(2)
    most_cited = (Citation.objects.values("source_id").annotate(n=Count("id")).order_by("-n", "source_id")
                  .values_list("source_id", flat=True).first())
    organization = (Organization.objects.annotate(n=Count("sources__citations")).order_by("-n", "pk")
                    .values_list("slug", flat=True).first())
    public_sources = Source.objects.filter(public=True).count()
    middle = max(1, -(-public_sources // settings.ARCHIVE_PAGE_SIZE) // 2)
    newest = Incident.objects.published().order_by("-pk").values_list("pk", flat=True).first()
    return {
        "list, three organizations": f"/?{counted_query}",
        "list, three weapon categories": f"/?{joint_query}",
        "list, one organization": f"/?organization={organization}",
        "balance, one organization": f"/balance/?organization={organization}",
        "timeline, one organization": f"/timeline/?organization={organization}",
        "list, two organizations": f"/?{pair_query}",
        "balance, two organizations": f"/balance/?{pair_query}",
        "timeline, two organizations": f"/timeline/?{pair_query}",
        "balance, independent sources": "/balance/?organization_kind=independent",
        "map": "/map/",
        "timeline": "/timeline/",
        "timeline, three organizations": f"/timeline/?{counted_query}",
        "timeline, three weapon categories": f"/timeline/?{joint_query}",
        "sources": "/sources/",
        "sources middle": f"/sources/?page={middle}",
        "most cited source": f"/sources/{most_cited}/",
        "incident": f"/incidents/{newest}/",
    }


STAFF_PAGES = {"review queue": "/review/", "audit log (admin)": "/admin/archive/auditevent/"}


def measure_other_pages(repeat):
    client, pages = Client(), {}
    for name, url in other_pages().items():
        pages[name] = {**timed(lambda: get(client, url), repeat), "url": url}
    # The staff's pages, as a reviewer with every role created for the purpose and rolled back with it.
    with transaction.atomic():
        staff = User.objects.create_superuser("benchmark-staff", "staff@synthetic.invalid", None)
        staff.groups.set(Group.objects.all())
        client.force_login(staff)
        for name, url in STAFF_PAGES.items():
            pages[name] = {**timed(lambda: get(client, url), repeat), "url": url}
        transaction.set_rollback(True)
    return pages


def _stream_export(client, url):
    response = client.get(url)
    rows = 0
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
    return rows - 1


def measure_export(query):
    """CSV export of a filter: rows per second, then (separately, since tracing slows Python) peak allocations."""
    client, url = Client(), f"/incidents/export.csv?{query}"
    started = time.perf_counter()
    rows = _stream_export(client, url)
    seconds = time.perf_counter() - started
    gc.collect()
    tracemalloc.start()
    _stream_export(client, url)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"rows": rows, "rows_per_s": round(rows / seconds), "peak_mb": round(peak / 2**20, 1)}


def measure_import(repeat=3):
    """Import rows per second, `repeat` times (each import rolled back): the median rate, and every one."""
    runs = [_import_once() for _ in range(repeat)]
    rates = [run["rows_per_s"] for run in runs]
    return {"rows": runs[0]["rows"], "rows_per_s": round(statistics.median(rates)), "runs": rates}


def _import_once(incidents=300):
    from incidents.importer import import_incidents

    user = User.objects.filter(username="synthetic-generator").first()
    party = Party.objects.filter(slug__startswith="syn-").order_by("pk").first()
    buffer = io.StringIO()
    from incidents.interchange import COLUMNS
    import csv

    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    rows = 0
    for number in range(incidents):
        for allegation in range(2):
            for citation in range(2):
                writer.writerow({
                    "incident_ref": f"BENCH-{os.getpid()}-{number:05d}", "title": f"Benchmark import {number} [synthetic]",
                    "date_start": "2020-10-04", "date_precision": "day", "place": "Place 001 [synthetic]",
                    "confidence": "single_source", "alleged_perpetrator": party.name if allegation == 0 else "",
                    "perpetrator_side": party.side.name, "violation_types": "indiscriminate-attack",
                    "weapons": "Weapon 01 [synthetic]", "source_organization": "Organization 01 [synthetic]",
                    "source_kind": "report", "source_title": f"Import report {number}-{citation}",
                    "source_url": f"https://synthetic.invalid/import/{number}/{citation}",
                    "citation_quote": f"quote {number} {allegation} {citation}",
                })
                rows += 1
    data = buffer.getvalue().encode()
    with transaction.atomic():
        started = time.perf_counter()
        import_incidents(data, actor=user, filename="bench.csv")
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return {"rows": rows, "rows_per_s": round(rows / seconds)}


def measure_verify(repeat=3):
    """verify_audit over the whole log, `repeat` times: the median rate (and every one, for the spread)."""
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = audit.verify()
        rates.append(round(result.checked / (time.perf_counter() - started)))
        if not result.ok:
            raise SystemExit(f"verify_audit failed: {result.problem}")
    return {"entries": result.checked, "entries_per_s": round(statistics.median(rates)), "runs": rates, "ok": result.ok}


def measure_column_copy():
    """Read the column copy (incidents.columnar) before any page is measured, as a server process reads it in the
    background when a page first needs it: how long that took, the arrays' size and the process's peak memory
    after it. The pages measured then answer from it what the running totals do not."""
    import resource

    from incidents import columnar

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    copy = columnar.read()
    if copy is None:
        raise SystemExit("the column copy could not be read: the audit log moved while it was read")
    columnar._state["copy"] = copy
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux
    return {"read_s": round(copy.seconds, 2), "arrays_mb": round(copy.nbytes / 1e6, 1),
            "peak_growth_mb": round((peak - before) / 1024), "allegations": len(copy.allegation_incident)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--export-query", default="", help="filter of the measured CSV export (default: everything)")
    options = parser.parse_args()
    result = {
        "vendor": connection.vendor,
        "incidents": Incident.objects.count(),
        "column_copy": measure_column_copy(),
        "list": measure_list(options.repeat),
        "queries_by_page_size": measure_page_sizes(),
        "deep_page": measure_deep_page(max(5, options.repeat // 3)),
        "balance": measure_balance(max(5, options.repeat // 2), options.export_query or "date_from=2024"),
        "other_pages": measure_other_pages(max(5, options.repeat // 2)),
        "import": measure_import(),
        "verify_audit": measure_verify(),
    }
    result["export"] = measure_export(options.export_query)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
