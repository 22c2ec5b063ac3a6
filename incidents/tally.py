"""The balance tally: the balance view's counts kept as running totals, for the archive and for each conflict.

Counting every allegation, citation and link on each request costs seconds at
100,000 incidents, and at 1,000,000 a filter that matches half the archive
costs many seconds however it is counted. Instead, the *facts* each record
incident adds to the balance (its allegations, each with its side, party,
confidence, violation types, weapons' categories and cited organizations, and
its casualty figures) are read from its rows when a service writes it and
stored beside it (IncidentTally). Its *contribution* is counted from them (its
allegations by side, party and confidence, violation type, weapon category and
cited organization, and its casualty figures once per side, party,
unattributed and in all) and added to the totals (BalanceTally) under the
incident's status, visibility and conflict; the previous contribution, counted
from the facts stored before, is taken out first.

The same contribution is counted again for each *facet* of the incident: the
allegations of one weapon category, one violation type, one confidence grade,
citing one reporting organization or one of a kind (an NGO, a
party-affiliated source...), or those naming a cluster munition, as the list
filter of that one value selects them (a facet of one weapon category
counts only that category in the weapon table, one organization only its own
citations in the sources table, as the live count does). So a balance whose filter names only
conflicts, statuses, at most one side, one party or the unattributed
allegations, and at most one such facet value, is the sum of a few hundred
rows (casualties are also kept per side and party pair for that).

Two or three values of a weapon category, violation type or confidence grade,
and two organizations (JOINT_FACETS, JOINT_VALUES), are answered too, by
inclusion and exclusion: the allegations of category A or B are those of A,
plus those of B, less those of both. So each combination of two or three of an
incident's values is a *joint* facet (`joint()`): its allegations are those
with all of them, and the incident counts in a casualty column (all, a
side's...) whose allegations have all of them between them.

The totals without a facet are also kept by the months the incident's span
starts and ends in (BalanceTallyByMonth), so a filter of whole months is exact
too: a span overlaps months F..T when it starts by T and ends from F. For the
timeline, the incidents of each facet value (all, each side's, the
unattributed allegations') are kept by those months too (TimelineTally): the
timeline of one weapon category, violation type, organization or grade, over
whole months, is a sum of them, and so are the list's counts of one facet
value over whole months (the allegations of each side are kept there too).
Any other filter (a day within a month, three organizations, two kinds of
organization, four weapon categories...) is counted from the column copy of
these same facts held in memory (`incidents.columnar`), or live from the
allegations that match it (`incidents.balance`): weapon types and words,
which the copy does not hold, and any filter while the copy is read.

Contributions count what the live queries count, so both give the same
numbers; `tests/test_balance_tally.py` holds them to it. The totals are keyed
by ids and values: names and slugs are read when the page is drawn. Facts
outside an incident are counted in it, a weapon type's category, a source's
organization and an organization's kind and affiliation: the writes that
change them recount the incidents concerned (`refresh_where()`). `rebuild()`
(and `manage.py rebuild_tally`) recounts everything, after a bulk load.
"""
from collections import Counter
from itertools import combinations

from django.apps import apps as installed_apps
from django.db import connection, transaction

CASUALTIES = ["civilians_killed_min", "civilians_killed_max", "civilians_injured_min", "civilians_injured_max"]
CHUNK = 2000
APPLY_EVERY = 200_000  # rebuild_tally of 10^5 incidents (one group) peaked at 0.9 GB
# The list filters whose single value the totals are also kept for.
FACETS = ("weapon_category", "violation", "confidence", "cluster", "organization", "organization_kind")
# Facets whose filters of several values the totals answer too, up to JOINT_VALUES of them: by inclusion and
# exclusion over the totals of each value and of each combination of them ("joint" facets). Organizations up to
# two: an incident cites three or four of them (3.3 in the synthetic archives), and their pairs took the balance's
# totals of 10^6 synthetic incidents from 4.5 to 8.6 million rows. Their threes would add more than the pairs did:
# counted at 10^5, 1.7 million rows to the balance's totals (the pairs added 1.3) and 0.9 to the timeline's (0.8).
JOINT_VALUES = {"weapon_category": 3, "violation": 3, "confidence": 3, "organization": 2}
JOINT_FACETS = tuple(JOINT_VALUES)
# A weapon type's fields that its incidents' contributions count: a change to one recounts them.
WEAPON_FIELDS = {"category", "is_cluster_munition"}


def _models(apps):
    """The models, with the totals' tables (BalanceTally, BalanceTallyByMonth, TimelineTally): the last None in a
    migration before it existed (0017 and 0019 count with this module)."""
    get = apps.get_model
    try:
        by_facet_month = get("incidents", "TimelineTally")
    except LookupError:
        by_facet_month = None
    return (get("incidents", "Incident"), get("incidents", "Allegation"), get("sources", "Citation"),
            (get("incidents", "BalanceTally"), get("incidents", "BalanceTallyByMonth"), by_facet_month),
            get("incidents", "IncidentTally"))


def _id(value):
    return value or 0


def facet(name, value):
    """The facet key of one filter value: "weapon_category=explosive", "violation=12", "cluster=yes"; of a
    combination of values (a tuple, in their order), the joint facet: "violation=3&12"."""
    if isinstance(value, tuple):
        return f"{name}={'&'.join(map(str, value))}"
    return f"{name}={value}"


def joint(name, values):
    """[(facet key, sign)]: the totals whose signed sum are those of the allegations with any of these values of
    one of JOINT_FACETS (inclusion and exclusion): + each value's, - each pair's, + each three's..."""
    values = sorted(set(values))
    return [(facet(name, combination if size > 1 else combination[0]), 1 if size % 2 else -1)
            for size in range(1, len(values) + 1) for combination in combinations(values, size)]


def facts(incident_ids, apps=installed_apps):
    """{incident id: facts} read from the stored rows: {"allegations": [[side id, party id, confidence,
    [violation type ids], [[weapon category, 1 if a cluster munition else 0], ...], [organization id of each
    citation]], ...], "figures": [the four casualty figures], "kinds": {organization id: its values of the
    organization_kind filter (`kinds_of()`)}, of the organizations cited}; ids 0 for none."""
    Incident, Allegation, Citation, _, _ = _models(apps)
    incident_ids = list(incident_ids)
    rows, result = {}, {}
    for pk, *figures in Incident.objects.filter(pk__in=incident_ids).order_by().values_list("pk", *CASUALTIES):
        result[pk] = {"allegations": [], "figures": figures, "kinds": {}}
    for pk, incident_id, side, party, confidence in Allegation.objects.filter(
            incident_id__in=incident_ids).order_by("pk").values_list(
            "pk", "incident_id", "perpetrator_side_id", "perpetrator_id", "confidence"):
        rows[pk] = [_id(side), _id(party), confidence, [], [], []]
        result[incident_id]["allegations"].append(rows[pk])
    violations = Allegation.violation_types.through.objects.filter(allegation__incident_id__in=incident_ids)
    for allegation, violation in violations.order_by().values_list("allegation_id", "violationtype_id"):
        rows[allegation][3].append(violation)
    weapons = Allegation.weapons.through.objects.filter(allegation__incident_id__in=incident_ids)
    for allegation, category, cluster in weapons.order_by().values_list(
            "allegation_id", "weapontype__category", "weapontype__is_cluster_munition"):
        weapon = [category, 1 if cluster == "yes" else 0]
        if weapon not in rows[allegation][4]:
            rows[allegation][4].append(weapon)
    citations = Citation.objects.filter(allegation__incident_id__in=incident_ids)
    for incident_id, allegation, organization, kind, affiliated in citations.order_by().values_list(
            "allegation__incident_id", "allegation_id", "source__organization_id", "source__organization__kind",
            "source__organization__is_party_affiliated"):
        rows[allegation][5].append(organization)
        result[incident_id]["kinds"][str(organization)] = kinds_of(kind, affiliated)
    for row in rows.values():  # the same facts however the rows were read
        row[3].sort()
        row[4].sort()
        row[5].sort()
    return result


def kinds_of(kind, is_party_affiliated):
    """An organization's values of the organization_kind filter: its kind, and whether it is affiliated with a
    party or independent of them (`filters.ORGANIZATION_KIND_CHOICES`)."""
    return [kind, "party_affiliated" if is_party_affiliated else "independent"]


def contribution(facts, counts=None, key=(), sign=1, facets=None, joints=None):
    """What an incident with these facts adds to the totals, without a facet ("") and for each facet value
    among its allegations: into `counts` (a new Counter if none), keyed (*key, facet, section, side id,
    party id, name), each count times `sign`. `key` is the incident's (status, visibility, conflict, first month,
    last month) or nothing. With `facets` (some of FACETS), only those facets' totals are counted (a migration
    adding one), and only the joint facets named in `joints` (all of JOINT_FACETS when `facets` is None).

    A joint facet of two or more values of one of JOINT_FACETS (`joint()`, up to its JOINT_VALUES) counts the
    allegations that have all of them, and each incident in the columns (all, a side's, a party's...) whose
    allegations have all of them between them: what inclusion and exclusion take out again. It keeps no row of
    the facet's own table (the weapon table of weapon categories, the violation table of violation types, the
    sources table of organizations): a value's own facet counts only that value there, so the sum of theirs is
    already that table for several values."""
    counts = Counter() if counts is None else counts
    allegations, figures, kinds = facts["allegations"], facts["figures"], facts.get("kinds", {})
    if facets is None:
        _count(counts, (*key, ""), allegations, figures, sign)
    values = {name: set() for name in FACETS}
    for _side, _party, confidence, violation_ids, weapons, organization_ids in allegations:
        values["confidence"].add(confidence)
        values["violation"].update(violation_ids)
        values["organization"].update(organization_ids)
        for organization_id in organization_ids:
            values["organization_kind"].update(kinds.get(str(organization_id), ()))
        for category, is_cluster in weapons:
            values["weapon_category"].add(category)
            if is_cluster:
                values["cluster"].add("yes")
    for name in FACETS if facets is None else facets:
        selects = _selects(name, kinds)
        for value in values[name]:
            _count(counts, (*key, facet(name, value)), [a for a in allegations if selects(a, value)],
                   figures, sign, kinds=kinds, **{name: value})
    if joints is None:
        joints = JOINT_FACETS if facets is None else ()
    for name in joints:
        present = sorted(values[name])
        if len(present) < 2:
            continue
        selects = _selects(name, kinds)
        selected = {value: [a for a in allegations if selects(a, value)] for value in present}
        for size in range(2, JOINT_VALUES[name] + 1):
            for combination in combinations(present, size):
                _count(counts, (*key, facet(name, combination)),
                       [a for a in selected[combination[0]] if all(selects(a, value) for value in combination[1:])],
                       figures, sign, columns=set.intersection(*(_columns(selected[value]) for value in combination)),
                       without=_OWN_TABLE[name])
    return counts


# Whether an allegation's facts ([side, party, confidence, violations, weapons, organizations]) are among those
# the list filter of one facet's value selects.
_SELECTS = {
    "weapon_category": lambda allegation, category: any(c == category for c, _ in allegation[4]),
    "violation": lambda allegation, violation: violation in allegation[3],
    "confidence": lambda allegation, grade: allegation[2] == grade,
    "cluster": lambda allegation, _yes: any(is_cluster for _, is_cluster in allegation[4]),
    "organization": lambda allegation, organization: organization in allegation[5],
}


def _selects(name, kinds):
    """`_SELECTS` of a facet; of organization_kind, by the kinds of the incident's organizations (`facts()`)."""
    if name == "organization_kind":
        return lambda allegation, value: any(value in kinds.get(str(o), ()) for o in allegation[5])
    return _SELECTS[name]


# The section in which a joint facet's values count only themselves, where it keeps no rows (a confidence grade's
# allegations are all of it: its joint facets have none).
_OWN_TABLE = {"weapon_category": "weapon", "violation": "violation", "confidence": None,
              "organization": "organization"}


def _columns(allegations):
    """The (section, side id, party id) of the casualty columns that count an incident with these allegations:
    all, each side's and party's, each pair of them, the unattributed."""
    columns = {("casualties_all", 0, 0)}
    for side, party, *_ in allegations:
        if side:
            columns.add(("casualties_side", side, 0))
        if party:
            columns.add(("casualties_party", 0, party))
        if side and party:
            # For a balance of one side's (or one party's) allegations: each party's (side's) share of them.
            columns.add(("casualties_pair", side, party))
        if not side and not party:
            columns.add(("casualties_unattributed", 0, 0))
    return columns


def _count(counts, key, allegations, figures, sign, violation=None, weapon_category=None, cluster=None,
           organization=None, confidence=None, organization_kind=None, kinds=None, columns=None, without=None):
    """Add the contribution of these allegations (and the incident's figures) under `key` (ending with the
    facet). A facet of one violation type, weapon category or organization (or of cluster munitions) counts
    only those in its own table; the keyword named after the facet holds its value (a confidence grade's
    allegations are already all of that grade); one kind of organization, the organizations of that kind
    (`kinds`, of `facts()`). The incident counts in the casualty `columns` given, else in those of these
    allegations; the section `without` is left out."""
    for side, party, grade, violation_ids, weapons, organizations in allegations:
        counts[(*key, "allegations", side, party, grade)] += sign
        if without != "violation":
            for violation_id in violation_ids:
                if violation is None or violation_id == violation:
                    counts[(*key, "violation", side, party, str(violation_id))] += sign
        # An allegation naming two weapons of one category counts once under it.
        if without != "weapon":
            for category in {c for c, is_cluster in weapons
                             if (weapon_category is None or c == weapon_category) and (is_cluster or not cluster)}:
                counts[(*key, "weapon", side, party, category)] += sign
        for organization_id in organizations if without != "organization" else ():
            if organization is not None and organization_id != organization:
                continue
            if organization_kind is not None and organization_kind not in kinds.get(str(organization_id), ()):
                continue
            counts[(*key, "organization", side, party, str(organization_id))] += sign
    known = [(f"total_{name}", f"known_{name}", value * sign)
             for name, value in zip(CASUALTIES, figures) if value is not None]
    for section, side, party in _columns(allegations) if columns is None else columns:
        column = (*key, section, side, party)
        counts[(*column, "incidents")] += sign
        for total, count, value in known:
            counts[(*column, total)] += value
            counts[(*column, count)] += sign


def month(day):
    """A date's month as a number, YYYYMM; 0 for no date."""
    return day.year * 100 + day.month if day else 0


def months_of(date_start, date_end, precision):
    """(first month, last month) of the incident's span as the date filters read it (filters.overlapping()):
    to its end date, or else to the end of the month or year its precision names, or its start day."""
    if date_start is None:
        return 0, 0
    if date_end is not None:
        return month(date_start), month(date_end)
    if precision == "year":
        return month(date_start), date_start.year * 100 + 12
    return month(date_start), month(date_start)


def _record_keys(incident_ids, Incident):
    """{id: (status, visibility, conflict id, first month, last month)} of the record incidents among these
    (working copies count for nothing)."""
    rows = Incident.objects.filter(pk__in=incident_ids, draft_of__isnull=True).order_by().values_list(
        "pk", "status", "visibility", "conflict_id", "date_start", "date_end", "date_precision")
    return {pk: (status, visibility, _id(conflict), *months_of(start, end, precision))
            for pk, status, visibility, conflict, start, end, precision in rows}


KEY = "facet, status, visibility, conflict_id, section, side_id, party_id, key"
MONTH_KEY = "status, visibility, conflict_id, section, side_id, party_id, key, first_month, last_month"
TIMELINE_KEY = "facet, status, visibility, conflict_id, section, side_id, first_month, last_month"
# The columns of incidents the timeline's rows read: all, each side's, the unattributed allegations'. TimelineTally
# also keeps the allegations of each side, by month ("allegations"), for the list's counts.
TIMELINE_SECTIONS = ("casualties_all", "casualties_side", "casualties_unattributed")


def _split(contributions):
    """Contributions (keyed with the months, as `contribution()` counts them) as the deltas of each table's
    rows, keyed (table, *row key): 0 BalanceTally, every key summed over the months; 1 BalanceTallyByMonth, the
    keys without a facet; 2 TimelineTally, of every facet value and of none (""), the incidents in the
    timeline's columns and the allegations of each side. Many incidents' deltas are summed in this form (the
    contributions of a facet's keys by month would take ten times the memory)."""
    deltas = Counter()
    for (status, visibility, conflict, first, last, facet, *rest), n in contributions.items():
        deltas[(0, facet, status, visibility, conflict, *rest)] += n
        if not facet:
            deltas[(1, status, visibility, conflict, *rest, first, last)] += n
        if rest[0] == "allegations":  # each side's, whatever the party or grade
            deltas[(2, facet, status, visibility, conflict, "allegations", rest[1], first, last)] += n
        elif rest[3] == "incidents" and rest[0] in TIMELINE_SECTIONS:
            deltas[(2, facet, status, visibility, conflict, rest[0], rest[1], first, last)] += n
    return deltas


def _add(deltas, tables):
    """Move the totals by `deltas` (`_split()`): insert a key's row, or add to the row there. A table given as
    None is left alone."""
    by_table = ({}, {}, {})
    for (table, *key), n in deltas.items():
        by_table[table][tuple(key)] = n
    for model, key, counted in zip(tables, (KEY, MONTH_KEY, TIMELINE_KEY), by_table):
        if model is not None:
            _upsert(model, key, counted)


def _upsert(model, key, deltas):
    """Insert each key's row, or add to the row already there: on PostgreSQL, every delta copied into a temporary
    table (COPY) and added from there by one statement; elsewhere one statement per 500 keys, written out.

    Written out for PostgreSQL, a statement of 500 keys held 4,500 placeholders, too long for psycopg to keep
    parsed: it parsed each one anew, and synth spent 80% of its time on the totals. Synth of 4,000 incidents
    took 121 s that way, 69 s with each column sent as one array (`unnest`), 49 s copied."""
    rows = [(*key_values, n) for key_values, n in sorted(deltas.items()) if n]
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    width = key.count(",") + 2
    added = f"ON CONFLICT ({key}) DO UPDATE SET n = {table}.n + excluded.n"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # (One left by a statement that failed outside a transaction would be in the way.)
            cursor.execute("DROP TABLE IF EXISTS tally_deltas")
            cursor.execute(f"CREATE TEMPORARY TABLE tally_deltas AS SELECT {key}, n FROM {table} WITH NO DATA")
            with cursor.cursor.copy(f"COPY tally_deltas ({key}, n) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            # In the keys' order, as the statements written out are: two writes adding to the same totals lock
            # them in the same order.
            cursor.execute(f"INSERT INTO {table} ({key}, n) SELECT {key}, n FROM tally_deltas ORDER BY {key} {added}")
            cursor.execute("DROP TABLE tally_deltas")
            return
        for start in range(0, len(rows), 500):
            batch = rows[start:start + 500]
            cursor.execute(
                f"INSERT INTO {table} ({key}, n) VALUES {', '.join(['(' + ', '.join(['%s'] * width) + ')'] * len(batch))} "
                f"{added}", [value for row in batch for value in row],
            )


def _stored(tally):
    return (tally.status, tally.visibility, tally.conflict_id, tally.first_month, tally.last_month)


def refresh(incident_ids, apps=installed_apps):
    """Recount these incidents and move the totals by the difference; run inside the write that changed them."""
    _, _, _, _, IncidentTally = _models(apps)
    incident_ids = list(incident_ids)
    before = Counter()
    for tally in IncidentTally.objects.filter(incident_id__in=incident_ids):
        contribution(tally.facts, before, _stored(tally), sign=-1)
    IncidentTally.objects.filter(incident_id__in=incident_ids).delete()
    add_new(incident_ids, apps, _split(before))


def add_new(incident_ids, apps=installed_apps, deltas=None, defer=False, joints=None):
    """Add the contributions of incidents that have none stored (a bulk load's new rows), with `deltas` (of
    `_split()`) if given.

    With `defer`, store the incidents' facts but leave the totals: return the deltas, for `apply()` to add
    with those of later batches (a bulk load then moves each total once, not once per batch)."""
    Incident, _, _, tables, IncidentTally = _models(apps)
    deltas = Counter() if deltas is None else deltas
    keys = _record_keys(incident_ids, Incident)
    now = facts(list(keys), apps)
    added = Counter()
    for pk, incident_facts in now.items():
        contribution(incident_facts, added, keys[pk], joints=joints)
    deltas.update(_split(added))
    if not defer:
        _add(deltas, tables)
    IncidentTally.objects.bulk_create(
        [IncidentTally(incident_id=pk, status=keys[pk][0], visibility=keys[pk][1], conflict_id=keys[pk][2],
                       first_month=keys[pk][3], last_month=keys[pk][4], facts=incident_facts)
         for pk, incident_facts in now.items()],
        batch_size=500,
    )
    return deltas


def apply(deltas):
    """Move the totals by deltas that `add_new(..., defer=True)` returned."""
    _add(deltas, _models(installed_apps)[3])


def moved(incident):
    """The incident's status changed and its content did not: move its stored contribution to the new status."""
    _, _, _, tables, IncidentTally = _models(installed_apps)
    stored = IncidentTally.objects.filter(incident_id=incident.pk).first()
    if stored is None:
        return refresh([incident.pk])
    after = (incident.status, incident.visibility, _id(incident.conflict_id), stored.first_month, stored.last_month)
    deltas = contribution(stored.facts, key=_stored(stored), sign=-1)
    contribution(stored.facts, deltas, after)
    _add(_split(deltas), tables)
    IncidentTally.objects.filter(incident_id=incident.pk).update(
        status=after[0], visibility=after[1], conflict_id=after[2]
    )


def refresh_where(**lookup):
    """Recount the incidents with an allegation matching `lookup`, after a change outside them that they count:
    a weapon type's category (`weapons=weapon`), a source's organization (`citations__source=source`, on the signal edit_source sends)."""
    from .models import Allegation

    ids = sorted(set(Allegation.objects.filter(**lookup).values_list("incident_id", flat=True)))
    for start in range(0, len(ids), CHUNK):
        refresh(ids[start:start + CHUNK])


def source_reattributed(sender, source, **kwargs):
    """Receiver of sources.services.source_reattributed: the citations of `source` count for another organization."""
    refresh_where(citations__source=source)


def organization_reclassified(sender, organization, **kwargs):
    """Receiver of sources.services.organization_reclassified: an organization's kind or affiliation changed."""
    refresh_where(citations__source__organization=organization)


@transaction.atomic
def rebuild(apps=installed_apps, progress=None, joints=None):
    """Recount every record incident from scratch (after a bulk load, or a weapon type changing category); of
    the joint facets, those in `joints` only, if given (a migration before their facets' keys were long enough
    for them, 0017, counts none)."""
    Incident, _, _, tables, IncidentTally = _models(apps)
    for table in filter(None, tables):
        table.objects.all().delete()
    IncidentTally.objects.all().delete()
    ids = list(Incident.objects.filter(draft_of__isnull=True).order_by("pk").values_list("pk", flat=True))
    # The totals are moved once per APPLY_EVERY incidents with their summed contributions, not once per chunk.
    pending = Counter()
    for start in range(0, len(ids), CHUNK):
        add_new(ids[start:start + CHUNK], apps, deltas=pending, defer=True, joints=joints)
        if (start + CHUNK) % APPLY_EVERY == 0:
            _add(pending, tables)
            pending = Counter()
        if progress:
            progress(min(start + CHUNK, len(ids)), len(ids))
    _add(pending, tables)
    return len(ids)


def add_facets(names, apps=installed_apps):
    """Count the totals of these facets from the facts stored, replacing any kept (a migration adding a facet):
    the rows a rebuild would store in BalanceTally, without reading every incident's rows again."""
    _, _, _, (overall, _, _), _ = _models(apps)
    for name in names:
        overall.objects.filter(facet__startswith=facet(name, "")).exclude(facet__contains="&").delete()
    return _recount_from_facts({0}, (overall, None, None), apps, facets=names)


def add_joint_facets(apps=installed_apps, names=JOINT_FACETS):
    """Count the totals (BalanceTally, TimelineTally) of these joint facets from the facts stored, replacing any
    kept (the migrations adding them)."""
    _, _, _, (overall, _, by_facet_month), _ = _models(apps)
    for table in (overall, by_facet_month):
        for name in names:
            table.objects.filter(facet__startswith=facet(name, ""), facet__contains="&").delete()
    return _recount_from_facts({0, 2}, (overall, None, by_facet_month), apps, facets=(), joints=names)


def add_organization_kinds(apps=installed_apps):
    """Store in each incident's facts the kinds of the organizations it cites (`facts()`), then count the
    organization_kind facets from the facts, replacing any kept (the migration adding them)."""
    _, _, _, (overall, _, by_facet_month), IncidentTally = _models(apps)
    Organization = apps.get_model("sources", "Organization")
    kinds = {str(pk): kinds_of(kind, affiliated)
             for pk, kind, affiliated in Organization.objects.values_list("pk", "kind", "is_party_affiliated")}
    field = IncidentTally._meta.get_field("facts")
    table = connection.ops.quote_name(IncidentTally._meta.db_table)
    ids = list(IncidentTally.objects.order_by("pk").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        for start in range(0, len(ids), CHUNK):
            rows = IncidentTally.objects.filter(pk__in=ids[start:start + CHUNK]).values_list("pk", "facts")
            changed = []
            for pk, incident_facts in rows:
                cited = sorted({str(o) for allegation in incident_facts["allegations"] for o in allegation[5]})
                incident_facts["kinds"] = {o: kinds[o] for o in cited}
                changed.append((field.get_db_prep_value(incident_facts, connection), pk))
            cursor.executemany(f"UPDATE {table} SET facts = %s WHERE incident_id = %s", changed)
    for table in (overall, by_facet_month):
        table.objects.filter(facet__startswith=facet("organization_kind", "")).delete()
    return _recount_from_facts({0, 2}, (overall, None, by_facet_month), apps, facets=("organization_kind",))


def count_timeline(apps=installed_apps, joints=()):
    """Count TimelineTally afresh from the facts stored (the migration creating it, before the joint facets:
    with none of them unless `joints` names them)."""
    _, _, _, (_, _, by_facet_month), _ = _models(apps)
    by_facet_month.objects.all().delete()
    return _recount_from_facts({2}, (None, None, by_facet_month), apps, joints=joints)


def _recount_from_facts(kept, tables, apps, facets=None, joints=None):
    """Add the contributions of every record incident's stored facts (of these `facets` and `joints` only, if
    given: `contribution()`) to some of the tables (`_split()`'s numbers `kept`)."""
    IncidentTally = _models(apps)[4]
    pending, chunk, counted = Counter(), Counter(), 0

    def fold():
        pending.update({row: n for row, n in _split(chunk).items() if row[0] in kept})
        chunk.clear()

    rows = IncidentTally.objects.order_by("pk").values_list(
        "status", "visibility", "conflict_id", "first_month", "last_month", "facts")
    for *key, incident_facts in rows.iterator(chunk_size=CHUNK):
        contribution(incident_facts, chunk, tuple(key), facets=facets, joints=joints)
        counted += 1
        if counted % CHUNK == 0:
            fold()
        if counted % APPLY_EVERY == 0:
            _add(pending, tables)
            pending.clear()
    fold()
    _add(pending, tables)
    return counted


def totals(statuses, visibilities, conflict_ids=None, months=None, sections=None, facet=""):
    """{(section, side id, party id, key): n} summed over the given statuses, visibilities and conflicts, and
    with `months` (first, last as YYYYMM, either None), over the incidents whose span overlaps those months;
    of the given sections only, if any; of the allegations of one facet (`facet()`), if given, or of several
    values of a joint facet (the signed facets of `joint()`; facets are not kept by month).

    One statement written out here rather than by the ORM: it is on every list page, where compiling it and
    converting its few hundred rows took longer than the database took to sum them."""
    from .models import BalanceTally, BalanceTallyByMonth

    if months is not None and facet:
        raise ValueError("The totals of a facet are not kept by month.")
    conditions, params = [], []

    def among(column, values):
        values = list(values)
        conditions.append(f"{column} IN ({', '.join(['%s'] * len(values))})")
        params.extend(values)
        return bool(values)

    signed = [(facet, 1)] if isinstance(facet, str) else list(facet)
    subtracted = [key for key, sign in signed if sign < 0]
    summed = "n"
    if subtracted:
        summed = f"CASE WHEN facet IN ({', '.join(['%s'] * len(subtracted))}) THEN -n ELSE n END"
        params.extend(subtracted)
    if months is None:
        among("facet", [key for key, _ in signed])
    chosen = [among("status", statuses), among("visibility", visibilities)]
    if conflict_ids is not None:
        chosen.append(among("conflict_id", conflict_ids))
    if sections is not None:
        chosen.append(among("section", sections))
    if not all(chosen):
        return {}  # an empty choice matches nothing
    if months is not None:
        first, last = months
        # An undated incident (months 0) matches no date filter: a range "from F" leaves it out by itself.
        if first is not None:
            conditions.append("last_month >= %s")
            params.append(first)
        if last is not None:
            conditions.append("first_month <= %s" if first is not None else "first_month BETWEEN 1 AND %s")
            params.append(last)
    table = connection.ops.quote_name((BalanceTally if months is None else BalanceTallyByMonth)._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT section, side_id, party_id, {connection.ops.quote_name('key')}, SUM({summed}) FROM {table} "
                       f"WHERE {' AND '.join(conditions)} GROUP BY section, side_id, party_id, "
                       f"{connection.ops.quote_name('key')}", params)
        return {(section, side, party, key): int(n) for section, side, party, key, n in cursor.fetchall() if n}
