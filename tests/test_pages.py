"""The permission ladder on every page: anonymous, no role, researcher, reviewer, administrator."""
import pytest
from django.test import Client
from django.urls import reverse

from incidents import services
from incidents.documents import document_of, sha256_of
from incidents.models import Incident
from tests import factories

LADDER = ["anonymous", "no_role", "researcher", "reviewer", "administrator"]
STAFF = ["researcher", "reviewer", "administrator"]


@pytest.fixture
def client_as(db, researcher, reviewer, administrator, no_role_user):
    users = {"researcher": researcher, "reviewer": reviewer, "administrator": administrator, "no_role": no_role_user}

    def make(role):
        client = Client()
        if role != "anonymous":
            client.force_login(users[role])
        return client

    return make


@pytest.fixture
def published(db):
    return factories.published_incident(title="Shelling of the central market")


@pytest.fixture
def draft(researcher):
    return factories.incident(author=researcher, title="Unreviewed strike on a school")


@pytest.fixture
def working_copy(published, researcher):
    fields = factories.incident_fields(reference_code=published.reference_code, title="Corrected title")
    current = sha256_of(document_of(Incident.objects.for_detail().get(pk=published.pk)))
    return services.edit_incident(
        actor=researcher, incident=published, fields=fields, allegations=[factories.allegation()], base_sha256=current
    )


@pytest.mark.parametrize("role", LADDER)
def test_everyone_can_read_the_incident_list_and_a_published_incident(client_as, role, published):
    client = client_as(role)

    listing = client.get(reverse("incidents:list"))
    detail = client.get(reverse("incidents:detail", args=[published.pk]))

    assert listing.status_code == 200
    assert "Shelling of the central market" in listing.text
    assert detail.status_code == 200
    assert "Shelling of the central market" in detail.text


@pytest.mark.parametrize("role", ["anonymous", "no_role"])
def test_an_unpublished_incident_is_a_404_and_absent_from_the_list_for_the_public(client_as, role, draft, working_copy):
    client = client_as(role)

    listing = client.get(reverse("incidents:list"))

    assert "Unreviewed strike on a school" not in listing.text
    assert "Corrected title" not in listing.text
    assert client.get(reverse("incidents:detail", args=[draft.pk])).status_code == 404
    assert client.get(reverse("incidents:detail", args=[working_copy.pk])).status_code == 404


@pytest.mark.parametrize("role", STAFF)
def test_staff_see_drafts_in_the_list_with_their_status(client_as, role, draft):
    response = client_as(role).get(reverse("incidents:list"))

    assert "Unreviewed strike on a school" in response.text
    assert "Draft" in response.text


@pytest.mark.parametrize("role", STAFF)
def test_staff_can_open_a_draft(client_as, role, draft):
    response = client_as(role).get(reverse("incidents:detail", args=[draft.pk]))

    assert response.status_code == 200
    assert "Unreviewed strike on a school" in response.text


@pytest.mark.parametrize("role", STAFF)
def test_staff_see_a_working_revision_with_a_banner_linking_to_the_published_original(
    client_as, role, published, working_copy
):
    response = client_as(role).get(reverse("incidents:detail", args=[working_copy.pk]))

    assert response.status_code == 200
    assert "working revision" in response.text
    assert f'href="{reverse("incidents:detail", args=[published.pk])}"' in response.text


@pytest.mark.parametrize("role", STAFF)
def test_staff_see_a_link_from_the_published_incident_to_its_working_revision(client_as, role, published, working_copy):
    response = client_as(role).get(reverse("incidents:detail", args=[published.pk]))

    assert f'href="{reverse("incidents:detail", args=[working_copy.pk])}"' in response.text


def test_the_public_sees_no_trace_of_a_working_revision(client, published, working_copy):
    response = client.get(reverse("incidents:detail", args=[published.pk]))

    assert reverse("incidents:detail", args=[working_copy.pk]) not in response.text
    assert "Corrected title" not in response.text


@pytest.mark.parametrize(("role", "status"), [
    ("anonymous", 302), ("no_role", 403), ("researcher", 200), ("reviewer", 403), ("administrator", 403),
])
def test_only_researchers_can_open_the_create_page(client_as, role, status):
    response = client_as(role).get(reverse("incidents:create"))

    assert response.status_code == status
    if role == "anonymous":
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(("role", "status"), [
    ("anonymous", 302), ("no_role", 403), ("researcher", 200), ("reviewer", 403), ("administrator", 403),
])
def test_only_a_researcher_can_edit_their_draft(client_as, role, status, draft):
    response = client_as(role).get(reverse("incidents:edit", args=[draft.pk]))

    assert response.status_code == status


def test_a_researcher_cannot_edit_someone_elses_draft(client, other_researcher, draft):
    client.force_login(other_researcher)

    response = client.get(reverse("incidents:edit", args=[draft.pk]))

    assert response.status_code == 403


def test_any_researcher_can_start_a_revision_of_a_published_incident(client, other_researcher, published):
    client.force_login(other_researcher)

    response = client.get(reverse("incidents:edit", args=[published.pk]))

    assert response.status_code == 200
    assert "Saving starts a new working revision" in response.text


def test_editing_a_published_incident_that_has_a_working_revision_leads_to_that_revision(
    researcher_client, published, working_copy
):
    response = researcher_client.get(reverse("incidents:edit", args=[published.pk]))

    assert response.status_code == 302
    assert response.url == reverse("incidents:detail", args=[working_copy.pk])


@pytest.mark.parametrize("role", LADDER)
def test_everyone_can_read_a_source_cited_by_a_published_incident(client_as, role):
    source = factories.source(title="Report on shelling")
    allegation = factories.allegation(citations=0)
    allegation.citations = [factories.CitationData(source=source, quote="shells fell")]
    factories.published_incident(allegations=[allegation])

    listing = client_as(role).get(reverse("sources:list"))
    detail = client_as(role).get(reverse("sources:detail", args=[source.pk]))

    assert listing.status_code == 200
    assert "Report on shelling" in listing.text
    assert detail.status_code == 200
    assert "Report on shelling" in detail.text


@pytest.mark.parametrize(("role", "status"), [
    ("anonymous", 302), ("no_role", 403), ("researcher", 200), ("reviewer", 403), ("administrator", 403),
])
def test_only_researchers_can_add_or_edit_sources(client_as, role, status):
    source = factories.source()
    client = client_as(role)

    create = client.get(reverse("sources:create"))
    edit = client.get(reverse("sources:edit", args=[source.pk]))

    assert create.status_code == status
    assert edit.status_code == status


@pytest.mark.parametrize("role", ["anonymous", "no_role"])
def test_a_source_page_lists_only_the_incidents_the_reader_may_see(client_as, role, researcher):
    source = factories.source()
    cited = factories.allegation()
    cited.citations[0].source = source
    published = factories.published_incident(allegations=[cited], title="Published strike")
    hidden_allegation = factories.allegation()
    hidden_allegation.citations[0].source = source
    factories.incident(author=researcher, allegations=[hidden_allegation], title="Hidden strike")

    response = client_as(role).get(reverse("sources:detail", args=[source.pk]))

    assert "Published strike" in response.text
    assert reverse("incidents:detail", args=[published.pk]) in response.text
    assert "Hidden strike" not in response.text


def test_researchers_see_unpublished_incidents_citing_a_source(researcher_client, researcher):
    source = factories.source()
    allegation = factories.allegation()
    allegation.citations[0].source = source
    factories.incident(author=researcher, allegations=[allegation], title="Hidden strike")

    response = researcher_client.get(reverse("sources:detail", args=[source.pk]))

    assert "Hidden strike" in response.text


def test_a_missing_source_is_a_404(client, db):
    assert client.get(reverse("sources:detail", args=[999999])).status_code == 404


def test_the_login_page_renders_with_labelled_fields(client, db):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert '<label for="id_username"' in response.text
    assert '<label for="id_password"' in response.text


def test_signing_in_with_the_login_form_works(client, researcher):
    response = client.post(reverse("login"), {"username": "rita", "password": "correct horse battery staple"})

    assert response.status_code == 302
    assert client.get(reverse("incidents:list")).context["user"] == researcher


def test_signing_out_is_a_post_form_in_the_header(researcher_client):
    page = researcher_client.get(reverse("incidents:list"))
    response = researcher_client.post(reverse("logout"))

    assert f'<form method="post" action="{reverse("logout")}"' in page.text
    assert response.status_code == 302
    assert not researcher_client.get(reverse("incidents:list")).context["user"].is_authenticated


def test_the_create_link_is_shown_only_to_researchers(client_as):
    assert reverse("incidents:create") in client_as("researcher").get(reverse("incidents:list")).text
    assert reverse("incidents:create") not in client_as("reviewer").get(reverse("incidents:list")).text
    assert reverse("incidents:create") not in client_as("anonymous").get(reverse("incidents:list")).text


@pytest.mark.parametrize("page", ["abc", "-1", "999999", "0", ""])
def test_an_invalid_page_number_never_fails(client, page, settings, db):
    settings.ARCHIVE_PAGE_SIZE = 2
    for _ in range(3):
        factories.published_incident()

    response = client.get(reverse("incidents:list"), {"page": page})

    assert response.status_code == 200
    assert response.context["page_obj"].number in (1, 2)


def test_an_out_of_range_page_shows_the_last_page_and_garbage_the_first(client, settings, db):
    settings.ARCHIVE_PAGE_SIZE = 2
    for _ in range(3):
        factories.published_incident()

    assert client.get(reverse("incidents:list"), {"page": "999999"}).context["page_obj"].number == 2
    assert client.get(reverse("incidents:list"), {"page": "abc"}).context["page_obj"].number == 1


def test_the_list_is_newest_first_with_undated_incidents_last(client, db):
    import datetime

    old = factories.published_incident(title="Older", date_start=datetime.date(2020, 9, 28), date_end=datetime.date(2020, 9, 28))
    new = factories.published_incident(title="Newer", date_start=datetime.date(2020, 10, 8), date_end=datetime.date(2020, 10, 8))
    undated = factories.published_incident(title="Undated", date_start=None, date_end=None, date_precision="unknown")

    response = client.get(reverse("incidents:list"))

    assert [row["pk"] for row in response.context["incidents"]] == [new.pk, old.pk, undated.pk]


def test_pagination_links_keep_the_query_string(client, settings, db):
    settings.ARCHIVE_PAGE_SIZE = 1
    for _ in range(2):
        factories.published_incident()

    response = client.get(reverse("incidents:list"), {"date_from": "2000"})

    assert "?date_from=2000&amp;page=2" in response.text


def test_the_detail_page_attributes_every_claim(client, db):
    import datetime

    affiliated = factories.organization("Ministry of Defence", is_party_affiliated=True)
    cluster = factories.weapon("Smerch 9M55K", is_cluster_munition="yes")
    allegation = factories.allegation(weapons=["Smerch 9M55K"], citations=2, confidence="corroborated",
                                      party_response="The ministry denied the attack.")
    allegation.citations[1].source = factories.source(org=affiliated.name, url="https://example.org/statement",
                                                      published_on=datetime.date(2020, 10, 1), published_form="month")
    allegation.citations[1].stance = "disputes"
    unattributed = factories.allegation(perpetrator=None, side_name=None)
    incident = factories.published_incident(
        allegations=[allegation, unattributed], civilians_killed_min=3, civilians_killed_max=5,
        civilians_injured_min=21, date_start=datetime.date(2020, 10, 1), date_end=datetime.date(2020, 10, 31),
        date_precision="month",
    )

    text = client.get(reverse("incidents:detail", args=[incident.pk])).text

    assert "alleged against Party A forces (Side A)" in text
    assert "not attributed" in text
    assert "October 2020" in text
    assert "3–5" in text
    assert "at least 21" in text
    assert cluster.name in text and "cluster munition" in text
    assert "Corroborated" in text
    assert "The ministry denied the attack." in text
    assert "party-affiliated" in text
    assert '<a href="https://example.org/statement" rel="noopener noreferrer">' in text
    assert "<blockquote" in text and "quote 0" in text
    assert "Disputes" in text


def test_the_detail_page_shows_the_status_only_to_staff(client_as):
    incident = factories.published_incident()
    url = reverse("incidents:detail", args=[incident.pk])

    assert "status-published" in client_as("reviewer").get(url).text
    assert "status-published" not in client_as("anonymous").get(url).text
    assert "status-published" not in client_as("no_role").get(url).text


def test_pages_load_nothing_from_the_internet(client, db):
    incident = factories.published_incident()

    for url in [reverse("incidents:list"), reverse("incidents:detail", args=[incident.pk]), reverse("login")]:
        text = client.get(url).text
        assert "<script src=\"http" not in text
        assert "<link rel=\"stylesheet\" href=\"http" not in text
        assert "/static/css/archive.css" in text


def test_the_review_queue_link_is_shown_only_to_reviewers(client_as):
    queue = reverse("review:queue")

    assert f'href="{queue}"' in client_as("reviewer").get(reverse("incidents:list")).text
    assert f'href="{queue}"' not in client_as("researcher").get(reverse("incidents:list")).text
    assert f'href="{queue}"' not in client_as("anonymous").get(reverse("incidents:list")).text
