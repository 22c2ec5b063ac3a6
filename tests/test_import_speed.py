"""A large import does a fixed amount of work per incident, and leaves exactly what the services always wrote.

The importer writes allegations, links and citations in one insert per table,
new sources in one batch, and the audit entries together at the end; these
tests hold it to the audit entries, review snapshots, search text and counts
that recording each incident through the services leaves.
"""
import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from archive import audit
from archive.models import AuditEvent
from incidents import search, services, tally
from incidents.documents import data_from_incident, document_of, sha256_of
from incidents.importer import ImportFailed, import_incidents
from incidents.interchange import COLUMNS
from incidents.models import Allegation, BalanceTally, Incident, IncidentRevision, IncidentTally, IncidentText
from sources import services as source_services
from sources.models import Citation, Source
from tests import factories


def import_file(incidents, allegations, citations, prefix="IMP"):
    """Bytes of a file of `incidents` x `allegations` x `citations` rows, each row citing a new source."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for number in range(incidents):
        for allegation in range(allegations):
            for citation in range(citations):
                writer.writerow({
                    "incident_ref": f"{prefix}-{number:03d}", "title": f"Shelling {number}", "date_start": "2020-10-04",
                    "date_precision": "day", "place": "Testville", "confidence": "single_source",
                    "alleged_perpetrator": f"Party {allegation}", "perpetrator_side": "Side A",
                    "affected_party": f"Residents of block {allegation}",
                    "allegation_summary": f"Shelling {allegation}",
                    "violation_types": "indiscriminate-attack", "weapons": "Test rocket",
                    "source_organization": "Test Watch", "source_kind": "report",
                    "source_title": f"Report {prefix} {number}-{allegation}-{citation}",
                    "source_url": f"https://example.org/{prefix}/{number}/{allegation}/{citation}",
                    "citation_quote": f"quote {number} {allegation} {citation}",
                })
    return out.getvalue().encode()


@pytest.fixture
def known_names(db):
    """The taxonomy entries the files name, so that only incidents and sources are new."""
    factories.place("Testville")
    factories.organization("Test Watch")
    factories.weapon("Test rocket")
    for allegation in range(3):
        factories.party(f"Party {allegation}", "Side A")


def queries_of_import(researcher, data):
    with CaptureQueriesContext(connection) as queries:
        import_incidents(data, actor=researcher)
    return len(queries)


def test_an_import_runs_a_fixed_number_of_queries_per_incident_whatever_its_allegations_and_citations(
    researcher, known_names
):
    import_incidents(import_file(1, 1, 1, prefix="WARM"), actor=researcher)  # the importer's permissions, cached
    two = queries_of_import(researcher, import_file(2, 1, 1, prefix="A"))
    four = queries_of_import(researcher, import_file(4, 1, 1, prefix="B"))
    six = queries_of_import(researcher, import_file(6, 1, 1, prefix="C"))
    six_larger = queries_of_import(researcher, import_file(6, 3, 2, prefix="D"))

    assert six - four == four - two
    # Per incident: insert it, insert its allegations, move it to review. No savepoints: the import is one
    # transaction; links, citations, search text, contributor, snapshot and totals are written once at the end.
    assert four - two == 2 * 3
    assert six_larger == six
    assert Citation.objects.count() == 1 + 2 + 4 + 6 + 6 * 3 * 2


def test_an_import_appends_each_entry_recording_through_the_services_appends_in_order(researcher, known_names):
    start = AuditEvent.objects.order_by("-seq").first().seq

    report = import_incidents(import_file(3, 2, 2), actor=researcher, filename="three.csv")

    sources = list(Source.objects.filter(url__startswith="https://example.org/IMP/").order_by("id"))
    incidents = list(Incident.objects.filter(reference_code__startswith="IMP-").order_by("id"))
    expected = [("source.create", "sources.source", str(s.pk), "") for s in sources]
    for incident in incidents:
        scope = f"incident:{incident.pk}"
        expected += [("incident.create", "incidents.incident", str(incident.pk), scope),
                     ("incident.submit", "incidents.incident", str(incident.pk), scope)]
    expected.append(("import", "", "", ""))
    events = list(AuditEvent.objects.filter(seq__gt=start).order_by("seq"))
    assert [(e.action, e.target_type, e.target_id, e.scope) for e in events] == expected
    assert [e.seq for e in events] == list(range(start + 1, start + 1 + len(expected)))
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert report.created == [f"IMP-{n:03d}" for n in range(3)]
    first_source = events[0]
    assert first_source.actor == researcher
    assert first_source.changes == {"via": "import", "after": {
        "organization": sources[0].organization_id, "title": "Report IMP 0-0-0", "kind": "report",
        "published_on": None, "published_form": "", "url": "https://example.org/IMP/0/0/0", "language": "",
        "reliability": "",
    }}
    assert audit.verify().ok


def test_each_imported_incident_is_snapshotted_indexed_and_counted_as_stored(researcher, reviewer, known_names):
    import_incidents(import_file(3, 2, 2), actor=researcher)

    for incident in Incident.objects.for_detail().filter(reference_code__startswith="IMP-"):
        document = document_of(incident)
        revision = IncidentRevision.objects.get(incident=incident)
        created = AuditEvent.objects.get(action="incident.create", target_id=str(incident.pk))
        submitted = AuditEvent.objects.get(action="incident.submit", target_id=str(incident.pk))
        assert (incident.status, revision.number, revision.submitted_by) == ("in_review", 1, researcher)
        assert revision.document == document == created.changes["after"]
        assert revision.sha256 == sha256_of(document) == created.changes["sha256"] == submitted.changes["sha256"]
        assert incident.allegation_count == incident.allegations.count() == 2
        assert list(incident.contributors.all()) == [researcher]
        body = IncidentText.objects.get(incident=incident).body
        assert body == search.text_of(incident, data_from_incident(incident)[1])
    incident = Incident.objects.get(reference_code="IMP-001")
    revision = services.revision_in_review(incident)
    assert services.approve(actor=reviewer, incident=incident, sha256=revision.sha256).status == "published"


def test_two_names_of_one_violation_type_link_it_once(researcher, known_names):
    data = import_file(1, 1, 1).replace(b"indiscriminate-attack", b"indiscriminate-attack;Indiscriminate attack")
    assert b"Indiscriminate attack" in data

    import_incidents(data, actor=researcher)

    allegation = Allegation.objects.get(incident__reference_code="IMP-000")
    assert list(allegation.violation_types.values_list("slug", flat=True)) == ["indiscriminate-attack"]


def test_a_failed_import_leaves_no_audit_entry_and_no_source(researcher, known_names, monkeypatch):
    head, sources = audit.head(), Source.objects.count()

    def refuse(**kwargs):
        raise services.TransitionRefused("refused for the test")

    monkeypatch.setattr(services, "submit", refuse)
    with pytest.raises(ImportFailed) as failed:
        import_incidents(import_file(2, 1, 1), actor=researcher)

    assert "refused for the test" in failed.value.problems[0].message

    assert (audit.head(), Source.objects.count()) == (head, sources)


def test_a_refusal_inside_a_service_fails_the_import_with_its_message_and_writes_nothing(
    researcher, known_names, monkeypatch
):
    """The services take no savepoints inside an import: a refusal raised in one must still reach the importer
    as itself (not as a broken transaction) and roll everything back."""
    head, incidents = audit.head(), Incident.objects.count()
    monkeypatch.setattr(services, "can_edit", lambda user, incident: False)
    with pytest.raises(ImportFailed) as failed:
        import_incidents(import_file(2, 1, 1), actor=researcher)

    problem = failed.value.problems[0]
    assert (problem.line, problem.message) == (2, "IMP-000: Only the authors of this revision can submit it.")
    assert (audit.head(), Incident.objects.count()) == (head, incidents)
    assert audit.verify().ok


# Adding sources in a batch


def test_a_batch_of_sources_is_refused_with_the_error_adding_the_refused_one_alone_gives(researcher, known_names):
    organization = factories.organization("Test Watch")
    good = {"organization": organization, "title": "Fine", "kind": "report", "url": "https://example.org/fine"}
    # Only the constraint (a date needs its form) refuses this one; its fields are valid.
    bad = {"organization": organization, "title": "Dated", "kind": "report", "published_on": "2020-10-04"}
    with pytest.raises(ValidationError) as alone:
        source_services.add_source(actor=researcher, **bad)
    head, count = audit.head(), Source.objects.count()

    with pytest.raises(ValidationError) as batch:
        source_services.add_sources(actor=researcher, sources=[good, bad])

    assert batch.value.message_dict == alone.value.message_dict
    assert (audit.head(), Source.objects.count()) == (head, count)


def test_a_batch_of_sources_checks_that_each_organization_exists(researcher, known_names):
    organization = factories.organization("Test Watch")
    missing = factories.organization("Gone")
    missing.pk += 1000
    with pytest.raises(ValidationError) as alone:
        source_services.add_source(actor=researcher, organization=missing, title="Lost")

    with pytest.raises(ValidationError) as batch:
        source_services.add_sources(actor=researcher, sources=[
            {"organization": organization, "title": "Fine"}, {"organization": missing, "title": "Lost"},
        ])

    assert batch.value.message_dict == alone.value.message_dict


def tally_state():
    totals = BalanceTally.objects.exclude(n=0).values_list(
        "facet", "status", "visibility", "conflict_id", "section", "side_id", "party_id", "key", "n"
    )
    stored = IncidentTally.objects.values_list("incident_id", "status", "visibility", "conflict_id", "facts")
    return sorted(totals), sorted(stored)


def test_an_import_leaves_the_balance_tally_a_full_recount_gives(researcher, reviewer, known_names):
    import_incidents(import_file(3, 2, 2), actor=researcher)
    incident = Incident.objects.get(reference_code="IMP-001")
    services.request_changes(actor=reviewer, incident=incident, comment="Fewer allegations.")
    rows = list(csv.DictReader(io.StringIO(import_file(3, 2, 2).decode())))
    fewer = [row for row in rows if (row["incident_ref"], row["alleged_perpetrator"]) != ("IMP-001", "Party 1")]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(fewer)
    report = import_incidents(out.getvalue().encode(), actor=researcher)  # IMP-001 edited in place
    assert (report.changed, report.unchanged) == (["IMP-001"], ["IMP-000", "IMP-002"])
    assert Incident.objects.get(reference_code="IMP-001").allegation_count == 1
    after_import = tally_state()

    tally.rebuild()

    assert tally_state() == after_import
    assert any(row[1] == "in_review" for row in after_import[0])
