"""Install the violation taxonomy (shared/data/violation_types.csv as of this migration)."""
from django.db import migrations

TAXONOMY = [
    ('indiscriminate-attack', 'Indiscriminate attack', 'An attack not directed at a specific military objective, or using a method or means of combat that cannot be so directed or whose effects cannot be limited.'),
    ('cluster-munitions-populated-area', 'Use of cluster munitions in populated areas', 'Use of cluster munitions in or near concentrations of civilians; their wide-area effect and unexploded submunitions make such use indiscriminate.'),
    ('attack-on-civilian-objects', 'Attack on civilian objects', 'Directing attacks against objects that are not military objectives, such as homes, markets and infrastructure essential to civilians.'),
    ('attack-on-cultural-property', 'Attack on cultural or religious property', 'Directing attacks against buildings dedicated to religion, art, science or historic monuments that are not military objectives.'),
    ('unlawful-killing', 'Unlawful killing', 'Killing of civilians or of persons hors de combat (captured, wounded or surrendered) outside any lawful attack, including summary execution.'),
    ('ill-treatment-of-detainees', 'Ill-treatment or torture of detainees', 'Torture, cruel, inhuman or degrading treatment of prisoners of war or detained civilians, including exposure to public humiliation.'),
    ('mutilation-of-the-dead', 'Mutilation or desecration of the dead', 'Mutilation, despoiling or degrading treatment of the bodies of the dead.'),
    ('unlawful-detention', 'Unlawful detention', 'Deprivation of liberty of civilians without a lawful basis or procedural safeguards.'),
    ('enforced-disappearance', 'Enforced disappearance', "Detention followed by refusal to acknowledge it or to disclose the person's fate or whereabouts."),
    ('failure-to-take-precautions', 'Failure to take precautions against the effects of attacks', "Placing military objectives in or near densely populated areas, or otherwise failing to protect civilians under one's control from the effects of attacks."),
    ('obstruction-of-humanitarian-access', 'Obstruction of humanitarian access', 'Impeding the passage of humanitarian relief or of essential goods and services for the civilian population.'),
]


def install(apps, schema_editor):
    ViolationType = apps.get_model("incidents", "ViolationType")
    for slug, name, definition in TAXONOMY:
        ViolationType.objects.update_or_create(slug=slug, defaults={"name": name, "definition": definition})


def uninstall(apps, schema_editor):
    apps.get_model("incidents", "ViolationType").objects.filter(slug__in=[row[0] for row in TAXONOMY]).delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
