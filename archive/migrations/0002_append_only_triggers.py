from django.db import migrations


def create_triggers(apps, schema_editor):
    from archive import triggers

    triggers.create(schema_editor.connection)


def drop_triggers(apps, schema_editor):
    from archive import triggers

    triggers.drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial")]
    operations = [migrations.RunPython(create_triggers, drop_triggers)]
