"""Create the roles as groups with permissions."""
from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "researcher": [
        "incidents.add_incident", "incidents.change_incident", "incidents.view_incident",
        "incidents.view_restricted",
        "incidents.add_allegation", "incidents.change_allegation", "incidents.view_allegation",
        "sources.add_source", "sources.change_source", "sources.view_source",
        "sources.add_citation", "sources.change_citation", "sources.view_citation",
        "sources.view_organization", "incidents.view_party", "incidents.view_place",
        "incidents.view_weapontype", "incidents.view_violationtype", "incidents.view_side",
        "incidents.view_conflict",
    ],
    "reviewer": [
        "incidents.review_incident", "incidents.view_incident", "incidents.view_restricted",
        "incidents.view_allegation", "sources.view_source", "sources.view_citation",
        "sources.view_organization",
    ],
    "administrator": [
        f"{app}.{action}_{model}"
        for app, model in [
            ("incidents", "conflict"), ("incidents", "side"), ("incidents", "party"), ("incidents", "place"),
            ("incidents", "weapontype"), ("incidents", "violationtype"), ("sources", "organization"),
        ]
        for action in ("add", "change", "view")
    ] + ["auth.add_user", "auth.change_user", "auth.view_user", "auth.view_group",
         "incidents.view_incident", "incidents.view_restricted", "archive.view_auditevent"],
}


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0002_violation_taxonomy"),
        ("sources", "0001_initial"),
        ("archive", "0002_append_only_triggers"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
