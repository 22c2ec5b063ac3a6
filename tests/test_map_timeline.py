"""The map and the timeline: pages render, Leaflet comes from our static files, points and counts are right."""
import datetime
import hashlib
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.staticfiles import finders
from django.db import connection, transaction
from django.http import QueryDict
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.filters import filter_incidents
from tests import factories

D = datetime.date
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def plain_http_and_fast_hashing(settings):
    settings.SECURE_SSL_REDIRECT = False
    settings.PASSWORD_HASHERS = FAST_HASHERS


def build():
    author = factories.user("map-researcher", role="researcher")
    stepanakert = factories.place("Stepanakert", aliases=["Khankendi"], latitude="39.8177", longitude="46.7528",
                                  geo_precision="town")
    ganja = factories.place("Ganja", latitude="40.6828", longitude="46.3606", geo_precision="district")
    barda = factories.place("Barda")

    def against(party, side):
        return [factories.allegation(party, side)]

    publish = factories.published_incident
    publish(author=author, reference_code="N1", place=stepanakert, date_start=D(2020, 10, 4), date_end=D(2020, 10, 4),
            allegations=against("North army", "North"), title="Market <shelled>")
    publish(author=author, reference_code="N2", place=ganja, date_start=D(2020, 10, 1), date_end=D(2020, 10, 31),
            date_precision="month", allegations=against("North army", "North"))
    publish(author=author, reference_code="S1", place=barda, date_start=D(2020, 9, 27), date_end=D(2020, 11, 10),
            date_precision="approximate", allegations=against("South forces", "South"))
    publish(author=author, reference_code="U1", place=ganja, date_start=D(2020, 11, 5), date_end=D(2020, 11, 5),
            allegations=against(None, None))
    publish(author=author, reference_code="UNK", place=stepanakert, date_start=None, date_end=None,
            date_precision="unknown", allegations=against("South forces", "South"))
    factories.incident(author=author, reference_code="HIDDEN", place=stepanakert, date_start=D(2020, 12, 1),
                       date_end=D(2020, 12, 1), allegations=against("North army", "North"), title="Secret")


@pytest.fixture(scope="module")
def archive(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        with transaction.atomic():
            build()
            yield
            transaction.set_rollback(True)


def page(client, name, query=None):
    response = client.get(reverse(f"finding:{name}"), query or {})
    assert response.status_code == 200
    return response, response.content.decode()


def embedded(html, element_id):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_the_map_embeds_the_located_incidents_the_user_may_see(archive, db, client):
    _, html = page(client, "map")
    points = {point["ref"]: point for point in embedded(html, "map-points")}
    assert set(points) == {"N1", "N2", "U1", "UNK"}  # S1's place has no coordinates; HIDDEN is unpublished
    assert points["N1"]["lat"] == 39.8177 and points["N1"]["lng"] == 46.7528
    assert points["N1"]["place"] == "Stepanakert (Khankendi)"
    assert points["N2"]["geo_precision"] == "district" and points["N2"]["date"] == "2020-10"
    assert points["N1"]["url"] == reverse("incidents:detail", args=[points["N1"]["id"]])
    assert "Secret" not in html and "HIDDEN" not in html


def test_the_map_lists_its_incidents_in_a_table_that_works_without_javascript(archive, db, client):
    _, html = page(client, "map", {"side": "north"})
    table = html[html.index('<table class="map-points">'):]
    assert table.count("<tr>") == 3  # header and N1, N2
    assert "Market &lt;shelled&gt;" in table and "Market <shelled>" not in html


def test_leaflet_is_served_from_our_static_files_and_nothing_else_comes_from_another_host(archive, db, client):
    _, html = page(client, "map")
    scripts = re.findall(r'<script[^>]*\ssrc="([^"]+)"', html)
    styles = re.findall(r'<link[^>]*\shref="([^"]+)"', html)
    assert f"{settings.STATIC_URL}vendor/leaflet/leaflet.js".lstrip("/") in " ".join(scripts)
    assert any(href.endswith("vendor/leaflet/leaflet.css") for href in styles)
    for address in scripts + styles:
        assert not urlsplit(address).netloc and not address.startswith("//"), address
    for path in ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "vendor/leaflet/images/marker-icon.png",
                 "js/map.js", "css/finding.css"):
        assert finders.find(path), path
    assert "Leaflet 1.9.4" in Path(finders.find("vendor/leaflet/leaflet.js")).read_text()[:200]
    digest = hashlib.sha256(Path(finders.find("vendor/leaflet/leaflet.js")).read_bytes()).hexdigest()
    assert digest in Path(finders.find("vendor/leaflet/README.txt")).read_text()


def test_the_tile_server_is_a_setting_and_appears_only_in_the_map_configuration(archive, db, client, settings):
    settings.ARCHIVE_MAP_TILES = "https://tiles.example.org/{z}/{x}/{y}.png"
    _, html = page(client, "map")
    assert embedded(html, "map-config")["tiles"] == "https://tiles.example.org/{z}/{x}/{y}.png"
    assert html.count("tiles.example.org") == 1
    assert "tile.openstreetmap.org" not in html


def test_the_map_script_draws_vector_points_and_builds_popups_from_text(archive, db):
    script = Path(finders.find("js/map.js")).read_text()
    assert "L.circleMarker" in script and "textContent" in script and "innerHTML" not in script


def timeline_titles(html):
    svg = html[html.index("<svg"):html.index("</svg>")]
    return {(label, bucket): int(count)
            for label, bucket, count in re.findall(r"<title>([^<]+), (\d{4}(?:-\d\d)?): (\d+) incidents?</title>", svg)}


def test_the_timeline_counts_incidents_per_month_for_each_side_where_their_dates_overlap(archive, db, client):
    response, html = page(client, "timeline")
    assert timeline_titles(html) == {
        ("North", "2020-10"): 2,
        ("South", "2020-09"): 1, ("South", "2020-10"): 1, ("South", "2020-11"): 1,
        ("Unattributed", "2020-11"): 1,
        ("All incidents", "2020-09"): 1, ("All incidents", "2020-10"): 3, ("All incidents", "2020-11"): 2,
    }
    rows = {label: [cell.value for cell in cells] for label, cells in response.context["timeline"].rows}
    #                        North South Unattributed All
    assert rows == {"2020-09": [0, 1, 0, 1], "2020-10": [2, 1, 0, 3], "2020-11": [0, 1, 1, 2]}
    assert "1 incident with an unknown date" in html
    assert "2020-12" not in html  # the unpublished incident neither counts nor stretches the axis


def test_every_timeline_number_links_to_a_list_of_that_many_incidents(archive, db, client):
    response, _ = page(client, "timeline", {"date_from": "2020-10-15"})
    checked = 0
    for label, cells in response.context["timeline"].rows:
        for cell in cells:
            if not cell.value:
                assert cell.url == ""
                continue
            request = RequestFactory().get("/", QueryDict(urlsplit(cell.url).query))
            request.user = AnonymousUser()
            filterset, queryset = filter_incidents(request)
            assert queryset.count() == cell.value, (label, cell.url)
            checked += 1
    assert checked >= 4


def test_a_long_timeline_is_drawn_per_year(archive, db, client):
    author = User.objects.get(username="map-researcher")
    factories.published_incident(author=author, reference_code="OLD", date_start=D(2005, 3, 1), date_end=D(2005, 3, 1),
                                 allegations=[factories.allegation("North army", "North")])
    response, html = page(client, "timeline")
    timeline = response.context["timeline"]
    assert timeline.by_year
    assert [label for label, _ in timeline.rows] == [str(year) for year in range(2005, 2021)]
    assert timeline_titles(html)[("North", "2005")] == 1


def test_the_timeline_makes_the_same_number_of_queries_whatever_the_data_size(archive, db, client):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            page(client, "timeline")
        return len(captured)

    small = queries()
    author = User.objects.get(username="map-researcher")
    for number in range(6):
        factories.published_incident(author=author, reference_code=f"MORE-{number}", date_start=D(2020, 9 + number % 3, 2),
                                     date_end=D(2020, 9 + number % 3, 2),
                                     allegations=[factories.allegation("East raiders", "East")])
    assert queries() == small


@pytest.mark.parametrize("name", ["map", "timeline", "balance"])
def test_a_bad_filter_shows_its_error_on_the_page(archive, db, client, name):
    _, html = page(client, name, {"date_to": "soon"})
    assert "Some filters could not be read" in html
    assert "Write the date as YYYY-MM-DD, YYYY-MM or YYYY" in html
