"""Review pages: the queue, the workflow's buttons, an incident's history and its revision diffs.

Every state change is a POST that calls exactly one service; the service owns
the rules (roles, four eyes, hashes) and this module only translates its
refusals into HTTP answers. Incidents are looked up through
`viewable_by(user)`, so a page that may not be seen is a plain 404.
"""
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from archive import roles
from archive.audit import normalise
from archive.models import AuditEvent

from . import services
from .documents import diff
from .models import Decision, Incident, IncidentRevision, Review

HISTORY_PAGE_SIZE = 50
# What the public may read in the history of a published incident: when each
# revision was published. Who recorded, edited or reviewed it stays with staff.
PUBLIC_HISTORY_ACTIONS = ["incident.approve"]

ACTION_LABELS = {
    "incident.create": "Recorded",
    "incident.update": "Edited",
    "incident.revise": "Started a new revision",
    "incident.submit": "Submitted for review",
    "incident.approve": "Approved and published",
    "incident.request_changes": "Changes requested",
    "incident.withdraw": "Withdrawn",
    "incident.discard_revision": "Working revision discarded",
    "incident.approve.refused": "Approval refused",
    "incident.request_changes.refused": "Request for changes refused",
    "incident.withdraw.refused": "Withdrawal refused",
}


def _incident(request, pk):
    return get_object_or_404(Incident.objects.viewable_by(request.user), pk=pk)


def _detail_url(pk):
    return reverse("incidents:detail", args=[pk])


def _act(request, incident, action, done):
    """Run one service call: a refusal is answered with its status, success with a redirect."""
    try:
        target = action()
    except services.ServiceError as error:
        context = {"error": error, "incident": incident, "stale": isinstance(error, services.StaleRevision)}
        return render(request, "review/refused.html", context, status=error.status)
    messages.success(request, done)
    return redirect(_detail_url(target.pk))


@require_POST
@login_required
def submit(request, pk):
    incident = _incident(request, pk)

    def action():
        services.submit(actor=request.user, incident=incident)
        return incident

    return _act(request, incident, action, "Submitted for review. A reviewer who did not write it will check it.")


@require_POST
@login_required
def approve(request, pk):
    incident = _incident(request, pk)
    sha256 = request.POST.get("sha256", "")
    comment = request.POST.get("comment", "").strip()
    return _act(
        request, incident,
        lambda: services.approve(actor=request.user, incident=incident, sha256=sha256, comment=comment),
        "Approved and published.",
    )


@require_POST
@login_required
def request_changes(request, pk):
    incident = _incident(request, pk)
    comment = request.POST.get("comment", "").strip()
    return _act(
        request, incident,
        lambda: services.request_changes(actor=request.user, incident=incident, comment=comment),
        "Sent back to its authors with your comment.",
    )


@require_POST
@login_required
def withdraw(request, pk):
    incident = _incident(request, pk)
    reason = request.POST.get("reason", "").strip()
    return _act(
        request, incident,
        lambda: services.withdraw(actor=request.user, incident=incident, reason=reason),
        "Withdrawn. The reason is kept in the record.",
    )


@require_POST
@login_required
def discard(request, pk):
    incident = _incident(request, pk)
    return _act(
        request, incident,
        lambda: services.discard_revision(actor=request.user, incident=incident),
        "Working revision discarded; the published incident is unchanged.",
    )


@dataclass
class QueueEntry:
    incident: Incident
    revision: IncidentRevision | None
    changed: list | None  # paths changed since the last published revision; None for a new incident
    by_you: bool


@login_required
def queue(request):
    if not roles.is_reviewer(request.user):
        raise PermissionDenied("Only reviewers see the review queue.")
    # A page at a time: a synthetic archive of 10^6 incidents has 60,000 in review, which took 10 s on one page.
    awaiting = Incident.objects.awaiting_review().prefetch_related(
        Prefetch("contributors", queryset=User.objects.only("pk")))
    page = Paginator(awaiting, settings.ARCHIVE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "review/queue.html", {"entries": review_queue(request.user, page.object_list),
                                                 "page_obj": page})


def review_queue(user, incidents):
    """These incidents in review (a page of the queue), each with its snapshot and what changed since the last
    published one, in a fixed number of queries."""
    incidents = list(incidents)
    in_review, published = {}, {}
    for snapshot in _snapshots(incident_id__in={incident.record_id for incident in incidents}):
        in_review[snapshot.incident_id, snapshot.number] = snapshot  # a resubmission replaces the earlier one
        if snapshot.approved:
            published[snapshot.incident_id] = snapshot
    rows = [(i, in_review.get((i.record_id, i.revision)), published.get(i.record_id)) for i in incidents]
    compared = [s.pk for _, current, base in rows if current and base for s in (current, base)]
    documents = dict(IncidentRevision.objects.filter(pk__in=compared).values_list("pk", "document"))
    return [
        QueueEntry(
            incident=incident,
            revision=current,
            changed=[path for path, _, _ in readable_diff(documents[base.pk], documents[current.pk])]
            if current and base else None,
            by_you=user.pk in {incident.created_by_id, getattr(current, "submitted_by_id", None),
                               *(c.pk for c in incident.contributors.all())},
        )
        for incident, current, base in rows
    ]


def _snapshots(**where):
    """Submitted snapshots in submission order, flagged `approved`, their documents left in the database."""
    return (
        IncidentRevision.objects.filter(**where)
        .annotate(approved=_approved())
        .select_related("submitted_by")
        .defer("document")
        .order_by("submitted_at", "id")
    )


def _approved():
    return Exists(Review.objects.filter(revision=OuterRef("pk"), decision=Decision.APPROVE))


def _is_container(value):
    return isinstance(value, dict) or (isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value))


def _empty(value):
    return value is None or value == "" or value == []


def readable_diff(before, after, path=""):
    """`documents.diff`, with added or removed allegations and citations spelled out field by field.

    Keys are put in one order first: PostgreSQL's jsonb gives them back in its
    own order, and the same change should read the same on every database.
    """
    rows = []
    for where, old, new in diff(normalise(before), normalise(after), path):
        if old is None and _is_container(new):
            rows += readable_diff(type(new)(), new, where)
        elif new is None and _is_container(old):
            rows += readable_diff(old, type(old)(), where)
        elif not (_empty(old) and _empty(new)):
            rows.append((where, old, new))
    return rows


@dataclass
class HistoryEntry:
    event: AuditEvent
    label: str
    refused: bool = False
    changed: list = field(default_factory=list)
    details: list = field(default_factory=list)


def history_entry(event):
    changes = dict(event.changes)
    before, after = changes.pop("before", None), changes.pop("after", None)
    changed = []
    if isinstance(before, dict) or isinstance(after, dict):
        changed = readable_diff(before or {}, after or {})
    for name, values in (changes.pop("changed", None) or {}).items():
        changed.append((name, *values))
    label = ACTION_LABELS.get(event.action, event.action)
    return HistoryEntry(
        event=event, label=label, refused=event.action.endswith(".refused"), changed=changed,
        details=sorted(changes.items()),
    )


def history(request, pk):
    """Staff read every event of an incident; the public reads when each revision was published."""
    incident = _incident(request, pk)
    staff = roles.sees_restricted(request.user)
    events = AuditEvent.objects.filter(scope=services.scope_of(incident)).order_by("seq")
    if not staff:
        events = events.filter(action__in=PUBLIC_HISTORY_ACTIONS)
    page = Paginator(events, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "review/history.html", {
        "incident": incident,
        "staff": staff,
        "page": page,
        "entries": [history_entry(event) for event in page] if staff else list(page),
    })


@login_required
def revisions(request, pk):
    """The differences between any two submitted snapshots; by default the last published and the latest."""
    if not roles.sees_restricted(request.user):
        raise PermissionDenied("Only staff compare revisions.")
    incident = _incident(request, pk)
    snapshots = list(_snapshots(incident_id=incident.record_id))
    published = [s for s in snapshots if s.approved]
    a = _pick(snapshots, request.GET.get("a"), published[-1] if published else None)
    b = _pick(snapshots, request.GET.get("b"), snapshots[-1] if snapshots else None)
    documents = dict(
        IncidentRevision.objects.filter(pk__in=[s.pk for s in (a, b) if s]).values_list("pk", "document")
    )
    changes = readable_diff(documents.get(getattr(a, "pk", None), {}), documents.get(getattr(b, "pk", None), {}))
    return render(request, "review/revisions.html", {
        "incident": incident, "snapshots": snapshots, "a": a, "b": b, "changes": changes if b else [],
    })


def _pick(snapshots, chosen, default):
    if not chosen:
        return default
    for snapshot in snapshots:
        if str(snapshot.pk) == chosen:
            return snapshot
    raise Http404("No such revision of this incident.")
