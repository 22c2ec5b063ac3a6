"""Every write to incidents: one function per user intention.

Each runs in one transaction and appends its own audit entry. The workflow
status is assigned in exactly one place, `_move()`, against TRANSITIONS.
"""
import functools
from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django.utils import timezone

from archive import audit, roles
from sources import publicity

from . import search, tally
from .documents import build_document, document_of, sha256_of
from .models import (
    EDITABLE_IN_PLACE,
    Allegation,
    Decision,
    Incident,
    IncidentRevision,
    IncidentText,
    Review,
    Status,
)


class ServiceError(Exception):
    """A refusal the user can understand; `status` is the HTTP status a view answers with."""

    status = 400

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class PermissionRefused(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class TransitionRefused(ServiceError):
    status = 409


class StaleRevision(ServiceError):
    """The content moved on since the user opened it; `details["current"]` is what is stored now."""

    status = 409


def scope_of(incident):
    return f"incident:{incident.record_id}"


def _record(actor, action, incident, changes):
    return audit.record(actor=actor, action=action, target=incident, changes=changes, scope=scope_of(incident))


def _refused(actor, action, incident, error):
    """Keep a refusal in the log even though the refused change is rolled back."""
    audit.record_refusal(actor=actor, action=action, target=incident, reason=error.message, scope=scope_of(incident))


def _locked(incident):
    try:
        return Incident.objects.select_for_update().get(pk=incident.pk)
    except Incident.DoesNotExist:
        # A working revision disappears when it is approved or discarded; whoever
        # waited on its lock meanwhile is told so instead of meeting a crash.
        raise TransitionRefused("This revision is no longer there: it was approved or discarded meanwhile.") from None


def _move(incident, status):
    """The only place a status is assigned."""
    if not incident.can_move_to(status):
        raise TransitionRefused(
            f"A {incident.get_status_display().lower()} incident cannot become {Status(status).label.lower()}."
        )
    before = incident.status
    incident.status, incident.updated_at = status, timezone.now()
    # One UPDATE of the two columns (what save(update_fields=...) runs, without its per-field machinery).
    Incident.objects.filter(pk=incident.pk).update(status=incident.status, updated_at=incident.updated_at)
    if not incident.is_working_copy:
        _recount(incident, moved=True, published=Status.PUBLISHED in (before, status))
    return {"status": [before, status]}


def _require_researcher(actor):
    if not roles.is_researcher(actor):
        raise PermissionRefused("Only researchers can record or edit incidents.")


def _write_content(incident, fields, allegations):
    adding = incident._state.adding
    for name, value in fields.items():
        setattr(incident, name, value)
    incident.allegation_count = len(allegations)
    # Field checks only: the database enforces every constraint, and Django's model-level constraint
    # validation would cost one query per constraint. The related rows are instances the caller already
    # holds (the database's foreign keys stand behind them), so their existence is not queried again.
    incident.clean_fields(exclude=["created_by", "conflict", "place", "draft_of"])
    incident.save()
    if not adding:
        incident.allegations.all().delete()
    _insert_allegations(incident, allegations)
    held = _held.get()
    if adding and held is not None:
        held["rows"][IncidentText].append(IncidentText(incident=incident, body=search.text_of(incident, allegations)))
    else:
        search.reindex(incident, allegations, created=adding)
    if not incident.is_working_copy:
        # The balance view's running totals follow every write of a record's content (incidents.tally).
        _recount(incident)


# Inside `batched()` in this thread (or task): the record incidents written, to recount in the balance tally,
# and the rows to insert (links, citations, search text), by model.
_held = ContextVar("held", default=None)


def _recount(incident, *, moved=False, published=None):
    """Keep the balance tally in step with a write of a record incident (inside `batched()`: at its end), and
    which sources the public may read when the incident is, or was until this write, `published` (by default:
    is published now; nothing else can change which sources a published incident cites)."""
    published = incident.status == Status.PUBLISHED if published is None else published
    held = _held.get()
    if held is not None:
        held["recount"].add(incident.pk)
        if published:
            held["publicity"].add(incident.pk)
        return
    if moved:
        tally.moved(incident)
    else:
        tally.refresh([incident.pk])
    if published:
        publicity.refresh_cited_by([incident.pk])


@contextmanager
def batched():
    """Write the rows many incidents share at the end of the block, once (the importer writes hundreds).

    The violation and weapon links and the citations of every allegation written
    in the block, and the search text, first contributor and submitted snapshots of
    every incident it creates, are inserted together when it ends, then every record
    incident
    written in it is recounted in the balance tally as it then is: the same rows
    and totals as write by write, in a fixed number of queries instead of a few
    per incident. Nothing in the block may read those rows back (the services
    build documents and search text from what they were given). If the block
    raises, nothing is written: the transaction must roll back.
    """
    if _held.get() is not None:
        yield
        return
    held = {"recount": set(), "publicity": set(), "rows": defaultdict(list)}
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
    for model, rows in held["rows"].items():
        model.objects.bulk_create(rows, batch_size=2000)
    recount = sorted(held["recount"])
    for start in range(0, len(recount), tally.CHUNK):
        tally.refresh(recount[start:start + tally.CHUNK])
    publicity.refresh_cited_by(held["publicity"])


def _insert_allegations(incident, allegations):
    """One insert per table, however many allegations and citations (inside `batched()`: at its end)."""
    from sources.models import Citation

    rows = Allegation.objects.bulk_create([
        Allegation(
            incident=incident,
            position=position,
            perpetrator=data.perpetrator,
            perpetrator_side=data.perpetrator_side or (data.perpetrator.side if data.perpetrator else None),
            affected_party=data.affected_party,
            summary=data.summary,
            confidence=data.confidence,
            party_response=data.party_response,
        )
        for position, data in enumerate(allegations)
    ])
    violation_link, weapon_link = Allegation.violation_types.through, Allegation.weapons.through
    pairs = list(zip(rows, allegations))
    # Distinct per allegation, as .set() would keep them: two names in a file may find the same entry.
    linked = {
        violation_link: [violation_link(allegation=row, violationtype=violation)
                         for row, data in pairs for violation in _distinct(data.violation_types)],
        weapon_link: [weapon_link(allegation=row, weapontype=weapon)
                      for row, data in pairs for weapon in _distinct(data.weapons)],
        Citation: [Citation(allegation=row, position=i, source=c.source, locator=c.locator, quote=c.quote,
                            stance=c.stance) for row, data in pairs for i, c in enumerate(data.citations)],
    }
    held = _held.get()
    for model, objects in linked.items():
        if held is not None:
            held["rows"][model] += objects
        elif objects:
            model.objects.bulk_create(objects)


def _distinct(entries):
    return list({entry.pk: entry for entry in entries}.values())


def _normalise_allegations(allegations):
    for data in allegations:
        if data.perpetrator is not None and data.perpetrator_side is None:
            data.perpetrator_side = data.perpetrator.side
    return allegations


def _atomic(function):
    """transaction.atomic for a service. Inside `batched()` the whole block is one transaction that any error
    rolls back, so a service there takes no savepoint of its own (two statements fewer for each, on every
    incident an import writes)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with transaction.atomic(savepoint=_held.get() is None):
            return function(*args, **kwargs)

    return wrapper


def _held_or_created(model, row):
    """Insert `row` now, or at the end of `batched()` with the rows of the other incidents."""
    held = _held.get()
    if held is None:
        row.save(force_insert=True)
    else:
        held["rows"][model].append(row)
    return row


def _add_contributor(incident, actor, *, new):
    """`actor` contributed to `incident`; to an incident just created (`new`) the link is a plain new row."""
    if new:
        through = Incident.contributors.through
        _held_or_created(through, through(incident=incident, user=actor))
    else:
        incident.contributors.add(actor)


def _guarded(action):
    """Run a reviewer's verb; a refusal on permission grounds is itself audited."""

    def decorator(function):
        def wrapper(*, actor, incident, **kwargs):
            try:
                return function(actor=actor, incident=incident, **kwargs)
            except PermissionRefused as error:
                _refused(actor, f"{action}.refused", incident, error)
                raise

        wrapper.__name__ = function.__name__
        wrapper.__doc__ = function.__doc__
        return wrapper

    return decorator


@_atomic
def record_incident(*, actor, fields, allegations, via="form"):
    """A researcher records a new incident as a draft."""
    _require_researcher(actor)
    allegations = _normalise_allegations(allegations)
    incident = Incident(created_by=actor, status=Status.DRAFT)
    _write_content(incident, fields, allegations)
    _add_contributor(incident, actor, new=True)
    document = build_document(fields, allegations)
    _record(actor, "incident.create", incident, {"via": via, "after": document, "sha256": sha256_of(document)})
    return incident


def can_edit(user, incident):
    if not roles.is_researcher(user):
        return False
    if incident.status in (Status.PUBLISHED, Status.WITHDRAWN) and not incident.is_working_copy:
        return True
    return incident.status in EDITABLE_IN_PLACE and (
        incident.created_by_id == user.pk or incident.contributors.filter(pk=user.pk).exists()
    )


@_atomic
def edit_incident(*, actor, incident, fields, allegations, base_sha256, via="form"):
    """Save an edit. A published incident gets a new working revision; readers keep the published one.

    `base_sha256` is the hash of the document the editor started from: if the
    incident changed since, nothing is written and StaleRevision says what is there now.
    """
    _require_researcher(actor)
    incident = _locked(incident)
    if not can_edit(actor, incident):
        raise PermissionRefused("You can edit only your own drafts, or start a new revision of a published incident.")
    if incident.status == Status.PUBLISHED and incident.working_revisions.exists():
        raise TransitionRefused("This incident already has a working revision; edit that one.")
    before = document_of(Incident.objects.for_detail().get(pk=incident.pk))
    if base_sha256 != sha256_of(before):
        raise StaleRevision("Someone changed this incident after you opened it. Nothing was saved.", current=before)
    allegations = _normalise_allegations(allegations)
    after = build_document(fields, allegations)
    if after == before:
        return incident
    changes = {"via": via, "before": before, "after": after, "sha256": sha256_of(after)}
    if incident.status == Status.PUBLISHED:
        copy = Incident(created_by=actor, status=Status.DRAFT, draft_of=incident, revision=incident.revision + 1)
        _write_content(copy, fields, allegations)
        _add_contributor(copy, actor, new=True)
        _record(actor, "incident.revise", copy, {**changes, "revision": copy.revision})
        return copy
    if incident.status == Status.WITHDRAWN:
        changes.update(_move(incident, Status.DRAFT))
        incident.revision += 1
        incident.contributors.clear()
    _write_content(incident, fields, allegations)
    _add_contributor(incident, actor, new=False)
    _record(actor, "incident.update", incident, {**changes, "revision": incident.revision})
    return incident


@_guarded("incident.submit")
@_atomic
def submit(*, actor, incident, document=None):
    """Send the current revision for review, freezing it as a hashed snapshot.

    A caller that has just written the incident in this transaction may pass its
    `document` (build_document of what it wrote) with the incident it wrote, which
    spares reading both back: the row is already locked by that write until the
    transaction ends.
    """
    _require_researcher(actor)
    if document is None:
        incident = _locked(incident)
    if not can_edit(actor, incident) or incident.status not in EDITABLE_IN_PLACE:
        if incident.status not in EDITABLE_IN_PLACE:
            raise TransitionRefused(f"A {incident.get_status_display().lower()} incident cannot be submitted.")
        raise PermissionRefused("Only the authors of this revision can submit it.")
    if document is None:
        document = document_of(Incident.objects.for_detail().get(pk=incident.pk))
    changes = _move(incident, Status.IN_REVIEW)
    revision = _held_or_created(IncidentRevision, IncidentRevision(
        incident_id=incident.record_id,
        number=incident.revision,
        document=document,
        sha256=sha256_of(document),
        submitted_by=actor,
        submitted_at=timezone.now(),
    ))
    _record(actor, "incident.submit", incident, {**changes, "revision": revision.number, "sha256": revision.sha256})
    return revision


def revision_in_review(incident):
    return (
        IncidentRevision.objects.filter(incident_id=incident.record_id, number=incident.revision)
        .order_by("-submitted_at", "-id")
        .first()
    )


def _require_reviewer(actor):
    if not roles.is_reviewer(actor):
        raise PermissionRefused("Only reviewers can approve, request changes or withdraw.")


@_guarded("incident.approve")
@_atomic
def approve(*, actor, incident, sha256, comment=""):
    """Publish exactly the revision the reviewer was shown (identified by its hash)."""
    _require_reviewer(actor)
    incident = _locked(incident)
    if incident.status != Status.IN_REVIEW:
        raise TransitionRefused(f"This incident is {incident.get_status_display().lower()}, not in review.")
    revision = revision_in_review(incident)
    authors = {incident.created_by_id, revision.submitted_by_id, *incident.contributors.values_list("pk", flat=True)}
    if actor.pk in authors:
        raise PermissionRefused("You wrote or edited this revision, so someone else must approve it.")
    current = sha256_of(document_of(Incident.objects.for_detail().get(pk=incident.pk)))
    if sha256 != revision.sha256 or current != revision.sha256:
        raise StaleRevision("This incident changed since you opened it. Review the current revision.")
    Review.objects.create(
        revision=revision, reviewer=actor, submitted_by=revision.submitted_by,
        decision=Decision.APPROVE, comment=comment, created_at=timezone.now(),
    )
    if incident.is_working_copy:
        published = _promote(incident)
        changes = {"status": ["in_review", "published"], "replaced_revision": published.revision - 1}
    else:
        changes = _move(incident, Status.PUBLISHED)
        published = incident
    published.published_at = timezone.now()
    published.save(update_fields=["published_at"])
    _record(actor, "incident.approve", published, {**changes, "revision": revision.number, "sha256": revision.sha256, "comment": comment})
    return published


def _promote(copy):
    """Replace the published incident's content with its approved working copy, keeping its id."""
    original = _locked(copy.draft_of)
    if original.status != Status.PUBLISHED:
        raise TransitionRefused(
            f"The incident this revision would replace is {original.get_status_display().lower()}, not published."
        )
    # The sources only the replaced content cited may no longer be cited by anything published.
    cited_before = publicity.cited_by([original.pk])
    original.allegations.all().delete()
    copy.allegations.update(incident=original)
    for name in ["conflict", "title", "summary", "date_start", "date_end", "date_precision", "place",
                 "location_detail", "civilians_killed_min", "civilians_killed_max", "civilians_injured_min",
                 "civilians_injured_max", "visibility"]:
        setattr(original, name, getattr(copy, name))
    original.revision = copy.revision
    original.allegation_count = copy.allegation_count
    original.save()
    original.contributors.set(copy.contributors.all())
    copy.delete()
    search.reindex(Incident.objects.for_detail().get(pk=original.pk))
    tally.refresh([original.pk])
    publicity.refresh_cited_by([original.pk], also=cited_before)
    return original


@_guarded("incident.request_changes")
@_atomic
def request_changes(*, actor, incident, comment):
    """Send a revision back to its authors with the reviewer's comment."""
    _require_reviewer(actor)
    if not comment.strip():
        raise ServiceError("Say what needs to change: a comment is required.")
    incident = _locked(incident)
    revision = revision_in_review(incident) if incident.status == Status.IN_REVIEW else None
    changes = _move(incident, Status.CHANGES_REQUESTED)
    Review.objects.create(
        revision=revision, reviewer=actor, submitted_by=revision.submitted_by,
        decision=Decision.REQUEST_CHANGES, comment=comment, created_at=timezone.now(),
    )
    _record(actor, "incident.request_changes", incident, {**changes, "revision": revision.number, "comment": comment})
    return incident


@_guarded("incident.withdraw")
@_atomic
def withdraw(*, actor, incident, reason):
    """Take an incident out of review or off the public record, with the reason."""
    _require_reviewer(actor)
    if not reason.strip():
        raise ServiceError("Give the reason for withdrawing: it is kept in the record.")
    incident = _locked(incident)
    if incident.is_working_copy:
        raise TransitionRefused("A working revision is not published; request changes or let its author discard it.")
    changes = _move(incident, Status.WITHDRAWN)
    revision = (
        IncidentRevision.objects.filter(incident_id=incident.pk).order_by("-submitted_at", "-id").first()
    )
    if revision is not None:
        Review.objects.create(
            revision=revision, reviewer=actor, submitted_by=revision.submitted_by,
            decision=Decision.WITHDRAW, comment=reason, created_at=timezone.now(),
        )
    _record(actor, "incident.withdraw", incident, {**changes, "reason": reason})
    return incident


@_guarded("incident.discard_revision")
@_atomic
def discard_revision(*, actor, incident):
    """An author drops a working revision of a published incident; the published one stays."""
    incident = _locked(incident)
    if not incident.is_working_copy:
        raise TransitionRefused("Only a working revision of a published incident can be discarded.")
    if not can_edit(actor, incident):
        raise PermissionRefused("Only the authors of this revision can discard it.")
    document = document_of(Incident.objects.for_detail().get(pk=incident.pk))
    _record(actor, "incident.discard_revision", incident, {"revision": incident.revision, "before": document})
    original = incident.draft_of
    incident.delete()
    return original
