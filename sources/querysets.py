"""Reads of captures scoped to what a user may download."""
from django.db import models

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
