"""Every model, imported in one place so the metadata (and Alembic) always sees all tables."""
from incidents.actions.models import ActionItem  # noqa: F401
from incidents.api.models import AccessToken  # noqa: F401
from incidents.audit.models import AuditEvent  # noqa: F401
from incidents.auth.models import LoginSession, User  # noqa: F401
from incidents.idempotency import IdempotencyKey  # noqa: F401
from incidents.impact.models import CategoryImpact, ImpactUpdate  # noqa: F401
from incidents.incident.models import Incident, ReferenceCounter  # noqa: F401
from incidents.intake.models import AlertGroup, Intake, IntakeDelivery  # noqa: F401
from incidents.jobs.models import BackgroundJob, PeriodicRun  # noqa: F401
from incidents.ledger.models import (  # noqa: F401
    LedgerCustomer,
    LedgerFigure,
    LedgerImport,
    LedgerImportProblem,
    LedgerItem,
    LedgerNotificationBatch,
    LedgerPurge,
    LedgerStagingRow,
    LedgerUploadChunk,
)
from incidents.maintenance.models import Maintenance, MaintenanceComponent, MaintenanceUpdate  # noqa: F401
from incidents.notices.models import Notice, NoticeRelease, NoticeVersion  # noqa: F401
from incidents.obligations.models import IncidentRegime, Obligation, ObligationAnchor  # noqa: F401
from incidents.postmortem.models import Postmortem, PostmortemApproval, PostmortemReviewer, PostmortemVersion  # noqa: F401
from incidents.recovery.models import Workstream, WorkstreamProgress  # noqa: F401
from incidents.status.models import Component, ComponentStatusChange, IncidentComponent, UpdateComponent  # noqa: F401
from incidents.status.public_status import refresh as _keep_public_status  # noqa: F401 (a session hook)
from incidents.subscribers.models import Announcement, Delivery, Subscriber, SubscriberComponent  # noqa: F401
from incidents.systems.models import (  # noqa: F401
    BackupReport,
    IncidentSystem,
    ReportToken,
    RestoreTest,
    System,
    SystemState,
)
from incidents.timeline.models import TimelineEntry, TimelinePin  # noqa: F401
from incidents.webhooks.models import WebhookAttempt, WebhookMarker, WebhookMessage, WebhookSubscription  # noqa: F401
