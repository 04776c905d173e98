"""Full-text search over incident titles and summaries and timeline text, with each database's own
engine (SQLite FTS5, PostgreSQL text search; see schema.py): ranked, each incident once with its
best-matching text as a snippet. Anyone signed in may search, as anyone signed in may read every
incident; the public side never searches."""
from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from incidents.search.schema import ENTRY_TEXT_PG, FTS_TABLE, INCIDENT_TEXT_PG, PG_CONFIG

# Snippet markers: private-use characters nobody types; the text around them is escaped, then they
# become <mark>.
START, STOP = "\ue000", "\ue001"
CANDIDATES = 500  # best-ranked matching texts read per search, before grouping by incident
_MARKS = re.compile(r"\*\*|__|`")
_WORD = re.compile(r"[^\W_]+")  # letters and digits: what both engines' tokenizers keep as words


@dataclass(frozen=True)
class Hit:
    incident_id: int
    entry_id: int | None  # None: the incident's title or summary matched
    snippet: str  # plain text with START/STOP around the matching words

    @property
    def snippet_markup(self) -> Markup:
        # The text is Markdown source: its emphasis and code marks would only be noise here.
        plain = _MARKS.sub("", self.snippet)
        escaped = str(escape(plain))
        return Markup(escaped.replace(START, "<mark>").replace(STOP, "</mark>"))


def words(query: str) -> list[str]:
    """The words of what someone typed; punctuation and search syntax are not theirs to use."""
    return _WORD.findall(query)[:20]


def search(*, session: Session, query: str) -> list[Hit]:
    """The matching incidents, best first, each with its best hit (at most CANDIDATES texts read)."""
    terms = words(query)
    if not terms:
        return []
    # Every word must occur, as a word or the start of one ("restor" finds "restored", as one
    # types); only word characters reach either engine, never its operators.
    if session.get_bind().dialect.name == "postgresql":
        query = " & ".join(term + ":*" for term in terms)
        rows = session.execute(_PG_SEARCH, {"query": query, "limit": CANDIDATES}).all()
    else:
        match = " ".join('"' + term + '"*' for term in terms)
        rows = session.execute(_SQLITE_SEARCH, {"match": match, "limit": CANDIDATES}).all()
    best: dict[int, Hit] = {}
    for incident_id, entry_id, snippet in rows:
        if incident_id is not None and incident_id not in best:
            best[incident_id] = Hit(incident_id=incident_id, entry_id=entry_id, snippet=snippet or "")
    return list(best.values())


# rowid < 0: an incident's title and summary (minus its id); otherwise a timeline entry's id.
_SQLITE_SEARCH = text(f"""
    SELECT CASE WHEN hit.rowid < 0 THEN -hit.rowid ELSE entry.incident_id END,
           CASE WHEN hit.rowid < 0 THEN NULL ELSE hit.rowid END,
           hit.snip
    FROM (SELECT rowid, snippet({FTS_TABLE}, 0, '{START}', '{STOP}', '…', 16) AS snip, bm25({FTS_TABLE}) AS rank
          FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match ORDER BY rank LIMIT :limit) AS hit
    LEFT JOIN timeline_entry AS entry ON entry.id = hit.rowid
    ORDER BY hit.rank
""").bindparams(bindparam("match"), bindparam("limit"))

_HEADLINE = f"StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=10, MaxFragments=1"
_PG_SEARCH = text(f"""
    WITH q AS (SELECT to_tsquery('{PG_CONFIG}', :query) AS query),
    hits AS (
        (SELECT incident.id AS incident_id, NULL::integer AS entry_id,
                title || ' ' || coalesce(summary, '') AS body,
                ts_rank(to_tsvector('{PG_CONFIG}', {INCIDENT_TEXT_PG}), q.query) * 2 AS rank
         FROM incident, q WHERE to_tsvector('{PG_CONFIG}', {INCIDENT_TEXT_PG}) @@ q.query
         ORDER BY rank DESC LIMIT :limit)
        UNION ALL
        (SELECT entry.incident_id, entry.id, entry.body,
                ts_rank(to_tsvector('{PG_CONFIG}', {ENTRY_TEXT_PG}), q.query) AS rank
         FROM timeline_entry AS entry, q WHERE to_tsvector('{PG_CONFIG}', {ENTRY_TEXT_PG}) @@ q.query
         ORDER BY rank DESC LIMIT :limit)
    )
    SELECT hits.incident_id, hits.entry_id, ts_headline('{PG_CONFIG}', hits.body, q.query, '{_HEADLINE}')
    FROM hits, q ORDER BY hits.rank DESC, hits.entry_id NULLS FIRST LIMIT :limit
""").bindparams(bindparam("query"), bindparam("limit"))
