"""Full-text search over incidents: FTS5 on SQLite, tsvector with a GIN index on PostgreSQL.

Both split the query into plain words and require every word, without
stemming, so a plain-word query finds the same incidents on either database.
Punctuation and wildcard characters (%, _, *, quotes) are never operators.
"""
import re

from django.db import connection
from django.db.models.expressions import RawSQL

from .documents import data_from_incident
from .models import IncidentText

WORD = re.compile(r"[^\W_]+")

SQLITE_SETUP = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS incidents_text_fts USING fts5(
         body, content='incidents_incidenttext', content_rowid='incident_id',
         tokenize="unicode61 remove_diacritics 0")""",
    """CREATE TRIGGER IF NOT EXISTS incidents_text_ai AFTER INSERT ON incidents_incidenttext BEGIN
         INSERT INTO incidents_text_fts(rowid, body) VALUES (new.incident_id, new.body); END""",
    """CREATE TRIGGER IF NOT EXISTS incidents_text_ad AFTER DELETE ON incidents_incidenttext BEGIN
         INSERT INTO incidents_text_fts(incidents_text_fts, rowid, body) VALUES ('delete', old.incident_id, old.body); END""",
    """CREATE TRIGGER IF NOT EXISTS incidents_text_au AFTER UPDATE ON incidents_incidenttext BEGIN
         INSERT INTO incidents_text_fts(incidents_text_fts, rowid, body) VALUES ('delete', old.incident_id, old.body);
         INSERT INTO incidents_text_fts(rowid, body) VALUES (new.incident_id, new.body); END""",
]
SQLITE_TEARDOWN = [
    "DROP TRIGGER IF EXISTS incidents_text_ai",
    "DROP TRIGGER IF EXISTS incidents_text_ad",
    "DROP TRIGGER IF EXISTS incidents_text_au",
    "DROP TABLE IF EXISTS incidents_text_fts",
]
POSTGRES_SETUP = [
    "CREATE INDEX IF NOT EXISTS incidents_text_tsv ON incidents_incidenttext USING GIN (to_tsvector('simple', body))",
]
POSTGRES_TEARDOWN = ["DROP INDEX IF EXISTS incidents_text_tsv"]
# Since migration 0016 the vector is stored beside the text (a generated column, body_tsv) with its own GIN
# index: a search matching most incidents is planned as a scan, which then reads each vector instead of
# parsing every text again (10^5 incidents, a word in nearly all of them: 3.6 s to a few hundred ms).


def words(query):
    return WORD.findall(query or "")[:32]


def text_of(incident, allegations):
    """The searchable text: titles, summaries, allegation text, responses, quotes and source titles."""
    parts = [incident.reference_code, incident.title, incident.summary, incident.location_detail]
    for allegation in allegations:
        parts += [allegation.summary, allegation.affected_party, allegation.party_response]
        for citation in allegation.citations:
            parts += [citation.quote, citation.source.title]
    return "\n".join(part for part in parts if part)


def reindex(incident, allegations=None, *, created=False):
    """Rewrite the incident's searchable text.

    `allegations` (AllegationData) are the ones just written, which spares reading
    them back; without them the incident's own are read (load it with for_detail()).
    `created`: the incident was inserted just now, so it has no text to replace.
    """
    if allegations is None:
        allegations = data_from_incident(incident)[1]
    body = text_of(incident, allegations)
    if created or not IncidentText.objects.filter(incident=incident).update(body=body):
        IncidentText.objects.create(incident=incident, body=body)


def matching_ids(query):
    """A subquery of the ids of incidents whose text contains every word of the query."""
    tokens = words(query)
    if not tokens:
        return None
    if connection.vendor == "sqlite":
        expression = " ".join('"' + token.replace('"', '""') + '"' for token in tokens)
        return RawSQL("SELECT rowid FROM incidents_text_fts WHERE incidents_text_fts MATCH %s", [expression])
    return RawSQL(
        "SELECT incident_id FROM incidents_incidenttext WHERE body_tsv @@ plainto_tsquery('simple', %s)",
        [" ".join(tokens)],
    )


def search(queryset, query):
    ids = matching_ids(query)
    return queryset.none() if ids is None else queryset.filter(pk__in=ids)
