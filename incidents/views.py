"""Pages for reading and recording incidents. Each view: parse, one QuerySet or one service call, respond."""
import json
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from archive import roles

from . import services
from .documents import build_document, diff, document_of
from .filters import SORT_CHOICES, filter_incidents
from .forms import IncidentEntry, Options, with_more_rows
from .models import Incident


def researcher_required(view):
    """Anonymous visitors are sent to sign in; signed-in users without the researcher role are refused."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not roles.is_researcher(request.user):
            return refused(request, "Only researchers can record or edit incidents.", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def refused(request, message, status):
    return render(request, "incidents/refused.html", {"message": message}, status=status)


class CountedPaginator(Paginator):
    """A paginator told its total, so the list does not count the same rows twice."""

    def __init__(self, object_list, per_page, count):
        super().__init__(object_list, per_page)
        self._known_count = count

    @property
    def count(self):
        return self._known_count


def incident_list(request):
    filterset, incidents = filter_incidents(request)
    counts = filterset.counts()
    # The page's ids first, then their rows: the ids come from the list index alone, so a deep page skips
    # index entries instead of reading (and joining) every row it passes over.
    paginator = CountedPaginator(incidents.values_list("pk", flat=True), settings.ARCHIVE_PAGE_SIZE, counts["incidents"])
    page = paginator.get_page(request.GET.get("page"))
    # A filter matching a large share of the incidents: its page is found by walking the list's index instead.
    source = filterset.page_source(counts["incidents"], page.start_index() - 1, paginator.per_page)
    if source is not incidents:
        page.object_list = source.values_list("pk", flat=True)[page.start_index() - 1:page.end_index()]
    rows = Incident.objects.list_rows(list(page.object_list))
    return render(request, "incidents/incident_list.html", {
        "page_obj": page,
        "incidents": rows,
        "filter": filterset,
        "counts": counts,
        "sort_choices": SORT_CHOICES,
        "current_sort": filterset.sort_key(),
        "staff": roles.sees_restricted(request.user),
    })


def incident_detail(request, pk):
    incident = get_object_or_404(Incident.objects.viewable_by(request.user).for_detail(), pk=pk)
    staff = roles.sees_restricted(request.user)
    working_revision = None
    if staff and not incident.is_working_copy:
        working_revision = (
            Incident.objects.filter(draft_of=incident).only("pk", "revision", "status").order_by("pk").first()
        )
    return render(request, "incidents/incident_detail.html", {
        "incident": incident,
        "allegations": incident.allegations.all(),
        "staff": staff,
        "working_revision": working_revision,
        "can_edit": working_revision is None and services.can_edit(request.user, incident),
    })


@require_http_methods(["GET", "HEAD", "POST"])
@researcher_required
def incident_create(request):
    options = Options.load()
    if request.method != "POST":
        return _form_page(request, IncidentEntry(options=options))
    data, more_rows = with_more_rows(request.POST)
    entry = IncidentEntry(data, options=options)
    if more_rows:
        entry.quiet()
        return _form_page(request, entry)
    if not entry.is_valid():
        return _form_page(request, entry, invalid=True)
    try:
        incident = services.record_incident(
            actor=request.user, fields=entry.incident_fields(), allegations=entry.allegation_data()
        )
    except ValidationError as error:
        entry.add_errors(error)
        return _form_page(request, entry, invalid=True)
    except services.ServiceError as error:
        return _form_page(request, entry, error=error.message, status=error.status)
    messages.success(request, f"Incident {incident.reference_code} recorded as a draft. "
                              "It stays unpublished until you submit it and another person approves it.")
    return redirect("incidents:detail", pk=incident.pk)


@require_http_methods(["GET", "HEAD", "POST"])
@researcher_required
def incident_edit(request, pk):
    incident = get_object_or_404(Incident.objects.viewable_by(request.user).for_detail(), pk=pk)
    working = None
    if incident.status == "published" and request.method != "POST":
        working = Incident.objects.filter(draft_of=incident).only("pk").order_by("pk").first()
    if working is not None:
        messages.info(request, "This incident already has a working revision; changes go there.")
        return redirect("incidents:detail", pk=working.pk)
    if not services.can_edit(request.user, incident):
        return refused(request, _why_not_editable(incident), status=403)
    options = Options.load()
    if request.method != "POST":
        return _form_page(request, IncidentEntry(options=options, incident=incident, base_document=document_of(incident)))
    data, more_rows = with_more_rows(request.POST)
    entry = IncidentEntry(data, options=options, incident=incident)
    if more_rows:
        entry.quiet()
        return _form_page(request, entry)
    if entry.base_error:
        return _form_page(request, entry, error=entry.base_error, status=400)
    if not entry.is_valid():
        return _form_page(request, entry, invalid=True)
    return _save_edit(request, incident, entry)


def _save_edit(request, incident, entry):
    fields, allegations = entry.incident_fields(), entry.allegation_data()
    unchanged = build_document(fields, allegations) == entry.base_document
    try:
        saved = services.edit_incident(
            actor=request.user, incident=incident, fields=fields, allegations=allegations,
            base_sha256=entry.base_sha256,
        )
    except services.StaleRevision as error:
        current = error.details["current"]
        changes = [(path, _shown(before), _shown(after)) for path, before, after in diff(entry.base_document, current)]
        entry.rebase(current)
        return _form_page(request, entry, error=error.message, status=error.status, changes=changes)
    except ValidationError as error:
        entry.add_errors(error)
        return _form_page(request, entry, invalid=True)
    except services.ServiceError as error:
        return _form_page(request, entry, error=error.message, status=error.status)
    if unchanged:
        messages.info(request, "You changed nothing, so nothing was saved.")
    elif saved.pk != incident.pk:
        messages.success(request, f"Your changes were saved as working revision {saved.revision}. Readers keep seeing "
                                  "the published version until a reviewer approves this one.")
    else:
        messages.success(request, "Your changes were saved.")
    return redirect("incidents:detail", pk=saved.pk)


def _why_not_editable(incident):
    if incident.status in ("draft", "changes_requested"):
        return "Only the authors of this draft can edit it."
    return f"This incident is {incident.get_status_display().lower()} and cannot be edited now."


def _shown(value):
    if value is None:
        return "(none)"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, indent=1)
    return str(value)


def _form_page(request, entry, error=None, status=200, changes=None, invalid=False):
    return render(request, "incidents/incident_form.html", {
        "entry": entry,
        "incident": entry.incident,
        "error": error,
        "changes": changes,
        "invalid": invalid,
    }, status=status)
