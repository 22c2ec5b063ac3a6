"""The review workflow: every transition and refusal with its audit rows, four eyes, revisions and hashes."""
import itertools
import re
from dataclasses import replace

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from archive.models import AuditEvent
from incidents import search, services
from incidents.documents import data_from_incident, document_of, sha256_of
from incidents.models import TRANSITIONS, Decision, Incident, IncidentRevision, Review, Status
from tests import factories

VERB_FOR_TARGET = {
    Status.IN_REVIEW: "incident.submit",
    Status.PUBLISHED: "incident.approve",
    Status.CHANGES_REQUESTED: "incident.request_changes",
    Status.WITHDRAWN: "incident.withdraw",
    Status.DRAFT: "incident.update",
}


@pytest.fixture(autouse=True)
def plain_http(settings):
    """The test client speaks plain HTTP; production redirects it to HTTPS."""
    settings.SECURE_SSL_REDIRECT = False


def fresh(incident):
    return Incident.objects.get(pk=incident.pk)


def edit(actor, incident, **fields):
    """Save an edit through the service, starting from the incident as it is stored now."""
    current = Incident.objects.for_detail().get(pk=incident.pk)
    values, allegations = data_from_incident(current)
    return services.edit_incident(
        actor=actor, incident=current, fields={**values, **fields}, allegations=allegations,
        base_sha256=sha256_of(document_of(current)),
    )


def incident_in(status, author, reviewer):
    """An incident by `author` brought to `status` through the services, reviewed by `reviewer`."""
    record = factories.incident(author=author)
    if status == Status.DRAFT:
        return fresh(record)
    revision = services.submit(actor=author, incident=record)
    if status == Status.CHANGES_REQUESTED:
        services.request_changes(actor=reviewer, incident=record, comment="Cite a second source.")
    elif status in (Status.PUBLISHED, Status.WITHDRAWN):
        services.approve(actor=reviewer, incident=record, sha256=revision.sha256)
        if status == Status.WITHDRAWN:
            services.withdraw(actor=reviewer, incident=record, reason="The only source retracted its report.")
    return fresh(record)


def move(incident, target, author, reviewer):
    """Ask the service whose verb leads to `target`; returns the actor who asked."""
    if target == Status.IN_REVIEW:
        services.submit(actor=author, incident=incident)
        return author
    if target == Status.PUBLISHED:
        revision = services.revision_in_review(incident)
        services.approve(actor=reviewer, incident=incident, sha256=revision.sha256 if revision else "0" * 64)
        return reviewer
    if target == Status.CHANGES_REQUESTED:
        services.request_changes(actor=reviewer, incident=incident, comment="Please check the date.")
        return reviewer
    if target == Status.WITHDRAWN:
        services.withdraw(actor=reviewer, incident=incident, reason="Duplicate of another record.")
        return reviewer
    edit(author, incident, title="A corrected title")
    return author


def new_events(since):
    return list(AuditEvent.objects.filter(seq__gt=since).order_by("seq"))


def last_seq():
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def test_the_transition_table_covers_every_status_and_names_only_statuses():
    assert set(TRANSITIONS) == set(Status)
    assert all(targets <= set(Status) for targets in TRANSITIONS.values())
    reachable = set().union(*TRANSITIONS.values())
    assert reachable == set(Status), "every status can be reached from another"


@pytest.mark.parametrize(("start", "target"), list(itertools.product(Status, Status)),
                         ids=lambda status: status.value)
def test_each_move_happens_exactly_when_the_table_allows_it_and_is_audited(researcher, reviewer, start, target):
    incident = incident_in(start, researcher, reviewer)
    since = last_seq()

    try:
        actor = move(incident, target, researcher, reviewer)
    except services.ServiceError:
        actor = None

    moves = [e for e in new_events(since) if e.changes.get("status") == [start.value, target.value]]
    if target in TRANSITIONS[start]:
        assert fresh(incident).status == target
        assert [(e.action, e.actor, e.scope) for e in moves] == [
            (VERB_FOR_TARGET[target], actor, f"incident:{incident.pk}")
        ]
    else:
        assert fresh(incident).status == start
        assert moves == []


def test_a_submitted_revision_is_a_snapshot_with_the_hash_of_its_document(researcher):
    incident = factories.incident(author=researcher)
    document = document_of(Incident.objects.for_detail().get(pk=incident.pk))

    revision = services.submit(actor=researcher, incident=incident)

    assert (revision.number, revision.document, revision.sha256) == (1, document, sha256_of(document))
    event = AuditEvent.objects.get(action="incident.submit")
    assert event.changes == {"status": ["draft", "in_review"], "revision": 1, "sha256": revision.sha256}


def both_roles(username):
    account = factories.user(username, role="researcher")
    account.groups.add(Group.objects.get(name="reviewer"))
    return account


def approve_by_post(client, user, incident, sha256=None):
    client.force_login(user)
    if sha256 is None:
        sha256 = services.revision_in_review(incident).sha256
    return client.post(reverse("review:approve", args=[incident.pk]), {"sha256": sha256})


def test_authors_cannot_approve_their_own_incident_even_by_posting_directly(db, client):
    author = both_roles("rosa")
    incident = factories.incident(author=author)
    services.submit(actor=author, incident=incident)
    since = last_seq()

    response = approve_by_post(client, author, incident)

    assert response.status_code == 403
    assert "someone else must approve it" in response.content.decode()
    assert fresh(incident).status == Status.IN_REVIEW
    assert not Review.objects.exists()
    [event] = new_events(since)
    assert (event.action, event.actor, event.scope) == ("incident.approve.refused", author, f"incident:{incident.pk}")
    assert "someone else must approve it" in event.changes["refused"]


def test_whoever_edited_a_revision_cannot_approve_it_though_someone_else_submitted_it(researcher, reviewer, client):
    editor = both_roles("eddie")
    incident = incident_in(Status.WITHDRAWN, researcher, reviewer)
    edit(editor, incident, title="Shelling of a market, corrected")
    services.submit(actor=researcher, incident=fresh(incident))
    since = last_seq()

    response = approve_by_post(client, editor, incident)

    assert response.status_code == 403
    assert fresh(incident).status == Status.IN_REVIEW
    assert [(e.action, e.actor) for e in new_events(since)] == [("incident.approve.refused", editor)]


def test_a_researcher_without_the_reviewer_role_cannot_approve_and_the_attempt_is_logged(researcher, other_researcher, client):
    incident = factories.incident(author=researcher)
    services.submit(actor=researcher, incident=incident)
    since = last_seq()

    response = approve_by_post(client, other_researcher, incident)

    assert response.status_code == 403
    assert fresh(incident).status == Status.IN_REVIEW
    [event] = new_events(since)
    assert (event.action, event.actor) == ("incident.approve.refused", other_researcher)
    assert event.changes == {"refused": "Only reviewers can approve, request changes or withdraw."}


def test_a_user_without_any_role_cannot_approve_a_published_incident_either(no_role_user, client):
    incident = factories.published_incident()
    since = last_seq()

    response = approve_by_post(client, no_role_user, incident, sha256="0" * 64)

    assert response.status_code == 403
    assert [(e.action, e.actor) for e in new_events(since)] == [("incident.approve.refused", no_role_user)]


def test_an_approval_of_content_that_moved_on_is_refused_as_changed_since_opened(researcher, reviewer, other_reviewer, client):
    incident = factories.incident(author=researcher)
    opened = services.submit(actor=researcher, incident=incident)
    services.request_changes(actor=other_reviewer, incident=incident, comment="Add the casualty figures.")
    edit(researcher, incident, civilians_killed_min=3, civilians_killed_max=5)
    current = services.submit(actor=researcher, incident=fresh(incident))
    since = last_seq()

    response = approve_by_post(client, reviewer, incident, sha256=opened.sha256)

    assert response.status_code == 409
    page = response.content.decode()
    assert "changed since you opened it" in page
    assert reverse("incidents:detail", args=[incident.pk]) in page
    assert fresh(incident).status == Status.IN_REVIEW
    assert not Incident.objects.published().exists()
    assert not Review.objects.filter(decision=Decision.APPROVE).exists()
    assert new_events(since) == []
    assert current.sha256 != opened.sha256


def test_a_replayed_approval_is_refused_and_leaves_one_review(researcher, reviewer, client):
    incident = factories.incident(author=researcher)
    revision = services.submit(actor=researcher, incident=incident)
    first = approve_by_post(client, reviewer, incident, sha256=revision.sha256)
    since = last_seq()

    replay = approve_by_post(client, reviewer, incident, sha256=revision.sha256)

    assert first.status_code == 302
    assert replay.status_code == 409
    assert Review.objects.filter(decision=Decision.APPROVE).count() == 1
    assert new_events(since) == []


def test_approval_through_the_page_publishes_and_redirects_with_a_message(researcher, reviewer, client):
    incident = factories.incident(author=researcher)
    revision = services.submit(actor=researcher, incident=incident)

    response = approve_by_post(client, reviewer, incident, sha256=revision.sha256)

    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
    assert "Approved and published" in client.get(response["Location"]).content.decode()
    review = Review.objects.get()
    assert (review.revision, review.reviewer, review.decision) == (revision, reviewer, Decision.APPROVE)
    event = AuditEvent.objects.get(action="incident.approve")
    assert (event.actor, event.changes["status"], event.changes["sha256"]) == (reviewer, ["in_review", "published"], revision.sha256)


def test_requesting_changes_needs_a_comment(researcher, reviewer, client):
    incident = factories.incident(author=researcher)
    services.submit(actor=researcher, incident=incident)
    client.force_login(reviewer)
    since = last_seq()

    response = client.post(reverse("review:request_changes", args=[incident.pk]), {"comment": "  "})

    assert response.status_code == 400
    assert "comment is required" in response.content.decode()
    assert fresh(incident).status == Status.IN_REVIEW
    assert new_events(since) == []


def test_requested_changes_go_back_to_the_author_who_sees_the_comment(researcher, reviewer, client):
    incident = factories.incident(author=researcher)
    services.submit(actor=researcher, incident=incident)
    client.force_login(reviewer)

    response = client.post(reverse("review:request_changes", args=[incident.pk]), {"comment": "Which battery fired?"})

    assert response.status_code == 302
    assert fresh(incident).status == Status.CHANGES_REQUESTED
    event = AuditEvent.objects.get(action="incident.request_changes")
    assert (event.actor, event.changes["comment"]) == (reviewer, "Which battery fired?")
    client.force_login(researcher)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Which battery fired?" in page
    assert reverse("review:submit", args=[incident.pk]) in page


def test_withdrawing_needs_a_reason(researcher, reviewer, client):
    incident = factories.published_incident(author=researcher)
    client.force_login(reviewer)
    since = last_seq()

    response = client.post(reverse("review:withdraw", args=[incident.pk]), {"reason": ""})

    assert response.status_code == 400
    assert fresh(incident).status == Status.PUBLISHED
    assert new_events(since) == []


def test_a_withdrawn_incident_leaves_the_public_record_with_its_reason(researcher, reviewer, client):
    incident = factories.published_incident(author=researcher)
    client.force_login(reviewer)

    response = client.post(reverse("review:withdraw", args=[incident.pk]), {"reason": "Fabricated source."})

    assert response.status_code == 302
    assert not Incident.objects.published().exists()
    event = AuditEvent.objects.get(action="incident.withdraw")
    assert (event.actor, event.changes) == (reviewer, {"status": ["published", "withdrawn"], "reason": "Fabricated source."})
    client.logout()
    assert client.get(reverse("incidents:detail", args=[incident.pk])).status_code == 404


def test_a_new_revision_of_a_withdrawn_incident_is_a_draft_with_the_next_number(researcher, reviewer):
    incident = incident_in(Status.WITHDRAWN, researcher, reviewer)

    edit(researcher, incident, title="Shelling of a market, re-examined")

    incident = fresh(incident)
    assert (incident.status, incident.revision) == (Status.DRAFT, 2)
    event = AuditEvent.objects.filter(action="incident.update").get()
    assert (event.actor, event.changes["status"], event.changes["revision"]) == (researcher, ["withdrawn", "draft"], 2)


def test_researchers_submit_through_the_page_and_others_cannot(researcher, other_researcher, client):
    incident = factories.incident(author=researcher)
    client.force_login(other_researcher)
    refused = client.post(reverse("review:submit", args=[incident.pk]))
    client.force_login(researcher)

    response = client.post(reverse("review:submit", args=[incident.pk]))

    assert refused.status_code == 403
    assert response.status_code == 302
    assert fresh(incident).status == Status.IN_REVIEW
    assert [e.actor for e in AuditEvent.objects.filter(action="incident.submit")] == [researcher]


def test_state_changes_answer_only_post(researcher, reviewer, client):
    incident = factories.incident(author=researcher)
    services.submit(actor=researcher, incident=incident)
    client.force_login(reviewer)

    for name in ["submit", "approve", "request_changes", "withdraw", "discard"]:
        assert client.get(reverse(f"review:{name}", args=[incident.pk])).status_code == 405
    assert fresh(incident).status == Status.IN_REVIEW


def test_anonymous_visitors_are_sent_to_sign_in_and_cannot_learn_about_drafts(researcher, client):
    incident = factories.incident(author=researcher)
    services.submit(actor=researcher, incident=incident)

    response = client.post(reverse("review:approve", args=[incident.pk]), {"sha256": "x"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(factories.user("nobody"))
    assert client.post(reverse("review:approve", args=[incident.pk]), {"sha256": "x"}).status_code == 404


def test_editing_a_published_incident_stays_invisible_until_the_new_revision_is_approved(researcher, reviewer, client):
    published = factories.published_incident(author=researcher, title="Shelling of a market")
    url = reverse("incidents:detail", args=[published.pk])

    copy = edit(researcher, published, title="Shelling of the central market")
    revision = services.submit(actor=researcher, incident=copy)

    assert "Shelling of the central market" not in client.get(url).content.decode()
    assert list(Incident.objects.published().values_list("title", flat=True)) == ["Shelling of a market"]

    services.approve(actor=reviewer, incident=copy, sha256=revision.sha256)

    page = client.get(url).content.decode()
    assert "Shelling of the central market" in page
    assert list(Incident.objects.published().values_list("pk", "title", "revision")) == [
        (published.pk, "Shelling of the central market", 2)
    ]
    assert not Incident.objects.filter(pk=copy.pk).exists()
    event = AuditEvent.objects.filter(action="incident.approve").last()
    assert (event.target_id, event.scope, event.changes["revision"]) == (str(published.pk), f"incident:{published.pk}", 2)


def test_a_working_revision_of_a_withdrawn_incident_cannot_be_approved(researcher, reviewer, other_reviewer):
    published = factories.published_incident(author=researcher)
    copy = edit(researcher, published, title="Shelling of the central market")
    revision = services.submit(actor=researcher, incident=copy)
    services.withdraw(actor=other_reviewer, incident=published, reason="Duplicate record.")

    with pytest.raises(services.TransitionRefused, match="withdrawn, not published"):
        services.approve(actor=reviewer, incident=copy, sha256=revision.sha256)

    assert fresh(published).status == Status.WITHDRAWN
    assert fresh(copy).status == Status.IN_REVIEW
    assert not Review.objects.filter(decision=Decision.APPROVE, revision=revision).exists()


def test_the_author_discards_a_working_revision_and_the_published_one_stays(researcher, reviewer, client):
    published = factories.published_incident(author=researcher)
    copy = edit(researcher, published, title="Shelling of the central market")
    client.force_login(researcher)

    response = client.post(reverse("review:discard", args=[copy.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", args=[published.pk])
    assert not Incident.objects.filter(pk=copy.pk).exists()
    assert fresh(published).title == "Shelling of a market"
    event = AuditEvent.objects.get(action="incident.discard_revision")
    assert (event.actor, event.scope, event.changes["revision"]) == (researcher, f"incident:{published.pk}", 2)


def test_the_hash_an_approval_records_is_the_one_shown_to_the_reviewer(researcher, reviewer, client):
    published = factories.published_incident(author=researcher)
    copy = edit(researcher, published, title="Shelling of the central market")
    services.submit(actor=researcher, incident=copy)
    client.force_login(reviewer)

    page = client.get(reverse("incidents:detail", args=[copy.pk])).content.decode()
    shown = re.search(r'name="sha256" value="([0-9a-f]{64})"', page).group(1)
    response = client.post(reverse("review:approve", args=[copy.pk]), {"sha256": shown})

    assert response.status_code == 302
    review = Review.objects.get(decision=Decision.APPROVE, revision__number=2)
    assert review.revision.sha256 == shown
    assert review.revision.sha256 == sha256_of(document_of(Incident.objects.for_detail().get(pk=published.pk)))
    assert AuditEvent.objects.filter(action="incident.approve").last().changes["sha256"] == shown
    assert IncidentRevision.objects.get(pk=review.revision.pk).document["title"] == "Shelling of the central market"


def test_the_panel_offers_approval_only_to_reviewers_who_did_not_write_the_revision(researcher, reviewer, client):
    incident = factories.incident(author=researcher)
    services.submit(actor=researcher, incident=incident)
    url = reverse("incidents:detail", args=[incident.pk])
    approve_url = reverse("review:approve", args=[incident.pk])

    client.force_login(reviewer)
    as_reviewer = client.get(url).content.decode()
    client.force_login(researcher)
    as_author = client.get(url).content.decode()

    assert approve_url in as_reviewer and 'name="sha256"' in as_reviewer
    assert approve_url not in as_author and 'name="sha256"' not in as_author


def test_a_refused_submission_by_someone_who_did_not_write_the_draft_is_audited(researcher, other_researcher):
    draft = factories.incident(author=researcher)
    with pytest.raises(services.PermissionRefused):
        services.submit(actor=other_researcher, incident=draft)
    event = AuditEvent.objects.get(action="incident.submit.refused")
    assert event.actor == other_researcher and event.changes["refused"]


def stored_counts(*incidents):
    """Each incident's allegation_count column beside the number of its allegations actually stored."""
    return [
        (row.allegation_count, row.allegations.count())
        for row in Incident.objects.filter(pk__in=[i.pk for i in incidents]).order_by("pk")
    ]


def test_the_allegation_count_column_follows_every_write_of_allegations(researcher, reviewer):
    published = factories.published_incident(author=researcher, allegations=[factories.allegation(), factories.allegation()])
    assert stored_counts(published) == [(2, 2)]

    current = Incident.objects.for_detail().get(pk=published.pk)
    values, allegations = data_from_incident(current)
    copy = services.edit_incident(
        actor=researcher, incident=current, fields=values, allegations=allegations + [factories.allegation()],
        base_sha256=sha256_of(document_of(current)),
    )
    assert stored_counts(published, copy) == [(2, 2), (3, 3)]

    revision = services.submit(actor=researcher, incident=copy)
    services.approve(actor=reviewer, incident=copy, sha256=revision.sha256)
    assert stored_counts(published) == [(3, 3)]

    draft = factories.incident(author=researcher, allegations=[factories.allegation()])
    values, allegations = data_from_incident(Incident.objects.for_detail().get(pk=draft.pk))
    services.edit_incident(actor=researcher, incident=draft, fields=values, allegations=[],
                           base_sha256=sha256_of(document_of(Incident.objects.for_detail().get(pk=draft.pk))))
    assert stored_counts(draft) == [(0, 0)]


def test_an_edit_in_place_stores_exactly_the_allegations_given_in_their_order(researcher):
    draft = factories.incident(author=researcher, allegations=[
        factories.allegation(weapons=["Rocket A"]), factories.allegation(perpetrator=None, citations=2),
    ])
    replaced = list(draft.allegations.values_list("pk", flat=True))
    current = Incident.objects.for_detail().get(pk=draft.pk)
    values, (first, second) = data_from_incident(current)
    rocket_b = factories.weapon("Rocket B")
    # Reordered, citations reversed, and one weapon given twice: it is linked once.
    allegations = [
        replace(second, citations=second.citations[::-1], summary="now first"),
        replace(first, weapons=[*first.weapons, rocket_b, *first.weapons]),
    ]

    services.edit_incident(actor=researcher, incident=current, fields=values, allegations=allegations,
                           base_sha256=sha256_of(document_of(current)))

    stored = Incident.objects.for_detail().get(pk=draft.pk)
    stored_allegations = list(stored.allegations.all())
    assert not stored.allegations.filter(pk__in=replaced).exists()
    assert [(a.position, a.summary) for a in stored_allegations] == [(0, "now first"), (1, "")]
    assert [c.quote for c in stored_allegations[0].citations.all()] == [c.quote for c in second.citations[::-1]]
    assert sorted(w.name for w in stored_allegations[1].weapons.all()) == ["Rocket A", "Rocket B"]
    assert stored.allegation_count == 2
    assert stored.text.body == search.text_of(stored, data_from_incident(stored)[1])
    assert "now first" in stored.text.body
    revision = services.submit(actor=researcher, incident=stored)
    assert revision.document == document_of(Incident.objects.for_detail().get(pk=draft.pk))
