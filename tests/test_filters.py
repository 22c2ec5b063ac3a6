"""The one FilterSet: each filter alone and combined, the date-overlap rule, bad values, and what never leaks.

Runs on SQLite and on PostgreSQL (`DATABASE_URL=postgres://... pytest`).
"""
import datetime

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.test import RequestFactory, override_settings

from incidents import services, taxonomy
from incidents.filters import filter_incidents
from incidents.models import Incident
from tests import factories

D = datetime.date


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def plain_http_and_fast_hashing(settings):
    settings.SECURE_SSL_REDIRECT = False
    settings.PASSWORD_HASHERS = FAST_HASHERS


def cite(org, quote="quote"):
    return [factories.CitationData(source=factories.source(org=org), quote=quote)]


def charge(party, side, violation="indiscriminate-attack", weapons=(), confidence="single_source",
           org="Human Rights Watch", quote="quote"):
    data = factories.allegation(perpetrator=party, side_name=side, violation=violation, weapons=weapons,
                                confidence=confidence)
    data.citations = cite(org, quote)
    return data


@pytest.fixture(scope="module")
def archive(django_db_setup, django_db_blocker):
    """Built once for the module inside a transaction that is rolled back at its end; each test adds a savepoint."""
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        with transaction.atomic():
            made = build_archive()
            yield made
            transaction.set_rollback(True)


@pytest.fixture
def staff(archive, db):
    return User.objects.get(username="module-researcher")


@pytest.fixture
def nobody(archive, db):
    return User.objects.get(username="module-nobody")


def build_archive():
    """A small archive counted by hand: two sides, three parties, places with aliases, every date precision."""
    researcher = factories.user("module-researcher", role="researcher")
    factories.user("module-nobody")
    actor = factories.system_user()
    factories.side("North")
    factories.side("South")
    factories.party("North army", "North")
    factories.party("North militia", "North")
    factories.party("South forces", "South")
    factories.weapon("Cluster rocket X", aliases="CRX\nX rocket", category="cluster_munition_rocket",
                     is_cluster_munition="yes")
    factories.weapon("Grad rocket", aliases="BM-21 Grad", category="unguided_artillery_rocket", is_cluster_munition="no")
    factories.weapon("Mortar", category="mortar", is_cluster_munition="unknown")
    factories.organization("Human Rights Watch", kind="ngo")
    factories.organization("North Ministry of Defence", kind="government", is_party_affiliated=True)
    factories.organization("South Ministry of Defence", kind="government", is_party_affiliated=True)
    stepanakert = factories.place("Stepanakert", aliases=["Khankendi"], admin_area="Nagorno-Karabakh",
                                  latitude="39.8177", longitude="46.7528", geo_precision="town")
    ganja = factories.place("Ganja", aliases=["Gyandzha"], admin_area="Ganja-Gazakh",
                            latitude="40.6828", longitude="46.3606", geo_precision="town")
    barda = factories.place("Barda", admin_area="Barda District")
    war = taxonomy.add_conflict(actor=actor, name="War A", via="test")
    other_war = taxonomy.add_conflict(actor=actor, name="War B", via="test")
    made = {
        # day
        "DAY": dict(date_start=D(2020, 10, 4), date_end=D(2020, 10, 4), date_precision="day", place=stepanakert,
                    conflict=war, civilians_killed_min=2, civilians_killed_max=3, title="Market shelled",
                    allegations=[charge("North army", "North", "cluster-munitions-populated-area", ["Cluster rocket X"],
                                        "verified", quote="submunitions found in the market")]),
        # month (October 2020), two allegations by different parties with different weapons
        "MONTH": dict(date_start=D(2020, 10, 1), date_end=D(2020, 10, 31), date_precision="month", place=ganja,
                      conflict=war, civilians_killed_min=5, civilians_killed_max=9, title="Rocket strikes on Ganja",
                      allegations=[
                          charge("South forces", "South", "indiscriminate-attack", ["Grad rocket"], "corroborated"),
                          charge("North militia", "North", "unlawful-killing", ["Mortar"], "party_claim",
                                 org="South Ministry of Defence", quote="a mortar crew fired at homes"),
                      ]),
        # year
        "YEAR": dict(date_start=D(2019, 1, 1), date_end=D(2019, 12, 31), date_precision="year", place=barda,
                     conflict=other_war, civilians_killed_min=10, civilians_killed_max=12, title="Cluster attack on Barda",
                     allegations=[charge("South forces", "South", "cluster-munitions-populated-area",
                                         ["Cluster rocket X"], "single_source")]),
        # approximate range, unattributed
        "APPROX": dict(date_start=D(2020, 9, 27), date_end=D(2020, 11, 10), date_precision="approximate",
                       place=stepanakert, conflict=war, title="Hospital damaged",
                       allegations=[charge(None, None, "attack-on-civilian-objects", (), "single_source")]),
        # unknown date
        "UNKNOWN": dict(date_start=None, date_end=None, date_precision="unknown", place=ganja, conflict=None,
                        civilians_killed_min=1, civilians_killed_max=1, title="Killing of a shepherd",
                        allegations=[charge("North army", "North", "unlawful-killing", ["Mortar"], "verified",
                                            org="North Ministry of Defence")]),
    }
    for code, values in made.items():
        factories.published_incident(author=researcher, reference_code=code, **values)
    # Never visible to the public: a draft, one in review, a published but restricted one.
    secret = dict(date_start=D(2020, 10, 4), date_end=D(2020, 10, 4), date_precision="day", place=stepanakert,
                  conflict=war, civilians_killed_min=50, civilians_killed_max=60, title="Secret scud strike",
                  allegations=[charge("North army", "North", "cluster-munitions-populated-area", ["Cluster rocket X"],
                                      "verified", quote="scud")])
    factories.incident(author=researcher, reference_code="DRAFT", **secret)
    in_review = factories.incident(author=researcher, reference_code="INREVIEW", **secret)
    services.submit(actor=researcher, incident=in_review)
    factories.published_incident(author=researcher, reference_code="RESTRICTED", visibility="restricted", **secret)
    return made


PUBLIC = {"DAY", "MONTH", "YEAR", "APPROX", "UNKNOWN"}
STAFF_ONLY = {"DRAFT", "INREVIEW", "RESTRICTED"}


def run(query, user=None):
    request = RequestFactory().get("/", query)
    request.user = user or AnonymousUser()
    return filter_incidents(request)


def found(query, user=None):
    filterset, queryset = run(query, user)
    assert not filterset.form.errors, filterset.form.errors
    return set(queryset.values_list("reference_code", flat=True))


def test_without_parameters_everyone_sees_what_they_may_see(archive, db, staff, nobody):
    assert found({}) == PUBLIC
    assert found({}, nobody) == PUBLIC
    assert found({}, staff) == PUBLIC | STAFF_ONLY


def test_an_incident_without_allegations_is_listed_until_an_allegation_filter_is_given(archive, staff):
    factories.published_incident(author=staff, reference_code="BARE", allegations=[])
    assert "BARE" in found({})
    assert "BARE" in found({"side": [], "weapon": "", "date_from": "2020"})
    assert "BARE" not in found({"confidence": ["verified", "single_source", "corroborated", "party_claim",
                                               "contested", "discounted"]})


@pytest.mark.parametrize("query, expected", [
    ({"conflict": "war-a"}, {"DAY", "MONTH", "APPROX"}),
    ({"conflict": ["war-a", "war-b"]}, {"DAY", "MONTH", "APPROX", "YEAR"}),
    ({"side": "north"}, {"DAY", "MONTH", "UNKNOWN"}),
    ({"side": "south"}, {"MONTH", "YEAR"}),
    ({"side": ["north", "south"]}, {"DAY", "MONTH", "YEAR", "UNKNOWN"}),
    ({"party": "north-army"}, {"DAY", "UNKNOWN"}),
    ({"party": "north-militia"}, {"MONTH"}),
    ({"party": ["north-militia", "south-forces"]}, {"MONTH", "YEAR"}),
    ({"unattributed": "yes"}, {"APPROX"}),
    ({"weapon": "cluster-rocket-x"}, {"DAY", "YEAR"}),
    ({"weapon": "crx"}, {"DAY", "YEAR"}),
    ({"weapon": "X ROCKET"}, {"DAY", "YEAR"}),
    ({"weapon": "bm-21 grad"}, {"MONTH"}),
    ({"weapon": ["Grad rocket", "mortar"]}, {"MONTH", "UNKNOWN"}),
    ({"weapon_category": "mortar"}, {"MONTH", "UNKNOWN"}),
    ({"weapon_category": ["mortar", "cluster_munition_rocket"]}, {"DAY", "MONTH", "YEAR", "UNKNOWN"}),
    ({"cluster": "yes"}, {"DAY", "YEAR"}),
    ({"violation": "unlawful-killing"}, {"MONTH", "UNKNOWN"}),
    ({"violation": ["unlawful-killing", "attack-on-civilian-objects"]}, {"MONTH", "UNKNOWN", "APPROX"}),
    ({"organization": "north-ministry-of-defence"}, {"UNKNOWN"}),
    ({"organization": "human-rights-watch"}, {"DAY", "MONTH", "YEAR", "APPROX"}),
    ({"organization_kind": "party_affiliated"}, {"MONTH", "UNKNOWN"}),
    ({"organization_kind": "independent"}, {"DAY", "MONTH", "YEAR", "APPROX"}),
    ({"organization_kind": "government"}, {"MONTH", "UNKNOWN"}),
    ({"place": "stepanakert"}, {"DAY", "APPROX"}),
    ({"place": "Khankendi"}, {"DAY", "APPROX"}),
    ({"place": "GYANDZHA"}, {"MONTH", "UNKNOWN"}),
    ({"place": ["khankendi", "barda"]}, {"DAY", "APPROX", "YEAR"}),
    ({"admin_area": "Barda District"}, {"YEAR"}),
    ({"admin_area": "nagorno-karabakh"}, {"DAY", "APPROX"}),
    ({"admin_area": "barda-district"}, {"YEAR"}),
    ({"date_from": "2020-10-01", "date_to": "2020-10-31"}, {"DAY", "MONTH", "APPROX"}),
    ({"date_from": "2019"}, {"DAY", "MONTH", "YEAR", "APPROX"}),
    ({"date_to": "2019-06"}, {"YEAR"}),
    ({"confidence": "verified"}, {"DAY", "UNKNOWN"}),
    ({"confidence": ["party_claim", "corroborated"]}, {"MONTH"}),
    ({"killed_min": "5"}, {"MONTH", "YEAR"}),
    ({"killed_min": "0"}, {"DAY", "MONTH", "YEAR", "UNKNOWN"}),
    ({"killed_min": "11"}, set()),
    ({"q": "shepherd"}, {"UNKNOWN"}),
    ({"q": "SUBMUNITIONS market"}, {"DAY"}),
    ({"q": "mortar crew"}, {"MONTH"}),
])
def test_each_filter_alone_finds_exactly_the_incidents_a_reader_would_pick(archive, db, query, expected):
    assert found(query) == expected


@pytest.mark.parametrize("query, expected", [
    # Allegation filters hold for one and the same allegation.
    ({"party": "north-militia", "weapon": "mortar"}, {"MONTH"}),
    ({"party": "south-forces", "weapon": "mortar"}, set()),
    ({"side": "south", "confidence": "party_claim"}, set()),
    ({"side": "north", "confidence": "party_claim"}, {"MONTH"}),
    ({"side": "north", "organization_kind": "party_affiliated"}, {"MONTH", "UNKNOWN"}),
    ({"side": "south", "organization_kind": "party_affiliated"}, set()),
    ({"violation": "unlawful-killing", "weapon": "grad-rocket"}, set()),
    ({"cluster": "yes", "side": "south"}, {"YEAR"}),
    # The weapon conditions hold for the same weapon, the organization ones for the same citation.
    ({"weapon": "grad-rocket", "weapon_category": "mortar"}, set()),
    ({"organization": "human-rights-watch", "organization_kind": "party_affiliated"}, set()),
    # Incident and allegation filters combine.
    ({"cluster": "yes", "date_from": "2020-10", "date_to": "2020-10"}, {"DAY"}),
    ({"side": "north", "place": "ganja"}, {"MONTH", "UNKNOWN"}),
    ({"side": "north", "place": "ganja", "date_from": "2020"}, {"MONTH"}),
    ({"conflict": "war-a", "killed_min": "3"}, {"MONTH"}),
    ({"q": "rocket", "side": "north"}, {"MONTH"}),
    ({"q": "cluster", "side": "south"}, {"YEAR"}),
    ({"q": "cluster", "side": "south", "conflict": "war-a"}, set()),
    ({"weapon_category": "cluster_munition_rocket", "admin_area": "Nagorno-Karabakh", "confidence": "verified"}, {"DAY"}),
])
def test_filters_combine(archive, db, query, expected):
    assert found(query) == expected


@pytest.mark.parametrize("date_from, date_to, expected", [
    # day: 2020-10-04
    ("2020-10-04", "2020-10-04", {"DAY", "MONTH", "APPROX"}),
    ("2020-10-05", "2020-10-30", {"MONTH", "APPROX"}),
    ("2020-10-01", "2020-10-03", {"MONTH", "APPROX"}),
    # month: October 2020 matches any range touching October
    ("2020-10-31", "2020-10-31", {"MONTH", "APPROX"}),
    ("2020-11-01", "2020-11-30", {"APPROX"}),
    ("2020-09-01", "2020-09-30", {"APPROX"}),
    # year: 2019
    ("2019-12-31", "2019-12-31", {"YEAR"}),
    ("2019-01-01", "2019-01-01", {"YEAR"}),
    ("2018", "2018", set()),
    # approximate range 2020-09-27 .. 2020-11-10
    ("2020-11-10", "2020-11-10", {"APPROX"}),
    ("2020-11-11", "2021", set()),
    ("2020-09-27", "2020-09-27", {"APPROX"}),
    ("2020-01", "2020-09-26", set()),
])
def test_an_incident_matches_when_its_span_overlaps_the_range_whatever_its_precision(archive, db, date_from, date_to, expected):
    assert found({"date_from": date_from, "date_to": date_to}) == expected


def test_an_incident_with_an_unknown_date_matches_no_date_filter(archive, db):
    assert "UNKNOWN" in found({})
    assert "UNKNOWN" not in found({"date_from": "1900"})
    assert "UNKNOWN" not in found({"date_to": "2100"})


@pytest.mark.parametrize("precision, start, query, expected", [
    ("month", D(2021, 3, 1), {"date_from": "2021-03-31"}, True),
    ("month", D(2021, 3, 1), {"date_from": "2021-04-01"}, False),
    ("year", D(2021, 1, 1), {"date_from": "2021-12-31"}, True),
    ("year", D(2021, 1, 1), {"date_from": "2022"}, False),
    ("day", D(2021, 3, 1), {"date_from": "2021-03-02"}, False),
    ("day", D(2021, 3, 1), {"date_from": "2021-03-01", "date_to": "2021-03-01"}, True),
])
def test_without_an_end_date_the_span_is_the_start_period_its_precision_names(archive, db, staff, precision, start, query,
                                                                            expected):
    factories.published_incident(author=staff, reference_code="OPEN", date_start=start, date_end=None,
                                 date_precision=precision)
    assert ("OPEN" in found(query)) is expected


@pytest.mark.parametrize("query, field", [
    ({"date_from": "2020-13"}, "date_from"),
    ({"date_from": "yesterday"}, "date_from"),
    ({"date_to": "1700"}, "date_to"),
    ({"killed_min": "-1"}, "killed_min"),
    ({"killed_min": "many"}, "killed_min"),
    ({"killed_min": "99999999999999999999999"}, "killed_min"),
    ({"killed_min": "2.5"}, "killed_min"),
    ({"place": "Ganja\x00"}, "place"),
    ({"weapon": "x" * 201}, "weapon"),
    ({"admin_area": "\x00"}, "admin_area"),
    ({"q": "scud\x00"}, "q"),
    ({"date_from": "2020\x00"}, "date_from"),
    ({"side": "nowhere"}, "side"),
    ({"party": "<script>"}, "party"),
    ({"conflict": "war-z"}, "conflict"),
    ({"weapon": "death ray"}, "weapon"),
    ({"weapon_category": "laser"}, "weapon_category"),
    ({"cluster": "maybe"}, "cluster"),
    ({"violation": "jaywalking"}, "violation"),
    ({"organization": "nobody"}, "organization"),
    ({"organization_kind": "secret_service"}, "organization_kind"),
    ({"place": "Atlantis"}, "place"),
    ({"admin_area": "Middle Earth"}, "admin_area"),
    ({"confidence": "certain"}, "confidence"),
    ({"sort": "price"}, "sort"),
    ({"unattributed": "perhaps"}, "unattributed"),
])
def test_a_bad_value_is_a_form_error_and_gives_no_results(archive, db, query, field):
    filterset, queryset = run(query)
    assert field in filterset.form.errors
    assert list(queryset) == []
    assert filterset.counts() == {"incidents": 0, "allegations": 0}


def test_unknown_parameters_are_ignored(archive, db):
    assert found({"created_by__password__startswith": "a", "status__in": "draft", "page": "2", "x": "y"}) == PUBLIC


def test_status_is_ignored_for_the_public_and_honoured_for_staff(archive, db, staff, nobody):
    assert found({"status": "draft"}) == PUBLIC
    assert found({"status": "draft"}, nobody) == PUBLIC
    assert found({"status": "draft"}, staff) == {"DRAFT"}
    assert found({"status": ["in_review", "published"]}, staff) == PUBLIC | {"INREVIEW", "RESTRICTED"}


@pytest.mark.parametrize("query", [
    {}, {"q": "scud"}, {"killed_min": "50"}, {"side": "north"}, {"status": "draft"}, {"cluster": "yes"},
    {"date_from": "2020-10-04", "date_to": "2020-10-04"}, {"place": "stepanakert"}, {"sort": "killed"},
])
def test_nothing_unpublished_is_ever_listed_or_counted_for_the_public(archive, db, nobody, query):
    for user in (None, nobody):
        filterset, queryset = run(query, user)
        assert not set(queryset.values_list("reference_code", flat=True)) & STAFF_ONLY
        hidden_allegations = Incident.objects.filter(reference_code__in=STAFF_ONLY).values("allegations")
        assert not filterset.allegations().filter(pk__in=hidden_allegations).exists()
    assert found({"q": "scud"}) == set()


def test_the_active_filters_read_as_labels_and_values(archive, db):
    filterset, _ = run({"side": ["north", "south"], "killed_min": "0", "date_from": "2020-10", "sort": "killed"})
    assert filterset.active() == [
        ("Alleged against side", "North, South"), ("From", "2020-10"), ("At least this many civilians killed", "0"),
    ]


def test_result_counts_give_incidents_and_the_matching_allegations(archive, db):
    assert run({})[0].counts() == {"incidents": 5, "allegations": 6}
    assert run({"side": "north"})[0].counts() == {"incidents": 3, "allegations": 3}
    assert run({"place": "ganja"})[0].counts() == {"incidents": 2, "allegations": 3}
    assert run({"weapon_category": ["mortar", "unguided_artillery_rocket"]})[0].counts() == {"incidents": 2, "allegations": 3}


@pytest.mark.parametrize("sort, expected", [
    ({}, ["DAY", "MONTH", "APPROX", "YEAR", "UNKNOWN"]),
    ({"sort": "date"}, ["DAY", "MONTH", "APPROX", "YEAR", "UNKNOWN"]),
    ({"sort": "date_asc"}, ["YEAR", "APPROX", "MONTH", "DAY", "UNKNOWN"]),
    ({"sort": "-date"}, ["YEAR", "APPROX", "MONTH", "DAY", "UNKNOWN"]),
    ({"sort": "killed"}, ["YEAR", "MONTH", "DAY", "UNKNOWN", "APPROX"]),
])
def test_sorting(archive, db, sort, expected):
    _, queryset = run(sort)
    assert list(queryset.values_list("reference_code", flat=True)) == expected


def test_sorting_by_last_update_puts_the_latest_edit_first(archive, db):
    Incident.objects.filter(reference_code="YEAR").update(updated_at=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc))
    _, queryset = run({"sort": "updated"})
    assert list(queryset.values_list("reference_code", flat=True))[0] == "YEAR"


def test_the_filter_form_shows_labels_current_values_and_errors(archive, db):
    from django.template.loader import render_to_string

    filterset, _ = run({"side": "north", "place": ["Khankendi", "Barda"], "date_from": "2020-13", "q": "<b>x</b>"})
    html = render_to_string("finding/_filter_form.html", {"filter": filterset})
    assert '<label for="id_side"' in html
    assert '<option value="north" selected>' in html
    assert 'value="Khankendi" id="id_place"' in html
    assert 'value="Barda" id="id_place_1" aria-label="Place, value 2"' in html
    assert 'value="" id="id_place_2" aria-label="Place, another value"' in html
    assert '<label for="id_weapon">' in html and 'id="id_weapon_1"' not in html
    assert 'value="2020-13"' in html
    assert "YYYY-MM-DD, YYYY-MM or YYYY" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert 'type="submit"' in html
    assert 'name="status"' not in html


@pytest.mark.parametrize("name", [
    "finding:export_csv", "finding:export_json", "finding:export_geojson", "finding:balance", "finding:map",
    "finding:timeline",
])
@pytest.mark.parametrize("query", [{}, {"q": "scud"}, {"status": "draft"}, {"killed_min": "50"}, {"side": "north"}])
def test_no_output_of_the_filter_reveals_unpublished_incidents_to_the_public(archive, nobody, client, name, query):
    from django.urls import reverse

    for user in (None, nobody):
        if user:
            client.force_login(user)
        response = client.get(reverse(name), query)
        assert response.status_code == 200
        content = b"".join(response.streaming_content) if response.streaming else response.content
        for secret in (b"Secret scud strike", b"DRAFT", b"INREVIEW", b"RESTRICTED"):
            assert secret not in content, (name, user, secret)


@pytest.mark.parametrize("fast, django_widget, value", [
    ("FastSelect", "Select", "d"),
    ("FastSelect", "Select", None),
    ("FastSelect", "Select", ["d", "e"]),  # a single select marks only the first match, as Django's does
    ("FastSelectMultiple", "SelectMultiple", ["a&b", "d"]),
    ("FastSelectMultiple", "SelectMultiple", None),
    ("FastCheckboxSelectMultiple", "CheckboxSelectMultiple", ["a&b", "d"]),
    ("FastCheckboxSelectMultiple", "CheckboxSelectMultiple", []),
])
def test_the_filter_forms_choice_widgets_built_in_python_are_djangos_html(fast, django_widget, value):
    """The same elements, attributes and escaping as Django's templates, groups and selections included."""
    from django import forms
    from django.test.html import parse_html

    from incidents import widgets

    choices = [("", "Any"), ("a&b", "A & <b>"), ("Group", [("c", "C"), ("d", 'D "quoted"')]), ("e", "E")]
    attrs = {"id": "id_x", "aria-describedby": "id_x_helptext", "aria-invalid": "true", "data-none": False}
    ours = getattr(widgets, fast)(choices=choices).render("x", value, attrs)
    djangos = getattr(forms, django_widget)(choices=choices).render("x", value, attrs)
    assert parse_html(ours) == parse_html(djangos)  # whitespace between tags and the order of attributes aside
    assert "&lt;b&gt;" in ours and "data-none" not in ours
    if value:
        assert "selected" in ours or "checked" in ours


@pytest.mark.parametrize("fast, django_widget, value", [
    ("FastTextInput", "TextInput", 'a "quoted" <b>'),
    ("FastTextInput", "TextInput", None),
    ("FastTextInput", "TextInput", ""),
    ("FastNumberInput", "NumberInput", 12),
])
def test_the_filter_forms_inputs_built_in_python_are_djangos_html(fast, django_widget, value):
    from django import forms
    from django.test.html import parse_html

    from incidents import widgets

    attrs = {"id": "id_x", "maxlength": 10, "required": True, "disabled": False}
    ours = getattr(widgets, fast)().render("x", value, attrs)
    assert parse_html(ours) == parse_html(getattr(forms, django_widget)().render("x", value, attrs))
    assert ("value=" in ours) == bool(value)


# The field as a template would write it: the reference for the filter form's fields written out in Python.
FIELD_TEMPLATE = """{% if field %}<div class="filter-field{% if field.errors %} has-error{% endif %}">
  {% if field.use_fieldset %}
  <fieldset{% if field.help_text %} aria-describedby="{{ field.auto_id }}_helptext"{% endif %}>
    <legend>{{ field.label }}</legend>
    {{ field }}
  </fieldset>
  {% else %}
  {{ field.label_tag }}
  {{ field }}
  {% endif %}
  {% if field.help_text %}<small class="help" id="{{ field.auto_id }}_helptext">{{ field.help_text }}</small>{% endif %}
  {% if field.errors %}<ul class="errorlist" id="{{ field.auto_id }}_error">{% for error in field.errors %}<li>{{ error }}</li>{% endfor %}</ul>{% endif %}
</div>{% endif %}"""


@pytest.mark.parametrize("as_staff", [False, True])
@pytest.mark.parametrize("query", [
    {},
    {"side": "north", "place": ["Khankendi", "Barda"], "date_from": "2020-13", "q": "<b>x</b>"},
    {"confidence": ["verified", "nonsense"], "killed_min": "-1", "weapon_category": "artillery", "sort": "killed",
     "status": ["draft"], "unattributed": "yes", "organization_kind": "independent", "cluster": "maybe"},
])
def test_each_filter_field_written_out_in_python_is_the_templates_html(archive, db, staff, query, as_staff):
    from django.template import Context, Template
    from django.test.html import parse_html

    from incidents.templatetags.filter_form import filter_field

    filterset, _ = run(query, staff if as_staff else None)
    reference = Template(FIELD_TEMPLATE)
    assert ("status" in filterset.form.fields) == as_staff
    for name in [*filterset.form.fields, "status"]:
        field = filterset.form[name] if name in filterset.form.fields else ""
        expected = reference.render(Context({"field": field}))
        assert parse_html(filter_field(filterset.form, name)) == parse_html(expected), name
    if query:
        assert filterset.form.errors


def test_an_allegation_matching_through_several_weapons_citations_or_violations_is_counted_once(db):
    """The condition's joins repeat an allegation for each weapon, citation or violation type that matches it;
    the counts take each matching allegation once."""
    query = {"weapon_category": ["unguided_artillery_rocket"], "organization_kind": ["independent"]}
    before = run(query)[0].counts(live=True)
    factories.weapon("Rocket one", category="unguided_artillery_rocket")
    factories.weapon("Rocket two", category="unguided_artillery_rocket")
    factories.published_incident(allegations=[
        factories.allegation(weapons=["Rocket one", "Rocket two"], citations=3),
        factories.allegation(perpetrator=None, weapons=["Rocket two"]),
    ])
    filterset, _ = run(query)
    expected = {"incidents": before["incidents"] + 1, "allegations": before["allegations"] + 2}
    assert filterset.counts(live=True) == expected
    assert filterset.counts() == expected
