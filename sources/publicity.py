"""Which sources the public may read: those cited by a published, public incident (`Source.public`).

A source recorded for work still in review (a testimony, say) can name or locate a witness, so it stays private
until what cites it is published. Asking that of every source on each request (a citation, its allegation and
its incident per source) took 37 s for the source list at 10^6 incidents; the answer is kept on the source
instead, like the balance tally, and moved by the services whenever it can change: when a record incident
moves into or out of publication, or has its content replaced by an approved revision (whose old citations are
gone by then, so the service names their sources). A draft's citations never make a source public, so nothing
else can change it.
"""
from django.db.models import Exists, OuterRef

CHUNK = 500


def cited_publicly():
    """The condition, on a Source, that a published and public record incident cites it."""
    from incidents.models import Incident

    from .models import Citation

    return Exists(Citation.objects.filter(
        source=OuterRef("pk"), allegation__incident__in=Incident.objects.published().values("pk")))


def refresh(source_ids):
    """Set `public` again on these sources, from their citations as they now are."""
    from .models import Source

    source_ids = sorted(set(source_ids))
    for start in range(0, len(source_ids), CHUNK):
        Source.objects.filter(pk__in=source_ids[start:start + CHUNK]).update(public=cited_publicly())


def cited_by(incident_ids):
    """The ids of the sources these incidents' allegations cite."""
    from .models import Citation

    incident_ids, found = sorted(set(incident_ids)), set()
    for start in range(0, len(incident_ids), CHUNK):
        found.update(Citation.objects.filter(allegation__incident_id__in=incident_ids[start:start + CHUNK])
                     .values_list("source_id", flat=True))
    return found


def refresh_cited_by(incident_ids, also=()):
    """After a write of these incidents: their sources, and `also` (sources they no longer cite)."""
    refresh(cited_by(incident_ids) | set(also))
