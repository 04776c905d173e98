"""The responses a made (or refused) PDF becomes, for every feature that offers PDFs."""
from __future__ import annotations

import re

from flask import Response, current_app, render_template

from incidents.reports.capacity import RendersBusy
from incidents.reports.render import RenderError, RenderTimeout


def pdf_response(pdf: bytes, filename: str) -> Response:
    """A PDF download; the file name is reduced to safe characters."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", filename)[:120]
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response


def render_failed(error: RenderError):
    """A clear page instead of a server error when a PDF cannot be made."""
    if isinstance(error, RendersBusy):
        page = render_template("errors/error.html", code=503, title="Too many PDFs are being made right now",
                               message=f"{error} Nothing is wrong with this document: try the download again "
                                       f"in {error.retry_after} seconds. The HTML preview works meanwhile.")
        return page, 503, {"Retry-After": str(error.retry_after)}
    current_app.logger.warning("PDF not made: %s", error)
    message = str(error) if isinstance(error, RenderTimeout) else \
        "The PDF could not be made from this document."
    return render_template("errors/error.html", code=503, title="The PDF could not be made",
                           message=message + " The HTML preview still works; try the download again "
                                             "in a minute, and tell an admin if it keeps failing."), 503
