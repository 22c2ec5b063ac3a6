"""Plain functions that build valid objects through the service layer."""
import datetime
import itertools

from django.contrib.auth.models import Group, User

from incidents import services, taxonomy
from incidents.documents import AllegationData, CitationData
from incidents.models import Incident, Party, Place, Side, ViolationType, WeaponType
from sources import services as source_services
from sources.models import Organization

_counter = itertools.count(1)


def user(username, role=None, password="correct horse battery staple"):
    account = User.objects.create_user(username=username, password=password)
    if role:
        account.groups.add(Group.objects.get(name=role))
    return account


def system_user():
    account, _ = User.objects.get_or_create(username="factory", defaults={"is_active": True})
    if not account.groups.filter(name="researcher").exists():
        account.groups.add(Group.objects.get(name="researcher"))
    return account


def side(name="Side A"):
    return Side.objects.filter(name=name).first() or taxonomy.add_side(actor=system_user(), name=name, via="test")


def party(name="Party A forces", side_name="Side A"):
    return Party.objects.filter(name=name).first() or taxonomy.add_party(
        actor=system_user(), name=name, side=side(side_name), via="test"
    )


def place(name="Testville", **values):
    return Place.objects.filter(name=name).first() or taxonomy.add_place(actor=system_user(), name=name, via="test", **values)


def weapon(name="Test rocket", **values):
    values.setdefault("needs_curation", False)
    return WeaponType.objects.filter(name=name).first() or taxonomy.add_weapon_type(
        actor=system_user(), name=name, via="test", **values
    )


def organization(name="Test Watch", **values):
    return Organization.objects.filter(name=name).first() or source_services.add_organization(
        actor=system_user(), name=name, via="test", **values
    )


def source(org="Test Watch", title=None, **values):
    values.setdefault("kind", "report")
    return source_services.add_source(
        actor=system_user(), organization=organization(org), title=title or f"Report {next(_counter)}", via="test", **values
    )


def allegation(perpetrator="Party A forces", side_name="Side A", citations=1, violation="indiscriminate-attack", weapons=(), **values):
    return AllegationData(
        perpetrator=party(perpetrator, side_name) if perpetrator else None,
        perpetrator_side=side(side_name) if side_name else None,
        violation_types=[ViolationType.objects.get(slug=violation)] if violation else [],
        weapons=[weapon(name) for name in weapons],
        citations=[CitationData(source=source(), quote=f"quote {i}") for i in range(citations)],
        **values,
    )


def incident_fields(**overrides):
    fields = {
        "reference_code": f"TEST-{next(_counter):04d}",
        "conflict": None,
        "title": "Shelling of a market",
        "summary": "",
        "date_start": datetime.date(2020, 10, 4),
        "date_end": datetime.date(2020, 10, 4),
        "date_precision": "day",
        "place": place(),
        "location_detail": "",
        "civilians_killed_min": None,
        "civilians_killed_max": None,
        "civilians_injured_min": None,
        "civilians_injured_max": None,
        "visibility": "public",
    }
    fields.update(overrides)
    return fields


def incident(author=None, allegations=None, **overrides):
    author = author or system_user()
    return services.record_incident(
        actor=author,
        fields=incident_fields(**overrides),
        allegations=allegations if allegations is not None else [allegation()],
        via="test",
    )


def published_incident(author=None, approver=None, **overrides):
    author = author or system_user()
    record = incident(author=author, **overrides)
    revision = services.submit(actor=author, incident=record)
    approver = approver or User.objects.filter(username="factory-reviewer").first() or user("factory-reviewer", role="reviewer")
    return services.approve(actor=approver, incident=Incident.objects.get(pk=record.pk), sha256=revision.sha256)
