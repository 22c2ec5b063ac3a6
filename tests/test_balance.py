"""The balance view: numbers checked against a hand-counted archive, links that list what they count, fixed queries."""
import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.http import QueryDict
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import balance
from incidents.filters import filter_incidents
from tests import factories

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def plain_http_and_fast_hashing(settings):
    settings.SECURE_SSL_REDIRECT = False
    settings.PASSWORD_HASHERS = FAST_HASHERS


def charge(party, side, violations, weapons, confidence, orgs):
    data = factories.allegation(perpetrator=party, side_name=side, violation=None, weapons=weapons, confidence=confidence)
    from incidents.models import ViolationType

    data.violation_types = list(ViolationType.objects.filter(slug__in=violations))
    data.citations = [factories.CitationData(source=factories.source(org=org), quote="q") for org in orgs]
    return data


def build():
    """Counted by hand in the comments of test_balance.py's expectations below."""
    author = factories.user("balance-researcher", role="researcher")
    factories.side("East")
    factories.side("West")
    factories.party("East army", "East")
    factories.party("East police", "East")
    factories.party("West army", "West")
    factories.weapon("Cluster rocket", category="cluster_munition_rocket", is_cluster_munition="yes")
    factories.weapon("Grad", category="unguided_artillery_rocket", is_cluster_munition="no")
    factories.weapon("Rifle", category="small_arms", is_cluster_munition="no")
    factories.organization("Watch", kind="ngo")
    factories.organization("East TV", kind="media", is_party_affiliated=True)
    factories.organization("West Ministry", kind="government", is_party_affiliated=True)
    day = {"date_precision": "day"}

    def publish(code, when, killed, injured, allegations):
        factories.published_incident(
            author=author, reference_code=code, date_start=when, date_end=when, **day,
            civilians_killed_min=killed[0], civilians_killed_max=killed[1],
            civilians_injured_min=injured[0], civilians_injured_max=injured[1], allegations=allegations,
        )

    publish("B1", datetime.date(2020, 10, 1), (3, 5), (10, 12), [
        charge("East army", "East", ["indiscriminate-attack", "cluster-munitions-populated-area"], ["Cluster rocket"],
               "verified", ["Watch", "West Ministry"]),                                          # a1
        charge("West army", "West", ["indiscriminate-attack"], ["Grad"], "party_claim", ["East TV"]),  # a2
    ])
    publish("B2", datetime.date(2020, 10, 20), (2, 2), (None, None), [
        charge("East police", "East", ["unlawful-killing"], ["Rifle"], "corroborated", ["Watch", "Watch"]),  # a3
    ])
    publish("B3", datetime.date(2020, 11, 5), (None, None), (1, 4), [
        charge("West army", "West", ["attack-on-civilian-objects"], ["Grad", "Cluster rocket"], "single_source",
               ["Watch"]),                                                                      # a4
        charge("West army", "West", ["indiscriminate-attack"], [], "verified", ["Watch"]),     # a5
    ])
    publish("B4", datetime.date(2020, 12, 1), (0, 1), (None, None), [
        charge(None, None, ["attack-on-civilian-objects"], [], "single_source", ["East TV"]),  # a6
    ])
    # Unpublished: must count nowhere for the public.
    factories.incident(author=author, reference_code="HIDDEN", civilians_killed_min=100, civilians_killed_max=100,
                       allegations=[charge("East army", "East", ["unlawful-killing"], ["Rifle"], "verified", ["Watch"])])


@pytest.fixture(scope="module")
def archive(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        with transaction.atomic():
            build()
            yield
            transaction.set_rollback(True)


def request_for(query, user=None):
    request = RequestFactory().get("/balance/", query)
    request.user = user or AnonymousUser()
    return request


def compute(query=None, user=None):
    request = request_for(query or {}, user)
    filterset, _ = filter_incidents(request)
    return balance.compute(filterset, request.GET)


COLUMNS = ["East", "East army", "East police", "West", "West army", "Unattributed", "All allegations"]


def table(result, section_slug):
    section = next(s for s in result.sections if s.slug == section_slug)
    return {row.label: [cell.value for cell in row.cells] for row in section.rows}


def test_the_columns_are_each_side_beside_its_parties_then_unattributed_then_all(archive, db):
    result = compute()
    assert [column.label for column in result.columns] == COLUMNS
    assert [column.kind for column in result.columns] == ["side", "party", "party", "side", "party", "unattributed", "all"]


def test_allegations_by_violation_weapon_category_and_confidence_match_the_hand_count(archive, db):
    result = compute()
    #                                                 East EArmy EPolice West WArmy Unatt All
    assert table(result, "allegations") == {"Allegations": [2, 1, 1, 3, 3, 1, 6]}
    assert table(result, "violations") == {
        "Attack on civilian objects":                  [0, 0, 0, 1, 1, 1, 2],
        "Indiscriminate attack":                       [1, 1, 0, 2, 2, 0, 3],
        "Unlawful killing":                            [1, 0, 1, 0, 0, 0, 1],
        "Use of cluster munitions in populated areas": [1, 1, 0, 0, 0, 0, 1],
    }
    assert table(result, "weapons") == {
        "Cluster munition rocket":    [1, 1, 0, 1, 1, 0, 2],
        "Small arms":                 [1, 0, 1, 0, 0, 0, 1],
        "Unguided artillery rocket":  [0, 0, 0, 2, 2, 0, 2],
    }
    assert table(result, "confidence") == {
        "Verified":      [1, 1, 0, 1, 1, 0, 2],
        "Corroborated":  [1, 0, 1, 0, 0, 0, 1],
        "Single source": [0, 0, 0, 1, 1, 1, 2],
        "Party claim":   [0, 0, 0, 1, 1, 0, 1],
        "Contested":     [0, 0, 0, 0, 0, 0, 0],
        "Discounted":    [0, 0, 0, 0, 0, 0, 0],
    }


def test_casualties_count_each_incident_once_per_column_and_in_full_in_every_column(archive, db):
    result = compute()
    assert table(result, "casualties") == {
        #                                        East EArmy EPolice West WArmy Unatt All
        "Incidents":                            [2, 1, 1, 2, 2, 1, 4],
        "Civilians killed, sum of minimums":    [5, 3, 2, 3, 3, 0, 5],
        "Civilians killed, sum of maximums":    [7, 5, 2, 5, 5, 1, 8],
        "Civilians injured, sum of minimums":   [10, 10, 0, 11, 11, 0, 11],
        "Civilians injured, sum of maximums":   [12, 12, 0, 16, 16, 0, 16],
    }
    killed_min = next(s for s in result.sections if s.slug == "casualties").rows[1].cells
    assert killed_min[3].text == "3 (1 of 2)"  # West: only B1 of B1 and B3 gives a figure


def test_what_the_allegations_rest_on_matches_the_hand_count(archive, db):
    result = compute()
    sources = next(s for s in result.sections if s.slug == "sources")
    rows = {row.label: row.cells for row in sources.rows}
    assert [c.value for c in rows["Citations"]] == [4, 2, 2, 3, 3, 1, 8]
    assert [c.text for c in rows["Citations from party-affiliated organizations"]] == [
        "1 of 4 (25%)", "1 of 2 (50%)", "0 of 2 (0%)", "1 of 3 (33%)", "1 of 3 (33%)", "1 of 1 (100%)", "3 of 8 (38%)",
    ]
    assert [c.text for c in rows["Allegations graded verified"]] == [
        "1 of 2 (50%)", "1 of 1 (100%)", "0 of 1 (0%)", "1 of 3 (33%)", "1 of 3 (33%)", "0 of 1 (0%)", "2 of 6 (33%)",
    ]
    assert [c.value for c in rows["Watch"]] == [3, 1, 2, 2, 2, 0, 5]
    assert [c.value for c in rows["East TV (party-affiliated)"]] == [0, 0, 0, 1, 1, 1, 2]
    assert [c.value for c in rows["West Ministry (party-affiliated)"]] == [1, 1, 0, 0, 0, 0, 1]


def listed(url, user=None):
    parts = urlsplit(url)
    assert parts.path == reverse("incidents:list")
    query = QueryDict(parts.query)
    filterset, _ = filter_incidents(request_for(query, user))
    assert not filterset.form.errors
    return filterset.counts()


@pytest.mark.parametrize("query", [{}, {"side": "west", "weapon_category": "unguided_artillery_rocket"},
                                   {"violation": "indiscriminate-attack"}, {"organization_kind": "independent"}])
def test_every_allegation_count_links_to_a_list_with_that_many_allegations(archive, db, query):
    result = compute(query)
    checked = 0
    for section in result.sections:
        if section.slug not in ("allegations", "violations", "weapons", "confidence"):
            continue
        for row in section.rows:
            for cell in row.cells:
                if cell.value:
                    assert listed(cell.url)["allegations"] == cell.value, (section.slug, row.label, cell.url)
                    checked += 1
                else:
                    assert cell.url == ""
    assert checked >= 5


def test_incident_counts_link_to_a_list_with_that_many_incidents(archive, db):
    result = compute()
    incidents_row = next(s for s in result.sections if s.slug == "casualties").rows[0]
    for cell in incidents_row.cells:
        assert listed(cell.url)["incidents"] == cell.value


def test_links_keep_the_current_filter_and_replace_the_cells_own_parameter(archive, db):
    result = compute({"violation": "indiscriminate-attack", "page": "3", "side": "west"})
    row = table(result, "violations")
    assert row == {"Indiscriminate attack": [0, 0, 0, 2, 2, 0, 2]}
    violations = next(s for s in result.sections if s.slug == "violations")
    url = violations.rows[0].cells[3].url
    assert parse_qs(urlsplit(url).query) == {"violation": ["indiscriminate-attack"], "side": ["west"]}


LIVE_QUERIES = [
    {"q": "B3"}, {"weapon_category": ["cluster_munition_rocket", "small_arms"], "killed_min": "1"},
    {"side": "east", "confidence": ["verified", "corroborated"], "date_to": "2020-10-25"},
    {"date_from": "2020-10-15"}, {"organization": ["watch", "east-tv", "west-ministry"]}, {"organization": "watch", "date_from": "2020-10-15"},
    {"organization_kind": "party_affiliated", "date_to": "2020-11-30"},
    {"violation": "indiscriminate-attack", "weapon": "grad"}, {"cluster": "yes", "side": ["east", "west"]},
    {"killed_min": "2"},
    {"party": ["east-army", "west-army"]}, {"unattributed": "yes", "date_to": "2020-12-01"},
]


@pytest.mark.parametrize("query", LIVE_QUERIES)
def test_a_balance_counted_live_has_the_lists_counts_and_its_incident_cells_list_what_they_count(archive, db, query):
    request = request_for(query)
    filterset, _ = filter_incidents(request)
    assert balance._tallied(filterset) is None, "counted live"
    result = balance.compute(filterset, request.GET)
    assert result.counts == filterset.counts()
    assert result.counts["allegations"] > 0
    incidents_row = next(s for s in result.sections if s.slug == "casualties").rows[0]
    for cell in incidents_row.cells:
        if cell.value:
            assert listed(cell.url)["incidents"] == cell.value, cell.url


@pytest.mark.parametrize("query", LIVE_QUERIES + [{"weapon_category": "small_arms", "date_from": "2020-11"}, {}])
def test_the_columns_read_from_the_totals_are_the_sides_and_parties_of_the_incidents_filtered(archive, db, query):
    from incidents.filters import within
    from incidents.models import Allegation

    filterset, _ = filter_incidents(request_for(query))
    pairs = Allegation.objects.filter(within(filterset.incident_scope())).values_list("perpetrator_side", "perpetrator")
    expected = [column.label for column in balance._columns_of(set(pairs))]
    assert [column.label for column in balance._columns(filterset)] == expected


def test_a_filter_on_organizations_counts_only_the_citations_it_selects(archive, db):
    result = compute({"organization": "watch"})
    sources = next(s for s in result.sections if s.slug == "sources")
    # a1 also cites West Ministry, a2 cites only East TV: only Watch's citations are counted.
    assert {row.label: [c.value for c in row.cells] for row in sources.rows if row.note == "citations"} == {
        "Watch": [3, 1, 2, 2, 2, 0, 5],
    }


def test_a_filter_on_weapons_counts_only_the_weapons_it_selects(archive, db):
    result = compute({"side": "west", "weapon_category": "unguided_artillery_rocket"})
    # a4 also names a cluster rocket, but the filter selected its Grad: the category table shows Grad only.
    assert table(result, "weapons") == {"Unguided artillery rocket": [0, 0, 0, 2, 2, 0, 2]}


def test_nothing_unpublished_is_balanced_for_the_public_but_staff_see_it(archive, db):
    nobody = factories.user("balance-nobody")
    assert table(compute(user=nobody), "allegations") == {"Allegations": [2, 1, 1, 3, 3, 1, 6]}
    staff = User.objects.get(username="balance-researcher")
    assert table(compute(user=staff), "allegations") == {"Allegations": [3, 2, 1, 3, 3, 1, 7]}


def test_the_page_shows_tables_charts_and_says_how_incidents_of_several_sides_are_counted(archive, db, client):
    response = client.get(reverse("finding:balance"), {"side": "east"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "counted in full in each of their columns" in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" width=') == 6  # one chart per section
    assert 'href="/?side=east&amp;violation=unlawful-killing"' in html
    assert "HIDDEN" not in html


def test_a_bad_filter_shows_the_error_on_the_page(archive, db, client):
    response = client.get(reverse("finding:balance"), {"side": "nowhere", "killed_min": "-3"})
    assert response.status_code == 200
    assert "Some filters could not be read" in response.content.decode()
    assert response.context["balance"] is None


def test_the_balance_page_makes_the_same_number_of_queries_whatever_the_data_size(archive, db, client):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("finding:balance"), {"side": ["east", "west"]}).status_code == 200
        return len(captured)

    small = queries()
    author = User.objects.get(username="balance-researcher")
    for number in range(8):
        factories.published_incident(author=author, reference_code=f"MORE-{number}", allegations=[
            charge("East army" if number % 2 else "West army", "East" if number % 2 else "West",
                   ["indiscriminate-attack", "unlawful-killing"], ["Grad", "Rifle"], "verified", ["Watch", "East TV"]),
            charge(None, None, ["attack-on-civilian-objects"], [], "contested", ["West Ministry"]),
        ])
    factories.party("North raiders", "North")
    factories.published_incident(author=author, reference_code="NORTH", allegations=[
        charge("North raiders", "North", ["unlawful-killing"], ["Rifle"], "single_source", ["Watch"]),
    ])
    assert queries() == small



def test_names_in_the_cells_bars_and_links_are_escaped(db, client):
    """The cells and bars are written out in Python: what a name holds is shown, never run."""
    hostile = '<script>alert("x")</script> & co'
    author = factories.user("escape-researcher", role="researcher")
    factories.side(hostile)
    factories.party("Army of " + hostile, hostile)
    factories.organization("Org " + hostile, kind="ngo")
    factories.published_incident(author=author, reference_code="ESC", allegations=[
        charge("Army of " + hostile, hostile, ["unlawful-killing"], [], "verified", ["Org " + hostile]),
    ])
    response = client.get(reverse("finding:balance"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in html  # in the bar titles and table
    assert '<title>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co: 1' in html
    response = client.get(reverse("finding:balance"), {"violation": "unlawful-killing", "date_from": "1900"})
    html = response.content.decode()
    assert "<script>" not in html and "&amp;violation=unlawful-killing" in html
