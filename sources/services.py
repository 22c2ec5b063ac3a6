"""Writes to organizations and sources, each with its audit entry."""
from django.db import transaction
from django.utils.text import slugify

from archive import audit

from .models import Organization, Source

SOURCE_FIELDS = ["organization", "title", "kind", "published_on", "published_form", "url", "language"]


class SourceError(Exception):
    status = 400

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _values(source):
    return {
        name: (getattr(source, name).pk if name == "organization" else getattr(source, name))
        for name in SOURCE_FIELDS
    }


def _unique_slug(name):
    base = slugify(name)[:180] or "organization"
    slug, n = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def add_organization(*, actor, name, kind="unknown", is_party_affiliated=False, via="form"):
    organization = Organization.objects.create(
        name=name.strip(), slug=_unique_slug(name), kind=kind, is_party_affiliated=is_party_affiliated
    )
    audit.record(
        actor=actor, action="organization.create", target=organization,
        changes={"via": via, "after": {"name": organization.name, "kind": kind, "is_party_affiliated": is_party_affiliated}},
    )
    return organization


@transaction.atomic
def add_source(*, actor, via="form", **values):
    source = Source(created_by=actor, **values)
    source.full_clean()
    source.save()
    audit.record(actor=actor, action="source.create", target=source, changes={"via": via, "after": _values(source)})
    return source


@transaction.atomic
def edit_source(*, actor, source, **values):
    source = Source.objects.select_for_update().get(pk=source.pk)
    before = _values(source)
    for name, value in values.items():
        setattr(source, name, value)
    source.full_clean()
    after = _values(source)
    if after == before:
        return source
    source.save()
    changed = {name: [before[name], after[name]] for name in SOURCE_FIELDS if before[name] != after[name]}
    audit.record(actor=actor, action="source.update", target=source, changes={"changed": changed})
    return source
