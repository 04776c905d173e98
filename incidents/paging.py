"""Keyset pagination of lists (the timeline, the incident list, postmortems due, action items): a page ends at the
(moment, id) of its last row, and the next page starts strictly below it, so a page costs the same
however deep it is and however many rows arrive meanwhile. In a query string the cursor is
`<ISO moment>~<id>`; anything else is read as "no cursor" (the first page), never as an error."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import tuple_

PAGE_SIZE = 50  # rows a page of a list shows


@dataclass(frozen=True)
class Cursor:
    moment: datetime | date
    row_id: int

    def encode(self) -> str:
        return f"{self.moment.isoformat()}~{self.row_id}"

    @classmethod
    def decode(cls, raw: str | None, *, dates: bool = False) -> Cursor | None:
        """A cursor from a query string (of a list ordered by a date when `dates`: action items by
        due date), or None when it is missing or malformed."""
        try:
            when, row_id = (raw or "").split("~")
            if not 0 < int(row_id) < 2**31:
                return None
            if dates:
                return cls(date.fromisoformat(when), int(row_id))
            moment = datetime.fromisoformat(when)
            if moment.tzinfo is None:
                return None
            # Converted here, where a moment at the edge of the calendar (year 1 at +05:00)
            # overflows harmlessly, rather than in the query, where it would be a server error.
            return cls(moment.astimezone(UTC), int(row_id))
        except (ValueError, OverflowError):
            return None

    # Row values, (moment, id) < (:moment, :id): both databases read them as one index range, where
    # the equivalent OR of two comparisons makes SQLite walk the index from its end to the cursor.
    def below(self, moment_column, id_column):
        """The rows after this cursor in newest-first order."""
        return tuple_(moment_column, id_column) < (self.moment, self.row_id)  # bound with the columns' types

    def above(self, moment_column, id_column):
        """The rows after this cursor in oldest-first order."""
        return tuple_(moment_column, id_column) > (self.moment, self.row_id)


def split_page(rows: list, cursor_of: Callable[[Any], Cursor], size: int = PAGE_SIZE) -> tuple[list, str | None]:
    """`rows` read one past a page (size + 1): the page, and the encoded cursor of the next page
    (None on the last one)."""
    if len(rows) <= size:
        return rows, None
    page = rows[:size]
    return page, cursor_of(page[-1]).encode()
