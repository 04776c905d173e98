"""Who the documents come from and how readers reach us: app config, else environment, else defaults."""
from __future__ import annotations

import os

from flask import current_app

DEFAULTS = {
    # Shown on notices and reports; set them for your organisation.
    "ORGANISATION_NAME": "Skylark Sync",
    "NOTICE_CONTACT": ("E-mail **support@example.com** or call **+1 555 0100** (every day, 08:00–22:00 UTC). "
                       "Updates: the status page at **status.example.com**."),
    "REPORT_CONFIDENTIALITY": "Confidential: internal use only",
    "PDF_RENDER_TIMEOUT": "90",  # seconds; a 2,000-entry full timeline takes about 30 s here
}


def setting(name: str) -> str:
    value = current_app.config.get(name) or os.environ.get(name)
    return str(value) if value else DEFAULTS[name]


def render_timeout() -> float:
    try:
        return max(0.001, float(setting("PDF_RENDER_TIMEOUT")))
    except ValueError:
        return float(DEFAULTS["PDF_RENDER_TIMEOUT"])
