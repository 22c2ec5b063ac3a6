"""Writing and verifying the hash-chained audit log.

`record()` is the only way to append (`record_many()` appends several at
once; inside `batched()` both hold their entries until the block ends). Each
entry's hash is the SHA-256 of the canonical JSON of its content together with
the previous entry's hash, so editing, deleting or reordering any entry breaks
every hash after it, and a head (seq:hash) published elsewhere exposes a
truncated tail.
"""
import datetime
import hashlib
import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from .models import AuditEvent

GENESIS = "0" * 64
# Any constant would do; it names the lock that serialises appends on PostgreSQL.
_PG_LOCK_KEY = 7_243_001


class AuditError(Exception):
    pass


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)


def normalise(value):
    """What `value` becomes after a round trip through a JSON column."""
    return json.loads(canonical_json(value))


def entry_content(event):
    return {
        "seq": event.seq,
        "at": event.at.astimezone(datetime.timezone.utc).isoformat(timespec="microseconds"),
        "actor": event.actor_name,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_repr": event.target_repr,
        "scope": event.scope,
        "changes": event.changes,
        "prev_hash": event.prev_hash,
    }


def compute_hash(event):
    return hashlib.sha256(canonical_json(entry_content(event)).encode("utf-8")).hexdigest()


def describe(target):
    if target is None:
        return "", "", ""
    meta = target._meta
    return f"{meta.app_label}.{meta.model_name}", str(target.pk), str(target)[:255]


def _lock_chain():
    # SQLite: the IMMEDIATE transaction already holds the database's write lock.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])


def _entry(actor, action, target, changes, scope):
    """An entry as of now, not yet in the chain: `_append()` gives it its place (seq, prev_hash, hash)."""
    target_type, target_id, target_repr = describe(target)
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditEvent(
        at=timezone.now(),
        actor=user,
        actor_name=user.get_username() if user else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        scope=scope,
        changes=normalise(changes or {}),
    )


def _append(events, batch_size=2000):
    """Chain `events` after the head, in order, and insert them; returns how many. The chain must be locked."""
    last = AuditEvent.objects.order_by("-seq").only("seq", "hash").first()
    seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS)
    batch, count = [], 0
    for event in events:
        seq += 1
        event.seq, event.prev_hash = seq, prev_hash
        event.hash = prev_hash = compute_hash(event)
        batch.append(event)
        if len(batch) >= batch_size:
            AuditEvent.objects.bulk_create(batch)
            count += len(batch)
            batch = []
    AuditEvent.objects.bulk_create(batch)
    return count + len(batch)


# Entries held by `batched()` in this thread (or task), in the order they were recorded.
_held = ContextVar("audit_held", default=None)


def record(*, actor, action, target=None, changes=None, scope=""):
    """Append one entry. Must run inside the transaction of the change it records."""
    if not connection.in_atomic_block:
        raise AuditError("audit.record() must be called inside the transaction of the change")
    held = _held.get()
    if held is not None:
        held.append(_entry(actor, action, target, changes, scope))
        return held[-1]
    _lock_chain()
    event = _entry(actor, action, target, changes, scope)
    _append([event])
    return event


@contextmanager
def batched():
    """Hold the entries recorded in the block and append them together when it ends (bulk writers: the importer).

    Each entry keeps its time, content and place in the order; the chain is locked
    from the start, so no other entry can come between. Reading the head once
    instead of once per entry is what it saves. If the block raises, its entries
    are dropped: the caller's transaction must then roll back the changes they record.
    A block within another one holds its entries in the outer one.
    """
    if not connection.in_atomic_block:
        raise AuditError("audit.batched() must be used inside the transaction of the changes")
    if _held.get() is not None:
        yield
        return
    _lock_chain()
    held = []
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
    _append(held)


@transaction.atomic
def record_refusal(*, actor, action, target=None, reason, scope=""):
    """Record a refused attempt in its own transaction, so it survives the refusal."""
    return record(actor=actor, action=action, target=target, changes={"refused": reason}, scope=scope)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    head: str
    problem: str = ""
    bad_seq: int | None = None


def head():
    last = AuditEvent.objects.order_by("-seq").only("seq", "hash").first()
    return f"{last.seq}:{last.hash}" if last else f"0:{GENESIS}"


_VERIFY_FIELDS = ["seq", "at", "actor_name", "action", "target_type", "target_id", "target_repr", "scope",
                  "changes", "prev_hash", "hash"]
# Entries read back hold plain JSON values only: a plain encoder gives canonical_json()'s text.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _utc_text(value):
    """A stored timestamp as entry_content() writes it: ISO 8601 in UTC, with microseconds.

    PostgreSQL's driver gives an aware datetime. SQLite gives Django's stored text, naive UTC as
    "YYYY-MM-DD HH:MM:SS[.ffffff]", which is rewritten as text; anything else is parsed."""
    if isinstance(value, str):
        if len(value) == 19:
            value += ".000000"
        if len(value) == 26 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}+00:00"
        value = datetime.datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).isoformat(timespec="microseconds")


def _content_hash(row):
    seq, at, actor, action, target_type, target_id, target_repr, scope, changes, prev_hash, _ = row
    content = {
        "seq": seq, "at": _utc_text(at), "actor": actor, "action": action, "target_type": target_type,
        "target_id": target_id, "target_repr": target_repr, "scope": scope,
        "changes": json.loads(changes) if isinstance(changes, str) else changes, "prev_hash": prev_hash,
    }
    return hashlib.sha256(_CANONICAL.encode(content).encode("utf-8")).hexdigest()


def _stored_rows(batch_size):
    """Every entry in sequence order, as plain rows read with a bare cursor in batches by sequence number
    (the same content as entry_content(), without model instances or Django's per-value converters)."""
    quote = connection.ops.quote_name
    fields = {field.name: field for field in AuditEvent._meta.fields}
    columns = ", ".join(quote(fields[name].column) for name in _VERIFY_FIELDS)
    sql = (f"SELECT {columns} FROM {quote(AuditEvent._meta.db_table)} "
           f"WHERE {quote(fields['seq'].column)} > %s ORDER BY {quote(fields['seq'].column)} LIMIT %s")
    last_seq = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [last_seq, batch_size])
            batch = cursor.fetchall()
        if not batch:
            return
        yield from batch
        last_seq = batch[-1][0]


def verify(expect_head=None, batch_size=5000):
    """Recompute the chain from the first entry; report the first entry that does not fit."""
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    for row in _stored_rows(batch_size):
        seq, stored_prev, stored_hash = row[0], row[9], row[10]
        if seq != expected_seq:
            return VerifyResult(False, checked, head(), f"entry #{expected_seq} is missing (next is #{seq})", expected_seq)
        if stored_prev != prev_hash:
            return VerifyResult(False, checked, head(), f"entry #{seq} does not follow the entry before it", seq)
        if _content_hash(row) != stored_hash:
            return VerifyResult(False, checked, head(), f"entry #{seq} was altered: its content does not match its hash", seq)
        prev_hash, expected_seq, checked = stored_hash, expected_seq + 1, checked + 1
    current = f"{expected_seq - 1}:{prev_hash}"
    if expect_head:
        result = _check_expected_head(expect_head, current)
        if result:
            return VerifyResult(False, checked, current, *result)
    return VerifyResult(True, checked, current)


def _check_expected_head(expect_head, current):
    try:
        seq_text, expected_hash = expect_head.split(":", 1)
        seq = int(seq_text)
    except ValueError:
        return (f"--expect-head must look like SEQ:HASH, not {expect_head!r}", None)
    current_seq = int(current.split(":", 1)[0])
    if seq > current_seq:
        return (f"the log ends at #{current_seq} but entry #{seq} was published: the tail was truncated", current_seq + 1)
    stored = AuditEvent.objects.filter(seq=seq).values_list("hash", flat=True).first()
    if stored != expected_hash:
        return (f"entry #{seq} does not match the published head", seq)
    return None


def record_many(entries, batch_size=2000):
    """Append many entries in one chain extension (bulk writers such as the synthetic data generator).

    `entries` is an iterable of dicts with the keyword arguments of record().
    Must run inside the transaction of the change, like record().
    """
    if not connection.in_atomic_block:
        raise AuditError("audit.record_many() must be called inside the transaction of the change")
    events = (
        _entry(entry.get("actor"), entry["action"], entry.get("target"), entry.get("changes"), entry.get("scope", ""))
        for entry in entries
    )
    held = _held.get()
    if held is not None:
        count = len(held)
        held.extend(events)
        return len(held) - count
    _lock_chain()
    return _append(events, batch_size)
