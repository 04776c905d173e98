"""The three payloads an intake takes, checked by pydantic and read into one `Notification`.

- Prometheus Alertmanager's webhook, payload version 4 (notify/webhook in Alertmanager): `version`
  "4", `groupKey`, `status` firing|resolved, `receiver`, `groupLabels`, `commonLabels`,
  `commonAnnotations`, `externalURL`, `truncatedAlerts` and `alerts[]` (`status`, `labels`,
  `annotations`, `startsAt`, `endsAt` — the zero time 0001-01-01 while firing —, `generatorURL`,
  `fingerprint`). Go writes times in RFC 3339 with up to nine decimals.
- Grafana alerting's webhook contact point: the same shape (its `version` is "1") plus `orgId`,
  `title`, `state`, `message`, and per alert `silenceURL`, `dashboardURL`, `panelURL`, `values`,
  `valueString`, `imageURL`.
- The generic intake: `title`, `status`, `dedup_key`, `description`, `link` (and `severity`).

Unknown fields of the two alerting tools are ignored (they add fields over time); the generic one,
which people write by hand, refuses them so a misspelt field is not silently dropped.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from incidents.intake.models import IntakeKind

MAX_ALERTS = 10_000
Text = Annotated[str, StringConstraints(max_length=20_000)]
Name = Annotated[str, StringConstraints(max_length=1_000)]
Labels = dict[Name, Text]
Status = Literal["firing", "resolved"]


def _utc(moment: datetime | None) -> datetime | None:
    """A time in UTC; Go's zero time (year 1: "not ended yet") is no time at all."""
    if moment is None or moment.year <= 1:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-05:00 lies past the last UTC datetime
        raise ValueError("That time is out of range.") from None


class _Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Status
    labels: Labels = {}
    annotations: Labels = {}
    startsAt: AwareDatetime  # noqa: N815 (the sender's field names)
    endsAt: AwareDatetime | None = None  # noqa: N815
    generatorURL: Text = ""  # noqa: N815
    fingerprint: Annotated[str, StringConstraints(max_length=200)] = ""

    @field_validator("startsAt", "endsAt", mode="before")
    @classmethod
    def _written_as_text(cls, value: object) -> object:
        # As the document says (a date-time string): pydantic would read a number as seconds
        # since 1970, and no alerting tool sends one.
        if value is not None and not isinstance(value, str):
            raise ValueError("A time is text: RFC 3339 with its zone, as the alerting tool writes it.")
        return value

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class _Group(BaseModel):
    model_config = ConfigDict(extra="ignore")

    groupKey: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]  # noqa: N815
    status: Status
    receiver: Text = ""
    groupLabels: Labels = {}  # noqa: N815
    commonLabels: Labels = {}  # noqa: N815
    commonAnnotations: Labels = {}  # noqa: N815
    externalURL: Text = ""  # noqa: N815
    truncatedAlerts: Annotated[StrictInt, Field(ge=0, le=1_000_000_000)] = 0  # noqa: N815 (not true/false)


class AlertmanagerPayload(_Group):
    version: Literal["4"]
    alerts: Annotated[list[_Alert], Field(min_length=1, max_length=MAX_ALERTS)]


class _GrafanaAlert(_Alert):
    silenceURL: Text = ""  # noqa: N815
    dashboardURL: Text = ""  # noqa: N815
    panelURL: Text = ""  # noqa: N815
    valueString: Text = ""  # noqa: N815
    values: dict[Name, float | None] | None = None


class GrafanaPayload(_Group):
    version: Annotated[str, StringConstraints(max_length=20)] = "1"
    orgId: StrictInt | None = None  # noqa: N815
    title: Text = ""
    state: Annotated[str, StringConstraints(max_length=40)] = ""
    message: Text = ""
    alerts: Annotated[list[_GrafanaAlert], Field(min_length=1, max_length=MAX_ALERTS)]


class GenericPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    status: Status
    dedup_key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] | None = None
    description: Annotated[str, StringConstraints(max_length=10_000)] = ""
    link: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    severity: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None

    @field_validator("link")
    @classmethod
    def _web_link(cls, value: str) -> str:
        from incidents.forms import url_problem

        if value and (problem := url_problem(value)):
            raise ValueError(problem)
        return value


PAYLOADS: dict[IntakeKind, type[BaseModel]] = {IntakeKind.alertmanager: AlertmanagerPayload,
                                                IntakeKind.grafana: GrafanaPayload,
                                                IntakeKind.generic: GenericPayload}


@dataclass(frozen=True)
class Alert:
    """One alert of a notification, whichever tool sent it."""

    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    link: str = ""
    fingerprint: str = ""
    value: str = ""  # Grafana's valueString: the query's values when it fired
    dashboard: str = ""
    name: str = ""  # the generic intake's title (alerting tools name alerts by their labels)
    note: str = ""  # the generic intake's description

    @property
    def identity(self) -> str:
        """The sender's fingerprint, or one made of the labels when it sent none."""
        return self.fingerprint or _sha256(json.dumps(sorted(self.labels.items())))[:16]


@dataclass(frozen=True)
class Notification:
    """A delivery read: one alert group's state, and the facts an intake needs from it."""

    kind: IntakeKind
    group_key: str
    status: str
    alerts: tuple[Alert, ...]
    group_labels: dict[str, str] = field(default_factory=dict)
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)
    title: str = ""  # Grafana's rendered title, or the generic title
    message: str = ""  # the generic description
    link: str = ""  # Alertmanager's or Grafana's external URL, or the generic link
    truncated: int = 0  # alerts the sender left out (max_alerts)

    @property
    def group_hash(self) -> str:
        return _sha256(self.group_key)

    @property
    def fingerprint(self) -> str:
        """What makes a delivery the same as another: the group, its status and each alert's
        identity, status and times (in any order). Alertmanager re-sends exactly this."""
        alerts = sorted((a.identity, a.status, _iso(a.starts_at), _iso(a.ends_at)) for a in self.alerts)
        return _sha256(json.dumps([self.kind.value, self.group_key, self.status, alerts]))

    def content_fingerprint(self, since: int) -> str:
        """The generic intake's fingerprint: its fields, and the last delivery of the group with the
        other status (`since`, 0 for none). The same report sent again is a duplicate; sent again
        after the group resolved, it is a new firing."""
        alert = self.alerts[0]
        return _sha256(json.dumps([self.kind.value, self.group_key, self.status, self.title, self.message,
                                   self.link, sorted(alert.labels.items()), since]))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def read(kind: IntakeKind, payload: BaseModel) -> Notification:
    """The notification a checked payload stands for."""
    if isinstance(payload, GenericPayload):
        return _generic(payload)
    assert isinstance(payload, AlertmanagerPayload | GrafanaPayload)
    grafana = isinstance(payload, GrafanaPayload)
    alerts = tuple(Alert(status=a.status, labels=dict(a.labels), annotations=dict(a.annotations),
                         starts_at=a.startsAt, ends_at=a.endsAt, link=a.generatorURL, fingerprint=a.fingerprint,
                         value=getattr(a, "valueString", ""), dashboard=getattr(a, "dashboardURL", ""))
                   for a in payload.alerts)
    return Notification(kind=kind, group_key=payload.groupKey, status=payload.status, alerts=alerts,
                        group_labels=dict(payload.groupLabels), common_labels=dict(payload.commonLabels),
                        common_annotations=dict(payload.commonAnnotations),
                        title=payload.title if grafana else "", link=payload.externalURL,
                        truncated=payload.truncatedAlerts)


def _generic(payload: GenericPayload) -> Notification:
    labels = {"severity": payload.severity} if payload.severity else {}
    alert = Alert(status=payload.status, labels=labels, annotations={}, link=payload.link, name=payload.title,
                  note=payload.description, fingerprint=_sha256(payload.dedup_key or payload.title)[:16])
    return Notification(kind=IntakeKind.generic, group_key=payload.dedup_key or payload.title, status=payload.status,
                        alerts=(alert,), common_labels=labels, title=payload.title, message=payload.description,
                        link=payload.link)
