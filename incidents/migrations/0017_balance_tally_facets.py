# The balance tally keeps its totals for single filter values too (facets), and each incident's facts instead of
# its counts. Written by hand around the generated operations: the tables are emptied first and recounted last.

from django.db import migrations, models


def empty(apps, schema_editor):
    for name in ("BalanceTally", "BalanceTallyByMonth", "IncidentTally"):
        apps.get_model("incidents", name).objects.all().delete()


def recount(apps, schema_editor):
    """Count the incidents already stored into the running totals, facets included (the joint facets are counted
    by 0022, once their keys fit)."""
    from incidents import tally

    tally.rebuild(apps, joints=())


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0016_search_vector_stored'),
    ]

    operations = [
        migrations.RunPython(empty, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='balancetally',
            name='balance_tally_one_row_per_key',
        ),
        migrations.AddField(
            model_name='balancetally',
            name='facet',
            field=models.CharField(blank=True, default='', help_text='Empty: all the allegations. Else those of one list filter\'s value (incidents.tally.facet()), e.g. weapon_category=explosive.', max_length=60),
        ),
        migrations.AddConstraint(
            model_name='balancetally',
            constraint=models.UniqueConstraint(fields=('facet', 'status', 'visibility', 'conflict_id', 'section', 'side_id', 'party_id', 'key'), name='balance_tally_one_row_per_key'),
        ),
        migrations.RemoveField(
            model_name='incidenttally',
            name='counts',
        ),
        migrations.AddField(
            model_name='incidenttally',
            name='facts',
            field=models.JSONField(default=dict, help_text="Each allegation's side, party, confidence, violation types, weapon categories and cited organizations, and the casualty figures."),
            preserve_default=False,
        ),
        migrations.RunPython(recount, migrations.RunPython.noop),
    ]
