"""Importing the interchange CSV (INTERCHANGE.md) with manage.py import_incidents, and loading weapon types."""
import csv
import datetime
import hashlib
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from archive import audit
from archive.models import AuditEvent
from incidents import services
from incidents.interchange import COLUMNS, neutralise, restore
from incidents.models import Allegation, Conflict, Incident, IncidentRevision, Party, Place, Review, Side, WeaponType
from sources.models import Citation, Organization, Source
from tests import factories

DEMO = Path(settings.BASE_DIR) / "incidents" / "demo"
REFERENCE = DEMO / "reference_incidents.csv"
WEAPONS = DEMO / "weapon_types.csv"
MODELS = (Incident, Allegation, Citation, Source, Organization, Place, Party, Side, Conflict, WeaponType, AuditEvent)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Accounts made by the fixtures need no strong hashing; it would dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def reference_rows():
    with REFERENCE.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def csv_bytes(rows, columns=None):
    columns = columns or list(rows[0])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def run_import(tmp_path, data, *options, user="rita"):
    path = tmp_path / "incidents.csv"
    path.write_bytes(data)
    out = io.StringIO()
    as_user = ["--as", user] if user else []
    call_command("import_incidents", str(path), *as_user, *options, stdout=out)
    return out.getvalue()


def import_errors(tmp_path, data, *options, user="rita"):
    with pytest.raises(CommandError) as raised:
        run_import(tmp_path, data, *options, user=user)
    return str(raised.value)


def counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def import_reference(tmp_path):
    return run_import(tmp_path, REFERENCE.read_bytes())


def record(reference_code):
    return Incident.objects.get(reference_code=reference_code, draft_of__isnull=True)


def one_row_file(**cells):
    row = {
        "incident_ref": "TST-1", "title": "Shelling of a market", "date_start": "2020-10-04", "date_precision": "day",
        "place": "Testville", "confidence": "single_source", "source_organization": "Test Watch",
        "source_url": "https://example.org/report-1",
    }
    row.update(cells)
    return csv_bytes([row], columns=list(row))


# Importing the reference file


def test_importing_the_reference_file_records_fifteen_incidents_in_review_by_the_importer(tmp_path, researcher):
    import_reference(tmp_path)

    incidents = Incident.objects.all()
    assert incidents.count() == 15
    assert set(incidents.values_list("status", flat=True)) == {"in_review"}
    assert set(incidents.values_list("created_by__username", flat=True)) == {"rita"}
    assert set(IncidentRevision.objects.values_list("submitted_by__username", flat=True)) == {"rita"}
    assert not Review.objects.exists()
    assert not Incident.objects.published().exists()


def test_allegations_are_recorded_against_both_sides_and_against_no_one(tmp_path, researcher):
    import_reference(tmp_path)

    sides = set(Allegation.objects.exclude(perpetrator_side=None).values_list("perpetrator_side__name", flat=True))
    assert sides == {"Azerbaijan", "Armenia and Nagorno-Karabakh"}
    unattributed = record("UNA-2020-01").allegations.get()
    assert (unattributed.perpetrator, unattributed.perpetrator_side) == (None, None)
    two = [(str(a.perpetrator), str(a.perpetrator_side)) for a in record("ARF-2020-11").allegations.all()]
    assert two == [
        ("Armenian armed forces", "Armenia and Nagorno-Karabakh"),
        ("Nagorno-Karabakh de facto forces", "Armenia and Nagorno-Karabakh"),
    ]
    assert Party.objects.get(name="Azerbaijani armed forces").side.name == "Azerbaijan"


def test_every_row_becomes_one_citation_in_row_order_and_sources_are_shared(tmp_path, researcher):
    import_reference(tmp_path)

    assert Citation.objects.count() == len(reference_rows()) == 42
    citations = Citation.objects.filter(allegation__incident=record("AZF-2020-01")).order_by("position")
    assert [c.source.organization.name for c in citations] == [
        "Amnesty International", "campagnamine.org", "The Armenian Mirror-Spectator",
    ]
    hrw_report = "https://www.hrw.org/news/2020/12/11/azerbaijan-unlawful-strikes-nagorno-karabakh"
    assert Source.objects.filter(url=hrw_report).count() == 1
    assert Citation.objects.filter(source__url=hrw_report).count() == 3
    assert Organization.objects.get(name="Human Rights Watch").kind == "unknown"


def test_shushi_and_shusha_are_one_place_found_through_its_alias(tmp_path, researcher):
    import_reference(tmp_path)

    shushi = Place.objects.get(name="Shushi")
    assert shushi.alias_list() == ["Shusha"]
    assert record("AZF-2020-06").place == record("ARF-2023-01").place == shushi
    assert not Place.objects.filter(name="Shusha").exists()
    assert Place.objects.get(name="Stepanakert").alias_list() == ["Khankendi"]


def test_a_place_is_found_by_the_alternative_name_in_parentheses(tmp_path, researcher):
    stepanakert = factories.place("Stepanakert")

    run_import(tmp_path, one_row_file(place="Khankendi (Stepanakert)"))

    assert record("TST-1").place == stepanakert
    assert Place.objects.count() == 1


def test_dates_are_stored_as_the_span_they_name(tmp_path, researcher):
    import_reference(tmp_path)

    months = record("AZF-2020-10")
    assert (months.date_start, months.date_end, months.date_precision) == (
        datetime.date(2020, 10, 1), datetime.date(2020, 12, 31), "month",
    )
    unknown = record("ARF-2020-09")
    assert (unknown.date_start, unknown.date_end, unknown.date_precision) == (None, None, "unknown")


def test_a_blank_end_date_ends_with_the_start_period(tmp_path, researcher):
    run_import(tmp_path, one_row_file(date_start="2020-10", date_end="", date_precision="month"))

    incident = record("TST-1")
    assert (incident.date_start, incident.date_end) == (datetime.date(2020, 10, 1), datetime.date(2020, 10, 31))


def test_weapon_names_match_known_weapon_types_through_their_aliases(tmp_path, researcher):
    call_command("load_weapon_types", str(WEAPONS), stdout=io.StringIO())
    rows = reference_rows()
    for row in rows:
        if row["incident_ref"] == "AZF-2020-02":
            row["weapons"] = "LAR 160"
    weapon_types = WeaponType.objects.count()

    run_import(tmp_path, csv_bytes(rows))

    assert [w.name for w in record("AZF-2020-02").allegations.get().weapons.all()] == ["LAR-160"]
    assert WeaponType.objects.count() == weapon_types
    assert not WeaponType.objects.filter(needs_curation=True).exists()


def test_unknown_weapon_names_create_weapon_types_flagged_for_curation(tmp_path, researcher):
    import_reference(tmp_path)

    knife = WeaponType.objects.get(name="Knife")
    assert knife.needs_curation
    assert list(record("ARF-2020-09").allegations.get().weapons.all()) == [knife]


def test_the_import_appends_one_summary_event_and_keeps_the_chain_valid(tmp_path, researcher):
    data = REFERENCE.read_bytes()

    import_reference(tmp_path)

    summary = AuditEvent.objects.order_by("-seq").first()
    assert summary.action == "import"
    assert summary.actor == researcher
    assert summary.changes["file_sha256"] == hashlib.sha256(data).hexdigest()
    assert (summary.changes["rows"], summary.changes["created"], summary.changes["changed"]) == (42, 15, 0)
    assert AuditEvent.objects.filter(action="import").count() == 1
    assert AuditEvent.objects.filter(action="incident.submit").count() == 15
    assert audit.verify().ok


def test_importing_the_same_file_again_writes_nothing_not_even_a_summary_event(tmp_path, researcher):
    import_reference(tmp_path)
    before, head = counts(), audit.head()

    output = import_reference(tmp_path)

    assert counts() == before
    assert audit.head() == head
    assert "0 created, 0 changed (a new revision for review), 15 unchanged" in output


def test_a_bom_at_the_start_of_the_file_is_tolerated(tmp_path, researcher):
    run_import(tmp_path, b"\xef\xbb\xbf" + REFERENCE.read_bytes().removeprefix(b"\xef\xbb\xbf"))

    assert Incident.objects.count() == 15


def test_a_dry_run_writes_nothing_and_reports_what_would_be_created(tmp_path, researcher):
    before = counts()

    output = run_import(tmp_path, REFERENCE.read_bytes(), "--dry-run")

    assert counts() == before
    assert "Dry run: nothing was written." in output
    assert "42 rows, 15 incidents: 15 would be created, 0 would be changed" in output
    assert "New places: 7 (" in output
    assert "New sources: 38 (" in output


def test_a_dry_run_needs_no_importing_user(tmp_path, db):
    output = run_import(tmp_path, REFERENCE.read_bytes(), "--dry-run", user=None)

    assert "15 would be created" in output
    assert not Incident.objects.exists()


# Side-only attribution and parties


def test_an_allegation_may_name_only_a_side(tmp_path, researcher):
    run_import(tmp_path, one_row_file(alleged_perpetrator="", perpetrator_side="Side B"))

    allegation = record("TST-1").allegations.get()
    assert allegation.perpetrator is None
    assert allegation.perpetrator_side.name == "Side B"


def test_a_new_party_gets_the_side_it_is_named_with(tmp_path, researcher):
    run_import(tmp_path, one_row_file(alleged_perpetrator="Party B forces", perpetrator_side="Side B"))

    assert Party.objects.get(name="Party B forces").side.name == "Side B"


def test_names_match_case_insensitively(tmp_path, researcher):
    factories.party("Party A forces", "Side A")
    factories.organization("Test Watch")
    before = (Party.objects.count(), Side.objects.count(), Organization.objects.count())

    run_import(tmp_path, one_row_file(alleged_perpetrator="party a  FORCES", source_organization="TEST WATCH"))

    assert (Party.objects.count(), Side.objects.count(), Organization.objects.count()) == before
    assert record("TST-1").allegations.get().perpetrator_side.name == "Side A"


def test_a_party_given_with_another_side_than_its_own_is_a_row_error(tmp_path, researcher):
    factories.party("Party A forces", "Side A")

    message = import_errors(tmp_path, one_row_file(alleged_perpetrator="Party A forces", perpetrator_side="Side B"))

    assert "line 2, column perpetrator_side: Party A forces is recorded on the side Side A" in message
    assert not Incident.objects.exists()


def test_an_existing_source_is_cited_again_when_organization_and_address_match(tmp_path, researcher):
    source = factories.source("Test Watch", title="Report one", url="https://example.org/report-1")
    before = Source.objects.count()

    run_import(tmp_path, one_row_file(source_title="Report one"))

    assert Source.objects.count() == before
    assert record("TST-1").allegations.get().citations.get().source == source


def test_a_source_reused_by_its_address_must_not_contradict_the_recorded_title(tmp_path, researcher):
    factories.source("Test Watch", title="Report one", url="https://example.org/report-1")

    message = import_errors(tmp_path, one_row_file(source_title="Another title"))

    assert "line 2, column source_title" in message
    assert "'Report one'" in message


# Places and coordinates


def test_a_new_place_takes_the_rows_area_country_and_coordinates(tmp_path, researcher):
    run_import(tmp_path, one_row_file(
        place="Newtown (Nowa)", admin_area="North district", country="Somewhere", latitude="40.5",
        longitude="'-46.25", geo_precision="town",
    ))

    place = Place.objects.get(name="Newtown")
    assert (place.alias_list(), place.admin_area, place.country) == (["Nowa"], "North district", "Somewhere")
    assert (place.latitude, place.longitude, place.geo_precision) == (Decimal("40.5"), Decimal("-46.25"), "town")


def test_coordinates_that_contradict_the_recorded_place_are_a_row_error(tmp_path, researcher):
    factories.place("Testville", latitude=Decimal("40.000000"), longitude=Decimal("46.000000"), geo_precision="town")

    message = import_errors(tmp_path, one_row_file(latitude="40.01", longitude="46.0"))

    assert "line 2, column latitude: the place Testville is recorded at 40.000000, 46.000000" in message
    assert not Incident.objects.exists()


def test_coordinates_within_a_thousandth_of_a_degree_are_the_same_place(tmp_path, researcher):
    place = factories.place("Testville", latitude=Decimal("40.000000"), longitude=Decimal("46.000000"))

    run_import(tmp_path, one_row_file(latitude="40.0005", longitude="45.9995"))

    assert record("TST-1").place == place
    place.refresh_from_db()
    assert place.latitude == Decimal("40.000000")


# Formula neutralisation


def test_neutralised_formula_cells_are_restored(tmp_path, researcher):
    run_import(tmp_path, one_row_file(
        incident_summary="'=HYPERLINK(\"x\")", citation_quote="'@everyone look", allegation_summary="'plain quote",
        affected_party="'+civilians",
    ))

    incident = record("TST-1")
    allegation = incident.allegations.get()
    assert incident.summary == '=HYPERLINK("x")'
    assert allegation.citations.get().quote == "@everyone look"
    assert allegation.affected_party == "+civilians"
    assert allegation.summary == "'plain quote"


@pytest.mark.parametrize("text", ["=1+1", "-5", "@x", "\tx", "'=x", "'plain", "plain", ""])
def test_neutralising_and_restoring_a_cell_gives_it_back_unchanged(text):
    assert restore(neutralise(text)) == text
    assert not neutralise(text).startswith(("=", "+", "-", "@", "\t", "\r"))


# Refusals: all or nothing, every problem with its line and column


def assert_nothing_written(before):
    after = counts()
    for model in ("Incident", "Source", "Organization", "Place", "AuditEvent"):
        assert after[model] == before[model], model


def test_a_malformed_date_is_reported_with_its_line_and_column_and_nothing_is_written(tmp_path, researcher):
    rows = reference_rows()
    rows[4]["date_start"] = "2020-13-45"
    before = counts()

    message = import_errors(tmp_path, csv_bytes(rows))

    assert "line 6, column date_start: '2020-13-45' is not a real date" in message
    assert_nothing_written(before)


def test_an_unknown_violation_type_is_reported_with_its_line_and_column(tmp_path, researcher):
    rows = reference_rows()
    rows[10]["violation_types"] = "Indiscriminate attack; Bad manners"
    before = counts()

    message = import_errors(tmp_path, csv_bytes(rows))

    assert "line 12, column violation_types: unknown violation type 'Bad manners'" in message
    assert "differs from line" not in message
    assert_nothing_written(before)


def test_a_minimum_above_the_maximum_is_reported_with_its_line_and_column(tmp_path, researcher):
    rows = reference_rows()
    for row in rows[23:26]:
        row["civilians_killed_min"] = "12"
    before = counts()

    message = import_errors(tmp_path, csv_bytes(rows))

    assert "line 25, column civilians_killed_min: 12 is more than civilians_killed_max (10)" in message
    assert "line 27, column civilians_killed_min" in message
    assert_nothing_written(before)


def test_a_missing_required_column_is_reported_on_the_header_line(tmp_path, researcher):
    columns = [c for c in COLUMNS if c != "title"]
    before = counts()

    message = import_errors(tmp_path, csv_bytes(reference_rows(), columns=columns))

    assert "line 1, column title: required column is missing" in message
    assert_nothing_written(before)


def test_an_unknown_column_is_reported_on_the_header_line(tmp_path, researcher):
    rows = reference_rows()
    for row in rows:
        row["source_tilte"] = row.pop("source_title")
    before = counts()

    message = import_errors(tmp_path, csv_bytes(rows))

    assert "line 1, column source_tilte: unknown column (did you mean source_title?)" in message
    assert_nothing_written(before)


def test_every_problem_in_a_file_is_reported_at_once(tmp_path, researcher):
    rows = reference_rows()
    rows[0]["confidence"] = "certain"
    rows[9]["source_url"] = "ftp://example.org/file"
    rows[24]["latitude"] = "91"
    rows[41]["title"] = ""
    before = counts()

    message = import_errors(tmp_path, csv_bytes(rows))

    assert "line 2, column confidence: 'certain' is not one of" in message
    assert "line 11, column source_url: 'ftp://example.org/file' is not an http(s) address" in message
    assert "line 26, column latitude: 91 is outside -90..90" in message
    assert "line 43, column title: required; this cell is blank" in message
    assert "4 problem(s) found; nothing was imported." in message
    assert_nothing_written(before)


@pytest.mark.parametrize(("cells", "where", "message"), [
    ({"date_start": "", "date_precision": "day"}, "date_start", "a date is needed unless date_precision is unknown"),
    ({"date_start": "2020-10-05", "date_end": "2020-10-04"}, "date_end", "'2020-10-04' is before date_start"),
    ({"date_start": "2020-10", "date_precision": "day"}, "date_start", "is not written YYYY-MM-DD"),
    ({"latitude": "40.1"}, "longitude", "blank, but latitude is given"),
    ({"latitude": "NaN", "longitude": "46"}, "latitude", "'NaN' is not a number of decimal degrees"),
    ({"longitude": "inf", "latitude": "40"}, "longitude", "'inf' is not a number of decimal degrees"),
    ({"geo_precision": "street"}, "geo_precision", "'street' is not one of"),
    ({"civilians_injured_max": "-1"}, "civilians_injured_max", "is not a whole number"),
    ({"civilians_injured_min": "2.5"}, "civilians_injured_min", "is not a whole number"),
    ({"source_kind": "tweet"}, "source_kind", "'tweet' is not one of"),
    ({"citation_stance": "maybe"}, "citation_stance", "'maybe' is not one of"),
    ({"source_url": "javascript:alert(1)"}, "source_url", "is not an http(s) address"),
    ({"incident_ref": "bad ref!"}, "incident_ref", "Use letters, digits"),
    ({"title": "x" * 301}, "title", "longer than 300 characters"),
    ({"source_date": "2020-02-30"}, "source_date", "is not a real date"),
])
def test_each_invalid_cell_is_reported_at_its_line_and_column(tmp_path, researcher, cells, where, message):
    text = import_errors(tmp_path, one_row_file(**cells))

    assert f"line 2, column {where}: " in text
    assert message in text
    assert not Incident.objects.exists()


def test_rows_of_one_incident_must_agree_on_incident_columns(tmp_path, researcher):
    rows = reference_rows()
    rows[1]["title"] = "Another title"

    message = import_errors(tmp_path, csv_bytes(rows))

    assert "line 3, column title: 'Another title' differs from line 2" in message
    assert not Incident.objects.exists()


def test_line_numbers_count_the_lines_of_multi_line_cells(tmp_path, researcher):
    rows = reference_rows()[:2]
    rows[0]["incident_summary"] = "first line\nsecond line\nthird line"
    rows[1]["citation_stance"] = "neutral"

    message = import_errors(tmp_path, csv_bytes(rows))

    assert "line 5, column citation_stance" in message


def test_a_row_with_too_many_cells_is_reported(tmp_path, researcher):
    data = one_row_file().rstrip(b"\r\n") + b",extra\r\n"

    message = import_errors(tmp_path, data)

    assert "line 2: the row has" in message


def test_a_file_that_is_not_utf8_is_refused(tmp_path, researcher):
    data = one_row_file(title="Café").decode("utf-8").encode("latin-1")

    message = import_errors(tmp_path, data)

    assert "line 2: the file is not UTF-8 text" in message


# Who imports


def test_an_import_needs_an_importing_user(tmp_path, db):
    message = import_errors(tmp_path, REFERENCE.read_bytes(), user=None)

    assert "Say who is importing" in message
    assert not Incident.objects.exists()


def test_only_researchers_can_import(tmp_path, reviewer):
    message = import_errors(tmp_path, REFERENCE.read_bytes(), user="vera")

    assert "vera is not a researcher" in message
    assert not Incident.objects.exists()


# Changed rows for incidents already in the archive


def publish(reference_code, reviewer):
    incident = record(reference_code)
    revision = services.revision_in_review(incident)
    return services.approve(actor=reviewer, incident=incident, sha256=revision.sha256)


def test_a_changed_row_for_a_published_incident_becomes_a_working_revision_in_review(tmp_path, researcher, reviewer):
    import_reference(tmp_path)
    published = publish("AZF-2020-01", reviewer)
    old_title = published.title
    rows = reference_rows()
    for row in rows[:3]:
        row["title"] = "Cluster munitions in Stepanakert (revised)"

    output = run_import(tmp_path, csv_bytes(rows))

    assert "0 created, 1 changed (a new revision for review), 14 unchanged" in output
    assert Incident.objects.published().get(reference_code="AZF-2020-01").title == old_title
    copy = Incident.objects.get(draft_of=published)
    assert (copy.title, copy.status, copy.revision) == ("Cluster munitions in Stepanakert (revised)", "in_review", 2)
    assert copy.created_by == researcher
    assert AuditEvent.objects.filter(action="incident.revise").count() == 1


def test_a_dry_run_reports_which_incidents_would_change(tmp_path, researcher, reviewer):
    import_reference(tmp_path)
    publish("AZF-2020-01", reviewer)
    rows = reference_rows()
    for row in rows[:3]:
        row["citation_stance"] = "disputes"
    before, head = counts(), audit.head()

    output = run_import(tmp_path, csv_bytes(rows), "--dry-run")

    assert "0 would be created, 1 would be changed (a new revision for review), 14 unchanged" in output
    assert "Changed: AZF-2020-01" in output
    assert (counts(), audit.head()) == (before, head)


def test_importing_the_changed_file_again_changes_nothing_more(tmp_path, researcher, reviewer):
    import_reference(tmp_path)
    publish("AZF-2020-01", reviewer)
    rows = reference_rows()
    for row in rows[:3]:
        row["title"] = "Cluster munitions in Stepanakert (revised)"
    run_import(tmp_path, csv_bytes(rows))
    before, head = counts(), audit.head()

    output = run_import(tmp_path, csv_bytes(rows))

    assert "15 unchanged" in output
    assert (counts(), audit.head()) == (before, head)


def test_a_changed_row_for_an_incident_in_review_is_refused_for_that_incident(tmp_path, researcher):
    import_reference(tmp_path)
    rows = reference_rows()
    for row in rows[3:6]:
        row["title"] = "Changed while in review"
    before = counts()

    message = import_errors(tmp_path, csv_bytes(rows))

    assert "line 5, column incident_ref: AZF-2020-02 differs from the archive, but it is in review" in message
    assert_nothing_written(before)
    assert record("AZF-2020-02").title != "Changed while in review"


def test_an_import_keeps_what_the_format_cannot_express(tmp_path, researcher, reviewer):
    import_reference(tmp_path)
    published = publish("UNA-2020-01", reviewer)
    citation = Citation.objects.filter(allegation__incident=published).order_by("position").first()
    Citation.objects.filter(pk=citation.pk).update(locator="p. 3")

    output = import_reference(tmp_path)

    assert "15 unchanged" in output
    assert Citation.objects.get(pk=citation.pk).locator == "p. 3"


# Weapon types


def test_loading_weapon_types_maps_categories_and_is_idempotent(db):
    call_command("load_weapon_types", str(WEAPONS), stdout=io.StringIO())
    before, head = counts(), audit.head()

    out = io.StringIO()
    call_command("load_weapon_types", str(WEAPONS), stdout=out)

    assert (counts(), audit.head()) == (before, head)
    assert "0 created, 0 updated, 16 unchanged" in out.getvalue()
    lar = WeaponType.objects.get(name="LAR-160")
    assert (lar.category, lar.is_cluster_munition, lar.origin_as_reported) == ("cluster_munition_rocket", "yes", "Israel")
    assert "LAR 160" in lar.alias_list()
    assert WeaponType.objects.get(name="M095 DPICM").category == "cluster_submunition"
    assert WeaponType.objects.get(name="Smerch rocket").category == "unguided_artillery_rocket"
    assert WeaponType.objects.get(name="Aircraft-delivered munition (type not identified)").category == "aerial_munition"
    assert not WeaponType.objects.filter(needs_curation=True).exists()


def test_loading_weapon_types_classifies_names_an_import_flagged_for_curation(tmp_path, researcher):
    import_reference(tmp_path)
    assert WeaponType.objects.get(name="Knife").needs_curation

    call_command("load_weapon_types", str(WEAPONS), stdout=io.StringIO())

    knife = WeaponType.objects.get(name="Knife")
    assert (knife.needs_curation, knife.category, knife.alias_list()) == (False, "edged_weapon", ["edged weapon"])
    update = AuditEvent.objects.filter(action="weapontype.update", target_id=str(knife.pk)).get()
    assert update.changes["changed"]["category"] == ["unknown", "edged_weapon"]
    assert audit.verify().ok


def test_an_unknown_weapon_category_is_reported_and_nothing_is_loaded(tmp_path, db):
    path = tmp_path / "weapons.csv"
    path.write_text("name,category,is_cluster_munition\nGood,artillery,no\nBad,death ray,maybe\n", encoding="utf-8")

    with pytest.raises(CommandError) as raised:
        call_command("load_weapon_types", str(path), stdout=io.StringIO())

    assert "line 3, column category: 'death ray' is not a weapon category" in str(raised.value)
    assert "line 3, column is_cluster_munition: 'maybe' is not one of" in str(raised.value)
    assert not WeaponType.objects.exists()
