"""Exports of the current filter (CSV in the interchange format, JSON, GeoJSON), and the reference data.

The round trips use the real importer (`manage.py import_incidents`) and the
reference files in incidents/demo.
"""
import csv
import datetime
import hashlib
import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.http import StreamingHttpResponse
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from archive.models import AuditEvent
from incidents import exports, services, taxonomy
from incidents.documents import document_of, sha256_of
from incidents.filters import filter_incidents
from incidents.interchange import read, restore
from incidents.models import (
    Allegation, Conflict, Incident, IncidentRevision, Party, Place, Side, ViolationType, WeaponType,
)
from sources import services as source_services
from sources.models import Citation, Organization, Source
from tests import factories
from tests.images import PDF

D = datetime.date
DEMO = Path(settings.BASE_DIR) / "incidents" / "demo"
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
INTERCHANGE_COLUMNS = [
    "incident_ref", "conflict", "title", "date_start", "date_end", "date_precision", "place", "location_detail",
    "admin_area", "country", "latitude", "longitude", "geo_precision", "incident_summary", "civilians_killed_min",
    "civilians_killed_max", "civilians_injured_min", "civilians_injured_max", "alleged_perpetrator",
    "perpetrator_side", "affected_party", "violation_types", "weapons", "allegation_summary", "confidence",
    "source_organization", "source_kind", "source_title", "source_date", "source_url", "citation_quote",
    "citation_stance",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MODELS = (Incident, Allegation, Citation, Source, Organization, Place, Party, Side, Conflict, WeaponType,
          IncidentRevision, AuditEvent)


@pytest.fixture(autouse=True)
def plain_http_and_fast_hashing(settings, tmp_path):
    settings.SECURE_SSL_REDIRECT = False
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.MEDIA_ROOT = tmp_path / "media"


def body(response):
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def csv_table(data):
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return rows[0], [dict(zip(rows[0], row)) for row in rows[1:]]


def counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def documents():
    return {i.reference_code: sha256_of(document_of(i)) for i in Incident.objects.for_detail().order_by("pk")}


def reimport(tmp_path, data, username):
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    out = io.StringIO()
    call_command("import_incidents", str(path), "--as", username, stdout=out)
    return out.getvalue()


def approve_everything(reviewer):
    for incident in Incident.objects.filter(status="in_review").order_by("pk"):
        revision = services.revision_in_review(incident)
        services.approve(actor=reviewer, incident=incident, sha256=revision.sha256)


# --- a small archive with every precision, several citations and one hidden incident ------------


def small_archive(author):
    factories.side("North")
    factories.party("North army", "North")
    factories.weapon("Cluster rocket X", aliases="CRX", category="cluster_munition_rocket", is_cluster_munition="yes")
    factories.weapon("Grad rocket", category="unguided_artillery_rocket", is_cluster_munition="no")
    war = taxonomy.add_conflict(actor=factories.system_user(), name="War A", via="test")
    town = factories.place("Stepanakert", aliases=["Khankendi"], admin_area="Nagorno-Karabakh", country="NK",
                           latitude="39.817700", longitude="-46.752800", geo_precision="town")
    nowhere = factories.place("Somewhere", geo_precision="unknown")
    charge = factories.allegation("North army", "North", weapons=["Cluster rocket X", "Grad rocket"],
                                  confidence="verified", affected_party="civilians")
    charge.citations = [
        factories.CitationData(source=factories.source(org="Watch", title="Report one", url="https://example.org/1",
                                                       published_on=D(2020, 10, 1), published_form="month"),
                               quote="first quote"),
        factories.CitationData(source=factories.source(org="Monitor", title="Report two"), quote="second", stance="disputes"),
    ]
    factories.published_incident(author=author, reference_code="DAY", conflict=war, place=town, title="Market shelled",
                                 civilians_killed_min=2, civilians_killed_max=3, allegations=[charge])
    factories.published_incident(author=author, reference_code="MONTH", place=town, date_start=D(2020, 10, 1),
                                 date_end=D(2020, 12, 31), date_precision="month")
    factories.published_incident(author=author, reference_code="YEAR", place=nowhere, date_start=D(2019, 1, 1),
                                 date_end=D(2019, 12, 31), date_precision="year")
    factories.published_incident(author=author, reference_code="UNKNOWN", place=nowhere, date_start=None,
                                 date_end=None, date_precision="unknown")
    factories.published_incident(author=author, reference_code="APPROX", place=town, date_start=D(2020, 9, 27),
                                 date_end=D(2020, 11, 10), date_precision="approximate",
                                 allegations=[factories.allegation(None, None)])
    factories.incident(author=author, reference_code="HIDDEN", place=town, title="Unpublished scud strike")
    factories.published_incident(author=author, reference_code="RESTRICTED", place=town, visibility="restricted")


@pytest.fixture
def archive(db):
    """Function-scoped, so that it never coexists with the module-scoped reference data below."""
    author = factories.user("export-researcher", role="researcher")
    factories.user("export-nobody")
    small_archive(author)


@pytest.fixture
def staff_client(archive, db, client):
    client.force_login(User.objects.get(username="export-researcher"))
    return client


def test_the_csv_header_is_exactly_the_interchange_columns(archive, db, client):
    response = client.get(reverse("finding:export_csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    header, _ = csv_table(body(response))
    assert header == INTERCHANGE_COLUMNS


def test_the_csv_has_a_row_per_citation_written_as_the_importer_reads_it(archive, db, client):
    _, rows = csv_table(body(client.get(reverse("finding:export_csv"))))
    by_ref = {}
    for row in rows:
        by_ref.setdefault(row["incident_ref"], []).append(row)
    assert set(by_ref) == {"DAY", "MONTH", "YEAR", "UNKNOWN", "APPROX"}
    first, second = by_ref["DAY"]
    assert first["place"] == "Stepanakert (Khankendi)"
    assert (first["latitude"], first["longitude"]) == ("39.8177", "'-46.7528")
    assert (first["date_start"], first["date_end"], first["date_precision"]) == ("2020-10-04", "2020-10-04", "day")
    assert first["weapons"] == "Cluster rocket X; Grad rocket"
    assert first["violation_types"] == "Indiscriminate attack"
    assert (first["alleged_perpetrator"], first["perpetrator_side"], first["confidence"]) == ("North army", "North", "verified")
    assert (first["civilians_killed_min"], first["civilians_killed_max"], first["civilians_injured_min"]) == ("2", "3", "")
    assert (first["source_organization"], first["source_title"], first["source_date"]) == ("Watch", "Report one", "2020-10")
    assert (first["citation_quote"], first["citation_stance"]) == ("first quote", "supports")
    assert (second["source_organization"], second["citation_stance"]) == ("Monitor", "disputes")
    assert [(r["date_start"], r["date_end"]) for r in by_ref["MONTH"]] == [("2020-10", "2020-12")]
    assert [(r["date_start"], r["date_end"]) for r in by_ref["YEAR"]] == [("2019", "2019")]
    assert [(r["date_start"], r["date_end"]) for r in by_ref["APPROX"]] == [("2020-09-27", "2020-11-10")]
    assert [(r["date_start"], r["date_end"], r["date_precision"]) for r in by_ref["UNKNOWN"]] == [("", "", "unknown")]
    assert by_ref["APPROX"][0]["alleged_perpetrator"] == by_ref["APPROX"][0]["perpetrator_side"] == ""


def test_the_csv_follows_the_filter_and_its_sort(archive, db, client):
    _, rows = csv_table(body(client.get(reverse("finding:export_csv"), {"place": "khankendi", "sort": "date_asc"})))
    assert [row["incident_ref"] for row in rows] == ["APPROX", "MONTH", "DAY", "DAY"]


def test_an_export_of_a_small_archive_re_imports_without_creating_or_changing_anything(archive, db, client, tmp_path):
    data = body(client.get(reverse("finding:export_csv")))
    before, hashes = counts(), documents()
    output = reimport(tmp_path, data, "export-researcher")
    assert "0 created, 0 changed" in output
    assert counts() == before
    assert documents() == hashes


# --- formula neutralisation ------------------------------------------------------------------------


def formula_incident(author, prefix_values):
    """An incident whose every text column starts with a character a spreadsheet would run."""
    v = prefix_values
    actor = factories.system_user()
    side = taxonomy.add_side(actor=actor, name=v["perpetrator_side"], via="test")
    party = taxonomy.add_party(actor=actor, name=v["alleged_perpetrator"], side=side, via="test")
    weapon = factories.weapon(v["weapons"], category="other", is_cluster_munition="unknown")
    place = taxonomy.add_place(actor=actor, name=v["place"], aliases=[v["alias"]], admin_area=v["admin_area"],
                               country=v["country"], latitude="-33.9", longitude="-70.6", geo_precision="exact",
                               via="test")
    conflict = taxonomy.add_conflict(actor=actor, name=v["conflict"], via="test")
    source = factories.source(org=v["source_organization"], title=v["source_title"], url="https://example.org/f")
    charge = factories.AllegationData(
        perpetrator=party, perpetrator_side=side, affected_party=v["affected_party"], weapons=[weapon],
        summary=v["allegation_summary"], confidence="single_source",
        citations=[factories.CitationData(source=source, quote=v["citation_quote"])],
    )
    return factories.published_incident(
        author=author, reference_code="FORMULA", conflict=conflict, title=v["title"], summary=v["incident_summary"],
        place=place, location_detail=v["location_detail"], allegations=[charge],
    )


FORMULAS = {
    "title": '=HYPERLINK("https://evil.example/","click me")',
    "incident_summary": "+1",
    "location_detail": "-1",
    "affected_party": "@SUM(A1:A9)",
    "allegation_summary": "'=already quoted once",
    "citation_quote": "'plain quote",
    "conflict": "=cmd|' /C calc'!A0",
    "perpetrator_side": "-Side",
    "alleged_perpetrator": "+Party",
    "weapons": "=Weapon",
    "place": "@Home",
    "alias": "=Alias",
    "admin_area": "''=twice quoted",
    "country": "@country",
    "source_organization": "@Org",
    "source_title": "-Title",
}


def test_every_cell_a_spreadsheet_would_run_is_neutralised_and_the_importer_gives_it_back(archive, db, client):
    values = {**FORMULAS, "location_detail": "\tx", "country": "\rx", "incident_summary": "\t=tab then formula"}
    formula_incident(factories.system_user(), values)
    data = body(client.get(reverse("finding:export_csv"), {"place": "@Home"}))
    _, [row] = csv_table(data)
    expected = {**values, "place": f"{values['place']} ({values['alias']})", "latitude": "-33.9", "longitude": "-70.6"}
    del expected["alias"]
    for column, value in expected.items():
        assert not row[column].startswith(FORMULA_STARTS), column
        assert restore(row[column]) == value, column
    assert row["title"] == "'" + values["title"]
    assert row["citation_quote"] == "'plain quote"  # nothing to neutralise: left as it was
    [parsed] = read(data).rows
    for column, value in expected.items():
        assert parsed.cells[column] == value, column


def test_neutralised_cells_survive_a_full_round_trip_through_the_importer(archive, db, client, tmp_path):
    formula_incident(factories.system_user(), FORMULAS)
    data = body(client.get(reverse("finding:export_csv")))
    before, hashes = counts(), documents()
    output = reimport(tmp_path, data, "export-researcher")
    assert "0 created, 0 changed" in output
    assert counts() == before
    assert documents() == hashes


# --- JSON and GeoJSON -------------------------------------------------------------------------------


def test_the_json_nests_allegations_citations_and_sources_with_their_capture_hashes(archive, db, client):
    source = Source.objects.get(title="Report one")
    author = User.objects.get(username="export-researcher")
    prepared = source_services.prepare_upload(SimpleUploadedFile("report.pdf", PDF))
    source_services.add_captures(actor=author, source=source, prepared=[prepared])
    response = client.get(reverse("finding:export_json"), {"place": "stepanakert", "cluster": "yes"})
    assert response["Content-Type"] == "application/json; charset=utf-8"
    document = json.loads(body(response))
    [incident] = document["incidents"]
    assert incident["reference_code"] == "DAY"
    assert incident["url"].endswith(reverse("incidents:detail", args=[incident["id"]]))
    assert incident["place"]["aliases"] == ["Khankendi"]
    assert incident["date_text"] == {"start": "2020-10-04", "end": "2020-10-04"}
    [allegation] = incident["allegations"]
    assert allegation["perpetrator"] == {"name": "North army", "slug": "north-army"}
    assert [w["slug"] for w in allegation["weapons"]] == ["cluster-rocket-x", "grad-rocket"]
    first, second = allegation["citations"]
    assert first["source"]["organization"]["name"] == "Watch"
    assert first["source"]["organization"]["party_affiliated"] is False
    assert first["source"]["captures"][0]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert second["stance"] == "disputes" and second["source"]["captures"] == []
    assert "created_by" not in json.dumps(document) and "restricted_metadata" not in json.dumps(document)


def test_the_geojson_is_a_feature_collection_of_located_incidents_with_their_precision(archive, db, client):
    response = client.get(reverse("finding:export_geojson"))
    assert response["Content-Type"] == "application/geo+json; charset=utf-8"
    collection = json.loads(body(response))
    assert collection["type"] == "FeatureCollection"
    by_ref = {feature["properties"]["reference_code"]: feature for feature in collection["features"]}
    assert set(by_ref) == {"DAY", "MONTH", "APPROX"}  # YEAR and UNKNOWN are at a place without coordinates
    day = by_ref["DAY"]
    assert day["type"] == "Feature"
    assert day["geometry"] == {"type": "Point", "coordinates": [-46.7528, 39.8177]}
    assert day["properties"]["geo_precision"] == "town"
    assert day["properties"]["date_precision"] == "day"
    assert day["properties"]["sides"] == ["North"]
    assert by_ref["MONTH"]["properties"]["date_precision"] == "month"


@pytest.mark.parametrize("name", ["export_csv", "export_json", "export_geojson"])
def test_exports_hold_only_what_the_user_may_see(archive, db, client, name):
    url = reverse(f"finding:{name}")
    assert b"HIDDEN" not in body(client.get(url)) and b"RESTRICTED" not in body(client.get(url, {"status": "draft"}))
    client.force_login(User.objects.get(username="export-nobody"))
    assert b"HIDDEN" not in body(client.get(url)) and b"RESTRICTED" not in body(client.get(url))
    client.force_login(User.objects.get(username="export-researcher"))
    staff = body(client.get(url))
    assert b"RESTRICTED" in staff and (b"HIDDEN" in staff)
    assert body(client.get(url, {"status": "draft"})).count(b"DAY") == 0


@pytest.mark.parametrize("name", ["export_csv", "export_json", "export_geojson"])
def test_a_bad_filter_answers_400_with_the_errors_and_exports_nothing(archive, db, client, name):
    response = client.get(reverse(f"finding:{name}"), {"date_from": "2020-99", "side": "nowhere"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "date_from" in text and "side" in text and "Market shelled" not in text


def test_exports_stream_in_chunks_without_a_row_cap(archive, db, client, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK", 3)
    author = User.objects.get(username="export-researcher")
    for number in range(10):
        factories.published_incident(author=author, reference_code=f"BULK-{number:02d}", place=Place.objects.get(name="Stepanakert"))
    response = client.get(reverse("finding:export_csv"), {"sort": "date"})
    chunks = list(response.streaming_content)
    assert len(chunks) > 10
    _, rows = csv_table(b"".join(chunks))
    assert sorted(r["incident_ref"] for r in rows if r["incident_ref"].startswith("BULK")) == [f"BULK-{n:02d}" for n in range(10)]
    features = json.loads(body(client.get(reverse("finding:export_geojson"))))["features"]
    assert len([f for f in features if f["properties"]["reference_code"].startswith("BULK")]) == 10


# --- the CSV, read as plain values a chunk at a time -----------------------------------------------


def shusha_incidents(author):
    """Three incidents of two allegations each: the first with two violation types, two weapons and two citations,
    the second with three citations. Their dates and deaths sort them three different ways."""
    violations = list(ViolationType.objects.filter(slug__in=["indiscriminate-attack", "attack-on-civilian-objects"]))
    shusha = factories.place("Shusha", latitude="39.758000", longitude="46.750000", geo_precision="town")
    for code, day, killed in [("SHU-A", 5, 1), ("SHU-B", 3, 7), ("SHU-C", 4, None)]:
        first = factories.allegation("North army", "North", weapons=["Grad rocket", "Cluster rocket X"],
                                     summary=f"{code} first")
        first.violation_types = violations
        second = factories.allegation("South army", "South", summary=f"{code} second")
        for allegation, count in [(first, 2), (second, 3)]:
            allegation.citations = [factories.CitationData(source=factories.source(org="Watch"),
                                                           quote=f"{allegation.summary} {n}") for n in range(count)]
        factories.published_incident(author=author, reference_code=code, place=shusha, date_start=D(2021, 5, day),
                                     date_end=D(2021, 5, day), civilians_killed_min=killed, allegations=[first, second])


def test_the_csv_writes_each_allegation_then_each_of_its_citations_in_order(archive, db, client, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK", 2)
    shusha_incidents(User.objects.get(username="export-researcher"))
    _, rows = csv_table(body(client.get(reverse("finding:export_csv"), {"place": "shusha", "sort": "date_asc"})))
    assert [(row["incident_ref"], row["citation_quote"]) for row in rows] == [
        (code, f"{code} {which} {n}")
        for code in ["SHU-B", "SHU-C", "SHU-A"] for which, count in [("first", 2), ("second", 3)] for n in range(count)
    ]
    for row in rows:
        first = row["allegation_summary"].endswith("first")
        assert row["alleged_perpetrator"] == ("North army" if first else "South army")
        assert row["perpetrator_side"] == ("North" if first else "South")
        assert row["violation_types"] == (
            "Attack on civilian objects; Indiscriminate attack" if first else "Indiscriminate attack"
        )
        assert row["weapons"] == ("Cluster rocket X; Grad rocket" if first else "")
        assert (row["place"], row["latitude"], row["longitude"], row["geo_precision"]) == ("Shusha", "39.758", "46.75", "town")
        assert (row["source_organization"], row["source_kind"], row["citation_stance"]) == ("Watch", "report", "supports")


@pytest.mark.parametrize("sort, expected", [
    ("date", ["SHU-A", "SHU-C", "SHU-B"]),
    ("date_asc", ["SHU-B", "SHU-C", "SHU-A"]),
    ("killed", ["SHU-B", "SHU-A", "SHU-C"]),
    ("updated", ["SHU-C", "SHU-B", "SHU-A"]),
])
def test_the_csv_keeps_the_order_of_every_sort_across_chunks(archive, db, client, monkeypatch, sort, expected):
    monkeypatch.setattr(exports, "CHUNK", 2)
    shusha_incidents(User.objects.get(username="export-researcher"))
    _, rows = csv_table(body(client.get(reverse("finding:export_csv"), {"place": "shusha", "sort": sort})))
    assert list(dict.fromkeys(row["incident_ref"] for row in rows)) == expected
    assert len(rows) == 15


def test_the_csv_reads_a_chunk_with_the_same_queries_however_many_rows_it_holds(archive, db, client, monkeypatch):
    def queries(chunk):
        monkeypatch.setattr(exports, "CHUNK", chunk)
        with CaptureQueriesContext(connection) as captured:
            body(client.get(reverse("finding:export_csv")))
        return len(captured)

    few = queries(100)
    shusha_incidents(User.objects.get(username="export-researcher"))  # three more incidents, fifteen more rows
    assert queries(100) == few
    # Per chunk: its incidents, their places, allegations, violation types, weapons and citations.
    visible = 8
    assert queries(1) - queries(100) == 6 * (visible - 1)


def test_the_csv_bytes_of_blank_quoted_and_neutralised_cells(archive, db, client):
    author = User.objects.get(username="export-researcher")
    shusha = factories.place("Shusha", aliases=["Shushi"], admin_area="Shusha, district", country="AZ",
                             latitude="40.000000", longitude="-0.000100", geo_precision="exact")
    factories.published_incident(
        author=author, reference_code="BARE", place=shusha, title='Shelling, "again"', summary="line one\nline two",
        location_detail="=1+1", date_start=D(2021, 5, 1), date_end=D(2021, 6, 30), date_precision="month",
        civilians_killed_min=0, civilians_killed_max=0, civilians_injured_min=12, allegations=[],
    )
    uncited = factories.allegation("North army", "North", affected_party="+children")
    uncited.citations = []
    cited = factories.allegation(None, "North", violation=None, confidence="party_claim")
    cited.citations = [factories.CitationData(
        source=factories.source(org="Watch", title="Report three", url="https://example.org/3",
                                published_on=D(2021, 1, 1), published_form="year"),
        quote='He said: "no", twice', stance="disputes",
    )]
    factories.published_incident(author=author, reference_code="UNCITED", place=shusha, allegations=[uncited, cited])
    data = body(client.get(reverse("finding:export_csv"), {"place": "shusha", "sort": "date_asc"}))
    area = '"Shusha, district",AZ,40,\'-0.0001,exact'
    lines = [
        ",".join(INTERCHANGE_COLUMNS),
        f"UNCITED,,Shelling of a market,2020-10-04,2020-10-04,day,Shusha (Shushi),,{area},,,,,,"
        "North army,North,'+children,Indiscriminate attack,,,single_source,,,,,,,",
        f"UNCITED,,Shelling of a market,2020-10-04,2020-10-04,day,Shusha (Shushi),,{area},,,,,,"
        ',North,,,,,party_claim,Watch,report,Report three,2021,https://example.org/3,"He said: ""no"", twice",disputes',
        f'BARE,,"Shelling, ""again""",2021-05,2021-06,month,Shusha (Shushi),\'=1+1,{area},"line one\nline two",'
        "0,0,12,,,,,,,,,,,,,,,",
    ]
    assert data == ("\ufeff" + "".join(line + "\r\n" for line in lines)).encode()


# --- the reference data -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        with transaction.atomic():
            factories.user("ref-researcher", role="researcher")
            reviewer = factories.user("ref-reviewer", role="reviewer")
            out = io.StringIO()
            call_command("load_weapon_types", str(DEMO / "weapon_types.csv"), "--as", "ref-researcher", stdout=out)
            call_command("import_incidents", str(DEMO / "reference_incidents.csv"), "--as", "ref-researcher", stdout=out)
            approve_everything(reviewer)
            yield
            transaction.set_rollback(True)


def picked(query):
    request = RequestFactory().get("/", query)
    request.user = AnonymousUser()
    filterset, queryset = filter_incidents(request)
    assert not filterset.form.errors
    return set(queryset.values_list("reference_code", flat=True))


@pytest.mark.parametrize("query, expected", [
    # The one incident whose weapons column names LAR-160 (HRW on Stepanakert's neighbourhoods).
    ({"weapon": "lar-160"}, {"AZF-2020-02"}),
    ({"weapon": "LAR 160"}, {"AZF-2020-02"}),
    # Every incident with an allegation against the side "Azerbaijan".
    ({"side": "azerbaijan"}, {"AZF-2020-01", "AZF-2020-02", "AZF-2020-04", "AZF-2020-06", "AZF-2020-10",
                              "AZF-2020-12", "AZF-2023-01"}),
    ({"side": "armenia-and-nagorno-karabakh"}, {"ARF-2020-01", "ARF-2020-04", "ARF-2020-05", "ARF-2020-07",
                                                "ARF-2020-09", "ARF-2020-11", "ARF-2023-01"}),
    # Cluster munitions: M095 DPICM in Stepanakert, LAR-160 in Stepanakert, 9M55 Smerch / 9N235 in Barda.
    ({"cluster": "yes"}, {"AZF-2020-01", "AZF-2020-02", "ARF-2020-07"}),
    # The two Scud-B strikes on Ganja, named in their titles, summaries and quotes.
    ({"q": "scud"}, {"ARF-2020-04", "ARF-2020-05"}),
    ({"cluster": "yes", "side": "azerbaijan"}, {"AZF-2020-01", "AZF-2020-02"}),
    ({"unattributed": "yes"}, {"UNA-2020-01"}),
])
def test_on_the_reference_data_filters_pick_what_a_reader_of_the_file_would(reference, db, query, expected):
    assert picked(query) == expected


def test_an_export_of_the_reference_data_re_imports_without_a_single_change(reference, db, client, tmp_path):
    data = body(client.get(reverse("finding:export_csv")))
    _, rows = csv_table(data)
    assert len({row["incident_ref"] for row in rows}) == 15 and len(rows) == 42
    before, hashes = counts(), documents()
    output = reimport(tmp_path, data, "ref-researcher")
    assert "0 created, 0 changed (a new revision for review), 15 unchanged" in output
    assert counts() == before
    assert documents() == hashes


def test_a_csv_line_joined_from_encoded_parts_is_what_writerow_gives_for_the_whole_row():
    import csv
    import io

    from incidents import exports

    tricky = ['', 'plain', 'a,b', 'say "no"', 'two\nlines', '=1+1', "'=quoted", ' ', '""', '-', 'é']
    columns = exports._INCIDENT_COLUMNS + exports._ALLEGATION_COLUMNS + exports._CITATION_COLUMNS
    cells = {column: tricky[index % len(tricky)] for index, column in enumerate(columns)}
    parts = [exports._line_part(cells, group) for group in
             (exports._INCIDENT_COLUMNS, exports._ALLEGATION_COLUMNS, exports._CITATION_COLUMNS)]
    whole = io.StringIO()
    csv.writer(whole, lineterminator="\r\n").writerow(
        [exports.neutralise(cells[column]) for column in columns])
    assert ",".join(parts) + "\r\n" == whole.getvalue()
    blank = io.StringIO()
    csv.writer(blank, lineterminator="\r\n").writerow(
        [exports.neutralise(cells[column]) for column in exports._INCIDENT_COLUMNS]
        + [""] * len(exports._ALLEGATION_COLUMNS + exports._CITATION_COLUMNS))
    assert next(exports.csv_rows(parts[0], [])) == blank.getvalue()
