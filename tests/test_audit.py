"""The audit log is append-only in the database, and verify_audit catches any tampering with it."""
import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from archive import audit, triggers
from archive.models import AuditEvent
from incidents import services
from tests import factories

TABLE = AuditEvent._meta.db_table


@pytest.fixture
def history(researcher, reviewer):
    """A day's work: record, submit, send back, resubmit, approve, and a refused approval."""
    incident = factories.incident(author=researcher)
    services.submit(actor=researcher, incident=incident)
    services.request_changes(actor=reviewer, incident=incident, comment="Name the source.")
    revision = services.submit(actor=researcher, incident=incident)
    with pytest.raises(services.PermissionRefused):
        services.approve(actor=researcher, incident=incident, sha256=revision.sha256)
    services.approve(actor=reviewer, incident=incident, sha256=revision.sha256)
    assert AuditEvent.objects.count() >= 8
    return incident


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement.format(table=TABLE), params)


def verify_command(*args):
    """Run verify_audit; returns (stdout, the CommandError or None)."""
    out = StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def test_the_chain_verifies_after_a_series_of_actions(history):
    result = audit.verify()

    assert result.ok, result.problem
    assert result.checked == AuditEvent.objects.count()
    assert result.head == audit.head()
    actions = list(AuditEvent.objects.filter(scope=f"incident:{history.pk}").values_list("action", flat=True))
    assert actions == ["incident.create", "incident.submit", "incident.request_changes", "incident.submit",
                       "incident.approve.refused", "incident.approve"]


def test_verify_audit_prints_the_entries_checked_and_the_head(history):
    out, error = verify_command()

    assert error is None
    assert f"{AuditEvent.objects.count()} entries checked" in out
    assert audit.head() in out


@pytest.mark.parametrize("statement", [
    "UPDATE {table} SET action = 'incident.nothing' WHERE seq = 1",
    "DELETE FROM {table} WHERE seq = 1",
])
def test_the_database_refuses_to_change_or_delete_audit_entries(history, statement):
    triggers.create(connection)

    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            sql(statement)

    assert audit.verify().ok
    assert AuditEvent.objects.filter(seq=1).exclude(action="incident.nothing").exists()


def test_an_edited_entry_fails_verification_at_that_entry(history):
    triggers.drop(connection)
    cast = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"

    sql("UPDATE {table} SET changes = " + cast + " WHERE seq = 4", ['{"comment": "Looks fine."}'])

    result = audit.verify()
    assert (result.ok, result.bad_seq) == (False, 4)
    out, error = verify_command()
    assert error is not None and error.returncode == 1
    assert "#4" in str(error) and "altered" in str(error)


def test_a_deleted_entry_fails_verification_naming_the_missing_entry(history):
    triggers.drop(connection)

    sql("DELETE FROM {table} WHERE seq = 3")

    result = audit.verify()
    assert (result.ok, result.bad_seq) == (False, 3)
    _, error = verify_command()
    assert "#3 is missing" in str(error)


def test_reordered_entries_fail_verification_at_the_first_moved_entry(history):
    triggers.drop(connection)

    sql("UPDATE {table} SET seq = 1000000 WHERE seq = 5")
    sql("UPDATE {table} SET seq = 5 WHERE seq = 6")
    sql("UPDATE {table} SET seq = 6 WHERE seq = 1000000")

    result = audit.verify()
    assert (result.ok, result.bad_seq) == (False, 5)
    _, error = verify_command()
    assert "#5" in str(error)


def test_a_truncated_tail_fails_against_a_head_published_before(history):
    published_head = audit.head()
    last = AuditEvent.objects.order_by("-seq").first().seq
    triggers.drop(connection)

    sql("DELETE FROM {table} WHERE seq >= %s", [last - 1])

    assert audit.verify().ok, "without a published head a cut tail looks like a shorter log"
    _, error = verify_command("--expect-head", published_head)
    assert error is not None and error.returncode == 1
    assert f"#{last}" in str(error) and "truncated" in str(error)


def test_a_tail_rewritten_after_the_head_was_published_fails(history, researcher):
    published_head = audit.head()
    last = AuditEvent.objects.order_by("-seq").first().seq
    triggers.drop(connection)
    sql("DELETE FROM {table} WHERE seq = %s", [last])
    factories.incident(author=researcher)

    _, error = verify_command("--expect-head", published_head)

    assert audit.verify().ok
    assert f"#{last} does not match the published head" in str(error)


def test_the_current_head_is_accepted_as_expected_head(history):
    out, error = verify_command("--expect-head", audit.head())

    assert error is None
    assert "OK" in out


def test_audit_head_prints_seq_colon_hash(history):
    out = StringIO()
    call_command("audit_head", stdout=out)

    last = AuditEvent.objects.order_by("-seq").first()
    assert out.getvalue().strip() == f"{last.seq}:{last.hash}"


def test_an_empty_log_has_the_genesis_head(db):
    out = StringIO()
    call_command("audit_head", stdout=out)

    assert out.getvalue().strip() == f"0:{'0' * 64}"



# Appending in a batch


def test_entries_recorded_in_a_batch_are_appended_at_its_end_in_order_with_their_own_times(researcher):
    head = audit.head()
    with transaction.atomic():
        with audit.batched():
            audit.record(actor=researcher, action="test.first", changes={"n": 1})
            audit.record_many([{"actor": researcher, "action": "test.second"}, {"actor": None, "action": "test.third"}])
            audit.record(actor=researcher, action="test.fourth", target=researcher, scope="user:1")
            assert audit.head() == head
        events = list(AuditEvent.objects.filter(seq__gt=int(head.split(":")[0])).order_by("seq"))

    assert [e.action for e in events] == ["test.first", "test.second", "test.third", "test.fourth"]
    assert [e.actor_name for e in events] == ["rita", "rita", "", "rita"]
    assert (events[0].changes, events[3].target_type, events[3].target_repr, events[3].scope) == (
        {"n": 1}, "auth.user", "rita", "user:1")
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert audit.verify().ok


def test_a_batch_within_a_batch_holds_its_entries_in_the_outer_one(researcher):
    head = audit.head()
    with transaction.atomic():
        with audit.batched():
            audit.record(actor=researcher, action="test.outer")
            with audit.batched():
                audit.record(actor=researcher, action="test.inner")
            assert audit.head() == head
            audit.record(actor=researcher, action="test.last")

    events = AuditEvent.objects.filter(seq__gt=int(head.split(":")[0])).order_by("seq")
    assert list(events.values_list("action", flat=True)) == ["test.outer", "test.inner", "test.last"]
    assert audit.verify().ok


def test_a_batch_that_raises_appends_nothing(researcher):
    head = audit.head()

    with pytest.raises(ZeroDivisionError), transaction.atomic(), audit.batched():
        audit.record(actor=researcher, action="test.dropped")
        1 / 0

    assert audit.head() == head
    with transaction.atomic():
        audit.record(actor=researcher, action="test.after")
    assert audit.verify().ok


def test_a_batch_must_be_inside_the_transaction_of_the_change():
    # No database fixture: outside any transaction, the refusal comes before any query.
    with pytest.raises(audit.AuditError), audit.batched():
        pass


@pytest.mark.parametrize("stored, text", [
    ("2026-01-02 03:04:05", "2026-01-02T03:04:05.000000+00:00"),  # SQLite's text of a whole second
    ("2026-01-02 03:04:05.123456", "2026-01-02T03:04:05.123456+00:00"),
    ("2026-01-02T05:04:05.5+02:00", "2026-01-02T03:04:05.500000+00:00"),
    (datetime.datetime(2026, 1, 2, 5, 4, 5, 7, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
     "2026-01-02T03:04:05.000007+00:00"),
])
def test_verify_reads_a_stored_time_as_the_hashed_content_wrote_it(stored, text):
    assert audit._utc_text(stored) == text


@pytest.mark.django_db
def test_an_entry_recorded_at_a_whole_second_verifies(monkeypatch, researcher):
    whole = datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)
    monkeypatch.setattr(audit.timezone, "now", lambda: whole)
    with transaction.atomic():
        audit.record(actor=researcher, action="test.whole_second", changes={"b": [1, "é"], "a": None})
    assert AuditEvent.objects.get(action="test.whole_second").at == whole
    result = audit.verify()
    assert result.ok, result.problem
