"""Two reviewers approving the same revision at the same moment produce exactly one approval; a live balance
count split over two connections counts what one connection counts.

The threads need committed data and connections of their own, so these tests
run in committed transactions (`transactional_db`) against a database file or
server that every thread can open. CI runs them on SQLite and on PostgreSQL.
"""
import threading
from unittest import mock

import pytest
from django.db import connection

from archive import audit, triggers
from archive.models import AuditEvent
from incidents import balance, services
from incidents.filters import filter_incidents
from incidents.documents import data_from_incident, document_of, sha256_of
from incidents.models import Decision, Incident, Review, Status
from tests import factories


@pytest.fixture(autouse=True)
def append_only_again_afterwards(django_db_blocker):
    """Runs its teardown last: the flush after the test is done, so the triggers can come back."""
    yield
    with django_db_blocker.unblock():
        triggers.create(connection)


@pytest.fixture
def committed(django_db_serialized_rollback, transactional_db):
    """Committed transactions, with the data migrations' rows (roles, taxonomy) restored first.

    The flush that empties the database after the test would be refused by the
    audit log's append-only triggers, so they are dropped just before it.
    """
    yield
    triggers.drop(connection)


def at_once(*calls):
    """Run each call in its own thread, released together; returns what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def approval_by(reviewer, incident_pk, sha256):
    return lambda: services.approve(actor=reviewer, incident=Incident.objects.get(pk=incident_pk), sha256=sha256)


def assert_exactly_one_approval(outcomes, published_pk):
    published = [o for o in outcomes if isinstance(o, Incident)]
    refused = [o for o in outcomes if isinstance(o, (services.TransitionRefused, services.StaleRevision))]
    assert (len(published), len(refused)) == (1, 1), outcomes
    assert published[0].pk == published_pk
    assert Review.objects.filter(decision=Decision.APPROVE).count() == 1
    assert AuditEvent.objects.filter(action="incident.approve").count() == 1
    assert audit.verify().ok


def test_two_reviewers_approving_a_new_incident_at_once_publish_it_once(committed):
    author = factories.user("rita", role="researcher")
    first, second = factories.user("vera", role="reviewer"), factories.user("victor", role="reviewer")
    incident = factories.incident(author=author)
    revision = services.submit(actor=author, incident=incident)

    outcomes = at_once(approval_by(first, incident.pk, revision.sha256), approval_by(second, incident.pk, revision.sha256))

    assert_exactly_one_approval(outcomes, incident.pk)
    assert Incident.objects.get(pk=incident.pk).status == Status.PUBLISHED


def test_two_reviewers_approving_a_working_revision_at_once_replace_the_published_one_once(committed):
    author = factories.user("rita", role="researcher")
    first, second = factories.user("vera", role="reviewer"), factories.user("victor", role="reviewer")
    published = factories.published_incident(author=author)
    before = Incident.objects.for_detail().get(pk=published.pk)
    values, allegations = data_from_incident(before)
    copy = services.edit_incident(
        actor=author, incident=before, fields={**values, "title": "Shelling of the central market"},
        allegations=allegations, base_sha256=sha256_of(document_of(before)),
    )
    revision = services.submit(actor=author, incident=copy)
    approvals_before = AuditEvent.objects.filter(action="incident.approve").count()

    outcomes = at_once(approval_by(first, copy.pk, revision.sha256), approval_by(second, copy.pk, revision.sha256))

    published_now = [o for o in outcomes if isinstance(o, Incident)]
    refused = [o for o in outcomes if isinstance(o, services.ServiceError)]
    assert (len(published_now), len(refused)) == (1, 1), outcomes
    assert isinstance(refused[0], (services.TransitionRefused, services.StaleRevision))
    assert Review.objects.filter(decision=Decision.APPROVE, revision=revision).count() == 1
    assert AuditEvent.objects.filter(action="incident.approve").count() == approvals_before + 1
    assert list(Incident.objects.published().values_list("pk", "title", "revision")) == [
        (published.pk, "Shelling of the central market", 2)
    ]
    assert audit.verify().ok


def test_a_live_count_runs_its_two_statements_side_by_side_and_counts_what_one_connection_counts(committed, settings):
    """Outside a transaction the second statement runs on a connection of its own, in a worker thread; the
    totals are those the request's connection alone counts (in a transaction everything runs on it)."""
    from tests.test_balance import build, request_for

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    build()
    own_connection = []
    real = balance._fetch_on_own_connection

    def spy(statement, using, snapshot=None):
        own_connection.append((threading.get_ident(), snapshot))
        return real(statement, using, snapshot)

    query = {"weapon_category": ["cluster_munition_rocket", "unguided_artillery_rocket"], "organization": "watch"}
    filterset, _ = filter_incidents(request_for(query))
    with mock.patch.object(balance, "_fetch_on_own_connection", spy), mock.patch("os.cpu_count", return_value=2):
        side_by_side = balance.live_totals(filterset)
    assert own_connection and own_connection[0][0] != threading.get_ident()
    # On PostgreSQL in the snapshot the request's connection exported.
    assert (own_connection[0][1] is not None) == (connection.vendor == "postgresql")
    settings.ARCHIVE_PARALLEL_COUNTS = False
    own_connection.clear()
    with mock.patch.object(balance, "_fetch_on_own_connection", spy):
        one_connection = balance.live_totals(filterset)
    assert not own_connection
    assert side_by_side == one_connection
    assert {section for section, *_ in side_by_side} >= {"allegations", "organization", "casualties_side",
                                                         "casualties_all", "weapon", "violation"}


def test_the_lists_counts_in_parts_and_the_timelines_live_statements_side_by_side_count_what_one_connection_counts(
        committed, settings):
    from tests.test_balance import build, request_for

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    build()
    own_connection = []
    real = balance._fetch_on_own_connection

    def spy(statement, using, snapshot=None):
        own_connection.append(snapshot)
        return real(statement, using, snapshot)

    filterset, _ = filter_incidents(request_for({"weapon_category": ["cluster_munition_rocket", "small_arms"],
                                                 "confidence": ["verified", "single_source", "party_claim"]}))
    with mock.patch.object(balance, "_fetch_on_own_connection", spy), mock.patch("os.cpu_count", return_value=2):
        side_by_side = (balance.counted_in_parts(filterset, 3), balance._counted_spans(filterset))
    # The parts after the first: the list's counts in three, the timeline's in LIVE_PARTS.
    assert len(own_connection) == 2 + balance.LIVE_PARTS - 1
    settings.ARCHIVE_PARALLEL_COUNTS = False
    one_connection = (balance.counted_in_parts(filterset, 3), balance._counted_spans(filterset))
    assert side_by_side == one_connection
    assert side_by_side[0]["allegations"] and side_by_side[1].total


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite cannot share a snapshot")
def test_on_postgresql_the_second_statement_counts_in_the_snapshot_the_first_exported(committed):
    """A write committed after the request's connection exported its snapshot is not counted by the other."""
    from django.db import transaction

    author = factories.user("rita", role="researcher")
    factories.published_incident(author=author, reference_code="S1")
    count = ("SELECT COUNT(*) FROM incidents_incident WHERE draft_of_id IS NULL", [])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        # Another connection commits a second incident now.
        [written] = at_once(lambda: factories.published_incident(author=author, reference_code="S2"))
        assert isinstance(written, Incident), written
        [(in_snapshot,)], [(now,)] = at_once(
            lambda: balance._fetch_on_own_connection(count, "default", snapshot),
            lambda: balance._fetch_on_own_connection(count, "default"),
        )
    assert (in_snapshot, now) == (1, 2)
