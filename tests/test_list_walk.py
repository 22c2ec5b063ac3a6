"""A list page of a filter that matches most incidents is found by walking the list's index and probing each
incident (`IncidentFilter.probed()`), and lists what gathering every match would list, page by page."""
import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import QueryDict
from django.utils.http import urlencode
from django.test.utils import CaptureQueriesContext

from incidents.filters import IncidentFilter
from incidents.models import Incident
from tests import factories

pytestmark = pytest.mark.django_db

PAGE = 5


@pytest.fixture
def archive(settings):
    """24 incidents, 18 citing Watch and 6 citing Other; some on the same day, two undated."""
    settings.SECURE_SSL_REDIRECT = False
    settings.ARCHIVE_PAGE_SIZE = PAGE
    author = factories.user("walk-researcher", role="researcher")
    for number in range(24):
        organization = "Other" if number % 4 == 3 else "Watch"
        allegation = factories.allegation(citations=0)
        allegation.citations = [factories.CitationData(source=factories.source(org=organization), quote="q")]
        day = None if number in (5, 17) else datetime.date(2020, 1 + number % 6, 1 + number // 6)
        factories.published_incident(author=author, reference_code=f"W{number}", date_start=day, date_end=day,
                                     date_precision="day" if day else "unknown", allegations=[allegation])
    factories.incident(author=author, reference_code="DRAFT", allegations=[factories.allegation()])


def gathered(query):
    filterset = IncidentFilter(QueryDict(urlencode(query)), queryset=Incident.objects.visible_to(AnonymousUser()), user=AnonymousUser())
    return list(filterset.qs.values_list("pk", flat=True))


def listed(client, query, page):
    """(the page's incident ids, whether its ids were found by walking)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/", {**query, "page": page})
    assert response.status_code == 200
    [ids_query] = [q["sql"] for q in captured.captured_queries
                   if q["sql"].startswith('SELECT "incidents_incident"."id" AS "pk" FROM "incidents_incident"')]
    return list(response.context["page_obj"].object_list), "EXISTS" in ids_query


@pytest.mark.parametrize("sort", ["date", "date_asc", "-date"])
def test_each_page_of_a_filter_matching_most_incidents_lists_what_gathering_its_matches_lists(archive, client, sort):
    query = {"organization": "watch", "sort": sort}
    expected = gathered(query)
    assert len(expected) == 18
    pages, walked = [], []
    for number in range(1, 5):
        ids, was_walked = listed(client, query, number)
        pages.append(ids)
        walked.append(was_walked)
    assert pages == [expected[start:start + PAGE] for start in range(0, 18, PAGE)]
    # Walking to the first page reads about 5 × 24 ÷ 18 incidents, fewer than the 18 to gather; the last
    # page's walk would read about 20 × 24 ÷ 18, more.
    assert walked == [True, True, False, False]


def test_a_filter_matching_few_incidents_gathers_them(archive, client):
    ids, walked = listed(client, {"organization": "other"}, 1)
    assert ids == gathered({"organization": "other"})[:PAGE]
    assert not walked


def test_a_sort_no_index_keeps_gathers_the_matches(archive, client):
    ids, walked = listed(client, {"organization": "watch", "sort": "killed"}, 1)
    assert ids == gathered({"organization": "watch", "sort": "killed"})[:PAGE]
    assert not walked



@pytest.mark.parametrize("query, expected", [
    ({"organization": "watch"}, 24),
    ({"organization": "watch", "date_from": "2020-02", "date_to": "2020-03"}, 8),
    ({"date_to": "2020-05"}, 20),
    ({"organization": "watch", "date_from": "2020-02-15"}, 24),  # a day: not in the totals, all visible
])
def test_the_walk_is_weighed_against_the_incidents_the_incident_filters_leave(archive, query, expected):
    from incidents.balance import scope_incidents

    filterset = IncidentFilter(QueryDict(urlencode(query)), queryset=Incident.objects.visible_to(AnonymousUser()),
                               user=AnonymousUser())
    assert scope_incidents(filterset) == expected
