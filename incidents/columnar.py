"""The column copy: the stored facts of every record incident (IncidentTally), held in memory as arrays, so
that a filter the running totals do not answer is still counted in a fraction of a second.

The running totals (`incidents.tally`) answer one value of a facet, a few of one facet, whole months and the
like. Any other combination (three organizations, an organization and a weapon category, a day, a minimum of
civilians killed) was counted live in SQL: at 10^6 incidents the balance of the three organizations cited most
took 8 s on SQLite and 16 s on PostgreSQL, the timeline 6 and 12 s. Those filters describe each allegation by
the facts IncidentTally keeps (side, party, grade, violation types, weapon categories, cited organizations) and
each incident by its status, visibility, conflict, place, district, dates and casualty figures. Held as arrays
(numpy), one column per fact and one row per allegation, link or incident, any combination of them is a few
vectorized passes over them.

The copy is exact or it is not used. It is keyed by the audit log's head (`audit.head()`, the last entry's
position and hash):
every write appends to the log in the transaction that makes it, so a copy read while the head stayed put holds
exactly the committed facts, and one whose head is no longer the log's is stale. A copy a few writes behind
catches up by reading again the incidents whose histories those entries extend (`Patched`); after an entry that
may have changed many incidents (a source moving to another organization...) it answers nothing, and the
callers count in SQL as before, while the copy is read whole again (ARCHIVE_COLUMNAR: "background", in a thread
of its own; "inline", in the request, as the tests do; "off", never).

The counts have the shapes of the live SQL counts they stand in for (`balance.live_totals()`, the timeline's
spans, `IncidentFilter.counts()`), and `tests/test_columnar.py` holds them equal to those.
"""
import calendar
import datetime
import logging
import threading
import time
from array import array
from copy import copy as shallow_copy

import numpy as np
from django.conf import settings
from django.db import connection

from archive import audit
from archive.models import AuditEvent
from sources.models import Organization

from .filters import INDEPENDENT, PARTY_AFFILIATED, _given
from .models import Incident, IncidentTally
from .tally import CASUALTIES

# The filters the copy answers; any other (words, weapon types) is counted in SQL.
ANSWERED = {"conflict", "place", "admin_area", "status", "sort", "date_from", "date_to", "killed_min", "side",
            "party", "unattributed", "violation", "weapon_category", "cluster", "confidence", "organization",
            "organization_kind"}
_MONTHS = 1_000_000  # a span's key: first month * _MONTHS + last month
_PAIR = 1 << 32  # a side and party's key: side id * _PAIR + party id


class Copy:
    """The arrays. Incidents in id order; allegations in their incidents' order; links (violation types,
    weapons' categories, citations) each with the index of their allegation. Values are ids (0 for none) or codes
    into the vocabularies kept beside them."""

    replaced = None  # the incidents read again since (`Patched`), left out here

    def __init__(self, head, seconds=0.0):
        self.head, self.seconds = head, seconds

    def without(self, ids):
        """This copy, sharing its arrays, with these incidents left out."""
        left = shallow_copy(self)
        left.replaced = np.isin(self.ids, np.fromiter(ids, dtype=np.int64, count=len(ids)))
        return left

    @property
    def nbytes(self):
        arrays = [value for value in vars(self).values() if isinstance(value, np.ndarray)]
        return sum(values.nbytes for values in arrays + self.figures + self.known)

    # --- the filter -------------------------------------------------------

    def _codes(self, vocabulary, values):
        index = _vocabulary(vocabulary)
        return [index[value] for value in values if value in index]

    def _scope(self, filterset):
        """Which incidents the filter's incident filters leave, of those its user may see."""
        from .balance import _visible

        data = filterset.cleaned()
        statuses, visibilities = _visible(filterset.user, data)
        incidents = (np.isin(self.status, self._codes(self.statuses, statuses))
                     & np.isin(self.visibility, self._codes(self.visibilities, visibilities)))
        if _given(data.get("conflict")):
            incidents &= np.isin(self.conflict, [conflict.pk for conflict in data["conflict"]])
        if data.get("place"):
            incidents &= np.isin(self.place, [place.pk for place in data["place"]])
        if data.get("admin_area"):
            incidents &= np.isin(self.admin_area, self._codes(self.admin_areas, data["admin_area"]))
        first = data["date_from"][0] if data.get("date_from") else None
        last = data["date_to"][1] if data.get("date_to") else None
        if first or last:  # as filters.overlapping(): the span's end is its end date, or its month's or year's
            incidents &= self.start >= 0
            if last:
                incidents &= self.start <= last.toordinal()
            if first:
                incidents &= self.span_end >= first.toordinal()
        if data.get("killed_min") is not None:
            incidents &= self.known[0].astype(bool) & (self.figures[0] >= int(data["killed_min"]))
        if self.replaced is not None:
            incidents &= ~self.replaced
        return incidents

    def select(self, filterset):
        """The selection of what matches the filter: the incidents in scope (incident filters), the matching
        allegations, and the links each section counts (of the filter's own values where it names some)."""
        data = filterset.cleaned()
        incidents = self._scope(filterset)
        allegations = incidents[self.allegation_incident]
        if _given(data.get("side")):
            allegations &= np.isin(self.side, [side.pk for side in data["side"]])
        if _given(data.get("party")):
            allegations &= np.isin(self.party, [party.pk for party in data["party"]])
        if data.get("unattributed") == "yes":
            allegations &= (self.side == 0) & (self.party == 0)
        if data.get("confidence"):
            allegations &= np.isin(self.grade, self._codes(self.grades, data["confidence"]))
        violations = weapons = citations = None  # the links the filter selects, where it names them
        if _given(data.get("violation")):
            violations = np.isin(self.violation, [violation.pk for violation in data["violation"]])
            allegations &= self._having(self.violation_allegation[violations])
        if data.get("weapon_category") or data.get("cluster") == "yes":
            weapons = np.ones(len(self.weapon_allegation), dtype=bool)
            if data.get("weapon_category"):
                weapons &= np.isin(self.category, self._codes(self.categories, data["weapon_category"]))
            if data.get("cluster") == "yes":
                weapons &= self.cluster
            allegations &= self._having(self.weapon_allegation[weapons])
        organizations = self._organizations(data)
        if organizations is not None:
            citations = organizations[self.citation_organization]
            allegations &= self._having(self.citation_allegation[citations])
        return _Selection(incidents, allegations, violations, weapons, citations,
                          filterset.has_allegation_filter())

    def _organizations(self, data):
        """Which organizations (by code) the filter's organizations and kinds select, None for no such filter."""
        chosen = _given(data.get("organization"))
        kinds = data.get("organization_kind")
        if not chosen and not kinds:
            return None
        selected = np.ones(len(self.organizations), dtype=bool)
        if chosen:
            selected &= np.isin(self.organizations, [organization.pk for organization in data["organization"]])
        if kinds:
            of_kind = np.isin(self.organization_kind, self._codes(self.kinds, kinds))
            if INDEPENDENT in kinds:
                of_kind |= ~self.organization_affiliated
            if PARTY_AFFILIATED in kinds:
                of_kind |= self.organization_affiliated
            selected &= of_kind
        return selected

    def _having(self, allegation_indexes):
        having = np.zeros(len(self.allegation_incident), dtype=bool)
        having[allegation_indexes] = True
        return having

    # --- counts -----------------------------------------------------------

    def counts(self, filterset):
        """`IncidentFilter.counts()`: the incidents that match, and their allegations that match."""
        selection = self.select(filterset)
        incidents = self._matching_incidents(selection)
        return {"incidents": int(incidents.sum()), "allegations": int(selection.allegations.sum())}

    def _matching_incidents(self, selection):
        """The incidents that match: with an allegation filter, those with a matching allegation."""
        if not selection.by_allegation:
            return selection.incidents
        matching = np.zeros(len(self.ids), dtype=bool)
        matching[self.allegation_incident[selection.allegations]] = True
        return matching

    def scope_pairs(self, filterset):
        """The (side id, party id) pairs (None for none) of the allegations of the incidents in scope."""
        present = np.flatnonzero(np.bincount(self.pair[self._scope(filterset)[self.allegation_incident]],
                                             minlength=len(self.pair_side)))
        return {(int(self.pair_side[code]) or None, int(self.pair_party[code]) or None) for code in present}

    def totals(self, filterset):
        """`balance.live_totals()`: {(section, side id, party id, key): n}, and, without an allegation filter, the
        casualties of every incident in scope ("casualties_all"), as `balance._counted()` adds them."""
        selection = self.select(filterset)
        matching = selection.allegations
        totals = {}

        def grouped(section, allegations, values, vocabulary):
            """Count the allegations (repeated once per link) by their side and party and a value's code."""
            width = len(vocabulary)
            counted = np.bincount(self.pair[allegations] * width + values, minlength=len(self.pair_side) * width)
            for code in np.flatnonzero(counted):
                pair, value = divmod(int(code), width)
                totals[(section, int(self.pair_side[pair]), int(self.pair_party[pair]), vocabulary[value])] = \
                    int(counted[code])

        grouped("allegations", np.flatnonzero(matching), self.grade[matching], self.grades)
        links = matching[self.violation_allegation]
        if selection.violations is not None:
            links &= selection.violations
        grouped("violation", self.violation_allegation[links], self.violation_code[links], self.violation_keys)
        links = matching[self.weapon_allegation]
        if selection.weapons is not None:
            links &= selection.weapons
        # An allegation counts once under a category, however many of its weapons are of it.
        keys = _runs(np.sort(self.weapon_allegation[links] * len(self.categories) + self.category[links]))
        grouped("weapon", keys // len(self.categories), keys % len(self.categories), self.categories)
        links = matching[self.citation_allegation]
        if selection.citations is not None:
            links &= selection.citations
        grouped("organization", self.citation_allegation[links], self.citation_organization[links],
                self.organization_keys)

        for section, values, codes, vocabulary in (
                ("casualties_side", self.side, self.side_code, self.side_values),
                ("casualties_party", self.party, self.party_code, self.party_values)):
            present = matching & (values > 0)
            incidents, found = _distinct(self.allegation_incident[present], codes[present], len(vocabulary))
            self._casualties(totals, section, incidents, found, vocabulary)
        unattributed = matching & (self.side == 0) & (self.party == 0)
        incidents = _runs(self.allegation_incident[unattributed])  # in incident order: each once
        self._casualties(totals, "casualties_unattributed", incidents, np.zeros(len(incidents), dtype=np.int64))
        everything = np.flatnonzero(self._matching_incidents(selection))
        self._casualties(totals, "casualties_all", everything, np.zeros(len(everything), dtype=np.int64),
                         always=not selection.by_allegation)
        return totals

    def _casualties(self, totals, section, incidents, codes, vocabulary=(0,), always=False):
        """The casualty columns of a section: for each code, over its incidents (each once per code), how many,
        and each figure's sum and how many incidents know it; a side's column keyed by its id, a party's too, the
        others by none. None for a column without incidents, unless `always`."""
        width = len(vocabulary)
        counted = np.bincount(codes, minlength=width)
        figures = [(np.bincount(codes, weights=total[incidents], minlength=width),
                    np.bincount(codes, weights=known[incidents], minlength=width))
                   for total, known in zip(self.figures, self.known)]
        for code in range(width) if always else np.flatnonzero(counted):
            value = int(vocabulary[code])
            column = (section, value, 0) if section == "casualties_side" else (section, 0, value)
            totals[(*column, "incidents")] = int(counted[code])
            for name, (total, known) in zip(CASUALTIES, figures):
                totals[(*column, f"total_{name}")] = int(total[code])
                totals[(*column, f"known_{name}")] = int(known[code])

    def spans(self, filterset):
        """The timeline's spans (`balance._Spans`): the matching incidents by the months their spans start and end
        in, in all, for each side and for the unattributed allegations, each incident once per row."""
        from .balance import _Spans

        selection = self.select(filterset)
        matching = selection.allegations
        spans = _Spans()
        incidents = np.flatnonzero(self._matching_incidents(selection))
        self._by_span(spans.total, incidents)
        reached = self.reach[incidents]
        reached = reached[reached >= 0]
        if len(reached):
            spans.reach(datetime.date.fromordinal(int(reached.max())))
        present = matching & (self.side > 0)
        incidents, sides = _distinct(self.allegation_incident[present], self.side_code[present], len(self.side_values))
        width = len(self.span_keys)
        counted = np.bincount(sides * width + self.span[incidents], minlength=len(self.side_values) * width)
        for code in np.flatnonzero(counted):
            side, span = divmod(int(code), width)
            first, last = divmod(int(self.span_keys[span]), _MONTHS)
            spans.sides[int(self.side_values[side])][first, last] += int(counted[code])
        unattributed = matching & (self.side == 0) & (self.party == 0)
        self._by_span(spans.unattributed, _runs(self.allegation_incident[unattributed]))
        return spans

    def _by_span(self, counter, incidents):
        counted = np.bincount(self.span[incidents], minlength=len(self.span_keys))
        for code in np.flatnonzero(counted):
            first, last = divmod(int(self.span_keys[code]), _MONTHS)
            counter[first, last] += int(counted[code])


class _Selection:
    def __init__(self, incidents, allegations, violations, weapons, citations, by_allegation):
        self.incidents, self.allegations = incidents, allegations
        self.violations, self.weapons, self.citations = violations, weapons, citations
        self.by_allegation = by_allegation


def _runs(ordered):
    """Each value of an ordered array once."""
    if not len(ordered):
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _distinct(incidents, codes, width):
    """The distinct (incident, code) pairs among these, as two arrays (a sort, where numpy's unique hashes)."""
    keys = _runs(np.sort(incidents * width + codes))
    return keys // width, keys % width


def _coded(values):
    """(codes, values): each value's index among the distinct values, and those, in order."""
    vocabulary, codes = np.unique(values, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), vocabulary


def _numbers(typed):
    """A numpy array of a typed array's numbers (its own copy)."""
    return np.frombuffer(typed, dtype=np.dtype(typed.typecode)).copy() if len(typed) else np.zeros(
        0, dtype=np.dtype(typed.typecode))


def _vocabulary(values):
    return {value: code for code, value in enumerate(values)}


def _span_end(start, end, precision):
    """The last day of an incident's span as `filters.overlapping()` reads it."""
    if end is not None:
        return end
    if precision == "month":
        return start.replace(day=calendar.monthrange(start.year, start.month)[1])
    if precision == "year":
        return start.replace(month=12, day=31)
    return start


def read(only=None, chunk=5000):
    """A Copy of the committed facts (of these incidents only, if given), or None when a write committed while
    they were read (the head moved)."""
    started = time.perf_counter()
    at = audit.head()
    from .models import Confidence, Status, Visibility, WeaponCategory
    from sources.models import OrganizationKind

    copy = Copy(at)
    copy.statuses, copy.visibilities = list(Status.values), list(Visibility.values)
    copy.grades, copy.categories = list(Confidence.values), list(WeaponCategory.values)
    statuses, visibilities = _vocabulary(copy.statuses), _vocabulary(copy.visibilities)
    grades, categories = _vocabulary(copy.grades), _vocabulary(copy.categories)
    # Typed arrays while reading: a Python list holds an object for each number (at 10^6 incidents, some 15
    # million of them).
    ids, status, visibility, conflict, span = array("q"), array("b"), array("b"), array("q"), array("q")
    figures, known = array("q"), array("b")
    allegation_incident, side, party, grade = array("q"), array("q"), array("q"), array("b")
    violation_allegation, violation = array("q"), array("q")
    weapon_allegation, category, cluster = array("q"), array("b"), array("b")
    citation_allegation, organization = array("q"), array("q")
    tallies = IncidentTally.objects.all() if only is None else IncidentTally.objects.filter(incident_id__in=only)
    rows = tallies.order_by("incident_id").values_list(
        "incident_id", "status", "visibility", "conflict_id", "first_month", "last_month", "facts")
    for index, (pk, incident_status, incident_visibility, conflict_id, first, last, facts) in enumerate(
            rows.iterator(chunk_size=chunk)):
        ids.append(pk)
        status.append(statuses[incident_status])
        visibility.append(visibilities[incident_visibility])
        conflict.append(conflict_id)
        span.append(first * _MONTHS + last)
        values = facts["figures"]
        figures.extend([value or 0 for value in values])
        known.extend([value is not None for value in values])
        for allegation_side, allegation_party, confidence, violations, weapons, organizations in facts["allegations"]:
            allegation = len(allegation_incident)
            allegation_incident.append(index)
            side.append(allegation_side)
            party.append(allegation_party)
            grade.append(grades[confidence])
            violation_allegation.extend([allegation] * len(violations))
            violation.extend(violations)
            for weapon_category, is_cluster in weapons:
                weapon_allegation.append(allegation)
                category.append(categories[weapon_category])
                cluster.append(1 if is_cluster else 0)
            citation_allegation.extend([allegation] * len(organizations))
            organization.extend(organizations)
    copy.ids = _numbers(ids)
    copy.status, copy.visibility = _numbers(status), _numbers(visibility)
    copy.conflict = _numbers(conflict)
    copy.span, copy.span_keys = _coded(_numbers(span))
    # One array for each figure, and one of whether each incident knows it (1.0 or 0.0): the weights the
    # casualty columns add up (exactly, below 2^53).
    figures = _numbers(figures).reshape(-1, len(CASUALTIES)).astype(np.float64)
    known = _numbers(known).reshape(-1, len(CASUALTIES)).astype(np.float64)
    copy.figures = [np.ascontiguousarray(figures[:, index]) for index in range(len(CASUALTIES))]
    copy.known = [np.ascontiguousarray(known[:, index]) for index in range(len(CASUALTIES))]
    # The incidents' own columns the facts do not hold: dates and place.
    dated, starts, ends, reaches, places, areas = (array("q") for _ in range(6))
    copy.admin_areas = [""]
    area_codes = {"": 0}
    records = Incident.objects.filter(draft_of__isnull=True)
    rows = (records if only is None else records.filter(pk__in=only)).order_by("pk").values_list(
        "pk", "date_start", "date_end", "date_precision", "place_id", "place__admin_area")
    for pk, start, end, precision, place, area in rows.iterator(chunk_size=chunk):
        dated.append(pk)
        starts.append(start.toordinal() if start else -1)
        ends.append(_span_end(start, end, precision).toordinal() if start else -1)
        reaches.append((end or start).toordinal() if end or start else -1)
        places.append(place or 0)
        area = area or ""
        if area not in area_codes:
            area_codes[area] = len(copy.admin_areas)
            copy.admin_areas.append(area)
        areas.append(area_codes[area])
    copy.start, copy.span_end, copy.reach = (np.full(len(ids), -1, dtype=np.int64) for _ in range(3))
    copy.place, copy.admin_area = np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=np.int64)
    dated = _numbers(dated)
    index = np.minimum(np.searchsorted(copy.ids, dated), max(len(ids) - 1, 0))
    held = copy.ids[index] == dated if len(ids) else np.zeros(len(dated), dtype=bool)
    # (An incident written since its facts were read is left out: the head has moved too.)
    for target, values in ((copy.start, starts), (copy.span_end, ends), (copy.reach, reaches),
                           (copy.place, places), (copy.admin_area, areas)):
        target[index[held]] = _numbers(values)[held]

    copy.allegation_incident = _numbers(allegation_incident)
    copy.side, copy.party = _numbers(side), _numbers(party)
    copy.side_code, copy.side_values = _coded(copy.side)
    copy.party_code, copy.party_values = _coded(copy.party)
    copy.pair, pairs = _coded(copy.side * _PAIR + copy.party)
    copy.pair_side, copy.pair_party = pairs // _PAIR, pairs % _PAIR
    copy.grade = _numbers(grade).astype(np.int64)
    copy.violation_allegation = _numbers(violation_allegation)
    copy.violation = _numbers(violation)
    copy.violation_code, violations = _coded(copy.violation)
    copy.violation_keys = [str(value) for value in violations]
    copy.weapon_allegation = _numbers(weapon_allegation)
    copy.category, copy.cluster = _numbers(category).astype(np.int64), _numbers(cluster).astype(bool)
    copy.citation_allegation = _numbers(citation_allegation)
    copy.citation_organization, copy.organizations = _coded(_numbers(organization))
    copy.organization_keys = [str(value) for value in copy.organizations]
    copy.kinds = list(OrganizationKind.values)
    described = dict((pk, (kind, affiliated)) for pk, kind, affiliated in Organization.objects.filter(
        pk__in=[int(value) for value in copy.organizations]).values_list("pk", "kind", "is_party_affiliated"))
    kinds = _vocabulary(copy.kinds)
    copy.organization_kind = np.array([kinds.get(described.get(int(value), ("", False))[0], -1)
                                       for value in copy.organizations], dtype=np.int64)
    copy.organization_affiliated = np.array([described.get(int(value), ("", False))[1]
                                             for value in copy.organizations], dtype=bool)
    if audit.head() != at:
        return None
    copy.seconds = time.perf_counter() - started
    return copy


# --- the copy in use -------------------------------------------------------

_lock = threading.Lock()
_state = {"copy": None, "reading": False}
logger = logging.getLogger(__name__)


def answers(filterset):
    """Whether the copy can count this filter: a valid one that names nothing but `ANSWERED`."""
    if not filterset.data_valid:
        return False
    return all(name in ANSWERED or not _given(value) for name, value in filterset.cleaned().items())


def current(filterset):
    """The copy, when it answers this filter and holds what is committed now (its head is the log's); else None,
    and the copy is read again (ARCHIVE_COLUMNAR: in a thread of its own, or now with "inline"). A copy a few
    writes behind catches up: the incidents they wrote are read again on top of it (`Patched`)."""
    how = getattr(settings, "ARCHIVE_COLUMNAR", "background")
    if how == "off" or not answers(filterset):
        return None
    at = audit.head()
    held = _state["copy"]
    if held is not None and held.head == at:
        return held
    if held is not None:
        caught_up = _caught_up(held)
        if caught_up is not None:
            _state["copy"] = caught_up
            if caught_up.head == at:
                if how == "background" and len(caught_up.ids) > PATCH_LIMIT // 5:
                    _read_in_background()  # read whole again while the patched copy serves
                return caught_up
    if how == "inline":
        held = _state["copy"] = read()
        return held if held is not None and held.head == at else None
    _read_in_background()
    return None


# Audit entries that change no incident's facts: sign-ins and users, captures and files, new entries of the lists
# (a source, an organization, a weapon type, a party...) that nothing cites yet, refused attempts and a source's
# edits but of its organization (`_changes_no_incident()`). Any other
# entry outside an incident's history (a source moving to another organization, a weapon type changing category,
# an import, a synthetic load) may change many incidents: the copy is then read whole again.
UNCHANGING = ("auth.", "user.", "capture.", "file.")
# How many incidents a patched copy reads again; beyond that it is read whole again.
PATCH_LIMIT = 5000


def _changed_since(at):
    """(the record incidents that the audit entries after `at` (`audit.head()`) wrote, the head after them); None
    when one of them may have changed other incidents' facts, or `at` is not in the log (a transaction rolled
    back)."""
    seq, _, hash_ = at.partition(":")
    seq = int(seq)
    if seq and not AuditEvent.objects.filter(seq=seq, hash=hash_).exists():
        return None
    ids, last = set(), at
    entries = AuditEvent.objects.filter(seq__gt=seq).order_by("seq").values_list("seq", "hash", "scope", "action",
                                                                                "changes")
    for entry_seq, entry_hash, scope, action, changes in entries.iterator(chunk_size=1000):
        last = f"{entry_seq}:{entry_hash}"
        if scope.startswith("incident:"):
            ids.add(int(scope.partition(":")[2]))
            if len(ids) > PATCH_LIMIT:
                return None
        elif not _changes_no_incident(action, changes):
            return None
    return ids, last


def _changes_no_incident(action, changes):
    """Whether an audit entry outside the incidents' histories leaves every incident's facts as they were."""
    if action.startswith(UNCHANGING) or action.endswith(".create"):
        return True
    if not isinstance(changes, dict):
        return False
    # A refused attempt; a source's own fields but its organization (what its citations count for).
    return "refused" in changes or (action == "source.update" and "organization" not in changes.get("changed", {}))


def _caught_up(held):
    """`held` brought up to the log's head by reading again the incidents written since, or None."""
    changed = _changed_since(held.head)
    if changed is None:
        return None
    ids, last = changed
    base = held.base if isinstance(held, Patched) else held
    ids |= held.ids if isinstance(held, Patched) else set()
    if len(ids) > PATCH_LIMIT:
        return None
    patch = read(only=sorted(ids))
    # The patch holds the incidents as the entries up to `last` left them, and no entry came after it.
    return Patched(base, patch, ids) if patch is not None and patch.head == last else None


class Patched:
    """A copy (`base`) with some of its incidents read again (`patch`): counted from the patch, left out of the
    base. Both count by ids, so their counts add up (and the incidents of each are counted once per column)."""

    def __init__(self, base, patch, ids):
        self.base, self.patch, self.ids = base, patch, ids
        self.rest = base.without(ids)
        self.head, self.seconds = patch.head, patch.seconds

    @property
    def nbytes(self):
        return self.base.nbytes + self.patch.nbytes

    def counts(self, filterset):
        rest, patch = self.rest.counts(filterset), self.patch.counts(filterset)
        return {name: rest[name] + patch[name] for name in rest}

    def scope_pairs(self, filterset):
        return self.rest.scope_pairs(filterset) | self.patch.scope_pairs(filterset)

    def totals(self, filterset):
        totals = self.rest.totals(filterset)
        for key, n in self.patch.totals(filterset).items():
            totals[key] = totals.get(key, 0) + n
        return totals

    def spans(self, filterset):
        spans, patch = self.rest.spans(filterset), self.patch.spans(filterset)
        spans.total.update(patch.total)
        for side, counted in patch.sides.items():
            spans.sides[side].update(counted)
        spans.unattributed.update(patch.unattributed)
        spans.reach(patch.last)
        return spans


def _read_in_background():
    with _lock:
        if _state["reading"]:
            return
        _state["reading"] = True
    threading.Thread(target=_reader, name="columnar", daemon=True).start()


def _reader():
    try:
        copy = read()
        if copy is not None:
            _state["copy"] = copy
    except Exception:  # the pages count in SQL meanwhile; the next one that needs the copy tries again
        logger.exception("reading the column copy failed")
    finally:
        connection.close()  # this thread's own
        _state["reading"] = False


def forget():
    """Drop the copy (the tests start each without one)."""
    _state["copy"] = None
