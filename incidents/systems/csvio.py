"""The catalogue as CSV: the inventory exported, edited in a spreadsheet and imported back.

One header row, then one row per system, UTF-8 (a byte-order mark is allowed)::

    name,description,owner_email,team,data_categories,personal_data,origin,origin_name,acquired_on,...

Rows match systems by name, ignoring case and spacing (models.name_key); a new name adds a system.
`name` is the one required column; an editable column left out leaves that field as it is (or at its
default for a new system). The fact columns an export adds after them (last backup, problems...)
are read-only: accepted, and ignored, so an export imports back unchanged.

An import is all or nothing: every row is checked (by the catalogue's own rules, service.py) inside
one savepoint, and if any row is refused the savepoint is rolled back and the problems, each with
the file's line number, are all the caller gets. A row whose values equal what is stored is left
alone: no new version, no audit event. The file's values win over the stored ones: a CSV carries
no version, so an import is not refused because someone edited a system since the export.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from incidents.auth.models import User
from incidents.downloads import FORMULA_STARTS
from incidents.errors import FieldError
from incidents.forms import has_control_chars
from incidents.incident.enums import DATA_CATEGORIES
from incidents.systems import audit, service
from incidents.systems.models import ORIGINS, System, name_key

EDITABLE = ("name", "description", "owner_email", "team", "data_categories", "personal_data", "origin",
            "origin_name", "acquired_on", "backup_method", "backup_destination", "rpo_target_minutes", "retention")
FACTS = ("last_backup_ok_at", "last_backup_report_at", "last_backup_report_ok", "last_restore_test_at",
         "last_restore_test_ok", "last_reviewed_at", "problems")
COLUMNS = EDITABLE + FACTS
# A service refusal names a SystemFields field; the file calls the owner by e-mail.
COLUMN_OF_FIELD = {"owner": "owner_email"}
YES, NO = ("yes", "y", "true", "1"), ("no", "n", "false", "0")
NAME_LIMIT = 120  # System.name_key's length
DESCRIPTION_LIMIT = 5_000  # the edit form's (incidents/systems/forms.py)
RPO_DIGITS = 9  # a year is 527,040 minutes; longer numbers are refused before int() reads them
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- export ----------------------------------------------------------------------------------------


def export_rows(*, session: Session, clock: audit.Clock, retired: bool = False) -> Iterator[list]:
    """The header, then every system (not retired ones unless asked) by name: one statement, read a
    few hundred rows at a time."""
    yield list(COLUMNS)
    stmt = (select(System).options(joinedload(System.owner), joinedload(System.state))
            .order_by(System.name_key).execution_options(yield_per=500))
    if not retired:
        stmt = stmt.where(System.retired_at.is_(None))
    for system in session.scalars(stmt):
        yield row_of(system, clock)


def row_of(system: System, clock: audit.Clock) -> list:
    state = system.state
    return [system.name, system.description, system.owner.email if system.owner else "", system.team,
            ";".join(system.data_categories or []), _yes_no(system.personal_data), system.origin,
            system.origin_name, system.acquired_on.isoformat() if system.acquired_on else "",
            system.backup_method, system.backup_destination,
            "" if system.rpo_target_minutes is None else system.rpo_target_minutes, system.retention,
            _moment(state.last_ok_at if state else None), _moment(state.last_report_at if state else None),
            _yes_no(state.last_report_ok if state else None),
            _moment(state.last_restore_test_at if state else None),
            _yes_no(state.last_restore_test_ok if state else None), _moment(system.last_reviewed_at),
            ";".join(audit.problems_of(audit.facts_of(system, state), clock)) if system.retired_at is None else ""]


def _moment(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _yes_no(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


# --- import ----------------------------------------------------------------------------------------


class FileRefused(Exception):
    """The file as a whole cannot be read; nothing of it is applied."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(message)
        self.message, self.line = message, line


@dataclass(frozen=True)
class RowProblem:
    line: int
    name: str  # the row's name as the file gives it ("" when it has none)
    column: str  # the column at fault ("" when it is the row as a whole)
    reason: str


@dataclass
class Outcome:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)  # when any: nothing was applied

    @property
    def summary(self) -> str:
        return f"{len(self.added)} added, {len(self.updated)} updated, {self.unchanged} unchanged"


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, str]  # by column, when the row has as many cells as the header

    @property
    def name(self) -> str:
        return self.values["name"].strip()


class _Invalid(ValueError):
    """One cell is refused; the message says why, in the file's words."""


def import_csv(*, session: Session, actor: User | None, data: bytes) -> Outcome:
    """Apply the file to the catalogue, or nothing of it: see the module's docstring. Raises
    FileRefused when the file cannot be read at all; the caller commits."""
    header, records = _records(_text_of(data))
    rows = [_Row(line, dict(zip(header, cells, strict=True))) for line, cells in records if len(cells) == len(header)]
    outcome = Outcome(problems=[RowProblem(line, "", "", f"{len(cells)} cells where the header has {len(header)}: "
                                           "check the row's quotes and commas.")
                                for line, cells in records if len(cells) != len(header)])
    doubled = _doubled_names(rows)
    outcome.problems += doubled
    named_before = {p.line for p in doubled}
    rows = [row for row in rows if row.line not in named_before]
    systems = {s.name_key: s for s in session.scalars(
        select(System).options(joinedload(System.owner), joinedload(System.state)))}
    people = {u.email.lower(): u for u in session.scalars(select(User))}
    savepoint = session.begin_nested()
    try:
        for row in rows:
            _apply(session, actor, row, systems.get(name_key(row.name)), people, outcome)
    except BaseException:
        savepoint.rollback()
        raise
    if outcome.problems:
        savepoint.rollback()
        outcome.added, outcome.updated, outcome.unchanged = [], [], 0
        outcome.problems.sort(key=lambda p: p.line)
    else:
        savepoint.commit()
    return outcome


def _text_of(data: bytes) -> str:
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n"):
        raise FileRefused("The file is empty: it needs a header row (export the catalogue for one) "
                          "and a row per system.")
    if b"\x00" in data:
        raise FileRefused("This is not a CSV file: it holds binary data. Save the inventory as "
                          "CSV (UTF-8) and upload that.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise FileRefused(f"The file is not UTF-8: line {line} holds byte 0x{data[error.start]:02X}, as files "
                          "saved in Latin-1 or Windows-1252 do. Save it as \"CSV UTF-8\" and upload it again.",
                          line) from None


def _records(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's columns, and each record with the line it starts on (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = _header(next(reader))
        records, start = [], reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if any(cell.strip() for cell in cells):  # blank lines: spreadsheets leave them at the end
                records.append((line, cells))
    except csv.Error as error:
        raise FileRefused(f"Line {reader.line_num} cannot be read as CSV ({error}).", reader.line_num) from None
    if not records:
        raise FileRefused("The file has a header but no systems: add a row per system under it.", 1)
    return header, records


def _header(cells: list[str]) -> list[str]:
    names = [cell.strip().lower().replace(" ", "_") for cell in cells]
    unknown = [repr(name) if name else "one with no name" for name in names if name not in COLUMNS]
    doubled = sorted({name for name in names if names.count(name) > 1})
    parts = ([f"unknown columns {', '.join(unknown)}"] if unknown else []) + \
        ([f"named twice: {', '.join(doubled)}"] if doubled else []) + \
        (["no name column"] if "name" not in names else [])
    if parts:
        raise FileRefused(f"The header row is not the inventory's ({'; '.join(parts)}). Columns it may have: "
                          f"{', '.join(COLUMNS)} (name is required; the last {len(FACTS)} are read-only).", 1)
    return names


def _doubled_names(rows: list[_Row]) -> list[RowProblem]:
    """A system named on two lines: refused on the later line, naming both."""
    first: dict[str, int] = {}
    problems = []
    for row in rows:
        key = name_key(row.name)
        if key and key in first:
            problems.append(RowProblem(row.line, row.name, "name", f"“{row.name}” is also on line {first[key]}: "
                                       "name each system once in the file."))
        first.setdefault(key, row.line)
    return problems


def _apply(session: Session, actor: User | None, row: _Row, system: System | None, people: dict[str, User],
           outcome: Outcome) -> None:
    """Check one row and, when it says something new, add or change its system (in the savepoint)."""
    if not row.name:
        outcome.problems.append(RowProblem(row.line, "", "name", "The name is empty: every row names its system."))
        return
    start = service.fields_of(system) if system is not None else service.SystemFields(name=row.name)
    wanted, problems = _fields_of(row, start, people)
    if problems:
        outcome.problems.extend(problems)
        return
    if system is not None and _comparable(wanted) == _comparable(start):
        outcome.unchanged += 1
        return
    try:
        if system is None:
            service.create_system(session=session, actor=actor, fields_=wanted)
            outcome.added.append(wanted.name)
        else:
            service.update_system(session=session, actor=actor, system=system, expected_version=system.version,
                                  fields_=wanted)
            outcome.updated.append(system.name)
    except FieldError as refused:
        column = COLUMN_OF_FIELD.get(refused.field or "", refused.field or "")
        outcome.problems.append(RowProblem(row.line, row.name, column, str(refused)))


def _fields_of(row: _Row, start: service.SystemFields, people: dict[str, User]
               ) -> tuple[service.SystemFields, list[RowProblem]]:
    """The row's values over `start` (the stored ones: a column left out changes nothing), in the
    form the catalogue stores them, so an unchanged row compares equal; or each bad cell's problem."""
    changes, problems = {}, []
    for column, raw in row.values.items():
        if column in FACTS:
            continue
        try:
            changes.update(_parse(column, _undefused(raw), people))
        except _Invalid as refused:
            problems.append(RowProblem(row.line, row.name, column, str(refused)))
    wanted = replace(start, **changes)
    if changes.get("origin_name") and wanted.origin == "built":
        problems.append(RowProblem(row.line, row.name, "origin_name", "A system built here has no origin_name: "
                                   "set origin to acquired or vendor, or clear it."))
    return wanted, problems


def _comparable(fields_: service.SystemFields) -> tuple:
    """What the catalogue would store of `fields_` (as service._assign does): equal for a row that
    changes nothing, however the stored values were first written."""
    return (" ".join(fields_.name.split()), fields_.description.strip(), fields_.owner, fields_.team.strip(),
            [c for c in DATA_CATEGORIES if c in (fields_.data_categories or [])], fields_.personal_data,
            fields_.origin, fields_.origin_name.strip() if fields_.origin != "built" else "",
            fields_.acquired_on if fields_.origin == "acquired" else None, fields_.backup_method.strip(),
            fields_.backup_destination.strip(), fields_.rpo_target_minutes, fields_.retention.strip())


def _undefused(cell: str) -> str:
    """The cell as it was before an export kept a spreadsheet from running it (incidents/downloads.py)."""
    return cell[1:] if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_STARTS else cell


def _parse(column: str, raw: str, people: dict[str, User]) -> dict:
    """The SystemFields value(s) one cell gives, normalised as service._assign stores them."""
    if has_control_chars(raw) or (column != "description" and ("\n" in raw or "\r" in raw)):
        raise _Invalid("It holds a line break or an invisible control character: remove it.")
    text = raw.strip()
    if column == "description" and len(text) > DESCRIPTION_LIMIT:
        raise _Invalid(f"Keep the description under {DESCRIPTION_LIMIT:,} characters (as on the edit form).")
    if column == "name":
        # The stored key is case-folded, and folding can lengthen a name ("ß" is "ss"): the service
        # checks the name's length only, so a longer key would reach the database and fail there.
        if len(text) <= NAME_LIMIT < len(name_key(text)):
            raise _Invalid(f"Spelled without capitals this name is longer than {NAME_LIMIT} characters: shorten it.")
        return {"name": " ".join(text.split())}
    if column == "owner_email":
        return {"owner": _owner(text, people)}
    if column == "data_categories":
        return {"data_categories": _categories(text)}
    if column == "personal_data":
        if text.lower() not in YES + NO:
            raise _Invalid(f"Say yes or no, not {text[:20]!r}: does the system hold personal data?")
        return {"personal_data": text.lower() in YES}
    if column == "origin":
        return {"origin": _origin(text)}
    if column == "acquired_on":
        return {"acquired_on": _date(text)}
    if column == "rpo_target_minutes":
        return {"rpo_target_minutes": _minutes(text)}
    return {column: text}  # the other text columns: the service checks their lengths


def _owner(email: str, people: dict[str, User]) -> User | None:
    if not email:
        return None
    person = people.get(email.lower())
    if person is None:
        raise _Invalid(f"No account has the e-mail {email[:254]!r}: use an active account's address, "
                       "or leave it empty for nobody.")
    return person  # a disabled account is refused by the service's own check, as on the form


def _categories(text: str) -> list[str]:
    lookup = {key.lower(): key for key in DATA_CATEGORIES} | \
        {label.lower(): key for key, label in DATA_CATEGORIES.items()}
    chosen = set()
    for part in re.split(r"[;,|]", text):
        if not part.strip():
            continue
        key = lookup.get(part.strip().lower())
        if key is None:
            raise _Invalid(f"Unknown data category {part.strip()[:40]!r} (known: {', '.join(DATA_CATEGORIES)}; "
                           "separate them with semicolons).")
        chosen.add(key)
    return [key for key in DATA_CATEGORIES if key in chosen]


def _origin(text: str) -> str:
    if not text:
        return "built"
    lookup = {key: key for key in ORIGINS} | {label.lower(): key for key, label in ORIGINS.items()}
    origin = lookup.get(text.lower())
    if origin is None:
        raise _Invalid(f"Say built, acquired or vendor, not {text[:20]!r}.")
    return origin


def _date(text: str) -> date | None:
    if not text:
        return None
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise _Invalid(f"{text[:20]!r} is not a date: write it as YYYY-MM-DD, e.g. 2009-10-02.") from None


def _minutes(text: str) -> int | None:
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > RPO_DIGITS:
        raise _Invalid(f"{text[:20]!r} is not a whole number of minutes (1,440 is a day; leave it empty "
                       "for no target).")
    return int(text)
