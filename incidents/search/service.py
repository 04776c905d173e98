"""Full-text search over incident titles and summaries and timeline text, with each database's own
engine (SQLite FTS5, PostgreSQL text search; see schema.py): ranked, each incident once with its
best-matching text as a snippet. Anyone signed in may search, as anyone signed in may read every
incident; the public side never searches."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from markupsafe import Markup, escape
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from incidents.search.schema import FTS_TABLE, PG_CONFIG, PG_VECTOR_COLUMN

# Snippet markers: private-use characters nobody types; the text around them is escaped, then they
# become <mark>.
START, STOP = "\ue000", "\ue001"
# Texts of each kind (incidents' titles and summaries, timeline entries) a search reads, newest
# first. When fewer match, all of them are ranked by relevance; when more do (a common word in
# years of history), ranking them all would read every one, so the newest are shown, titles first.
WINDOW = 200
ENOUGH = 50  # incidents whole-word matches must find before word beginnings are looked for too
_MARKS = re.compile(r"\*\*|__|`")
_WORD = re.compile(r"[^\W_]+")  # letters and digits: what both engines' tokenizers keep as words


@dataclass(frozen=True)
class Hit:
    incident_id: int
    entry_id: int | None  # None: the incident's title or summary matched
    snippet: str = ""  # plain text with START/STOP around the matching words (see `with_snippets`)
    prefix: bool = False  # found by the words' beginnings, not the whole words

    @property
    def snippet_markup(self) -> Markup:
        # The text is Markdown source: its emphasis and code marks would only be noise here.
        plain = _MARKS.sub("", self.snippet)
        escaped = str(escape(plain))
        return Markup(escaped.replace(START, "<mark>").replace(STOP, "</mark>"))


def words(query: str) -> list[str]:
    """The words of what someone typed; punctuation and search syntax are not theirs to use."""
    return _WORD.findall(query)[:20]


class Found(list):
    """Hits best first; `ranked` is False when too many texts matched to rank them all (then the
    newest come first, titles and summaries before timeline entries)."""

    ranked: bool = True


def search(*, session: Session, query: str) -> Found:
    """The matching incidents, best first, each with its best hit (no snippet yet: `with_snippets`).

    Every word must occur, as a whole word first (in any form: "restoring" finds "restored"); when
    that finds fewer than ENOUGH incidents, as the beginning of one too ("restor" finds "restored",
    as one types). Only word characters reach either engine, never its operators.
    """
    found = Found()
    terms = words(query)
    if not terms:
        return found
    engine = _engine(session, terms)
    best: dict[int, Hit] = {}
    for prefix in (False, True):
        texts, ranked = engine.ranked(prefix=prefix)
        found.ranked = found.ranked and ranked
        for incident_id, entry_id in texts:
            best.setdefault(incident_id, Hit(incident_id=incident_id, entry_id=entry_id, prefix=prefix))
        if len(best) >= ENOUGH:
            break
    found.extend(best.values())
    return found


def with_snippets(*, session: Session, query: str, hits: list[Hit]) -> list[Hit]:
    """The same hits, each with the text around its matching words."""
    terms = words(query)
    if not terms or not hits:
        return hits
    engine = _engine(session, terms)
    found: dict[tuple[int | None, int], str] = {}
    for prefix in (False, True):
        chosen = [hit for hit in hits if hit.prefix is prefix]
        if chosen:
            found.update(engine.snippets(prefix=prefix, hits=chosen))
    return [replace(hit, snippet=found.get((hit.entry_id, hit.incident_id), "")) for hit in hits]


def _engine(session: Session, terms: list[str]) -> _Engine:
    return (_Postgres if session.get_bind().dialect.name == "postgresql" else _Sqlite)(session, terms)


class _Engine:
    """Candidates (the newest WINDOW texts of each kind), then their order: by relevance when all
    matches are among them, else as read (newest incidents by title first, then newest entries)."""

    def __init__(self, session: Session, terms: list[str]):
        self.session, self.terms = session, terms

    def ranked(self, *, prefix: bool) -> tuple[list[tuple[int, int | None]], bool]:
        """(incident id, entry id or None) of the matching texts, best first; and whether every
        match was ranked."""
        incident_ids = self.newest_incidents(prefix=prefix)
        entries = self.newest_entries(prefix=prefix)  # (entry id, incident id)
        texts = [(incident_id, None) for incident_id in incident_ids] + [(i, e) for e, i in entries]
        if len(incident_ids) < WINDOW and len(entries) < WINDOW:
            # Every match is here, so ranking them reads no more than these.
            order = {key: n for n, key in enumerate(self.relevance(prefix=prefix, incident_ids=incident_ids,
                                                                   entry_ids=[e for e, _ in entries]))}
            texts.sort(key=lambda text: order.get(text[1] if text[1] is not None else -text[0], len(order)))
            return texts, True
        return texts, False


class _Sqlite(_Engine):
    """FTS5: rowid = the entry's id, or minus the incident's id (schema.py)."""

    def match(self, prefix: bool) -> str:
        return " ".join('"' + term + ('"*' if prefix else '"') for term in self.terms)

    def newest_incidents(self, *, prefix: bool) -> list[int]:
        return [-rowid for rowid in self.session.scalars(text(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match AND rowid < 0 ORDER BY rowid LIMIT :window"),
            {"match": self.match(prefix), "window": WINDOW}).all()]

    def newest_entries(self, *, prefix: bool) -> list[tuple[int, int]]:
        return self.session.execute(text(
            f"SELECT hit.rowid, entry.incident_id FROM (SELECT rowid FROM {FTS_TABLE} "
            f"WHERE {FTS_TABLE} MATCH :match AND rowid > 0 ORDER BY rowid DESC LIMIT :window) AS hit "
            f"JOIN timeline_entry AS entry ON entry.id = hit.rowid ORDER BY hit.rowid DESC"),
            {"match": self.match(prefix), "window": WINDOW}).all()

    def relevance(self, *, prefix: bool, incident_ids: list[int], entry_ids: list[int]) -> list[int]:
        """Rowids best first (bm25; an incident's title counts as much as a text twice its length)."""
        return list(self.session.scalars(text(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match "
            f"ORDER BY bm25({FTS_TABLE}) * CASE WHEN rowid < 0 THEN 2 ELSE 1 END, rowid DESC"),
            {"match": self.match(prefix)}))

    def snippets(self, *, prefix: bool, hits: list[Hit]) -> dict[tuple[int | None, int], str]:
        rowids = {(hit.entry_id if hit.entry_id is not None else -hit.incident_id): hit for hit in hits}
        rows = self.session.execute(text(
            f"SELECT rowid, snippet({FTS_TABLE}, 0, '{START}', '{STOP}', '…', 16) FROM {FTS_TABLE} "
            f"WHERE {FTS_TABLE} MATCH :match AND rowid IN :rowids").bindparams(bindparam("rowids", expanding=True)),
            {"match": self.match(prefix), "rowids": list(rowids)})
        return {(rowids[rowid].entry_id, rowids[rowid].incident_id): snippet or "" for rowid, snippet in rows}


_HEADLINE = f"StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=10, MaxFragments=1"
_TSQUERY = f"to_tsquery('{PG_CONFIG}', :query)"
_INCIDENT_VECTOR = f"incident.{PG_VECTOR_COLUMN}"
_ENTRY_VECTOR = f"timeline_entry.{PG_VECTOR_COLUMN}"


class _Postgres(_Engine):
    """Text search over the stored vectors and their GIN indexes (schema.py)."""

    def query(self, prefix: bool) -> str:
        return " & ".join(term + (":*" if prefix else "") for term in self.terms)

    def newest_incidents(self, *, prefix: bool) -> list[int]:
        return list(self.session.scalars(text(
            f"SELECT id FROM incident WHERE {_INCIDENT_VECTOR} @@ {_TSQUERY} ORDER BY id DESC LIMIT :window"),
            {"query": self.query(prefix), "window": WINDOW}))

    def newest_entries(self, *, prefix: bool) -> list[tuple[int, int]]:
        return self.session.execute(text(
            f"SELECT id, incident_id FROM timeline_entry WHERE {_ENTRY_VECTOR} @@ {_TSQUERY} "
            f"ORDER BY id DESC LIMIT :window"), {"query": self.query(prefix), "window": WINDOW}).all()

    def relevance(self, *, prefix: bool, incident_ids: list[int], entry_ids: list[int]) -> list[int]:
        """Keys best first (ts_rank; an incident's title and summary count twice): entry ids, and
        minus the incident's id for a title or summary, as on SQLite."""
        return list(self.session.scalars(text(
            f"SELECT key FROM ("
            f"SELECT -id AS key, ts_rank({_INCIDENT_VECTOR}, {_TSQUERY}) * 2 AS rank FROM incident "
            f"WHERE id IN :incidents "
            f"UNION ALL SELECT id, ts_rank({_ENTRY_VECTOR}, {_TSQUERY}) FROM timeline_entry WHERE id IN :entries"
            f") AS scored ORDER BY rank DESC, key DESC").bindparams(
                bindparam("incidents", expanding=True), bindparam("entries", expanding=True)),
            {"query": self.query(prefix), "incidents": incident_ids or [0], "entries": entry_ids or [0]}))

    def snippets(self, *, prefix: bool, hits: list[Hit]) -> dict[tuple[int | None, int], str]:
        incident_ids = [hit.incident_id for hit in hits if hit.entry_id is None] or [0]
        entry_ids = [hit.entry_id for hit in hits if hit.entry_id is not None] or [0]
        rows = self.session.execute(text(
            f"SELECT NULL::integer, id, ts_headline('{PG_CONFIG}', title || ' ' || coalesce(summary, ''), "
            f"{_TSQUERY}, '{_HEADLINE}') FROM incident WHERE id IN :incidents "
            f"UNION ALL SELECT id, incident_id, ts_headline('{PG_CONFIG}', body, {_TSQUERY}, '{_HEADLINE}') "
            f"FROM timeline_entry WHERE id IN :entries").bindparams(
                bindparam("incidents", expanding=True), bindparam("entries", expanding=True)),
            {"query": self.query(prefix), "incidents": incident_ids, "entries": entry_ids})
        return {(entry_id, incident_id): snippet or "" for entry_id, incident_id, snippet in rows}
