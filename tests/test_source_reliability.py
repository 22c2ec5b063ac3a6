"""A source's reliability grade and its organization's kind are shown beside every citation."""
import pytest
from django.urls import reverse

from sources.models import Source
from tests import factories


@pytest.mark.django_db
def test_a_researcher_grades_a_source_and_readers_see_it_beside_the_citation(researcher, client):
    organization = factories.organization("Rights Watchers", kind="ngo")
    client.force_login(researcher)
    response = client.post(reverse("sources:create"), {
        "organization": organization.pk, "title": "Field report", "kind": "report", "published": "2020-10",
        "url": "https://example.org/r", "reliability": "generally_reliable",
    })
    assert response.status_code == 302
    source = Source.objects.get(title="Field report")
    assert source.reliability == "generally_reliable"
    allegation = factories.allegation(citations=0)
    allegation.citations = [factories.CitationData(source=source, quote="seen")]
    incident = factories.published_incident(author=researcher, allegations=[allegation])
    client.logout()
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "source graded <em>generally reliable</em>" in page
    assert "(non-governmental organization)" in page


@pytest.mark.django_db
def test_an_unknown_reliability_grade_is_a_form_error(researcher, client):
    client.force_login(researcher)
    response = client.post(reverse("sources:create"), {
        "organization": factories.organization().pk, "title": "X", "kind": "report", "reliability": "trustworthy",
    })
    assert response.status_code in (200, 400)
    assert "Select a valid choice" in response.content.decode()
    assert not Source.objects.filter(title="X").exists()


@pytest.mark.django_db
def test_the_sources_list_names_the_incidents_citing_each_source_that_the_reader_may_see(researcher, client):
    cited = factories.source(title="Cited report")
    allegation = factories.allegation(citations=0)
    allegation.citations = [factories.CitationData(source=cited, quote="q")]
    published = factories.published_incident(author=researcher, allegations=[allegation], reference_code="PUB-1")
    draft_allegation = factories.allegation(citations=0)
    draft_allegation.citations = [factories.CitationData(source=cited, quote="q")]
    factories.incident(author=researcher, allegations=[draft_allegation], reference_code="DRAFT-1")
    page = client.get(reverse("sources:list")).content.decode()
    assert f'href="/incidents/{published.pk}/">PUB-1</a>' in page
    assert "DRAFT-1" not in page
    client.force_login(researcher)
    assert "DRAFT-1" in client.get(reverse("sources:list")).content.decode()
