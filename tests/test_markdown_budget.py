"""Pathological Markdown: every Markdown field renders in bounded work or refuses the text beside
the field; rendering never fails; nothing costly is rendered while SQLite's write lock is held.

Cost is asserted in counted work (calls of the parser's rule functions), never in wall time:
`python -m bench.markdown` prints the times.
"""
from __future__ import annotations

import importlib
import pkgutil

import pytest
from sqlalchemy import event

import incidents
import incidents.markdown as markdown
from bench.markdown import MAX_LENGTH, PATTERNS, longest_accepted
from incidents.extensions import db
from incidents.markdown import DEFAULT_MAX_COST, _parser, cost_problem, markdown_cost, render_markdown, sanitise
from incidents.markdown_prerender import markdown_field_names
from incidents.notices.document import html_to_text
from incidents.postmortem.sections import SECTION_KEYS
from tests.form_matrix import FORMS, Ctx, all_errors, errors_beside, post_form

DEEP_LIST = "- " * 9999 + "x"  # raised RecursionError in Python-Markdown
REFUSED = "to show"  # "too intricate to show quickly" or "too deeply to show"
# Every Markdown field in the bad-input table's forms (the postmortem's "summary" stands for all
# its sections, as there).
MARKDOWN_CASES = [("declare", "summary"), ("edit incident", "summary"), ("status change", "note"),
                  ("timeline post", "body"), ("timeline post, longer text", "long_body"),
                  ("impact update", "note"), ("new workstream", "evidence"), ("edit workstream", "evidence"),
                  ("progress report", "note"), ("correction", "body"), ("postmortem", "summary"),
                  ("new notice", "body"), ("edit notice", "body"), ("public update", "public_body"),
                  ("action item won't do", "reason"), ("postmortem review", "comment"),
                  ("file obligation", "reason"), ("obligation not required", "explanation")]


def at_max(unit: str) -> str:
    return (unit * (MAX_LENGTH // len(unit) + 1))[:MAX_LENGTH]


def counted_render(text: str) -> int:
    """Render `text` as the app does and count the calls of every block and inline rule."""
    parser, calls = _parser(), [0]
    for ruler in (parser.block.ruler, parser.inline.ruler, parser.inline.ruler2):
        for rule in ruler.__rules__:
            def counting(*args, _rule=rule.fn, **kwargs):
                calls[0] += 1
                return _rule(*args, **kwargs)
            rule.fn = counting
        ruler.__cache__ = None
    parser.render(text)
    return calls[0]


# --- the renderer ---------------------------------------------------------------------------------

@pytest.mark.parametrize("unit", PATTERNS.values(), ids=PATTERNS.keys())
def test_every_pattern_at_the_limit_is_refused_or_renders_in_bounded_work(unit):
    text = at_max(unit)
    accepted = longest_accepted(text, DEFAULT_MAX_COST)
    assert markdown_cost(accepted).total <= DEFAULT_MAX_COST
    # Python-Markdown made 20,000 "[" cost ~1,000x ordinary prose; here the work counted stays
    # within a fixed multiple of the weight, and the weight within the limit.
    assert counted_render(accepted) <= 16 * DEFAULT_MAX_COST
    if accepted != text:
        assert REFUSED in cost_problem(text)


def test_ordinary_prose_at_the_field_limit_is_accepted():
    prose = at_max("Restored **12,400** contacts from the nightly tape; see [the runbook]"
                   "(https://wiki.example.com/r) and `restore --verify`.\n\n- shard 7: done\n\n")
    assert cost_problem(prose) is None


def test_deep_lists_and_quotes_render_without_failing():
    for text in (DEEP_LIST, "> " * 9999 + "x", "".join(">" * n + " x\n" for n in range(1, 400))):
        assert "x" in str(render_markdown(text))


def test_a_render_failure_shows_the_text_instead_of_failing(monkeypatch):
    def broken(_text):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(markdown._md, "render", broken)
    assert str(render_markdown("**bold** <b>")) == "<p>**bold** &lt;b&gt;</p>\n"


def test_text_over_the_limit_from_outside_a_form_shows_as_plain_text():
    html = str(render_markdown("[" * 20_000))
    assert html == "<p>" + "[" * 20_000 + "</p>\n"


@pytest.mark.parametrize("start, kept", [("3", ' start="3"'), ("1 onclick=x", ""), ("-1", ""),
                                         ("99999999999", ""), ("x", "")])
def test_list_start_is_kept_only_as_a_plain_number(start, kept):
    assert sanitise(f'<ol start="{start}"><li>a</li></ol>') == f"<ol{kept}><li>a</li></ol>"


def test_plain_text_of_old_html_with_a_bad_list_start_still_reads():
    assert "1. a" in html_to_text('<ol start="1 onclick=x"><li>a</li></ol>')


def test_a_notice_with_a_crafted_list_start_has_a_plain_text_version(app, client, auth, make):
    email = auth.as_role("responder")
    reference = make.incident(by=email)
    notice_id = make.notice(reference, by=email, body='<ol start="1 onclick=x"><li>Restore</li></ol>')

    response = client.get(f"/incidents/{reference}/notices/{notice_id}/v1.txt")

    assert response.status_code == 200
    assert "Restore" in response.get_data(as_text=True)


# --- through every Markdown form -----------------------------------------------------------------

def test_every_markdown_field_is_covered():
    """A new MarkdownField must join MARKDOWN_CASES (the bad-input table names its form)."""
    covered = {name for _form, name in MARKDOWN_CASES}
    # Every feature's forms, imported: names cached before some were would hide their fields here
    # and keep later tests' posts from being prerendered.
    for module in pkgutil.walk_packages(incidents.__path__, "incidents."):
        if module.name.endswith(".forms"):
            importlib.import_module(module.name)
    markdown_field_names.cache_clear()
    # The postmortem's live preview ("text") is no form field; "summary" stands for every section.
    assert markdown_field_names() - covered <= {"text", *SECTION_KEYS}


CORPUS = {label: at_max(PATTERNS[label]) for label in ("[", "![", "[a][", "*a", "<", "lines a\\n",
                                                       "table rows", "ref defs", "- > nested")}
CORPUS["deep list"] = DEEP_LIST
CORPUS["longest accepted ["] = longest_accepted(at_max("[a]("), DEFAULT_MAX_COST)


@pytest.mark.parametrize("form_name, name", MARKDOWN_CASES, ids=[f"{f}-{n}" for f, n in MARKDOWN_CASES])
def test_pathological_markdown_is_saved_or_refused_beside_the_field(app, client, auth, make,
                                                                   form_name, name):
    form = FORMS[form_name]
    ctx = Ctx(app, client, auth, make)
    form.setup(ctx)
    for label, text in CORPUS.items():
        text = text[:form.fields[name].max]  # short fields (a comment, a reason) take the corpus at their limit
        where = f"{form_name}: {name} = {label}"
        _data, response = post_form(ctx, form, name, text)
        page = response.get_data(as_text=True)
        if cost_problem(text) is None:
            assert response.status_code == 302, f"{where}: {response.status_code} {all_errors(page)}"
            assert client.get(response.headers["Location"]).status_code == 200, where
        else:
            assert response.status_code == 422, f"{where}: {response.status_code}"
            errors = errors_beside(page, name, hidden=False)
            assert any(REFUSED in e for e in errors), f"{where}: {all_errors(page)}"
    if ctx.ref:
        for url in (f"/incidents/{ctx.ref}", f"/incidents/{ctx.ref}/reports/executive"):
            assert client.get(url).status_code == 200, url


# --- nothing costly under the write lock -----------------------------------------------------------

# SQLite only: PostgreSQL has no write lock held for a whole request (its row locks come with writes).
@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("form_name, name", MARKDOWN_CASES, ids=[f"{f}-{n}" for f, n in MARKDOWN_CASES])
def test_posted_markdown_is_rendered_before_the_write_lock(app, client, auth, make, backend, monkeypatch,
                                                           form_name, name):
    form = FORMS[form_name]
    ctx = Ctx(app, client, auth, make)
    form.setup(ctx)
    text = CORPUS["longest accepted ["][:form.fields[name].max]
    open_transactions, under_lock, before_lock = [0], [], []
    with app.app_context():
        engine = db.engine
    listeners = {"begin": lambda conn: open_transactions.__setitem__(0, open_transactions[0] + 1),
                 "commit": lambda conn: open_transactions.__setitem__(0, open_transactions[0] - 1),
                 "rollback": lambda conn: open_transactions.__setitem__(0, open_transactions[0] - 1)}
    real = markdown.render_uncached

    def watched(source):
        (under_lock if open_transactions[0] else before_lock).append(markdown_cost(source).total)
        return real(source)

    for name_, listener in listeners.items():
        event.listen(engine, name_, listener)
    monkeypatch.setattr(markdown, "render_uncached", watched)
    try:
        _data, response = post_form(ctx, form, name, text)
    finally:
        for name_, listener in listeners.items():
            event.remove(engine, name_, listener)
    assert response.status_code == 302, all_errors(response.get_data(as_text=True))
    assert max(before_lock) >= markdown_cost(text).total - 10
    # Under the lock only the app's own short lines (a status line, "Declared SEV2 ...") render.
    assert max(under_lock, default=0) < 200, under_lock
