"""Every invariant is enforced by the database itself, not only by forms and services.

Each case writes a row straight through the ORM (skipping model validation)
and expects the database to refuse it.
"""
import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.models import (
    Allegation,
    Conflict,
    Incident,
    IncidentRevision,
    Party,
    Place,
    Review,
    WeaponType,
)
from sources.models import Citation, Organization, Source
from tests import factories


def incident_row(**overrides):
    values = {
        "reference_code": "DB-0001",
        "title": "t",
        "date_start": datetime.date(2020, 10, 1),
        "date_end": datetime.date(2020, 10, 2),
        "date_precision": "day",
        "place": factories.place(),
        "created_by": factories.system_user(),
    }
    values.update(overrides)
    return Incident.objects.create(**values)


INCIDENT_VIOLATIONS = {
    "killed min above max": {"civilians_killed_min": 5, "civilians_killed_max": 2},
    "injured min above max": {"civilians_injured_min": 9, "civilians_injured_max": 1},
    "negative killed": {"civilians_killed_min": -1},
    "negative injured max": {"civilians_injured_max": -3},
    "end before start": {"date_start": datetime.date(2020, 10, 5), "date_end": datetime.date(2020, 10, 4)},
    "no start date without unknown precision": {"date_start": None, "date_end": None, "date_precision": "day"},
    "end date without a start": {"date_start": None, "date_end": datetime.date(2020, 1, 1), "date_precision": "unknown"},
    "unknown status": {"status": "approved"},
    "unknown visibility": {"visibility": "secret"},
    "unknown date precision": {"date_precision": "week"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("overrides", INCIDENT_VIOLATIONS.values(), ids=INCIDENT_VIOLATIONS.keys())
def test_the_database_refuses_an_invalid_incident(overrides):
    with pytest.raises(IntegrityError), transaction.atomic():
        incident_row(**overrides)


@pytest.mark.django_db
def test_a_valid_incident_row_is_accepted_so_the_refusals_above_are_meaningful():
    incident_row(civilians_killed_min=0, civilians_killed_max=0, date_start=None, date_end=None, date_precision="unknown")
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_reference_codes_are_unique_among_records():
    incident_row()
    with pytest.raises(IntegrityError), transaction.atomic():
        incident_row()


@pytest.mark.django_db
def test_a_working_revision_shares_its_originals_reference_code_but_is_never_published():
    original = incident_row(status="published")
    incident_row(draft_of=original)
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(draft_of=original).update(status="published")
    with pytest.raises(IntegrityError), transaction.atomic():
        incident_row(draft_of=original)


PLACE_VIOLATIONS = {
    "latitude without longitude": {"latitude": Decimal("40.1")},
    "longitude without latitude": {"longitude": Decimal("46.1")},
    "latitude 91": {"latitude": Decimal("91"), "longitude": Decimal("0")},
    "latitude -90.5": {"latitude": Decimal("-90.5"), "longitude": Decimal("0")},
    "longitude -181": {"latitude": Decimal("0"), "longitude": Decimal("-181")},
    "unknown geo precision": {"geo_precision": "street"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("overrides", PLACE_VIOLATIONS.values(), ids=PLACE_VIOLATIONS.keys())
def test_the_database_refuses_an_invalid_place(overrides):
    with pytest.raises(IntegrityError), transaction.atomic():
        Place.objects.create(name="P", slug="p", **overrides)


@pytest.mark.django_db
def test_place_names_are_unique_within_an_admin_area():
    Place.objects.create(name="Aghdam", slug="aghdam", admin_area="Aghdam district")
    Place.objects.create(name="Aghdam", slug="aghdam-2", admin_area="Other district")
    with pytest.raises(IntegrityError), transaction.atomic():
        Place.objects.create(name="Aghdam", slug="aghdam-3", admin_area="Aghdam district")


def source_row(**overrides):
    values = {"organization": factories.organization(), "title": "r", "kind": "report", "created_by": factories.system_user()}
    values.update(overrides)
    return Source.objects.create(**values)


SOURCE_VIOLATIONS = {
    "javascript url": {"url": "javascript:alert(1)"},
    "data url": {"url": "data:text/html,hi"},
    "ftp url": {"url": "ftp://example.org/report.pdf"},
    "unknown kind": {"kind": "rumour"},
    "date without its precision": {"published_on": datetime.date(2020, 1, 1)},
    "precision without a date": {"published_form": "day"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("overrides", SOURCE_VIOLATIONS.values(), ids=SOURCE_VIOLATIONS.keys())
def test_the_database_refuses_an_invalid_source(overrides):
    with pytest.raises(IntegrityError), transaction.atomic():
        source_row(**overrides)


@pytest.mark.django_db
def test_http_and_https_sources_are_accepted():
    source_row(url="http://example.org/a")
    source_row(url="https://example.org/b", published_on=datetime.date(2020, 10, 1), published_form="month")
    assert Source.objects.count() == 2


@pytest.mark.django_db
def test_choice_fields_of_the_other_models_are_checked_by_the_database():
    incident = factories.incident()
    allegation = incident.allegations.get()
    cases = [
        lambda: Allegation.objects.filter(pk=allegation.pk).update(confidence="certain"),
        lambda: Citation.objects.filter(allegation=allegation).update(stance="maybe"),
        lambda: Organization.objects.create(name="X", slug="x", kind="blog"),
        lambda: WeaponType.objects.create(name="W", slug="w", category="laser"),
        lambda: WeaponType.objects.create(name="W2", slug="w2", is_cluster_munition="perhaps"),
        lambda: Party.objects.create(name="P", slug="p", kind="militia-ish"),
        lambda: Conflict.objects.create(
            name="C", slug="c", started_on=datetime.date(2020, 2, 1), ended_on=datetime.date(2020, 1, 1)
        ),
    ]
    for case in cases:
        with pytest.raises(IntegrityError), transaction.atomic():
            case()


@pytest.mark.django_db
def test_the_database_refuses_self_approval_and_a_second_approval(reviewer, other_reviewer):
    incident = factories.incident()
    revision = IncidentRevision.objects.create(
        incident=incident, number=1, document={}, sha256="0" * 64,
        submitted_by=reviewer, submitted_at=timezone.now(),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(revision=revision, reviewer=reviewer, submitted_by=reviewer,
                              decision="approve", created_at=timezone.now())
    Review.objects.create(revision=revision, reviewer=other_reviewer, submitted_by=reviewer,
                          decision="approve", created_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(revision=revision, reviewer=factories.user("third", role="reviewer"),
                              submitted_by=reviewer, decision="approve", created_at=timezone.now())
