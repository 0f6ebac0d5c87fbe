"""The chaos checker's model and comparisons, on hand-made component states (so each
kind of loss it must report is shown to be reported)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from tests.chaos.checker import OnKafka, Stored, check, due_at

END = datetime.fromisoformat("2026-11-24T10:00:00+08:00")


def fact(case: str, kind: str, time: str, suffix: str, days: int = 1) -> dict:
    data = {"promised_days": days} if kind == "accepted" else {}
    return {"id": f"{case}-{suffix}", "subject": case, "type": f"cn.gov.hall.case.{kind}",
            "time": time, "data": data}


def stored(facts: list[dict], judged: Counter | None = None, alerts: dict | None = None,
           tracking: dict | None = None) -> Stored:
    by_id = {f["id"]: {"fact": f, "summary": {}, "recorded_at": "2026-11-20T10:00:00+08:00"}
             for f in facts}
    return Stored(Counter(list(by_id)), by_id,
                  judged if judged is not None else Counter(list(by_id)),
                  alerts or {}, tracking or {}, 0, 0, 0, 0)


def alert(rule: str, case: str, at: str) -> dict:
    return {"rule": rule, "context": {"case_no": case}, "watch": f"case/{case}",
            "raised_at": at, "status": "raised"}


def on_kafka(ids: list[str]) -> OnKafka:
    return OnKafka(Counter(ids), {0: list(enumerate(ids))}, {0: len(ids)})


# An open case accepted on time (Thursday) and due Friday night: overdue by Tuesday.
OPEN = fact("C1", "accepted", "2026-11-19T10:00:00+08:00", "a")
# Accepted ten days before it was recorded: a late report, long overdue.
LATE = fact("C2", "accepted", "2026-11-10T10:00:00+08:00", "a")
ALERTS = {"1": alert("deadline.overdue", "C1", "2026-11-20T23:59:59+08:00"),
          "2": alert("deadline.overdue", "C2", "2026-11-11T23:59:59+08:00"),
          "3": alert("report.late", "C2", "2026-11-11T10:00:00+08:00")}


def test_due_times_skip_weekends():
    assert due_at(datetime.fromisoformat("2026-11-20T16:00:00+08:00"), 1) == \
        datetime.fromisoformat("2026-11-23T23:59:59+08:00")
    assert due_at(datetime.fromisoformat("2026-11-19T09:00:00+08:00"), 3) == \
        datetime.fromisoformat("2026-11-24T23:59:59+08:00")


def test_a_complete_and_correct_state_has_no_problem():
    result = check(acknowledged={"C1-a": 201, "C2-a": 201}, planned={"C1-a", "C2-a"},
                   stored=stored([OPEN, LATE], alerts=ALERTS, tracking={"t:0": 2}),
                   kafka=on_kafka(["C1-a", "C2-a"]), views=None, clock_end=END)
    assert result.problems == []
    assert result.counts["alerts_expected"] == result.counts["alerts_found"] == 3


def test_an_unjudged_fact_behind_tracking_and_its_missing_alerts_are_reported():
    result = check(acknowledged={"C1-a": 201, "C2-a": 201}, planned={"C1-a", "C2-a"},
                   stored=stored([OPEN, LATE], judged=Counter({"C1-a": 1}),
                                 alerts={"1": ALERTS["1"]}, tracking={"t:0": 2}),
                   kafka=on_kafka(["C1-a", "C2-a"]), views=None, clock_end=END)
    text = "\n".join(result.problems)
    assert "stored but never judged: 1: C2-a" in text
    assert "tracking at 2 past unjudged messages: 1: p0@1:C2-a" in text
    assert "alert missing: 2" in text


def test_doubled_alerts_lost_facts_and_view_gaps_are_reported():
    doubled = {**ALERTS, "4": alert("report.late", "C2", "2026-11-11T02:00:00+00:00")}
    views = {"events": {"C1-a": 2}, "alerts": {k: {"rows": 1, "status": "cleared"}
                                               for k in ALERTS}}
    result = check(acknowledged={"C1-a": 201, "C2-a": 201, "C3-a": 201},
                   planned={"C1-a", "C2-a", "C3-a"},
                   stored=stored([OPEN, LATE], alerts=doubled, tracking={"t:0": 2}),
                   kafka=on_kafka(["C1-a"]), views=views, clock_end=END)
    text = "\n".join(result.problems)
    assert "acknowledged but not stored: 1: C3-a" in text
    assert "stored but not on Kafka: 1: C2-a" in text
    assert "alert doubled: 1" in text
    assert "in the events view more than once: 1: C1-a" in text
    assert "stored but not in the events view: 1: C2-a" in text
    assert "alert not in the alerts view: 1: 4" in text
    assert "alert's status in the view is not its latest: 3: 1: cleared != raised" in text
    assert "partition 0: tracking 2 beyond the end 1" in text


def test_a_fact_judged_twice_by_one_watch_is_reported_but_by_two_watches_is_not():
    facts = stored([OPEN, LATE], judged=Counter({"C1-a": 2, "C2-a": 1}))
    facts.repeated = ("C2-a",)  # C1-a: its case's watch and its hall's after-hours watch
    result = check(acknowledged={"C1-a": 201, "C2-a": 201}, planned={"C1-a", "C2-a"},
                   stored=facts, kafka=on_kafka(["C1-a", "C2-a"]), views=None, clock_end=END)
    assert "judged more than once by one watch: 1: C2-a" in result.problems
