"""The map embeds at most MAP_LIMIT points; beyond it, it says so without counting every located incident."""
import datetime
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import finding_views
from tests import factories


@pytest.fixture
def located_archive(db, settings):
    settings.SECURE_SSL_REDIRECT = False
    town = factories.place("Mapped town", latitude="40.1", longitude="45.1", geo_precision="town")
    author = factories.user("map-limit-researcher", role="researcher")
    for day in range(1, 5):
        when = datetime.date(2021, 5, day)
        factories.published_incident(author=author, reference_code=f"P{day}", place=town, date_start=when,
                                     date_end=when)
    factories.published_incident(author=author, reference_code="NOWHERE", place=factories.place("Unmapped"),
                                 date_start=datetime.date(2021, 6, 1), date_end=datetime.date(2021, 6, 1))


def points(html):
    match = re.search(r'<script id="map-points" type="application/json">(.*?)</script>', html, re.S)
    return [point["ref"] for point in json.loads(match.group(1))]


def test_within_the_limit_the_map_counts_the_located_incidents(located_archive, client):
    html = client.get(reverse("finding:map")).content.decode()
    assert points(html) == ["P4", "P3", "P2", "P1"]
    assert "4 of 5 incidents have coordinates for their place." in html


def test_beyond_the_limit_it_shows_the_first_in_the_lists_order_and_says_there_are_more(
        located_archive, client, monkeypatch):
    monkeypatch.setattr(finding_views, "MAP_LIMIT", 2)
    with CaptureQueriesContext(connection) as captured:
        html = client.get(reverse("finding:map")).content.decode()
    assert points(html) == ["P4", "P3"]
    assert "More than 2 of the 5 incidents have coordinates for their place; the map shows the first 2" in html
    assert not [query for query in captured.captured_queries if "COUNT(" in query["sql"].upper()
                and "incidents_place" in query["sql"]]


# The table's rows as the template wrote them before they were written in Python: the reference.
ROW_TEMPLATE = """{% for point in points %}
        <tr>
          <td>{{ point.date }}{% if point.date_precision == "approximate" %} <small>(approximate)</small>{% endif %}</td>
          <td>{{ point.ref }}</td>
          <td><a href="{{ point.url }}">{{ point.title }}</a></td>
          <td>{{ point.place }}</td>
          <td>{{ point.lat }}, {{ point.lng }} <small>({{ point.geo_precision }})</small></td>
          <td>{{ point.killed|default:"not established" }}</td>
        </tr>
      {% endfor %}"""


def test_the_points_table_is_the_templates_html(located_archive, client):
    from django.template import Context, Template
    from django.test.html import parse_html

    from incidents.models import Incident

    Incident.objects.filter(reference_code="P2").update(title='Shelling & "fire" <b>', date_precision="approximate",
                                                        civilians_killed_min=3, civilians_killed_max=5)
    context = client.get(reverse("finding:map")).context
    expected = Template(ROW_TEMPLATE).render(Context({"points": context["points"]}))
    assert parse_html(str(context["point_rows"])) == parse_html(expected)
    assert "&lt;b&gt;" in context["point_rows"] and "(approximate)" in context["point_rows"]
    assert [point["url"] for point in context["points"]] == [
        reverse("incidents:detail", args=[point["id"]]) for point in context["points"]]
