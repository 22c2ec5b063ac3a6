"""The review panel on an incident's page, and how audit values are written out.

The panel asks the database a fixed handful of questions whatever the
incident's size or history, because the detail page's query count is pinned.
It only decides what to offer; every button posts to a view whose service
enforces the same rules again. The edit link and the notice of a working
revision are the detail page's own, so the panel does not repeat them.
"""
from django import template
from django.contrib.auth.models import AnonymousUser

from archive import roles
from archive.audit import canonical_json
from incidents import services
from incidents.models import EDITABLE_IN_PLACE, Review, Status

register = template.Library()


@register.inclusion_tag("incidents/_review_panel.html", takes_context=True)
def review_panel(context, incident):
    request = context.get("request")
    user = context.get("user") or getattr(request, "user", None) or AnonymousUser()
    panel = {"incident": incident, "user": user, "request": request, "staff": roles.sees_restricted(user)}
    if panel["staff"]:
        panel.update(_staff_panel(user, incident))
    return panel


def _staff_panel(user, incident):
    revision = services.revision_in_review(incident) if incident.status == Status.IN_REVIEW else None
    authors = {incident.created_by_id, *incident.contributors.values_list("pk", flat=True)}
    if revision is not None:
        authors.add(revision.submitted_by_id)
    can_edit = incident.status in EDITABLE_IN_PLACE and services.can_edit(user, incident)
    reviewer = roles.is_reviewer(user)
    return {
        "revision": revision,
        "is_author": user.pk in authors,
        "can_submit": can_edit,
        "can_discard": can_edit and incident.is_working_copy,
        "can_approve": reviewer and revision is not None and user.pk not in authors,
        "can_request_changes": reviewer and revision is not None,
        "can_withdraw": reviewer and not incident.is_working_copy and incident.can_move_to(Status.WITHDRAWN),
        "reviews": Review.objects.filter(revision__incident_id=incident.record_id)
        .select_related("reviewer", "revision")
        .order_by("-created_at", "-id"),
    }


@register.filter
def audit_value(value):
    """A value from a document or an audit entry, as a person reads it."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(not isinstance(item, (dict, list)) for item in value):
        return ", ".join(str(item) for item in value)
    if isinstance(value, (dict, list)):
        return canonical_json(value)
    return value


@register.filter
def status_label(value):
    try:
        return Status(value).label
    except ValueError:
        return value
