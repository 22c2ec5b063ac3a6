"""Exports of the current filter: the interchange CSV, nested JSON and GeoJSON, streamed in constant memory.

Each export iterates the filtered queryset with `.iterator(chunk_size=CHUNK)`
and reads allegations, citations and sources chunk by chunk, so memory
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
from itertools import islice

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Prefetch
from django.urls import reverse

from archive.dates import format_partial
from sources.models import Capture, Citation

from .documents import date_text
from .interchange import COLUMNS, neutralise
from .models import CASUALTY_FIELDS, Allegation, Incident, Place

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


# The interchange columns run: the incident's, then the allegation's, then the citation's.
_ALLEGATION_START, _CITATION_START = COLUMNS.index("alleged_perpetrator"), COLUMNS.index("source_organization")
_INCIDENT_COLUMNS = COLUMNS[:_ALLEGATION_START]
_ALLEGATION_COLUMNS = COLUMNS[_ALLEGATION_START:_CITATION_START]
_CITATION_COLUMNS = COLUMNS[_CITATION_START:]


_CSV_LINE = csv.writer(_Line(), lineterminator="\r\n").writerow


def _line_part(cells, columns):
    """Cells in the order of `columns`, neutralised and CSV-encoded once per incident, allegation or citation
    rather than once per row that repeats them; a row is then its parts joined by commas. Every part has
    several cells, and csv quotes each cell by its own content, so the row is what writerow() gives for it."""
    return _CSV_LINE([neutralise(cells[column] or "") for column in columns])[:-2]


def place_cells(place):
    return {
        # "Name (Alias)" re-imports to the same place; the importer reads the alias in brackets.
        "place": str(place),
        "admin_area": place.admin_area,
        "country": place.country,
        "latitude": _coordinate(place.latitude),
        "longitude": _coordinate(place.longitude),
        "geo_precision": place.geo_precision,
    }


def incident_cells(incident):
    return {
        "incident_ref": incident["reference_code"],
        "conflict": incident["conflict__name"],
        "title": incident["title"],
        "date_start": date_text(incident, "start"),
        "date_end": date_text(incident, "end"),
        "date_precision": incident["date_precision"],
        "location_detail": incident["location_detail"],
        "incident_summary": incident["summary"],
        **{field: _number(incident[field]) for field in CASUALTY_FIELDS},
    }


def allegation_cells(allegation):
    return {
        "alleged_perpetrator": allegation["perpetrator__name"],
        "perpetrator_side": allegation["perpetrator_side__name"],
        "affected_party": allegation["affected_party"],
        "allegation_summary": allegation["summary"],
        "confidence": allegation["confidence"],
    }


def citation_cells(citation):
    return {
        "source_organization": citation["source__organization__name"],
        "source_kind": citation["source__kind"],
        "source_title": citation["source__title"],
        "source_date": format_partial(citation["source__published_on"], citation["source__published_form"]),
        "source_url": citation["source__url"],
        "citation_quote": citation["quote"],
        "citation_stance": citation["stance"],
    }


def _grouped(rows, key):
    groups = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups


def _names(ids, relation):
    """{allegation id: its violation types' or weapons' names, sorted and joined} for these incidents."""
    names = {}
    pairs = Allegation.objects.filter(incident_id__in=ids).order_by().values_list("id", f"{relation}__name")
    for allegation_id, name in pairs:
        if name is not None:
            names.setdefault(allegation_id, []).append(name)
    return {allegation_id: "; ".join(sorted(entries)) for allegation_id, entries in names.items()}


def csv_parts(ids):
    """The parts of these incidents' rows, as {id: (incident, [(allegation, [citation, ...]), ...])}.

    Six queries per chunk, whatever the number of allegations and citations,
    read as plain values (the chunk's few places as instances, for their
    names): building an instance per row took most of the export's time.
    """
    incidents = Incident.objects.filter(pk__in=ids).values(
        "pk", "reference_code", "conflict__name", "title", "date_start", "date_end", "date_precision", "place_id",
        "location_detail", "summary", *CASUALTY_FIELDS,
    )
    incidents = {incident["pk"]: incident for incident in incidents}
    places = Place.objects.in_bulk({incident["place_id"] for incident in incidents.values()})
    places = {pk: place_cells(place) for pk, place in places.items()}
    allegations = Allegation.objects.filter(incident_id__in=ids).order_by("incident_id", "position", "id").values(
        "id", "incident_id", "perpetrator__name", "perpetrator_side__name", "affected_party", "summary", "confidence",
    )
    violation_types, weapons = _names(ids, "violation_types"), _names(ids, "weapons")
    citations = Citation.objects.filter(allegation__incident_id__in=ids).order_by("allegation_id", "position", "id")
    citations = _grouped(citations.values(
        "allegation_id", "source__organization__name", "source__kind", "source__title", "source__published_on",
        "source__published_form", "source__url", "quote", "stance",
    ), "allegation_id")
    parts = {}
    for incident in incidents.values():
        base = {**incident_cells(incident), **places[incident["place_id"]]}
        parts[incident["pk"]] = (_line_part(base, _INCIDENT_COLUMNS), [])
    for allegation in allegations:
        alleged = {
            **allegation_cells(allegation),
            "violation_types": violation_types.get(allegation["id"], ""),
            "weapons": weapons.get(allegation["id"], ""),
        }
        cited = [_line_part(citation_cells(c), _CITATION_COLUMNS) for c in citations.get(allegation["id"], [])]
        parts[allegation["incident_id"]][1].append((_line_part(alleged, _ALLEGATION_COLUMNS), cited))
    return parts


_NO_ALLEGATION = _line_part(dict.fromkeys(_ALLEGATION_COLUMNS, ""), _ALLEGATION_COLUMNS)
_NO_CITATION = _line_part(dict.fromkeys(_CITATION_COLUMNS, ""), _CITATION_COLUMNS)


def csv_rows(incident, allegations):
    """One line per citation. An incident without allegations, or an allegation without citations, still gets a
    line (with blank source columns) so that nothing is dropped silently; the importer refuses such a row."""
    if not allegations:
        yield f"{incident},{_NO_ALLEGATION},{_NO_CITATION}\r\n"
    for allegation, citations in allegations:
        if not citations:
            yield f"{incident},{allegation},{_NO_CITATION}\r\n"
        for citation in citations:
            yield f"{incident},{allegation},{citation}\r\n"


def _chunks(queryset):
    """The ids of the filtered incidents, CHUNK at a time, in the queryset's order."""
    ids = queryset.values_list("pk", flat=True).iterator(chunk_size=CHUNK)
    while chunk := list(islice(ids, CHUNK)):
        yield chunk


def stream_csv(queryset):
    yield "\ufeff" + _CSV_LINE(COLUMNS)
    for ids in _chunks(queryset):
        parts = csv_parts(ids)
        for pk in ids:
            if pk in parts:  # not deleted since its id was read (a working copy, once approved)
                yield "".join(csv_rows(*parts[pk]))


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
