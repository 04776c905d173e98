"""The obligation rules files: what ships, and how a broken file stops the app (file and line named)."""
from __future__ import annotations

import textwrap
from datetime import date

import pytest

from incidents import create_app
from incidents.obligations.rules import RULES_DIR, RulesFileError, load_rules
from tests.conftest import base_config

GOOD = """\
regime:
  id: acme
  name: Acme contract
  jurisdiction: US
  time_zone: America/New_York
rules:
  - id: acme-customers
    title: Tell enterprise customers
    recipient: customers
    anchor: aware
    offset: {kind: hours, amount: 24}
    content: [What happened]
    citation: {text: Master services agreement 12.3, url: https://example.com/msa}
    last_checked: 2026-11-28
"""


def write(folder, name: str, text: str):
    (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def test_every_regime_the_issue_names_ships_with_a_citation_and_check_date():
    book = load_rules()
    assert set(book.regimes) >= {"gdpr", "uk-gdpr", "nis2", "dora", "hipaa", "sec", "us-ca", "us-ny", "us-co",
                                 "us-fl", "us-tx", "us-vt", "us-wa", "au-ndb", "sg-pdpa", "ca-pipeda"}
    for rule in book.rules.values():
        assert rule.citation.url.startswith("https://") or rule.citation.url.startswith("http://"), rule.id
        assert rule.last_checked <= date.today(), rule.id
        assert rule.content, rule.id
    # The ones whose shape the issue spells out.
    assert book.rules["gdpr-33-authority"].offset.amount == 72 and book.rules["gdpr-33-authority"].late_needs_reason
    assert len(book.rules["gdpr-34-individuals"].exemptions) == 3
    assert book.rules["sec-8k-105"].offset.kind == "business_days"
    assert book.rules["nis2-23-final-report"].anchor == "sent:nis2-23-notification"
    assert book.rules["ca-pipeda-commissioner"].offset.is_fixed is False


def test_a_new_rule_file_is_picked_up(tmp_path):
    book = load_rules(write(tmp_path, "acme.yaml", GOOD))
    assert book.rules["acme-customers"].regime.name == "Acme contract"


@pytest.mark.parametrize(("broken", "line", "words"), [
    (GOOD.replace("amount: 24", "amount: -3"), 11, "offset.amount"),
    (GOOD.replace("anchor: aware", "anchor: lunchtime"), 10, "unknown anchor 'lunchtime'"),
    (GOOD.replace("kind: hours", "kind: fortnights"), 11, "offset.kind"),
    (GOOD.replace("time_zone: America/New_York", "time_zone: Mars/Olympus"), 5, "unknown time zone"),
    (GOOD.replace("    content: [What happened]\n", ""), 7, "content: Field required"),
    (GOOD.replace("    title: Tell", "   title: Tell"), 8, "not valid YAML"),
    (GOOD.replace("last_checked: 2026-11-28", "last_checked: someday"), 14, "last_checked"),
    (GOOD.replace("anchor: aware", "anchor: sent:acme-nothing"), 7, "has no rule acme-nothing"),
])
def test_a_broken_rule_file_names_the_file_and_line(tmp_path, broken, line, words):
    with pytest.raises(RulesFileError) as raised:
        load_rules(write(tmp_path, "broken.yaml", broken))
    assert raised.value.path.name == "broken.yaml"
    assert raised.value.line == line, str(raised.value)
    assert f"broken.yaml, line {line}: " in str(raised.value)
    assert words in str(raised.value)


def test_a_rule_id_used_twice_is_refused(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD.replace("id: acme\n", "id: other\n"))
    with pytest.raises(RulesFileError, match=r"b.yaml, line 7: rule id acme-customers is used twice"):
        load_rules(tmp_path)


def test_a_broken_rule_file_stops_the_app_at_start(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    write(folder, "broken.yaml", GOOD.replace("amount: 24", "amount: 0"))
    config = base_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}") | {"OBLIGATION_RULES_DIR": str(folder)}
    problem = r"broken.yaml, line 11: rules.0.offset.amount: Input should be greater than or equal to 1"
    with pytest.raises(RulesFileError, match=problem):
        create_app(config)


def test_the_app_starts_with_the_shipped_rules(tmp_path):
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"))
    assert set(app.extensions["obligation_rules"].rules) == set(load_rules(RULES_DIR).rules)
