"""Importing the interchange CSV: match every name against the archive, plan, then write in one transaction.

`import_incidents()` reads and checks the whole file before writing anything;
any problem means nothing is written and every problem is reported with its
line and column. Otherwise it creates what is new through the taxonomy and
source services, records or edits each incident through the incident
services, submits it for review (an import never approves) and appends one
summary audit entry. Names not yet in the archive become unsaved model
instances while planning, so a dry run can say what would be created without
writing, and the same objects are saved, in order, when the import is real.
The services' audit entries are appended together at the end
(`audit.batched()`), in the order they were recorded; the allegations' links
and citations are inserted together and the balance tally is recounted once
for all the incidents written (`services.batched()`).
"""
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from itertools import groupby

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from archive import audit, roles
from archive.dates import format_partial
from sources import services as source_services
from sources.models import Organization, Source

from . import interchange, services, tally, taxonomy
from .documents import build_document, data_from_incident, document_of, sha256_of
from .interchange import Problem, ident
from .models import Conflict, Incident, Party, Place, Side, Status, WeaponType
from .taxonomy import Matcher, key

NEW_LABELS = {
    "conflict": "conflicts", "side": "sides", "party": "parties", "place": "places",
    "weapontype": "weapon types (flagged for curation)", "organization": "organizations", "source": "sources",
}
_CHUNK = 500


class ImportFailed(Exception):
    """Nothing was written; `problems` lists every reason, in file order."""

    def __init__(self, problems):
        self.problems = sorted(problems)
        super().__init__(f"{len(self.problems)} problem(s) found; nothing was imported.")


@dataclass
class ImportReport:
    file_sha256: str
    rows: int
    dry_run: bool
    created: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    new: dict = field(default_factory=dict)

    def counts(self):
        return {
            "rows": self.rows, "incidents": len(self.created) + len(self.changed) + len(self.unchanged),
            "created": len(self.created), "changed": len(self.changed), "unchanged": len(self.unchanged),
            "new": {kind: len(names) for kind, names in self.new.items()},
        }

    def lines(self):
        would = "would be " if self.dry_run else ""
        counts = self.counts()
        lines = ["Dry run: nothing was written."] if self.dry_run else []
        lines.append(
            f"{counts['rows']} rows, {counts['incidents']} incidents: {counts['created']} {would}created, "
            f"{counts['changed']} {would}changed (a new revision for review), {counts['unchanged']} unchanged (skipped)."
        )
        for kind, names in self.new.items():
            shown = ", ".join(_short(name) for name in names[:6]) + (", ..." if len(names) > 6 else "")
            lines.append(f"New {NEW_LABELS[kind]}: {len(names)} ({shown})")
        for verb, refs in (("created", self.created), ("changed", self.changed), ("unchanged", self.unchanged)):
            if refs:
                lines.append(f"{verb.capitalize()}: {', '.join(refs)}")
        if not self.dry_run and (self.created or self.changed):
            lines.append("Every created or changed incident was submitted for review.")
        return lines


def _short(text, limit=60):
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Resolver:
    """The archive's taxonomies, organizations and sources, loaded once per import."""

    def __init__(self, rows):
        self.conflicts = Matcher(Conflict)
        self.sides = Matcher(Side)
        self.side_by_pk = {side.pk: side for side in self.sides.index.values()}
        self.parties = Matcher(Party)
        self.places = Matcher(Place)
        self.weapons = Matcher(WeaponType)
        self.violations = taxonomy.violation_matcher()
        self.organizations = {key(organization.name): organization for organization in Organization.objects.all()}
        self.sources = _existing_sources(rows)
        self.new = []
        self.saved = {}

    def real(self, obj):
        return None if obj is None else self.saved.get(id(obj), obj)

    def _add(self, obj, matcher=None):
        if matcher is not None:
            matcher.add(obj)
        self.new.append(obj)
        return obj

    def _named(self, matcher, model, name):
        return matcher.find(name) or self._add(model(name=name), matcher)

    def resolve(self, row, problems):
        """The row's values with names replaced by taxonomy entries (found, or new and unsaved).

        A column with a problem is left out, so that it is not also reported as disagreeing with other rows.
        """
        found = len(problems)
        data = self._resolved(row, problems)
        for problem in problems[found:]:
            data.pop(problem.column, None)
        return data

    def _resolved(self, row, problems):
        data = dict(row.values)
        if "conflict" in data:
            data["conflict"] = self._named(self.conflicts, Conflict, data["conflict"]) if data["conflict"] else None
        if "place" in data:
            data["place"] = self._place(row, problems)
        if "alleged_perpetrator" in data and "perpetrator_side" in data:
            data["perpetrator"], data["perpetrator_side"] = self._attribution(row, problems)
        if "violation_types" in data:
            data["violation_types"] = self._violations(row, problems)
        if "weapons" in data:
            data["weapons"] = [
                self.weapons.find(name) or self._add(WeaponType(name=name, needs_curation=True), self.weapons)
                for name in data["weapons"]
            ]
        if "source_organization" in data:
            data["organization"] = self._organization(data["source_organization"])
            if {"source_url", "source_title", "source_kind", "source_date"} <= data.keys():
                data["source"] = self._source(row, data, problems)
        return data

    def _place(self, row, problems):
        values = row.values
        name, aliases = values["place"]
        place = self.places.find(name)
        for alias in aliases:
            place = place or self.places.find(alias)
        latitude, longitude = values.get("latitude"), values.get("longitude")
        if place is None:
            return self._add(Place(
                name=name, aliases="\n".join(aliases), admin_area=values.get("admin_area", ""),
                country=values.get("country", ""), latitude=latitude, longitude=longitude,
                geo_precision=values.get("geo_precision") or "unknown",
            ), self.places)
        if latitude is not None and longitude is not None and place.latitude is not None:
            for column, stored, given in (("latitude", place.latitude, latitude), ("longitude", place.longitude, longitude)):
                if interchange.coordinates_differ(stored, given):
                    problems.append(Problem(row.line, column, (
                        f"the place {place} is recorded at {place.latitude}, {place.longitude}; this row gives "
                        f"{latitude}, {longitude}. Correct the row, or the place in the archive first."
                    )))
                    break
        return place

    def _side_of(self, party):
        return self.side_by_pk.get(party.side_id) if party.pk is not None else party.side

    def _attribution(self, row, problems):
        party_name, side_name = row.values["alleged_perpetrator"], row.values["perpetrator_side"]
        side = self._named(self.sides, Side, side_name) if side_name else None
        if not party_name:
            return None, side
        party = self.parties.find(party_name)
        if party is None:
            return self._add(Party(name=party_name, side=side), self.parties), side
        recorded = self._side_of(party)
        if side is None:
            return party, recorded
        if recorded is not None and ident(recorded) != ident(side):
            problems.append(Problem(
                row.line, "perpetrator_side", f"{party} is recorded on the side {recorded}, not {side_name!r}"
            ))
        return party, side

    def _violations(self, row, problems):
        found = []
        for name in row.values["violation_types"]:
            violation = self.violations.find(name)
            if violation is None:
                known = ", ".join(sorted({v.slug for v in self.violations.index.values()}))
                problems.append(Problem(row.line, "violation_types", f"unknown violation type {name!r}; known: {known}"))
            else:
                found.append(violation)
        return found

    def _organization(self, name):
        organization = self.organizations.get(key(name))
        if organization is None:
            organization = self.organizations[key(name)] = self._add(Organization(name=name, kind="unknown"))
        return organization

    def _source(self, row, data, problems):
        url, title, kind, date = data["source_url"], data["source_title"], data["source_kind"], data["source_date"]
        published_on, form = (date[0], date[2]) if date else (None, "")
        organization = data["organization"]
        source_key = _source_key(ident(organization), url, title, published_on, form)
        source = self.sources.get(source_key)
        if source is None:
            source = self.sources[source_key] = self._add(Source(
                organization=organization, title=title, kind=kind or "report", published_on=published_on,
                published_form=form, url=url,
            ))
            return source
        recorded = {
            "source_title": (title, source.title),
            "source_kind": (kind, source.kind),
            "source_date": ((published_on, form) if date else "", (source.published_on, source.published_form)),
        }
        where = "already recorded" if source.pk is not None else "given on an earlier row"
        for column, (given, stored) in recorded.items():
            if given and given != stored:
                problems.append(Problem(row.line, column, (
                    f"{row.cells[column].strip()!r} differs from the source {where} for this "
                    f"{'address' if url else 'title and date'} ({_stored_text(column, source)!r})"
                )))
        return source


def _stored_text(column, source):
    if column == "source_date":
        return format_partial(source.published_on, source.published_form)
    return source.title if column == "source_title" else source.kind


def _source_key(organization, url, title, published_on, form):
    return (organization, "url", url) if url else (organization, "title", title, published_on, form)


def _chunks(items):
    items = sorted(items)
    return [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _existing_sources(rows):
    """Sources the file may cite again, indexed like `_source_key`; the oldest wins when several match."""
    urls = {row.values.get("source_url") for row in rows} - {None, ""}
    titles = {row.values.get("source_title") for row in rows if not row.values.get("source_url")} - {None}
    queries = [Q(url__in=chunk) for chunk in _chunks(urls)] + [Q(url="", title__in=chunk) for chunk in _chunks(titles)]
    found = {}
    for query in queries:
        for source in Source.objects.filter(query).select_related("organization").order_by("id"):
            source_key = _source_key(
                ("Organization", source.organization_id), source.url, source.title, source.published_on,
                source.published_form,
            )
            if source_key not in found or source.pk < found[source_key].pk:
                found[source_key] = source
    return found


def _carried_over(allegations, incident):
    """What the format has no column for (party responses, citation locators) is kept from the stored incident."""
    stored = {}
    for allegation in data_from_incident(incident)[1]:
        stored.setdefault((ident(allegation.perpetrator), ident(allegation.perpetrator_side)), allegation)
    result = []
    for allegation in allegations:
        old = stored.get((ident(allegation.perpetrator), ident(allegation.perpetrator_side)))
        if old is None:
            result.append(allegation)
            continue
        locators = defaultdict(list)
        for citation in old.citations:
            locators[(citation.source.pk, citation.quote)].append(citation.locator)
        citations = [
            replace(c, locator=(locators[(c.source.pk, c.quote)] or [""]).pop(0)) for c in allegation.citations
        ]
        result.append(replace(allegation, party_response=old.party_response, citations=citations))
    return result


def _matches(plan, incident):
    fields = {**plan.fields, "visibility": incident.visibility}
    return build_document(fields, _carried_over(plan.allegations, incident)) == document_of(incident)


def _decide(plan, record, copy, actor, problems):
    """Unchanged, or changed (and then which revision to edit), or a problem."""
    if _matches(plan, record) or (copy is not None and _matches(plan, copy)):
        plan.action = "unchanged"
        return
    target = copy or record
    if target.status == Status.IN_REVIEW:
        what = "a new revision of it is" if copy is not None else "it is"
        problems.append(Problem(plan.line, "incident_ref", (
            f"{plan.reference_code} differs from the archive, but {what} in review; nothing was imported. "
            "Import again once the review is decided (or after the reviewer requests changes)."
        )))
        return
    if actor is not None and not services.can_edit(actor, target):
        problems.append(Problem(plan.line, "incident_ref", (
            f"{plan.reference_code} differs from the archive, but it is a {target.get_status_display().lower()} "
            "revision by other researchers; only its authors can change it."
        )))
        return
    plan.action, plan.target = "change", target
    plan.fields["visibility"] = target.visibility
    plan.base_sha256 = sha256_of(document_of(target))
    plan.allegations = _carried_over(plan.allegations, target)


def _compare_with_archive(plans, actor, problems):
    references = [plan.reference_code for plan in plans]
    records, copies = {}, {}
    for chunk in _chunks(references):
        for incident in Incident.objects.for_detail().filter(draft_of__isnull=True, reference_code__in=chunk):
            records[incident.reference_code] = incident
    for chunk in _chunks([record.pk for record in records.values()]):
        for copy in Incident.objects.for_detail().filter(draft_of__in=chunk):
            copies[copy.draft_of_id] = copy
    for plan in plans:
        record = records.get(plan.reference_code)
        if record is not None:
            _decide(plan, record, copies.get(record.pk), actor, problems)


def _prepare(table, actor):
    """Resolve, group and compare every row; raise ImportFailed with every problem found."""
    problems = list(table.problems)
    resolver = Resolver(table.rows)
    resolved = [resolver.resolve(row, problems) for row in table.rows]
    plans = interchange.build_plans(table.rows, resolved, problems)
    faulty = {problem.line for problem in problems}
    _compare_with_archive([plan for plan in plans if not plan.lines & faulty], actor, problems)
    if problems:
        raise ImportFailed(problems)
    return resolver, plans


def _report(data, table, resolver, plans, dry_run):
    report = ImportReport(hashlib.sha256(data).hexdigest(), len(table.rows), dry_run)
    for plan in plans:
        {"create": report.created, "change": report.changed, "unchanged": report.unchanged}[plan.action].append(
            plan.reference_code
        )
    for obj in resolver.new:
        report.new.setdefault(obj._meta.model_name, []).append(str(obj))
    return report


def _create_new(resolver, actor):
    """Save what the file names for the first time, in file order; each run of new sources in one batch."""
    for is_source, run in groupby(resolver.new, key=lambda obj: isinstance(obj, Source)):
        if is_source:
            run = list(run)
            saved = source_services.add_sources(actor=actor, via="import", sources=[
                {"organization": resolver.real(source.organization), "title": source.title, "kind": source.kind,
                 "published_on": source.published_on, "published_form": source.published_form, "url": source.url}
                for source in run
            ])
            resolver.saved.update(zip(map(id, run), saved))
        else:
            for obj in run:
                resolver.saved[id(obj)] = _create(obj, resolver, actor)


def _create(obj, resolver, actor):
    via = "import"
    if isinstance(obj, Conflict):
        return taxonomy.add_conflict(actor=actor, name=obj.name, via=via)
    if isinstance(obj, Side):
        return taxonomy.add_side(actor=actor, name=obj.name, via=via)
    if isinstance(obj, Party):
        return taxonomy.add_party(actor=actor, name=obj.name, side=resolver.real(obj.side), via=via)
    if isinstance(obj, Place):
        return taxonomy.add_place(
            actor=actor, name=obj.name, aliases=obj.alias_list(), admin_area=obj.admin_area, country=obj.country,
            latitude=obj.latitude, longitude=obj.longitude, geo_precision=obj.geo_precision, via=via,
        )
    if isinstance(obj, WeaponType):
        return taxonomy.add_weapon_type(actor=actor, name=obj.name, via=via)
    return source_services.add_organization(actor=actor, name=obj.name, kind="unknown", via=via)


def _saved_content(plan, resolver):
    real = resolver.real
    fields = {name: real(value) if hasattr(value, "_meta") else value for name, value in plan.fields.items()}
    allegations = [
        replace(
            allegation,
            perpetrator=real(allegation.perpetrator),
            perpetrator_side=real(allegation.perpetrator_side),
            weapons=[real(weapon) for weapon in allegation.weapons],
            citations=[replace(citation, source=real(citation.source)) for citation in allegation.citations],
        )
        for allegation in plan.allegations
    ]
    return fields, allegations


def _write(plan, resolver, actor):
    fields, allegations = _saved_content(plan, resolver)
    try:
        if plan.action == "create":
            incident = services.record_incident(actor=actor, fields=fields, allegations=allegations, via="import")
        else:
            incident = services.edit_incident(
                actor=actor, incident=plan.target, fields=fields, allegations=allegations,
                base_sha256=plan.base_sha256, via="import",
            )
        # What was just written, so that submitting does not read it back.
        services.submit(actor=actor, incident=incident, document=build_document(fields, allegations))
    except services.ServiceError as error:
        raise ImportFailed([Problem(plan.line, "incident_ref", f"{plan.reference_code}: {error.message}")]) from error
    except ValidationError as error:
        message = "; ".join(error.messages)
        raise ImportFailed([Problem(plan.line, "incident_ref", f"{plan.reference_code}: {message}")]) from error


def check_importer(actor, dry_run):
    if actor is None:
        if dry_run:
            return
        raise services.PermissionRefused("Say who is importing: imported incidents are authored by a researcher.")
    if not roles.is_researcher(actor):
        raise services.PermissionRefused(f"{actor.get_username()} is not a researcher; only researchers can import incidents.")


def import_incidents(data, *, actor, dry_run=False, filename=""):
    """Import the bytes of an interchange CSV as `actor`; all rows or none. Returns an ImportReport."""
    check_importer(actor, dry_run)
    table = interchange.read(data)
    if table.problems and not table.rows:
        raise ImportFailed(table.problems)
    if dry_run:
        resolver, plans = _prepare(table, actor)
        return _report(data, table, resolver, plans, dry_run=True)
    try:
        return _import(data, table, actor, filename)
    except IntegrityError as error:
        raise ImportFailed([Problem(0, "", (
            f"The archive changed while the file was being imported ({error}); nothing was imported. Run it again."
        ))]) from error


@transaction.atomic
def _import(data, table, actor, filename):
    resolver, plans = _prepare(table, actor)
    with audit.batched(), services.batched():
        _create_new(resolver, actor)
        for plan in plans:
            if plan.action != "unchanged":
                _write(plan, resolver, actor)
        report = _report(data, table, resolver, plans, dry_run=False)
        if report.created or report.changed:
            audit.record(actor=actor, action="import", changes={
                "file_sha256": report.file_sha256, "filename": filename, **report.counts(),
                "created_refs": report.created, "changed_refs": report.changed,
            })
    return report


@transaction.atomic
def update_weapon_type(*, actor, weapon, via="load_weapon_types", **values):
    """Change a weapon type's classification, with its audit entry; aliases are only ever added."""
    weapon = WeaponType.objects.select_for_update().get(pk=weapon.pk)
    if "aliases" in values:
        known = {key(alias) for alias in weapon.alias_list()} | {key(weapon.name)}
        added = [alias for alias in values.pop("aliases") if key(alias) not in known]
        values["aliases"] = "\n".join([*weapon.alias_list(), *added])
    changed = {name: [getattr(weapon, name), value] for name, value in values.items() if getattr(weapon, name) != value}
    if not changed:
        return weapon, {}
    for name, (_, value) in changed.items():
        setattr(weapon, name, value)
    weapon.full_clean()
    weapon.save(update_fields=list(changed))
    if tally.WEAPON_FIELDS & set(changed):
        tally.refresh_where(weapons=weapon)
    audit.record(actor=actor, action="weapontype.update", target=weapon, changes={"via": via, "changed": changed})
    return weapon, changed


def load_weapon_types(data, *, actor, dry_run=False):
    """Create or update weapon types from a curated list; returns {"created"|"updated"|"unchanged": [names]}."""
    table = interchange.read_weapon_types(data)
    if table.problems:
        raise ImportFailed(table.problems)
    outcome = {"created": [], "updated": [], "unchanged": []}
    with transaction.atomic():
        existing = {key(weapon.name): weapon for weapon in WeaponType.objects.all()}
        for row in table.rows:
            values = {**row.values, "needs_curation": False}
            name = values.pop("name")
            weapon = existing.get(key(name))
            if weapon is None:
                if not dry_run:
                    values["aliases"] = "\n".join(a for a in values["aliases"] if key(a) != key(name))
                    existing[key(name)] = taxonomy.add_weapon_type(actor=actor, name=name, via="load_weapon_types", **values)
                outcome["created"].append(name)
                continue
            if dry_run:
                changed = _weapon_changes(weapon, values)
            else:
                _, changed = update_weapon_type(actor=actor, weapon=weapon, **values)
            outcome["updated" if changed else "unchanged"].append(name)
    return outcome


def _weapon_changes(weapon, values):
    known = {key(alias) for alias in weapon.alias_list()} | {key(weapon.name)}
    new_aliases = [alias for alias in values["aliases"] if key(alias) not in known]
    return new_aliases or [name for name, value in values.items() if name != "aliases" and getattr(weapon, name) != value]
