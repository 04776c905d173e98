"""Reading the catalogue: the list's filters, one page of systems with their owner and state
loaded in the same statement, the filter form's choices, and the incidents that named a system.

A page costs the same few statements however many systems there are (tests pin it)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload

from incidents.auth.models import User
from incidents.forms import has_control_chars
from incidents.incident.models import Incident
from incidents.systems import audit
from incidents.systems.models import ORIGINS, IncidentSystem, System, SystemState, name_key

PER_PAGE = 50
MAX_PAGE = 100_000  # far past any catalogue; keeps the offset a small number


def _text(args: Mapping, name: str, limit: int = 200) -> str:
    """A query-string value, or "" when it is not something a person could have typed."""
    value = args.get(name) or ""
    if not isinstance(value, str) or has_control_chars(value) or len(value) > limit:
        return ""
    return value.strip()


@dataclass
class Filters:
    """What the list is narrowed to; every value read from the query string leniently (a value
    that makes no sense is ignored, never an error)."""

    q: str = ""
    owner: int | None = None  # a user's id
    unowned: bool = False  # owner=none
    team: str = ""
    origin: str = ""
    origin_name: str = ""
    personal: bool | None = None
    flagged: bool = False
    retired: bool = False  # retired systems shown too
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping) -> Filters:
        owner = _text(args, "owner", 12)
        personal = _text(args, "personal", 3)
        page = _text(args, "page", 6)
        return cls(q=_text(args, "q"),
                   owner=int(owner) if owner.isascii() and owner.isdigit() and 0 < int(owner) < 2**31 else None,
                   unowned=owner == "none", team=_text(args, "team", 120),
                   origin=o if (o := _text(args, "origin", 10)) in ORIGINS else "",
                   origin_name=_text(args, "origin_name"),
                   personal={"yes": True, "no": False}.get(personal),
                   flagged=_text(args, "flagged", 1) == "1", retired=_text(args, "retired", 1) == "1",
                   page=min(int(page), MAX_PAGE) if page.isascii() and page.isdigit() and int(page) > 0 else 1)

    def args(self, **changes) -> dict[str, str]:
        """The query string that gives these filters (for the pager's links), without the empty ones."""
        values = {"q": self.q, "owner": "none" if self.unowned else (self.owner or ""), "team": self.team,
                  "origin": self.origin, "origin_name": self.origin_name,
                  "personal": {True: "yes", False: "no"}.get(self.personal, ""),
                  "flagged": "1" if self.flagged else "", "retired": "1" if self.retired else "",
                  "page": self.page if self.page > 1 else ""} | changes
        return {k: str(v) for k, v in values.items() if v not in ("", None)}


@dataclass
class Row:
    system: System
    problems: list[str]  # audit codes now, worst first (none for a retired system)


@dataclass
class Listing:
    rows: list[Row]
    total: int  # matching the filters, all pages
    filters: Filters
    per_page: int = PER_PAGE
    choices: dict = field(default_factory=dict)

    @property
    def has_next(self) -> bool:
        return self.filters.page * self.per_page < self.total


def _conditions(owner, filters: Filters, at: audit.Clock) -> list:
    where = []
    if not filters.retired or filters.flagged:  # the audit never flags a retired system
        where.append(System.retired_at.is_(None))
    if filters.q:
        where.append(System.name_key.contains(name_key(filters.q), autoescape=True))
    if filters.unowned:
        where.append(System.owner_id.is_(None))
    elif filters.owner:
        where.append(System.owner_id == filters.owner)
    if filters.team:
        where.append(System.team == filters.team)
    if filters.origin:
        where.append(System.origin == filters.origin)
    if filters.origin_name:
        where.append(System.origin_name == filters.origin_name)
    if filters.personal is not None:
        where.append(System.personal_data.is_(filters.personal))
    if filters.flagged:
        where.append(audit.flagged_sql(owner, at))
    return where


def _joined(filters: Filters, at: audit.Clock, *, loaded: bool = True):
    """The systems matching `filters`, each joined to its owner and state (loaded with it unless
    `loaded` is false: for counting)."""
    owner = aliased(User)
    stmt = (select(System).outerjoin(owner, owner.id == System.owner_id)
            .outerjoin(SystemState, SystemState.system_id == System.id)
            .where(*_conditions(owner, filters, at)))
    return stmt.options(contains_eager(System.owner.of_type(owner)), contains_eager(System.state)) if loaded else stmt


def _rows(systems, at: audit.Clock) -> list[Row]:
    return [Row(s, [] if s.retired_at else audit.problems_of(audit.facts_of(s, s.state), at)) for s in systems]


def list_systems(*, session: Session, filters: Filters, at: audit.Clock, per_page: int = PER_PAGE) -> Listing:
    """One page of the catalogue by name, each system with its owner, state and problems now:
    two statements (the count and the page) whatever the page holds."""
    total = session.scalar(_joined(filters, at, loaded=False).with_only_columns(func.count(System.id)))
    systems = session.scalars(_joined(filters, at).order_by(System.name_key, System.id)
                              .limit(per_page).offset((filters.page - 1) * per_page)).all()
    return Listing(rows=_rows(systems, at), total=total or 0, filters=filters, per_page=per_page)


def systems_after(*, session: Session, filters: Filters, at: audit.Clock, limit: int,
                  after: tuple[str, int] | None = None) -> list[Row]:
    """Up to `limit` systems by name after the keyset position (name_key, id), with their owner,
    state and problems now (the API's list): one statement, however deep the page. `filters.page`
    is not read."""
    stmt = _joined(filters, at)
    if after is not None:
        stmt = stmt.where(tuple_(System.name_key, System.id) > after)
    return _rows(session.scalars(stmt.order_by(System.name_key, System.id).limit(limit)).all(), at)


def system_named(*, session: Session, name: str) -> System | None:
    """The system with this name (as names are matched: spacing and case aside), with its owner and
    state, retired or not: one statement."""
    return session.scalar(select(System).options(joinedload(System.owner), joinedload(System.state))
                          .where(System.name_key == name_key(name)))


def filter_choices(*, session: Session) -> dict[str, list]:
    """The filter form's choices: people (active, or owning a system), teams, and the companies
    and vendors systems came from. Three statements."""
    people = session.scalars(select(User).where(or_(User.active.is_(True), User.id.in_(
        select(System.owner_id).where(System.owner_id.is_not(None))))).order_by(User.name, User.id)).all()
    teams = session.scalars(select(System.team).where(System.team != "").distinct().order_by(System.team)).all()
    names = session.scalars(select(System.origin_name).where(System.origin_name != "").distinct()
                            .order_by(System.origin_name)).all()
    return {"people": people, "teams": teams, "origin_names": names}


def incidents_naming(*, session: Session, system: System, limit: int = 50) -> list[tuple[IncidentSystem, Incident]]:
    """The incidents that named `system`, newest first, with the state it was in then."""
    return list(session.execute(
        select(IncidentSystem, Incident).join(Incident, Incident.id == IncidentSystem.incident_id)
        .where(IncidentSystem.system_id == system.id)
        .order_by(Incident.declared_at.desc(), Incident.id.desc()).limit(limit)))


def names_now(*, session: Session, system_ids: list[int]) -> dict[int, str]:
    """The names these systems have now (an incident keeps the name they had then): one statement."""
    if not system_ids:
        return {}
    return dict(session.execute(select(System.id, System.name).where(System.id.in_(system_ids))).all())
