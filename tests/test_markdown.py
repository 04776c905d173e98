"""User Markdown is rendered with Python-Markdown and sanitised with nh3: no script survives.

The output is checked by parsing it (html.parser), the way a browser would read it, rather than
by looking for substrings an attacker could spell differently.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from incidents.markdown import render_markdown
from tests.helpers import read_form, timeline_rows

SAFE_SCHEMES = {"http", "https", "mailto"}
FORBIDDEN_TAGS = {"script", "iframe", "svg", "img", "style", "object", "embed", "math", "form",
                  "input", "button", "textarea", "link", "meta", "base", "frame", "frameset",
                  "video", "audio", "source", "details"}
# What the app's own page layout uses around the rendered Markdown.
PAGE_LAYOUT_TAGS = {"meta", "link", "form", "input", "button", "textarea", "details"}
# The app's own scripts (served from /static, allowed by the CSP), never inside rendered Markdown.
APP_SCRIPTS = {"/static/js/app.js", "/static/js/live.js"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "srcset", "poster",
                  "background", "cite", "ping"}

PAYLOADS = {
    "img onerror": "<img src=x onerror=alert(1)>",
    "javascript link": "[a](javascript:alert(1))",
    "mixed case": "[a](JaVaScRiPt:alert(1))",
    "decimal entity": "[a](&#106;avascript:alert(1))",
    "padded decimal entity": "[a](&#0000106;avascript:alert(1))",
    "hex entity": "[a](&#x6A;avascript:alert(1))",
    "tab entity": "[a](java&#x09;script:alert(1))",
    "decimal tab entity": "[a](java&#9;script:alert(1))",
    "newline entity": "[a](java&#x0A;script:alert(1))",
    "colon entity": "[a](javascript&colon;alert(1))",
    "reference link": "[a][evil]\n\n[evil]: javascript:alert(1)",
    "autolink": "<javascript:alert(1)>",
    "vbscript": "[a](vbscript:msgbox(1))",
    "data link": "[a](data:text/html,<script>alert(1)</script>)",
    "raw data anchor": '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">a</a>',
    "raw mixed-case anchor": '<a href="JaVaScRiPt:alert(1)">a</a>',
    "raw entity anchor": '<a href="&#x6A;avascript&#x3A;alert(1)">a</a>',
    "raw tab anchor": '<a href="java&#x09;script:alert(1)">a</a>',
    "anchor with onclick": '<a href="https://example.com" onclick="alert(1)">a</a>',
    "style attribute": '<p style="color:red;background:url(javascript:alert(1))">styled</p>',
    "style tag": "<style>body{display:none}</style>",
    "script": "<script>alert(1)</script>",
    "script in markdown": "Hello <script>alert(1)</script> **world**",
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "svg onload": "<svg onload=alert(1)>",
    "svg script": "<svg><script>alert(1)</script></svg>",
    "markdown image": "![x](https://evil.example/track.png)",
    "object": '<object data="javascript:alert(1)"></object>',
    "form": '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">go</button></form>',
    "details ontoggle": "<details open ontoggle=alert(1)>x</details>",
    "math xlink": '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "broken attribute quoting": '<a href="https://ok.example" title="x" onmouseover="alert(1)" >a</a>',
    "table cell handler": "| a |\n|---|\n| <td onclick=alert(1)>b |",
    "entity-encoded tag": "&lt;script&gt;alert(1)&lt;/script&gt;",
}


class HtmlAudit(HTMLParser):
    """Collects every tag and attribute as a browser's parser would see them (entities decoded),
    noting which ones sit inside rendered Markdown (a <div class="prose">)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]], bool]] = []
        self._prose_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag == "div" and (self._prose_depth or "prose" in (dict(attrs).get("class") or "").split()):
            self._prose_depth += 1
        self.tags.append((tag, attrs, self._prose_depth > 0))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs, self._prose_depth > 0))

    def handle_endtag(self, tag):
        if tag == "div" and self._prose_depth:
            self._prose_depth -= 1


def url_scheme(url: str) -> str | None:
    """The scheme a browser would use for `url`: it drops tabs and newlines anywhere and
    control characters and spaces at the ends before reading the scheme."""
    cleaned = re.sub(r"[\t\n\r]", "", url).strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e"
                                                   "\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a"
                                                   "\x1b\x1c\x1d\x1e\x1f ")
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.\-]*):", cleaned)
    return match.group(1).lower() if match else None


def unsafe_parts(html: str, *, page: bool = False) -> list[str]:
    """Everything in `html` that could run script, load content or style the page.

    With `page`, `html` is a whole page of the app: its own layout may use forms, <details> and
    its own scripts, but rendered Markdown inside it may not.
    """
    audit = HtmlAudit()
    audit.feed(html)
    audit.close()
    problems = []
    for tag, attrs, in_prose in audit.tags:
        forbidden = FORBIDDEN_TAGS if in_prose or not page else FORBIDDEN_TAGS - PAGE_LAYOUT_TAGS
        is_app_script = page and not in_prose and tag == "script" and dict(attrs).get("src") in APP_SCRIPTS
        if tag in forbidden and not is_app_script:
            problems.append(f"<{tag}> tag")
        for name, value in attrs:
            if name.startswith("on"):
                problems.append(f"{name}= on <{tag}>")
            elif name == "style":
                problems.append(f"style= on <{tag}>")
            elif name in URL_ATTRIBUTES and value is not None:
                scheme = url_scheme(value)
                if scheme is not None and scheme not in SAFE_SCHEMES:
                    problems.append(f"{name}={value!r} on <{tag}>")
    return problems


# --- the checker itself must catch what it is meant to catch ----------------------------------

@pytest.mark.parametrize("bad", [
    '<img src="x">', "<script>x</script>", "<iframe></iframe>", "<svg></svg>",
    '<a href="javascript:alert(1)">a</a>', '<a href="JAVASCRIPT:x">a</a>',
    '<a href="&#106;avascript:x">a</a>', '<a href="java&#x09;script:x">a</a>',
    '<a href=" data:text/html,x">a</a>', '<p onclick="x">p</p>', '<p style="color:red">p</p>',
])
def test_the_audit_catches_unsafe_html(bad):
    assert unsafe_parts(bad), bad


def test_the_audit_accepts_plain_safe_html():
    assert unsafe_parts('<p><a href="https://example.com/x">x</a> <a href="mailto:a@b.c">m</a> '
                        '<a href="/incidents/INC-2026-0001">r</a> <strong>b</strong></p>') == []


def test_the_page_audit_allows_the_layout_but_not_inside_markdown():
    layout = ('<script src="/static/js/app.js" defer></script><form method="post"><input name="q">'
              '<textarea name="body"></textarea><details><summary>s</summary></details></form>')
    assert unsafe_parts(layout, page=True) == []
    assert unsafe_parts('<div class="prose"><p><form action="/x"></form></p></div>', page=True)
    assert unsafe_parts('<div class="prose"><script src="/static/js/app.js"></script></div>', page=True)
    assert unsafe_parts('<script src="https://evil.example/x.js"></script>', page=True)


# --- rendering --------------------------------------------------------------------------------

@pytest.mark.parametrize("source", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_nothing_dangerous_survives_rendering(source):
    html = str(render_markdown(source))
    assert unsafe_parts(html) == [], html


def test_all_payloads_together_render_safely():
    html = str(render_markdown("\n\n".join(PAYLOADS.values())))
    assert unsafe_parts(html) == []


def test_links_keep_their_text_when_the_target_is_dropped():
    html = str(render_markdown("See [the runbook](javascript:alert(1)) now"))
    audit = HtmlAudit()
    audit.feed(html)
    assert "the runbook" in html
    assert all(name != "href" for _tag, attrs, _ in audit.tags for name, _ in attrs)


def test_normal_markdown_still_renders():
    source = (
        "# Restore status\n\n"
        "**Bold** and *emphasis*, `inline code` and ~~nothing~~.\n\n"
        "- first step\n- second step\n\n"
        "1. one\n2. two\n\n"
        "See [the status page](https://status.example.com/incidents?id=7&x=1) or "
        "[mail us](mailto:oncall@example.com).\n\n"
        "> quoted from support\n\n"
        "```\nSELECT * FROM contacts WHERE owner_id = 7 AND note <> '<b>';\n```\n\n"
        "| shard | rows lost |\n|---|---:|\n| 7 | 4,000 |\n"
    )

    html = str(render_markdown(source))

    assert unsafe_parts(html) == []
    assert "<h1>Restore status</h1>" in html
    assert "<strong>Bold</strong>" in html and "<em>emphasis</em>" in html
    assert "<code>inline code</code>" in html
    assert re.search(r"<ul>\s*<li>first step</li>\s*<li>second step</li>\s*</ul>", html)
    assert re.search(r"<ol>\s*<li>one</li>\s*<li>two</li>\s*</ol>", html)
    assert '<a href="https://status.example.com/incidents?id=7&amp;x=1"' in html
    assert '<a href="mailto:oncall@example.com"' in html
    assert "<blockquote>" in html and "quoted from support" in html
    assert ("<pre><code>SELECT * FROM contacts WHERE owner_id = 7 AND note &lt;&gt; "
            "'&lt;b&gt;';") in html.replace("&#x27;", "'").replace("&#39;", "'")
    assert re.search(r"<table>.*<th>shard</th>.*<td>7</td>.*</table>", html, re.S)
    # Links to other sites cannot use the opener or leak the incident page as referrer.
    assert 'rel="noopener noreferrer nofollow"' in html


def test_line_breaks_are_kept():
    html = str(render_markdown("first line\nsecond line"))
    assert re.search(r"first line<br\s*/?>\s*second line", html)


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_text_renders_nothing(empty):
    assert str(render_markdown(empty)) == ""


# --- through the real pages -------------------------------------------------------------------

ALL_PAYLOADS = "\n\n".join(["Marker **visible-marker** [click-me](javascript:alert(1))",
                            *PAYLOADS.values()])


def page_problems(html: str) -> list[str]:
    return unsafe_parts(html, page=True)


def test_payloads_are_harmless_on_the_incident_pages(app, client, auth):
    auth.as_role("responder")
    declared = client.post("/incidents/new", data={"title": "XSS <script>alert(1)</script>",
                                                   "severity": "SEV3", "summary": ALL_PAYLOADS})
    assert declared.status_code == 302
    reference = declared.headers["Location"].rsplit("/", 1)[-1]
    posted = client.post(f"/incidents/{reference}/timeline",
                         data={"body": ALL_PAYLOADS, "kind": "note", "visibility": "public"})
    assert posted.status_code == 302
    entry_id = timeline_rows(app, reference)[-1]["id"]
    correct_url = f"/incidents/{reference}/timeline/{entry_id}/correct"
    form = read_form(client.get(correct_url).get_data(as_text=True))
    form["body"] = "Corrected: " + ALL_PAYLOADS
    form["reason"] = "<img src=x onerror=alert(1)> reason"
    assert client.post(correct_url, data=form).status_code == 302

    detail = client.get(f"/incidents/{reference}").get_data(as_text=True)
    # The text really is on the page (in the summary, the correction, the entry's history and the
    # first card's latest update)…
    assert detail.count("<strong>visible-marker</strong>") == 4
    assert re.search(r"<a rel=\"noopener noreferrer nofollow\">click-me</a>", detail)
    # …and nothing in it can run, load or restyle anything.
    assert page_problems(detail) == []
    # Plain-text fields are escaped, not rendered.
    assert "XSS &lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert "&lt;img src=x onerror=alert(1)&gt; reason" in detail

    correction_page = client.get(correct_url).get_data(as_text=True)
    assert "<strong>visible-marker</strong>" in correction_page
    assert page_problems(correction_page) == []

    listing = client.get("/").get_data(as_text=True)
    assert reference in listing and page_problems(listing) == []


def test_payloads_are_harmless_when_a_form_is_shown_again(app, client, auth, make):
    """A refused post shows the typed text again inside the form: escaped, never rendered."""
    email = auth.as_role("responder")
    reference = make.incident(by=email)

    response = client.post(f"/incidents/{reference}/timeline",
                           data={"body": ALL_PAYLOADS, "kind": "note", "visibility": "internal",
                                 "occurred_at": "2199-01-01T00:00"})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert page_problems(html) == []
    assert read_form(html, f"/incidents/{reference}/timeline")["body"] == ALL_PAYLOADS
