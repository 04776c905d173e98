"""User Markdown to safe HTML: render with markdown-it-py, then sanitise the result with nh3.

Sanitising after rendering matters: Markdown passes raw HTML through and builds links from
user text, so only the final HTML can be trusted to be checked.

Why markdown-it-py and not Python-Markdown: Python-Markdown's time grows with the square of
some inputs ("[" x 4,000 took 1.7 s here, x 20,000 about 107 s) and a deep list raises
RecursionError; markdown-it-py is linear and caps nesting (README-PART.md has the numbers).
Linear is not cheap enough in pure Python, though: each Markdown mark costs ~10 µs, so text is
also weighed before its inline pass (`markdown_cost`) and refused beside the field, or shown as
plain text, past MARKDOWN_MAX_COST marks. A per-request memo lets a request render its posted
Markdown before it takes the database's write lock (`incidents/markdown_prerender.py`).
"""
from __future__ import annotations

import html as html_lib
import logging
import re
from dataclasses import dataclass

import nh3
from flask import current_app, g, has_app_context, has_request_context
from markdown_it import MarkdownIt
from markdown_it.rules_core import block, normalize
from markdown_it.rules_core.state_core import StateCore
from markupsafe import Markup

log = logging.getLogger(__name__)

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "a", "table", "thead", "tbody", "tr", "th", "td", "del", "s", "sup", "sub", "abbr", "dl", "dt", "dd",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
# The weight (see Cost) one text may have: about 45 ms of rendering at worst.
DEFAULT_MAX_COST = 4_000
# A list number: the plain-text e-mail parses it, and no real list starts past this.
_LIST_START = re.compile(r"[0-9]{1,9}")


def _parser() -> MarkdownIt:
    # CommonMark plus GitHub tables and ~~strike~~; "breaks" keeps single newlines as <br>
    # (what nl2br did); CommonMark lists already start anew when the marker changes (sane_lists).
    # maxNesting (20) bounds quotes and lists nested in each other: no recursion runs deep.
    parser = MarkdownIt("commonmark", {"breaks": True, "html": True}).enable(["table", "strikethrough"])
    # Let every link through to nh3, the one place that judges URLs: a link with an unsafe
    # target keeps its text (without href) instead of showing its Markdown source.
    parser.validateLink = lambda url: True
    return parser


_md = _parser()


@dataclass(frozen=True)
class Cost:
    """What one text asks of the renderer, in units of roughly 10 µs of the slowest work."""

    lines: int
    marks: int = 0
    links: int = 0
    blocks: int = 0
    references: int = 0
    depth: int = 0  # deepest block nesting (a list item in a list counts 2)

    @property
    def too_deep(self) -> bool:
        # At maxNesting markdown-it stops parsing and drops the rest: refuse rather than lose text.
        return self.depth >= _md.options["maxNesting"] - 2

    @property
    def total(self) -> int:
        # Weights measured with bench/markdown.py: a line costs about two marks, a "[" or "!"
        # twice another mark (link parsing), a reference definition ~8, a block token a quarter.
        return 2 * self.lines + self.marks + self.links + self.blocks // 4 + 8 * self.references


def max_cost() -> int:
    """The configured limit on `Cost.total` (MARKDOWN_MAX_COST)."""
    if has_app_context():
        return int(current_app.config.get("MARKDOWN_MAX_COST", DEFAULT_MAX_COST))
    return DEFAULT_MAX_COST


def markdown_cost(text: str, *, limit: int | None = None) -> Cost:
    """Weigh `text` from its block structure (linear, no inline pass): the work of rendering it.

    The inline pass, where the cost of Markdown lies, tries its rules only at terminator
    characters ([, *, _, `, <, ...) of each block's inline text and copies runs of other
    characters in one step; so the terminators in exactly the text it will see bound it. Lines
    are weighed first: past `limit` the block pass (~4 µs a line) is not even run.
    """
    lines = text.count("\n") + 1
    # Every reference definition has "]:"; they leave no token behind, so count them here.
    references = text.count("]:")
    if limit is not None and Cost(lines=lines, references=references).total > limit:
        return Cost(lines=lines, references=references)
    tokens = _block_tokens(text)
    terminators = _md.inline.terminator_re
    marks = links = 0
    for token in tokens:
        if token.type == "inline":
            found = terminators.findall(token.content)
            marks += len(found) - found.count("\n")
            links += found.count("[") + found.count("!")
    return Cost(lines=lines, marks=marks, links=links, blocks=len(tokens), references=references,
                depth=max((t.level for t in tokens), default=0))


def _block_tokens(text: str) -> list:
    """The block tokens of `text`, before the inline pass fills in their children."""
    state = StateCore(text, _md, {})
    normalize(state)
    block(state)
    return state.tokens


def cost_problem(text: str | None) -> str | None:
    """Why `text` is too intricate to render quickly, in the writer's words (None when it is fine)."""
    if not text:
        return None
    limit = max_cost()
    cost = markdown_cost(text, limit=limit)
    if cost.too_deep:
        return ("This text nests lists or quotes too deeply to show (lists more than 8 levels "
                "deep, or quotes more than 17). Flatten the deepest ones.")
    if cost.total <= limit:
        return None
    return (f"This text is too intricate to show quickly: it weighs {cost.total:,} against a limit of "
            f"{limit:,} ({cost.lines:,} lines, {cost.marks:,} Markdown marks such as [ * _ ` <). "
            "Remove some brackets, markers or line breaks, or shorten it.")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """Keep only attribute values that code reading this HTML later can parse."""
    if tag == "ol" and attribute == "start":
        return value if _LIST_START.fullmatch(value.strip()) else None
    return value


def sanitise(html: str) -> str:
    """The HTML with every tag, attribute and URL we do not allow removed."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        attribute_filter=_attribute_filter,
    )


def _plain(text: str) -> str:
    """Text shown as written, escaped, lines kept: linear and cannot fail."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    return "".join("<p>" + html_lib.escape(p).replace("\n", "<br>\n") + "</p>\n" for p in paragraphs)


def render_uncached(text: str) -> str:
    """Render `text` now (no memo): Markdown within the cost limit, plain text past it or on failure."""
    if cost_problem(text) is not None:
        return _plain(text)
    try:
        return sanitise(_md.render(text))
    except Exception:  # a page must never fail because of what someone wrote
        log.exception("Markdown render failed; showing the text as written")
        return _plain(text)


def render_markdown(text: str | None) -> Markup:
    """Render user Markdown to HTML that cannot run script, load images or style the page."""
    if not text:
        return Markup("")
    memo = g.get("markdown_memo") if has_request_context() else None
    if memo:
        if text in memo:
            return Markup(memo[text])
        # Services append posted text to a line of their own ("Impact updated ...\n\n<note>"):
        # blocks render on their own, so only the short lead-in is rendered here.
        lead, _sep, rest = text.partition("\n\n")
        if rest in memo:
            return Markup(render_uncached(lead) + memo[rest])
    return Markup(render_uncached(text))


def html_to_store(text: str | None) -> str:
    """The HTML to store beside `text` when a service writes it ('' for no text).

    Inside a request that posted the text this is a lookup in the prerendered memo, so the
    render cost stays outside the write transaction; pages then show the stored HTML.
    """
    return str(render_markdown(text))


def stored_html(html: str | None, text: str | None) -> Markup:
    """HTML stored at write time, or `text` rendered now for rows written before it was stored."""
    if html is not None:
        return Markup(html)
    return render_markdown(text)


# Where sanitised HTML ends a line or a paragraph, for its plain-text reading.
_PARAGRAPH_END = re.compile(r"</(?:p|h[1-6]|blockquote|pre|table|ul|ol|dl)>", re.I)
_LINE_END = re.compile(r"<br\s*/?>|</(?:li|tr|dt|dd)>", re.I)
_LIST_ITEM = re.compile(r"<li\b[^>]*>", re.I)


def plain_text(html: str) -> str:
    """What sanitised HTML says, as plain text: Markdown marks gone, paragraphs kept apart by a
    blank line, list items on lines of their own (the Statuspage API's update `body`)."""
    html = html.replace(">\n", ">")  # the renderer's own line ends between tags say nothing
    marked = _LIST_ITEM.sub("- ", _LINE_END.sub("\n", _PARAGRAPH_END.sub("\n\n", html)))
    text = html_lib.unescape(nh3.clean(marked, tags=set()))
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def prerender(texts) -> None:
    """Render `texts` into this request's memo, so later calls answer without rendering."""
    memo = g.setdefault("markdown_memo", {})
    for text in texts:
        if text and text not in memo:
            memo[text] = render_uncached(text)
