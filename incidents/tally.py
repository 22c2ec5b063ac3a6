"""The balance tally: the balance view's counts kept as running totals, for the archive and for each conflict.

Counting every allegation, citation and link on each request costs seconds at
100,000 incidents. Instead, each record incident's *contribution* (its
allegations by side, party and confidence, violation type, weapon category and
cited organization, and its casualty figures once per side, party,
unattributed and in all) is computed from its own rows when a service writes
it, stored beside it (IncidentTally), and added to the totals (BalanceTally)
under the incident's status, visibility and conflict; the previous
contribution is taken out first. A balance whose filter names only conflicts,
statuses and at most one side, one party or the unattributed allegations is
then the sum of a few hundred rows (casualties are also kept per side and
party pair for that). The same totals are kept by the months the incident's
span starts and ends in (BalanceTallyByMonth), so a filter of whole months is
exact too: a span overlaps months F..T when it starts by T and ends from F.
Any other filter (a day within a month, places, weapons, words...) is counted
live, from the allegations that match it (`incidents.balance`).

Contributions count what the live queries count without an allegation filter,
so both give the same numbers; `tests/test_balance_tally.py` holds them to it.
The totals are keyed by ids: names, slugs and an organization's kind are read
when the page is drawn. Two facts outside an incident are counted in it, a
weapon type's category and a source's organization: the services that change
them recount the incidents concerned (`refresh_where()`). `rebuild()` (and
`manage.py rebuild_tally`) recounts everything, after a bulk load.
"""
from collections import Counter, defaultdict

from django.apps import apps as installed_apps
from django.db import connection, transaction

CASUALTIES = ["civilians_killed_min", "civilians_killed_max", "civilians_injured_min", "civilians_injured_max"]
CHUNK = 2000
APPLY_EVERY = 50_000


def _models(apps):
    get = apps.get_model
    return (get("incidents", "Incident"), get("incidents", "Allegation"), get("sources", "Citation"),
            (get("incidents", "BalanceTally"), get("incidents", "BalanceTallyByMonth")), get("incidents", "IncidentTally"))


def _id(value):
    return value or 0


def contributions(incident_ids, apps=installed_apps):
    """{incident id: Counter of (section, side id, party id, key) -> n} computed from the stored rows."""
    Incident, Allegation, Citation, _, _ = _models(apps)
    result = {pk: Counter() for pk in incident_ids}
    allegations = Allegation.objects.filter(incident_id__in=incident_ids).order_by()
    for incident_id, side, party, confidence in allegations.values_list(
        "incident_id", "perpetrator_side_id", "perpetrator_id", "confidence"
    ):
        result[incident_id][("allegations", _id(side), _id(party), confidence)] += 1
    violations = Allegation.violation_types.through.objects.filter(allegation__incident_id__in=incident_ids).order_by()
    for incident_id, side, party, violation in violations.values_list(
        "allegation__incident_id", "allegation__perpetrator_side_id", "allegation__perpetrator_id", "violationtype_id"
    ):
        result[incident_id][("violation", _id(side), _id(party), str(violation))] += 1
    # An allegation naming two weapons of one category counts once under it.
    weapons = Allegation.weapons.through.objects.filter(allegation__incident_id__in=incident_ids).order_by()
    for incident_id, side, party, _allegation, category in weapons.values_list(
        "allegation__incident_id", "allegation__perpetrator_side_id", "allegation__perpetrator_id",
        "allegation_id", "weapontype__category",
    ).distinct():
        result[incident_id][("weapon", _id(side), _id(party), category)] += 1
    citations = Citation.objects.filter(allegation__incident_id__in=incident_ids).order_by()
    for incident_id, side, party, organization in citations.values_list(
        "allegation__incident_id", "allegation__perpetrator_side_id", "allegation__perpetrator_id",
        "source__organization_id",
    ):
        result[incident_id][("organization", _id(side), _id(party), str(organization))] += 1
    columns = defaultdict(set)
    for incident_id, side, party in allegations.values_list("incident_id", "perpetrator_side_id", "perpetrator_id"):
        if side:
            columns[incident_id].add(("casualties_side", side, 0))
        if party:
            columns[incident_id].add(("casualties_party", 0, party))
        if side and party:
            # For a balance of one side's (or one party's) allegations: each party's (side's) share of them.
            columns[incident_id].add(("casualties_pair", side, party))
        if not side and not party:
            columns[incident_id].add(("casualties_unattributed", 0, 0))
    for incident_id, *figures in Incident.objects.filter(pk__in=incident_ids).order_by().values_list("pk", *CASUALTIES):
        counts = result[incident_id]
        for section, side, party in columns[incident_id] | {("casualties_all", 0, 0)}:
            counts[(section, side, party, "incidents")] += 1
            for name, value in zip(CASUALTIES, figures):
                if value is not None:
                    counts[(section, side, party, f"total_{name}")] += value
                    counts[(section, side, party, f"known_{name}")] += 1
    return result


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


KEY = "status, visibility, conflict_id, section, side_id, party_id, key"


def _add(deltas, tables):
    """Move the totals by `deltas` (keyed with the months): insert a key's row, or add to the row there."""
    overall, by_month = tables
    plain = Counter()
    for (status, visibility, conflict, _first, _last, *rest), n in deltas.items():
        plain[(status, visibility, conflict, *rest)] += n
    _upsert(overall, KEY, plain)
    _upsert(by_month, KEY + ", first_month, last_month",
            {(s, v, c, *rest, first, last): n for (s, v, c, first, last, *rest), n in deltas.items()})


def _upsert(model, key, deltas):
    """One statement per 500 keys: insert each key's row, or add to the row already there."""
    rows = [(*key_values, n) for key_values, n in sorted(deltas.items()) if n]
    table = connection.ops.quote_name(model._meta.db_table)
    width = key.count(",") + 2
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            batch = rows[start:start + 500]
            cursor.execute(
                f"INSERT INTO {table} ({key}, n) VALUES {', '.join(['(' + ', '.join(['%s'] * width) + ')'] * len(batch))} "
                f"ON CONFLICT ({key}) DO UPDATE SET n = {table}.n + excluded.n",
                [value for row in batch for value in row],
            )


def _stored(tally):
    return (tally.status, tally.visibility, tally.conflict_id, tally.first_month, tally.last_month)


def refresh(incident_ids, apps=installed_apps):
    """Recount these incidents and move the totals by the difference; run inside the write that changed them."""
    _, _, _, _, IncidentTally = _models(apps)
    incident_ids = list(incident_ids)
    deltas = Counter()
    for tally in IncidentTally.objects.filter(incident_id__in=incident_ids):
        for section, side, party, key, n in tally.counts:
            deltas[(*_stored(tally), section, side, party, key)] -= n
    IncidentTally.objects.filter(incident_id__in=incident_ids).delete()
    add_new(incident_ids, apps, deltas)


def add_new(incident_ids, apps=installed_apps, deltas=None, defer=False):
    """Add the contributions of incidents that have none stored (a bulk load's new rows), with `deltas` if given.

    With `defer`, store the incidents' contributions but leave the totals: return the deltas, for `apply()`
    to add with those of later batches (a bulk load then moves each total once, not once per batch)."""
    Incident, _, _, tables, IncidentTally = _models(apps)
    deltas = Counter() if deltas is None else deltas
    keys = _record_keys(incident_ids, Incident)
    now = contributions(list(keys), apps)
    for pk, counts in now.items():
        for (section, side, party, key), n in counts.items():
            deltas[(*keys[pk], section, side, party, key)] += n
    if not defer:
        _add(deltas, tables)
    IncidentTally.objects.bulk_create(
        [IncidentTally(incident_id=pk, status=keys[pk][0], visibility=keys[pk][1], conflict_id=keys[pk][2],
                       first_month=keys[pk][3], last_month=keys[pk][4],
                       counts=[[*key, n] for key, n in sorted(counts.items())])
         for pk, counts in now.items()],
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
    deltas = Counter()
    for section, side, party, key, n in stored.counts:
        deltas[(*_stored(stored), section, side, party, key)] -= n
        deltas[(*after, section, side, party, key)] += n
    _add(deltas, tables)
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


@transaction.atomic
def rebuild(apps=installed_apps, progress=None):
    """Recount every record incident from scratch (after a bulk load, or a weapon type changing category)."""
    Incident, _, _, tables, IncidentTally = _models(apps)
    for table in tables:
        table.objects.all().delete()
    IncidentTally.objects.all().delete()
    ids = list(Incident.objects.filter(draft_of__isnull=True).order_by("pk").values_list("pk", flat=True))
    # The totals are moved once per APPLY_EVERY incidents with their summed contributions, not once per chunk.
    pending = Counter()
    for start in range(0, len(ids), CHUNK):
        add_new(ids[start:start + CHUNK], apps, deltas=pending, defer=True)
        if (start + CHUNK) % APPLY_EVERY == 0:
            _add(pending, tables)
            pending = Counter()
        if progress:
            progress(min(start + CHUNK, len(ids)), len(ids))
    _add(pending, tables)
    return len(ids)


def totals(statuses, visibilities, conflict_ids=None, months=None, sections=None):
    """{(section, side id, party id, key): n} summed over the given statuses, visibilities and conflicts, and
    with `months` (first, last as YYYYMM, either None), over the incidents whose span overlaps those months;
    of the given sections only, if any."""
    from django.db.models import Sum

    from .models import BalanceTally, BalanceTallyByMonth

    rows = (BalanceTally if months is None else BalanceTallyByMonth).objects.filter(
        status__in=statuses, visibility__in=visibilities)
    if conflict_ids is not None:
        rows = rows.filter(conflict_id__in=conflict_ids)
    if sections is not None:
        rows = rows.filter(section__in=sections)
    if months is not None:
        first, last = months
        # An undated incident (months 0) matches no date filter: a range "from F" leaves it out by itself.
        if first is not None:
            rows = rows.filter(last_month__gte=first)
        if last is not None:
            rows = rows.filter(first_month__lte=last) if first is not None else rows.filter(first_month__range=(1, last))
    grouped = rows.order_by().values_list("section", "side_id", "party_id", "key").annotate(total=Sum("n"))
    return {(section, side, party, key): n for section, side, party, key, n in grouped if n}
