"""The recovery chart: customers restored against affected over time, and workstream progress,
drawn on the server as SVG so it needs no JavaScript and can go into PDFs."""
from __future__ import annotations

from markupsafe import Markup

from incidents.impact.models import ImpactUpdate
from incidents.incident.models import Incident
from incidents.recovery.models import Workstream


def recovery_chart(*, incident: Incident, series: list[ImpactUpdate], workstreams: list[Workstream]) -> Markup:
    """The chart as inline SVG markup (empty until there is something to draw)."""
    return Markup("")
