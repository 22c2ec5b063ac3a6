"""Organizations are curated in the admin, each write audited; sources and citations are only shown here."""
from django.contrib import admin
from django.db import models, transaction

from archive.admin import AuditedAdminMixin, ReadOnlyAdmin

from . import services
from .models import Citation, Organization, Source


@admin.register(Organization)
class OrganizationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "is_party_affiliated"]
    list_filter = ["kind", "is_party_affiliated"]
    search_fields = ["name", "affiliation"]
    prepopulated_fields = {"slug": ["name"]}
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change and {"kind", "is_party_affiliated"} & set(form.changed_data):
                services.organization_reclassified.send(sender=Organization, organization=obj)


@admin.register(Source)
class SourceAdmin(ReadOnlyAdmin):
    list_display = ["title", "organization", "kind", "published_on"]
    list_filter = ["kind"]
    list_select_related = ["organization"]
    search_fields = ["title", "url"]


@admin.register(Citation)
class CitationAdmin(ReadOnlyAdmin):
    list_display = ["source", "allegation", "stance", "locator"]
    list_select_related = ["source__organization", "allegation"]
    ordering = ["-id"]
