"""Pages for sources: public to read, researchers to add and edit.

The detail page lists the incidents citing a source, scoped to the reader with
`Incident.objects.visible_to()`: a citation in an unpublished incident must not
reveal that the incident exists.
"""
from datetime import date
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from archive import roles
from incidents.models import Incident

from . import services
from .forms import SourceForm
from .models import Citation, Organization, Source

CHUNK = 500


def researcher_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not roles.is_researcher(request.user):
            return render(request, "sources/refused.html",
                          {"message": "Only researchers can add or edit sources."}, status=403)
        return view(request, *args, **kwargs)

    return wrapper


def source_list(request):
    sources = ByOrganization(Source.objects.visible_to(request.user))
    page = Paginator(sources, settings.ARCHIVE_PAGE_SIZE).get_page(request.GET.get("page"))
    ids = [source.pk for source in page.object_list]
    citing = (
        Citation.objects.filter(source_id__in=ids, allegation__incident__in=Incident.objects.visible_to(request.user))
        .values_list("source_id", "allegation__incident_id", "allegation__incident__reference_code")
        .distinct()
        .order_by("allegation__incident__reference_code")
    )
    cited_in = {}
    for source_id, incident_id, code in citing:
        cited_in.setdefault(source_id, []).append((incident_id, code))
    rows = [(source, cited_in.get(source.pk, [])) for source in page.object_list]
    return render(request, "sources/source_list.html", {"page_obj": page, "sources": page.object_list, "rows": rows})


class ByOrganization:
    """Sources in the list's order (organization name, then newest first), for the paginator: counted per
    organization, and a page read from the one or two organizations it falls in, each from its own run of an
    index (source_public_listing, source_listing). Sorting every source for each page took seconds at 10^6."""

    def __init__(self, sources):
        self.sources = sources.order_by()
        self._runs = None

    def runs(self):
        """[(organization id, number of its sources)] in the organizations' name order."""
        if self._runs is None:
            counts = dict(self.sources.values_list("organization_id").annotate(n=Count("pk")).order_by())
            order = Organization.objects.filter(pk__in=counts).order_by("name", "pk").values_list("pk", flat=True)
            self._runs = [(pk, counts[pk]) for pk in order]
        return self._runs

    def count(self):
        return sum(n for _, n in self.runs())

    def __len__(self):
        return self.count()

    def __getitem__(self, window):
        if not isinstance(window, slice) or window.step is not None:
            raise TypeError("Read sources a page (a slice) at a time.")
        start, stop = window.start or 0, window.stop if window.stop is not None else self.count()
        rows, offset = [], 0
        for organization, n in self.runs():
            if offset >= stop:
                break
            if offset + n > start:
                low, high = max(start - offset, 0), min(stop - offset, n)
                rows += self.sources.filter(organization_id=organization).select_related("organization").order_by(
                    "-published_on", "id")[low:high]
            offset += n
        return rows


def source_detail(request, pk):
    source = get_object_or_404(Source.objects.visible_to(request.user).select_related("organization"), pk=pk)
    # The incidents that cite it, found from its citations (then those the reader may see): an IN over the
    # incidents in date order scanned every incident (10 s at 10^6).
    citing = sorted(set(Citation.objects.filter(source=source).values_list("allegation__incident_id", flat=True)))
    incidents = []
    for start in range(0, len(citing), CHUNK):
        incidents += Incident.objects.visible_to(request.user).filter(pk__in=citing[start:start + CHUNK]).for_list()
    incidents.sort(key=lambda incident: (incident.date_start is None, -(incident.date_start or date.min).toordinal(),
                                         -incident.pk))
    return render(request, "sources/source_detail.html", {
        "source": source,
        "incidents": incidents,
        "staff": roles.sees_restricted(request.user),
    })


@require_http_methods(["GET", "HEAD", "POST"])
@researcher_required
def source_create(request):
    form = SourceForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            source = _save(request.user, form, source=None)
        except ValidationError as error:
            form.add_errors(error)
        else:
            messages.success(request, "Source added.")
            return redirect("sources:detail", pk=source.pk)
    return render(request, "sources/source_form.html", {"form": form, "source": None})


@require_http_methods(["GET", "HEAD", "POST"])
@researcher_required
def source_edit(request, pk):
    source = get_object_or_404(Source.objects.select_related("organization"), pk=pk)
    form = SourceForm(request.POST if request.method == "POST" else None, initial=SourceForm.initial_for(source))
    if request.method == "POST" and form.is_valid():
        try:
            source = _save(request.user, form, source=source)
        except ValidationError as error:
            form.add_errors(error)
        else:
            messages.success(request, "Source saved.")
            return redirect("sources:detail", pk=source.pk)
    return render(request, "sources/source_form.html", {"form": form, "source": source})


@transaction.atomic
def _save(user, form, source):
    """A new organization and the source that names it are saved together, or not at all."""
    organization = form.cleaned_data["organization"]
    new = form.new_organization()
    if new is not None:
        name, kind, affiliated = new
        organization = services.add_organization(actor=user, name=name, kind=kind, is_party_affiliated=affiliated)
    values = form.source_values(organization)
    if source is None:
        return services.add_source(actor=user, **values)
    return services.edit_source(actor=user, source=source, **values)
