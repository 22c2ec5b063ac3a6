"""List and detail pages run a fixed number of queries, whatever the number of allegations, citations and rows."""
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db

# Anonymous visitors have no session row to load, so these are the page's own queries.
DETAIL_QUERIES = 5  # incident (+ place, conflict, author); allegations (+ parties, sides); violation types; weapons; citations (+ sources, organizations)
# The counts of matching incidents and allegations (one query, also the paginator's count); the ids of one
# page; their incidents with places and allegation counts; the filter form's five option lists (one statement).
LIST_QUERIES = 4


def incident_with(allegations, citations, **values):
    return factories.published_incident(allegations=[
        factories.allegation(citations=citations, weapons=[f"Weapon {i}"]) for i in range(allegations)
    ], **values)


def queries_of(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize(("allegations", "citations"), [(1, 1), (4, 3)])
def test_the_detail_page_runs_a_fixed_number_of_queries(client, django_assert_num_queries, allegations, citations):
    incident = incident_with(allegations, citations)
    url = reverse("incidents:detail", args=[incident.pk])

    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(url)

    assert response.text.count('class="citation ') == allegations * citations


def test_the_detail_page_for_staff_costs_the_same_for_a_small_and_a_large_incident(
    researcher_client, django_assert_num_queries
):
    small, large = incident_with(1, 1), incident_with(4, 3)
    small_queries = queries_of(researcher_client, reverse("incidents:detail", args=[small.pk]))

    with django_assert_num_queries(small_queries):
        researcher_client.get(reverse("incidents:detail", args=[large.pk]))


@pytest.mark.parametrize("page_size", [25, 10])
@pytest.mark.parametrize("incidents", [3, 30])
def test_the_list_page_runs_a_fixed_number_of_queries(client, settings, django_assert_num_queries, page_size, incidents):
    settings.ARCHIVE_PAGE_SIZE = page_size
    for number in range(incidents):
        incident_with(1 + number % 3, 1)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(reverse("incidents:list"))

    assert len(response.context["incidents"]) == min(page_size, incidents)


def test_the_list_shows_each_incidents_allegation_count(client):
    incident_with(3, 1, title="Three allegations")

    response = client.get(reverse("incidents:list"))

    assert response.context["incidents"][0]["allegation_count"] == 3
    assert "<td>3</td>" in response.text


@pytest.mark.parametrize("page_size", [25, 10])
def test_the_list_page_for_staff_costs_the_same_for_few_and_many_incidents(settings, researcher, page_size):
    settings.ARCHIVE_PAGE_SIZE = page_size
    client = Client()
    client.force_login(researcher)
    incident_with(1, 1)
    few = queries_of(client, reverse("incidents:list"))
    for number in range(29):
        factories.incident(author=researcher, allegations=[factories.allegation() for _ in range(1 + number % 3)])

    many = queries_of(client, reverse("incidents:list"))

    assert many == few


def test_the_source_page_costs_the_same_for_one_and_many_citing_incidents(client):
    source = factories.source()

    def cite():
        allegation = factories.allegation()
        allegation.citations[0].source = source
        factories.published_incident(allegations=[allegation])

    cite()
    one = queries_of(client, reverse("sources:detail", args=[source.pk]))
    for _ in range(5):
        cite()

    assert queries_of(client, reverse("sources:detail", args=[source.pk])) == one


def test_the_edit_page_costs_the_same_for_a_small_and_a_large_incident(researcher_client, researcher):
    small = factories.incident(author=researcher, allegations=[factories.allegation()])
    large = factories.incident(author=researcher, allegations=[factories.allegation(citations=3) for _ in range(4)])

    assert queries_of(researcher_client, reverse("incidents:edit", args=[small.pk])) == \
        queries_of(researcher_client, reverse("incidents:edit", args=[large.pk]))
