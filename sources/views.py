"""Pages for sources: public to read, researchers to add and edit.

The detail page lists the incidents citing a source, scoped to the reader with
`Incident.objects.visible_to()`: a citation in an unpublished incident must not
reveal that the incident exists.
"""
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from archive import roles
from incidents.models import Incident

from . import services
from .forms import SourceForm
from .models import Citation, Organization, Source



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


# The list names this many of the incidents citing each source (the first by reference), then how many more.
CITED_SHOWN = 5


def source_list(request):
    sources = ByOrganization(Source.objects.visible_to(request.user))
    page = Paginator(sources, settings.ARCHIVE_PAGE_SIZE).get_page(request.GET.get("page"))
    cited_in, cited_count = _citing(request.user, [source.pk for source in page.object_list])
    rows = [(source, cited_in.get(source.pk, []), cited_count.get(source.pk, 0) - len(cited_in.get(source.pk, [])))
            for source in page.object_list]
    return render(request, "sources/source_list.html", {"page_obj": page, "sources": page.object_list, "rows": rows})


def _citing(user, source_ids):
    """({source id: [(incident id, reference)] of the first CITED_SHOWN incidents citing it that the user may
    see, by reference}, {source id: how many there are}). A source can be cited by thousands of incidents; each
    incident is looked up from the citations (an IN over the visible incidents read every incident)."""
    if not source_ids:
        return {}, {}
    citations = Citation.objects.filter(source_id__in=source_ids).filter(
        Exists(Incident.objects.visible_to(user).filter(pk=OuterRef("allegation__incident_id"))))
    counts = dict(citations.values_list("source_id").annotate(n=Count("allegation__incident_id", distinct=True))
                  .order_by())
    distinct = citations.annotate(
        s=F("source_id"), i=F("allegation__incident_id"), code=F("allegation__incident__reference_code"),
    ).values_list("s", "i", "code").distinct().order_by()
    sql, params = distinct.query.sql_with_params()
    ranked = (f"SELECT s, i, code FROM (SELECT s, i, code, ROW_NUMBER() OVER (PARTITION BY s ORDER BY code, i) AS n "
              f"FROM ({sql}) AS d) AS ranked WHERE n <= %s ORDER BY s, n")
    shown = {}
    with connection.cursor() as cursor:
        cursor.execute(ranked, [*params, CITED_SHOWN])
        for source_id, incident_id, code in cursor.fetchall():
            shown.setdefault(source_id, []).append((incident_id, code))
    return shown, counts


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
    # The incidents that cite it, newest first, a page at a time, found from its citations (each incident looked
    # up from them): an IN over the incidents in date order read every incident (10 s at 10^6 incidents), and a
    # report can be cited by tens of thousands.
    citing = (
        Citation.objects.filter(source=source)
        .filter(Exists(Incident.objects.visible_to(request.user).filter(pk=OuterRef("allegation__incident_id"))))
        .values_list("allegation__incident_id", "allegation__incident__date_start")
        .distinct()
        .order_by(F("allegation__incident__date_start").desc(nulls_last=True), F("allegation__incident_id").desc())
    )
    page = Paginator(citing, settings.ARCHIVE_PAGE_SIZE).get_page(request.GET.get("page"))
    ids = [pk for pk, _ in page.object_list]
    by_id = Incident.objects.for_list().in_bulk(ids)
    return render(request, "sources/source_detail.html", {
        "source": source,
        "incidents": [by_id[pk] for pk in ids],
        "page_obj": page,
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
