"""Taxonomies are curated in the admin, each write audited; incidents are only shown here.

Incidents, allegations, revisions and reviews change only through the review
workflow's services, so the admin offers them read-only.
"""
from django.contrib import admin
from django.db import transaction

from archive.admin import AuditedAdminMixin, ReadOnlyAdmin

from . import tally

from .models import (
    Allegation,
    Conflict,
    Incident,
    IncidentRevision,
    Party,
    Place,
    Review,
    Side,
    ViolationType,
    WeaponType,
)


class TaxonomyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Conflict)
class ConflictAdmin(TaxonomyAdmin):
    list_display = ["name", "started_on", "ended_on"]


@admin.register(Side)
class SideAdmin(TaxonomyAdmin):
    list_display = ["name"]


@admin.register(Party)
class PartyAdmin(TaxonomyAdmin):
    list_display = ["name", "side", "kind"]
    list_filter = ["kind", "side"]
    list_select_related = ["side"]
    search_fields = ["name", "aliases"]


@admin.register(Place)
class PlaceAdmin(TaxonomyAdmin):
    list_display = ["name", "admin_area", "country", "geo_precision"]
    list_filter = ["geo_precision", "country"]
    search_fields = ["name", "aliases", "admin_area"]
    # The database refuses coordinates out of range; these bounds say so beside the field.
    COORDINATE_BOUNDS = {"latitude": 90, "longitude": 180}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        bound = self.COORDINATE_BOUNDS.get(db_field.name)
        if bound is not None:
            kwargs.update(min_value=-bound, max_value=bound)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(WeaponType)
class WeaponTypeAdmin(TaxonomyAdmin):
    list_display = ["name", "category", "is_cluster_munition", "needs_curation"]
    list_filter = ["needs_curation", "category", "is_cluster_munition"]
    search_fields = ["name", "aliases"]

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change and tally.WEAPON_FIELDS & set(form.changed_data):
                tally.refresh_where(weapons=obj)


@admin.register(ViolationType)
class ViolationTypeAdmin(TaxonomyAdmin):
    list_display = ["name", "slug"]


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["reference_code", "title", "status", "revision", "visibility", "draft_of"]
    list_filter = ["status", "visibility"]
    search_fields = ["reference_code", "title"]
    ordering = ["-id"]


@admin.register(Allegation)
class AllegationAdmin(ReadOnlyAdmin):
    list_display = ["incident", "perpetrator", "perpetrator_side", "confidence"]
    list_select_related = ["incident", "perpetrator", "perpetrator_side"]
    ordering = ["-id"]


@admin.register(IncidentRevision)
class IncidentRevisionAdmin(ReadOnlyAdmin):
    list_display = ["incident", "number", "sha256", "submitted_by", "submitted_at"]
    list_select_related = ["incident", "submitted_by"]
    ordering = ["-submitted_at", "-id"]


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["revision", "decision", "reviewer", "created_at"]
    list_filter = ["decision"]
    list_select_related = ["revision__incident", "reviewer"]
    ordering = ["-created_at", "-id"]
