"""The synthetic data generator: realistic shape, marked synthetic, never mixed with real data."""
import pytest
from django.core.management import CommandError, call_command

from archive import audit
from archive.models import AuditEvent
from incidents.models import Allegation, Incident
from sources.models import Citation
from tests import factories


@pytest.mark.django_db
def test_synth_writes_marked_incidents_with_allegations_citations_and_audit_entries():
    call_command("synth", "--incidents", "60", "--seed", "3", "--batch", "25")
    incidents = Incident.objects.all()
    assert incidents.count() == 60
    assert all(code.startswith("SYN-") for code in incidents.values_list("reference_code", flat=True))
    assert all("[synthetic]" in title for title in incidents.values_list("title", flat=True))
    per_incident = [i.allegations.count() for i in incidents]
    assert min(per_incident) >= 1 and max(per_incident) <= 4
    per_allegation = [a.citations.count() for a in Allegation.objects.all()]
    assert min(per_allegation) >= 1 and max(per_allegation) <= 5
    assert AuditEvent.objects.filter(action="incident.create").count() == 60
    assert Incident.objects.published().count() > 40
    assert audit.verify().ok


@pytest.mark.django_db
def test_synth_is_reproducible_from_its_seed():
    call_command("synth", "--incidents", "20", "--seed", "9")
    first = list(Incident.objects.order_by("pk").values_list("title", "date_start", "civilians_killed_min"))
    Citation.objects.all().delete()
    Allegation.objects.all().delete()
    Incident.objects.all().delete()
    call_command("synth", "--incidents", "20", "--seed", "9")
    assert list(Incident.objects.order_by("pk").values_list("title", "date_start", "civilians_killed_min")) == first


@pytest.mark.django_db
def test_synth_refuses_a_database_with_real_incidents():
    factories.incident(reference_code="AZF-2020-01")
    with pytest.raises(CommandError, match="real incidents"):
        call_command("synth", "--incidents", "5")
    assert not Incident.objects.filter(reference_code__startswith="SYN-").exists()


@pytest.mark.django_db
def test_synth_leaves_the_balance_totals_equal_to_a_recount(monkeypatch):
    from incidents import synthetic
    from tests.test_balance_tally import recounted

    # Totals moved once per 40 incidents, in batches of 25: a group ends inside a batch, and the last is short.
    monkeypatch.setattr(synthetic, "TALLY_EVERY", 40)
    call_command("synth", "--incidents", "90", "--seed", "4", "--batch", "25")
    before, after = recounted()
    assert before == after and before
