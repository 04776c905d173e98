"""The affected-customer CSV: what a file must look like, read as a stream and checked row by row.

One header row, then one row per customer, UTF-8 (a byte-order mark is allowed)::

    customer_id,data_categories,country,region,channel,records
    C-000001,contacts;photos,US,CA,email,120

`customer_id`, `data_categories` and `country` are required; `region` (ISO 3166-2, "CA" or "US-CA"),
`channel` (email, letter, in_app; default email) and `records` (a count) may be left out. Columns
may come in any order. Categories are separated by ";" or "|" and named by key or label.

Nothing here touches the database: `read_rows` yields a `Row` or a `Problem` per record, and
raises `FileRefused` when the file as a whole cannot be read (empty, binary, not UTF-8, no usable
header), so the caller refuses it before anything is applied.
"""
from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pycountry

from incidents.incident.enums import DATA_CATEGORIES

REQUIRED = ("customer_id", "data_categories", "country")
OPTIONAL = ("region", "channel", "records")
COLUMNS = REQUIRED + OPTIONAL


@dataclass(frozen=True)
class Layout:
    """The columns of one kind of file."""

    what: str  # "an affected-customer list", for the header's error
    required: tuple[str, ...]
    optional: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


# A status list names customers already in the ledger: "these accounts are restored" (all their
# categories, or those given), "these are lost for good", "these notices bounced".
LAYOUTS = {
    "customers": Layout("an affected-customer list", REQUIRED, OPTIONAL),
    "restored": Layout("a list of restored customers", ("customer_id",), ("data_categories",)),
    "lost": Layout("a list of customers whose data is lost for good", ("customer_id",), ("data_categories",)),
    "bounced": Layout("a list of bounced notices", ("customer_id",), ()),
}
# A bit per category: a staged row keeps its categories in one integer.
CATEGORY_BITS = {key: 1 << n for n, key in enumerate(DATA_CATEGORIES)}
CHANNELS = {"email": "email", "e-mail": "email", "mail": "letter", "letter": "letter", "post": "letter",
            "in_app": "in_app", "in-app": "in_app", "app": "in_app"}
CHANNEL_NAMES = ("email", "letter", "in_app")
DEFAULT_CHANNEL = "email"
CUSTOMER_REF_MAX = 100
RECORDS_MAX = 10**15
# Long enough for any honest field. Checked per row, not with csv.field_size_limit: that setting is
# process-wide, and would change what every other CSV reader in the server accepts.
FIELD_LIMIT = 10_000


class FileRefused(Exception):
    """The file cannot be read as a whole; nothing of it is applied."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(message)
        self.message, self.line = message, line


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    customer_ref: str
    categories: int  # CATEGORY_BITS or-ed together
    country: str
    region: str | None
    channel: str
    records: int | None


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    customer_ref: str | None
    reason: str


def category_names(mask: int) -> list[str]:
    return [key for key, bit in CATEGORY_BITS.items() if mask & bit]


@functools.cache
def _category_lookup() -> dict[str, str]:
    names = {key.lower(): key for key in DATA_CATEGORIES}
    names.update({label.lower(): key for key, label in DATA_CATEGORIES.items()})
    return names


@functools.cache
def _countries() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


@functools.cache
def _regions(country: str) -> frozenset[str]:
    return frozenset(sub.code.split("-", 1)[1] for sub in pycountry.subdivisions.get(country_code=country) or ())


@functools.cache
def jurisdiction_name(key: str) -> str:
    """ "California, United States" for "US-CA", "Germany" for "DE" (the key itself if unknown)."""
    country_code, _, region = key.partition("-")
    country = pycountry.countries.get(alpha_2=country_code)
    if country is None:
        return key
    country_name = getattr(country, "common_name", None) or country.name
    if not region:
        return country_name
    subdivision = pycountry.subdivisions.get(code=key)
    return f"{subdivision.name}, {country_name}" if subdivision else key


class _Counting(io.RawIOBase):
    """The upload's bytes, counted as they are read (for progress), refused if they look binary."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.bytes_read = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self.raw.read(len(buffer))
        if b"\x00" in chunk:
            raise FileRefused("This is not a CSV file: it holds binary data (NUL bytes). "
                              "Export the list as CSV (UTF-8) and upload that.")
        buffer[:len(chunk)] = chunk
        self.bytes_read += len(chunk)
        return len(chunk)


class Reader:
    """Reads one kind of ledger CSV from a binary stream; `bytes_read` follows the position."""

    def __init__(self, raw: BinaryIO, kind: str = "customers"):
        self.layout = LAYOUTS[kind]
        self._check = check_row if kind == "customers" else check_status_row
        self._counting = _Counting(raw)
        self._text = io.TextIOWrapper(io.BufferedReader(self._counting, 1 << 16), encoding="utf-8-sig",
                                      errors="strict", newline="")

    @property
    def bytes_read(self) -> int:
        return self._counting.bytes_read

    def rows(self) -> Iterator[Row | Problem]:
        reader = csv.reader(self._text)
        header = self._header(reader)
        width = len(header)
        index = {name: header.index(name) for name in header}
        start = reader.line_num + 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as error:
                raise not_utf8(error) from None
            except csv.Error as error:
                raise FileRefused(f"Line {start} cannot be read as CSV ({error}).", start) from None
            line, start = start, reader.line_num + 1
            if not fields or fields == [""]:
                continue  # blank lines: spreadsheets leave them at the end
            if len(fields) != width:
                yield Problem(line, _ref_of(fields, index), f"{len(fields)} fields; the header has {width}")
                continue
            if any(len(field) > FIELD_LIMIT for field in fields):
                yield Problem(line, _ref_of(fields, index), f"a field longer than {FIELD_LIMIT:,} characters")
                continue
            yield self._check(line, {name: fields[i] for name, i in index.items()})

    def _header(self, reader) -> list[str]:
        try:
            header = next(reader)
        except StopIteration:
            raise FileRefused("The file is empty: it needs a header row and one row per customer.") from None
        except UnicodeDecodeError as error:
            raise not_utf8(error) from None
        except csv.Error as error:
            raise FileRefused(f"The header cannot be read as CSV ({error}).", 1) from None
        names = [name.strip().lower().replace(" ", "_") for name in header]
        layout = self.layout
        unknown = [name for name in names if name not in layout.columns]
        missing = [name for name in layout.required if name not in names]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if unknown or missing or doubled:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown {', '.join(repr(n) for n in unknown)}")
            if doubled:
                parts.append(f"named twice: {', '.join(doubled)}")
            optional = f", and optionally {', '.join(layout.optional)}" if layout.optional else ""
            raise FileRefused(f"The header row is not {layout.what} ({'; '.join(parts)}). "
                              f"Expected columns: {', '.join(layout.required)}{optional}.", 1)
        return names


def not_utf8(error: UnicodeDecodeError) -> FileRefused:
    # Decoding runs ahead of the CSV reader by a buffer, so no line number would be honest.
    return FileRefused(f"The file is not UTF-8: it holds byte 0x{error.object[error.start]:02X}, as files saved in "
                       "Latin-1 or Windows-1252 do. Save it as \"CSV UTF-8\" and upload it again.")


def _ref_of(fields: list[str], index: dict[str, int]) -> str | None:
    at = index.get("customer_id", 0)
    return fields[at].strip()[:CUSTOMER_REF_MAX] or None if at < len(fields) else None


class Invalid(ValueError):
    """A field's value is refused; the message says why, in the words of the file's columns."""


def check_row(line: int, values: dict[str, str]) -> Row | Problem:
    """The row as the ledger stores it, or the first thing wrong with it."""
    ref = values["customer_id"].strip()
    try:
        _customer_ref(ref)
        country = _country(values["country"])
        return Row(line, ref, _categories(values["data_categories"]), country,
                   _region(country, values.get("region", "")), _channel(values.get("channel", "")),
                   _records(values.get("records", "")))
    except Invalid as refused:
        return _refused(line, ref, refused)


def _refused(line: int, ref: str, reason: Invalid) -> Problem:
    # The id goes into the problems file only when it is one a person can read back.
    return Problem(line, ref[:CUSTOMER_REF_MAX] if ref.isprintable() and ref else None, str(reason))


def check_status_row(line: int, values: dict[str, str]) -> Row | Problem:
    """A row of a status list: a customer, and the categories it is about (0: all of theirs)."""
    ref = values["customer_id"].strip()
    try:
        _customer_ref(ref)
        text = values.get("data_categories", "")
        return Row(line, ref, _categories(text) if text.strip() else 0, "", None, "", None)
    except Invalid as refused:
        return _refused(line, ref, refused)


def _customer_ref(ref: str) -> None:
    if not ref:
        raise Invalid("customer_id is empty")
    if len(ref) > CUSTOMER_REF_MAX:
        raise Invalid(f"customer_id is longer than {CUSTOMER_REF_MAX} characters")
    if not ref.isprintable():
        raise Invalid("customer_id holds control characters")


@functools.lru_cache(maxsize=4096)  # a list repeats a few values a million times
def _categories(text: str) -> int:
    names = [part.strip() for part in text.replace("|", ";").replace(",", ";").split(";") if part.strip()]
    if not names:
        raise Invalid("data_categories is empty")
    lookup, mask = _category_lookup(), 0
    for name in names:
        key = lookup.get(name.lower())
        if key is None:
            raise Invalid(f"unknown data category {name[:40]!r} (known: {', '.join(DATA_CATEGORIES)})")
        mask |= CATEGORY_BITS[key]
    return mask


@functools.lru_cache(maxsize=4096)
def _country(text: str) -> str:
    code = text.strip().upper()
    if code not in _countries():
        raise Invalid(f"country {text.strip()[:20]!r} is not an ISO 3166 two-letter code (e.g. US, DE, GB)")
    return code


@functools.lru_cache(maxsize=4096)
def _region(country: str, text: str) -> str | None:
    code = text.strip().upper()
    if not code:
        return None
    if code.startswith(f"{country}-"):
        code = code[len(country) + 1:]
    if code not in _regions(country):
        raise Invalid(f"region {text.strip()[:20]!r} is not an ISO 3166-2 subdivision of {country}")
    return code


@functools.lru_cache(maxsize=4096)
def _channel(text: str) -> str:
    name = text.strip().lower()
    if not name:
        return DEFAULT_CHANNEL
    if name not in CHANNELS:
        raise Invalid(f"channel {text.strip()[:20]!r} is not one of {', '.join(CHANNEL_NAMES)}")
    return CHANNELS[name]


def _records(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or not text.isascii() or int(text) > RECORDS_MAX:
        raise Invalid(f"records {text[:20]!r} is not a whole number of records")
    return int(text)
