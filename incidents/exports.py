"""Exports of the current filter: the interchange CSV, nested JSON and GeoJSON, streamed in constant memory.

Each export iterates the filtered queryset with `.iterator(chunk_size=CHUNK)`
and prefetches allegations, citations and sources chunk by chunk, so memory
stays flat however many incidents match, and there is no row cap. The view
passes the queryset `filters.filter_incidents()` made for the request:
exports see exactly what the user may see, filtered exactly like the list.

The CSV is the interchange format (INTERCHANGE.md), one row per citation,
so that an export re-imports with `manage.py import_incidents` without
creating or changing anything. Every cell goes through
`interchange.neutralise()`: a spreadsheet never runs a cell as a formula, and
the importer's `interchange.restore()` gives the exact text back.
"""
import csv
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Prefetch
from django.urls import reverse

from archive.dates import format_partial
from sources.models import Capture, Citation

from .documents import date_text
from .interchange import COLUMNS, neutralise
from .models import Allegation

CHUNK = 200


def _citations(with_captures):
    citations = Citation.objects.select_related("source__organization").order_by("position", "id")
    if with_captures:
        captures = Capture.objects.select_related("file", "derivative").order_by("captured_at", "id")
        citations = citations.prefetch_related(Prefetch("source__captures", queryset=captures))
    return citations


def _allegations(with_citations=True, with_captures=False):
    allegations = (
        Allegation.objects.select_related("perpetrator", "perpetrator_side")
        .prefetch_related("violation_types", "weapons")
        .order_by("position", "id")
    )
    if with_citations:
        allegations = allegations.prefetch_related(Prefetch("citations", queryset=_citations(with_captures)))
    return allegations


def for_export(queryset, *, with_citations=True, with_captures=False):
    """The filtered incidents with what an export writes, prefetched per chunk."""
    return queryset.select_related("place", "conflict").prefetch_related(
        Prefetch("allegations", queryset=_allegations(with_citations, with_captures))
    ).iterator(chunk_size=CHUNK)


# --- CSV ------------------------------------------------------------------


class _Line:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, value):
        return value


def _number(value):
    return "" if value is None else str(value)


def _coordinate(value):
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _names(entries):
    return "; ".join(sorted(entry.name for entry in entries))


def incident_cells(incident):
    place = incident.place
    return {
        "incident_ref": incident.reference_code,
        "conflict": incident.conflict.name if incident.conflict_id else "",
        "title": incident.title,
        "date_start": date_text(incident, "start"),
        "date_end": date_text(incident, "end"),
        "date_precision": incident.date_precision,
        # "Name (Alias)" re-imports to the same place; the importer reads the alias in brackets.
        "place": str(place),
        "location_detail": incident.location_detail,
        "admin_area": place.admin_area,
        "country": place.country,
        "latitude": _coordinate(place.latitude),
        "longitude": _coordinate(place.longitude),
        "geo_precision": place.geo_precision,
        "incident_summary": incident.summary,
        "civilians_killed_min": _number(incident.civilians_killed_min),
        "civilians_killed_max": _number(incident.civilians_killed_max),
        "civilians_injured_min": _number(incident.civilians_injured_min),
        "civilians_injured_max": _number(incident.civilians_injured_max),
    }


def allegation_cells(allegation):
    return {
        "alleged_perpetrator": allegation.perpetrator.name if allegation.perpetrator_id else "",
        "perpetrator_side": allegation.perpetrator_side.name if allegation.perpetrator_side_id else "",
        "affected_party": allegation.affected_party,
        "violation_types": _names(allegation.violation_types.all()),
        "weapons": _names(allegation.weapons.all()),
        "allegation_summary": allegation.summary,
        "confidence": allegation.confidence,
    }


def citation_cells(citation):
    source = citation.source
    return {
        "source_organization": source.organization.name,
        "source_kind": source.kind,
        "source_title": source.title,
        "source_date": format_partial(source.published_on, source.published_form),
        "source_url": source.url,
        "citation_quote": citation.quote,
        "citation_stance": citation.stance,
    }


def csv_rows(incident):
    """One dict per citation. An incident without allegations, or an allegation without citations, still gets a
    row (with blank source columns) so that nothing is dropped silently; the importer refuses such a row."""
    base = incident_cells(incident)
    allegations = list(incident.allegations.all())
    if not allegations:
        yield base
    for allegation in allegations:
        alleged = {**base, **allegation_cells(allegation)}
        citations = list(allegation.citations.all())
        if not citations:
            yield alleged
        for citation in citations:
            yield {**alleged, **citation_cells(citation)}


def csv_line(values):
    return csv.writer(_Line(), lineterminator="\r\n").writerow([neutralise(value or "") for value in values])


def stream_csv(queryset):
    yield "\ufeff" + csv_line(COLUMNS)
    for incident in for_export(queryset):
        yield "".join(csv_line(row.get(column, "") for column in COLUMNS) for row in csv_rows(incident))


# --- JSON -----------------------------------------------------------------


def _named(entry):
    return None if entry is None else {"name": entry.name, "slug": entry.slug}


def _capture(capture):
    stored = capture.file
    return {
        "sha256": stored.sha256 if stored else None,
        "size": stored.size if stored else None,
        "media_type": stored.media_type if stored else None,
        "public_copy_sha256": capture.derivative.sha256 if capture.derivative_id else None,
        "archive_url": capture.archive_url or None,
        "captured_at": capture.captured_at,
    }


def source_json(source):
    organization = source.organization
    return {
        "id": source.pk,
        "title": source.title,
        "kind": source.kind,
        "published": format_partial(source.published_on, source.published_form) or None,
        "url": source.url or None,
        "language": source.language or None,
        "organization": {
            "name": organization.name,
            "slug": organization.slug,
            "kind": organization.kind,
            "party_affiliated": organization.is_party_affiliated,
        },
        "captures": [_capture(capture) for capture in source.captures.all()],
    }


def place_json(place):
    return {
        "name": place.name,
        "slug": place.slug,
        "aliases": place.alias_list(),
        "admin_area": place.admin_area,
        "country": place.country,
        "latitude": float(place.latitude) if place.latitude is not None else None,
        "longitude": float(place.longitude) if place.longitude is not None else None,
        "geo_precision": place.geo_precision,
    }


def allegation_json(allegation):
    return {
        "perpetrator": _named(allegation.perpetrator),
        "perpetrator_side": _named(allegation.perpetrator_side),
        "affected_party": allegation.affected_party,
        "violation_types": [{"slug": v.slug, "name": v.name} for v in allegation.violation_types.all()],
        "weapons": [
            {"slug": w.slug, "name": w.name, "category": w.category, "is_cluster_munition": w.is_cluster_munition}
            for w in allegation.weapons.all()
        ],
        "summary": allegation.summary,
        "confidence": allegation.confidence,
        "party_response": allegation.party_response,
        "citations": [
            {"locator": c.locator, "quote": c.quote, "stance": c.stance, "source": source_json(c.source)}
            for c in allegation.citations.all()
        ],
    }


def incident_json(incident, url):
    return {
        "id": incident.pk,
        "url": url,
        "reference_code": incident.reference_code,
        "status": incident.status,
        "visibility": incident.visibility,
        "revision": incident.revision,
        "published_at": incident.published_at,
        "conflict": incident.conflict.name if incident.conflict_id else None,
        "title": incident.title,
        "summary": incident.summary,
        "date_start": incident.date_start,
        "date_end": incident.date_end,
        "date_precision": incident.date_precision,
        "date_text": {"start": date_text(incident, "start") or None, "end": date_text(incident, "end") or None},
        "place": place_json(incident.place),
        "location_detail": incident.location_detail,
        "civilians_killed": {"min": incident.civilians_killed_min, "max": incident.civilians_killed_max},
        "civilians_injured": {"min": incident.civilians_injured_min, "max": incident.civilians_injured_max},
        "allegations": [allegation_json(allegation) for allegation in incident.allegations.all()],
    }


def _dumps(value):
    return json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)


def stream_json(queryset, absolute, query_string=""):
    """`absolute(path)` makes an absolute address (request.build_absolute_uri)."""
    yield '{"format": "incident-archive-export/1", "query": ' + _dumps(query_string) + ', "incidents": ['
    separator = "\n"
    for incident in for_export(queryset, with_captures=True):
        yield separator + _dumps(incident_json(incident, absolute(reverse("incidents:detail", args=[incident.pk]))))
        separator = ",\n"
    yield "\n]}\n"


# --- GeoJSON --------------------------------------------------------------


def _unique(values):
    return list(dict.fromkeys(value for value in values if value))


def feature(incident, url):
    place = incident.place
    allegations = list(incident.allegations.all())
    return {
        "type": "Feature",
        "id": incident.pk,
        "geometry": {"type": "Point", "coordinates": [float(place.longitude), float(place.latitude)]},
        "properties": {
            "reference_code": incident.reference_code,
            "title": incident.title,
            "url": url,
            "date_start": incident.date_start,
            "date_end": incident.date_end,
            "date_precision": incident.date_precision,
            "place": str(place),
            "admin_area": place.admin_area,
            "country": place.country,
            "geo_precision": place.geo_precision,
            "civilians_killed_min": incident.civilians_killed_min,
            "civilians_killed_max": incident.civilians_killed_max,
            "civilians_injured_min": incident.civilians_injured_min,
            "civilians_injured_max": incident.civilians_injured_max,
            "sides": _unique(a.perpetrator_side.name if a.perpetrator_side_id else "" for a in allegations),
            "parties": _unique(a.perpetrator.name if a.perpetrator_id else "" for a in allegations),
            "violation_types": _unique(v.slug for a in allegations for v in a.violation_types.all()),
            "weapons": _unique(w.name for a in allegations for w in a.weapons.all()),
            "confidence": _unique(a.confidence for a in allegations),
        },
    }


def with_coordinates(queryset):
    return queryset.filter(place__latitude__isnull=False, place__longitude__isnull=False)


def stream_geojson(queryset, absolute):
    yield '{"type": "FeatureCollection", "features": ['
    separator = "\n"
    for incident in for_export(with_coordinates(queryset), with_citations=False):
        yield separator + _dumps(feature(incident, absolute(reverse("incidents:detail", args=[incident.pk]))))
        separator = ",\n"
    yield "\n]}\n"
