"""Full-text search finds the same incidents on SQLite (FTS5) and PostgreSQL (tsvector)."""
import pytest

from incidents import search
from incidents.models import Incident
from tests import factories


@pytest.fixture
def incidents(db, researcher):
    scud = factories.incident(author=researcher, title="Missile strike on Ganja", summary="A Scud-B missile hit homes.")
    quote = factories.allegation()
    quote.citations = [factories.CitationData(source=factories.source(title="Ganja report"), quote="fragments of a 9M55 rocket")]
    rocket = factories.incident(author=researcher, title="Shelling of Stepanakert", allegations=[quote])
    other = factories.incident(author=researcher, title="Detention of a border guard", summary="100% certain_ly")
    return {"scud": scud, "rocket": rocket, "other": other}


def found(query):
    return set(search.search(Incident.objects.all(), query).values_list("pk", flat=True))


def test_words_in_titles_summaries_and_quotes_are_found(incidents):
    assert found("scud") == {incidents["scud"].pk}
    assert found("SCUD-B missile") == {incidents["scud"].pk}
    assert found("9M55") == {incidents["rocket"].pk}
    assert found("ganja") == {incidents["scud"].pk, incidents["rocket"].pk}


def test_every_word_must_match(incidents):
    assert found("ganja rocket") == {incidents["rocket"].pk}
    assert found("scud stepanakert") == set()


@pytest.mark.parametrize("query", ["%", "_", "' OR 1=1 --", '"', "*", "scud*", "NEAR(a b)", "a:b", ""])
def test_operators_and_wildcards_are_never_interpreted(incidents, query):
    result = found(query)
    assert result <= {incidents["scud"].pk}
    assert incidents["other"].pk not in result


def test_an_edit_updates_the_index(incidents, researcher):
    from incidents import services
    from incidents.documents import data_from_incident, document_of, sha256_of

    incident = Incident.objects.for_detail().get(pk=incidents["other"].pk)
    fields, allegations = data_from_incident(incident)
    fields["title"] = "Detention of a shepherd"
    services.edit_incident(actor=researcher, incident=incident, fields=fields, allegations=allegations,
                           base_sha256=sha256_of(document_of(incident)))
    assert found("shepherd") == {incident.pk}
    assert found("guard") == set()
