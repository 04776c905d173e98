"""A notice version as documents: the HTML (preview and PDF source), plain text for e-mail, PDF."""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from html.parser import HTMLParser

from flask import current_app, render_template
from markupsafe import Markup

from incidents.db import utcnow
from incidents.notices.models import Notice, NoticeVersion
from incidents.reports.render import PdfResult, render_pdf, static_folder_of
from incidents.reports.settings import render_timeout, setting
from incidents.templating import iso

WIDTH = 72  # plain-text line length for e-mail


@dataclass(frozen=True)
class NoticeDocument:
    """What a notice document shows: only the version's own text and facts about the notice."""

    subject: str
    body_html: Markup
    audience: str
    version: int
    state: str  # "Draft", "Approved", "Released"
    dated: str  # the date the notice carries
    organisation: str
    contact_html: Markup
    contact_text: str


def document_for(notice: Notice, version: NoticeVersion) -> NoticeDocument:
    """Built from the version and settings only: no incident field is read here."""
    from incidents.markdown import render_markdown

    state = "Released" if version.releases else "Approved" if version.approved_at else "Draft"
    moment = version.releases[0].released_at if version.releases else version.approved_at or version.created_at
    contact = setting("NOTICE_CONTACT")
    return NoticeDocument(
        subject=version.subject, body_html=version.html, audience=notice.audience.label,
        version=version.number, state=state, dated=f"{moment.day} {moment:%B %Y}",
        organisation=setting("ORGANISATION_NAME"), contact_html=render_markdown(contact),
        contact_text=html_to_text(str(render_markdown(contact))))


def notice_html(doc: NoticeDocument, *, for_pdf: bool = False, links: dict | None = None) -> str:
    """The standalone HTML document (the browser preview, and the PDF's source). `links` holds the
    preview toolbar's back_url, text_url and pdf_url."""
    return render_template("notices/document.html", doc=doc, for_pdf=for_pdf,
                           generated_iso=iso(utcnow()), **(links or {}))


def notice_text(doc: NoticeDocument) -> str:
    """Plain text for e-mail: subject, body, contact; wrapped at 72 characters."""
    parts = [doc.subject, "=" * min(WIDTH, len(doc.subject)), "", html_to_text(str(doc.body_html)), "",
             "How to reach us", "---------------", "", doc.contact_text, "", "-- ", doc.organisation]
    return "\n".join(parts).strip() + "\n"


def notice_pdf(doc: NoticeDocument) -> PdfResult:
    return render_pdf(notice_html(doc, for_pdf=True), static_folder=static_folder_of(current_app),
                      timeout=render_timeout())


class _TextWriter(HTMLParser):
    """Sanitised notice HTML to readable plain text (headings, lists, tables, links)."""

    BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "table", "tr", "blockquote",
              "pre", "hr", "dl", "dt", "dd"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.tight: dict[int, str] = {}  # list items and table rows: no blank line between them
        self.current: list[str] = []
        self.lists: list[list] = []  # [kind, counter]
        self.heading: str | None = None
        self.href: str | None = None
        self.link_text: list[str] = []
        self.cells: list[str] | None = None
        self.pre = False

    def _flush(self, prefix: str = "") -> None:
        text = "".join(self.current)
        self.current = []
        if not self.pre:
            text = re.sub(r"[ \t\r\f\v]+", " ", text).strip()
        if not text:
            return
        if self.heading:
            line = "=" if self.heading in ("h1", "h2") else "-"
            self.blocks.append(f"{text}\n{line * min(WIDTH, len(text))}")
            return
        if self.pre:
            self.blocks.append(text)
            return
        indent = "  " * max(0, len(self.lists) - 1)
        paragraphs = text.split("\n")
        wrapped = [textwrap.fill(p.strip(), WIDTH, initial_indent=indent + prefix,
                                 subsequent_indent=indent + " " * len(prefix)) for p in paragraphs if p.strip()]
        self.blocks.append("\n".join(wrapped))
        if prefix:
            self.tight[len(self.blocks) - 1] = "li"

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCKS or tag == "br":
            if tag == "br":
                self.current.append("\n")
                return
            self._flush()
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.heading = tag
        elif tag in ("ul", "ol"):
            self.lists.append([tag, _list_start(dict(attrs).get("start")) - 1])
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.link_text = []
        elif tag == "tr":
            self.cells = []
        elif tag in ("td", "th") and self.cells is not None:
            self.current = []
        elif tag == "pre":
            self.pre = True
        elif tag == "hr":
            self.blocks.append("-" * 20)

    def handle_endtag(self, tag):
        if tag == "li":
            kind = self.lists[-1] if self.lists else ["ul", 0]
            if kind[0] == "ol":
                kind[1] += 1
                self._flush(f"{kind[1]}. ")
            else:
                self._flush("- ")
        elif tag in ("td", "th") and self.cells is not None:
            self.cells.append(re.sub(r"\s+", " ", "".join(self.current)).strip())
            self.current = []
        elif tag == "tr" and self.cells is not None:
            self.blocks.append("  " + " | ".join(self.cells))
            self.tight[len(self.blocks) - 1] = "tr"
            self.cells = None
        elif tag == "a":
            text = "".join(self.link_text).strip()
            if self.href and self.href not in (text, f"mailto:{text}"):
                self.current.append(f" <{self.href}>")
            self.href = None
        elif tag in self.BLOCKS:
            self._flush()
            if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.heading = None
            elif tag in ("ul", "ol") and self.lists:
                self.lists.pop()
            elif tag == "pre":
                self.pre = False

    def handle_data(self, data):
        self.current.append(data)
        if self.href is not None:
            self.link_text.append(data)

    def text(self) -> str:
        self._flush()
        # List items and table rows sit together; every other block is a paragraph of its own.
        out: list[str] = []
        for n, block in enumerate(self.blocks):
            if out and n in self.tight and self.tight.get(n - 1) == self.tight[n]:
                out[-1] += "\n" + block
            else:
                out.append(block)
        return "\n\n".join(out)


def _list_start(value: str | None) -> int:
    """The number an <ol> starts at; 1 when the value is not a plain number (older stored HTML)."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else 1


def html_to_text(html: str) -> str:
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    return writer.text()
