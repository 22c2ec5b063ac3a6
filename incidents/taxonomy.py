"""Finding taxonomy entries by the names sources use, and adding new ones with an audit entry.

Names match case-insensitively, through aliases, and ignoring runs of spaces.
A Matcher loads a taxonomy once, so an import of thousands of rows asks the
database once per taxonomy, not once per row.
"""
import re

from django.db import transaction
from django.utils.text import slugify

from archive import audit

from .models import Conflict, Party, Place, Side, ViolationType, WeaponType


def key(name):
    return re.sub(r"\s+", " ", (name or "").strip()).casefold()


def unique_slug(model, text, taken=None):
    base = slugify(text)[:180] or "item"
    slug, n = base, 2
    while model.objects.filter(slug=slug).exists() or (taken is not None and slug in taken):
        slug, n = f"{base}-{n}", n + 1
    return slug


class Matcher:
    """Index of one taxonomy by name, slug and alias."""

    def __init__(self, model, names=("name",)):
        self.model = model
        self.index = {}
        for obj in model.objects.all():
            self.add(obj, names)

    def add(self, obj, names=("name",)):
        for attribute in names:
            self.index.setdefault(key(getattr(obj, attribute)), obj)
        self.index.setdefault(key(getattr(obj, "slug", "")), obj)
        for alias in getattr(obj, "alias_list", lambda: [])():
            self.index.setdefault(key(alias), obj)

    def find(self, name):
        return self.index.get(key(name))


def violation_matcher():
    return Matcher(ViolationType, names=("name", "slug"))


def split_place(text):
    """'Stepanakert (Khankendi)' -> ('Stepanakert', ['Khankendi'])."""
    match = re.match(r"^(.*?)\s*\(([^()]*)\)\s*$", text or "")
    if match and match.group(1).strip():
        return match.group(1).strip(), [match.group(2).strip()] if match.group(2).strip() else []
    return (text or "").strip(), []


def _audited_create(actor, model, via, **values):
    obj = model.objects.create(**values)
    audit.record(
        actor=actor, action=f"{model._meta.model_name}.create", target=obj,
        changes={"via": via, "after": {k: (v.pk if hasattr(v, "pk") else v) for k, v in values.items()}},
    )
    return obj


@transaction.atomic
def add_conflict(*, actor, name, via="import"):
    return _audited_create(actor, Conflict, via, name=name, slug=unique_slug(Conflict, name))


@transaction.atomic
def add_side(*, actor, name, via="import"):
    return _audited_create(actor, Side, via, name=name, slug=unique_slug(Side, name))


@transaction.atomic
def add_party(*, actor, name, side=None, via="import"):
    return _audited_create(actor, Party, via, name=name, slug=unique_slug(Party, name), side=side)


@transaction.atomic
def add_place(*, actor, name, aliases=(), admin_area="", country="", latitude=None, longitude=None,
              geo_precision="unknown", via="import"):
    return _audited_create(
        actor, Place, via, name=name, slug=unique_slug(Place, name), aliases="\n".join(aliases),
        admin_area=admin_area, country=country, latitude=latitude, longitude=longitude, geo_precision=geo_precision,
    )


@transaction.atomic
def add_weapon_type(*, actor, name, via="import", **values):
    values.setdefault("needs_curation", True)
    return _audited_create(actor, WeaponType, via, name=name, slug=unique_slug(WeaponType, name), **values)
