"""CSV downloads shared by the features: rows streamed as a file, cells made safe to open in a
spreadsheet (the ledger's customer lists, the systems catalogue's inventory)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from flask import Response, stream_with_context

# A cell starting with one of these runs as a formula when the CSV is opened in a spreadsheet (a
# tab or carriage return is skipped by some before they read the formula).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """The cell as text a spreadsheet shows rather than runs: an apostrophe before a formula's start."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def csv_download(rows: Iterable[list], filename: str) -> Response:
    """Rows streamed as a CSV download, written in pieces of ~64 kB (a million rows fit)."""
    def pieces() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        for row in rows:
            writer.writerow([spreadsheet_safe(v) if isinstance(v, str) else v for v in row])
            if out.tell() > 64_000:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    return Response(stream_with_context(pieces()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
