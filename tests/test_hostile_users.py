"""Hostile users: visitors probing for unpublished work, users forging workflow steps or fields,
password guessing, and session fixation.

The public (anonymous visitors and signed-in users with no role) must learn nothing about
unpublished incidents: every URL that names one answers exactly as for an id that does not
exist, and no public page, count, search or export changes when unpublished work is added.
"""
import re

import pytest
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_login_failed
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse

from archive import throttle
from archive.models import AuditEvent, LoginFailure
from incidents import services
from incidents.documents import AllegationData, CitationData, document_of, sha256_of
from incidents.models import Incident, IncidentRevision, Review
from sources import services as source_services
from sources.models import Source
from tests import factories
from tests.images import image_bytes

PUBLIC = ["anonymous", "no_role"]
PASSWORD = "correct horse battery staple"
# Masked CSRF tokens differ on every response, and exports are stamped with the time.
CSRF_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')
TIMESTAMP = re.compile(rb"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def client_as(db, no_role_user):
    def make(role):
        client = Client()
        if role == "no_role":
            client.force_login(no_role_user)
        return client

    return make


def fresh(incident):
    return Incident.objects.get(pk=incident.pk)


def citing(source, word):
    return AllegationData(
        perpetrator=factories.party(), summary=f"{word} allegation", affected_party=f"{word} villagers",
        citations=[CitationData(source=source, quote=f"{word} quote", locator=f"{word} page")],
    )


def current_sha(incident):
    return sha256_of(document_of(Incident.objects.for_detail().get(pk=incident.pk)))


def unpublished_work(author, reviewer, source, original):
    """One incident in every state the public must not see, each citing `source`, each with its own word.

    The working copy is a new revision of `original`, a published incident.
    """
    def record(word, **fields):
        return factories.incident(author=author, allegations=[citing(source, word)], title=f"Strike {word}",
                                  summary=f"{word} summary", **fields)

    draft = record("quokkadraft")
    in_review = record("quokkareview")
    services.submit(actor=author, incident=in_review)
    sent_back = record("quokkasentback")
    services.submit(actor=author, incident=sent_back)
    services.request_changes(actor=reviewer, incident=sent_back, comment="Check the date.")
    withdrawn = factories.published_incident(author=author, allegations=[citing(source, "quokkawithdrawn")],
                                             title="Strike quokkawithdrawn")
    services.withdraw(actor=reviewer, incident=withdrawn, reason="Sources retracted.")
    restricted = factories.published_incident(author=author, allegations=[citing(source, "quokkarestricted")],
                                              title="Strike quokkarestricted", visibility="restricted")
    working = services.edit_incident(
        actor=author, incident=original, fields=factories.incident_fields(
            reference_code=original.reference_code, title="Strike quokkaworking", summary="quokkaworking summary"),
        allegations=[citing(source, "quokkaworking")], base_sha256=current_sha(original),
    )
    return {"draft": draft, "in_review": in_review, "changes_requested": sent_back, "withdrawn": withdrawn,
            "restricted": restricted, "working_copy": working}


HIDDEN_WORDS = ["quokkadraft", "quokkareview", "quokkasentback", "quokkawithdrawn", "quokkarestricted",
                "quokkaworking"]


@pytest.fixture
def hidden(researcher, reviewer):
    original = factories.published_incident(title="Strike visiblepublished")
    return unpublished_work(researcher, reviewer, factories.source(title="Shared report"), original)


def missing_id():
    return (Incident.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


INCIDENT_GETS = ["incidents:detail", "review:history", "review:revisions", "incidents:edit"]
INCIDENT_POSTS = ["review:submit", "review:approve", "review:request_changes", "review:withdraw", "review:discard"]


@pytest.mark.parametrize("role", PUBLIC)
@pytest.mark.parametrize("state", ["draft", "in_review", "changes_requested", "withdrawn", "restricted",
                                   "working_copy"])
def test_every_url_naming_unpublished_work_answers_exactly_as_for_an_id_that_does_not_exist(
    client_as, hidden, role, state
):
    client, pk, nowhere = client_as(role), hidden[state].pk, missing_id()
    status = fresh(hidden[state]).status

    for name in INCIDENT_GETS:
        real, fake = client.get(reverse(name, args=[pk])), client.get(reverse(name, args=[nowhere]))
        assert real.status_code in (302, 403, 404), name
        assert real.status_code == fake.status_code, name
        assert CSRF_TOKEN.sub(b"", real.content) == CSRF_TOKEN.sub(b"", fake.content), name
    for name in INCIDENT_POSTS:
        data = {"sha256": "0" * 64, "comment": "x", "reason": "x"}
        real, fake = client.post(reverse(name, args=[pk]), data), client.post(reverse(name, args=[nowhere]), data)
        assert real.status_code in (302, 404), name
        assert real.status_code == fake.status_code, name
        assert CSRF_TOKEN.sub(b"", real.content) == CSRF_TOKEN.sub(b"", fake.content), name
    assert fresh(hidden[state]).status == status


@pytest.mark.parametrize("role", PUBLIC)
def test_the_404_of_an_unpublished_incident_is_byte_identical_to_that_of_a_missing_one(client_as, hidden, role):
    client = client_as(role)
    real = client.get(reverse("incidents:detail", args=[hidden["draft"].pk]))
    fake = client.get(reverse("incidents:detail", args=[missing_id()]))

    assert real.status_code == fake.status_code == 404
    assert real.content == fake.content
    assert b"quokka" not in real.content


def image_capture(user, source):
    prepared = [source_services.prepare_upload(SimpleUploadedFile("photo.jpg", image_bytes("JPEG")))]
    [capture] = source_services.add_captures(actor=user, source=source, prepared=prepared)
    return capture


@pytest.mark.parametrize("role", PUBLIC)
def test_files_of_a_source_cited_only_by_unpublished_work_are_a_plain_404(client_as, researcher, reviewer, role):
    source = factories.source(title="Only cited by drafts")
    unpublished_work(researcher, reviewer, source, factories.published_incident())
    capture = image_capture(researcher, source)
    nowhere = capture.pk + 1000
    client = client_as(role)

    for name, args in [("files:original", []), ("files:derivative", ["image"]), ("files:derivative", ["thumbnail"])]:
        real = client.get(reverse(name, args=[capture.pk, *args]))
        fake = client.get(reverse(name, args=[nowhere, *args]))
        assert real.status_code == fake.status_code == 404, name
        assert real.content == fake.content
    page = client.get(reverse("sources:detail", args=[source.pk]))
    assert reverse("files:derivative", args=[capture.pk, "thumbnail"]) not in page.text
    assert capture.file.sha256 not in page.text


def test_staff_can_fetch_those_files_so_the_404_above_means_something(researcher, reviewer, client):
    source = factories.source(title="Only cited by drafts")
    unpublished_work(researcher, reviewer, source, factories.published_incident())
    capture = image_capture(researcher, source)
    client.force_login(reviewer)

    assert client.get(reverse("files:derivative", args=[capture.pk, "image"])).status_code == 200
    assert client.get(reverse("files:original", args=[capture.pk])).status_code == 200


def public_urls(source):
    """Every page, count, search and export the public can read, including searches for the hidden words."""
    urls = [reverse("incidents:list"), reverse("sources:list"), reverse("sources:detail", args=[source.pk])]
    queries = ["", *(f"?q={word}" for word in HIDDEN_WORDS), "?status=draft", "?status=in_review",
               "?status=withdrawn"]
    urls += [reverse("incidents:list") + query for query in queries[1:]]
    for name in ("finding:balance", "finding:map", "finding:timeline", "finding:export_csv", "finding:export_json",
                 "finding:export_geojson"):
        urls += [reverse(name) + query for query in queries]
    return urls


def read_all(client, urls):
    pages = {}
    for url in urls:
        response = client.get(url)
        body = response.getvalue() if response.streaming else response.content
        pages[url] = (response.status_code, TIMESTAMP.sub(b"<time>", CSRF_TOKEN.sub(b"<csrf>", body)))
    return pages


@pytest.mark.parametrize("role", PUBLIC)
def test_no_public_page_count_search_or_export_changes_when_unpublished_work_is_added(
    client_as, researcher, reviewer, role
):
    source = factories.source(title="Shared report")
    original = factories.published_incident(allegations=[citing(source, "alreadypublic")], title="Strike alreadypublic")
    client = client_as(role)
    urls = public_urls(source)
    before = read_all(client, urls)

    unpublished_work(researcher, reviewer, source, original)
    after = read_all(client, urls)

    changed = [url for url in urls if before[url] != after[url]]
    assert changed == []
    assert all(status < 500 for status, _ in after.values())
    assert not [url for url, (_, body) in after.items() if b"quokka" in body and "quokka" not in url]


def test_staff_do_see_the_unpublished_work_so_the_comparison_above_means_something(researcher, reviewer, client):
    source = factories.source(title="Shared report")
    unpublished_work(researcher, reviewer, source, factories.published_incident())
    client.force_login(reviewer)

    listing = client.get(reverse("incidents:list")).text

    assert all(word in listing for word in ["quokkadraft", "quokkareview", "quokkasentback", "quokkawithdrawn",
                                            "quokkarestricted"])


# --- Forged workflow steps -------------------------------------------------------------


def both_roles(username):
    account = factories.user(username, role="researcher")
    account.groups.add(Group.objects.get(name="reviewer"))
    return account


def submitted(author):
    incident = factories.incident(author=author)
    revision = services.submit(actor=author, incident=incident)
    return fresh(incident), revision


def approve(client, incident, sha256):
    return client.post(reverse("review:approve", args=[incident.pk]), {"sha256": sha256})


def test_an_author_who_is_also_a_reviewer_cannot_approve_their_own_work(db, client):
    author = both_roles("rosa")
    incident, revision = submitted(author)
    client.force_login(author)

    response = approve(client, incident, revision.sha256)

    assert response.status_code == 403
    assert fresh(incident).status == "in_review"
    assert not Review.objects.exists()
    assert AuditEvent.objects.filter(action="incident.approve.refused", actor=author).count() == 1


def test_a_researcher_who_edited_someone_elses_draft_cannot_approve_it_either(db, client):
    author, editor = both_roles("rosa"), both_roles("eli")
    incident = factories.incident(author=author)
    incident.contributors.add(editor)
    revision = services.submit(actor=author, incident=incident)
    client.force_login(editor)

    response = approve(client, fresh(incident), revision.sha256)

    assert response.status_code == 403
    assert fresh(incident).status == "in_review"


@pytest.mark.parametrize("role", ["researcher", "no_role", "administrator"])
def test_only_reviewers_can_approve(client, researcher, other_researcher, no_role_user, administrator, role):
    incident, revision = submitted(other_researcher)
    client.force_login({"researcher": researcher, "no_role": no_role_user, "administrator": administrator}[role])

    response = approve(client, incident, revision.sha256)

    assert response.status_code in (403, 404)
    assert fresh(incident).status == "in_review"
    assert not Review.objects.exists()


def test_a_replayed_approval_is_refused_and_publishes_nothing_more(client, researcher, reviewer, other_reviewer):
    incident, revision = submitted(researcher)
    client.force_login(reviewer)
    assert approve(client, incident, revision.sha256).status_code == 302

    replayed = approve(client, incident, revision.sha256)
    client.force_login(other_reviewer)
    by_another = approve(client, incident, revision.sha256)

    assert replayed.status_code == by_another.status_code == 409
    assert Review.objects.filter(decision="approve").count() == 1
    assert fresh(incident).published_at is not None


def test_an_old_approval_replayed_against_a_new_revision_does_not_publish_it(client, researcher, reviewer):
    published = factories.published_incident(author=researcher, title="Original title")
    old_sha = IncidentRevision.objects.get(incident=published).sha256
    working = services.edit_incident(
        actor=researcher, incident=published, allegations=[factories.allegation()], base_sha256=current_sha(published),
        fields=factories.incident_fields(reference_code=published.reference_code, title="Changed title"),
    )
    services.submit(actor=researcher, incident=working)
    client.force_login(reviewer)

    response = approve(client, working, old_sha)

    assert response.status_code == 409
    assert fresh(published).title == "Original title"
    assert fresh(working).status == "in_review"


# --- Mass assignment ---------------------------------------------------------------------


def management(prefix, total, initial=0):
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "50"}


def incident_post(**changes):
    data = {
        "reference_code": "MASS-1", "title": "Strike on a depot", "summary": "", "date_start": "2020-10-04",
        "date_end": "", "date_precision": "day", "place": str(factories.place().pk), "location_detail": "",
        "conflict": "", "visibility": "public", "civilians_killed_min": "", "civilians_killed_max": "",
        "civilians_injured_min": "", "civilians_injured_max": "",
        **management("allegations", 1),
        "allegations-0-perpetrator": str(factories.party().pk), "allegations-0-perpetrator_side": "",
        "allegations-0-confidence": "single_source",
        **management("allegations-0-citations", 1),
        "allegations-0-citations-0-source": str(factories.source().pk), "allegations-0-citations-0-stance": "supports",
    }
    data.update(changes)
    return data


def forged_fields(victim, target):
    return {
        "status": "published", "created_by": str(victim.pk), "created_by_id": str(victim.pk),
        "approved_by": str(victim.pk), "draft_of": str(target.pk), "draft_of_id": str(target.pk),
        "revision": "99", "published_at": "2020-01-01T00:00:00Z", "contributors": str(victim.pk), "id": "1",
        "pk": "1", "allegations-0-incident": str(target.pk), "allegations-0-position": "7",
    }


def test_extra_fields_posted_to_the_create_form_are_ignored(researcher_client, researcher, other_researcher):
    target = factories.published_incident(title="Someone else's record")

    response = researcher_client.post(reverse("incidents:create"),
                                      incident_post(**forged_fields(other_researcher, target)))

    assert response.status_code == 302
    created = Incident.objects.get(reference_code="MASS-1")
    assert (created.status, created.created_by, created.draft_of, created.revision, created.published_at) == (
        "draft", researcher, None, 1, None)
    assert list(created.contributors.all()) == [researcher]
    assert fresh(target).title == "Someone else's record"


def edit_post(incident, **changes):
    from incidents.forms import BASE_SALT
    from django.core import signing

    document = document_of(Incident.objects.for_detail().get(pk=incident.pk))
    data = incident_post(reference_code=incident.reference_code, **changes)
    data.update(base_sha256=sha256_of(document), base_document=signing.dumps(document, salt=BASE_SALT, compress=True))
    return data


def test_extra_fields_posted_to_the_edit_form_of_a_draft_are_ignored(researcher_client, researcher, other_researcher):
    draft = factories.incident(author=researcher)
    target = factories.published_incident()

    response = researcher_client.post(reverse("incidents:edit", args=[draft.pk]),
                                      edit_post(draft, title="Edited", **forged_fields(other_researcher, target)))

    assert response.status_code == 302
    edited = fresh(draft)
    assert (edited.title, edited.status, edited.created_by, edited.draft_of, edited.revision) == (
        "Edited", "draft", researcher, None, 1)


def test_extra_fields_posted_to_the_edit_form_of_a_published_incident_only_make_a_working_revision(
    researcher_client, researcher, other_researcher
):
    published = factories.published_incident(title="Published title")
    other = factories.published_incident(title="Another record")

    response = researcher_client.post(
        reverse("incidents:edit", args=[published.pk]),
        edit_post(published, title="Proposed title", **forged_fields(other_researcher, other)),
    )

    assert response.status_code == 302
    working = Incident.objects.get(draft_of=published)
    assert (working.status, working.created_by, working.revision) == ("draft", researcher, published.revision + 1)
    assert fresh(published).title == "Published title" and fresh(other).title == "Another record"
    assert not Incident.objects.filter(draft_of=other).exists()


def test_extra_fields_posted_to_the_source_form_are_ignored(researcher_client, researcher, other_researcher):
    data = {"organization": str(factories.organization().pk), "new_organization_name": "", "kind": "report",
            "title": "Forged", "published": "2020-10", "url": "https://example.org/r", "language": "en",
            "created_by": str(other_researcher.pk), "created_at": "2000-01-01T00:00:00Z", "id": "1"}

    response = researcher_client.post(reverse("sources:create"), data)

    assert response.status_code == 302
    source = Source.objects.get(title="Forged")
    assert source.created_by == researcher and source.created_at.year > 2000


# --- Editing a published incident, by every path --------------------------------------------


def public_view(incident):
    client = Client()
    pages = [client.get(reverse("incidents:detail", args=[incident.pk])), client.get(reverse("incidents:list"))]
    return [CSRF_TOKEN.sub(b"", page.content) for page in pages]


def test_a_form_edit_of_a_published_incident_changes_nothing_the_public_sees_until_approved(
    client, researcher, reviewer
):
    published = factories.published_incident(title="Published title")
    before = public_view(published)
    client.force_login(researcher)

    client.post(reverse("incidents:edit", args=[published.pk]), edit_post(published, title="Proposed title"))
    working = Incident.objects.get(draft_of=published)
    services.submit(actor=researcher, incident=working)

    assert public_view(published) == before
    services.approve(actor=reviewer, incident=fresh(working), sha256=services.revision_in_review(working).sha256)
    assert b"Proposed title" in public_view(published)[0]


def test_the_admin_cannot_change_a_published_incident(admin_client):
    published = factories.published_incident(title="Published title")
    before = public_view(published)
    url = reverse("admin:incidents_incident_change", args=[published.pk])

    page = admin_client.get(url)
    response = admin_client.post(url, {"title": "Changed in the admin", "status": "draft", "summary": "x"})
    deleted = admin_client.post(reverse("admin:incidents_incident_delete", args=[published.pk]), {"post": "yes"})

    assert page.status_code == 200 and b'name="title"' not in page.content
    assert response.status_code == 403 and deleted.status_code == 403
    assert public_view(published) == before


def test_an_import_changing_a_published_incident_becomes_a_working_revision_in_review(tmp_path, researcher):
    from incidents.importer import import_incidents
    from tests.test_bad_input import interchange_csv, interchange_row

    published = factories.published_incident(title="Published title", reference_code="IMP-1")
    before = public_view(published)
    row = interchange_row(incident_ref="IMP-1", title="Imported title")

    import_incidents(interchange_csv([row]), actor=researcher)

    working = Incident.objects.get(draft_of=published)
    assert (working.title, working.status) == ("Imported title", "in_review")
    assert public_view(published) == before


# --- Signing in: throttling, sessions ------------------------------------------------------


def sign_in(client, username, password, ip="198.51.100.7", path=None):
    return client.post(path or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail(client, username, times, ip="198.51.100.7"):
    for _ in range(times):
        response = sign_in(client, username, "wrong password", ip)
        assert response.status_code == 200


def signed_in_user(client):
    return client.session.get("_auth_user_id")


def test_after_five_failures_the_right_password_is_refused_with_429_and_not_checked(client, researcher):
    checked = []
    user_login_failed.connect(receiver := lambda **kwargs: checked.append(kwargs), weak=False)
    try:
        fail(client, "rita", 5)
        checked.clear()
        response = sign_in(client, "rita", PASSWORD)
    finally:
        user_login_failed.disconnect(receiver)

    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.text
    assert int(response["Retry-After"]) > 0
    assert signed_in_user(client) is None
    assert checked == []
    assert LoginFailure.objects.count() == 5


def test_four_failures_still_let_the_right_password_in(client, researcher):
    fail(client, "rita", 4)

    response = sign_in(client, "rita", PASSWORD)

    assert response.status_code == 302
    assert signed_in_user(client) == str(researcher.pk)


def test_each_lockout_is_written_once_to_the_audit_log(client, researcher):
    fail(client, "Rita", 5)
    for _ in range(3):
        assert sign_in(client, "rita", "wrong password").status_code == 429

    [event] = AuditEvent.objects.filter(action="auth.login_throttled")
    assert event.actor is None
    assert event.changes["username"] == "rita" and event.changes["ip"] == "198.51.100.7"
    assert set(event.changes["locked"]) == {"username", "ip"}


def test_a_locked_username_is_refused_from_any_address(client, researcher):
    for n in range(5):
        sign_in(client, "rita", "wrong password", ip=f"203.0.113.{n}")

    response = sign_in(client, "rita", PASSWORD, ip="192.0.2.200")

    assert response.status_code == 429
    assert AuditEvent.objects.get(action="auth.login_throttled").changes["locked"] == ["username"]


def test_a_locked_address_is_refused_for_every_username_but_other_addresses_are_not(client, researcher, reviewer):
    for name in ["alice", "bob", "carol", "dave", "erin"]:
        sign_in(client, name, "wrong password")

    refused = sign_in(client, "vera", PASSWORD)
    elsewhere = sign_in(Client(), "vera", PASSWORD, ip="192.0.2.10")

    assert refused.status_code == 429
    assert elsewhere.status_code == 302


def test_failures_older_than_the_window_do_not_count(client, researcher, settings):
    settings.ARCHIVE_LOGIN_WINDOW_SECONDS = 60
    fail(client, "rita", 5)
    assert sign_in(client, "rita", PASSWORD).status_code == 429
    from django.utils import timezone

    LoginFailure.objects.update(at=timezone.now() - timezone.timedelta(seconds=61))

    assert sign_in(client, "rita", PASSWORD).status_code == 302


def test_the_limit_is_a_setting(client, researcher, settings):
    settings.ARCHIVE_LOGIN_MAX_FAILURES = 2
    fail(client, "rita", 2)

    assert sign_in(client, "rita", PASSWORD).status_code == 429


def test_a_successful_sign_in_resets_the_count_for_that_username(client, researcher):
    fail(client, "rita", 4)
    assert sign_in(client, "rita", PASSWORD).status_code == 302
    client.logout()

    fail(client, "rita", 4)

    assert sign_in(client, "rita", PASSWORD).status_code == 302


def test_the_admin_sign_in_is_throttled_too(client, admin_user):
    fail(client, "admin", 5)

    response = sign_in(client, "admin", "password", path=reverse("admin:login"))

    assert "Too many failed sign-in attempts" in response.text
    assert signed_in_user(client) is None


def test_a_nul_byte_in_the_username_is_a_failure_not_a_crash(client, researcher):
    response = sign_in(client, "ri\x00ta", "wrong password")

    assert response.status_code == 200
    assert signed_in_user(client) is None


def test_the_client_address_comes_from_the_proxy_only_when_behind_one(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.9")
    settings.ARCHIVE_BEHIND_PROXY = False
    direct = throttle.client_ip(request)
    settings.ARCHIVE_BEHIND_PROXY = True
    proxied = throttle.client_ip(request)

    assert (direct, proxied) == ("10.0.0.1", "198.51.100.9")


def test_ipv6_clients_are_counted_by_their_64_network():
    request = RequestFactory().get("/", REMOTE_ADDR="2001:db8:1:2:aaaa:bbbb:cccc:dddd")

    assert throttle.client_ip(request) == "2001:db8:1:2::"


def test_signing_in_gives_a_new_session_id_and_the_old_one_stops_working(client, researcher):
    planted = client.session
    planted["note"] = "set before signing in"
    planted.save()
    before = planted.session_key

    response = sign_in(client, "rita", PASSWORD)

    after = client.cookies["sessionid"].value
    assert response.status_code == 302
    assert after != before
    assert signed_in_user(client) == str(researcher.pk)
    assert not planted.exists(before)


def test_a_source_cited_only_by_unpublished_work_stays_private(client, researcher, no_role_user):
    """A testimony recorded for a draft can name or locate a witness: the public must not see it yet."""
    from sources.models import Source

    testimony = factories.source(title="Testimony of a witness in Hadrut")
    allegation = factories.allegation(citations=0)
    allegation.citations = [factories.CitationData(source=testimony, quote="I saw it")]
    factories.incident(author=researcher, allegations=[allegation])
    missing = client.get(reverse("sources:detail", args=[999_999]))
    for viewer in (None, no_role_user):
        if viewer:
            client.force_login(viewer)
        detail = client.get(reverse("sources:detail", args=[testimony.pk]))
        assert detail.status_code == 404 and detail.content == missing.content
        assert "Hadrut" not in client.get(reverse("sources:list")).content.decode()
    client.force_login(researcher)
    assert client.get(reverse("sources:detail", args=[testimony.pk])).status_code == 200
    assert Source.objects.visible_to(researcher).filter(pk=testimony.pk).exists()
