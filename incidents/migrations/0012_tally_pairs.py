from django.db import migrations


def recount(apps, schema_editor):
    """The tally now also keeps casualties per side and party pair: count the archive again."""
    from incidents import tally

    tally.rebuild(apps)


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0011_list_index_with_id"),
    ]

    operations = [
        migrations.RunPython(recount, migrations.RunPython.noop),
    ]
