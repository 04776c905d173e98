"""Every model, imported in one place so the metadata (and Alembic) always sees all tables."""
from incidents.auth.models import LoginSession, User  # noqa: F401
from incidents.impact.models import CategoryImpact, ImpactUpdate  # noqa: F401
from incidents.incident.models import Incident, ReferenceCounter  # noqa: F401
from incidents.recovery.models import Workstream, WorkstreamProgress  # noqa: F401
from incidents.timeline.models import TimelineEntry, TimelinePin  # noqa: F401
from incidents.status.models import Component, IncidentComponent, UpdateComponent  # noqa: F401
