"""A researcher records and edits whole incidents through the web form, as a browser would submit it."""
from collections import defaultdict
from html.parser import HTMLParser

from django.test import Client
from django.urls import reverse

from archive.models import AuditEvent
from incidents import services
from incidents.documents import document_of, sha256_of
from incidents.models import Incident, ViolationType
from sources.models import Citation
from tests import factories


class FormReader(HTMLParser):
    """The values a browser would submit from the incident form: every control with its default value."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.values = defaultdict(list)
        self.in_form = False
        self.select = None
        self.textarea = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and "incident-form" in (attrs.get("class") or ""):
            self.in_form = True
        if not self.in_form:
            return
        if tag == "input":
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.values[attrs["name"]].append(attrs.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select":
            self.select = {"name": attrs["name"], "multiple": "multiple" in attrs, "options": []}
        elif tag == "option" and self.select is not None:
            self.select["options"].append((attrs.get("value", ""), "selected" in attrs))
        elif tag == "textarea":
            self.textarea = [attrs["name"], ""]

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False
        elif tag == "select" and self.select is not None:
            chosen = [value for value, selected in self.select["options"] if selected]
            if not chosen and not self.select["multiple"] and self.select["options"]:
                chosen = [self.select["options"][0][0]]
            self.values[self.select["name"]].extend(chosen)
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            name, text = self.textarea
            self.values[name].append(text[1:] if text.startswith("\n") else text)
            self.textarea = None

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def filled(self, **changes):
        """The form's values with some fields set, as a dict the test client posts like a browser."""
        values = {name: list(items) for name, items in self.values.items()}
        for name, value in changes.items():
            values[name.replace("__", "-")] = value if isinstance(value, list) else [str(value)]
        return values


def violation(slug):
    return ViolationType.objects.get(slug=slug).pk


def test_a_researcher_records_an_incident_with_two_allegations_and_three_citations(researcher_client, researcher):
    place = factories.place("Ganja")
    first_party, second_party = factories.party("Party A forces", "Side A"), factories.party("Party B forces", "Side B")
    hrw, amnesty, ministry = (factories.source(org="Human Rights Watch"), factories.source(org="Amnesty International"),
                              factories.source(org="Ministry of Defence"))
    weapon = factories.weapon("Smerch 9M55K", is_cluster_munition="yes")
    audit_before = AuditEvent.objects.count()
    url = reverse("incidents:create")

    page = FormReader(researcher_client.get(url).text)
    two_allegations = researcher_client.post(url, page.filled(add_allegation="1"))
    page = FormReader(two_allegations.text)
    two_citations = researcher_client.post(url, page.filled(add_citation="allegations-0"))
    page = FormReader(two_citations.text)
    response = researcher_client.post(url, page.filled(
        reference_code="AZF-2020-01", title="Cluster munition strike on a residential area", date_start="2020-10-04",
        date_precision="day", place=place.pk, civilians_killed_min=1, civilians_killed_max=2,
        allegations__0__perpetrator=first_party.pk, allegations__0__confidence="corroborated",
        allegations__0__violation_types=[str(violation("indiscriminate-attack")),
                                         str(violation("cluster-munitions-populated-area"))],
        allegations__0__weapons=[str(weapon.pk)], allegations__0__summary="HRW reports a cluster munition rocket hit.",
        allegations__0__citations__0__source=hrw.pk, allegations__0__citations__0__quote="remnants of 9N235",
        allegations__0__citations__1__source=amnesty.pk,
        allegations__1__perpetrator=second_party.pk, allegations__1__confidence="party_claim",
        allegations__1__citations__0__source=ministry.pk, allegations__1__citations__0__stance="supports",
    ))

    incident = Incident.objects.get(reference_code="AZF-2020-01")
    assert two_allegations.text.count('<fieldset class="allegation"') == 2
    assert response.status_code == 302
    assert response.url == reverse("incidents:detail", args=[incident.pk])
    assert incident.status == "draft"
    assert incident.date_end.isoformat() == "2020-10-04"
    allegations = list(incident.allegations.order_by("position"))
    assert [a.perpetrator for a in allegations] == [first_party, second_party]
    assert [a.perpetrator_side.name for a in allegations] == ["Side A", "Side B"]
    assert list(allegations[0].weapons.all()) == [weapon]
    assert allegations[0].violation_types.count() == 2
    assert [c.source for c in Citation.objects.filter(allegation__incident=incident).order_by("allegation__position", "position")] == [hrw, amnesty, ministry]
    assert "Cluster munition strike on a residential area" in researcher_client.get(reverse("incidents:list")).text
    events = list(AuditEvent.objects.filter(seq__gt=audit_before).order_by("seq"))
    assert [e.action for e in events] == ["incident.create"]
    assert events[0].target_id == str(incident.pk) and events[0].actor == researcher


def test_adding_a_row_keeps_what_was_typed_and_shows_no_errors_yet(researcher_client):
    url = reverse("incidents:create")
    page = FormReader(researcher_client.get(url).text)

    response = researcher_client.post(url, page.filled(title="Half-typed title", add_allegation="1"))

    assert response.status_code == 200
    assert 'value="Half-typed title"' in response.text
    assert "errorlist" not in response.text
    assert not Incident.objects.exists()


def test_a_single_day_date_without_end_covers_that_day_and_a_month_covers_the_month(researcher_client):
    source = factories.source()
    url = reverse("incidents:create")
    page = FormReader(researcher_client.get(url).text)

    researcher_client.post(url, page.filled(
        reference_code="M-1", title="Shelling in October", date_start="2020-10", date_precision="month",
        place=factories.place().pk, allegations__0__citations__0__source=source.pk,
    ))

    incident = Incident.objects.get(reference_code="M-1")
    assert (incident.date_start.isoformat(), incident.date_end.isoformat()) == ("2020-10-01", "2020-10-31")


def test_editing_from_an_outdated_version_is_refused_with_what_changed_and_overwrites_nothing(
    researcher_client, researcher
):
    incident = factories.incident(author=researcher, title="Original title")
    url = reverse("incidents:edit", args=[incident.pk])
    opened = FormReader(researcher_client.get(url).text)
    current = sha256_of(document_of(Incident.objects.for_detail().get(pk=incident.pk)))
    services.edit_incident(
        actor=researcher, incident=incident, fields=factories.incident_fields(
            reference_code=incident.reference_code, title="Changed meanwhile"),
        allegations=[factories.allegation()], base_sha256=current,
    )
    audit_before = AuditEvent.objects.count()

    response = researcher_client.post(url, opened.filled(title="My own title"))

    incident.refresh_from_db()
    assert response.status_code == 409
    assert "Someone changed this incident after you opened it" in response.text
    assert "What changed since you opened this incident" in response.text
    assert "Changed meanwhile" in response.text and "Original title" in response.text
    assert 'value="My own title"' in response.text
    assert incident.title == "Changed meanwhile"
    assert AuditEvent.objects.count() == audit_before


def test_after_seeing_what_changed_the_researcher_can_save_deliberately(researcher_client, researcher):
    incident = factories.incident(author=researcher, title="Original title")
    url = reverse("incidents:edit", args=[incident.pk])
    opened = FormReader(researcher_client.get(url).text)
    current = sha256_of(document_of(Incident.objects.for_detail().get(pk=incident.pk)))
    services.edit_incident(
        actor=researcher, incident=incident,
        fields=factories.incident_fields(reference_code=incident.reference_code, title="Changed meanwhile"),
        allegations=[factories.allegation()], base_sha256=current,
    )
    conflict = researcher_client.post(url, opened.filled(title="My own title"))

    response = researcher_client.post(url, FormReader(conflict.text).filled())

    incident.refresh_from_db()
    assert response.status_code == 302
    assert incident.title == "My own title"


def test_a_tampered_base_document_saves_nothing(researcher_client, researcher):
    incident = factories.incident(author=researcher, title="Original title")
    url = reverse("incidents:edit", args=[incident.pk])
    opened = FormReader(researcher_client.get(url).text)

    response = researcher_client.post(url, opened.filled(title="My own title", base_document="forged"))

    incident.refresh_from_db()
    assert response.status_code == 400
    assert incident.title == "Original title"


def test_editing_a_published_incident_creates_a_working_revision_while_the_public_sees_the_old_title(
    researcher_client, researcher
):
    published = factories.published_incident(title="Published title")
    url = reverse("incidents:edit", args=[published.pk])
    opened = FormReader(researcher_client.get(url).text)

    response = researcher_client.post(url, opened.filled(title="Revised title"))

    revision = Incident.objects.get(draft_of=published)
    public = Client().get(reverse("incidents:detail", args=[published.pk]))
    assert response.status_code == 302
    assert response.url == reverse("incidents:detail", args=[revision.pk])
    assert revision.title == "Revised title" and revision.status == "draft"
    assert "Published title" in public.text and "Revised title" not in public.text
    assert Client().get(reverse("incidents:detail", args=[revision.pk])).status_code == 404
    assert "working revision" in researcher_client.get(response.url).text


def test_a_revision_started_by_someone_else_meanwhile_keeps_the_input_and_answers_409(
    researcher_client, other_researcher
):
    published = factories.published_incident(title="Published title")
    url = reverse("incidents:edit", args=[published.pk])
    opened = FormReader(researcher_client.get(url).text)
    current = sha256_of(document_of(Incident.objects.for_detail().get(pk=published.pk)))
    services.edit_incident(
        actor=other_researcher, incident=published, allegations=[factories.allegation()], base_sha256=current,
        fields=factories.incident_fields(reference_code=published.reference_code, title="Their revision"),
    )

    response = researcher_client.post(url, opened.filled(title="My revision"))

    assert response.status_code == 409
    assert "already has a working revision" in response.text
    assert 'value="My revision"' in response.text
    assert Incident.objects.filter(draft_of=published).count() == 1


def test_a_published_incidents_reference_code_cannot_be_changed_by_a_revision(researcher_client):
    published = factories.published_incident(title="Published title")
    url = reverse("incidents:edit", args=[published.pk])
    opened = FormReader(researcher_client.get(url).text)

    researcher_client.post(url, opened.filled(title="Revised title", reference_code="SOMETHING-ELSE"))

    assert Incident.objects.get(draft_of=published).reference_code == published.reference_code


def test_saving_without_changes_writes_nothing(researcher_client, researcher):
    incident = factories.incident(author=researcher)
    url = reverse("incidents:edit", args=[incident.pk])
    opened = FormReader(researcher_client.get(url).text)
    audit_before = AuditEvent.objects.count()

    response = researcher_client.post(url, opened.filled())

    assert response.status_code == 302
    assert AuditEvent.objects.count() == audit_before


def test_an_allegation_can_be_removed_on_edit(researcher_client, researcher):
    incident = factories.incident(author=researcher, allegations=[
        factories.allegation(), factories.allegation(perpetrator="Party B forces", side_name="Side B"),
    ])
    url = reverse("incidents:edit", args=[incident.pk])
    opened = FormReader(researcher_client.get(url).text)

    response = researcher_client.post(url, opened.filled(allegations__1__DELETE="on"))

    assert response.status_code == 302
    assert [a.perpetrator.name for a in incident.allegations.all()] == ["Party A forces"]
