"""Full-text search of the incident list (incidents/search): words in titles, summaries and
timeline text, found through each database's own index, with the matching text shown safely."""
from __future__ import annotations

import re

from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.search.service import search
from tests.fixtures.plans import plan, statements


def results(client, q: str, **filters) -> str:
    answer = client.get("/", query_string={"q": q, "status": "", **filters})
    assert answer.status_code == 200, q
    return answer.get_data(as_text=True)


def listed(html: str) -> list[str]:
    return re.findall(r'<td><a href="/incidents/(INC-\d{4}-\d{4})">INC-', html)


def test_a_word_in_an_entry_finds_its_incident_with_the_text_around_it(app, client, auth, make):
    auth.as_role("viewer")  # a viewer searches what responders wrote
    responder = make.user(role="responder")
    tape = make.incident(by=responder, title="Calendars gone after the array upgrade")
    entry = make.entry(tape, by=responder, body="Vendor **restored** the calendars from the nightly tape copy.")
    other = make.incident(by=responder, title="Thumbnails missing")
    make.entry(other, by=responder, body="Regenerating previews.")

    page = results(client, "restoring tape")  # another form of the word finds it (stemming)
    assert listed(page) == [tape]
    hit = re.search(r'<p class="hit small">(.*?)</p>', page, re.S).group(1)
    assert f'href="/incidents/{tape}#entry-{entry}"' in hit
    assert re.search(r"<mark>tape</mark>", hit) and "nightly" in hit
    assert listed(results(client, "previews")) == [other]
    assert listed(results(client, "calendars")) == [tape]  # its title, and its entry
    assert listed(results(client, "calendars", severity="SEV1")) == []  # the filters still apply


def test_a_changed_title_is_found_by_its_new_words_only(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email, title="Mailboxes unreachable")
    assert listed(results(client, "mailboxes")) == [ref]
    with app.app_context():
        incident = get_incident(session=db.session, reference=ref)
        incident.title, incident.summary = "Contacts lost in the sync", "Quarantine held them."
        db.session.commit()
    assert listed(results(client, "mailboxes")) == []
    assert listed(results(client, "quarantine")) == [ref]  # the summary too


def test_matching_text_is_escaped_and_marked(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    make.entry(ref, by=email, body='<script>alert(1)</script> <img src=x> replica lag')
    page = results(client, "replica")
    hit = re.search(r'<p class="hit small">(.*?)</p>', page, re.S).group(1)
    # SQLite's snippet keeps the text, escaped here; PostgreSQL's headline drops the tags itself.
    assert "<script>" not in hit and "<img" not in hit
    assert "&lt;script&gt;" in hit or "script" not in hit
    assert "<mark>replica</mark>" in hit


def test_searching_needs_a_sign_in(app, client, make):
    ref = make.incident(title="Secret storage cluster")
    answer = client.get("/", query_string={"q": "storage"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert ref not in answer.get_data(as_text=True)


def test_the_search_reads_the_text_index_not_the_tables(app, make):
    email = make.user(role="responder")
    ref = make.incident(by=email)
    make.entry(ref, by=email, body="restore from tape")
    with app.app_context():
        with statements() as seen:
            assert search(session=db.session, query="tape")
        plans = [(statement, *plan(statement, parameters)) for statement, parameters in seen]
        db.session.remove()
    for statement, lines, scans in plans:
        assert scans == [], (statement, lines)
    # Each look for matching texts goes through the text index, or (PostgreSQL, when it expects many
    # matches) walks the newest rows by primary key checking each one's stored vector: never by
    # parsing the texts again, never a scan of the whole table.
    looks = [" ".join(lines) for statement, lines, _ in plans if "LIMIT" in statement]
    assert looks, plans
    for used in looks:
        assert ("search_fts" in used or "ix_search_entry_text" in used or "ix_search_incident_text" in used
                or ("Index Scan Backward using pk_" in used and "search_vector @@" in used)), used
        assert "to_tsvector" not in used, used


def test_whole_words_come_before_word_beginnings(app, client, auth, make):
    email = auth.as_role("responder")
    partial = make.incident(by=email, title="Tapestry thumbnails missing")
    whole = make.incident(by=email, title="Photos restored from tape")
    assert listed(results(client, "tape")) == [whole, partial]
    assert listed(results(client, "calend")) == []
    cal = make.incident(by=email, title="Calendars gone")
    assert listed(results(client, "calend")) == [cal]  # as one types: the beginning of a word


def test_the_best_match_comes_first_when_every_match_is_ranked(app, client, auth, make):
    email = auth.as_role("responder")
    passing = make.incident(by=email, title="Thumbnails missing")
    make.entry(passing, by=email, body="Checked the mail queue, the search index, the replica and the firmware "
                                       "logs of every node, then the vendor's notes about the replica.")
    central = make.incident(by=email, title="Replica lost")
    page = results(client, "replica")
    assert listed(page) == [central, passing] and "best first" in page


def test_a_word_in_more_texts_than_a_search_reads_shows_the_newest(app, client, auth, make, monkeypatch):
    """Ranking a common word would read every text holding it; past the window, the newest
    incidents are shown (titles first), and the page says so."""
    from incidents.search import service

    monkeypatch.setattr(service, "WINDOW", 3)
    email = auth.as_role("responder")
    refs = [make.incident(by=email, title=f"Storage node {n} down") for n in range(5)]
    make.entry(refs[0], by=email, body="The storage array was replaced.")
    page = results(client, "storage")
    assert listed(page) == [refs[4], refs[3], refs[2], refs[0]]
    assert "too many texts to rank" in page and "best first" not in page
    hit = re.findall(r'<p class="hit small">(.*?)</p>', page, re.S)
    assert len(hit) == 4 and all("<mark>" in h for h in hit)
