"""Reads of sources and captures scoped to what a user may see or download, and the source list's reads."""
from django.db import connection, models
from django.db.models import Count, Exists, F, OuterRef

from archive import roles


class SourceQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Staff see every source; the public only sources cited by a published incident.

        A source recorded for work still in review (a testimony, say) can name
        or locate a witness, so it stays private until what cites it is published.
        """
        if roles.sees_restricted(user):
            return self.all()
        return self.filter(public=True)  # kept by the services (sources.publicity)


class CaptureQuerySet(models.QuerySet):
    def originals_visible_to(self, user):
        """Original files (with their metadata) are for researchers and reviewers only."""
        if roles.sees_restricted(user):
            return self.filter(file__isnull=False)
        return self.none()

    def derivatives_visible_to(self, user):
        """The public sees stripped image derivatives of sources cited by published incidents."""
        images = self.filter(derivative__isnull=False)
        if roles.sees_restricted(user):
            return images
        return images.filter(source__public=True)


# The list names this many of the incidents citing each source (the first by reference), then how many more.
CITED_SHOWN = 5


def citing_incidents(user, source_ids):
    """({source id: [(incident id, reference)] of the first CITED_SHOWN incidents citing it that the user may
    see, by reference}, {source id: how many there are}). A source can be cited by thousands of incidents; each
    incident is looked up from the citations (an IN over the visible incidents read every incident)."""
    from incidents.models import Incident

    from .models import Citation

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
            from .models import Organization

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
