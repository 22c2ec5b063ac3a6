"""The whole life of an incident in a real browser: recorded, sourced, submitted, approved, found and exported.

One test, in steps, each a `with step(page, "..."):` block: when a step fails, a
screenshot of the page is kept in var/e2e-screenshots/<test>-<step>.png.
Only the taxonomy (place, parties, weapons, an organization) and one decoy
incident are made server-side, through the services; everything the users do
goes through the pages.
"""
import csv
import hashlib
import io
import re

import pytest

from incidents.models import Incident, Status
from sources.models import Capture
from tests import factories
from tests.images import image_bytes

try:
    from playwright.sync_api import expect
except ImportError:  # the conftest skips these tests, with the reason
    expect = None

pytestmark = pytest.mark.e2e

REFERENCE = "E2E-2020-001"
TITLE = "Rocket and drone strikes on the Riverside market"
SOURCE_TITLE = "Riverside: civilians killed by rockets and drones"


@pytest.fixture
def archive(committed):
    """The taxonomy a researcher chooses from, two users, and a published decoy that the filter must leave out."""
    data = {
        "researcher": factories.user("rita", role="researcher"),
        "reviewer": factories.user("vera", role="reviewer"),
        "place": factories.place("Riverside", admin_area="North District", latitude=40.68, longitude=46.36,
                                 geo_precision="town"),
        "party_a": factories.party("Party A forces", "Side A"),
        "party_b": factories.party("Party B forces", "Side B"),
        "rocket": factories.weapon("Test cluster rocket", is_cluster_munition="yes",
                                   category="cluster_munition_rocket"),
        "drone": factories.weapon("Test loitering drone", category="loitering_munition"),
        "organization": factories.organization("Riverside Monitor", kind="ngo"),
    }
    # Party A is alleged to have used the drone here, not the rocket: party=A&weapon=rocket must not find it.
    data["decoy"] = factories.published_incident(
        reference_code="DECOY-001", title="Drone strike elsewhere",
        allegations=[factories.allegation("Party A forces", "Side A", weapons=["Test loitering drone"])],
    )
    data["base_url"] = committed.url
    return data


def label(text):
    """A field's accessible name as Django renders it ("Title:")."""
    return re.compile(rf"^{re.escape(text)}:?$")


def incident_row(page, reference):
    return page.locator("table.incident-list tbody tr").filter(has_text=reference)


def test_an_incident_goes_from_a_researchers_draft_to_a_public_filtered_csv(archive, new_page, step, sign_in, sign_out):
    base = archive["base_url"]
    jpeg = image_bytes("JPEG", size=(320, 240))
    researcher = new_page()

    with step(researcher, "1-researcher-signs-in"):
        sign_in(researcher, base, "rita")
        main_nav = researcher.get_by_role("navigation", name="Main")
        expect(main_nav.get_by_role("link", name="Record an incident")).to_be_visible()

    with step(researcher, "2-adds-a-source"):
        researcher.goto(f"{base}/sources/new/")
        researcher.get_by_label(label("Organization")).select_option(label="Riverside Monitor")
        researcher.get_by_label(label("Title")).fill(SOURCE_TITLE)
        researcher.get_by_label(label("Kind")).select_option("report")
        researcher.get_by_label(label("Publication date")).fill("2020-10-05")
        researcher.get_by_label(label("URL")).fill("https://monitor.example.org/reports/riverside")
        researcher.get_by_label(label("Language")).fill("en")
        researcher.get_by_role("button", name="Add source").click()
        expect(researcher.get_by_role("heading", level=1)).to_have_text(SOURCE_TITLE)
        expect(researcher.get_by_role("status")).to_contain_text("Source added.")
        source_pk = int(re.search(r"/sources/(\d+)/$", researcher.url).group(1))

    with step(researcher, "3-attaches-a-jpeg-with-gps"):
        researcher.get_by_role("link", name="Attach a capture").click()
        expect(researcher.get_by_role("heading", level=1)).to_have_text("Attach a capture")
        researcher.get_by_label(label("Files")).set_input_files(
            {"name": "riverside-market.jpg", "mimeType": "image/jpeg", "buffer": jpeg}
        )
        researcher.get_by_role("button", name="Attach").click()
        expect(researcher.get_by_role("status")).to_contain_text("1 capture(s) attached")
        captures = researcher.locator("section.captures")
        expect(captures).to_contain_text(hashlib.sha256(jpeg).hexdigest())  # the original's hash, as uploaded
        expect(captures.locator("tr.restricted")).to_contain_text("gps_latitude")  # staff see where it was taken
        thumbnail = captures.get_by_role("img", name=re.compile("Image capture"))
        expect(thumbnail).to_be_visible()
        assert thumbnail.evaluate("img => img.complete && img.naturalWidth > 0"), "the public thumbnail did not load"
        assert Capture.objects.filter(source_id=source_pk).count() == 1

    with step(researcher, "4-records-an-incident-with-two-allegations"):
        researcher.get_by_role("navigation", name="Main").get_by_role("link", name="Record an incident").click()
        researcher.locator('[name="reference_code"]').fill(REFERENCE)
        researcher.locator('[name="title"]').fill(TITLE)
        researcher.locator('[name="summary"]').fill("Riverside Monitor reports rockets and a drone hitting the market.")
        researcher.locator('[name="date_start"]').fill("2020-10-04")
        researcher.locator('[name="date_precision"]').select_option("day")
        researcher.locator('[name="place"]').select_option(label=str(archive["place"]))
        researcher.locator('[name="civilians_killed_min"]').fill("3")
        researcher.locator('[name="civilians_killed_max"]').fill("5")
        # The second allegation's rows come from the server: the page is re-rendered with the input kept.
        researcher.get_by_role("button", name="Add another allegation").click()
        expect(researcher.locator("fieldset.allegation")).to_have_count(2)
        expect(researcher.locator('[name="title"]')).to_have_value(TITLE)
        expect(researcher.locator(".errorlist")).to_have_count(0)

        first = researcher.locator("#allegations-0")
        first.locator('[name="allegations-0-perpetrator"]').select_option(label="Party A forces (Side A)")
        first.get_by_label("Indiscriminate attack").check()
        first.get_by_label("Use of cluster munitions in populated areas").check()
        first.locator('[name="allegations-0-weapons"]').select_option(label=["Test cluster rocket (cluster munition)"])
        first.locator('[name="allegations-0-summary"]').fill("Riverside Monitor reports cluster rockets from Party A.")
        first.locator('[name="allegations-0-confidence"]').select_option("single_source")
        first.locator('[name="allegations-0-citations-0-source"]').select_option(str(source_pk))
        first.locator('[name="allegations-0-citations-0-locator"]').fill("p. 3")

        second = researcher.locator("#allegations-1")
        second.locator('[name="allegations-1-perpetrator"]').select_option(label="Party B forces (Side B)")
        second.get_by_label("Indiscriminate attack").check()
        second.locator('[name="allegations-1-weapons"]').select_option(label=["Test loitering drone"])
        second.locator('[name="allegations-1-summary"]').fill("Riverside Monitor reports a drone launched by Party B.")
        second.locator('[name="allegations-1-citations-0-source"]').select_option(str(source_pk))
        second.locator('[name="allegations-1-citations-0-locator"]').fill("p. 4")

        researcher.get_by_role("button", name="Save as draft").click()
        expect(researcher.get_by_role("status")).to_contain_text(f"Incident {REFERENCE} recorded as a draft")
        expect(researcher.get_by_role("heading", level=1)).to_have_text(TITLE)
        for number, party in ((1, "Party A forces"), (2, "Party B forces")):
            heading = researcher.get_by_role("heading", name=re.compile(f"Allegation {number}: alleged against {party}"))
            expect(heading).to_be_visible()
        incident = Incident.objects.get(reference_code=REFERENCE)
        allegations = list(incident.allegations.order_by("position"))
        assert [a.perpetrator for a in allegations] == [archive["party_a"], archive["party_b"]]
        assert [list(a.weapons.all()) for a in allegations] == [[archive["rocket"]], [archive["drone"]]]
        assert [[c.source_id for c in a.citations.all()] for a in allegations] == [[source_pk], [source_pk]]

    with step(researcher, "5-submits-it-for-review"):
        researcher.get_by_role("button", name="Submit for review").click()
        expect(researcher.get_by_role("status")).to_contain_text("Submitted for review.")
        expect(researcher.locator(".review-status")).to_contain_text("In review")
        sign_out(researcher)

    reviewer = new_page()
    with step(reviewer, "6-reviewer-approves"):
        sign_in(reviewer, base, "vera")
        reviewer.get_by_role("navigation", name="Main").get_by_role("link", name="Review queue").click()
        reviewer.get_by_role("link", name=f"{REFERENCE}: {TITLE}").click()
        reviewer.get_by_label(label("Comment (optional)")).fill("Checked against the Riverside Monitor report.")
        reviewer.get_by_role("button", name=re.compile(r"^Approve and publish revision 1")).click()
        expect(reviewer.get_by_role("status")).to_contain_text("Approved and published.")
        expect(reviewer.locator(".review-status")).to_contain_text("Published")
        assert Incident.objects.get(pk=incident.pk).status == Status.PUBLISHED

    visitor = new_page()
    with step(visitor, "7-visitor-filters-by-party-and-weapon"):
        visitor.goto(f"{base}/")
        expect(incident_row(visitor, REFERENCE)).to_have_count(1)  # published: the public list shows it
        filter_form = visitor.locator("form.filter-form")
        filtering_on_the_list = filter_form.count() > 0
        if filtering_on_the_list:
            filter_form.locator('[name="party"]').select_option(archive["party_a"].slug)
            filter_form.locator('[name="weapon"]').first.fill("Test cluster rocket")
            filter_form.get_by_role("button", name="Apply filters").click()
            assert "party=" in visitor.url and "weapon=" in visitor.url
        else:
            # Until the list page shows the filter form, its query string is what the form would send.
            visitor.goto(f"{base}/?party={archive['party_a'].slug}&weapon={archive['rocket'].slug}")
        expect(incident_row(visitor, REFERENCE)).to_have_count(1)
        expect(visitor.get_by_role("link", name=TITLE)).to_be_visible()
        if filtering_on_the_list:
            expect(incident_row(visitor, "DECOY-001")).to_have_count(0)

    with step(visitor, "8-visitor-downloads-the-csv"):
        export_link = visitor.get_by_role("link", name=re.compile(r"^CSV"))
        with visitor.expect_download() as download_info:
            if export_link.count():
                export_link.first.click()
            else:
                url = f"{base}/incidents/export.csv?party={archive['party_a'].slug}&weapon={archive['rocket'].slug}"
                answer = visitor.request.get(url)
                assert answer.ok, f"the CSV export answered {answer.status} at {url}"
                try:
                    visitor.goto(url)
                except Exception as error:  # noqa: BLE001 - Chromium aborts the navigation when a download starts
                    if "Download is starting" not in str(error) and "ERR_ABORTED" not in str(error):
                        raise
        download = download_info.value
        assert download.suggested_filename.endswith(".csv")
        assert download.failure() is None
        with open(download.path(), encoding="utf-8-sig", newline="") as handle:
            content = handle.read()
        rows = list(csv.reader(io.StringIO(content)))
        assert REFERENCE in content
        assert "DECOY-001" not in content, "the export ignored the filter"
        assert any(TITLE in row for row in rows)
