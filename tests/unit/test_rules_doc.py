"""docs/rules.md is the rule table of hallwatch/rules.py, and the table is complete."""

from __future__ import annotations

from pathlib import Path

from hallwatch import rules

ROOT = Path(__file__).resolve().parents[2]


def test_the_rules_doc_is_the_generated_table() -> None:
    doc = (ROOT / "docs" / "rules.md").read_text()
    assert doc == rules.as_markdown(), "run: python scripts/rules_doc.py"


def test_every_rule_names_its_basis_trigger_and_moment() -> None:
    for rule in rules.RULES.values():
        assert rule.severity in (rules.YELLOW, rules.RED, rules.FINDING), rule.id
        assert rule.basis and rule.trigger and rule.raised_at and rule.meaning, rule.id
        assert f"\n### {rule.id}\n" in rules.as_markdown()


def test_rules_that_stop_on_a_decision_say_what_clears_them() -> None:
    for rule in rules.CLEARS_WHEN_CLOSED:
        assert rules.RULES[rule].clears != rules.STANDS, rule


def test_the_timers_that_wait_for_a_directory_say_so_and_why() -> None:
    doc = rules.as_markdown()
    gated = {r.id for r in rules.RULES.values() if rules.TIMERS_NEED_DIRECTORY in r.trigger}
    assert gated == {"decision.not_delivered", "after_hours.unrecorded"}
    for rule in gated:
        section = doc.split(f"\n### {rule}\n", 1)[1].split("\n### ", 1)[0]
        assert "with a directory loaded" in section and "Why only with a directory" in section
