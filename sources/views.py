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
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from archive import roles
from incidents.models import Incident

from . import services
from .forms import SourceForm
from .models import Citation, Source
from .querysets import ByOrganization, citing_incidents


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
    cited_in, cited_count = citing_incidents(request.user, [source.pk for source in page.object_list])
    rows = [(source, cited_in.get(source.pk, []), cited_count.get(source.pk, 0) - len(cited_in.get(source.pk, [])))
            for source in page.object_list]
    return render(request, "sources/source_list.html", {"page_obj": page, "sources": page.object_list, "rows": rows})


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
