"""The column copy (incidents.columnar): counts equal to the live SQL counts for any filter it answers, and never
used once a write has moved the audit log past it."""
import datetime
import random

import pytest
from django.core.management import call_command

from archive import audit
from incidents import balance, columnar, services
from incidents.filters import IncidentFilter, filter_incidents
from incidents.models import Conflict, Incident, Party, Place, Side, ViolationType, WeaponCategory
from sources.models import Organization
from tests import factories
from tests.test_balance import build, charge, request_for
from tests.test_balance_tally import LIVE_COUNTED, cells

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def column_copy(settings):
    settings.ARCHIVE_COLUMNAR = "inline"
    columnar.forget()
    yield
    columnar.forget()


def filterset_for(query, user=None):
    return filter_incidents(request_for(query, user))[0]


def assert_copied_alike(query, user=None):
    """The balance, the timeline's spans and the list's counts from the copy equal those counted in SQL."""
    filterset = filterset_for(query, user)
    copy = columnar.current(filterset)
    assert copy is not None, query
    request = request_for(query, user)
    live = balance.live_totals(filterset)
    if not filterset.has_allegation_filter():  # as balance._counted() adds them
        everything = filterset.qs.order_by().aggregate(**balance._casualty_aggregates())
        live.update({("casualties_all", 0, 0, key): n or 0 for key, n in everything.items()})
    assert copy.totals(filterset) == live, query
    copied, counted = balance._counted(filterset), balance._counted(filterset, copied=False)
    assert [c.label for c in copied.columns] == [c.label for c in counted.columns], query
    assert (cells(balance.compute(filterset, request.GET)) == cells(balance.compute(filterset, request.GET, live=True))
            ), query
    spans, counted = copy.spans(filterset), balance._counted_spans(filterset)
    assert (spans.total, dict(spans.sides), spans.unattributed, spans.last) == (
        counted.total, dict(counted.sides), counted.unattributed, counted.last), query
    assert copy.counts(filterset) == filterset.counts(live=True), query
    return copy.counts(filterset)


def dated(author, code, start, end, precision, killed, *allegations, **values):
    factories.published_incident(author=author, reference_code=code, date_start=start, date_end=end,
                                 date_precision=precision, civilians_killed_min=killed, civilians_killed_max=killed,
                                 allegations=list(allegations), **values)


@pytest.mark.parametrize("staff", [False, True])
def test_the_copy_counts_what_the_live_queries_count(researcher, staff):
    build()
    town = factories.place("Hill town", admin_area="North district")
    dated(researcher, "M1", datetime.date(2020, 9, 1), None, "month", 4,
          charge("West army", "West", ["unlawful-killing"], ["Rifle"], "verified", ["Watch"]), place=town)
    dated(researcher, "Y1", datetime.date(2019, 1, 1), None, "year", None,
          charge("East police", "East", ["unlawful-killing"], [], "single_source", ["Watch", "East TV"]))
    dated(researcher, "S1", datetime.date(2020, 9, 20), datetime.date(2020, 11, 2), "approximate", 1,
          charge(None, "East", ["indiscriminate-attack"], ["Grad"], "corroborated", ["East TV"]),
          place=factories.place("River town", admin_area="North district"))
    dated(researcher, "U1", None, None, "unknown", 2, charge(None, None, ["unlawful-killing"], [], "contested", ["Watch"]))
    dated(researcher, "N1", datetime.date(2020, 10, 9), None, "day", 6)  # no allegation
    # A rocket of Grad's category with a cluster warhead: two weapons of one category, one of them cluster munitions.
    factories.weapon("9M55K", category="unguided_artillery_rocket", is_cluster_munition="yes")
    dated(researcher, "C1", datetime.date(2020, 10, 12), None, "day", 3,
          charge("East army", "East", ["indiscriminate-attack"], ["Grad", "9M55K"], "verified", ["Watch"]))
    user = researcher if staff else None
    answered = [query for query in LIVE_COUNTED if not {"weapon", "q"} & set(query)]
    queries = answered + [
        {}, {"organization": ["watch", "east-tv", "west-ministry"]},
        {"organization": ["watch", "east-tv"], "weapon_category": "unguided_artillery_rocket"},
        {"date_from": "2020-10-15"}, {"date_to": "2020-09-25"}, {"date_from": "2020-09-10", "date_to": "2020-10-05"},
        {"date_from": "2019-06-30", "date_to": "2019-07-01"}, {"killed_min": "3"}, {"killed_min": "0", "side": "west"},
        {"killed_min": "2", "organization_kind": "party_affiliated", "date_from": "2020-10-02"},
        {"unattributed": "yes", "date_to": "2020-12-31"}, {"side": "east", "party": "west-army"},
        {"violation": ["unlawful-killing", "indiscriminate-attack", "attack-on-civilian-objects"], "confidence": "verified"},
        {"cluster": "yes", "organization": "watch"}, {"cluster": "yes", "weapon_category": "unguided_artillery_rocket"},
        {"place": "hill-town"}, {"place": ["testville", "river-town"], "organization": ["watch", "east-tv"]},
        {"admin_area": "north-district"}, {"admin_area": "North district", "date_from": "2020-10-01"},
    ]
    if staff:
        queries += [{"status": "draft"}, {"status": ["draft", "published"], "organization": ["watch", "east-tv"]}]
    for query in queries:
        assert_copied_alike(query, user)


def random_query(rng, values, staff):
    """A random combination of the filters the copy answers, with the values of a synthetic archive."""
    query = {}
    for name in rng.sample(sorted(values), rng.randint(1, 4)):
        choices = values[name]
        if name in ("unattributed", "cluster"):
            query[name] = "yes"
        elif name == "killed_min":
            query[name] = str(rng.choice([0, 1, 5, 20]))
        elif name in ("date_from", "date_to"):
            day = datetime.date(2014, 1, 1) + datetime.timedelta(days=rng.randint(0, 12 * 365))
            query[name] = rng.choice([day.isoformat(), day.isoformat()[:7], day.isoformat()[:4]])
        else:
            query[name] = rng.sample(choices, min(len(choices), rng.randint(1, 4)))
    if staff and rng.random() < 0.3:
        query["status"] = rng.sample(["draft", "in_review", "published", "withdrawn"], 2)
    return query


@pytest.mark.parametrize("staff", [False, True])
def test_the_copy_counts_random_filters_of_a_synthetic_archive_as_the_live_queries_do(researcher, staff):
    call_command("synth", "--incidents", "120", "--seed", "11", "--batch", "60")
    values = {
        "conflict": list(Conflict.objects.values_list("slug", flat=True)),
        "side": list(Side.objects.values_list("slug", flat=True)),
        "party": list(Party.objects.values_list("slug", flat=True)),
        "violation": list(ViolationType.objects.values_list("slug", flat=True)),
        "weapon_category": list(WeaponCategory.values),
        "confidence": ["verified", "corroborated", "single_source", "contested", "party_claim"],
        "organization": list(Organization.objects.values_list("slug", flat=True)),
        "organization_kind": ["ngo", "media", "government", "independent", "party_affiliated"],
        "unattributed": ["yes"], "cluster": ["yes"], "killed_min": [], "date_from": [], "date_to": [],
        "place": list(Place.objects.values_list("slug", flat=True)),
        "admin_area": sorted(set(Place.objects.exclude(admin_area="").values_list("admin_area", flat=True))),
    }
    rng = random.Random(5 + staff)
    matched = 0
    for _ in range(60):
        counted = assert_copied_alike(random_query(rng, values, staff), researcher if staff else None)
        matched += bool(counted["allegations"])
    assert matched >= 20, "most random filters should match something"


def test_filters_the_copy_does_not_hold_are_counted_in_sql(researcher):
    build()
    for query in [{"q": "B3"}, {"weapon": "grad"}, {"place": "nowhere"}, {"side": "no-such-side"}]:  # (unknown: invalid)
        assert columnar.current(filterset_for(query)) is None, query
    assert columnar.current(filterset_for({"organization": ["watch", "east-tv"]})) is not None


def test_a_write_makes_the_copy_stale_and_it_is_read_again(researcher, reviewer):
    build()
    query = {"organization": ["watch", "east-tv", "west-ministry"]}
    before = columnar.current(filterset_for(query))
    assert before.counts(filterset_for(query)) == {"incidents": 4, "allegations": 6}
    draft = factories.incident(author=researcher, reference_code="NEW", allegations=[
        charge("West army", "West", ["unlawful-killing"], ["Rifle"], "verified", ["East TV"])])
    revision = services.submit(actor=researcher, incident=draft)
    services.approve(actor=reviewer, incident=draft, sha256=revision.sha256)
    after = columnar.current(filterset_for(query))
    assert after is not before and after.head == audit.head() != before.head
    assert after.counts(filterset_for(query)) == {"incidents": 5, "allegations": 7}
    assert assert_copied_alike(query) == {"incidents": 5, "allegations": 7}


def test_in_the_background_a_stale_copy_answers_nothing_while_it_is_read_again(researcher, settings, monkeypatch):
    build()
    settings.ARCHIVE_COLUMNAR = "background"
    started = []
    monkeypatch.setattr(columnar, "_read_in_background", lambda: started.append(True))
    query = {"organization": ["watch", "east-tv", "west-ministry"]}
    assert columnar.current(filterset_for(query)) is None and started == [True]
    # The pages count in SQL meanwhile (each asking for the copy again), and show the same.
    assert filterset_for(query).counts() == {"incidents": 4, "allegations": 6} and len(started) == 2
    columnar._state["copy"] = columnar.read()  # as the thread leaves it
    assert columnar.current(filterset_for(query)) is not None and len(started) == 2
    settings.ARCHIVE_COLUMNAR = "off"
    assert columnar.current(filterset_for(query)) is None


def test_pages_answer_from_the_copy_as_they_do_from_sql(client, researcher, settings, monkeypatch):
    build()
    addresses = ["/?organization=watch&organization=east-tv&organization=west-ministry",
                 "/balance/?organization=watch&organization=east-tv&organization=west-ministry",
                 "/timeline/?organization=watch&organization=east-tv&weapon_category=small_arms",
                 "/balance/?date_from=2020-10-15&killed_min=1"]
    for address in addresses:
        with monkeypatch.context() as counting:
            # With the copy current, nothing is counted in SQL.
            for name in ("live_totals", "_counted_spans", "counted_in_parts"):
                counting.setattr(balance, name, lambda *args, **kwargs: pytest.fail("counted in SQL"))
            counting.setattr(IncidentFilter, "allegations", lambda self: pytest.fail("counted in SQL"))
            copied = client.get(address)
        assert copied.status_code == 200
        settings.ARCHIVE_COLUMNAR = "off"
        counted = client.get(address)
        settings.ARCHIVE_COLUMNAR = "inline"
        assert copied.content == counted.content, address
    assert columnar._state["copy"] is not None


QUERIES_AFTER_WRITES = [
    {"organization": ["watch", "east-tv", "west-ministry"]}, {"organization": ["watch", "east-tv"], "side": "west"},
    {"weapon_category": ["small_arms", "unguided_artillery_rocket"], "date_from": "2020-10-15"},
    {"killed_min": "1"}, {"date_to": "2020-10-25"}, {"unattributed": "yes", "killed_min": "0"},
]


def test_a_copy_a_few_writes_behind_reads_again_only_the_incidents_they_wrote(researcher, reviewer):
    from tests.test_balance_tally import edit

    build()
    for query in QUERIES_AFTER_WRITES:
        assert_copied_alike(query)
    base = columnar._state["copy"]
    assert isinstance(base, columnar.Copy)
    # A new incident, an edit that replaces an allegation, a withdrawal (a status moved).
    draft = factories.incident(author=researcher, reference_code="NEW", allegations=[
        charge("West army", "West", ["unlawful-killing"], ["Rifle"], "verified", ["East TV"])])
    revision = services.submit(actor=researcher, incident=draft)
    services.approve(actor=reviewer, incident=draft, sha256=revision.sha256)
    copy = edit(researcher, Incident.objects.get(reference_code="B1"), civilians_killed_min=9, civilians_killed_max=9,
                allegations=[charge(None, None, ["indiscriminate-attack"], ["Grad"], "contested", ["Watch"])])
    revision = services.submit(actor=researcher, incident=copy)
    services.approve(actor=reviewer, incident=copy, sha256=revision.sha256)
    services.withdraw(actor=reviewer, incident=Incident.objects.get(reference_code="B2"), reason="Duplicate.")
    for query in QUERIES_AFTER_WRITES:
        assert_copied_alike(query)
        assert assert_copied_alike({**query, "status": ["published", "withdrawn", "draft"]}, reviewer)
    patched = columnar._state["copy"]
    assert isinstance(patched, columnar.Patched) and patched.base is base
    assert patched.ids == {draft.pk, *Incident.objects.filter(reference_code__in=["B1", "B2"]).values_list("pk", flat=True)}


def test_a_write_outside_the_incidents_that_may_change_many_of_them_has_the_copy_read_whole_again(researcher):
    from sources import services as source_services
    from sources.models import Source

    build()
    query = {"organization": ["watch", "east-tv", "west-ministry"], "organization_kind": "media"}
    assert assert_copied_alike(query) == {"incidents": 2, "allegations": 2}
    base = columnar._state["copy"]
    source = Source.objects.filter(organization__name="East TV").order_by("pk").first()
    source_services.edit_source(actor=researcher, source=source, organization=Organization.objects.get(name="Watch"))
    assert assert_copied_alike(query) == {"incidents": 1, "allegations": 1}  # East TV has a second source
    assert isinstance(columnar._state["copy"], columnar.Copy) and columnar._state["copy"] is not base


def test_entries_that_change_no_incident_move_the_copy_on_without_reading_any(client, researcher):
    from sources import services as source_services
    from sources.models import Source

    build()
    query = {"organization": ["watch", "east-tv", "west-ministry"]}
    assert_copied_alike(query)
    base = columnar._state["copy"]
    factories.organization("New NGO", kind="ngo")  # nothing cites it yet
    source = Source.objects.filter(organization__name="East TV").order_by("pk").first()
    source_services.edit_source(actor=researcher, source=source, title="A better title")  # not its organization
    for _ in range(6):  # sign-in failures, until they are throttled (an audit entry)
        client.post("/accounts/login/", {"username": "rita", "password": "wrong"})
    assert audit.head() != base.head
    assert_copied_alike(query)
    patched = columnar._state["copy"]
    assert isinstance(patched, columnar.Patched) and patched.base is base and not patched.ids


def test_an_archive_without_incidents_is_counted_alike():
    for query in [{}, {"organization_kind": ["ngo", "independent"], "killed_min": "1"}, {"date_from": "2020-01-15"}]:
        assert assert_copied_alike(query) == {"incidents": 0, "allegations": 0}
