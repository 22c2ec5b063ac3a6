"""Every reusable read of incidents: who may see what, and what each screen loads."""
from django.db import models
from django.db.models import Prefetch

from archive import roles


class IncidentQuerySet(models.QuerySet):
    def records(self):
        """Incidents as the archive lists them: originals, not working copies of a published one."""
        return self.filter(draft_of__isnull=True)

    def published(self):
        return self.records().filter(status="published", visibility="public")

    def visible_to(self, user):
        """The only door to incidents for a request: the public sees published, public incidents."""
        if roles.sees_restricted(user):
            return self.records()
        return self.published()

    def viewable_by(self, user):
        """What a detail page may show: visible records, and working revisions for staff."""
        if roles.sees_restricted(user):
            return self.all()
        return self.published()

    def awaiting_review(self):
        return self.filter(status="in_review").order_by("updated_at", "id")

    def for_list(self):
        """What a list row shows: the incident, its place and conflict (the allegation count is a column)."""
        return self.select_related("place", "conflict")

    def for_detail(self):
        from sources.models import Citation

        from .models import Allegation

        citations = Citation.objects.select_related("source__organization").order_by("position", "id")
        allegations = (
            Allegation.objects.select_related("perpetrator", "perpetrator_side")
            .prefetch_related("violation_types", "weapons", Prefetch("citations", queryset=citations))
            .order_by("position", "id")
        )
        return self.select_related("place", "conflict", "created_by").prefetch_related(
            Prefetch("allegations", queryset=allegations)
        )
