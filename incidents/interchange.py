"""The incident interchange CSV (INTERCHANGE.md): reading a file and checking each cell.

Text work only, no database: `read()` turns the bytes of a file into `Row`s
of parsed values and a list of `Problem`s, each naming its line and column.
Matching names against the archive and writing is the importer's job
(`incidents.importer`), which then hands the resolved rows back to
`build_plans()` to group them into incidents and allegations. The exporter
uses `COLUMNS` and `neutralise()`.
"""
import csv
import difflib
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from archive import dates
from sources.models import Organization, Source, SourceKind, Stance

from .documents import AllegationData, CitationData

from .models import (
    CASUALTY_FIELDS,
    Allegation,
    Conflict,
    Confidence,
    DatePrecision,
    GeoPrecision,
    Incident,
    Party,
    Place,
    TriState,
    WeaponCategory,
    WeaponType,
    reference_code_validator,
)
from .taxonomy import key, split_place

COLUMNS = [
    "incident_ref", "conflict", "title", "date_start", "date_end", "date_precision", "place", "location_detail",
    "admin_area", "country", "latitude", "longitude", "geo_precision", "incident_summary", *CASUALTY_FIELDS,
    "alleged_perpetrator", "perpetrator_side", "affected_party", "violation_types", "weapons",
    "allegation_summary", "confidence", "source_organization", "source_kind", "source_title", "source_date",
    "source_url", "citation_quote", "citation_stance",
]
REQUIRED = ("incident_ref", "title", "date_precision", "place", "confidence", "source_organization")
# Every row of one incident must give the same values here...
INCIDENT_COLUMNS = [
    "conflict", "title", "date_start", "date_end", "date_precision", "place", "location_detail", "admin_area",
    "country", "latitude", "longitude", "geo_precision", "incident_summary", *CASUALTY_FIELDS,
]
# ...and every row of one allegation here.
ALLEGATION_COLUMNS = ["affected_party", "violation_types", "weapons", "allegation_summary", "confidence"]

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Three decimals of a degree is about 100 metres: closer than that is the same place.
COORDINATE_TOLERANCE = Decimal("0.001")
_COORDINATE_PLACES = Decimal("0.000001")

_MAX_LENGTHS = {
    "incident_ref": Incident._meta.get_field("reference_code").max_length,
    "conflict": Conflict._meta.get_field("name").max_length,
    "title": Incident._meta.get_field("title").max_length,
    "place": Place._meta.get_field("name").max_length,
    "location_detail": Incident._meta.get_field("location_detail").max_length,
    "admin_area": Place._meta.get_field("admin_area").max_length,
    "country": Place._meta.get_field("country").max_length,
    "alleged_perpetrator": Party._meta.get_field("name").max_length,
    "perpetrator_side": Party._meta.get_field("name").max_length,
    "affected_party": Allegation._meta.get_field("affected_party").max_length,
    "weapons": WeaponType._meta.get_field("name").max_length,
    "source_organization": Organization._meta.get_field("name").max_length,
    "source_title": Source._meta.get_field("title").max_length,
    "source_url": Source._meta.get_field("url").max_length,
}
_CHOICES = {
    "date_precision": DatePrecision.values,
    "geo_precision": GeoPrecision.values,
    "confidence": Confidence.values,
    "source_kind": SourceKind.values,
    "citation_stance": Stance.values,
}
_INTEGER_LIMIT = 2_147_483_647
_url_validator = URLValidator(schemes=["http", "https"])


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    column: str
    message: str

    def __str__(self):
        if not self.line:
            return self.message
        where = f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.message}"


@dataclass
class Row:
    """One data row: its first line in the file, its cells as written, and the values that parsed."""

    line: int
    cells: dict
    values: dict = field(default_factory=dict)


@dataclass
class Table:
    rows: list
    problems: list


def neutralise(text):
    """Make a cell safe to open in a spreadsheet: prefix `'` when it would start a formula.

    A cell that already starts with quotes before such a character gets one
    more, so that `restore()` gives back exactly what was stored.
    """
    return "'" + text if text.lstrip("'").startswith(FORMULA_STARTS) else text


def restore(text):
    """Undo `neutralise()`: `'=SUM(A1)` -> `=SUM(A1)`; a quote before anything else stays."""
    return text[1:] if text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS) else text


def read(data):
    """Parse a whole incident file; a file whose header is wrong yields no rows."""
    table = _read_table(data, COLUMNS, REQUIRED)
    for row in table.rows:
        table.problems += parse_row(row)
    return table


def _read_table(data, known, required):
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return Table([], [Problem(line, "", f"the file is not UTF-8 text (byte {error.start + 1} cannot be read)")])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems = []
    try:
        header = next(reader, None)
        if header is None:
            return Table([], [Problem(1, "", "the file is empty; it needs a header row")])
        columns = [name.strip().lower() for name in header]
        problems += _header_problems(columns, known, required)
        if problems:
            return Table([], problems)
        rows = _rows(reader, columns, known, problems)
    except csv.Error as error:
        problems.append(Problem(reader.line_num, "", f"not valid CSV: {error}"))
        return Table([], problems)
    return Table(rows, problems)


def _header_problems(columns, known, required):
    problems, seen = [], set()
    for position, name in enumerate(columns, start=1):
        if not name:
            problems.append(Problem(1, f"#{position}", f"column {position} of the header has no name"))
        elif name in seen:
            problems.append(Problem(1, name, "this column appears twice in the header"))
        elif name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(Problem(1, name, f"unknown column{hint}; the columns are listed in INTERCHANGE.md"))
        seen.add(name)
    problems += [Problem(1, name, "required column is missing") for name in required if name not in seen]
    return problems


def _rows(reader, columns, known, problems):
    rows, next_line = [], reader.line_num + 1
    for cells in reader:
        line, next_line = next_line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            problems.append(Problem(line, "", f"the row has {len(cells)} cells; the header has {len(columns)}"))
            continue
        written = dict(zip(columns, (restore(cell) for cell in cells)))
        rows.append(Row(line, {name: written.get(name, "") for name in known}))
    return rows


def parse_row(row):
    """Fill `row.values` with every cell that parses; return the problems of the others."""
    problems = []
    for column in COLUMNS:
        text = row.cells[column].strip()
        try:
            row.values[column] = _parse(column, text)
        except ValidationError as error:
            problems.append(Problem(row.line, column, error.messages[0]))
    problems += _date_problems(row) + _coordinate_problems(row) + _range_problems(row)
    for problem in problems:
        row.values.pop(problem.column, None)
    return problems


def _parse(column, text):
    if column in REQUIRED and not text:
        raise ValidationError("required; this cell is blank")
    if "\x00" in text:
        # PostgreSQL cannot store the NUL character in text; no source writes one on purpose.
        raise ValidationError("contains a NUL character (\\x00), which cannot be stored; remove it")
    limit = _MAX_LENGTHS.get(column)
    if limit and column not in ("place", "weapons") and len(text) > limit:
        raise ValidationError(f"longer than {limit} characters ({len(text)})")
    parser = _PARSERS.get(column)
    if parser:
        return parser(text)
    if column in _CHOICES:
        return _choice(column, text)
    return text


def _reference(text):
    reference_code_validator(text)
    return text


def _date(text):
    if not text:
        return None
    try:
        return dates.parse_past(text)
    except dates.PartialDateError as error:
        raise ValidationError(str(error)) from None


def _coordinate(text):
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"{text!r} is not a number of decimal degrees") from None
    if not value.is_finite():
        raise ValidationError(f"{text!r} is not a number of decimal degrees")
    if abs(value) > 360:
        # Far out of range; quantizing a huge exponent (1e400) would itself fail.
        return value
    return value.quantize(_COORDINATE_PLACES, rounding=ROUND_HALF_EVEN)


def _count(text):
    if not text:
        return None
    if not text.isdigit() or not text.isascii():
        raise ValidationError(f"{text!r} is not a whole number of people (0 or more); leave blank when not known")
    value = int(text)
    if value > _INTEGER_LIMIT:
        raise ValidationError(f"{text} is too large")
    return value


def _place(text):
    name, aliases = split_place(text)
    limit = _MAX_LENGTHS["place"]
    if len(name) > limit:
        raise ValidationError(f"the place name is longer than {limit} characters ({len(name)})")
    return name, aliases


def _names(text):
    """A `;`-separated list, blanks and repeats dropped, in the order written."""
    names, seen = [], set()
    for name in (part.strip() for part in text.split(";")):
        if name and key(name) not in seen:
            seen.add(key(name))
            names.append(name)
    return names


def _weapons(text):
    names = _names(text)
    limit = _MAX_LENGTHS["weapons"]
    for name in names:
        if len(name) > limit:
            raise ValidationError(f"the weapon name {name[:40]!r}... is longer than {limit} characters")
    return names


def _url(text):
    if not text:
        return ""
    if not text.lower().startswith(("http://", "https://")):
        raise ValidationError(f"{text[:80]!r} is not an http(s) address")
    try:
        _url_validator(text)
    except ValidationError:
        raise ValidationError(f"{text[:80]!r} is not a valid web address") from None
    return text


def _choice(column, text):
    if not text:
        return {"citation_stance": "supports"}.get(column, "")
    value = text.lower()
    if value not in _CHOICES[column]:
        raise ValidationError(f"{text!r} is not one of: {', '.join(_CHOICES[column])}")
    return value


_PARSERS = {
    "incident_ref": _reference,
    "date_start": _date,
    "date_end": _date,
    "source_date": _date,
    "latitude": _coordinate,
    "longitude": _coordinate,
    "place": _place,
    "violation_types": _names,
    "weapons": _weapons,
    "source_url": _url,
    **{name: _count for name in CASUALTY_FIELDS},
}

# With these precisions the dates must be written in the same form, so that an
# export writes back exactly what was imported.
_FORM_OF_PRECISION = {"day": "day", "month": "month", "year": "year"}
_EXAMPLE = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY"}


def _date_problems(row):
    values, line, problems = row.values, row.line, []
    if not {"date_start", "date_end", "date_precision"} <= values.keys():
        return problems
    start, end, precision = values["date_start"], values["date_end"], values["date_precision"]
    if start is None:
        if end is not None:
            problems.append(Problem(line, "date_start", "blank, but date_end is given; give the start too"))
        elif precision != "unknown":
            problems.append(Problem(line, "date_start", "blank; a date is needed unless date_precision is unknown"))
        return problems
    form = _FORM_OF_PRECISION.get(precision)
    for column, value in (("date_start", start), ("date_end", end)):
        if form and value is not None and value[2] != form:
            problems.append(Problem(
                line, column, f"{row.cells[column].strip()!r} is not written {_EXAMPLE[form]} as date_precision {precision} says"
            ))
    if end is not None and end[1] < start[0]:
        problems.append(Problem(line, "date_end", f"{row.cells['date_end'].strip()!r} is before date_start"))
    return problems


def _coordinate_problems(row):
    values, problems = row.values, []
    for column, other, limit in (("latitude", "longitude", 90), ("longitude", "latitude", 180)):
        value = values.get(column)
        if value is not None and abs(value) > limit:
            problems.append(Problem(row.line, column, f"{row.cells[column].strip()} is outside -{limit}..{limit}"))
        if value is None and column in values and values.get(other) is not None:
            problems.append(Problem(row.line, column, f"blank, but {other} is given; give both or neither"))
    return problems


def _range_problems(row):
    problems = []
    for low, high in (CASUALTY_FIELDS[0:2], CASUALTY_FIELDS[2:4]):
        minimum, maximum = row.values.get(low), row.values.get(high)
        if minimum is not None and maximum is not None and minimum > maximum:
            problems.append(Problem(row.line, low, f"{minimum} is more than {high} ({maximum})"))
    return problems


def coordinates_differ(stored, given):
    return abs(stored - given) > COORDINATE_TOLERANCE


# Building: rows whose names were resolved to taxonomy entries (by the importer)
# become one IncidentPlan per incident_ref, holding the `fields` and
# `AllegationData` the incident services take.

def ident(obj):
    """Identity of a taxonomy entry, saved or not yet saved."""
    if obj is None:
        return None
    return (type(obj).__name__, obj.pk) if obj.pk is not None else ("new", id(obj))


def _comparable(value):
    if hasattr(value, "_meta"):
        return ident(value)
    if isinstance(value, list):
        return frozenset(_comparable(item) for item in value)
    return value


@dataclass
class IncidentPlan:
    reference_code: str
    line: int
    lines: set
    fields: dict
    allegations: list
    action: str = "create"
    target: object = None
    base_sha256: str = ""


def _disagreements(members, columns, what):
    """Rows of one incident (or allegation) that do not repeat the first row's values."""
    problems = []
    first_row, first = members[0]
    for row, data in members[1:]:
        for column in columns:
            if column in data and column in first and _comparable(data[column]) != _comparable(first[column]):
                problems.append(Problem(row.line, column, (
                    f"{row.cells[column].strip()!r} differs from line {first_row.line} "
                    f"({first_row.cells[column].strip()!r}); every row of {what} must give the same {column}"
                )))
    return problems


def build_plans(rows, resolved, problems):
    """Group resolved rows into incidents and allegations; disagreeing rows add problems."""
    incidents = {}
    for row, data in zip(rows, resolved):
        if data.get("incident_ref"):
            incidents.setdefault(data["incident_ref"], []).append((row, data))
    plans = []
    for reference_code, members in incidents.items():
        problems += _disagreements(members, INCIDENT_COLUMNS, f"incident {reference_code}")
        allegations = {}
        for row, data in members:
            attribution = (ident(data.get("perpetrator")), ident(data.get("perpetrator_side")))
            allegations.setdefault(attribution, []).append((row, data))
        for group in allegations.values():
            problems += _disagreements(group, ALLEGATION_COLUMNS, f"one allegation of incident {reference_code}")
        plans.append(_plan(reference_code, members, allegations.values()))
    return plans


def _plan(reference_code, members, allegation_groups):
    row, data = members[0]
    start, end = data.get("date_start"), data.get("date_end")
    fields = {
        "reference_code": reference_code,
        "conflict": data.get("conflict"),
        "title": data.get("title", ""),
        "summary": data.get("incident_summary", ""),
        "date_start": start[0] if start else None,
        "date_end": (end or start)[1] if start else None,
        "date_precision": data.get("date_precision"),
        "place": data.get("place"),
        "location_detail": data.get("location_detail", ""),
        **{name: data.get(name) for name in CASUALTY_FIELDS},
        "visibility": "public",
    }
    allegations = [_allegation(group) for group in allegation_groups]
    return IncidentPlan(reference_code, row.line, {r.line for r, _ in members}, fields, allegations)


def _allegation(group):
    first = group[0][1]
    return AllegationData(
        perpetrator=first.get("perpetrator"),
        perpetrator_side=first.get("perpetrator_side"),
        affected_party=first.get("affected_party", ""),
        violation_types=first.get("violation_types", []),
        weapons=first.get("weapons", []),
        summary=first.get("allegation_summary", ""),
        confidence=first.get("confidence") or "single_source",
        citations=[
            CitationData(source=data.get("source"), quote=data.get("citation_quote", ""),
                         stance=data.get("citation_stance") or "supports")
            for _, data in group
        ],
    )


WEAPON_COLUMNS = ["name", "aliases", "category", "is_cluster_munition", "origin_as_reported", "origin_reported_by"]


def read_weapon_types(data):
    """Parse a weapon-type list (name, `;`-separated aliases, category, is_cluster_munition, origin)."""
    table = _read_table(data, WEAPON_COLUMNS, ("name",))
    for row in table.rows:
        for column in WEAPON_COLUMNS:
            text = row.cells[column].strip()
            try:
                row.values[column] = _weapon_value(column, text)
            except ValidationError as error:
                table.problems.append(Problem(row.line, column, error.messages[0]))
    return table


def _weapon_value(column, text):
    if "\x00" in text:
        raise ValidationError("contains a NUL character (\\x00), which cannot be stored; remove it")
    if column == "aliases":
        return _names(text)
    if column == "category":
        return weapon_category(text)
    if column == "is_cluster_munition":
        value = text.lower() or TriState.UNKNOWN
        if value not in TriState.values:
            raise ValidationError(f"{text!r} is not one of: {', '.join(TriState.values)}")
        return value
    if column == "name" and not text:
        raise ValidationError("required; this cell is blank")
    limit = WeaponType._meta.get_field(column).max_length
    if len(text) > limit:
        raise ValidationError(f"longer than {limit} characters ({len(text)})")
    return text


def weapon_category(text):
    """'cluster submunition', 'Cluster submunition' or 'cluster_submunition' -> 'cluster_submunition'."""
    if not text:
        return WeaponCategory.UNKNOWN
    wanted = key(text)
    for value, label in WeaponCategory.choices:
        if wanted in (value, key(value.replace("_", " ")), key(label)):
            return value
    raise ValidationError(f"{text!r} is not a weapon category; use one of: {', '.join(WeaponCategory.values)}")
