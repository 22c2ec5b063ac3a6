"""Pages and downloads for finding and comparing: balance, map, timeline and the exports of the current filter.

Each view: `filter_incidents(request)` (scoped to the user, then filtered),
one computation, respond. An invalid filter shows the form with its errors
and no numbers (pages), or answers 400 with the errors as text (exports):
never everything, never a 500.
"""
import datetime

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.formats import localize
from django.views.decorators.http import require_GET

from archive.dates import format_partial
from archive.markup import escaped, joined

from . import balance as comparing
from . import exports
from .filters import filter_incidents, form_errors_text
from .models import Place
from .templatetags.incident_list import detail_urls

# The map page embeds its points; beyond this many it says so and offers the GeoJSON export (no cap there).
MAP_LIMIT = 5000


@require_GET
def balance(request):
    filterset, _ = filter_incidents(request)
    result = comparing.compute(filterset, request.GET) if filterset.data_valid else None
    return render(request, "finding/balance.html", {
        "filter": filterset,
        # The balance has counted them already.
        "counts": result.counts if result else filterset.counts(),
        "balance": result,
    })


@require_GET
def timeline(request):
    filterset, _ = filter_incidents(request)
    return render(request, "finding/timeline.html", {
        "filter": filterset,
        "counts": filterset.counts(),
        "timeline": comparing.timeline(filterset, request.GET) if filterset.data_valid else None,
    })


def date_label(start, end, precision):
    if start is None:
        return "date unknown"
    form = precision if precision in ("month", "year") else "day"
    first, last = format_partial(start, form), format_partial(end, form) if end else ""
    if not last or last == first:
        return first
    if precision == "approximate":
        return f"between {first} and {last}"
    return f"{first} to {last}"


def _point(row, url_of):
    return {
        "id": row["pk"],
        "ref": row["reference_code"],
        "title": row["title"],
        "date": date_label(row["date_start"], row["date_end"], row["date_precision"]),
        "date_precision": row["date_precision"],
        "place": Place.label(row["place__name"], row["place__aliases"]),
        "geo_precision": row["place__geo_precision"],
        "lat": float(row["place__latitude"]),
        "lng": float(row["place__longitude"]),
        "killed": _range(row["civilians_killed_min"], row["civilians_killed_max"]),
        "url": url_of(row["pk"]),
    }


def _point_rows(points):
    """The table of the points, for readers without JavaScript: written here, as the balance's cells are, because
    thousands of rows through the template took most of the page's time (0.4 of 0.6 s at 10^5 incidents)."""
    rows = []
    for point in points:
        approximate = " <small>(approximate)</small>" if point["date_precision"] == "approximate" else ""
        rows.append(
            f"<tr><td>{escaped(point['date'])}{approximate}</td><td>{escaped(point['ref'])}</td>"
            f"<td><a href=\"{escaped(point['url'])}\">{escaped(point['title'])}</a></td><td>{escaped(point['place'])}</td>"
            f"<td>{escaped(localize(point['lat']))}, {escaped(localize(point['lng']))} "
            f"<small>({escaped(point['geo_precision'])})</small></td>"
            f"<td>{escaped(point['killed'] or 'not established')}</td></tr>"
        )
    return joined(rows)


def _range(low, high):
    if low is None and high is None:
        return ""
    if low == high or high is None:
        return f"{low}" + ("" if high is not None else " or more")
    return f"{low if low is not None else '?'}–{high}"


@require_GET
def incident_map(request):
    filterset, queryset = filter_incidents(request)
    located = exports.with_coordinates(queryset)
    rows = list(located.values(
        "pk", "reference_code", "title", "date_start", "date_end", "date_precision", "place__name", "place__aliases",
        "place__latitude", "place__longitude", "place__geo_precision", "civilians_killed_min", "civilians_killed_max",
    )[: MAP_LIMIT + 1])
    truncated = len(rows) > MAP_LIMIT
    url_of = detail_urls()
    points = [_point(row, url_of) for row in rows[:MAP_LIMIT]]
    counts = filterset.counts()
    return render(request, "finding/map.html", {
        "filter": filterset,
        "counts": counts,
        "points": points,
        "point_rows": _point_rows(points),
        # Beyond the limit the located incidents are not counted: that count read every matching incident
        # (2 s at 10^6); the page says there are more than the limit.
        "located": len(points),
        "truncated": truncated,
        "map_limit": MAP_LIMIT,
        "map_config": {
            "tiles": settings.ARCHIVE_MAP_TILES,
            "attribution": settings.ARCHIVE_MAP_ATTRIBUTION,
        },
    })


def _export(request, stream, content_type, extension):
    filterset, queryset = filter_incidents(request)
    if not filterset.data_valid:
        lines = ["The filter could not be read, so nothing was exported:", *form_errors_text(filterset)]
        return HttpResponse("\n".join(lines) + "\n", status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(stream(filterset, queryset), content_type=content_type)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="incidents-{stamp}.{extension}"'
    # What staff export includes unpublished work: never keep it in a shared cache.
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def export_csv(request):
    return _export(request, lambda filterset, queryset: exports.stream_csv(queryset), "text/csv; charset=utf-8", "csv")


@require_GET
def export_json(request):
    def stream(filterset, queryset):
        return exports.stream_json(queryset, request.build_absolute_uri, request.GET.urlencode())

    return _export(request, stream, "application/json; charset=utf-8", "json")


@require_GET
def export_geojson(request):
    def stream(filterset, queryset):
        return exports.stream_geojson(queryset, request.build_absolute_uri)

    return _export(request, stream, "application/geo+json; charset=utf-8", "geojson")
