"""The balance view's numbers: every side and every party under one rubric, side by side.

Everything is counted for the current filter (`incidents.filters`), over the
allegations that match it. Where the filter names only conflicts, statuses,
whole months of dates, at most one side, one party or the unattributed
allegations, and (without dates) at most one weapon category, violation type
or confidence grade or the cluster munitions, the counts are read from running
totals (`incidents.tally`). Otherwise they are counted from the column copy of the
facts the totals are counted from (`incidents.columnar`), when it holds what is
committed and the filter names nothing it lacks (words, weapon types).
Otherwise one query counts them: the matching allegations are found once (a
materialized WITH), and each section (confidence grades, violation types,
weapon categories, cited organizations, and the casualty sums of sides,
parties and unattributed allegations over one row per incident and column, so
that an incident is counted once per column however many allegations it has)
joins its rows to them. One more query sums the casualties of all the matching
incidents.

Every number carries the address of the incident list that shows what it
counts: the current query string with the cell's own filter set (replacing any
value that parameter had). A zero has no link: there is nothing behind it.
"""
import calendar
import datetime
import os
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import accumulate
from urllib.parse import urlencode

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import BigIntegerField, Case, Count, F, Func, IntegerField, Max, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils.safestring import mark_safe
from django.urls import reverse

from archive import roles
from archive.markup import escaped, joined
from sources.models import Citation, Organization, Source

from . import columnar, tally
from .filters import _given, _organization_kind_condition, within
from .models import (
    Allegation, BalanceTallyByMonth, Confidence, Incident, IncidentTally, Party, Side, Status, TimelineTally,
    ViolationType, Visibility, WeaponCategory, WeaponType,
)

CASUALTIES = ["civilians_killed_min", "civilians_killed_max", "civilians_injured_min", "civilians_injured_max"]
# Hues of equal weight with no red/green verdict in them; grey is kept for "unattributed" and totals.
COLOURS = ["#3f6e9a", "#a0673a", "#5b8a5a", "#7b5e9a", "#4f8c8c", "#8a7a3a"]
GREY = "#7a7a7a"


@dataclass
class Column:
    kind: str  # side, party, unattributed, all
    pk: object
    label: str
    params: dict
    side_label: str = ""
    sideless: bool = False


@dataclass
class Cell:
    value: object
    text: str
    url: str = ""
    title: str = ""

    def html(self):
        """The cell's content, escaped: built here, once per cell, where a template would take ten times as long
        over the thousands of cells of a large archive's balance."""
        if not self.url:
            return mark_safe(escaped(self.text))
        if self.title:
            return mark_safe(f'<a href="{escaped(self.url)}" title="{escaped(self.title)}">{escaped(self.text)}</a>')
        return mark_safe(f'<a href="{escaped(self.url)}">{escaped(self.text)}</a>')


@dataclass
class Row:
    label: str
    cells: list
    note: str = ""

    def cells_html(self):
        return joined(f'<td class="number">{cell.html()}</td>' for cell in self.cells)


@dataclass
class Section:
    slug: str
    title: str
    rows: list
    note: str = ""
    chart: dict = field(default_factory=dict)


@dataclass
class Balance:
    columns: list
    sections: list

    @property
    def counts(self):
        """The filter's result counts, as `IncidentFilter.counts()` gives them: the incidents and allegations in
        the "All allegations" column."""
        sections = {section.slug: section for section in self.sections}
        return {"incidents": sections["casualties"].rows[0].cells[-1].value,
                "allegations": sections["allegations"].rows[0].cells[-1].value}


class Links:
    """List addresses: the current query string with some parameters set (replaced, never added to)."""

    def __init__(self, query):
        self.query = query.copy() if isinstance(query, QueryDict) else QueryDict(mutable=True)
        self.query._mutable = True
        self.query.pop("page", None)
        self.base = reverse("incidents:list")
        self._kept, self._pairs = {}, {}

    def url(self, **params):
        # The rest of the query string is encoded once per set of parameter names, not once per cell.
        names = tuple(sorted(params))
        if names not in self._kept:
            query = self.query.copy()
            for name in names:
                query.pop(name, None)
            self._kept[names] = query.urlencode()
        encoded = "&".join(part for part in (self._kept[names], *map(self._pair, params.items())) if part)
        return f"{self.base}?{encoded}" if encoded else self.base

    def _pair(self, item):
        """`name=value` as urlencode() writes it, encoded once per page: a page has thousands of cells but a few
        hundred distinct parameters."""
        pair = self._pairs.get(item)
        if pair is None:
            pair = self._pairs[item] = urlencode([item])
        return pair


@dataclass
class Counts:
    """Everything the balance page shows, counted: grouped rows by side and party, and casualty totals."""

    columns: list
    confidence: list
    violations: list
    weapons: list
    organizations: list
    casualties: dict


def compute(filterset, query=None, *, live=False):
    """The Balance of the filterset's current filter; `query` is the request's query string (a QueryDict).

    Read from the running totals (`incidents.tally`) when they answer the filter (`_tallied_scope()`);
    otherwise counted from the matching allegations. `live=True` always counts (the tests compare both).
    """
    links = Links(query if query is not None else QueryDict())
    counts = (None if live else _tallied(filterset)) or _counted(filterset, copied=not live)
    columns, confidence_rows, violation_rows, weapon_rows, organization_rows, casualties = (
        counts.columns, counts.confidence, counts.violations, counts.weapons, counts.organizations, counts.casualties
    )
    sections = [
        _allegations_section(columns, confidence_rows, links),
        _grouped_section(
            "violations", "Allegations by violation type", columns, violation_rows, "violation_types__slug",
            lambda row: row["violation_types__name"], "violation", links,
            note="An allegation of several violation types is counted once under each.",
        ),
        _grouped_section(
            "weapons", "Allegations by weapon category", columns, weapon_rows, "weapons__category",
            lambda row: WeaponCategory(row["weapons__category"]).label, "weapon_category", links,
            note="An allegation naming weapons of several categories is counted once under each; "
                 "allegations that name no weapon are not in this table.",
        ),
        _confidence_section(columns, confidence_rows, links),
        _casualty_section(columns, casualties, links),
        _sources_section(columns, organization_rows, confidence_rows, links),
    ]
    for section in sections:
        section.chart = bar_chart(section, columns)
    return Balance(columns=columns, sections=sections)


def _counted(filterset, copied=True):
    """Count the allegations that match the filter: from the column copy when it answers the filter
    (`incidents.columnar`, unless not `copied`), else in one query (and one more for all the incidents)."""
    copy = columnar.current(filterset) if copied else None
    totals = copy.totals(filterset) if copy is not None else live_totals(filterset)
    if filterset.has_allegation_filter():
        columns = _columns(filterset, copy)
    else:
        # Every allegation of the incidents matches: the columns are the sides and parties counted.
        columns = _columns_of(_pairs(totals))
        if copy is None:
            # All the matching incidents, those without allegations too (the copy counts them with the rest).
            everything = filterset.qs.order_by().aggregate(**_casualty_aggregates())
            for key, n in everything.items():
                totals[("casualties_all", 0, 0, key)] = n or 0
    return _from_totals(totals, columns)


def live_totals(filterset):
    """{(section, side id, party id, key): n}, the shape of `tally.totals()`, counted from the allegations that
    match the filter (with an allegation filter, the casualties of all the incidents that have one too).

    The matching allegations are found once per statement (a materialized WITH), then each section joins its
    rows to them with the primary-key indexes. Where the filter names violation types, weapons or
    organizations, a section counts only the rows the filter selected (a filter of one weapon category shows
    that category, not the other weapons of the same allegations), as the list does: a cell's link replaces
    that parameter. The incidents are split between LIVE_PARTS statements by ranges of ids, run side by side
    (`_run_side_by_side()`); each counts every section of its own incidents. Splitting the sections between
    the statements instead had each of them find every matching allegation, through the filter's joins: at
    10^6 incidents the balance of one organization over a year took 14.5 s (now 5.7 s), from a day 9.3 s
    (5.0 s), of two weapon categories 4.7 s (4.4 s).
    """
    data = filterset.cleaned()
    quote = connection.ops.quote_name
    table = {
        "violations": Allegation.violation_types.through._meta.db_table,
        "weapons": Allegation.weapons.through._meta.db_table,
        "weapon": WeaponType._meta.db_table,
        "citation": Citation._meta.db_table,
        "source": Source._meta.db_table,
    }
    table = {name: quote(value) for name, value in table.items()}

    def restricted(column, queryset):
        """A condition that `column` is one of the rows `queryset` selects: (SQL, params)."""
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
        return f" AND {column} IN ({sql})", list(params)

    violation_condition = weapon_condition = organization_condition = ("", [])
    if _given(data.get("violation")):
        violations = ViolationType.objects.filter(pk__in=[entry.pk for entry in data["violation"]])
        violation_condition = restricted("t.violationtype_id", violations)
    weapon_filter = Q()
    if data.get("weapon"):
        weapon_filter &= Q(pk__in=[entry.pk for entry in data["weapon"]])
    if data.get("weapon_category"):
        weapon_filter &= Q(category__in=data["weapon_category"])
    if data.get("cluster") == "yes":
        weapon_filter &= Q(is_cluster_munition="yes")
    if weapon_filter:
        weapon_condition = restricted("t.weapontype_id", WeaponType.objects.filter(weapon_filter))
    organization_filter = Q()
    if _given(data.get("organization")):
        organization_filter &= Q(pk__in=[entry.pk for entry in data["organization"]])
    if data.get("organization_kind"):
        organization_filter &= _organization_kind_condition(data["organization_kind"], prefix="")
    if organization_filter:
        organization_condition = restricted("s.organization_id", Organization.objects.filter(organization_filter))
    none = "CAST(NULL AS BIGINT)"
    counts = ", ".join([none] * 8)
    figure_columns = ", ".join(f"f{index}" for index in range(len(CASUALTIES)))
    figures = ", ".join([f"SUM(d.f{index})" for index in range(len(CASUALTIES))]
                        + [f"COUNT(d.f{index})" for index in range(len(CASUALTIES))])
    pair = "COALESCE(m.side, 0), COALESCE(m.party, 0)"

    def casualties(section, column, which):
        """Each incident once per side (party), over one row per incident and side (party): figures summed."""
        side, party = ("d.side", "0") if column == "side" else ("0", "d.party") if column == "party" else ("0", "0")
        kept, grouped = (f", {column}", f" GROUP BY d.{column}") if column else ("", "")
        return (
            f"SELECT '{section}', {side}, {party}, '', COUNT(*), {figures} FROM "
            f"(SELECT DISTINCT incident_id{kept}, {figure_columns} FROM m WHERE {which}) d{grouped}", []
        )

    sections = {
        "allegations": (f"SELECT 'allegations', {pair}, m.confidence, COUNT(*), {counts} FROM m "
                        f"GROUP BY m.side, m.party, m.confidence", []),
        "violation": (f"SELECT 'violation', {pair}, CAST(t.violationtype_id AS TEXT), COUNT(*), {counts} "
                      f"FROM m JOIN {table['violations']} t ON t.allegation_id = m.id{violation_condition[0]} "
                      f"GROUP BY m.side, m.party, t.violationtype_id", violation_condition[1]),
        "weapon": (f"SELECT 'weapon', {pair}, w.category, COUNT(DISTINCT m.id), {counts} "
                   f"FROM m JOIN {table['weapons']} t ON t.allegation_id = m.id{weapon_condition[0]} "
                   f"JOIN {table['weapon']} w ON w.id = t.weapontype_id "
                   f"GROUP BY m.side, m.party, w.category", weapon_condition[1]),
        # From each matching allegation to its citations (CROSS JOIN keeps SQLite to that order): from the
        # filter's organizations to theirs, each statement read every citation of theirs, in every range of
        # incidents (at 10^5, the section of the three organizations cited most took 1.5 s, now 0.5 s).
        "organization": (f"SELECT 'organization', {pair}, CAST(s.organization_id AS TEXT), COUNT(*), {counts} "
                         f"FROM m CROSS JOIN {table['citation']} c CROSS JOIN {table['source']} s "
                         f"WHERE c.allegation_id = m.id AND s.id = c.source_id{organization_condition[0]} "
                         f"GROUP BY m.side, m.party, s.organization_id", organization_condition[1]),
        "casualties_side": casualties("casualties_side", "side", "side IS NOT NULL"),
        "casualties_party": casualties("casualties_party", "party", "party IS NOT NULL"),
        "casualties_unattributed": casualties("casualties_unattributed", "", "side IS NULL AND party IS NULL"),
    }
    if filterset.has_allegation_filter():
        sections["casualties_all"] = casualties("casualties_all", "", "1 = 1")
    # Each matching allegation with its incident's figures, so that the casualty sections read no incident: each
    # allegation of the scope tested against the filter, in ranges of incident ids, one statement for each.
    every_section = list(sections.values())
    statements = _over_matching_in_parts(
        filterset, {"id": "pk", "incident_id": "incident_id", "side": "perpetrator_side_id",
                    "party": "perpetrator_id", "confidence": "confidence",
                    **{f"f{index}": f"incident__{name}" for index, name in enumerate(CASUALTIES)}},
        " UNION ALL ".join(sql for sql, _ in every_section),
        [param for _, params in every_section for param in params])
    # Each part counts its own incidents: the parts' counts and sums add up.
    totals = Counter()
    for rows in _run_side_by_side(statements):
        for section, side, party, key, n, *more in rows:
            if not section.startswith("casualties"):
                totals[(section, side, party, key)] += n
                continue
            if not n:
                continue
            totals[(section, side, party, "incidents")] += n
            for name, total, known in zip(CASUALTIES, more[:4], more[4:]):
                totals[(section, side, party, f"total_{name}")] += total or 0
                totals[(section, side, party, f"known_{name}")] += known
    return dict(totals)


# A live count is made in this many statements, each over its own range of incident ids, run side by side.
LIVE_PARTS = 2


def _fetch(statement, using):
    sql, params = statement
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _fetch_on_own_connection(statement, using, snapshot=None):
    """In a worker thread, which Django gives a connection of its own (closed when done); on PostgreSQL in the
    snapshot the request's connection exported, so that both statements count the same committed rows."""
    try:
        if snapshot is None:
            return _fetch(statement, using)
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
            cursor.execute(NO_PARALLEL_WORKERS)
            return _fetch(statement, using)
    finally:
        connections[using].close()


def _run_side_by_side(statements, using=DEFAULT_DB_ALIAS):
    """The rows of each statement. On a machine with cores to spare, the statements after the first run at the
    same time on connections of their own, each database answering from its own core: a count over hundreds of
    thousands of allegations then takes about half as long. Inside a transaction they all run on the request's
    connection, which alone sees what the transaction wrote (and so in tests).

    On PostgreSQL the request's connection exports its snapshot and the others read in it: all the statements
    see the same committed rows. SQLite cannot share a snapshot: a write committed in the moment between the
    statements' starts can show in one half of the page until it is reloaded."""
    if (not getattr(settings, "ARCHIVE_PARALLEL_COUNTS", True) or len(statements) < 2
            or connections[using].in_atomic_block or (os.cpu_count() or 1) < 2):
        return [_fetch(statement, using) for statement in statements]
    if connections[using].vendor != "postgresql":
        return _side_by_side(statements, using)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute(NO_PARALLEL_WORKERS)
        cursor.execute("SELECT pg_export_snapshot()")
        return _side_by_side(statements, using, cursor.fetchone()[0])


# Statements already side by side, one per core, each without PostgreSQL's own parallel workers: with them, two
# statements of two workers each shared two cores (a live count at 10^5 took 871 ms, without them 567 ms).
NO_PARALLEL_WORKERS = "SET LOCAL max_parallel_workers_per_gather = 0"


def _side_by_side(statements, using, snapshot=None):
    with ThreadPoolExecutor(max_workers=len(statements) - 1) as pool:
        others = [pool.submit(_fetch_on_own_connection, statement, using, snapshot) for statement in statements[1:]]
        first = _fetch(statements[0], using)
        return [first, *(future.result() for future in others)]


TALLIED_FILTERS = {"conflict", "status", "sort", "date_from", "date_to"}
# Allegation filters the totals answer too, each with one value: the totals are kept by side and party.
NARROWING_FILTERS = {"side", "party", "unattributed"}


def _tally_facet(filterset):
    """The facet of the totals (`tally.facet()`) that the filter's other allegation filters select: "" for
    none, a facet for one value of one of `tally.FACETS`, the signed facets (`tally.joint()`) of several values
    of one of `tally.JOINT_FACETS`, up to its JOINT_VALUES, else None (the totals do not answer them)."""
    data = filterset.cleaned()
    given = [name for name in filterset.ALLEGATION_FIELDS
             if name not in NARROWING_FILTERS and _given(data.get(name))]
    if not given:
        return ""
    if len(given) > 1 or given[0] not in tally.FACETS:
        return None
    name, value = given[0], data[given[0]]
    if name == "cluster":
        return tally.facet(name, value)
    if len(value) == 1:
        return _facet_of(name, value[0])
    if len(value) <= tally.JOINT_VALUES.get(name, 1):
        return tuple(tally.joint(name, [_value_of(name, one) for one in value]))
    return None


def _value_of(name, value):
    """A facet's value (`tally.facet()`) from one cleaned value of its filter: an entry's id, or the value."""
    return value.pk if name in ("violation", "organization") else value


def _facet_of(name, value):
    """The facet (`tally.facet()`) of one cleaned value of a facet's filter."""
    return tally.facet(name, _value_of(name, value))


def _of_facet(rows, facet):
    """(rows, their sum): the TimelineTally rows of a facet (`_tally_facet()`), and the sum of their counts, those
    of a joint facet's combinations subtracted as `tally.joint()` signs them."""
    if isinstance(facet, str):
        return rows.filter(facet=facet), Sum("n")
    subtracted = [key for key, sign in facet if sign < 0]
    return (rows.filter(facet__in=[key for key, _ in facet]),
            Sum(Case(When(facet__in=subtracted, then=-F("n")), default=F("n"), output_field=BigIntegerField())))


def _tallied_scope(filterset, facet_by_month=False):
    """(scope: the first arguments of `tally.totals()`, facet, side id, party id, unattributed) when the
    running totals answer the filter: it names nothing but conflicts, statuses, whole months of dates, at most
    one side, one party or the unattributed allegations, and, without months, at most one value of one facet
    (or several values of a joint facet, `_tally_facet()`). With `facet_by_month` (the timeline's
    totals keep a facet's incidents by month), a facet with months too."""
    data = filterset.cleaned()
    for name in NARROWING_FILTERS:
        value = data.get(name)
        if _given(value) and name != "unattributed" and len(value) != 1:
            return None
    facet = _tally_facet(filterset)
    scope = _tally_scope(filterset)
    if facet is None or scope is None or (facet and scope[3] is not None and not facet_by_month):
        return None
    want_side = data["side"][0].pk if _given(data.get("side")) else None
    want_party = data["party"][0].pk if _given(data.get("party")) else None
    return scope, facet, want_side, want_party, data.get("unattributed") == "yes"


def _tallied(filterset):
    """The same Counts read from the running totals, when they answer the filter (`_tallied_scope()`)."""
    tallied = _tallied_scope(filterset)
    if tallied is None:
        return None
    scope, facet, want_side, want_party, unattributed = tallied
    totals = tally.totals(*scope, facet=facet)
    # The columns are every side and party in the incidents, as counted live from the incident filters alone.
    columns = _columns(filterset) if facet else _columns_of(_pairs(totals))
    return _from_totals(totals, columns, want_side, want_party, unattributed)


def tallied_counts(filterset):
    """`IncidentFilter.counts()` read from the running totals when they answer the filter, else None: the
    allegations that match, and the incidents with one (with no allegation filter, every incident)."""
    tallied = _tallied_scope(filterset)
    if tallied is None:
        return _counted_by_month(filterset)
    scope, facet, side, party, unattributed = tallied
    column = _incidents_column(side, party, unattributed)
    if column is None:
        return {"incidents": 0, "allegations": 0}
    totals = tally.totals(*scope, sections=["allegations", column[0]], facet=facet)
    allegations = sum(n for (section, row_side, row_party, _), n in totals.items()
                      if section == "allegations" and _narrowed_to(row_side, row_party, side, party, unattributed))
    return {"incidents": totals.get((*column, "incidents"), 0), "allegations": allegations}


def _counted_by_month(filterset):
    """The list's counts of one facet value over whole months (or of a side's allegations of it), read from the
    facet's totals by month (TimelineTally); else None."""
    tallied = _tallied_scope(filterset, facet_by_month=True)
    if tallied is None:
        return None
    scope, facet, side, party, unattributed = tallied
    if not facet or party or unattributed:
        return None
    rows, summed = _of_facet(TimelineTally.objects.all(), facet)
    rows = _in_scope(rows, scope)
    if side:
        rows = rows.filter(side_id=side)
    incidents = "casualties_side" if side else "casualties_all"
    counts = dict(rows.filter(section__in=[incidents, "allegations"]).order_by().values_list("section")
                  .annotate(n=summed))
    return {"incidents": counts.get(incidents) or 0, "allegations": counts.get("allegations") or 0}


def _in_scope(rows, scope):
    """Rows of totals by month (BalanceTallyByMonth, TimelineTally) of the statuses, visibilities and conflicts
    (`_tally_scope()`) whose spans overlap its months, if any."""
    statuses, visibilities, conflicts, months = scope
    rows = rows.filter(status__in=statuses, visibility__in=visibilities)
    if conflicts is not None:
        rows = rows.filter(conflict_id__in=conflicts)
    first, last = months or (None, None)
    if first is not None:
        rows = rows.filter(last_month__gte=first)
    if last is not None:
        rows = rows.filter(first_month__lte=last, first_month__gt=0)  # an undated incident (0) is in no month
    return rows


def visible_incidents(filterset):
    """How many record incidents the filter's user may see, whatever the filter, from the running totals."""
    statuses, visibilities = _visible(filterset.user, filterset.cleaned())
    totals = tally.totals(statuses, visibilities, sections=["casualties_all"])
    return totals.get(("casualties_all", 0, 0, "incidents"), 0)


def scope_incidents(filterset):
    """How many record incidents the filter's incident filters leave (its conflicts, statuses and whole months),
    from the running totals; when the totals do not answer those, how many the user may see at all."""
    scope = _tally_scope(filterset)
    if scope is None:
        scope = (*_visible(filterset.user, filterset.cleaned()), None, None)
    rows = _in_scope(TimelineTally.objects.filter(facet="", section="casualties_all"), scope)
    return rows.aggregate(n=Sum("n"))["n"] or 0


def _visible(user, data):
    """(statuses, visibilities) of the record incidents `user` sees (the staff: those of the status filter)."""
    if roles.sees_restricted(user):
        return data.get("status") or Status.values, Visibility.values
    return [Status.PUBLISHED], [Visibility.PUBLIC]


# A live count of a filter whose allegations may be at least this share of all the visible allegations is made
# in parts, each reading every allegation of a range of incidents (`counted_in_parts()`).
BROAD_SHARE = 0.1


def broad(filterset):
    """Whether the filter may match at least BROAD_SHARE of the visible allegations, by the running totals: each
    allegation filter whose values have totals (one or several values of a facet, sides, parties) keeps the
    share of the allegations its values have together, and the incident filters the totals answer (conflicts,
    whole months) the share of the incidents they leave; the filters are taken as independent. False when no
    allegation filter given has totals (a weapon, the unattributed allegations): those are taken as narrow."""
    data = filterset.cleaned()
    statuses, visibilities = _visible(filterset.user, data)
    wanted = {}  # facet: the filter whose values it is
    for name in tally.FACETS:
        value = data.get(name)
        if _given(value):
            for one in ([value] if name == "cluster" else value):
                wanted[_facet_of(name, one)] = name
    sides = [side.pk for side in data["side"]] if _given(data.get("side")) else None
    parties = [party.pk for party in data["party"]] if _given(data.get("party")) else None
    by_filter = Counter({name: 0 for name in wanted.values()})
    by_filter.update({name: 0 for name, values in (("side", sides), ("party", parties)) if values is not None})
    if not by_filter:
        return False
    everything = 0
    for facet in ["", *wanted]:
        counted = tally.totals(statuses, visibilities, sections=["allegations"], facet=facet)
        for (_, side, party, _), n in counted.items():
            if facet:
                by_filter[wanted[facet]] += n
                continue
            everything += n
            if sides is not None and side in sides:
                by_filter["side"] += n
            if parties is not None and party in parties:
                by_filter["party"] += n
    if not everything:
        return False
    share = 1.0
    for n in by_filter.values():
        share *= n / everything
    if _tally_scope(filterset) is not None:
        visible = visible_incidents(filterset)
        share *= scope_incidents(filterset) / visible if visible else 0
    return share >= BROAD_SHARE


def _over_matching_in_parts(filterset, columns, sql, params=()):
    """Statements (SQL, params) that run `sql` over `m`, the allegations that match the filter (each allegation of
    the incidents in scope tested once, `IncidentFilter.tested_allegations()`) with these columns ({name in m:
    the allegation's field}), materialized once per statement: one statement per range of incident ids
    (LIVE_PARTS), for `_run_side_by_side()`."""
    statements = []
    for part in _by_incident_ranges(filterset.tested_allegations(), LIVE_PARTS):
        matching_sql, matching_params = part.values_list(*columns.values()).query.sql_with_params()
        statements.append((f"WITH m ({', '.join(columns)}) AS MATERIALIZED ({matching_sql}) {sql}",
                           [*matching_params, *params]))
    return statements


def _by_incident_ranges(allegations, parts):
    """The allegations split into `parts` querysets by ranges of their incidents' ids, about equal by the ids
    there are now; the last range is open, so that an incident written meanwhile falls in one of them."""
    top = Incident.objects.aggregate(top=Max("pk"))["top"] or 0
    lows = [top * part // parts for part in range(parts)]
    return [allegations.filter(incident_id__gt=low, **({"incident_id__lte": high} if high is not None else {}))
            for low, high in zip(lows, [*lows[1:], None])]


def counted_in_parts(filterset, parts=2):
    """`IncidentFilter.counts()` of a broad allegation filter: every allegation of the incidents in scope is
    tested against the filter (a correlated EXISTS), in one statement per range of incident ids, run side by
    side (`_run_side_by_side()`); each matching allegation is counted once, and each incident in one part only.

    Counting the rows that the filter's joins select reads, for two weapon categories at 10^6 incidents, every
    link of an allegation to a weapon and sorts 600,000 ids twice (1.3 s); testing each allegation and splitting
    the incidents between two statements takes 0.65 s. For a narrow filter the joins are the shorter way."""
    allegations = filterset.tested_allegations()
    statements = []
    for part in _by_incident_ranges(allegations, parts):
        sql, params = part.values_list("incident_id", "pk").query.sql_with_params()
        statements.append((f"SELECT COUNT(DISTINCT counted.incident_id), COUNT(*) FROM ({sql}) counted", params))
    rows = [result[0] for result in _run_side_by_side(statements)]
    return {"incidents": sum(row[0] for row in rows), "allegations": sum(row[1] for row in rows)}


def _incidents_column(side, party, unattributed):
    """The (section, side id, party id) of the running totals that count the incidents with an allegation of
    one side, one party, both, the unattributed ones or any (casualty sections count each incident once), or
    None when no allegation can match (unattributed and of a side or party)."""
    if unattributed:
        return None if side or party else ("casualties_unattributed", 0, 0)
    if side and party:
        return ("casualties_pair", side, party)
    if side:
        return ("casualties_side", side, 0)
    if party:
        return ("casualties_party", 0, party)
    return ("casualties_all", 0, 0)


def _tally_scope(filterset):
    """The arguments of `tally.totals()` for the incidents the filter's incident filters leave, when the totals
    answer those filters (conflicts, statuses, whole months of dates); else None. Allegation filters are not
    looked at."""
    if not filterset.data_valid:
        return None
    data = filterset.cleaned()
    for name, value in data.items():
        if _given(value) and name not in TALLIED_FILTERS and name not in filterset.ALLEGATION_FIELDS:
            return None
    months = _whole_months(data.get("date_from"), data.get("date_to"))
    if months is False:
        return None
    statuses, visibilities = _visible(filterset.user, data)
    conflicts = [conflict.pk for conflict in data["conflict"]] if _given(data.get("conflict")) else None
    return statuses, visibilities, conflicts, months


def _from_totals(totals, columns, want_side=None, want_party=None, unattributed=False):
    """Counts from totals keyed (section, side id, party id, key), ids 0 for none: of the allegations of one side,
    one party or the unattributed ones when given (the tally keeps every side and party apart)."""
    by_section = defaultdict(list)
    for (section, side, party, key), n in totals.items():
        by_section[section].append((side or None, party or None, key, n))

    def matches(side, party):
        return _narrowed_to(side, party, want_side, want_party, unattributed)

    def rows(section, fields):
        return [{"perpetrator_side": side, "perpetrator": party, **fields(key), "n": n}
                for side, party, key, n in by_section[section] if matches(side, party)]

    def named(model, section):
        return {str(entry.pk): entry for entry in model.objects.filter(
            pk__in={int(key) for side, party, key, _ in by_section[section] if matches(side, party)})}

    violations, organizations = named(ViolationType, "violation"), named(Organization, "organization")
    return Counts(
        columns=columns,
        confidence=rows("allegations", lambda key: {"confidence": key}),
        violations=rows("violation", lambda key: {
            "violation_types__slug": violations[key].slug, "violation_types__name": violations[key].name,
        }),
        weapons=rows("weapon", lambda key: {"weapons__category": key}),
        organizations=rows("organization", lambda key: {
            "citations__source__organization__slug": organizations[key].slug,
            "citations__source__organization__name": organizations[key].name,
            "citations__source__organization__is_party_affiliated": organizations[key].is_party_affiliated,
        }),
        casualties=_tallied_casualties(by_section, columns, want_side, want_party, unattributed),
    )


def _narrowed_to(side, party, want_side, want_party, unattributed):
    """Whether totals keyed by this side and party (ids, 0 or None for none) count allegations of the one side,
    the one party or the unattributed allegations a filter names (any, where it names none)."""
    return ((not want_side or side == want_side) and (not want_party or party == want_party)
            and (not unattributed or (not side and not party)))


def _whole_months(date_from, date_to):
    """(first, last) month of the date filter as YYYYMM (either None), None without one, or False when it does
    not cover whole months (a range from the 15th is counted live)."""
    if not date_from and not date_to:
        return None
    first = last = None
    if date_from:
        if date_from[0].day != 1:
            return False
        first = tally.month(date_from[0])
    if date_to:
        end = date_to[1]
        if end.day != calendar.monthrange(end.year, end.month)[1]:
            return False
        last = tally.month(end)
    return first, last


def _tallied_casualties(by_section, columns, side=None, party=None, unattributed=False):
    """{column index: totals}, each the incidents with an allegation in the column that the filter matches."""
    found = defaultdict(dict)
    for section in ("casualties_side", "casualties_party", "casualties_pair", "casualties_unattributed",
                    "casualties_all"):
        for row_side, row_party, key, n in by_section[section]:
            found[section, row_side, row_party][key] = n

    def totals(kind, pk):
        """The casualty row of the allegations in a column of this kind that the filter matches."""
        if unattributed:
            matched = side is None and party is None and kind in ("unattributed", "all")
            return found["casualties_unattributed", None, None] if matched else {}
        if side is None and party is None:
            return {
                "side": lambda: found["casualties_side", pk, None],
                "party": lambda: found["casualties_party", None, pk],
                "unattributed": lambda: found["casualties_unattributed", None, None],
                "all": lambda: found["casualties_all", None, None],
            }[kind]()
        if kind == "unattributed":
            return {}
        want_side = pk if kind == "side" else side
        want_party = pk if kind == "party" else party
        if (kind == "side" and side not in (None, pk)) or (kind == "party" and party not in (None, pk)):
            return {}
        if want_side is not None and want_party is not None:
            return found["casualties_pair", want_side, want_party]
        if want_side is not None:
            return found["casualties_side", want_side, None]
        return found["casualties_party", None, want_party]

    return {index: totals(column.kind, column.pk) for index, column in enumerate(columns)}


def _columns(filterset, copy=None):
    """Every side and party with an allegation in the incidents the incident filters leave: read from the
    running totals when they answer those filters, else from the column copy if given, else counted."""
    scope = _tally_scope(filterset)
    if scope is not None:
        return _columns_of(_pairs(tally.totals(*scope, sections=["allegations"])))
    if copy is not None:
        return _columns_of(copy.scope_pairs(filterset))
    pairs = (
        Allegation.objects.filter(within(filterset.incident_scope())).order_by()
        .values_list("perpetrator_side", "perpetrator").distinct()
    )
    return _columns_of(set(pairs))


def _pairs(totals):
    """The (side id, party id) pairs (None for none) that have allegations in these totals."""
    return {(side or None, party or None) for section, side, party, _ in totals if section == "allegations"}


def _columns_of(pairs):
    """The columns for these (side id, party id) pairs: each side with its parties beside it, then parties
    without a side, then unattributed allegations, then all of them together."""
    side_ids = {side for side, _ in pairs if side is not None}
    party_ids = {party for _, party in pairs if party is not None}
    sides = {side.pk: side for side in Side.objects.filter(pk__in=side_ids)}
    parties = {party.pk: party for party in Party.objects.filter(pk__in=party_ids)}
    by_name = lambda entry: entry.name.casefold()  # noqa: E731
    columns = []
    for side in sorted(sides.values(), key=by_name):
        columns.append(Column("side", side.pk, side.name, {"side": side.slug}))
        for party in sorted((p for p in parties.values() if p.side_id == side.pk), key=by_name):
            columns.append(Column("party", party.pk, party.name, {"party": party.slug}, side_label=side.name))
    for party in sorted((p for p in parties.values() if p.side_id not in sides), key=by_name):
        columns.append(Column("party", party.pk, party.name, {"party": party.slug},
                              side_label="no side recorded", sideless=True))
    columns.append(Column("unattributed", None, "Unattributed", {"unattributed": "yes"}))
    columns.append(Column("all", None, "All allegations", {}))
    return columns


class Summed:
    """Grouped rows added up once into every column that holds them, by the value of `key`: each cell is then
    a lookup, not a pass over every row (thousands of rows times dozens of columns and values)."""

    def __init__(self, rows, key=lambda row: None):
        self.sums = Counter()
        for row in rows:
            side, party, value = row["perpetrator_side"], row["perpetrator"], key(row)
            places = [("all", None)]
            if side is not None:
                places.append(("side", side))
            if party is not None:
                places.append(("party", party))
            if side is None and party is None:
                places.append(("unattributed", None))
            for place in places:
                self.sums[place, value] += row["n"]

    def of(self, column, value=None):
        return self.sums[(column.kind, column.pk), value]


def _cell(value, links, params, title=""):
    return Cell(value=value, text=str(value), url=links.url(**params) if value else "", title=title)


def _allegations_section(columns, confidence_rows, links):
    summed = Summed(confidence_rows)
    cells = [_cell(summed.of(column), links, column.params) for column in columns]
    return Section("allegations", "Allegations", [Row("Allegations", cells)])


def _grouped_section(slug, title, columns, rows, key, label_of, parameter, links, note=""):
    labels = {row[key]: label_of(row) for row in rows}
    summed = Summed(rows, lambda row: row[key])
    table = []
    for value, label in sorted(labels.items(), key=lambda item: item[1].casefold()):
        cells = [
            _cell(summed.of(column, value), links, {**column.params, parameter: value})
            for column in columns
        ]
        table.append(Row(label, cells))
    return Section(slug, title, table, note=note)


def _confidence_section(columns, rows, links):
    summed = Summed(rows, lambda row: row["confidence"])
    table = []
    for value, label in Confidence.choices:
        cells = [
            _cell(summed.of(column, value), links, {**column.params, "confidence": value})
            for column in columns
        ]
        table.append(Row(label, cells))
    return Section("confidence", "Allegations by confidence grade", table,
                   note="The grade is the allegation's: verified means an independent organization examined "
                        "physical or digital evidence; party claim means only a party to the conflict asserts it.")


def _casualty_aggregates(prefix=""):
    values = {"incidents": Count(f"{prefix}id")}
    for name in CASUALTIES:
        values[f"total_{name}"] = Sum(f"{prefix}{name}")
        values[f"known_{name}"] = Count(f"{prefix}{name}")
    return values


def _casualty_section(columns, casualties, links):
    def row(label, name):
        cells = []
        for index, column in enumerate(columns):
            totals = casualties[index]
            incidents = totals.get("incidents") or 0
            url = links.url(**column.params) if incidents else ""
            if name == "incidents":
                cells.append(Cell(value=incidents, text=str(incidents), url=url))
                continue
            value, known = totals.get(f"total_{name}") or 0, totals.get(f"known_{name}") or 0
            text = f"{value} ({known} of {incidents})" if incidents else "0"
            cells.append(Cell(value=value, text=text, url=url, title=f"{known} of {incidents} incidents give this figure"))
        return Row(label, cells)

    rows = [
        row("Incidents", "incidents"),
        row("Civilians killed, sum of minimums", "civilians_killed_min"),
        row("Civilians killed, sum of maximums", "civilians_killed_max"),
        row("Civilians injured, sum of minimums", "civilians_injured_min"),
        row("Civilians injured, sum of maximums", "civilians_injured_max"),
    ]
    return Section(
        "casualties", "Civilian casualties in the incidents", rows,
        note=(
            "Casualties belong to incidents, not to allegations. Each column sums the figures of the incidents with "
            "at least one matching allegation against that side or party, each incident once. An incident with "
            "allegations against several sides or parties is counted in full in each of their columns (the "
            "figures are not split between them), so the columns do not add up to the total. In brackets: how "
            "many of those incidents give the figure at all; a blank figure means not established, never zero, "
            "and is left out of the sum."
        ),
    )


def _sources_section(columns, organization_rows, confidence_rows, links):
    org_key = "citations__source__organization__slug"
    affiliated = "citations__source__organization__is_party_affiliated"
    rows = []
    citations, partisan, verified = [], [], []
    by_organization = Summed(organization_rows, lambda row: row[org_key])
    by_affiliation = Summed(organization_rows, lambda row: bool(row[affiliated]))
    by_confidence = Summed(confidence_rows, lambda row: row["confidence"])
    for column in columns:
        from_parties = by_affiliation.of(column, True)
        total = from_parties + by_affiliation.of(column, False)
        graded = by_confidence.of(column, Confidence.VERIFIED)
        count = sum(by_confidence.of(column, value) for value in Confidence.values)
        citations.append(_cell(total, links, column.params))
        partisan.append(_share(from_parties, total, links, {**column.params, "organization_kind": "party_affiliated"}))
        verified.append(_share(graded, count, links, {**column.params, "confidence": Confidence.VERIFIED}))
    rows.append(Row("Citations", citations))
    rows.append(Row("Citations from party-affiliated organizations", partisan,
                    note="share of the citations in the column"))
    rows.append(Row("Allegations graded verified", verified, note="share of the allegations in the column"))
    names = {}
    for row in organization_rows:
        names[row[org_key]] = (row["citations__source__organization__name"], row[affiliated])
    for slug, (name, is_affiliated) in sorted(names.items(), key=lambda item: item[1][0].casefold()):
        cells = [
            _cell(by_organization.of(column, slug), links, {**column.params, "organization": slug})
            for column in columns
        ]
        rows.append(Row(f"{name}{' (party-affiliated)' if is_affiliated else ''}", cells, note="citations"))
    return Section(
        "sources", "What the allegations rest on", rows,
        note="Citations of each reporting organization. Party-affiliated organizations are a party to the "
             "conflict, its officials, state media or affiliated bodies. A number's link lists the incidents "
             "with those citations.",
    )


def _share(part, whole, links, params):
    percent = round(100 * part / whole) if whole else 0
    text = f"{part} of {whole} ({percent}%)" if whole else "—"
    return Cell(value=part, text=text, url=links.url(**params) if part else "", title=f"{percent}%")


def _colours(columns):
    colours, next_colour = [], 0
    for column in columns:
        if column.kind in ("unattributed", "all"):
            colours.append(GREY)
        else:
            colours.append(COLOURS[next_colour % len(COLOURS)])
            next_colour += 1
    return colours


def bar_chart(section, columns, bar_height=14, plot_width=300, label_width=260):
    """Geometry of a grouped horizontal bar chart of a section: one group per row, one bar per side column
    (and unattributed), drawn by the template as SVG. Parties are in the table."""
    series = [(index, column) for index, column in enumerate(columns) if column.kind in ("side", "unattributed")]
    series += [(index, column) for index, column in enumerate(columns) if column.sideless]
    rows = [row for row in section.rows if isinstance(row.cells[0].value, int)]
    if not series or not rows:
        return {}
    top = max((row.cells[index].value for row in rows for index, _ in series), default=0) or 1
    colours = _colours([column for _, column in series])
    group_height = bar_height * len(series) + 10
    bars, labels = [], []
    for position, row in enumerate(rows):
        y0 = 24 + position * group_height
        labels.append({"x": label_width - 8, "y": y0 + bar_height * len(series) / 2, "text": row.label})
        for offset, (index, column) in enumerate(series):
            cell = row.cells[index]
            width = round(plot_width * cell.value / top, 1)
            y = y0 + offset * bar_height
            bars.append({
                "x": label_width, "y": y, "width": width, "height": bar_height - 3, "colour": colours[offset],
                "url": cell.url, "value": cell.value, "title": f"{column.label}: {cell.text} — {row.label}",
                "text_x": label_width + width + 4, "text_y": y + bar_height - 5,
            })
    legend = [{"colour": colours[i], "label": column.label} for i, (_, column) in enumerate(series)]
    return {
        "width": label_width + plot_width + 60, "height": 30 + len(rows) * group_height,
        "bars": [_bar_svg(bar) for bar in bars], "labels": labels, "legend": legend,
    }


def _bar_svg(bar):
    """One bar's SVG, escaped: built here because hundreds of bars through the template cost more than the
    balance's counting."""
    x, y, width, height, colour, title, text_x, text_y, value = (
        escaped(bar[name]) for name in ("x", "y", "width", "height", "colour", "title", "text_x", "text_y", "value"))
    shape = (f'<rect x="{x}" y="{y}" width="{width}" height="{height}" fill="{colour}"><title>{title}</title></rect>'
             f'<text x="{text_x}" y="{text_y}" class="chart-value">{value}</text>')
    return mark_safe(f'<a href="{escaped(bar["url"])}">{shape}</a>' if bar["url"] else shape)


# --- Timeline -------------------------------------------------------------

MAX_MONTHS = 120


@dataclass
class Timeline:
    buckets: list  # (label, first, last, link text for date_from, date_to)
    series: list  # {"label", "kind", "cells": [Cell per bucket]}
    total: list
    undated: int
    by_year: bool
    chart: dict = field(default_factory=dict)

    @property
    def rows(self):
        """The data table: one row per bucket, a cell per side, then the total."""
        return [
            (bucket[0], [series["cells"][index] for series in self.series] + [self.total[index]])
            for index, bucket in enumerate(self.buckets)
        ]


def _month_buckets(first, last):
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        end = datetime.date(year, month, calendar.monthrange(year, month)[1])
        yield f"{year:04d}-{month:02d}", datetime.date(year, month, 1), end
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _year_buckets(first, last):
    for year in range(first.year, last.year + 1):
        yield f"{year:04d}", datetime.date(year, 1, 1), datetime.date(year, 12, 31)


def _clipped(buckets, start, end):
    """Buckets cut to the filter's own date range, so that a bucket's link lists exactly what it counts."""
    for label, first, last in buckets:
        low, high = max(first, start) if start else first, min(last, end) if end else last
        whole = (low, high) == (first, last)
        yield label, low, high, (label, label) if whole else (low.isoformat(), high.isoformat())


def timeline(filterset, query=None, *, live=False):
    """Incidents per month (per year beyond ten years) for each side, counted where their span overlaps.

    The incidents of each row are counted by the months their spans start and end in (`_Spans`): read from the
    running totals by month when they answer the filter (`_tallied_spans()`), otherwise from the column copy
    (`incidents.columnar`) or counted from the matching incidents and allegations (`_counted_spans()`); `live=True`
    always counts in SQL (the tests compare them).
    Each count then goes to every bucket its months overlap (`_swept()`).
    """
    links = Links(query if query is not None else QueryDict())
    spans = None if live else _tallied_spans(filterset)
    if spans is None:
        copy = None if live else columnar.current(filterset)
        spans = copy.spans(filterset) if copy is not None else _counted_spans(filterset)
    undated = spans.total[0, 0]
    buckets, by_year = _timeline_buckets(filterset, spans.extent())
    if not buckets:
        return Timeline([], [], [], undated, False)
    bucket_of = _bucket_of(buckets, by_year)

    def cells(counted, params):
        return [
            _cell(value, links, {**params, "date_from": texts[0], "date_to": texts[1]})
            for value, (_, _, _, texts) in zip(_swept(counted, len(buckets), bucket_of), buckets)
        ]

    sides = Side.objects.filter(pk__in=list(spans.sides)).order_by("name").values_list("pk", "name", "slug")
    series = [{"label": name, "kind": "side", "cells": cells(spans.sides[pk], {"side": slug})}
              for pk, name, slug in sides]
    unattributed = cells(spans.unattributed, {"unattributed": "yes"})
    if any(cell.value for cell in unattributed):
        series.append({"label": "Unattributed", "kind": "unattributed", "cells": unattributed})
    result = Timeline(buckets, series, cells(spans.total, {}), undated, by_year)
    result.chart = timeline_chart(result)
    return result


@dataclass
class _Spans:
    """What each row of the timeline counts, by the months the incidents' spans start and end in: {(first
    month, last month): incidents} as YYYYMM, (0, 0) for the undated ones, for the total row, for each side
    (by id) and for the unattributed allegations; and the last day the total's incidents reach by their known
    dates (COALESCE(date_end, date_start)), where the axis ends."""

    total: Counter = field(default_factory=Counter)
    sides: dict = field(default_factory=lambda: defaultdict(Counter))
    unattributed: Counter = field(default_factory=Counter)
    last: datetime.date = None

    def reach(self, day):
        """Count a day the total's incidents reach (a date, or its text from a raw statement) into `last`."""
        if day:
            day = day if isinstance(day, datetime.date) else datetime.date.fromisoformat(str(day)[:10])
            self.last = max(self.last, day) if self.last else day

    def extent(self):
        """(first day, last day) of the axis before the filter cuts it, None without a dated incident. The axis
        runs by months, so the first day is that of the month the earliest span starts in. The last day stays a
        day, as a filter's first day is compared with it: a filter from the 15th whose incidents' dates all end
        before it (an open month or year reaches only its start) has no axis."""
        dated = [first for first, _ in self.total if first]
        return (_first_day(min(dated)), self.last) if dated else None


def _first_day(month):
    return datetime.date(month // 100, month % 100, 1)


class _Month(Func):
    """A date's month as a number, YYYYMM (`tally.month()`), NULL for no date, in each database's own SQL:
    EXTRACT on PostgreSQL; on SQLite, which stores a date as 'YYYY-MM-DD' text, read from the text (Django's
    ExtractYear and ExtractMonth call a Python function there for every row)."""

    arity = 1
    output_field = IntegerField()
    december = False  # December of the date's year instead of its own month

    def _month_sql(self, compiler, year, month):
        sql, params = compiler.compile(self.source_expressions[0])
        if self.december:
            return f"({year(sql)} * 100 + 12)", list(params)
        return f"({year(sql)} * 100 + {month(sql)})", [*params, *params]

    def as_sql(self, compiler, connection, **extra_context):
        return self._month_sql(compiler, lambda sql: f"CAST(EXTRACT(YEAR FROM {sql}) AS INTEGER)",
                               lambda sql: f"CAST(EXTRACT(MONTH FROM {sql}) AS INTEGER)")

    def as_sqlite(self, compiler, connection, **extra_context):
        return self._month_sql(compiler, lambda sql: f"CAST(substr({sql}, 1, 4) AS INTEGER)",
                               lambda sql: f"CAST(substr({sql}, 6, 2) AS INTEGER)")


class _December(_Month):
    """December of a date's year, YYYY12: where an open span of year precision ends."""

    december = True


def _span_months(prefix=""):
    """{"first_month": ..., "last_month": ...}: the months an incident's span starts and ends in as the date
    filters read it (`tally.months_of()`), as expressions; `prefix` leads to the incident (incident__)."""
    start, end = f"{prefix}date_start", f"{prefix}date_end"
    return {
        "first_month": _Month(start),
        "last_month": Case(
            When(**{f"{end}__isnull": False}, then=_Month(end)),
            When(**{f"{prefix}date_precision": "year"}, then=_December(start)),
            default=_Month(start),
        ),
    }


def _counted_spans(filterset):
    """The spans counted from the matching incidents and allegations: with an allegation filter, in parts
    (`_counted_spans_in_parts()`); else in three grouped statements, run side by side (`_run_side_by_side()`):
    the matching incidents, the allegations of a side and the unattributed ones (neither side nor party), each
    incident once per side. The sides' allegations are counted apart from the unattributed ones so that they are
    read from the index of sides and incidents."""
    if filterset.has_allegation_filter():
        return _counted_spans_in_parts(filterset)
    spans = _Spans()
    months = _span_months()
    incidents = filterset.qs.order_by()
    matching = filterset.allegations().order_by()
    statements = [
        incidents.values(**months).annotate(n=Count("pk"), last=Max(Coalesce("date_end", "date_start"))),
        matching.filter(perpetrator_side__isnull=False).values(
            "perpetrator_side", **_span_months("incident__")).annotate(n=Count("incident", distinct=True)),
        matching.filter(perpetrator_side__isnull=True, perpetrator__isnull=True).values(
            **_span_months("incident__")).annotate(n=Count("incident", distinct=True)),
    ]
    totals, sides, unattributed = _run_side_by_side([query.query.sql_with_params() for query in statements])
    for first_month, last_month, n, reached in totals:
        spans.total[first_month or 0, last_month or 0] += n
        spans.reach(reached)
    for side, first_month, last_month, n in sides:
        spans.sides[side][first_month or 0, last_month or 0] += n
    for first_month, last_month, n in unattributed:
        spans.unattributed[first_month or 0, last_month or 0] += n
    return spans


def _counted_spans_in_parts(filterset):
    """The spans of a filter with an allegation filter, as the balance counts it live (`live_totals()`): in one
    statement per range of incident ids, run side by side, each allegation of the range tested against the filter
    once (a materialized WITH of its incident, side and party), then each row's incidents, once each, grouped by
    the months their spans start and end in as the running totals keep them (IncidentTally), not computed from
    their dates. The incident ranges do not overlap, so the parts' counts add up. (At 10^5 incidents the timeline
    of the two organizations cited most took 1.4 s grouped by computed months through the filter's joins, 0.4 s
    so; at 10^6, 18 s.)"""
    spans = _Spans()
    quote = connection.ops.quote_name
    tallies, incidents = quote(IncidentTally._meta.db_table), quote(Incident._meta.db_table)

    def grouped(row, which, by_side=False):
        """One row's incidents by months, and the day the total's reach: (row, side id, first, last, n, day)."""
        side, kept = ("d.side", ", side") if by_side else ("0", "")
        reached, joined = "NULL", ""
        if row == "total":
            reached, joined = "MAX(COALESCE(i.date_end, i.date_start))", f" JOIN {incidents} i ON i.id = d.incident_id"
        return (f"SELECT '{row}', {side}, t.first_month, t.last_month, COUNT(*), {reached} "
                f"FROM (SELECT DISTINCT incident_id{kept} FROM m WHERE {which}) d "
                f"JOIN {tallies} t ON t.incident_id = d.incident_id{joined} "
                f"GROUP BY {side + ', ' if by_side else ''}t.first_month, t.last_month")

    rows = " UNION ALL ".join([grouped("total", "1 = 1"), grouped("side", "side IS NOT NULL", by_side=True),
                               grouped("unattributed", "side IS NULL AND party IS NULL")])
    statements = _over_matching_in_parts(
        filterset, {"incident_id": "incident_id", "side": "perpetrator_side_id", "party": "perpetrator_id"}, rows)
    for counted in _run_side_by_side(statements):
        for row, side, first_month, last_month, n, reached in counted:
            if row == "total":
                spans.total[first_month, last_month] += n
                spans.reach(reached)
            elif row == "side":
                spans.sides[side][first_month, last_month] += n
            else:
                spans.unattributed[first_month, last_month] += n
    return spans


def _tallied_spans(filterset):
    """The spans read from the running totals by month (`tally`) when they answer the filter (`_tallied_scope()`),
    else None: one query sums the rows of the sections the timeline reads (`_tallied_sections()`) whose spans
    overlap the filter's months, if it names any. Without a party they are the timeline's own totals
    (TimelineTally), of one facet value (or several of a joint facet) or of none: all the incidents, each side's,
    the unattributed allegations'; with a party, the totals by month of every section (BalanceTallyByMonth),
    which keep no facet."""
    tallied = _tallied_scope(filterset, facet_by_month=True)
    if tallied is None:
        return None
    (statuses, visibilities, conflicts, months), facet, side, party, unattributed = tallied
    if facet and party:
        return None
    spans = _Spans()
    sections = _tallied_sections(side, party, unattributed)
    if sections is None:
        return spans
    total, per_side, sideless = sections
    read = {section for section, _, _ in filter(None, sections)}
    if not party:
        # The timeline's own rows: a few rows per month where the totals by month keep every section of the balance.
        rows, summed = _of_facet(TimelineTally.objects.filter(section__in=read), facet)
        party_column = Value(0)  # kept for the sides only
    else:
        rows = BalanceTallyByMonth.objects.filter(key="incidents", section__in=read, party_id=party)
        party_column = "party_id"
        summed = Sum("n")
    if side:
        rows = rows.filter(side_id=side)
    rows = _in_scope(rows, (statuses, visibilities, conflicts, months))
    last = months[1] if months else None
    grouped = rows.order_by().values_list("section", "side_id", party_column, "first_month", "last_month")
    for section, row_side, row_party, first_month, last_month, n in grouped.annotate(n=summed):
        if not n:
            continue  # a key whose incidents all moved away
        column = (section, row_side, row_party)
        if column == total:
            spans.total[first_month, last_month] += n
        if per_side and row_side and (section, row_party) == (per_side[0], per_side[2]):
            spans.sides[row_side][first_month, last_month] += n
        if column == sideless:
            spans.unattributed[first_month, last_month] += n
    spans.last = _tallied_last(filterset, spans.total, last)
    return spans


def _tallied_sections(side, party, unattributed):
    """(total, per side, unattributed): the (section, side id, party id) of the running totals that each row of
    the timeline reads for a filter of at most one side, one party or the unattributed allegations (in the
    sides' row, side id None: each side's own), or None for a row the filter leaves empty; None for all of them
    when no allegation can match (unattributed and of a side or party)."""
    total = _incidents_column(side, party, unattributed)
    if total is None:
        return None
    if unattributed:
        return total, None, total
    if side:
        return total, total, None
    if party:
        return total, ("casualties_pair", None, party), None
    return total, ("casualties_side", None, 0), ("casualties_unattributed", 0, 0)


def _tallied_last(filterset, total, last_month=None):
    """The last day of the axis for the tallied spans of the total row: the first day of the month their
    incidents reach by their known dates (COALESCE(date_end, date_start)), as far as it shapes the axis, that
    is up to the filter's last month, if any. The totals answer filters of whole months only, so the month is
    all that a filter's first day is compared with.

    A span's last month is the month of its end date, or of its start date without one, but for an open span
    of year precision: its span runs to December while its dates reach only its start. So an incident whose
    span runs from a month to December of the same year reaches one or the other; when that leaves the axis
    open, one more query reads the incidents that may decide it (from the first month such a span starts in).
    """
    sure = reached = 0  # the months the incidents reach at least, and at most
    undecided = []
    for first, last in total:
        if not first:
            continue
        reached = max(reached, last)
        if first < last == first // 100 * 100 + 12:  # to December of the year it starts in
            sure = max(sure, first)
            undecided.append((first, last))
        else:
            sure = max(sure, last)
    if not reached:
        return None
    if sure == reached or (last_month is not None and sure >= last_month):
        return _first_day(sure)
    since = min(first for first, last in undecided if last > sure)
    latest = filterset.qs.order_by().filter(date_start__gte=_first_day(since)).aggregate(
        last=Max(Coalesce("date_end", "date_start")))["last"]
    return _first_day(max(sure, tally.month(latest)))


def _timeline_buckets(filterset, extent):
    """(buckets, by_year): the axis over the incidents' extent (first day, last day; None without a dated
    incident), cut to the filter's range."""
    if extent is None:
        return [], False
    data = filterset.cleaned()
    start = data["date_from"][0] if data.get("date_from") else None
    end = data["date_to"][1] if data.get("date_to") else None
    first = max(day for day in (extent[0], start) if day)
    last = min(day for day in (extent[1], end) if day)
    if first > last:
        return [], False
    by_year = (last.year - first.year) * 12 + last.month - first.month + 1 > MAX_MONTHS
    raw = _year_buckets(first, last) if by_year else _month_buckets(first, last)
    return list(_clipped(raw, start, end)), by_year


def _bucket_of(buckets, by_year):
    """The index of the bucket a month (YYYYMM) is in: negative before the first bucket, past the last one
    after it."""
    origin = buckets[0][1]
    if by_year:
        return lambda month: month // 100 - origin.year
    return lambda month: (month // 100 - origin.year) * 12 + month % 100 - origin.month


def _swept(spans, count, bucket_of):
    """Incidents per bucket from {(first month, last month): n}: each n counted in every bucket its months
    overlap, through a difference array (n added where its buckets begin, taken off after they end).

    Whole months count exactly even in a first or last bucket cut to a day of the filter (from the 15th). Every
    incident counted overlaps the filter's range; its span overlaps the whole bucket when their months do; and
    the bucket overlaps the range. Three intervals of a line that overlap two by two have a point in common, so
    the span overlaps the bucket's part within the range too: the cut bucket its link lists."""
    steps = [0] * (count + 1)
    for (first, last), n in spans.items():
        if not first:
            continue
        low, high = max(bucket_of(first), 0), min(bucket_of(last), count - 1)
        if low <= high:
            steps[low] += n
            steps[high + 1] -= n
    return list(accumulate(steps[:count]))


def timeline_chart(result, band=70, left=190, top=20):
    """One band of bars per side (and the total), months along the x axis."""
    if not result.buckets:
        return {}
    count = len(result.buckets)
    step = max(6, min(28, 760 // count))
    rows = [*result.series, {"label": "All incidents", "kind": "all", "cells": result.total}]
    peak = max((cell.value for row in rows for cell in row["cells"]), default=0) or 1
    colours = _colours([Column(row["kind"], None, row["label"], {}) for row in rows])
    bands, bars = [], []
    for row_index, row in enumerate(rows):
        label, cells = row["label"], row["cells"]
        y0 = top + row_index * (band + 12)
        bands.append({"label": label, "y": y0 + band / 2, "line_y": y0 + band})
        for index, cell in enumerate(cells):
            height = round((band - 14) * cell.value / peak, 1)
            bars.append({
                "x": left + index * step, "y": y0 + band - height, "width": step - 2, "height": height,
                "colour": colours[row_index], "url": cell.url, "value": cell.value,
                "title": f"{label}, {result.buckets[index][0]}: {cell.value} incident{'s' if cell.value != 1 else ''}",
                "text_y": y0 + band - height - 2, "text_x": left + index * step + (step - 2) / 2,
            })
    every = max(1, count // 12 + (1 if count % 12 else 0)) if count > 12 else 1
    axis_y = top + len(rows) * (band + 12) + 4
    ticks = [
        {"x": left + index * step + (step - 2) / 2, "label": bucket[0]}
        for index, bucket in enumerate(result.buckets) if index % every == 0
    ]
    return {
        "width": left + count * step + 30, "height": axis_y + 40, "bands": bands, "bars": bars, "ticks": ticks,
        "axis_y": axis_y, "left": left, "right": left + count * step, "show_values": step >= 16,
    }
