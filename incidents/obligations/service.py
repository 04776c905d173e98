"""Obligations of an incident: choosing regimes, recording anchors, recomputing, filing.

Every change writes a timeline entry in the same transaction (the audit recorder picks up the rows
by itself). Services flush; the web request commits.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.orm import Session, joinedload
from werkzeug.utils import secure_filename

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import FieldError, NotFound
from incidents.impact.models import ImpactUpdate
from incidents.incident.models import Incident
from incidents.ledger.figures import figures_of, residents_in
from incidents.notices.models import NoticeVersion
from incidents.obligations.deadlines import Deadline, compute, threshold_state
from incidents.obligations.models import PENDING, IncidentRegime, Obligation, ObligationAnchor, ObligationStatus
from incidents.obligations.rules import CONTRACTS, RECORDED_ANCHORS, SENT_PREFIX, Rule, RuleBook, rule_book
from incidents.paging import PAGE_SIZE, Cursor
from incidents.timeline.models import EntryKind
from incidents.timeline.service import add_entry

if TYPE_CHECKING:
    from incidents.incident.page import IncidentPage

STAMP = "%Y-%m-%d %H:%M UTC"


def _stamp(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime(STAMP) if value else "no fixed time"


# --- reading ---------------------------------------------------------------------------------------

def recorded_anchors(*, session: Session, incident: Incident) -> dict[str, ObligationAnchor]:
    """The moments this feature recorded for the incident, by kind."""
    rows = session.scalars(select(ObligationAnchor).where(ObligationAnchor.incident_id == incident.id))
    return {row.kind: row for row in rows}


def obligations_of(*, session: Session, incident: Incident) -> list[Obligation]:
    """The incident's obligations: open ones soonest first (no fixed time last), then the rest."""
    rows = list(session.scalars(select(Obligation).where(Obligation.incident_id == incident.id)
                                .options(joinedload(Obligation.filed_by))))
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(rows, key=lambda o: (not o.status.is_open, o.due_at or far, o.rule_id))


def chosen_regimes(*, session: Session, incident: Incident) -> dict[str, IncidentRegime]:
    """The regimes chosen for the incident, by id."""
    rows = session.scalars(select(IncidentRegime).where(IncidentRegime.incident_id == incident.id))
    return {row.regime: row for row in rows}


def suggested_regimes(*, incident: Incident, rules: RuleBook) -> list[str]:
    """Regimes that usually apply given what the incident records (personal data involved)."""
    return [rid for rid, regime in rules.regimes.items()
            if "personal_data" in regime.suggest_when and incident.personal_data]


def anchor_moments(*, session: Session, incident: Incident) -> dict[str, datetime | None]:
    """Every moment a rule may count from: the incident's, the recorded ones, and filings (sent:<rule>)."""
    moments: dict[str, datetime | None] = {"aware": incident.aware_at, "resolved": incident.resolved_at}
    moments |= {kind: row.at for kind, row in recorded_anchors(session=session, incident=incident).items()}
    for obligation in session.scalars(select(Obligation).where(Obligation.incident_id == incident.id)):
        if obligation.filed_at is not None:
            moments[SENT_PREFIX + obligation.rule_id] = obligation.filed_at
    return moments


def _affected_history(session: Session, incident: Incident) -> list[tuple[datetime, int]]:
    rows = session.execute(select(ImpactUpdate.as_of, ImpactUpdate.customers_affected)
                           .where(ImpactUpdate.incident_id == incident.id))
    return [(as_of, affected) for as_of, affected in rows]


def _ledger_residents(ledger, rules: RuleBook, regime_id: str) -> list[tuple[datetime, int]] | None:
    """With an affected-customer ledger, a regime counts the customers living in its jurisdiction
    (as of now: the ledger keeps no history of where its counts stood)."""
    regime = rules.regimes.get(regime_id)
    if not ledger.exists or regime is None or regime.jurisdiction == CONTRACTS.jurisdiction:
        return None
    return [(utcnow(), residents_in(ledger, regime.jurisdiction))]


def deadline_of(*, session: Session, incident: Incident, rule: Rule) -> Deadline:
    """The rule's deadline for this incident as things stand."""
    return compute(rule, anchor_moments(session=session, incident=incident))


# --- recomputing -----------------------------------------------------------------------------------

def sync_obligations(*, session: Session, actor: User | None, incident: Incident, rules: RuleBook) -> list[str]:
    """Bring the incident's obligations in line with its regimes, anchors and counts.

    New obligations appear (a threshold crossed says when), open deadlines are recomputed, and a
    pending one whose threshold no longer holds becomes not required. Returns what changed, in words.
    """
    changes: list[str] = []
    existing = {o.rule_id: o for o in session.scalars(select(Obligation).where(Obligation.incident_id == incident.id))}
    history = _affected_history(session, incident)
    ledger = figures_of(session=session, incident_id=incident.id)
    for regime_id, chosen in chosen_regimes(session=session, incident=incident).items():
        counts = [(chosen.chosen_at, chosen.residents)] if chosen.residents is not None else \
            _ledger_residents(ledger, rules, regime_id) or history
        for rule in rules.rules_of(regime_id):
            changes += _sync_one(session, incident, rule, existing.get(rule.id), counts)
    if changes:
        add_entry(session=session, incident=incident, author=actor, kind=EntryKind.decision,
                  body="Notification obligations recomputed:\n\n" + "\n".join(f"- {c}" for c in changes))
    return changes


def follow_incident_changes(*, session: Session, actor: User, incident: Incident, rules: RuleBook) -> list[str]:
    """Called in the same transaction as any change a clock may count from (the incident's moments,
    its status, new impact figures): deadlines move and thresholds crossed add obligations at once,
    with no one having to press "Recheck". Costs one query when no regime is chosen."""
    if not chosen_regimes(session=session, incident=incident):
        return []
    return sync_obligations(session=session, actor=actor, incident=incident, rules=rules)


def recheck(*, session: Session, actor: User, incident: Incident, rules: RuleBook) -> list[str]:
    """Recompute on request (after new impact figures, say); the timeline notes who checked, even
    when nothing changed, since "we checked the clocks" is itself worth recording."""
    changes = sync_obligations(session=session, actor=actor, incident=incident, rules=rules)
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.decision,
              body=f"Notification obligations rechecked by {actor.display}: "
                   + (f"{len(changes)} change(s), listed above." if changes else "nothing changed."))
    return changes


def _sync_one(session: Session, incident: Incident, rule: Rule, obligation: Obligation | None,
              counts: list[tuple[datetime, int]]) -> list[str]:
    applies = threshold_state(rule.thresholds, counts)
    if not applies.met:
        if obligation is not None and obligation.status.is_open and rule.thresholds:
            obligation.status = ObligationStatus.not_required
            obligation.reason = f"Threshold no longer met ({', '.join(t.words for t in rule.thresholds)})."
            return [f"**{rule.title}** ({rule.regime.name}) no longer applies: the count is {applies.count}."]
        return []
    deadline = deadline_of(session=session, incident=incident, rule=rule)
    if obligation is None:
        obligation = Obligation(incident_id=incident.id, rule_id=rule.id, regime=rule.regime.id,
                                status=ObligationStatus.pending, due_at=deadline.due_at,
                                anchor_at=deadline.anchor_at, triggered_at=applies.since, reference="", reason="")
        session.add(obligation)
        session.flush()
        why = f", triggered {_stamp(applies.since)} ({', '.join(t.words for t in rule.thresholds)})" \
            if rule.thresholds else ""
        return [f"**{rule.title}** ({rule.regime.name}) added: due {_due_words(deadline)}{why}."]
    if not obligation.status.is_open or (obligation.due_at, obligation.anchor_at) == (deadline.due_at,
                                                                                      deadline.anchor_at):
        return []
    old = obligation.due_at
    obligation.due_at, obligation.anchor_at = deadline.due_at, deadline.anchor_at
    if old == deadline.due_at:
        return []
    return [f"**{rule.title}** ({rule.regime.name}) moved: {_stamp(old)} → **{_due_words(deadline)}**."]


def _due_words(deadline: Deadline) -> str:
    if deadline.state == "due":
        return _stamp(deadline.due_at)
    if deadline.state == "no_fixed_clock":
        return "without undue delay (no fixed clock)"
    return f"once “{deadline.waiting_for}” is recorded"


# --- changing ------------------------------------------------------------------------------------

def _check_past(at: datetime | None, *, field: str, what: str) -> datetime:
    if at is None:
        raise FieldError(f"Give the date and time {what} (UTC).", field=field)
    if at > utcnow():
        raise FieldError(f"{what[0].upper() + what[1:]} cannot be in the future; give the moment it happened "
                              f"(now is {utcnow():%Y-%m-%d %H:%M} UTC).", field=field)
    return at


def set_anchor(*, session: Session, actor: User, incident: Incident, rules: RuleBook, kind: str,
               at: datetime | None) -> list[str]:
    """Record (or correct) when a clock-starting moment happened; recompute and say what moved."""
    if kind not in RECORDED_ANCHORS:
        raise FieldError("Choose one of the listed moments.", field="kind")
    at = _check_past(at, field="at", what="the moment")
    row = recorded_anchors(session=session, incident=incident).get(kind)
    label = RECORDED_ANCHORS[kind]
    if row is not None and row.at == at:
        raise FieldError(f"{label} is already recorded at {_stamp(at)}.", field="at")
    before = _stamp(row.at) if row else None
    if row is None:
        session.add(ObligationAnchor(incident_id=incident.id, kind=kind, at=at, set_by=actor))
    else:
        row.at, row.set_by, row.set_at = at, actor, utcnow()
    session.flush()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.decision,
              body=f"{label}: " + (f"{before} → **{_stamp(at)}**." if before else f"**{_stamp(at)}**."))
    return sync_obligations(session=session, actor=actor, incident=incident, rules=rules)


def choose_regimes(*, session: Session, actor: User, incident: Incident, rules: RuleBook, regimes: list[str],
                   residents: dict[str, int | None] | None = None) -> list[str]:
    """Set which regimes apply; open obligations of a regime no longer chosen become not required."""
    unknown = sorted(set(regimes) - set(rules.regimes))
    if unknown:
        raise FieldError(f"Unknown regime: {', '.join(unknown)}. Choose from the list.", field="regimes")
    residents = residents or {}
    chosen = chosen_regimes(session=session, incident=incident)
    notes = []
    for regime_id in sorted(set(regimes) - set(chosen)):
        session.add(IncidentRegime(incident_id=incident.id, regime=regime_id, residents=residents.get(regime_id),
                                   chosen_by_id=actor.id))
        notes.append(f"{rules.regimes[regime_id].name} applies")
    for regime_id, row in chosen.items():
        if regime_id in regimes and regime_id in residents and row.residents != residents[regime_id]:
            row.residents, row.chosen_at = residents[regime_id], utcnow()
            notes.append(f"{rules.regimes[regime_id].name}: {residents[regime_id]} residents affected")
    for regime_id in sorted(set(chosen) - set(regimes)):
        session.delete(chosen[regime_id])
        name = rules.regimes[regime_id].name if regime_id in rules.regimes else regime_id
        notes.append(f"{name} no longer applies")
        for obligation in session.scalars(select(Obligation).where(Obligation.incident_id == incident.id,
                                                                   Obligation.regime == regime_id)):
            if obligation.status.is_open:
                obligation.status = ObligationStatus.not_required
                obligation.reason = f"{name} was judged not to apply, by {actor.display}."
    if not notes:
        return []
    session.flush()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.decision,
              body="Notification regimes: " + "; ".join(notes) + ".")
    return notes + sync_obligations(session=session, actor=actor, incident=incident, rules=rules)


def get_obligation(*, session: Session, incident: Incident, obligation_id: int) -> Obligation:
    obligation = session.get(Obligation, obligation_id)
    if obligation is None or obligation.incident_id != incident.id:
        raise NotFound("No such obligation.")
    return obligation


def attachment_max() -> int:
    """Bytes a proof of sending may have (config OBLIGATION_ATTACHMENT_MAX; requests stop at 2 MB)."""
    return current_app.config["OBLIGATION_ATTACHMENT_MAX"]


@dataclass
class Attachment:
    name: str
    data: bytes


@dataclass
class Filing:
    filed_at: datetime | None
    reference: str = ""
    notice_version_id: int | None = None
    reason: str = ""
    attachment: Attachment | None = None


def file_obligation(*, session: Session, actor: User, incident: Incident, rules: RuleBook, obligation: Obligation,
                    filing: Filing) -> Obligation:
    """Record that the obligation was met: when, the reference, the notice version sent. After the
    due time it is filed late, which needs the reason."""
    rule = rules.rules.get(obligation.rule_id)
    if not obligation.status.is_open:
        raise FieldError(f"It is already {obligation.status.label.lower()}.", field="filed_at")
    filed_at = _check_past(filing.filed_at, field="filed_at", what="the time it was sent")
    if obligation.anchor_at is not None and filed_at < obligation.anchor_at:
        raise FieldError(f"It cannot have been sent before the moment it counts from "
                              f"({_stamp(obligation.anchor_at)}).", field="filed_at")
    version = None
    if filing.notice_version_id:
        version = session.get(NoticeVersion, filing.notice_version_id)
        if version is None or version.notice.incident_id != incident.id:
            raise FieldError("Choose one of this incident's notice versions.", field="notice_version")
    late = obligation.due_at is not None and filed_at > obligation.due_at
    reason = filing.reason.strip()
    if late and not reason:
        raise FieldError(f"It was due {_stamp(obligation.due_at)}: say why it was late "
                              "(the regulator asks for the reasons).", field="reason")
    obligation.status = ObligationStatus.late if late else ObligationStatus.filed
    obligation.filed_at, obligation.filed_by = filed_at, actor
    obligation.reference, obligation.notice_version_id = filing.reference.strip(), version.id if version else None
    obligation.reason = reason
    if filing.attachment is not None:
        _attach(obligation, filing.attachment)
    session.flush()
    title = rule.title if rule else obligation.rule_id
    body = (f"Obligation **{title}** filed {_stamp(filed_at)} by {actor.display}"
            + (f", reference {obligation.reference}" if obligation.reference else "")
            + (f" (late: due {_stamp(obligation.due_at)})" if late else "") + ".")
    if reason:
        body += f"\n\n{reason}"
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.communication, body=body)
    # Filing starts the clocks of the reports that follow (NIS2 final report, DORA intermediate).
    sync_obligations(session=session, actor=actor, incident=incident, rules=rules)
    return obligation


def _attach(obligation: Obligation, attachment: Attachment) -> None:
    if not attachment.data:
        raise FieldError("The file is empty.", field="attachment")
    if len(attachment.data) > attachment_max():
        raise FieldError(f"Attach at most {attachment_max() // 1000:,} kB.", field="attachment")
    # Only the name's safe characters are kept: it comes back in a download header.
    obligation.attachment_name = secure_filename(attachment.name)[:200] or "proof-of-sending"
    obligation.attachment_size, obligation.attachment = len(attachment.data), attachment.data


def attachment_of(*, session: Session, incident: Incident, obligation_id: int) -> tuple[str, bytes]:
    """The file kept with a filing: its name and bytes (NotFound when there is none)."""
    obligation = get_obligation(session=session, incident=incident, obligation_id=obligation_id)
    if obligation.attachment is None:
        raise NotFound("No file was kept with this filing.")
    return obligation.attachment_name or "proof-of-sending", obligation.attachment


def mark_not_required(*, session: Session, actor: User, incident: Incident, rules: RuleBook,
                      obligation: Obligation, reason: str, exemption: str = "") -> Obligation:
    """Record that the obligation does not apply, and why (an exemption of the rule, or words)."""
    rule = rules.rules.get(obligation.rule_id)
    if not obligation.status.is_open:
        raise FieldError(f"It is already {obligation.status.label.lower()}.", field="explanation")
    if exemption and (rule is None or exemption not in rule.exemptions):
        raise FieldError("Choose one of the rule's exemptions.", field="exemption")
    why = "\n\n".join(part for part in (exemption, (reason or "").strip()) if part)
    if not why:
        raise FieldError("Say why it is not required (e.g. the data was encrypted).", field="explanation")
    obligation.status, obligation.reason = ObligationStatus.not_required, why
    session.flush()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.decision,
              body=f"Obligation **{rule.title if rule else obligation.rule_id}** marked not required by "
                   f"{actor.display}. Reason:\n\n{why}")
    return obligation


# --- filing by releasing a notice ------------------------------------------------------------------

# Who hears from a notice to each audience: a customer notice tells the people affected; a notice to a
# regulator or partner goes to an authority or an attorney general.
RECIPIENTS_OF_AUDIENCE = {"customers": ("individuals", "customers"), "regulator": ("authority", "attorney_general")}


def fileable_by_release(*, session: Session, incident: Incident, rules: RuleBook,
                        audience: str) -> list[tuple[Obligation, Rule]]:
    """The pending obligations a notice to this audience can meet."""
    recipients = RECIPIENTS_OF_AUDIENCE.get(audience, ())
    return [(o, rules.rules[o.rule_id]) for o in obligations_of(session=session, incident=incident)
            if o.status.is_open and o.rule_id in rules.rules and rules.rules[o.rule_id].recipient in recipients]


def file_by_release(*, session: Session, actor: User, incident: Incident, rules: RuleBook, audience: str,
                    obligation_ids: list[int], notice_version_id: int, released_at: datetime,
                    reason: str) -> list[Obligation]:
    """File the chosen obligations as met by the notice version just released, at the moment of the
    release and in its transaction; a late one needs the reason, like any filing."""
    fileable = {o.id: o for o, _rule in fileable_by_release(session=session, incident=incident, rules=rules,
                                                             audience=audience)}
    filed = []
    for obligation_id in obligation_ids:
        obligation = fileable.get(obligation_id)
        if obligation is None:
            raise FieldError("That obligation is no longer pending for this audience; reload the page.",
                             field="file_obligations")
        late = obligation.due_at is not None and released_at > obligation.due_at
        filed.append(file_obligation(session=session, actor=actor, incident=incident, rules=rules,
                                     obligation=obligation, filing=Filing(
                                         filed_at=released_at, notice_version_id=notice_version_id,
                                         reason=reason if late else "")))
    return filed


@dataclass(frozen=True)
class ChecklistGroup:
    """What one obligation's rule says a notice must carry: (key, text) per item."""

    title: str
    regime: str
    items: list[tuple[str, str]]


def checklist_key(rule_id: str, item: str) -> str:
    """A stable key for one checklist item: rewording the item in the rules file asks again."""
    return f"{rule_id}:{hashlib.sha256(item.encode()).hexdigest()[:12]}"


def notice_checklist(*, session: Session, incident: Incident, rules: RuleBook, audience: str) -> list[ChecklistGroup]:
    """The content the law asks of a notice to this audience, from the incident's obligations it can
    meet (pending or filed; not those judged not required)."""
    recipients = RECIPIENTS_OF_AUDIENCE.get(audience, ())
    groups = []
    for obligation in obligations_of(session=session, incident=incident):
        rule = rules.rules.get(obligation.rule_id)
        if rule is None or rule.recipient not in recipients or not rule.content \
                or obligation.status is ObligationStatus.not_required:
            continue
        groups.append(ChecklistGroup(title=rule.title, regime=rule.regime.name,
                                     items=[(checklist_key(rule.id, item), item) for item in rule.content]))
    return groups


# --- outcomes (the incident's obligations page and the executive report) ---------------------------

@dataclass(frozen=True)
class Outcome:
    """Where one obligation stands, in words a reader of the executive report needs."""

    title: str
    regime: str
    recipient: str
    due_at: datetime | None
    filed_at: datetime | None
    time_to_notify: timedelta | None  # filed − the moment the clock counted from
    verdict: str  # Met, Missed, Overdue, Pending, Not required
    reason: str


def outcome_of(obligation: Obligation, rule: Rule | None, *, now: datetime) -> Outcome:
    """The verdict on one obligation: met or missed once filed, overdue or pending while open."""
    if obligation.status is ObligationStatus.not_required:
        verdict = "Not required"
    elif obligation.filed_at is not None:
        verdict = "Missed" if obligation.status is ObligationStatus.late else "Met"
    else:
        verdict = "Overdue" if obligation.is_overdue(now) else "Pending"
    took = obligation.filed_at - obligation.anchor_at if obligation.filed_at and obligation.anchor_at else None
    return Outcome(title=rule.title if rule else obligation.rule_id,
                   regime=rule.regime.name if rule else obligation.regime,
                   recipient=rule.recipient_label if rule else "", due_at=obligation.due_at,
                   filed_at=obligation.filed_at, time_to_notify=took, verdict=verdict, reason=obligation.reason)


def outcomes(*, session: Session, incident: Incident, rules: RuleBook, now: datetime) -> list[Outcome]:
    """Every obligation of the incident with its verdict, open ones soonest first."""
    return [outcome_of(o, rules.rules.get(o.rule_id), now=now)
            for o in obligations_of(session=session, incident=incident)]


# --- the incident page -------------------------------------------------------------------------

NEXT_ON_PAGE = 3


def incident_panel(page: IncidentPage) -> dict:
    """The incident page's countdown: the next open deadlines, how many are overdue, and whether
    regimes are chosen at all (a personal-data incident without any is itself a warning)."""
    rules = rule_book()
    pending = [o for o in page.once(obligations_of) if o.status.is_open]
    return {"deadlines": SimpleNamespace(
        next=[(o, rules.rules.get(o.rule_id)) for o in pending[:NEXT_ON_PAGE]],
        more=max(0, len(pending) - NEXT_ON_PAGE),
        overdue=sum(1 for o in pending if o.is_overdue(page.now)),
        any=bool(page.once(obligations_of)))}


# --- across incidents ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Undated:
    """Where a page of deadlines ends among the obligations without a due time (listed last, by id)."""

    row_id: int

    def encode(self) -> str:
        return f"undated~{self.row_id}"

    @classmethod
    def decode(cls, raw: str | None) -> Undated | None:
        kind, _, row_id = (raw or "").partition("~")
        if kind == "undated" and row_id.isascii() and row_id.isdigit() and 0 < int(row_id) < 2**31:
            return cls(int(row_id))
        return None


def deadline_cursor(obligation: Obligation) -> Cursor | Undated:
    return Cursor(obligation.due_at, obligation.id) if obligation.due_at else Undated(obligation.id)


def open_deadlines(*, session: Session, limit: int = PAGE_SIZE,
                   after: Cursor | Undated | None = None) -> list[Obligation]:
    """A page of the pending obligations of every incident, soonest due first, those without a fixed
    time last, after the cursor: each part a range of the pending obligations' own index."""
    pending = (select(Obligation).where(text(f"obligation.{PENDING}"))  # the partial index's words
               .options(joinedload(Obligation.incident)))
    rows: list[Obligation] = []
    if not isinstance(after, Undated):
        dated = pending.where(Obligation.due_at.is_not(None))
        if after is not None:
            dated = dated.where(after.above(Obligation.due_at, Obligation.id))
        rows = list(session.scalars(dated.order_by(Obligation.due_at, Obligation.id).limit(limit)))
    if len(rows) < limit:
        undated = pending.where(Obligation.due_at.is_(None))
        if isinstance(after, Undated):
            undated = undated.where(Obligation.id > after.row_id)
        rows += session.scalars(undated.order_by(Obligation.id).limit(limit - len(rows)))
    return rows

