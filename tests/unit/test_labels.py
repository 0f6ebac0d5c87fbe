"""The translation table names every code an official can meet."""

from hallwatch import labels
from hallwatch.alert import ALERT_TRANSITIONS, ESCALATED, RAISED
from hallwatch.catalogue import ALL_TYPES
from hallwatch.rules import RULES


def test_every_rule_has_a_chinese_name():
    assert set(labels.RULES) == set(RULES)


def test_every_severity_and_alert_status_has_a_chinese_name():
    assert {rule.severity for rule in RULES.values()} == set(labels.SEVERITIES)
    statuses = {RAISED, ESCALATED, "resolved", "cleared", "void", "acknowledged", "noticed"}
    assert statuses <= set(labels.ALERT_STATUSES)
    assert set(ALERT_TRANSITIONS) - {"clear", "void", "escalate"} == set(labels.ACTIONS)


def test_every_event_kind_has_a_chinese_name():
    assert set(ALL_TYPES) == set(labels.EVENTS)


def test_an_unknown_code_is_shown_as_itself():
    assert labels.label("rules", "rule.from.the.future") == "rule.from.the.future"
    assert labels.label("lights", "red") == "红灯"
