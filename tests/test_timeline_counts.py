"""The timeline's counts, read from the running totals by month or counted from the months of each incident's
span, equal counting each bucket on its own: the distinct incidents whose dates overlap it, by the date
filters' own rule (`filters.overlapping()`), as the timeline counted before."""
import datetime

import pytest
from django.db import connection
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from incidents import balance, services
from incidents.filters import filter_incidents, overlapping
from incidents.models import Conflict, Incident
from tests import factories
from tests.test_balance import FAST_HASHERS, build, charge, request_for

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


# --- The reference: one filtered COUNT(DISTINCT incident) per bucket --------

def reference(filterset, query):
    """The timeline as it was counted before the running totals and the months of spans: the extent from
    Min/Max of the incidents' dates, then for every bucket the incidents (and each side's, the unattributed)
    whose span overlaps it."""
    links = balance.Links(query)
    incidents = filterset.qs.order_by()
    buckets, undated, by_year = reference_buckets(filterset, incidents)
    if not buckets:
        return balance.Timeline([], [], [], undated, False)
    matching = filterset.allegations().order_by()
    per_side = list(
        matching.filter(perpetrator_side__isnull=False)
        .values("perpetrator_side__name", "perpetrator_side__slug").annotate(**bucket_counts(buckets, "incident__"))
        .order_by("perpetrator_side__name")
    )
    unattributed = matching.filter(perpetrator__isnull=True, perpetrator_side__isnull=True).aggregate(
        **bucket_counts(buckets, "incident__")
    )
    total = incidents.aggregate(**bucket_counts(buckets))

    def cells(values, params):
        return [
            balance._cell(values.get(f"b{index}") or 0, links, {**params, "date_from": texts[0], "date_to": texts[1]})
            for index, (_, _, _, texts) in enumerate(buckets)
        ]

    series = [
        {"label": row["perpetrator_side__name"], "kind": "side",
         "cells": cells(row, {"side": row["perpetrator_side__slug"]})}
        for row in per_side
    ]
    if any(unattributed.values()):
        series.append({"label": "Unattributed", "kind": "unattributed",
                       "cells": cells(unattributed, {"unattributed": "yes"})})
    return balance.Timeline(buckets, series, cells(total, {}), undated, by_year)


def reference_buckets(filterset, incidents):
    extent = incidents.aggregate(
        first=Min("date_start"), last=Max(Coalesce("date_end", "date_start")),
        undated=Count("pk", filter=Q(date_start__isnull=True)),
    )
    undated = extent["undated"] or 0
    data = filterset.cleaned()
    start = data["date_from"][0] if data.get("date_from") else None
    end = data["date_to"][1] if data.get("date_to") else None
    if extent["first"] is None:
        return [], undated, False
    first = max(day for day in (extent["first"], start) if day)
    last = min(day for day in (extent["last"], end) if day)
    if first > last:
        return [], undated, False
    by_year = (last.year - first.year) * 12 + last.month - first.month + 1 > balance.MAX_MONTHS
    raw = balance._year_buckets(first, last) if by_year else balance._month_buckets(first, last)
    return list(balance._clipped(raw, start, end)), undated, by_year


def bucket_counts(buckets, prefix=""):
    counted = "incident" if prefix else "pk"
    return {
        f"b{index}": Count(counted, distinct=bool(prefix), filter=prefixed(overlapping(low, high), prefix))
        for index, (_, low, high, _) in enumerate(buckets)
    }


def prefixed(condition, prefix):
    if not prefix:
        return condition
    clone = Q()
    clone.connector, clone.negated = condition.connector, condition.negated
    clone.children = [
        prefixed(child, prefix) if isinstance(child, Q) else (prefix + child[0], child[1])
        for child in condition.children
    ]
    return clone


# --- The archive ------------------------------------------------------------

def dated(author, code, start, end, precision, *allegations, **values):
    return factories.published_incident(author=author, reference_code=code, date_start=start, date_end=end,
                                        date_precision=precision, allegations=list(allegations), **values)


def archive(author):
    """test_balance's archive (B1-B4 in October to December 2020, a draft) and spans of every kind: a day in
    another conflict, an open month, an approximate range over three months, an open year, an undated incident,
    and, last of all, an open year of 2022 (its dates reach January; its span runs to December)."""
    build()
    war = Conflict.objects.create(name="Second war", slug="second-war")
    factories.weapon("Machine gun", category="small_arms", is_cluster_munition="no")
    dated(author, "W1", D(2021, 1, 1), D(2021, 1, 1), "day",
          charge("East army", "East", ["unlawful-killing"], ["Rifle", "Machine gun", "Grad"], "verified", ["Watch"]),
          charge(None, None, ["indiscriminate-attack"], [], "party_claim", ["West Ministry"]), conflict=war)
    dated(author, "M1", D(2020, 9, 1), None, "month",
          charge("West army", "West", ["unlawful-killing"], ["Rifle"], "verified", ["Watch"]))
    dated(author, "S1", D(2020, 9, 20), D(2020, 11, 2), "approximate",
          charge("East army", "East", ["indiscriminate-attack"], ["Grad"], "corroborated", ["East TV"]),
          charge("East army", "East", ["unlawful-killing"], [], "verified", ["Watch"]))  # counted once for East
    dated(author, "Y1", D(2019, 1, 1), None, "year",
          charge("East police", "East", ["unlawful-killing"], [], "single_source", ["Watch"]))
    dated(author, "U1", None, None, "unknown", charge(None, None, ["unlawful-killing"], [], "contested", ["Watch"]))
    dated(author, "Y2", D(2022, 1, 1), None, "year",
          charge("West army", "West", ["indiscriminate-attack"], ["Cluster rocket"], "verified", ["Watch"]))


# Filters the running totals by month answer: conflicts, statuses, whole months, one side, party or neither.
TALLIED = [
    {}, {"side": "east"}, {"side": "west"}, {"party": "east-army"}, {"party": "west-army"},
    {"side": "east", "party": "east-army"}, {"side": "east", "party": "west-army"}, {"unattributed": "yes"},
    {"unattributed": "yes", "party": "east-army"}, {"conflict": "second-war"},
    {"conflict": "second-war", "side": "east"},
    {"date_from": "2020-10"}, {"date_to": "2020-09"}, {"date_from": "2019-12", "date_to": "2020-10"},
    {"date_from": "2019", "date_to": "2019"}, {"date_from": "2020-10", "party": "east-army"},
    {"date_from": "2019-06", "date_to": "2019-08"},  # only Y1, whose dates reach January: no axis
    {"date_from": "2022-02"}, {"date_to": "2022-06"}, {"date_from": "2020-11", "date_to": "2022-12"},
    # One value of one facet (TimelineTally), with whole months or a conflict.
    {"weapon_category": "small_arms"}, {"violation": "unlawful-killing"}, {"confidence": "verified", "date_from": "2020-10"},
    {"organization": "watch"}, {"organization": "east-tv", "date_to": "2020-10"}, {"cluster": "yes"},
    {"weapon_category": "unguided_artillery_rocket", "date_from": "2020-10", "date_to": "2020-11"},
    {"violation": "unlawful-killing", "conflict": "second-war"}, {"confidence": "contested"},
    {"organization": "west-ministry"}, {"violation": "indiscriminate-attack"},  # with an unattributed allegation
    # Two or three values of a joint facet (tally.joint()): the values' totals, less their combinations'.
    {"weapon_category": ["small_arms", "unguided_artillery_rocket"]},
    {"weapon_category": ["small_arms", "unguided_artillery_rocket", "cluster_munition_rocket"], "date_from": "2020-10"},
    {"violation": ["unlawful-killing", "indiscriminate-attack"], "conflict": "second-war"},
    {"confidence": ["verified", "contested", "party_claim"]}, {"confidence": ["verified", "single_source"], "date_to": "2020-10"},
    {"organization": ["watch", "east-tv"]}, {"organization": ["watch", "west-ministry"], "date_from": "2020-10"},
    {"organization_kind": "party_affiliated"}, {"organization_kind": "ngo", "date_from": "2020-11"},
    # A facet with one side or the unattributed allegations: its incidents of that side's column, or of theirs.
    {"weapon_category": "cluster_munition_rocket", "side": "west"}, {"violation": "unlawful-killing", "unattributed": "yes"},
    {"violation": ["unlawful-killing", "indiscriminate-attack"], "side": "east", "date_to": "2020-10"},
    {"organization": "watch", "side": "east", "conflict": "second-war"}, {"confidence": "verified", "side": "east", "unattributed": "yes"},
]
# Filters they do not: days, allegation filters other than one side, party or neither, a facet narrowed to a
# party, more values than a joint facet combines, two facets.
COUNTED = [
    {"date_from": "2020-10-15", "date_to": "2020-11-10"}, {"date_from": "2020-09-10"}, {"date_to": "2020-10-05"},
    {"date_from": "2019-06-15", "date_to": "2019-07-10"}, {"date_from": "2020-09-15", "side": "east"},
    {"weapon_category": ["small_arms", "unguided_artillery_rocket", "cluster_munition_rocket", "artillery"]},
    {"organization_kind": ["media", "government", "independent"]}, {"organization": "watch", "party": "east-army"},
    {"organization": ["watch", "east-tv", "west-ministry"]},
    {"violation": "unlawful-killing", "date_from": "2020-09-10"}, {"weapon_category": "small_arms", "party": "west-army"},
    {"party": ["east-army", "west-army"]}, {"confidence": "verified", "weapon_category": "small_arms"},
]
STAFF = [{"status": "draft"}, {"status": ["published", "draft"], "side": "east"}, {"status": "draft", "organization": "watch"}]


def shown(result):
    """Everything the page shows of a timeline: buckets, each row's label and cells (value and link)."""
    cells = lambda row: [(cell.value, cell.url) for cell in row]  # noqa: E731
    return (result.buckets, [(series["label"], series["kind"], cells(series["cells"])) for series in result.series],
            cells(result.total), result.undated, result.by_year)


def assert_counted_alike(queries, user=None):
    """Read from the totals (where they answer), counted from the months of spans, and counted bucket by bucket,
    each filter's timeline is the same."""
    for query in queries:
        request = request_for(query, user)
        filterset, _ = filter_incidents(request)
        expected = shown(reference(filterset, request.GET))
        assert shown(balance.timeline(filterset, request.GET, live=True)) == expected, query
        assert shown(balance.timeline(filterset, request.GET)) == expected, query


def timeline(query, user=None):
    request = request_for(query, user)
    filterset, _ = filter_incidents(request)
    return balance.timeline(filterset, request.GET)


def withdraw(reviewer, code):
    services.withdraw(actor=reviewer, incident=Incident.objects.get(reference_code=code), reason="Duplicate.")


# --- Tests ------------------------------------------------------------------

@pytest.mark.parametrize("staff", [False, True])
def test_the_timeline_equals_counting_each_bucket_whether_read_from_the_totals_or_counted(researcher, reviewer, staff):
    archive(researcher)
    user = researcher if staff else None
    queries = TALLIED + COUNTED + (STAFF if staff else [])
    assert_counted_alike(queries, user)

    # A span from March to December 2022 whose end date is in December: the axis now runs to December.
    dated(researcher, "D1", D(2022, 3, 5), D(2022, 12, 20), "day",
          charge(None, "West", ["unlawful-killing"], [], "verified", ["Watch"]))
    assert [label for label, _ in timeline({}).rows][-1] == "2022-12"
    assert_counted_alike(queries, user)

    # Withdrawn, they leave totals of nothing behind; an incident of 2005 makes the axis one of years.
    withdraw(reviewer, "D1")
    withdraw(reviewer, "Y2")
    dated(researcher, "OLD", D(2005, 3, 1), D(2005, 3, 1), "day",
          charge("East army", "East", ["unlawful-killing"], ["Rifle"], "verified", ["Watch"]))
    result = timeline({})  # staff still see the withdrawn ones
    assert result.by_year and [label for label, _ in result.rows] == [str(year) for year in range(2005, 2022)]
    assert_counted_alike(queries, user)


def test_an_open_year_ends_the_axis_where_its_dates_end_not_in_december(researcher):
    """Y2 (2022, no end date) is counted in January to December 2022 by the totals but reaches January by its
    dates, where the axis has always ended: the totals cannot tell, so one more query reads the incidents of
    2022."""
    archive(researcher)
    request = request_for({})
    filterset, _ = filter_incidents(request)
    assert balance._tallied_spans(filterset).total[202201, 202212] == 1
    with CaptureQueriesContext(connection) as captured:
        result = balance.timeline(filterset, request.GET)
    assert [label for label, _ in result.rows][-1] == "2022-01"
    assert len(captured) == 3
    assert "2022-01-01" in captured[1]["sql"] and "incidents_allegation" not in captured[1]["sql"]


def test_a_timeline_the_totals_answer_is_read_from_them_alone(researcher, reviewer):
    archive(researcher)
    withdraw(reviewer, "Y1")  # without the open years, whose dates the totals do not always tell
    withdraw(reviewer, "Y2")
    for query in TALLIED:
        request = request_for(query)
        filterset, _ = filter_incidents(request)
        filterset.cleaned()  # the filter's own queries: its sides, parties and conflicts by slug
        with CaptureQueriesContext(connection) as captured:
            balance.timeline(filterset, request.GET)
        statements = " ".join(entry["sql"] for entry in captured)
        assert "incidents_allegation" not in statements and '"incidents_incident"' not in statements, query
        assert len(captured) <= 2, query  # the totals, and the names of the sides


def test_a_timeline_the_totals_do_not_answer_is_counted(researcher):
    archive(researcher)
    for query in COUNTED:
        filterset, _ = filter_incidents(request_for(query))
        assert balance._tallied_spans(filterset) is None, query


def test_every_number_of_a_bucket_cut_to_a_day_of_the_filter_lists_as_many_incidents(researcher):
    archive(researcher)
    for query in ({"date_from": "2020-09-15", "date_to": "2020-11-03"}, {"date_from": "2020-10-20", "side": "east"}):
        for label, cells in timeline(query).rows:
            for cell in cells:
                if cell.value:
                    _, listed = filter_incidents(request_for(QueryDict(cell.url.split("?", 1)[1])))
                    assert listed.count() == cell.value, (query, label, cell.url)
