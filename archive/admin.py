"""Admin pieces shared by the apps: every write made in the admin lands in the audit log.

Taxonomy admins use `AuditedAdminMixin`; incidents, sources, reviews and the
log itself are shown read-only, because they are written only by services.
"""
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.db import connection, transaction

from . import audit
from .models import AuditEvent
from .throttle import ThrottledAdminAuthenticationForm

# The admin's sign-in page is throttled like the site's (archive.throttle).
admin.site.login_form = ThrottledAdminAuthenticationForm


SECRET_FIELDS = {"password"}


def field_values(obj):
    """The stored value of each concrete field except the primary key (foreign keys by id).

    Secrets are replaced by a digest-free marker, so the log says that a password
    changed without keeping its hash.
    """
    return {
        f.attname: ("(set)" if f.value_from_object(obj) else "") if f.attname in SECRET_FIELDS
        else f.value_from_object(obj)
        for f in obj._meta.concrete_fields if not f.primary_key
    }


def _related_names(obj, name):
    return sorted(str(item) for item in getattr(obj, name).all()) if obj.pk else []


class AuditedAdminMixin:
    """Wraps the admin's writes so that each adds, changes or deletes with its audit entry, in one transaction."""

    def _record(self, request, obj, verb, changes):
        audit.record(
            actor=request.user, action=f"{obj._meta.model_name}.admin_{verb}", target=obj,
            changes={"via": "admin", **changes},
        )

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            before = field_values(type(obj)._default_manager.select_for_update().get(pk=obj.pk)) if change else {}
            super().save_model(request, obj, form, change)
            after = field_values(obj)
            if not change:
                self._record(request, obj, "add", {"after": after})
                return
            changed = {name: [before[name], value] for name, value in after.items() if before[name] != value}
            if changed:
                self._record(request, obj, "change", {"changed": changed})

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._record(request, obj, "delete", {"before": field_values(obj)})
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self._record(request, obj, "delete", {"before": field_values(obj)})
            super().delete_queryset(request, queryset)


class AuditedRelationsMixin(AuditedAdminMixin):
    """Also records many-to-many changes (a user's roles, a role's permissions), saved after the object."""

    audited_relations = ()

    def save_related(self, request, form, formsets, change):
        obj = form.instance
        before = {name: _related_names(obj, name) for name in self.audited_relations}
        super().save_related(request, form, formsets, change)
        changed = {}
        for name in self.audited_relations:
            after = _related_names(obj, name)
            if after != before[name]:
                changed[name] = [before[name], after]
        if changed:
            self._record(request, obj, "relations", {"changed": changed})


class AuditedUserAdmin(AuditedRelationsMixin, UserAdmin):
    audited_relations = ("groups", "user_permissions")


class AuditedGroupAdmin(AuditedRelationsMixin, GroupAdmin):
    audited_relations = ("permissions",)


admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, AuditedGroupAdmin)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records written only through the application's services (and so its audit log)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def distinct_values(model, column):
    """The distinct values of an indexed column, one index seek each (a loose index scan): SELECT DISTINCT read
    every row of the audit log, 0.6 s a column at 1.3 million entries."""
    table, name = (connection.ops.quote_name(part) for part in (model._meta.db_table, column))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE found (value) AS (SELECT MIN({name}) FROM {table} UNION ALL "
            f"SELECT (SELECT MIN({name}) FROM {table} WHERE {name} > found.value) FROM found "
            f"WHERE found.value IS NOT NULL) SELECT value FROM found WHERE value IS NOT NULL"
        )
        return [value for (value,) in cursor.fetchall()]


class IndexedValuesFilter(admin.SimpleListFilter):
    """A filter of a column's values, listed from its index (`distinct_values()`)."""

    def lookups(self, request, model_admin):
        return [(value, value or "(none)") for value in distinct_values(model_admin.model, self.parameter_name)]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(**{self.parameter_name: value})


class ActionFilter(IndexedValuesFilter):
    title, parameter_name = "action", "action"


class TargetTypeFilter(IndexedValuesFilter):
    title, parameter_name = "target type", "target_type"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["seq", "at", "actor_name", "action", "target_type", "target_id", "scope"]
    list_filter = [ActionFilter, TargetTypeFilter]
    search_fields = ["actor_name", "target_repr", "scope", "=target_id"]
    ordering = ["-seq"]
    show_full_result_count = False
    fields = ["seq", "at", "actor_name", "action", "target_type", "target_id", "target_repr", "scope",
              "changes", "prev_hash", "hash"]
