"""Organizations are curated in the admin, each write audited; sources and citations are only shown here."""
from django.contrib import admin
from django.db import models

from archive.admin import AuditedAdminMixin, ReadOnlyAdmin

from .models import Citation, Organization, Source


@admin.register(Organization)
class OrganizationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "is_party_affiliated"]
    list_filter = ["kind", "is_party_affiliated"]
    search_fields = ["name", "affiliation"]
    prepopulated_fields = {"slug": ["name"]}
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


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
