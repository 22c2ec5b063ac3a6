"""The incident list's rows and the filter form's named options, written out in Python, are what the template and
Django's model choices wrote."""
import datetime

import pytest
from django.template import Context, Template
from django.http import QueryDict
from django.test.html import parse_html
from django.urls import reverse

from incidents.filters import IncidentFilter
from incidents import taxonomy
from incidents.models import Incident
from tests import factories

# The rows as the list template wrote them before they were written in Python: the reference.
ROW_TEMPLATE = """{% load dates %}{% for incident in incidents %}
    <tr>
      <td>{% date_span incident.date_start incident.date_end incident.date_precision %}</td>
      <td>{{ incident.reference_code }}</td>
      <td><a href="{% url 'incidents:detail' incident.pk %}">{{ incident.title }}</a></td>
      <td>{{ incident.place }}</td>
      <td>{{ incident.allegation_count }}</td>
      {% if staff %}<td><span class="badge status-{{ incident.status }}">{{ incident.get_status_display }}</span>{% if incident.visibility == "restricted" %} <span class="badge restricted">restricted</span>{% endif %}</td>{% endif %}
    </tr>
    {% endfor %}"""


@pytest.fixture
def listed(db, settings):
    settings.SECURE_SSL_REDIRECT = False
    author = factories.user("rows-researcher", role="researcher")
    aliased = factories.place("Stepanakert <old>", aliases=["Khankendi & \"new\""])
    factories.published_incident(author=author, reference_code="R-DAY", title='Shelling & "fire" <b>x</b>',
                                 place=aliased)
    factories.published_incident(author=author, reference_code="R-MONTH", date_precision="month",
                                 date_start=datetime.date(2021, 3, 1), date_end=datetime.date(2021, 5, 31),
                                 allegations=[factories.allegation(), factories.allegation(perpetrator=None)])
    factories.published_incident(author=author, reference_code="R-RESTRICTED", visibility="restricted",
                                 date_precision="approximate", date_end=datetime.date(2020, 10, 9))
    factories.incident(author=author, reference_code="R-DRAFT", date_start=None, date_end=None,
                       date_precision="unknown", allegations=[])
    return author


@pytest.mark.parametrize("as_staff", [False, True])
def test_the_lists_rows_are_the_templates_html(listed, client, as_staff):
    if as_staff:
        client.force_login(listed)
    context = client.get(reverse("incidents:list")).context
    shown = [row["reference_code"] for row in context["incidents"]]
    assert set(shown) == ({"R-DAY", "R-MONTH", "R-RESTRICTED", "R-DRAFT"} if as_staff else {"R-DAY", "R-MONTH"})
    assert context["staff"] == as_staff
    # The template read model instances; the rows are the same incidents in the same order.
    by_id = Incident.objects.for_list().in_bulk([row["pk"] for row in context["incidents"]])
    instances = [by_id[row["pk"]] for row in context["incidents"]]
    expected = Template(ROW_TEMPLATE).render(Context({"incidents": instances, "staff": as_staff}))
    page = client.get(reverse("incidents:list")).content.decode()
    body = page[page.index("<tbody>") + len("<tbody>"):page.index("</tbody>")]
    assert parse_html(body) == parse_html(expected)
    assert "Shelling &amp; &quot;fire&quot; &lt;b&gt;x&lt;/b&gt;" in body
    assert "Stepanakert &lt;old&gt; (Khankendi &amp; &quot;new&quot;)" in body
    assert ("restricted</span>" in body) == as_staff and ("date not established" in body) == as_staff


def test_the_filter_forms_named_options_are_each_entrys_slug_and_what_it_is_called(listed):
    factories.organization("Watch <&> \"Monitor\"")
    taxonomy.add_conflict(actor=factories.system_user(), name="War of <tags>", via="test")
    form = IncidentFilter({}, queryset=Incident.objects.all()).form
    for name in ["conflict", "side", "party", "violation", "organization"]:
        field = form.fields[name]
        expected = [(entry.slug, str(entry)) for entry in field.queryset]
        assert expected and list(field.choices) == expected, name
        assert len(field.choices) == len(expected)
    html = str(form["organization"])
    assert '<option value="watch-monitor">Watch &lt;&amp;&gt; &quot;Monitor&quot;</option>' in html


def test_a_form_reads_all_its_named_option_lists_with_one_statement(listed):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    filterset = IncidentFilter({}, queryset=Incident.objects.all())
    with CaptureQueriesContext(connection) as captured:
        html = "".join(str(filterset.form[name]) for name in ["conflict", "side", "party", "violation", "organization"])
    assert len(captured.captured_queries) == 1
    assert "Party A forces" in html and "Side A" in html


def test_forms_share_their_fields_declarations_but_nothing_one_request_gave_or_read(listed):
    """The form class's fields are copied one level deep per form: a new entry shows in the next form, and one
    form's values and errors never reach another."""
    bad = IncidentFilter(QueryDict("side=nowhere&killed_min=-1&confidence=verified"), queryset=Incident.objects.all())
    assert set(bad.form.errors) == {"side", "killed_min"}
    factories.side("Side added later")
    clean = IncidentFilter(QueryDict("confidence=corroborated"), queryset=Incident.objects.all())
    assert clean.form.is_valid() and not clean.form.errors
    assert ("side-added-later", "Side added later") in list(clean.form.fields["side"].choices)
    assert "Side added later" in str(clean.form["side"])
    html = str(clean.form["confidence"])
    assert 'value="corroborated" id="id_confidence_1" checked' in html
    assert 'value="verified" id="id_confidence_0" checked' not in html
    assert 'value="-1"' not in str(clean.form["killed_min"]) and not clean.form["side"].errors
    assert bad.form.fields["side"] is not clean.form.fields["side"]


def test_a_named_field_whose_queryset_is_filtered_reads_its_own_options(listed):
    from incidents.filters import NamedModelMultipleChoiceField, OptionLists
    from incidents.models import Side

    factories.side("Another side")
    every = NamedModelMultipleChoiceField(queryset=Side.objects.all(), to_field_name="slug")
    some = NamedModelMultipleChoiceField(queryset=Side.objects.filter(name__startswith="Another"), to_field_name="slug")
    OptionLists([every, some])
    assert getattr(some, "option_lists", None) is None and every.option_lists is not None
    assert list(some.choices) == [("another-side", "Another side")]
    assert list(every.choices) == [("another-side", "Another side"), ("side-a", "Side A")]
