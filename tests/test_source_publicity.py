"""Which sources the public may read is kept on each source (sources.publicity), and the source list reads a
page from each organization's run of an index: both held to the plain definitions here."""
from dataclasses import replace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings
from django.urls import reverse

from incidents import services
from incidents.documents import data_from_incident, document_of, sha256_of
from incidents.models import Incident
from sources.models import Source
from sources.publicity import cited_publicly
from tests import factories


def public_by_definition():
    return set(Source.objects.filter(cited_publicly()).values_list("pk", flat=True))


def kept_public():
    return set(Source.objects.filter(public=True).values_list("pk", flat=True))


def revise(actor, reviewer, incident, sources=None, **fields):
    """A new revision of a published incident, citing `sources` in its one allegation if given, approved."""
    current = Incident.objects.for_detail().get(pk=incident.pk)
    values, allegations = data_from_incident(current)
    if sources is not None:
        allegations = [replace(allegations[0], citations=[factories.CitationData(source=source, quote="q")
                                                           for source in sources])]
    copy = services.edit_incident(actor=actor, incident=current, fields={**values, **fields},
                                  allegations=allegations, base_sha256=sha256_of(document_of(current)))
    revision = services.submit(actor=actor, incident=copy)
    return services.approve(actor=reviewer, incident=Incident.objects.get(pk=copy.pk), sha256=revision.sha256)


def cites(*sources):
    """One allegation citing these sources."""
    return [replace(factories.allegation(citations=0),
                    citations=[factories.CitationData(source=source, quote="q") for source in sources])]


def test_a_source_is_public_exactly_while_a_published_public_incident_cites_it(researcher, reviewer):
    first, second, shared, unused = (factories.source(title=title) for title in ("First", "Second", "Shared", "Unused"))
    draft = factories.incident(author=researcher, allegations=cites(first, shared))
    assert kept_public() == public_by_definition() == set()  # a draft makes nothing public

    revision = services.submit(actor=researcher, incident=draft)
    published = services.approve(actor=reviewer, incident=Incident.objects.get(pk=draft.pk), sha256=revision.sha256)
    assert kept_public() == public_by_definition() == {first.pk, shared.pk}

    other = factories.published_incident(author=researcher, approver=reviewer, allegations=cites(shared))
    revise(researcher, reviewer, published, sources=[second])  # the old citations are gone with the revision
    assert kept_public() == public_by_definition() == {second.pk, shared.pk}

    revise(researcher, reviewer, published, visibility="restricted")
    assert kept_public() == public_by_definition() == {shared.pk}

    services.withdraw(actor=reviewer, incident=Incident.objects.get(pk=other.pk), reason="Sources retracted.")
    assert kept_public() == public_by_definition() == set()
    assert unused.pk not in kept_public()


def test_the_synthetic_archive_keeps_it_too(db):
    from django.core.management import call_command

    call_command("synth", incidents=60, seed=3, verbosity=0)
    assert kept_public() == public_by_definition() != set()
    assert Source.objects.filter(public=False).exists()  # synth also writes unpublished incidents


def test_the_public_reads_only_public_sources_and_staff_all(researcher, reviewer, client):
    cited = factories.source(title="Cited in public")
    hidden = factories.source(title="Cited by a draft only")
    factories.published_incident(author=researcher, approver=reviewer, allegations=cites(cited))
    factories.incident(author=researcher, allegations=cites(hidden))
    page = client.get(reverse("sources:list")).content.decode()
    assert "Cited in public" in page and "Cited by a draft only" not in page
    assert client.get(reverse("sources:detail", args=[hidden.pk])).status_code == 404
    client.force_login(researcher)
    page = client.get(reverse("sources:list")).content.decode()
    assert "Cited in public" in page and "Cited by a draft only" in page


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 50])
def test_the_source_list_pages_through_every_source_in_organization_then_date_order(researcher, reviewer, client,
                                                                                      page_size):
    import datetime

    sources = []
    for index, org in enumerate(["Zeta Monitor", "Alpha Watch", "Mid Institute", "Alpha Watch", "Zeta Monitor",
                                 "Alpha Watch", "Beta Media"]):
        day = None if index == 3 else datetime.date(2020, 1 + index, 1)
        sources.append(factories.source(org=org, title=f"Doc {index}", published_on=day,
                                        published_form="day" if day else ""))
    factories.published_incident(author=researcher, approver=reviewer, allegations=cites(*sources[:6]))
    expected = list(Source.objects.visible_to(AnonymousUser()).order_by(
        "organization__name", "-published_on", "id").values_list("pk", flat=True))
    assert len(expected) == 6
    seen, number = [], 1
    with override_settings(ARCHIVE_PAGE_SIZE=page_size):
        while True:
            response = client.get(reverse("sources:list"), {"page": number})
            page = response.context["page_obj"]
            seen += [source.pk for source in page.object_list]
            assert page.paginator.count == 6
            if not page.has_next():
                break
            number += 1
    assert seen == expected


def test_the_list_names_the_first_citing_incidents_and_counts_the_rest(researcher, reviewer, client):
    from sources.querysets import CITED_SHOWN

    report = factories.source(title="Much cited report")
    codes = [f"CITE-{number:02d}" for number in range(CITED_SHOWN + 3)]
    for code in reversed(codes):
        factories.published_incident(author=researcher, approver=reviewer, reference_code=code,
                                     allegations=cites(report) * 2)  # two allegations: one incident
    factories.incident(author=researcher, reference_code="CITE-DRAFT", allegations=cites(report))
    page = client.get(reverse("sources:list")).content.decode()
    assert [code for code in codes if f">{code}</a>" in page] == codes[:CITED_SHOWN]
    assert f'<a href="{reverse("sources:detail", args=[report.pk])}">and 3 more</a>' in page
    assert "CITE-DRAFT" not in page
    client.force_login(researcher)
    assert "and 4 more" in client.get(reverse("sources:list")).content.decode()


def test_a_sources_page_lists_its_citing_incidents_newest_first_a_page_at_a_time(researcher, reviewer, client):
    import datetime

    report = factories.source(title="Long-cited report")
    for month in range(1, 6):
        day = datetime.date(2021, month, 1)
        factories.published_incident(author=researcher, approver=reviewer, reference_code=f"M{month}",
                                     date_start=day, date_end=day, allegations=cites(report))
    factories.published_incident(author=researcher, approver=reviewer, reference_code="UNDATED", date_start=None,
                                 date_end=None, date_precision="unknown", allegations=cites(report))
    seen = []
    with override_settings(ARCHIVE_PAGE_SIZE=4):
        for number in (1, 2):
            response = client.get(reverse("sources:detail", args=[report.pk]), {"page": number})
            seen += [incident.reference_code for incident in response.context["incidents"]]
        assert 'rel="next"' in client.get(reverse("sources:detail", args=[report.pk])).content.decode()
    assert seen == ["M5", "M4", "M3", "M2", "M1", "UNDATED"]


def test_a_sources_page_counts_each_citing_incident_once(researcher, reviewer, client):
    """An incident citing the source in two allegations, twice in one, is one incident on its page and in the
    number of pages; an incident the reader cannot see is not counted."""
    report = factories.source(title="Report cited twice in some incidents")
    for number in range(5):
        factories.published_incident(author=researcher, approver=reviewer, reference_code=f"TWICE-{number}",
                                     allegations=cites(report, report) + cites(report))
    factories.incident(author=researcher, reference_code="TWICE-DRAFT", allegations=cites(report))
    with override_settings(ARCHIVE_PAGE_SIZE=2):
        response = client.get(reverse("sources:detail", args=[report.pk]), {"page": 3})
    page = response.context["page_obj"]
    assert (page.number, page.paginator.count, page.paginator.num_pages) == (3, 5, 3)
    assert [incident.reference_code for incident in response.context["incidents"]] == ["TWICE-0"]
    assert "Page 3 of 3" in response.content.decode()


@pytest.mark.parametrize("asked, shown", [("9", 3), ("0", 3), ("-1", 3), ("two", 1), ("2.5", 1), ("", 1)])
def test_a_sources_page_past_either_end_shows_the_last_page_and_not_a_number_the_first(
        researcher, reviewer, client, asked, shown):
    """As Django's Paginator.get_page() does for the other lists."""
    report = factories.source(title="Report of five incidents")
    for number in range(5):
        factories.published_incident(author=researcher, approver=reviewer, reference_code=f"FIVE-{number}",
                                     allegations=cites(report))
    with override_settings(ARCHIVE_PAGE_SIZE=2):
        response = client.get(reverse("sources:detail", args=[report.pk]), {"page": asked})
    page = response.context["page_obj"]
    assert (page.number, page.paginator.num_pages) == (shown, 3)
    assert len(response.context["incidents"]) == (1 if shown == 3 else 2)


def test_a_source_nothing_cites_yet_has_one_empty_page(researcher_client):
    report = factories.source(title="Report not cited yet")
    for asked in ("1", "4"):
        response = researcher_client.get(reverse("sources:detail", args=[report.pk]), {"page": asked})
        page = response.context["page_obj"]
        assert (page.number, page.paginator.count, page.paginator.num_pages) == (1, 0, 1)
        assert "No incident you can see cites this source." in response.content.decode()
