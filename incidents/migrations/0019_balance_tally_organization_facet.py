# The balance tally keeps the totals of one reporting organization's allegations too (the facet
# "organization=<id>"): counted here from the facts each incident already stores.

from django.db import migrations


def count_organizations(apps, schema_editor):
    from incidents import tally

    tally.add_facets(["organization"], apps)


def drop_organizations(apps, schema_editor):
    apps.get_model("incidents", "BalanceTally").objects.filter(facet__startswith="organization=").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0018_review_queue_index'),
    ]

    operations = [
        migrations.RunPython(count_organizations, drop_organizations),
    ]
