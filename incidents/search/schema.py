"""The full-text index, which lives outside the models: an FTS5 table on SQLite, stored tsvector
columns with GIN indexes on PostgreSQL. Each database keeps it in step with every write, in the same
transaction: SQLite by triggers, PostgreSQL by its generated columns and indexes. Created and filled by a migration;
`is_search_object` tells schema comparisons (autogenerate, the migration tests) to leave it be."""
from __future__ import annotations

FTS_TABLE = "search_fts"  # SQLite; rowid = the timeline entry's id, or minus the incident's id
PG_INCIDENT_INDEX = "ix_search_incident_text"
PG_ENTRY_INDEX = "ix_search_entry_text"
# PostgreSQL's text search configuration, which the queries must name as the index does: English
# stemming ("restoring" finds "restored"), as SQLite's porter tokenizer does. The tokenizer and the
# text each side indexes are written in the migrations that build them (b2a7c3d6f8e1, d5c9e0f1a3b4).
PG_CONFIG = "english"

# PostgreSQL: each searched table carries its text's tsvector as a stored generated column, which the
# GIN index covers. Stored, not recomputed: a search for a common word walks the newest rows and
# checks each one's vector, where re-parsing each text cost a hundred times more (issue #19).
PG_VECTOR_COLUMN = "search_vector"


def is_search_object(name: str | None, type_: str) -> bool:
    return bool(name) and (name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
                           or name in (PG_INCIDENT_INDEX, PG_ENTRY_INDEX)
                           or (type_ == "column" and name == PG_VECTOR_COLUMN))
