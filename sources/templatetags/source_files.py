"""The captures panel of a source page: copies, hashes, and (for staff) metadata and custody."""
from django import template
from django.db.models import Q

from archive import roles
from archive.models import AuditEvent
from sources.models import Capture

register = template.Library()


@register.inclusion_tag("files/_captures.html", takes_context=True)
def source_captures(context, source):
    user = context["user"]
    staff = roles.sees_restricted(user)
    captures = list(
        Capture.objects.filter(source=source)
        .select_related("file", "derivative", "thumbnail", "captured_by")
        .order_by("captured_at", "id")
    )
    if not staff:
        visible = set(Capture.objects.derivatives_visible_to(user).filter(source=source).values_list("pk", flat=True))
        captures = [capture for capture in captures if capture.pk in visible or not capture.file_id]
    custody = []
    if staff:
        file_scopes = [f"storedfile:{c.file_id}" for c in captures if c.file_id]
        custody = list(
            AuditEvent.objects.filter(Q(scope=f"source:{source.pk}") | Q(scope__in=file_scopes)).order_by("seq")
        )
    return {
        "source": source, "captures": captures, "staff": staff, "custody": custody,
        "can_capture": roles.is_researcher(user), "request": context.get("request"),
    }
