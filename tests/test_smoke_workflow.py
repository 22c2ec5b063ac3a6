from archive import audit
from incidents.models import Incident
from tests import factories


def test_a_recorded_incident_is_published_only_after_approval(researcher, reviewer):
    record = factories.incident(author=researcher)
    assert not Incident.objects.published().exists()
    revision = factories.services.submit(actor=researcher, incident=record)
    factories.services.approve(actor=reviewer, incident=record, sha256=revision.sha256)
    assert list(Incident.objects.published()) == [record]
    assert audit.verify().ok
