"""Every rule of the models shows as a clear form error, and a refused form writes nothing."""
import pytest
from django.urls import reverse

from archive.models import AuditEvent
from incidents.models import Allegation, Incident
from sources.models import Citation, Organization, Source
from tests import factories


def management(prefix, total, initial=0):
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "50"}


def incident_post(**changes):
    """A complete, valid submission of the create form: one allegation with one citation."""
    data = {
        "reference_code": "FORM-1", "title": "Strike on a hospital", "summary": "", "date_start": "2020-10-04",
        "date_end": "", "date_precision": "day", "place": str(factories.place().pk), "location_detail": "",
        "conflict": "", "visibility": "public",
        "civilians_killed_min": "", "civilians_killed_max": "", "civilians_injured_min": "", "civilians_injured_max": "",
        **management("allegations", 1),
        "allegations-0-perpetrator": str(factories.party().pk), "allegations-0-perpetrator_side": "",
        "allegations-0-confidence": "single_source",
        **management("allegations-0-citations", 1),
        "allegations-0-citations-0-source": str(factories.source().pk), "allegations-0-citations-0-stance": "supports",
    }
    data.update(changes)
    return data


def rows():
    return (Incident.objects.count(), Allegation.objects.count(), Citation.objects.count(), Source.objects.count(),
            Organization.objects.count(), AuditEvent.objects.count())


def post_incident(client, data):
    before = rows()
    response = client.post(reverse("incidents:create"), data)
    return response, before


def test_a_valid_submission_is_saved(researcher_client):
    response, before = post_incident(researcher_client, incident_post())

    assert response.status_code == 302
    assert rows()[0] == before[0] + 1


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"civilians_killed_min": "5", "civilians_killed_max": "3"}, "civilians_killed_max", "is below the lower figure"),
    ({"civilians_injured_min": "10", "civilians_injured_max": "2"}, "civilians_injured_max", "is below the lower figure"),
    ({"date_start": "2020-10-04", "date_end": "2020-10-01"}, "date_end", "The end date is before the start date."),
    ({"date_start": "", "date_precision": "day"}, "date_start", "Give a start date, or set the date precision to unknown."),
    ({"date_start": "", "date_end": "2020-10-04", "date_precision": "unknown"}, "date_end", "An end date needs a start date."),
    ({"date_start": "4 October 2020"}, "date_start", "Write the date as YYYY-MM-DD, YYYY-MM or YYYY"),
    ({"date_start": "2020-02-30"}, "date_start", "Write the date as YYYY-MM-DD, YYYY-MM or YYYY"),
    ({"date_start": "2020-10", "date_precision": "day"}, "date_start", "With day precision, write the date as YYYY-MM-DD"),
    ({"civilians_killed_min": "-1"}, "civilians_killed_min", "greater than or equal to 0"),
    ({"reference_code": "has spaces"}, "reference_code", "Use letters, digits, dots, dashes and underscores"),
    ({"title": ""}, "title", "This field is required."),
    ({"place": ""}, "place", "This field is required."),
])
def test_an_invalid_incident_shows_the_error_at_its_field_and_writes_nothing(researcher_client, changes, field, message):
    response, before = post_incident(researcher_client, incident_post(**changes))

    assert response.status_code == 200
    assert message in " ".join(response.context["entry"].form.errors.get(field, []))
    assert f'id="id_{field}_error"' in response.text
    assert "Nothing was saved." in response.text
    assert rows() == before


def test_a_duplicate_reference_code_is_refused_and_writes_nothing(researcher_client):
    existing = factories.incident(reference_code="DUP-1")

    response, before = post_incident(researcher_client, incident_post(reference_code=existing.reference_code))

    assert "Another incident already has the reference code DUP-1." in response.text
    assert rows() == before


def test_a_side_contradicting_the_party_is_refused_and_writes_nothing(researcher_client):
    other_side = factories.side("Side B")

    response, before = post_incident(researcher_client, incident_post(**{"allegations-0-perpetrator_side": str(other_side.pk)}))

    errors = response.context["entry"].allegations.forms[0].errors
    assert "Party A forces is recorded on the side Side A, not Side B." in " ".join(errors["perpetrator_side"])
    assert 'id="id_allegations-0-perpetrator_side_error"' in response.text
    assert rows() == before


def test_an_allegation_without_a_citation_is_refused_and_writes_nothing(researcher_client):
    response, before = post_incident(researcher_client, incident_post(**{"allegations-0-citations-0-source": ""}))

    assert "Cite at least one source for this allegation." in response.text
    assert rows() == before


def test_an_incident_without_any_allegation_is_refused_and_writes_nothing(researcher_client):
    data = incident_post(**{"allegations-0-perpetrator": "", "allegations-0-confidence": "single_source",
                            "allegations-0-citations-0-source": ""})

    response, before = post_incident(researcher_client, data)

    assert "Record at least one allegation" in response.text
    assert rows() == before


def test_an_unknown_source_in_a_citation_is_a_field_error(researcher_client):
    response, before = post_incident(researcher_client, incident_post(**{"allegations-0-citations-0-source": "999999"}))

    assert "Select a valid choice." in response.text
    assert rows() == before


def test_a_missing_management_form_is_an_error_not_a_crash(researcher_client):
    data = incident_post()
    del data["allegations-0-citations-TOTAL_FORMS"]

    response, before = post_incident(researcher_client, data)

    assert response.status_code == 200
    assert rows() == before


def source_post(**changes):
    data = {"organization": str(factories.organization().pk), "new_organization_name": "", "new_organization_kind": "unknown",
            "title": "Report on the strike", "kind": "report", "published": "2020-10", "url": "https://example.org/r",
            "language": "en"}
    data.update(changes)
    return data


def test_a_valid_source_is_saved_with_its_partial_date_and_lowercased_scheme(researcher_client):
    before = rows()

    response = researcher_client.post(reverse("sources:create"), source_post(url="HTTPS://Example.org/r"))

    source = Source.objects.get(title="Report on the strike")
    assert response.status_code == 302
    assert (source.published_on.isoformat(), source.published_form) == ("2020-10-01", "month")
    assert source.url.startswith("https://")
    assert rows()[3] == before[3] + 1


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"url": "ftp://example.org/report.pdf"}, "url", "Give an http:// or https:// address."),
    ({"url": "javascript:alert(1)"}, "url", "Give an http:// or https:// address."),
    ({"published": "October 2020"}, "published", "Write the date as YYYY-MM-DD, YYYY-MM or YYYY"),
    ({"published": "1700"}, "published", "Write the date as YYYY-MM-DD, YYYY-MM or YYYY"),
    ({"organization": ""}, "organization", "Choose the organization that published the source"),
    ({"kind": "rumour"}, "kind", "Select a valid choice."),
])
def test_an_invalid_source_shows_the_error_at_its_field_and_writes_nothing(researcher_client, changes, field, message):
    data = source_post(**changes)
    before = rows()

    response = researcher_client.post(reverse("sources:create"), data)

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert f'id="id_{field}_error"' in response.text
    assert rows() == before


def test_a_new_organization_is_created_with_the_source(researcher_client):
    response = researcher_client.post(reverse("sources:create"), source_post(
        organization="", new_organization_name="Ministry of Defence", new_organization_kind="government",
        new_organization_is_party_affiliated="on",
    ))

    organization = Organization.objects.get(name="Ministry of Defence")
    assert response.status_code == 302
    assert organization.is_party_affiliated
    assert Source.objects.get(title="Report on the strike").organization == organization
    assert "party-affiliated" in researcher_client.get(response.url).text


def test_a_new_organization_is_not_left_behind_when_the_source_is_refused(researcher_client):
    data = source_post(organization="", new_organization_name="Ministry of Defence", url="ftp://example.org/x")
    before = rows()

    researcher_client.post(reverse("sources:create"), data)

    assert rows() == before


def test_an_organization_that_exists_cannot_be_added_again(researcher_client):
    factories.organization("Human Rights Watch")
    data = source_post(organization="", new_organization_name="human rights watch")
    before = rows()

    response = researcher_client.post(reverse("sources:create"), data)

    assert "already in the list of organizations" in response.text
    assert rows() == before


def test_editing_a_source_records_the_change(researcher_client):
    source = factories.source(title="Old title")
    before = AuditEvent.objects.count()

    response = researcher_client.post(reverse("sources:edit", args=[source.pk]), source_post(
        organization=str(source.organization_id), title="New title"))

    source.refresh_from_db()
    assert response.status_code == 302
    assert source.title == "New title"
    assert AuditEvent.objects.filter(seq__gt=before, action="source.update").count() == 1
