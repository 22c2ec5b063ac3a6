"""The canonical document of an incident: what is hashed, compared, snapshotted and diffed.

One shape serves the review snapshot (its SHA-256 is what a reviewer approves),
the importer's "has this incident changed?" test, the revision diff and the
JSON export. Taxonomy entries appear by name, as the reviewer sees them.
"""
import hashlib
from dataclasses import dataclass, field

from archive.audit import canonical_json, normalise
from archive.dates import format_partial

INCIDENT_FIELDS = [
    "reference_code", "conflict", "title", "summary", "date_start", "date_end", "date_precision", "place",
    "location_detail", "civilians_killed_min", "civilians_killed_max", "civilians_injured_min",
    "civilians_injured_max", "visibility",
]


@dataclass
class CitationData:
    source: object
    locator: str = ""
    quote: str = ""
    stance: str = "supports"


@dataclass
class AllegationData:
    perpetrator: object = None
    perpetrator_side: object = None
    affected_party: str = ""
    violation_types: list = field(default_factory=list)
    weapons: list = field(default_factory=list)
    summary: str = ""
    confidence: str = "single_source"
    party_response: str = ""
    citations: list = field(default_factory=list)


def data_from_incident(incident):
    """(fields, allegations) of an incident as stored, for editing or comparing."""
    fields = {name: getattr(incident, name) for name in INCIDENT_FIELDS}
    allegations = [
        AllegationData(
            perpetrator=allegation.perpetrator,
            perpetrator_side=allegation.perpetrator_side,
            affected_party=allegation.affected_party,
            violation_types=list(allegation.violation_types.all()),
            weapons=list(allegation.weapons.all()),
            summary=allegation.summary,
            confidence=allegation.confidence,
            party_response=allegation.party_response,
            citations=[
                CitationData(source=c.source, locator=c.locator, quote=c.quote, stance=c.stance)
                for c in allegation.citations.all()
            ],
        )
        for allegation in incident.allegations.all()
    ]
    return fields, allegations


def _name(obj):
    return None if obj is None else str(obj)


def source_document(source):
    return {
        "id": source.pk,
        "organization": source.organization.name,
        "party_affiliated": source.organization.is_party_affiliated,
        "title": source.title,
        "kind": source.kind,
        "published": format_partial(source.published_on, source.published_form) or None,
        "url": source.url,
    }


def build_document(fields, allegations):
    precision = fields["date_precision"]
    start, end = fields.get("date_start"), fields.get("date_end")
    document = {
        "reference_code": fields["reference_code"],
        "conflict": _name(fields.get("conflict")),
        "title": fields["title"],
        "summary": fields.get("summary", ""),
        "date_start": start.isoformat() if start else None,
        "date_end": end.isoformat() if end else None,
        "date_precision": precision,
        "place": _name(fields["place"]),
        "location_detail": fields.get("location_detail", ""),
        "civilians_killed_min": fields.get("civilians_killed_min"),
        "civilians_killed_max": fields.get("civilians_killed_max"),
        "civilians_injured_min": fields.get("civilians_injured_min"),
        "civilians_injured_max": fields.get("civilians_injured_max"),
        "visibility": fields.get("visibility", "public"),
        "allegations": [
            {
                "perpetrator": _name(a.perpetrator),
                "perpetrator_side": _name(a.perpetrator_side),
                "affected_party": a.affected_party,
                "violation_types": sorted(v.slug for v in a.violation_types),
                "weapons": sorted(w.name for w in a.weapons),
                "summary": a.summary,
                "confidence": a.confidence,
                "party_response": a.party_response,
                "citations": [
                    {"source": source_document(c.source), "locator": c.locator, "quote": c.quote, "stance": c.stance}
                    for c in a.citations
                ],
            }
            for a in allegations
        ],
    }
    return normalise(document)


def document_of(incident):
    return build_document(*data_from_incident(incident))


def sha256_of(document):
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def diff(before, after, path=""):
    """Differences between two documents as a list of (path, before, after), in document order."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        # Sorted: PostgreSQL's jsonb does not keep the order keys were written in.
        for key in sorted(set(before) | set(after)):
            changes += diff(before.get(key), after.get(key), f"{path}.{key}" if path else key)
        return changes
    if isinstance(before, list) and isinstance(after, list) and _is_list_of_dicts(before, after):
        changes = []
        for index in range(max(len(before), len(after))):
            left = before[index] if index < len(before) else None
            right = after[index] if index < len(after) else None
            changes += diff(left, right, f"{path}[{index + 1}]")
        return changes
    return [] if before == after else [(path, before, after)]


def _is_list_of_dicts(*lists):
    return all(isinstance(item, dict) for items in lists for item in items)


def date_text(incident_or_fields, which):
    """How an incident's start or end date is written in the interchange format."""
    get = incident_or_fields.get if isinstance(incident_or_fields, dict) else lambda n: getattr(incident_or_fields, n)
    start, end, precision = get("date_start"), get("date_end"), get("date_precision")
    value = start if which == "start" else end
    if value is None:
        return ""
    if precision in ("month", "year"):
        return format_partial(value, precision)
    return value.isoformat()
