"""The list page's queries reach indexes: read every query plan of the main filters, fail on a full table scan.

SQLite plans without statistics, as if every table were large, so its plan on a small test archive is the plan
of a large one. PostgreSQL prefers sequential scans of small tables, so its plans are read with
`enable_seqscan = off`: a sequential scan that remains is one no index can replace.
"""
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents import synthetic
from incidents.models import Conflict, Party, Place, Side, ViolationType, WeaponType
from sources.models import Organization

pytestmark = pytest.mark.django_db

# The tables that grow with the archive; the taxonomies stay small enough to read whole.
LARGE = {
    "incidents_incident", "incidents_allegation", "incidents_allegation_violation_types",
    "incidents_allegation_weapons", "sources_citation", "sources_source", "incidents_incidenttext",
    "archive_auditevent", "incidents_incidentrevision", "incidents_review",
}


@pytest.fixture
def archive():
    synthetic.generate(60, seed=3, batch=30)


def main_filters():
    side = Side.objects.order_by("pk").first()
    party = Party.objects.order_by("pk").first()
    weapon = WeaponType.objects.order_by("pk").first()
    return [
        "/",
        f"/?side={side.slug}",
        f"/?party={party.slug}&weapon_category={weapon.category}&date_from=2018",
        f"/?conflict={Conflict.objects.order_by('pk').first().slug}",
        f"/?weapon={weapon.slug}",
        f"/?violation={ViolationType.objects.order_by('pk').first().slug}",
        f"/?organization={Organization.objects.order_by('pk').first().slug}",
        f"/?place={Place.objects.order_by('pk').first().slug}",
        "/?date_from=2020-03&date_to=2021",
        "/?confidence=verified",
        "/?unattributed=yes",
        "/?q=market",
        "/?sort=date_asc",
        "/?page=2",
    ]


def statements(url):
    with CaptureQueriesContext(connection) as captured:
        response = Client().get(url)
    assert response.status_code == 200, url
    return [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]


def full_scans(sql):
    """The large tables this statement reads whole, by its plan."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            found = set()
            for row in cursor.fetchall():
                words = row[-1].split()
                # "SCAN t" reads the table; "SCAN t USING [COVERING] INDEX" or "SEARCH" use an index.
                if words[:1] == ["SCAN"] and "USING" not in words and words[1] in LARGE:
                    found.add(words[1])
            return found
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return {node["Relation Name"] for node in _nodes(plan[0]["Plan"])
                if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in LARGE}


def _nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_no_main_filter_of_the_list_reads_a_large_table_whole(archive):
    scans = {}
    for url in main_filters():
        for sql in statements(url):
            found = full_scans(sql)
            if found:
                scans.setdefault(url, []).append((sorted(found), sql[:300]))
    assert scans == {}


def test_the_check_itself_sees_a_full_table_scan(archive):
    assert full_scans("SELECT COUNT(*) FROM incidents_allegation WHERE summary LIKE '%x%'") == {"incidents_allegation"}


def test_the_walk_of_a_filter_matching_most_incidents_probes_each_incident_through_an_index(archive):
    """The list's other way to a page (IncidentFilter.probed()): the visible incidents in order, each probed for
    a matching allegation. Each probe must find the incident's allegations by an index on the incident, not
    read (say) every allegation of a party for each incident."""
    from django.contrib.auth.models import AnonymousUser
    from django.http import QueryDict

    from incidents.filters import IncidentFilter
    from incidents.models import Incident

    probed_filters = 0
    for url in main_filters():
        query = QueryDict(url.partition("?")[2])
        filterset = IncidentFilter(query, queryset=Incident.objects.visible_to(AnonymousUser()), user=AnonymousUser())
        probed = filterset.probed()
        if probed is None:
            continue
        probed_filters += 1
        with CaptureQueriesContext(connection) as captured:
            list(probed.values_list("pk", flat=True)[:25])
        [sql] = [q["sql"] for q in captured.captured_queries]
        assert full_scans(sql) == set(), url
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
                details = [row[-1] for row in cursor.fetchall()]
            probe = details[details.index(next(d for d in details if "SUBQUERY" in d)) + 1]
            assert "incidents_allegation" in probe or " U0 " in probe, (url, details)
            assert "incident_id=?" in probe, (url, details)
    assert probed_filters == 7


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL orders joins by its statistics")
def test_the_live_balance_reads_the_citations_of_the_matching_allegations_not_every_citation_of_an_organization(
        archive):
    """The balance of three organizations is counted live (the totals keep pairs), in ranges of incidents: each
    range's sources section goes from its matching allegations to their citations, by the index on the
    allegation. From the organizations to their sources and citations, every range read all of theirs."""
    organizations = Organization.objects.order_by("pk").values_list("slug", flat=True)[:3]
    with CaptureQueriesContext(connection) as captured:
        response = Client().get("/balance/?" + "&".join(f"organization={slug}" for slug in organizations))
    assert response.status_code == 200
    sql = [q["sql"] for q in captured.captured_queries if "SELECT 'organization'" in q["sql"]]
    assert len(sql) == 2  # one per range of incidents (balance.LIVE_PARTS)
    for statement in sql:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + statement)
            details = [row[-1] for row in cursor.fetchall()]
        citations = [d for d in details if d.startswith("SEARCH c ")]
        assert citations and all("(allegation_id=?)" in d for d in citations), details
