"""What the supervision service keeps per case, post or complaint: its clocks (timers)
and what it needs to judge the next fact.

``observe`` judges one published hall event; ``fire`` raises timers that are due.
Both compute the findings and the watch's new state and record them in one event, so a
replay never judges again. A rule broken at a moment is raised with that moment as
``raised_at``, however late it is noticed (a restart after downtime, a late fact), and
each (rule, moment) is raised once: its alert id is derived from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from hallwatch import lifecycle
from hallwatch.calendar import WorkCalendar, local_date
from hallwatch.case import NAMESPACE
from hallwatch.catalogue import parse_time, short_type
from hallwatch.rules import CLEARS_WHEN_CLOSED, RuleSet

DEADLINE_RULES = ("deadline.warning", "deadline.overdue", "immediate.not_same_day")


def watch_key(ce: dict[str, Any]) -> str:
    """Which watch a published event belongs to."""
    kind = short_type(ce["type"])
    hall = ce["source"].rsplit("/", 1)[-1]
    if kind.startswith("case."):
        return f"case/{ce['subject']}"
    if kind.startswith("post."):
        return f"post/{hall}/{ce['subject']}"
    if kind.startswith("complaint."):
        return f"complaint/{hall}/{ce['data'].get('complaint_no', '')}"
    return f"record/{hall}/{ce['id']}"


@dataclass
class Finding:
    rule: str
    raised_at: str
    evidence: list[str]
    detail: str
    alert_key: str

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class Clear:
    alert_key: str
    at: str
    why: str
    void: bool = False


@dataclass
class Judgement:
    """What one observation or firing decided."""

    findings: list[Finding] = field(default_factory=list)
    clears: list[Clear] = field(default_factory=list)


class _State:
    """A working copy of a watch's state while judging (never the aggregate itself)."""

    def __init__(self, watch: Watch) -> None:
        self.key = watch.key
        self.timers: dict[str, dict[str, Any]] = {k: dict(v) for k, v in watch.timers.items()}
        self.raised: list[str] = list(watch.raised)
        self.open_alerts: dict[str, dict[str, str]] = dict(watch.open_alerts)
        self.first_notice: list[str] | None = watch.first_notice
        self.context: dict[str, Any] = dict(watch.context)
        self.due_at: str | None = watch.due_at
        self.judgement = Judgement()

    def finding(self, rule: str, at: datetime, evidence: list[str], detail: str,
                unique: str) -> None:
        key = f"{self.key}/{rule}/{unique}"
        self.judgement.findings.append(Finding(rule, at.isoformat(), evidence, detail, key))
        if rule in CLEARS_WHEN_CLOSED:
            self.clear(rule, at, "superseded by a later deadline")
            self.open_alerts[rule] = {"key": key, "raised_at": at.isoformat()}

    def set_timer(self, rule: str, at: datetime, since: datetime, evidence: str,
                  detail: str = "", basis: dict[str, Any] | None = None) -> None:
        """``basis``: {"from": date, "working_days": n} when ``at`` is the end of the nth
        working day after a date, so a newly loaded calendar year can move it."""
        at_text = at.isoformat()
        if f"{rule}@{at_text}" in self.raised:
            return  # this (rule, moment) was raised already
        current = self.timers.get(rule)
        if current and current["at"] == at_text:
            return
        trail = [*(current["evidence"] if current else []), evidence]
        self.timers[rule] = {"at": at_text, "since": since.isoformat(), "evidence": trail,
                             "detail": detail, "basis": basis}

    def drop_timer(self, rule: str) -> None:
        self.timers.pop(rule, None)

    def clear(self, rule: str, at: datetime, why: str, void: bool = False) -> None:
        """Close the open alert of ``rule``; ``void`` if it should never have been raised."""
        alert = self.open_alerts.pop(rule, None)
        if alert:
            self.judgement.clears.append(Clear(alert["key"], at.isoformat(), why, void))

    def expire(self, moment: datetime) -> None:
        """Raise every timer due at or before ``moment``, earliest first."""
        due = sorted((parse_time(t["at"]), rule) for rule, t in self.timers.items()
                     if parse_time(t["at"]) <= moment)
        for at, rule in due:
            timer = self.timers.pop(rule)
            raised_at = max(at, parse_time(timer["since"]))
            self.raised.append(f"{rule}@{timer['at']}")
            if rule == "deadline.overdue":
                self.clear("deadline.warning", raised_at, "superseded by deadline.overdue")
            self.finding(rule, raised_at, timer["evidence"], timer["detail"], timer["at"])


def _json(text: str | None) -> Any:
    return json.loads(text) if text else None


class Watch(Aggregate):
    @staticmethod
    def create_id(key: str) -> UUID:
        return uuid5(NAMESPACE, "watch/" + key)

    @event("Started")
    def __init__(self, key: str) -> None:
        self.key = key
        self.timers: dict[str, dict[str, Any]] = {}
        self.raised: list[str] = []
        self.open_alerts: dict[str, dict[str, str]] = {}
        self.first_notice: list[str] | None = None
        self.context: dict[str, Any] = {}
        self.due_at: str | None = None
        self.last_position = 0

    # -- commands ----------------------------------------------------------------

    def observe(self, ce: dict[str, Any], rules: RuleSet, calendar: WorkCalendar) -> Judgement:
        """Judge one published event. An event at or before the last store position this
        watch judged is a redelivery (e.g. a relay that resent after a crash): skipped."""
        position = int(ce.get("hwposition") or 0)
        if position and position <= self.last_position:
            return Judgement()
        state = _State(self)
        moment = parse_time(ce["time"])
        state.expire(moment)  # clocks that ran out before this fact happened
        _judge_fact(state, ce, moment, rules, calendar)
        state.expire(moment)  # a clock the fact itself set in the past (a late report)
        self._judged(key=self.key, source_event=ce["id"],
                     position=max(position, self.last_position), **self._record(state))
        return state.judgement

    def fire(self, now: datetime) -> Judgement:
        state = _State(self)
        state.expire(now)
        if state.judgement.findings or state.judgement.clears:
            self._judged(key=self.key, source_event="", position=self.last_position,
                         **self._record(state))
        return state.judgement

    def reschedule(self, calendar: WorkCalendar, calendar_version: str) -> bool:
        """Move working-day timers to where ``calendar`` puts them; True if any moved."""
        timers = {}
        for rule, timer in self.timers.items():
            basis = timer.get("basis")
            if basis:
                at = calendar.end_of_working_day(date.fromisoformat(basis["from"]),
                                                 basis["working_days"])
                timer = {**timer, "at": at.isoformat()}
            timers[rule] = timer
        if timers == self.timers:
            return False
        self._rescheduled(key=self.key, timers=timers, calendar_version=calendar_version)
        return True

    @event("Rescheduled")
    def _rescheduled(self, key: str, timers: dict[str, dict[str, Any]], calendar_version: str
                     ) -> None:
        self.timers = timers

    def next_timer(self) -> datetime | None:
        return min((parse_time(t["at"]) for t in self.timers.values()), default=None)

    @staticmethod
    def _record(state: _State) -> dict[str, Any]:
        return {
            "timers": state.timers, "raised": state.raised, "open_alerts": state.open_alerts,
            "first_notice": state.first_notice, "context": state.context,
            "due_at": state.due_at,
            "findings": [f.as_dict() for f in state.judgement.findings],
            "clears": [c.__dict__.copy() for c in state.judgement.clears],
        }

    @event("Judged")
    def _judged(self, key: str, source_event: str, position: int,
                timers: dict[str, dict[str, Any]],
                raised: list[str], open_alerts: dict[str, dict[str, str]],
                first_notice: list[str] | None, context: dict[str, Any], due_at: str | None,
                findings: list[dict[str, Any]], clears: list[dict[str, Any]]) -> None:
        self.last_position = position
        self.timers = timers
        self.raised = raised
        self.open_alerts = open_alerts
        self.first_notice = first_notice
        self.context = context
        self.due_at = due_at


def _judge_fact(state: _State, ce: dict[str, Any], moment: datetime, rules: RuleSet,
                calendar: WorkCalendar) -> None:
    kind = short_type(ce["type"])
    data: dict[str, Any] = ce.get("data") or {}
    summary = _json(ce.get("hwcase"))
    ident = ce["id"]
    if summary is not None:
        state.context["hall_id"] = summary["hall_id"]
    elif ce["source"] != "/hallwatch":  # hallwatch's own events speak for no hall
        state.context["hall_id"] = ce["source"].rsplit("/", 1)[-1]
    if kind.startswith("case."):
        state.context["case_no"] = ce["subject"]
    for name in ("window_id", "staff_id"):
        value = (summary or {}).get(name) or data.get(name)
        if value:
            state.context[name] = value

    recorded = parse_time(ce["hwrecordedtime"]) if ce.get("hwrecordedtime") else moment
    limit = timedelta(hours=rules.report_late_hours)
    if ce["source"] != "/hallwatch" and recorded - moment > limit:
        state.finding("report.late", moment + limit, [ident],
                      f"happened {moment.isoformat()}, recorded {recorded.isoformat()}", ident)

    def working_days_after(days: int) -> tuple[datetime, dict[str, Any]]:
        start = local_date(moment)
        basis = {"from": start.isoformat(), "working_days": days}
        return calendar.end_of_working_day(start, days), basis

    if kind == "case.notice_issued":
        listed = list(data.get("missing_materials", []))
        if state.first_notice is None:
            state.first_notice = sorted(listed)
        else:
            extra = sorted(set(listed) - set(state.first_notice))
            if extra:
                state.finding("notice.not_one_time", moment, [ident],
                              "not in the first notice: " + "、".join(extra), ident)
    elif kind == "case.extended":
        if not data.get("approved_by"):
            state.finding("extension.unapproved", moment, [ident], data.get("reason", ""), ident)
        if not data.get("applicant_notified"):
            state.finding("extension.not_notified", moment, [ident], "", ident)
        if state.due_at and moment > parse_time(state.due_at):
            state.finding("extension.after_due", moment, [ident],
                          f"due {state.due_at}", ident)
    elif kind == "case.rejected":
        missing = [name for name, present in (
            ("legal_basis", data.get("legal_basis")), ("notice_no", data.get("notice_no")),
            ("review_rights_told", data.get("review_rights_told"))) if not present]
        if missing:
            state.finding("rejection.incomplete", moment, [ident],
                          "missing: " + ", ".join(missing), ident)
    elif kind == "case.suspended" and not data.get("applicant_informed"):
        state.finding("procedure.not_informed", moment, [ident], data.get("procedure", ""), ident)
    elif kind == "post.absence_noticed":
        if not data.get("substitute_staff_id"):
            state.finding("post.uncovered", moment, [ident],
                          f"window {data.get('window_id')}, staff {data.get('staff_id')}", ident)
        expected = parse_time(data["expected_return"])
        state.set_timer("post.absence_overrun",
                        expected + timedelta(minutes=rules.absence_grace_minutes), moment, ident,
                        f"expected back {data['expected_return']}")
    elif kind == "post.resumed":
        state.drop_timer("post.absence_overrun")
    elif kind == "complaint.received":
        at, basis = working_days_after(rules.complaint_resolution_working_days)
        state.set_timer("complaint.overdue", at, moment, ident, data.get("complaint_no", ""),
                        basis)
    elif kind == "complaint.resolved":
        state.drop_timer("complaint.overdue")

    if summary is not None:
        _judge_case_clocks(state, kind, summary, moment, ident, rules, working_days_after)


def _judge_case_clocks(state: _State, kind: str, summary: dict[str, Any], moment: datetime,
                       ident: str, rules: RuleSet, working_days_after: Any) -> None:
    status = summary["status"]
    state.due_at = summary.get("due_at")
    running = status == lifecycle.ACCEPTED
    if running and summary.get("due_at"):
        if summary.get("kind") == "immediate":
            wanted = {"immediate.not_same_day": summary["due_at"]}
        else:
            wanted = {"deadline.overdue": summary["due_at"],
                      "deadline.warning": summary.get("yellow_at")}
        for rule, at_text in wanted.items():
            if not at_text:
                continue
            at = parse_time(at_text)
            if rule in state.open_alerts:
                if at <= moment:
                    # Still past the (moved) moment: the open alert stands, one per episode.
                    state.drop_timer(rule)
                    continue
                state.clear(rule, moment, "the deadline moved")
            state.set_timer(rule, at, moment, ident)
    else:
        for rule in DEADLINE_RULES:
            state.drop_timer(rule)
    if status in lifecycle.OPEN and summary.get("supplement_pending") \
            and summary.get("supplement_due_at"):
        state.set_timer("tolerance.supplement_overdue", parse_time(summary["supplement_due_at"]),
                        moment, ident)
    else:
        state.drop_timer("tolerance.supplement_overdue")
    if status == lifecycle.SUSPENDED:
        if kind == "case.suspended":
            at, basis = working_days_after(rules.procedure_max_working_days)
            state.set_timer("procedure.overlong", at, moment, ident,
                            f"limit {rules.procedure_max_working_days} working days", basis)
    else:
        state.drop_timer("procedure.overlong")
    if kind == "case.rated" and summary.get("rating_bad_open"):
        at, basis = working_days_after(rules.rating_rectification_working_days)
        state.set_timer("rating.rectification_overdue", at, moment, ident,
                        f"satisfaction {summary.get('rating')}", basis)
    if not summary.get("rating_bad_open"):
        state.drop_timer("rating.rectification_overdue")
    if status in lifecycle.CLOSED:
        for rule in CLEARS_WHEN_CLOSED:
            alert = state.open_alerts.get(rule)
            if alert and moment <= parse_time(alert["raised_at"]):
                # Decided before the warning's moment, reported after it (within the
                # allowed delay): the warning never applied.
                state.clear(rule, moment, f"void: the case was {status} before this moment",
                            void=True)
            else:
                state.clear(rule, moment, f"the case was {status}")

