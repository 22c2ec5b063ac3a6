"""Bad input, one case per row: nothing answers 500 and nothing is written.

Every form, the importer, the admin's place form, query strings and uploads are fed
malformed, impossible, oversized, hostile or forged values. Each refusal leaves the
database (incidents, allegations, sources, citations, captures, stored files, the audit
log) and MEDIA_ROOT exactly as they were; each case also checks that the refusal is said
where the user will see it. Text that is odd but valid (right-to-left marks, emoji,
markup, formula-like cells) is kept exactly and shown escaped.
"""
import csv
import datetime
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from PIL import Image

from archive.models import AuditEvent
from incidents import services
from incidents.importer import ImportFailed, import_incidents
from incidents.interchange import COLUMNS, FORMULA_STARTS
from incidents.models import Allegation, Conflict, Incident, Party, Place, Side, ViolationType, WeaponType
from sources import files
from sources import services as source_services
from sources.models import Capture, Citation, Organization, Source, StoredFile
from tests import factories
from tests.images import PDF, image_bytes

MODELS = (Incident, Allegation, Source, Citation, Capture, StoredFile, AuditEvent, Organization, Place, Party, Side,
          Conflict, WeaponType)
TODAY = datetime.date.today()
FAR_FUTURE = "2999-01-01"
IN_TWO_DAYS = (TODAY + datetime.timedelta(days=2)).isoformat()
NEXT_YEAR = str(TODAY.year + 1)
MEGABYTE = "x" * 1_000_000
NUL = "with a \x00 NUL"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def state(media_root):
    files = sorted(str(p) for p in Path(media_root).rglob("*") if p.is_file())
    return {**{model.__name__: model.objects.count() for model in MODELS}, "files": files}


# --- The incident form ----------------------------------------------------------------------


def management(prefix, total, initial=0):
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "50"}


def incident_post(**changes):
    data = {
        "reference_code": "BAD-1", "title": "Strike on a hospital", "summary": "", "date_start": "2020-10-04",
        "date_end": "", "date_precision": "day", "place": str(factories.place().pk), "location_detail": "",
        "conflict": "", "visibility": "public", "civilians_killed_min": "", "civilians_killed_max": "",
        "civilians_injured_min": "", "civilians_injured_max": "",
        **management("allegations", 1),
        "allegations-0-perpetrator": str(factories.party().pk), "allegations-0-perpetrator_side": "",
        "allegations-0-confidence": "single_source", "allegations-0-affected_party": "", "allegations-0-summary": "",
        "allegations-0-party_response": "",
        **management("allegations-0-citations", 1),
        "allegations-0-citations-0-source": str(factories.source().pk), "allegations-0-citations-0-stance": "supports",
        "allegations-0-citations-0-quote": "", "allegations-0-citations-0-locator": "",
    }
    data.update(changes)
    return data


A0, C0 = "allegations-0-", "allegations-0-citations-0-"
INCIDENT_CASES = [
    pytest.param({"date_start": "04/10/2020"}, "date_start", "Write the date as YYYY-MM-DD", id="malformed date"),
    pytest.param({"date_start": "2020-02-30"}, "date_start", "a real date", id="impossible date 2020-02-30"),
    pytest.param({"date_start": "2020-13", "date_precision": "month"}, "date_start", "a real date", id="month 13"),
    pytest.param({"date_start": "1799-12-31"}, "date_start", "after 1800", id="date before 1800"),
    pytest.param({"date_start": "99999-01-01"}, "date_start", "Write the date as", id="five-digit year"),
    pytest.param({"date_start": FAR_FUTURE}, "date_start", "in the future", id="far-future start"),
    pytest.param({"date_start": IN_TWO_DAYS}, "date_start", "in the future", id="start the day after tomorrow"),
    pytest.param({"date_start": NEXT_YEAR, "date_precision": "year"}, "date_start", "in the future", id="next year"),
    pytest.param({"date_end": FAR_FUTURE, "date_precision": "approximate"}, "date_end", "in the future",
                 id="far-future end"),
    pytest.param({"date_start": "2020-10-04", "date_end": "2020-10-01"}, "date_end", "before the start",
                 id="start after end"),
    pytest.param({"civilians_killed_min": "-1"}, "civilians_killed_min", "greater than or equal to 0",
                 id="negative count"),
    pytest.param({"civilians_killed_max": str(10**12)}, "civilians_killed_max", "less than or equal to",
                 id="count 10**12"),
    pytest.param({"civilians_injured_min": "9" * 5000}, "civilians_injured_min", "", id="count of 5000 digits"),
    pytest.param({"civilians_injured_min": "1.5"}, "civilians_injured_min", "whole number", id="fractional count"),
    pytest.param({"civilians_injured_min": "1e3"}, "civilians_injured_min", "whole number", id="count 1e3"),
    pytest.param({"civilians_killed_min": "7", "civilians_killed_max": "3"}, "civilians_killed_max",
                 "below the lower figure", id="min above max"),
    pytest.param({"title": MEGABYTE}, "title", "at most 300 characters", id="1 MB title"),
    pytest.param({"reference_code": MEGABYTE}, "reference_code", "at most 64 characters", id="1 MB reference"),
    pytest.param({"reference_code": "BAD-1' OR '1'='1"}, "reference_code", "Use letters", id="sql in reference"),
    pytest.param({"date_precision": "sometime"}, "date_precision", "Select a valid choice", id="unknown precision"),
    pytest.param({"visibility": "secret"}, "visibility", "Select a valid choice", id="unknown visibility"),
    pytest.param({"place": "999999"}, "place", "Select a valid choice", id="unknown place id"),
    pytest.param({"place": "1 OR 1=1"}, "place", "Select a valid choice", id="sql in place id"),
    *[
        pytest.param({name: NUL}, name, "Null characters are not allowed", id=f"NUL in {name}")
        for name in ["reference_code", "title", "summary", "location_detail", "date_start"]
    ],
    *[
        pytest.param({name: NUL}, name, "Null characters are not allowed", id=f"NUL in {name}")
        for name in [f"{A0}affected_party", f"{A0}summary", f"{A0}party_response", f"{C0}quote", f"{C0}locator"]
    ],
    pytest.param({f"{C0}source": "999999"}, f"{C0}source", "Select a valid choice", id="unknown source id"),
    pytest.param({"allegations-TOTAL_FORMS": "-5"}, None, "", id="negative form count"),
    pytest.param({"allegations-TOTAL_FORMS": "abc"}, None, "", id="non-numeric form count"),
    pytest.param({"allegations-TOTAL_FORMS": "9" * 5000}, None, "", id="5000-digit form count"),
    pytest.param({"allegations-TOTAL_FORMS": "100000"}, None, "Please submit at most 50", id="100000 forms"),
    pytest.param({"allegations-0-citations-TOTAL_FORMS": "100000"}, None, "", id="100000 citation forms"),
    pytest.param({"allegations-TOTAL_FORMS": "100000", "add_allegation": "1"}, None, "",
                 id="add a row past the limit"),
    pytest.param({"allegations-TOTAL_FORMS": "50", "add_citation": "allegations-49"}, None, "",
                 id="add a citation to a row that was never shown"),
]


def field_errors(response, name):
    """The errors shown for field `name` (an incident or allegation or citation field), or the page's."""
    entry = response.context["entry"]
    if name is None:
        return " ".join(str(e) for e in [entry.form.non_field_errors(), entry.allegations.non_form_errors()])
    if name.startswith(C0):
        return " ".join(entry.allegations.forms[0].citations.forms[0].errors.get(name[len(C0):], []))
    if name.startswith(A0):
        return " ".join(entry.allegations.forms[0].errors.get(name[len(A0):], []))
    return " ".join(entry.form.errors.get(name, []))


@pytest.mark.parametrize(("changes", "field", "message"), INCIDENT_CASES)
def test_the_incident_form_refuses_bad_input_and_writes_nothing(researcher_client, media_root, changes, field, message):
    data = incident_post(**changes)
    before = state(media_root)

    response = researcher_client.post(reverse("incidents:create"), data)

    assert response.status_code == 200
    assert message in field_errors(response, field)
    if field is not None:
        assert field_errors(response, field)
    assert state(media_root) == before


def test_a_date_up_to_tomorrow_is_accepted_so_the_future_rule_is_not_too_strict(researcher_client):
    tomorrow = (datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=1)).isoformat()

    response = researcher_client.post(reverse("incidents:create"), incident_post(date_start=tomorrow))

    assert response.status_code == 302


# --- The source form --------------------------------------------------------------------------


def source_post(**changes):
    data = {"organization": str(factories.organization().pk), "new_organization_name": "",
            "new_organization_kind": "unknown", "title": "Report on the strike", "kind": "report",
            "published": "2020-10", "url": "https://example.org/r", "language": "en", "reliability": ""}
    data.update(changes)
    return data


SOURCE_CASES = [
    pytest.param({"published": "last tuesday"}, "published", "Write the date as", id="malformed date"),
    pytest.param({"published": "2020-02-30"}, "published", "a real date", id="impossible date"),
    pytest.param({"published": FAR_FUTURE}, "published", "in the future", id="far-future date"),
    pytest.param({"published": IN_TWO_DAYS}, "published", "in the future", id="the day after tomorrow"),
    pytest.param({"url": "javascript:alert(1)"}, "url", "http:// or https://", id="javascript url"),
    pytest.param({"url": "JaVaScRiPt:alert(document.cookie)"}, "url", "http:// or https://", id="mixed-case javascript"),
    pytest.param({"url": "  javascript:alert(1)"}, "url", "http:// or https://", id="javascript after spaces"),
    pytest.param({"url": "java\nscript:alert(1)"}, "url", "not a web address", id="javascript split by newline"),
    pytest.param({"url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="}, "url",
                 "http:// or https://", id="data url"),
    pytest.param({"url": "vbscript:msgbox(1)"}, "url", "http:// or https://", id="vbscript url"),
    pytest.param({"url": "file:///etc/passwd"}, "url", "http:// or https://", id="file url"),
    pytest.param({"url": "https://exa mple.org/"}, "url", "not a web address", id="space in host"),
    pytest.param({"url": "https://" + "a" * 2000 + ".org"}, "url", "at most 2000 characters", id="2 KB url"),
    pytest.param({"title": MEGABYTE}, "title", "at most 500 characters", id="1 MB title"),
    pytest.param({"title": NUL}, "title", "Null characters", id="NUL in title"),
    pytest.param({"url": "https://example.org/\x00"}, "url", "Null characters", id="NUL in url"),
    pytest.param({"language": NUL}, "language", "Null characters", id="NUL in language"),
    pytest.param({"organization": "", "new_organization_name": NUL}, "new_organization_name", "Null characters",
                 id="NUL in new organization"),
    pytest.param({"kind": "tweet"}, "kind", "Select a valid choice", id="unknown kind"),
    pytest.param({"organization": "1; DROP TABLE sources_source"}, "organization", "Select a valid choice",
                 id="sql in organization id"),
]


@pytest.mark.parametrize(("changes", "field", "message"), SOURCE_CASES)
def test_the_source_form_refuses_bad_input_and_writes_nothing(researcher_client, media_root, changes, field, message):
    data = source_post(**changes)
    before = state(media_root)

    response = researcher_client.post(reverse("sources:create"), data)

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors.get(field, []))
    assert state(media_root) == before


# --- Captures and uploads ---------------------------------------------------------------------


def bomb():
    buffer = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buffer, format="PNG")
    return buffer.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
CAPTURE_CASES = [
    pytest.param({"archive_url": "javascript:alert(1)"}, [], "Enter a valid URL", id="javascript archive url"),
    pytest.param({"archive_url": "data:text/html,<script>alert(1)</script>"}, [], "Enter a valid URL",
                 id="data archive url"),
    pytest.param({"archive_url": "JAVASCRIPT:alert(1)//https://x"}, [], "Enter a valid URL",
                 id="upper-case javascript archive url"),
    pytest.param({"archive_url": "ftp://example.org/copy"}, [], "Only http and https", id="ftp archive url"),
    pytest.param({"archive_url": "https://web.archive.org/\x00"}, [], "Null characters", id="NUL in archive url"),
    pytest.param({"archive_url": "https://web.archive.org/x", "notes": NUL}, [], "Null characters", id="NUL in notes"),
    pytest.param({"archive_url": "https://web.archive.org/x", "captured_at": "2999-01-01 00:00"}, [], "in the future",
                 id="capture in the future"),
    pytest.param({"archive_url": "https://web.archive.org/x", "captured_at": "2020-02-30 10:00"}, [],
                 "Enter a valid date/time", id="impossible capture date"),
    pytest.param({"archive_url": "https://web.archive.org/x", "method": "stolen"}, [], "Select a valid choice",
                 id="unknown method"),
    pytest.param({}, [("bomb.png", bomb)], "limit of 40,000,000 pixels", id="decompression bomb"),
    pytest.param({}, [("cut.jpg", lambda: image_bytes("JPEG", size=(400, 300))[:700])], "damaged or truncated",
                 id="truncated jpeg"),
    pytest.param({}, [("map.svg", lambda: SVG)], "image/svg+xml", id="svg with script"),
    pytest.param({}, [("photo.jpg", lambda: PDF)], "named .jpg but its content is a PDF", id="pdf renamed jpg"),
    pytest.param({}, [("page.png", lambda: b"<!doctype html><script>alert(1)</script>")],
                 "named .png but its content is a HTML", id="html renamed png"),
    pytest.param({}, [("empty.pdf", lambda: b"")], "", id="empty file"),
    pytest.param({}, [(f"{n}.pdf", lambda: PDF) for n in range(101)], "Too many files", id="101 files"),
]


def post_capture(client, source, fields, uploads):
    files = [SimpleUploadedFile(name, make()) for name, make in uploads]
    data = {"method": "upload", "archive_url": "", "captured_at": "", "notes": "", **fields}
    if files:
        data["files"] = files
    return client.post(reverse("files:capture_create", args=[source.pk]), data)


@pytest.mark.parametrize(("fields", "uploads", "message"), CAPTURE_CASES)
def test_the_capture_form_refuses_bad_input_and_writes_nothing(researcher_client, media_root, fields, uploads, message):
    source = factories.source()
    before = state(media_root)

    response = post_capture(researcher_client, source, fields, uploads)

    assert response.status_code == 400
    assert message in response.text.replace("&quot;", '"').replace("&#x27;", "'")
    assert state(media_root) == before


def test_101_files_are_refused_before_the_view_even_when_the_csrf_check_reads_the_body(researcher, media_root):
    source = factories.source()
    client = Client(enforce_csrf_checks=True)
    client.force_login(researcher)
    client.get(reverse("files:capture_create", args=[source.pk]))
    before = state(media_root)

    response = client.post(reverse("files:capture_create", args=[source.pk]), {
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value, "method": "upload",
        "files": [SimpleUploadedFile(f"{n}.pdf", PDF) for n in range(101)],
    })

    assert response.status_code == 400
    assert state(media_root) == before


def test_a_file_named_with_a_path_is_kept_under_its_hash_and_its_name_loses_the_path(researcher_client, media_root,
                                                                                      tmp_path):
    """Django's upload parser already cuts the name to `passwd`; the archive never uses a name for storage."""
    source = factories.source()
    text = b"root:x:0:0:root:/root:/bin/bash\n"

    response = post_capture(researcher_client, source, {}, [("../../etc/passwd", lambda: text)])
    prepared = source_services.prepare_upload(SimpleUploadedFile("x", text))
    prepared_name = files.safe_display_name("../../etc/passwd")

    assert response.status_code == 302
    capture = Capture.objects.get()
    assert capture.original_filename == prepared_name == "passwd"
    assert prepared["media_type"] == "text/plain"
    stored = [p for p in Path(media_root).rglob("*") if p.is_file()]
    assert [p.name for p in stored] == [capture.file.sha256]
    assert not (tmp_path / "etc").exists() and not (Path(media_root).parent / "passwd").exists()


# --- The admin's place form (places are kept by administrators) ------------------------------


PLACE_CASES = [
    pytest.param({"latitude": "91", "longitude": "10"}, "latitude", id="latitude 91"),
    pytest.param({"latitude": "-90.000001", "longitude": "10"}, "latitude", id="latitude just below -90"),
    pytest.param({"latitude": "10", "longitude": "-181"}, "longitude", id="longitude -181"),
    pytest.param({"latitude": "NaN", "longitude": "10"}, "latitude", id="latitude NaN"),
    pytest.param({"latitude": "10", "longitude": "Infinity"}, "longitude", id="longitude infinity"),
    pytest.param({"latitude": "1e400", "longitude": "10"}, "latitude", id="latitude 1e400"),
    pytest.param({"latitude": "10", "longitude": ""}, None, id="latitude without longitude"),
    pytest.param({"latitude": "10", "longitude": "10", "name": NUL}, "name", id="NUL in name"),
    pytest.param({"latitude": "10", "longitude": "10", "name": MEGABYTE}, "name", id="1 MB name"),
]


@pytest.mark.parametrize(("changes", "field"), PLACE_CASES)
def test_the_admin_place_form_refuses_impossible_coordinates_and_writes_nothing(admin_client, media_root, changes,
                                                                                 field):
    data = {"name": "Nowhere", "slug": "nowhere", "aliases": "", "admin_area": "", "country": "",
            "geo_precision": "town", **changes}
    before = state(media_root)

    response = admin_client.post(reverse("admin:incidents_place_add"), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert (field in errors) if field else errors
    assert state(media_root) == before


def test_the_database_refuses_impossible_coordinates_that_bypass_the_forms(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Place.objects.create(name="Pole", slug="pole", latitude=91, longitude=0)


# --- The importer -----------------------------------------------------------------------------


def interchange_row(**cells):
    row = dict.fromkeys(COLUMNS, "")
    row.update({
        "incident_ref": "IMP-9", "title": "Shelling of a market", "date_start": "2020-10-04", "date_precision": "day",
        "place": "Testville", "latitude": "40.1", "longitude": "46.2", "confidence": "single_source",
        "source_organization": "Test Watch", "source_title": "Report", "source_url": "https://example.org/report-9",
        "source_date": "2020-10-05", "violation_types": "indiscriminate-attack",
    })
    row.update(cells)
    return row


def interchange_csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


IMPORT_CASES = [
    pytest.param({"latitude": "91"}, "latitude", "outside -90..90", id="latitude 91"),
    pytest.param({"longitude": "-181"}, "longitude", "outside -180..180", id="longitude -181"),
    pytest.param({"latitude": "NaN"}, "latitude", "not a number", id="latitude NaN"),
    pytest.param({"longitude": "-inf"}, "longitude", "not a number", id="longitude -inf"),
    pytest.param({"latitude": "1e400"}, "latitude", "outside", id="latitude 1e400"),
    pytest.param({"date_start": "2020-02-30"}, "date_start", "not a real date", id="impossible date"),
    pytest.param({"date_start": "30/02/2020"}, "date_start", "not a date of the form", id="malformed date"),
    pytest.param({"date_start": FAR_FUTURE}, "date_start", "in the future", id="far-future date"),
    pytest.param({"date_start": "2020-10-04", "date_end": FAR_FUTURE, "date_precision": "approximate"}, "date_end",
                 "in the future", id="far-future end"),
    pytest.param({"source_date": IN_TWO_DAYS}, "source_date", "in the future", id="far-future source date"),
    pytest.param({"date_start": "2020-10-05", "date_end": "2020-10-04"}, "date_end", "before date_start",
                 id="start after end"),
    pytest.param({"civilians_killed_min": "-3"}, "civilians_killed_min", "not a whole number", id="negative count"),
    pytest.param({"civilians_killed_max": str(10**12)}, "civilians_killed_max", "too large", id="count 10**12"),
    pytest.param({"civilians_injured_min": "9", "civilians_injured_max": "2"}, "civilians_injured_min",
                 "more than civilians_injured_max", id="min above max"),
    pytest.param({"title": NUL}, "title", "NUL character", id="NUL in title"),
    pytest.param({"incident_summary": NUL}, "incident_summary", "NUL character", id="NUL in summary"),
    pytest.param({"citation_quote": NUL}, "citation_quote", "NUL character", id="NUL in quote"),
    pytest.param({"source_organization": NUL}, "source_organization", "NUL character", id="NUL in organization"),
    pytest.param({"title": "x" * 100_000}, "title", "longer than 300 characters", id="100 KB title"),
    pytest.param({"title": MEGABYTE}, "", "field larger than field limit", id="1 MB title"),
    pytest.param({"source_url": "javascript:alert(1)"}, "source_url", "not an http(s) address", id="javascript url"),
    pytest.param({"source_url": "data:text/html,<script>alert(1)</script>"}, "source_url", "not an http(s) address",
                 id="data url"),
    pytest.param({"violation_types": "'; DROP TABLE incidents_incident; --"}, "violation_types",
                 "unknown violation type", id="sql in a taxonomy name"),
]


@pytest.mark.parametrize(("cells", "column", "message"), IMPORT_CASES)
def test_the_importer_refuses_bad_cells_and_writes_nothing(researcher, media_root, cells, column, message):
    data = interchange_csv([interchange_row(**cells)])
    before = state(media_root)

    with pytest.raises(ImportFailed) as failure:
        import_incidents(data, actor=researcher)

    problems = [(p.line, p.column, p.message) for p in failure.value.problems]
    assert any(line == 2 and where == column and message in text for line, where, text in problems), problems
    assert state(media_root) == before


def test_a_valid_row_imports_so_the_refusals_above_mean_something(researcher):
    import_incidents(interchange_csv([interchange_row()]), actor=researcher)

    assert Incident.objects.get(reference_code="IMP-9").status == "in_review"


# --- Odd but valid text round-trips unchanged ---------------------------------------------------

RTL_AND_EMOJI = "Strike \u202eon the clinic\u202c 🏥🚀 near Ստեփանակերտ — مستشفى"


def test_right_to_left_overrides_and_emoji_round_trip_through_import_page_and_export(researcher, reviewer, client):
    row = interchange_row(title=RTL_AND_EMOJI, incident_summary=f"{RTL_AND_EMOJI}\nsecond line 👩‍⚕️",
                          citation_quote=RTL_AND_EMOJI, affected_party="👨‍👩‍👧 families")
    import_incidents(interchange_csv([row]), actor=researcher)
    incident = Incident.objects.get(reference_code="IMP-9")
    services.approve(actor=reviewer, incident=incident, sha256=services.revision_in_review(incident).sha256)

    page = client.get(reverse("incidents:detail", args=[incident.pk])).text

    assert incident.title == RTL_AND_EMOJI
    assert RTL_AND_EMOJI in page and "👨‍👩‍👧 families" in page
    [line] = exported_csv(client)
    assert (line["title"], line["citation_quote"], line["affected_party"]) == (
        RTL_AND_EMOJI, RTL_AND_EMOJI, "👨‍👩‍👧 families")
    report = import_incidents(exported_bytes(client), actor=researcher)
    assert report.unchanged == ["IMP-9"] and report.created == report.changed == []


def exported_bytes(client, query=""):
    response = client.get(reverse("finding:export_csv") + query)
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


def exported_csv(client, query=""):
    data = exported_bytes(client, query)
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# --- Markup and script in every text field are shown as text ----------------------------------


def payload(where):
    return f"<script>alert('{where}')</script>\"><img src=x onerror=alert(1)>"


UNESCAPED = [b"<script>alert(", b"<img src=x"]


def hostile_world(researcher, reviewer):
    """An incident whose every text, taxonomy name, source, capture, review and comment is markup."""
    author = factories.system_user()
    conflict = Conflict.objects.create(name=payload("conflict"), slug="hostile-conflict")
    side = Side.objects.create(name=payload("side"), slug="hostile-side")
    party = Party.objects.create(name=payload("party"), slug="hostile-party", side=side, aliases=payload("alias"))
    place = Place.objects.create(name=payload("place"), slug="hostile-place", aliases=payload("place-alias"),
                                 admin_area=payload("area"), country=payload("country"), latitude=40, longitude=46)
    weapon = WeaponType.objects.create(name=payload("weapon"), slug="hostile-weapon")
    violation = ViolationType.objects.create(name=payload("violation"), slug="hostile-violation",
                                             definition=payload("definition"))
    organization = source_services.add_organization(actor=author, name=payload("organization"))
    source = source_services.add_source(
        actor=author, organization=organization, title=payload("source-title"), kind="report",
        url="https://example.org/\"onmouseover=\"alert(1)", language=payload("lang")[:35],
    )
    source_services.add_captures(actor=researcher, source=source, archive_url="https://web.archive.org/x",
                                 notes=payload("capture-notes"))
    from incidents.documents import AllegationData, CitationData

    allegation = AllegationData(
        perpetrator=party, perpetrator_side=side, affected_party=payload("affected")[:300], summary=payload("summary"),
        party_response=payload("response"), violation_types=[violation], weapons=[weapon],
        citations=[CitationData(source=source, locator=payload("locator")[:200], quote=payload("quote"))],
    )
    incident = factories.incident(
        author=researcher, allegations=[allegation], conflict=conflict, place=place, title=payload("title"),
        summary=payload("incident-summary"), location_detail=payload("location"),
    )
    services.submit(actor=researcher, incident=incident)
    return Incident.objects.get(pk=incident.pk), source


def assert_escaped(response, *, shown=True):
    body = response.getvalue() if response.streaming else response.content
    assert response.status_code == 200, response.status_code
    found = [marker for marker in UNESCAPED if marker in body]
    assert found == [], response.request["PATH_INFO"]
    if shown:
        assert b"&lt;script&gt;alert(" in body or b"\\u003Cscript\\u003Ealert(" in body, response.request["PATH_INFO"]


def test_markup_in_every_text_field_is_escaped_on_every_page(researcher, reviewer, client):
    incident, source = hostile_world(researcher, reviewer)
    client.force_login(reviewer)
    staff_pages = [reverse("incidents:detail", args=[incident.pk]), reverse("incidents:list"),
                   reverse("review:queue"), reverse("review:history", args=[incident.pk]),
                   reverse("review:revisions", args=[incident.pk]), reverse("sources:list"),
                   reverse("sources:detail", args=[source.pk])]
    for url in staff_pages:
        assert_escaped(client.get(url))

    services.request_changes(actor=reviewer, incident=incident, comment=payload("review-comment"))
    services.submit(actor=researcher, incident=Incident.objects.get(pk=incident.pk))
    published = services.approve(actor=reviewer, incident=Incident.objects.get(pk=incident.pk),
                                 sha256=services.revision_in_review(incident).sha256, comment=payload("approval"))
    for url in staff_pages[:2] + staff_pages[3:]:
        assert_escaped(client.get(url))
    client.force_login(researcher)
    assert_escaped(client.get(reverse("incidents:edit", args=[published.pk])))
    assert_escaped(client.get(reverse("sources:edit", args=[source.pk])))

    client.logout()
    public = [reverse("incidents:detail", args=[published.pk]), reverse("incidents:list"),
              reverse("sources:list"), reverse("sources:detail", args=[source.pk])]
    public += [reverse(name) for name in ("finding:balance", "finding:map", "finding:timeline")]
    for url in public:
        assert_escaped(client.get(url))
    assert_escaped(client.get(reverse("review:history", args=[published.pk])), shown=False)


def test_a_source_url_with_quotes_cannot_break_out_of_its_link(researcher, reviewer, client):
    incident, source = hostile_world(researcher, reviewer)
    client.force_login(reviewer)

    page = client.get(reverse("sources:detail", args=[source.pk])).text

    assert 'href="https://example.org/&quot;onmouseover=&quot;alert(1)"' in page
    assert '"onmouseover="' not in page


@pytest.mark.parametrize("url", [
    pytest.param("javascript:alert(1)", id="javascript"),
    pytest.param("data:text/html,<script>alert(1)</script>", id="data"),
])
def test_javascript_and_data_urls_are_refused_by_the_services_and_the_database(db, url):
    source = factories.source()
    with pytest.raises(Exception), transaction.atomic():
        source_services.add_source(actor=factories.system_user(), organization=source.organization, url=url)
    with pytest.raises(Exception), transaction.atomic():
        source_services.add_captures(actor=factories.system_user(), source=source, archive_url=url)
    with pytest.raises(IntegrityError), transaction.atomic():
        Source.objects.filter(pk=source.pk).update(url=url)
    assert Source.objects.get(pk=source.pk).url == "" and not Capture.objects.exists()


# --- Query strings -------------------------------------------------------------------------


@pytest.fixture
def listed(db):
    return {
        "plain": factories.published_incident(title="Shelling of the market"),
        "percent": factories.published_incident(title="Strike with 100% of the block destroyed"),
        "underscore": factories.published_incident(title="Strike on block_7 warehouse"),
    }


def listed_titles(response):
    return {title for title in ("Shelling of the market", "Strike with 100% of the block destroyed",
                                "Strike on block_7 warehouse") if title in response.text}


SEARCHES = [
    pytest.param("%", set(), id="percent"),
    pytest.param("_", set(), id="underscore"),
    pytest.param("%%", set(), id="double percent"),
    pytest.param("mark%", set(), id="prefix with percent"),
    pytest.param("m_rket", set(), id="underscore inside a word"),
    pytest.param("' OR '1'='1", set(), id="sql tautology"),
    pytest.param("market'; DROP TABLE incidents_incident; --", set(), id="sql drop"),
    pytest.param('"market" OR *', set(), id="fts operators"),
    pytest.param("\\", set(), id="backslash"),
    pytest.param("\x00", set(), id="NUL"),
    pytest.param("market", {"Shelling of the market"}, id="a plain word still matches"),
    pytest.param("block_7", {"Strike on block_7 warehouse"}, id="underscore matched literally as a separator"),
]


@pytest.mark.parametrize(("query", "expected"), SEARCHES)
def test_search_terms_are_matched_literally_never_as_wildcards_or_sql(client, listed, query, expected):
    response = client.get(reverse("incidents:list"), {"q": query})

    assert response.status_code == 200
    assert listed_titles(response) == expected
    assert Incident.objects.count() == 3


FORGED_FILTERS = [
    "created_by__password__startswith=a", "created_by__username=factory", "status=draft", "draft_of__isnull=False",
    "visibility=restricted", "order_by=created_by__password", "sort=created_by__password", "pk__in=1,2,3",
    "allegations__citations__source__created_by__password__regex=.*", "where=1%3D1",
]


def reading_urls():
    """The list page and every page and export driven by the incident filter."""
    return [reverse(name) for name in ("incidents:list", "finding:balance", "finding:map", "finding:timeline",
                                       "finding:export_csv", "finding:export_json", "finding:export_geojson")]


def body(response):
    return (b"".join(response.streaming_content) if response.streaming else response.content).decode()


@pytest.mark.parametrize("query", FORGED_FILTERS)
def test_parameters_naming_other_fields_are_ignored(client, listed, researcher, query):
    draft = factories.incident(author=researcher, title="Secret draft")
    plain = client.get(reverse("incidents:list"))

    for url in [u for u in reading_urls() if not u.endswith(("/map/", "/timeline/", ".json", ".geojson"))]:
        response = client.get(url + "?" + query)
        assert response.status_code in (200, 400), url
        assert "Secret draft" not in body(response), url
    response = client.get(reverse("incidents:list") + "?" + query)
    assert listed_titles(response) in (listed_titles(plain), set())
    assert Incident.objects.get(pk=draft.pk).status == "draft"


FILTER_PARAMETERS = ["q", "conflict", "side", "party", "unattributed", "violation", "weapon", "weapon_category",
                     "cluster", "confidence", "organization", "organization_kind", "place", "admin_area", "date_from",
                     "date_to", "killed_min", "status", "sort"]
FILTER_VALUES = ["a\x00b", "9" * 5000, "-1e400", "%_' OR 1=1 --", "2020-02-30", "<script>alert(1)</script>"]


@pytest.mark.parametrize("name", FILTER_PARAMETERS)
def test_no_filter_value_crashes_a_page_or_an_export(client, listed, name):
    crashed = []
    for url in [u for u in reading_urls() if not u.endswith(("/map/", "/timeline/", ".json", ".geojson"))]:
        for value in FILTER_VALUES:
            response = client.get(url, {name: value})
            markup = "text/html" in response["Content-Type"] and "<script>alert(1)" in body(response)
            if response.status_code >= 500 or markup:
                crashed.append((url, value[:12], response.status_code))
    assert crashed == []


PAGES = ["999999", "-1", "0", "abc", "1.5", "9" * 5000, "\x00", "1e9"]


@pytest.mark.parametrize("page", PAGES)
def test_any_page_number_gives_a_page_not_an_error(client, researcher, listed, page):
    incident = listed["plain"]
    for url in [reverse("incidents:list"), reverse("sources:list"), reverse("review:history", args=[incident.pk])]:
        response = client.get(url, {"page": page})
        assert response.status_code == 200, url
    client.force_login(researcher)
    assert client.get(reverse("review:history", args=[incident.pk]), {"page": page}).status_code == 200


@pytest.mark.parametrize("name", ["party", "q", "page", "side", "weapon"])
def test_five_thousand_repeated_parameters_are_refused_without_an_error(client, listed, name):
    query = "&".join(f"{name}=x{n}" for n in range(5000))
    for url in [reverse("incidents:list"), reverse("sources:list")]:
        response = client.get(f"{url}?{query}")
        assert response.status_code == 400


# --- Forged requests ------------------------------------------------------------------------


def test_posts_without_a_csrf_token_are_refused_and_write_nothing(researcher, reviewer, media_root):
    incident = factories.incident(author=researcher)
    revision = services.submit(actor=researcher, incident=incident)
    source = factories.source()
    posts = [
        (researcher, reverse("incidents:create"), incident_post()),
        (researcher, reverse("sources:create"), source_post(title="Forged source")),
        (researcher, reverse("files:capture_create", args=[source.pk]),
         {"method": "upload", "files": [SimpleUploadedFile("a.pdf", PDF)]}),
        (reviewer, reverse("review:approve", args=[incident.pk]), {"sha256": revision.sha256}),
        (reviewer, reverse("review:withdraw", args=[incident.pk]), {"reason": "forged"}),
        (None, reverse("login"), {"username": "rita", "password": "correct horse battery staple"}),
    ]
    before = state(media_root)
    for user, url, data in posts:
        client = Client(enforce_csrf_checks=True)
        if user is not None:
            client.force_login(user)
        response = client.post(url, data)
        assert response.status_code == 403, url
    assert state(media_root) == before
    assert Incident.objects.get(pk=incident.pk).status == "in_review"


def test_a_post_with_the_csrf_token_goes_through_so_the_refusals_above_mean_something(researcher):
    client = Client(enforce_csrf_checks=True)
    client.force_login(researcher)
    client.get(reverse("sources:create"))

    response = client.post(reverse("sources:create"),
                           source_post(csrfmiddlewaretoken=client.cookies["csrftoken"].value))

    assert response.status_code == 302


@pytest.mark.parametrize("host", ["evil.example", "archive.example.org.evil.example", "localhost:80@evil.example",
                                  "testserver\r\nX-Injected: 1", ""])
def test_a_foreign_host_header_is_refused(client, researcher, media_root, host):
    client.force_login(researcher)
    data = source_post()
    before = state(media_root)

    page = client.get(reverse("incidents:list"), HTTP_HOST=host)
    post = client.post(reverse("sources:create"), data, HTTP_HOST=host)

    assert page.status_code == post.status_code == 400
    assert state(media_root) == before


# --- CSV formula injection ------------------------------------------------------------------------

FORMULAS = ["=HYPERLINK(\"https://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A2)", "\tTAB", "\rCR",
            "'=already quoted"]


def test_every_exported_text_cell_is_neutralised_and_restored_on_import(researcher, reviewer, client):
    text_columns = ["title", "location_detail", "incident_summary", "affected_party", "allegation_summary",
                    "source_title", "citation_quote", "conflict", "place", "admin_area", "country",
                    "alleged_perpetrator", "perpetrator_side", "weapons", "source_organization"]
    rows = []
    for n, formula in enumerate(FORMULAS):
        cells = {column: f"{formula} {column} {n}" for column in text_columns}
        cells.update(incident_ref=f"CSV-{n}", violation_types="indiscriminate-attack",
                     source_url=f"https://example.org/r{n}", latitude="", longitude="")
        rows.append(interchange_row(**cells))
    import_incidents(interchange_csv(rows), actor=researcher)
    for incident in Incident.objects.filter(status="in_review"):
        services.approve(actor=reviewer, incident=incident, sha256=services.revision_in_review(incident).sha256)

    exported = exported_csv(client)

    assert len(exported) == len(FORMULAS)
    for line in exported:
        for column in text_columns:
            assert not line[column].startswith(FORMULA_STARTS), (column, line[column])
    report = import_incidents(exported_bytes(client), actor=researcher)
    assert sorted(report.unchanged) == sorted(f"CSV-{n}" for n in range(len(FORMULAS)))
