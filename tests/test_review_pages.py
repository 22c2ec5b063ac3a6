"""The review queue, an incident's history and its revision diffs: who may see them and what they show."""
import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services
from incidents.documents import data_from_incident, document_of, sha256_of
from incidents.models import Incident
from tests import factories


@pytest.fixture(autouse=True)
def plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


def submitted(author, **fields):
    incident = factories.incident(author=author, **fields)
    services.submit(actor=author, incident=incident)
    return incident


def working_revision(author, published, **fields):
    """Edit a published incident (a new working revision) and submit it."""
    current = Incident.objects.for_detail().get(pk=published.pk)
    values, allegations = data_from_incident(current)
    copy = services.edit_incident(
        actor=author, incident=current, fields={**values, **fields}, allegations=allegations,
        base_sha256=sha256_of(document_of(current)),
    )
    services.submit(actor=author, incident=copy)
    return copy


def get(client, user, url):
    client.logout()
    if user is not None:
        client.force_login(user)
    return client.get(url)


@pytest.mark.parametrize(("who", "status"), [("anonymous", 302), ("no_role_user", 403), ("researcher", 403),
                                             ("reviewer", 200)])
def test_only_reviewers_see_the_review_queue(db, client, request, who, status):
    user = None if who == "anonymous" else request.getfixturevalue(who)

    response = get(client, user, reverse("review:queue"))

    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith(reverse("login"))


def test_the_queue_lists_what_awaits_review_oldest_first_with_who_submitted_and_what_changed(
        client, researcher, other_researcher, reviewer):
    published = factories.published_incident(author=researcher, title="Shelling of a market")
    older = submitted(other_researcher, title="Older submission")
    working_revision(researcher, published, title="Shelling of the central market", civilians_killed_min=2)
    factories.incident(author=researcher, title="A draft not yet submitted")

    page = get(client, reviewer, reverse("review:queue")).content.decode()

    assert page.index("Older submission") < page.index("Shelling of the central market")
    assert "A draft not yet submitted" not in page
    assert "New incident" in page and "ramon" in page
    assert "2 fields changed: civilians_killed_min, title" in page
    rows = page.split("<tr>")[2:]
    assert ">2</td>" in rows[1] and ">1</td>" in rows[0], "the revision numbers"
    assert reverse("incidents:detail", args=[older.pk]) in rows[0]


def test_the_queue_tells_a_reviewer_which_entries_they_cannot_approve(client, reviewer):
    author = factories.user("rosa", role="researcher")
    author.groups.add(Group.objects.get(name="reviewer"))
    submitted(author, title="Written by a reviewer")

    mine = get(client, author, reverse("review:queue")).content.decode()
    theirs = get(client, reviewer, reverse("review:queue")).content.decode()

    assert "another reviewer must approve it" in mine
    assert "another reviewer must approve it" not in theirs


def queue_queries(client, reviewer):
    client.force_login(reviewer)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("review:queue"))
    assert response.status_code == 200
    return len(queries)


def test_the_queue_asks_the_database_the_same_number_of_times_for_two_or_twelve_entries(
        client, researcher, reviewer):
    def add_entries(count):
        for _ in range(count // 2):
            submitted(researcher)
            working_revision(researcher, factories.published_incident(author=researcher), title="A new title")

    add_entries(2)
    small = queue_queries(client, reviewer)
    add_entries(10)
    large = queue_queries(client, reviewer)

    assert Incident.objects.awaiting_review().count() == 12
    assert small == large


def test_the_history_page_ladder(client, researcher, reviewer, no_role_user):
    draft = factories.incident(author=researcher)
    published = factories.published_incident(author=researcher)

    def status(user, incident):
        return get(client, user, reverse("review:history", args=[incident.pk])).status_code

    assert [status(u, draft) for u in (None, no_role_user, researcher, reviewer)] == [404, 404, 200, 200]
    assert [status(u, published) for u in (None, no_role_user, researcher, reviewer)] == [200, 200, 200, 200]


def test_staff_read_every_event_with_who_acted_and_a_field_by_field_diff(client, researcher, reviewer):
    published = factories.published_incident(author=researcher, title="Shelling of a market")
    copy = working_revision(researcher, published, title="Shelling of the central market")
    services.request_changes(actor=reviewer, incident=copy, comment="Which market?")

    page = get(client, reviewer, reverse("review:history", args=[copy.pk])).content.decode()

    for text in ["Recorded", "Submitted for review", "Approved and published", "Started a new revision",
                 "Changes requested", "Which market?", "rita", "vera", "In review → Changes requested"]:
        assert text in page, text
    assert "<code>title</code></th><td class=\"before\">Shelling of a market</td>" \
           "<td class=\"after\">Shelling of the central market</td>" in page


def test_the_public_history_says_only_when_each_revision_was_published(client, researcher, reviewer):
    published = factories.published_incident(author=researcher, title="Shelling of a market")
    copy = working_revision(researcher, published, title="Shelling of the central market")
    services.approve(actor=reviewer, incident=copy, sha256=services.revision_in_review(copy).sha256)

    page = get(client, None, reverse("review:history", args=[published.pk])).content.decode()

    assert page.count("approved and published on") == 2
    assert "Revision 1 approved" in page and "Revision 2 approved" in page
    for hidden in ["rita", "vera", "factory-reviewer", "Submitted for review", "Started a new revision"]:
        assert hidden not in page, hidden


def test_the_revisions_page_ladder(client, researcher, reviewer, no_role_user):
    published = factories.published_incident(author=researcher)
    url = reverse("review:revisions", args=[published.pk])

    statuses = [get(client, u, url).status_code for u in (None, no_role_user, researcher, reviewer)]

    assert statuses == [302, 403, 200, 200]


def test_the_revisions_page_compares_the_published_revision_with_the_latest_by_default(client, researcher, reviewer):
    published = factories.published_incident(author=researcher, title="Shelling of a market")
    working_revision(researcher, published, title="Shelling of the central market")

    page = get(client, reviewer, reverse("review:revisions", args=[published.pk])).content.decode()

    assert "<code>title</code></th><td class=\"before\">Shelling of a market</td>" \
           "<td class=\"after\">Shelling of the central market</td>" in page
    assert "reference_code" not in page.split("<table")[1], "only what changed is listed"


def test_any_two_revisions_can_be_compared_but_not_those_of_another_incident(client, researcher, reviewer):
    published = factories.published_incident(author=researcher, title="Shelling of a market")
    copy = working_revision(researcher, published, title="Shelling of the central market")
    services.request_changes(actor=reviewer, incident=copy, comment="Add the casualties.")
    first, second = published.revisions.order_by("submitted_at", "id")
    other = factories.published_incident(author=researcher).revisions.get()
    url = reverse("review:revisions", args=[published.pk])

    same = get(client, reviewer, f"{url}?a={second.pk}&b={second.pk}").content.decode()
    reversed_ = get(client, reviewer, f"{url}?a={second.pk}&b={first.pk}").content.decode()
    foreign = get(client, reviewer, f"{url}?a={other.pk}&b={second.pk}")

    assert "the same content" in same
    assert "<td class=\"before\">Shelling of the central market</td><td class=\"after\">Shelling of a market</td>" \
           in reversed_
    assert foreign.status_code == 404


def test_the_review_panel_costs_the_same_queries_however_long_the_review_history(client, researcher, reviewer):
    def in_review_after(rounds):
        incident = submitted(researcher)
        for n in range(rounds):
            services.request_changes(actor=reviewer, incident=incident, comment=f"Round {n}")
            services.submit(actor=researcher, incident=Incident.objects.get(pk=incident.pk))
        return incident

    def panel_queries(incident):
        client.force_login(reviewer)
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
        assert reverse("review:approve", args=[incident.pk]) in page
        return len(queries)

    short, long = in_review_after(1), in_review_after(6)

    assert panel_queries(short) == panel_queries(long)


def test_visitors_see_no_review_panel_only_the_publication_history_link(client, researcher):
    published = factories.published_incident(author=researcher)

    page = get(client, None, reverse("incidents:detail", args=[published.pk])).content.decode()

    assert "review-panel" not in page and 'name="sha256"' not in page
    assert reverse("review:history", args=[published.pk]) in page
    assert reverse("review:revisions", args=[published.pk]) not in page


def test_the_queue_is_read_a_page_at_a_time_oldest_first(client, researcher, reviewer):
    from django.test import override_settings

    for title in ("First in", "Second in", "Third in"):
        submitted(researcher, title=title)
    with override_settings(ARCHIVE_PAGE_SIZE=2):
        first = get(client, reviewer, reverse("review:queue")).content.decode()
        second = client.get(reverse("review:queue"), {"page": 2}).content.decode()
    assert "3 revisions awaiting review" in first and "3 revisions awaiting review" in second
    assert first.index("First in") < first.index("Second in") and "Third in" not in first
    assert "Third in" in second and "First in" not in second and 'rel="next"' in first
