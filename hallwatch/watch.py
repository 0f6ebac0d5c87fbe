"""What the supervision service keeps per case, post or complaint: its clocks (timers)
and what it needs to judge the next fact.

``observe`` judges one published hall event; ``fire`` raises timers that are due.
Both compute the findings and the watch's new state and record them in one event, so a
replay never judges again. A rule broken at a moment is raised with that moment as
``raised_at``, however late it is noticed (a restart after downtime, a late fact), and
each (rule, moment) is raised once: its alert id is derived from them.

The watch's state is one typed value (:class:`WatchState`), recorded whole with each
judgement; ``as_dict``/``from_dict`` are its only conversions, used by the store.

How an alert ends on the watch's side (the bureau may resolve any alert by hand). A
report is *timely* when it was recorded within ``report_late_hours`` of the time it
states; hallwatch's own events are always timely.

- ``deadline.warning`` (yellow): cleared when the case is decided after the yellow
  moment, when ``deadline.overdue`` supersedes it, or when the deadline moves later;
  void when a timely report shows the case was decided before the yellow moment.
- ``deadline.overdue``, ``immediate.not_same_day`` (red): an overdue episode is a fact.
  Cleared when the case is decided after its due moment (the episode ended then). Void
  only when a timely report shows the case was decided before the due moment, or when
  an official calendar year puts the due moment after the moment the red was raised. A
  report too late to be timely voids nothing: the red stands and ``report.late`` is
  raised. A deadline that moves after the red (an extension approved after the due
  moment) leaves the red standing until the bureau resolves it; if the new due moment
  passes too, that is a new episode and a new red.
- Timer findings (``tolerance.supplement_overdue``, ``procedure.overlong``,
  ``post.absence_overrun``, ``complaint.overdue``, ``rating.rectification_overdue``):
  stand once raised; void only when a timely report shows that what the timer waited
  for (the supplement, the resumption, the return to the post, the resolution, the
  rectification) happened before the finding's moment.
- ``after_hours.unrecorded``: judged by the hall's after-hours watch
  (``after_hours/{hall}``), one timer per uncovered out-of-hours act; stands once raised,
  void only when a timely after-hours record covering the act arrives before the
  finding's moment (see ``_judge_after_hours``).
- Every other finding stands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from hallwatch import lifecycle
from hallwatch.calendar import WorkCalendar, local_date
from hallwatch.case import NAMESPACE
from hallwatch.catalogue import BUREAU_TYPES, parse_time
from hallwatch.directory import Directory
from hallwatch.published import DEADLINE_RECOMPUTED, HallMessage
from hallwatch.rules import CLEARS_WHEN_CLOSED, RuleSet
from hallwatch.summary import CaseSummary

AFTER_HOURS = "service.after_hours"
AFTER_HOURS_ACTS = ("case.accepted", "case.tolerance_accepted", "case.completed")
AFTER_HOURS_WATCH = "after_hours"  # one per hall: its out-of-hours acts and records
UNRECORDED = "after_hours.unrecorded"
# How long the hall's after-hours watch keeps a record for acts typed in after it.
SPAN_KEPT = timedelta(days=31)
DEADLINE_RULES = ("deadline.warning", "deadline.overdue", "immediate.not_same_day")
YELLOW_RULE = "deadline.warning"
RED_RULES = ("deadline.overdue", "immediate.not_same_day")


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class Basis:
    """A timer at the end of the ``working_days``-th working day after ``start``: a newly
    loaded calendar year can move it."""

    start: date
    working_days: int

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "working_days": self.working_days}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Basis:
        return cls(date.fromisoformat(data["from"]), int(data["working_days"]))


@dataclass(frozen=True)
class Timer:
    """A rule's clock: raised at ``at`` unless the watch drops it first. ``since``: when
    it was set (a finding is never dated before it); ``evidence``: the events behind it."""

    at: datetime
    since: datetime
    evidence: tuple[str, ...]
    detail: str = ""
    basis: Basis | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "since": self.since.isoformat(),
                "evidence": list(self.evidence), "detail": self.detail,
                "basis": self.basis.as_dict() if self.basis else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timer:
        basis = data.get("basis")
        return cls(datetime.fromisoformat(data["at"]), datetime.fromisoformat(data["since"]),
                   tuple(data.get("evidence") or ()), str(data.get("detail") or ""),
                   Basis.from_dict(basis) if basis else None)


@dataclass(frozen=True)
class OpenAlert:
    """An alert this watch raised and may still clear or void."""

    key: str
    raised_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "raised_at": self.raised_at.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OpenAlert:
        return cls(str(data["key"]), datetime.fromisoformat(data["raised_at"]))


@dataclass(frozen=True)
class Span:
    """An after-hours service record as the hall's after-hours watch keeps it: which
    window, from when to when, and the cases it names (measures art. 17(5))."""

    window_id: str
    start: datetime
    end: datetime
    case_numbers: tuple[str, ...] = ()

    def covers(self, case_no: str, window_id: str | None, moment: datetime) -> bool:
        """It names the case, or the act happened at its window within its span."""
        return case_no in self.case_numbers or (
            window_id == self.window_id and self.start <= moment <= self.end)

    def as_dict(self) -> dict[str, Any]:
        return {"window_id": self.window_id, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "case_numbers": list(self.case_numbers)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Span:
        return cls(str(data["window_id"]), datetime.fromisoformat(data["start"]),
                   datetime.fromisoformat(data["end"]), tuple(data.get("case_numbers") or ()))


@dataclass(frozen=True)
class Context:
    """Whom the watch's alerts concern (copied into each alert it raises)."""

    hall_id: str | None = None
    case_no: str | None = None
    window_id: str | None = None
    staff_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Context:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class WatchState:
    """Everything a watch keeps between two judgements.

    ``raised``: "rule@moment" of every timer already raised (never raised twice);
    ``first_notice``: the first written list of missing materials; ``due_at``: the case's
    due moment as last judged; ``last_position``: the store position last judged;
    ``spans``: the after-hours service records a hall's after-hours watch still keeps;
    ``lanes``: the store position last judged on each partition the watch hears from (a
    case's events come on one, the after-hours records naming it on others);
    ``lane_floor``: for a partition not in ``lanes``, the position up to which it counts
    as judged (state recorded before lanes were kept guarded by ``last_position`` alone)."""

    timers: Mapping[str, Timer] = field(default_factory=dict)
    raised: tuple[str, ...] = ()
    open_alerts: Mapping[str, OpenAlert] = field(default_factory=dict)
    first_notice: tuple[str, ...] | None = None
    context: Context = field(default_factory=Context)
    due_at: datetime | None = None
    last_position: int = 0
    spans: tuple[Span, ...] = ()
    lanes: Mapping[int, int] = field(default_factory=dict)
    lane_floor: int = 0

    @property
    def floor(self) -> int:
        """The position up to which a partition not in ``lanes`` counts as judged."""
        if not self.lanes:  # recorded before lanes were kept: the single guard stands
            return max(self.lane_floor, self.last_position)
        return self.lane_floor

    def seen(self, lane: int) -> int:
        """The store position up to which events on partition ``lane`` were judged."""
        return self.lanes.get(lane, self.floor)

    def as_dict(self) -> dict[str, Any]:
        return {
            "timers": {rule: t.as_dict() for rule, t in self.timers.items()},
            "raised": list(self.raised),
            "open_alerts": {rule: a.as_dict() for rule, a in self.open_alerts.items()},
            "first_notice": list(self.first_notice) if self.first_notice is not None
            else None,
            "context": self.context.as_dict(),
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "last_position": self.last_position,
            "spans": [span.as_dict() for span in self.spans],
            "lanes": {str(lane): position for lane, position in self.lanes.items()},
            "lane_floor": self.lane_floor,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WatchState:
        notice = data.get("first_notice")
        return cls(
            timers={r: Timer.from_dict(t) for r, t in (data.get("timers") or {}).items()},
            raised=tuple(data.get("raised") or ()),
            open_alerts={r: OpenAlert.from_dict(a)
                         for r, a in (data.get("open_alerts") or {}).items()},
            first_notice=tuple(notice) if notice is not None else None,
            context=Context.from_dict(data.get("context") or {}),
            due_at=_moment(data.get("due_at")),
            last_position=int(data.get("last_position") or 0),
            spans=tuple(Span.from_dict(span) for span in data.get("spans") or ()),
            lanes={int(lane): int(position)
                   for lane, position in (data.get("lanes") or {}).items()},
            lane_floor=int(data.get("lane_floor") or 0))

    def next_timer(self) -> datetime | None:
        return min((t.at for t in self.timers.values()), default=None)


_STATE_FIELDS = frozenset(f.name for f in fields(WatchState))


@dataclass(frozen=True)
class Finding:
    """``about``: whom the finding concerns beyond the watch's context (a hall's
    after-hours watch names the case and window of each act it judges)."""

    rule: str
    raised_at: str
    evidence: list[str]
    detail: str
    alert_key: str
    about: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["about"] = dict(self.about)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(str(data["rule"]), str(data["raised_at"]), list(data["evidence"]),
                   str(data["detail"]), str(data["alert_key"]), dict(data.get("about") or {}))


@dataclass(frozen=True)
class Clear:
    alert_key: str
    at: str
    why: str
    void: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Clear:
        return cls(str(data["alert_key"]), str(data["at"]), str(data["why"]),
                   bool(data.get("void")))


@dataclass
class Judgement:
    """What one observation or firing decided."""

    findings: list[Finding] = field(default_factory=list)
    clears: list[Clear] = field(default_factory=list)


class _Judging:
    """One judgement in progress: the watch's state as it changes, and what was decided."""

    def __init__(self, key: str, state: WatchState) -> None:
        self.key = key
        self.state = state
        self.judgement = Judgement()

    def update(self, **changes: Any) -> None:
        """The state with ``changes`` (as ``dataclasses.replace``, which re-runs
        ``__init__`` over every field and was ~6% of judging; a check changes it often)."""
        unknown = changes.keys() - _STATE_FIELDS
        if unknown:
            raise TypeError(f"WatchState has no field {sorted(unknown)[0]!r}")
        state = object.__new__(WatchState)
        state.__dict__.update(self.state.__dict__, **changes)
        self.state = state

    def finding(self, rule: str, at: datetime, evidence: list[str], detail: str,
                unique: str, about: Mapping[str, str] | None = None) -> str:
        """Raise ``rule`` at ``at``; returns the alert's key."""
        key = f"{self.key}/{rule}/{unique}"
        self.judgement.findings.append(Finding(rule, at.isoformat(), evidence, detail, key,
                                               dict(about or {})))
        return key

    def set_timer(self, rule: str, at: datetime, since: datetime, evidence: str,
                  detail: str = "", basis: Basis | None = None) -> None:
        if f"{rule}@{at.isoformat()}" in self.state.raised:
            return  # this (rule, moment) was raised already
        current = self.state.timers.get(rule)
        if current and current.at == at:
            return
        trail = (*(current.evidence if current else ()), evidence)
        self.update(timers={**self.state.timers, rule: Timer(at, since, trail, detail, basis)})

    def drop_timer(self, rule: str) -> None:
        if rule in self.state.timers:
            self.update(timers={r: t for r, t in self.state.timers.items() if r != rule})

    def clear(self, rule: str, at: datetime, why: str, void: bool = False) -> None:
        """Close the open alert of ``rule``; ``void`` if it should never have been raised."""
        alert = self.state.open_alerts.get(rule)
        if alert:
            self.update(open_alerts={r: a for r, a in self.state.open_alerts.items()
                                     if r != rule})
            self.judgement.clears.append(Clear(alert.key, at.isoformat(), why, void))

    def release(self, rule: str) -> None:
        """Stop following the open alert of ``rule``: it stands until the bureau acts."""
        if rule in self.state.open_alerts:
            self.update(open_alerts={r: a for r, a in self.state.open_alerts.items()
                                     if r != rule})

    def mark_raised(self, rule: str, at: datetime) -> None:
        """Treat (rule, at) as raised: the standing alert covers it."""
        self.drop_timer(rule)
        self.update(raised=(*self.state.raised, f"{rule}@{at.isoformat()}"))

    def stop(self, rule: str, moment: datetime, timely: bool, ended: str,
             clear_why: str | None = None) -> None:
        """What ``rule``'s timer waited for ``ended`` at ``moment``: drop the timer, and
        settle the alert it raised, if any — void if a timely report shows the end came
        before the alert's moment; else cleared with ``clear_why`` (deadline warnings) or
        left standing (findings, and anything a late report claims)."""
        self.drop_timer(rule)
        alert = self.state.open_alerts.get(rule)
        if alert is None:
            return
        if moment <= alert.raised_at and timely:
            self.clear(rule, moment, f"void: {ended} before this moment", void=True)
        elif moment > alert.raised_at and clear_why:
            self.clear(rule, moment, clear_why)
        else:
            self.release(rule)

    def expire(self, moment: datetime) -> None:
        """Raise every timer due at or before ``moment``, earliest first."""
        due = sorted((t.at, rule) for rule, t in self.state.timers.items() if t.at <= moment)
        for at, rule in due:
            timer = self.state.timers[rule]
            self.drop_timer(rule)
            raised_at = max(at, timer.since)
            self.update(raised=(*self.state.raised, f"{rule}@{timer.at.isoformat()}"))
            if rule == "deadline.overdue":
                self.clear(YELLOW_RULE, raised_at, "superseded by deadline.overdue")
            if rule == YELLOW_RULE:
                self.clear(rule, raised_at, "superseded by a later deadline")
            # A timer of one act among many (a hall's after-hours watch) is keyed
            # "rule#case#window": the alert is the rule's, about that case and window.
            rule_id, _, act = rule.partition("#")
            case_no, _, window_id = act.partition("#")
            about = {"case_no": case_no, "window_id": window_id} if act else {}
            unique = f"{case_no}/{timer.at.isoformat()}" if act else timer.at.isoformat()
            key = self.finding(rule_id, raised_at, list(timer.evidence), timer.detail, unique,
                               {k: v for k, v in about.items() if v})
            # Followed until what the timer waited for happens (see the module docstring).
            self.update(open_alerts={**self.state.open_alerts,
                                     rule: OpenAlert(key, raised_at)})


def _upcast_judged(state: dict[str, Any]) -> None:
    """Version 1 recorded each part of the watch's state as its own attribute."""
    parts = {name: state.pop(name, None) for name in
             ("timers", "raised", "open_alerts", "first_notice", "context", "due_at")}
    state["state"] = WatchState.from_dict({**parts, "last_position": state.pop("position")})
    state["findings"] = [f if isinstance(f, Finding) else Finding.from_dict(f)
                         for f in state["findings"]]
    state["clears"] = [c if isinstance(c, Clear) else Clear.from_dict(c)
                       for c in state["clears"]]


def _upcast_rescheduled(state: dict[str, Any]) -> None:
    state["timers"] = {rule: t if isinstance(t, Timer) else Timer.from_dict(t)
                       for rule, t in state["timers"].items()}


def _upcast_watch(state: dict[str, Any]) -> None:
    """A version-1 snapshot: the state's parts were attributes of the watch."""
    parts = {name: state.pop(name, None) for name in
             ("timers", "raised", "open_alerts", "first_notice", "context", "due_at",
              "last_position")}
    state["state"] = WatchState.from_dict(parts)


class Watch(Aggregate):
    class_version: ClassVar[int] = 2
    upcast_v1_v2 = staticmethod(_upcast_watch)

    class Judged(Aggregate.Event):
        class_version: ClassVar[int] = 2
        upcast_v1_v2 = staticmethod(_upcast_judged)
        key: str
        source_event: str
        state: WatchState
        findings: list[Finding]
        clears: list[Clear]

    class Rescheduled(Aggregate.Event):
        class_version: ClassVar[int] = 2
        upcast_v1_v2 = staticmethod(_upcast_rescheduled)
        key: str
        timers: dict[str, Timer]
        calendar_version: str

    @staticmethod
    def create_id(key: str) -> UUID:
        return uuid5(NAMESPACE, "watch/" + key)

    @event("Started")
    def __init__(self, key: str) -> None:
        self.key = key
        self.state = WatchState()

    # -- commands ----------------------------------------------------------------

    def observe(self, message: HallMessage, rules: RuleSet, calendar: WorkCalendar,
                directory: Directory | None = None, lane: int = 0) -> Judgement:
        """Judge one published event. An event at or before the last store position this
        watch judged is a redelivery (e.g. a relay that resent after a crash): skipped.
        ``directory``: the bureau's current directory; without one, the rules that need
        it do not judge. ``lane``: the partition the event came on."""
        # A watch may hear from several partitions (a hall's after-hours watch from all of
        # them; a case's watch from its own and from the records naming it), in no order
        # across them but in store order within each: it is guarded per partition.
        state = self.state
        seen = state.seen(lane)
        if message.position and message.position <= seen and not _awaited(self.key, state,
                                                                          message):
            return Judgement()
        judging = _Judging(self.key, state)
        judging.expire(message.time)  # clocks that ran out before this fact happened
        _judge_message(judging, message, rules, calendar, directory)
        judging.expire(message.time)  # a clock the fact itself set in the past (a late report)
        judging.update(last_position=max(message.position, state.last_position),
                       lanes={**state.lanes, lane: max(message.position, seen)},
                       lane_floor=state.floor)
        self._record(judging, message.id)
        return judging.judgement

    def fire(self, now: datetime) -> Judgement:
        judging = _Judging(self.key, self.state)
        judging.expire(now)
        if judging.judgement.findings or judging.judgement.clears:
            self._record(judging, "")
        return judging.judgement

    def reschedule(self, calendar: WorkCalendar, calendar_version: str) -> bool:
        """Move working-day timers to where ``calendar`` puts them; True if any moved."""
        timers = {rule: replace(t, at=calendar.end_of_working_day(t.basis.start,
                                                                   t.basis.working_days))
                  if t.basis else t for rule, t in self.state.timers.items()}
        if timers == self.state.timers:
            return False
        self._rescheduled(key=self.key, timers=timers, calendar_version=calendar_version)
        return True

    @event(Rescheduled)
    def _rescheduled(self, key: str, timers: dict[str, Timer], calendar_version: str) -> None:
        self.state = replace(self.state, timers=timers)

    def next_timer(self) -> datetime | None:
        return self.state.next_timer()

    def _record(self, judging: _Judging, source_event: str) -> None:
        self._judged(key=self.key, source_event=source_event, state=judging.state,
                     findings=judging.judgement.findings, clears=judging.judgement.clears)

    @event(Judged)
    def _judged(self, key: str, source_event: str, state: WatchState, findings: list[Finding],
                clears: list[Clear]) -> None:
        self.state = state


def timers_in(recorded: Any) -> Mapping[str, Timer]:
    """The timers a watch has after one of its recorded events (empty if it sets none)."""
    if isinstance(recorded, Watch.Judged):
        return recorded.state.timers
    if isinstance(recorded, Watch.Rescheduled):
        return recorded.timers
    return {}


def watch_keys(message: HallMessage) -> list[str]:
    """The watches that judge a message: its own, and the hall's after-hours watch for
    an after-hours service record and for an acceptance or completion out of office
    hours (measures art. 17(5)). A record also reaches the watch of every case it names:
    cases judged before the hall's after-hours watch existed wait there."""
    keys = [message.watch_key]
    hall = message.hall_id
    if message.type == AFTER_HOURS:
        keys += [f"case/{case_no}" for case_no in message.data.get("case_numbers") or ()]
        keys.append(f"{AFTER_HOURS_WATCH}/{hall}")
    elif message.type in AFTER_HOURS_ACTS and message.case is not None \
            and message.case.office_hours == "out":
        keys.append(f"{AFTER_HOURS_WATCH}/{hall}")
    return keys


# -- judging one message: who it concerns, then one check per subject -----------------

@dataclass(frozen=True)
class _Fact:
    """The message being judged and what every check needs with it."""

    message: HallMessage
    rules: RuleSet
    calendar: WorkCalendar
    directory: Directory | None = None

    @property
    def moment(self) -> datetime:
        return self.message.time

    @property
    def data(self) -> Mapping[str, Any]:
        return self.message.data

    @property
    def timely(self) -> bool:
        """Recorded within the reporting delay of the time it states."""
        message = self.message
        limit = timedelta(hours=self.rules.report_late_hours)
        return message.from_hallwatch or message.recorded_time - message.time <= limit

    def working_days_after(self, days: int) -> tuple[datetime, Basis]:
        """The end of the ``days``-th working day after the fact's day, and its basis."""
        start = local_date(self.moment)
        return self.calendar.end_of_working_day(start, days), Basis(start, days)


Check = Callable[[_Judging, _Fact], None]


def _note_context(j: _Judging, f: _Fact) -> None:
    message, context, case = f.message, j.state.context, f.message.case
    noted = Context(
        hall_id=message.hall_id if message.hall_id is not None else context.hall_id,
        case_no=message.subject if message.type.startswith("case.") else context.case_no,
        window_id=(case.window_id if case else None) or f.data.get("window_id")
        or context.window_id,
        staff_id=(case.staff_id if case else None) or f.data.get("staff_id")
        or context.staff_id)
    if noted != context:
        j.update(context=noted)


def _check_report_delay(j: _Judging, f: _Fact) -> None:
    limit = timedelta(hours=f.rules.report_late_hours)
    message = f.message
    if message.type in BUREAU_TYPES:
        return  # the bureau's own inspection record: no hall reported anything late
    if not f.timely:
        j.finding("report.late", f.moment + limit, [message.id],
                  f"happened {f.moment.isoformat()}, recorded "
                  f"{message.recorded_time.isoformat()}", message.id)


def _check_notice(j: _Judging, f: _Fact) -> None:
    listed = list(f.data.get("missing_materials", []))
    first = j.state.first_notice
    if first is None:
        j.update(first_notice=tuple(sorted(listed)))
        return
    extra = sorted(set(listed) - set(first))
    if extra:
        j.finding("notice.not_one_time", f.moment, [f.message.id],
                  "not in the first written list: " + "、".join(extra), f.message.id)


def _check_tolerance_list(j: _Judging, f: _Fact) -> None:
    """A tolerance acceptance lists the missing materials in writing: that list is part
    of the first written list a later notice may not go beyond."""
    listed = set(j.state.first_notice or ()) | set(f.data.get("missing_materials", []))
    j.update(first_notice=tuple(sorted(listed)))


def _check_extension(j: _Judging, f: _Fact) -> None:
    ident = f.message.id
    if not f.data.get("approved_by"):
        j.finding("extension.unapproved", f.moment, [ident], f.data.get("reason", ""), ident)
    if not f.data.get("applicant_notified"):
        j.finding("extension.not_notified", f.moment, [ident], "", ident)
    due = j.state.due_at
    if due and f.moment > due:
        j.finding("extension.after_due", f.moment, [ident], f"due {due.isoformat()}", ident)


def _check_rejection(j: _Judging, f: _Fact) -> None:
    missing = [name for name in ("legal_basis", "notice_no", "review_rights_told")
               if not f.data.get(name)]
    if missing:
        j.finding("rejection.incomplete", f.moment, [f.message.id],
                  "missing: " + ", ".join(missing), f.message.id)


def _check_suspension(j: _Judging, f: _Fact) -> None:
    if not f.data.get("applicant_informed"):
        j.finding("procedure.not_informed", f.moment, [f.message.id],
                  f.data.get("procedure", ""), f.message.id)


def _check_absence(j: _Judging, f: _Fact) -> None:
    if not f.data.get("substitute_staff_id"):
        j.finding("post.uncovered", f.moment, [f.message.id],
                  f"window {f.data.get('window_id')}, staff {f.data.get('staff_id')}",
                  f.message.id)
    expected = parse_time(str(f.data["expected_return"]), "data.expected_return")
    j.set_timer("post.absence_overrun",
                expected + timedelta(minutes=f.rules.absence_grace_minutes), f.moment,
                f.message.id, f"expected back {f.data['expected_return']}")


def _check_return_to_post(j: _Judging, f: _Fact) -> None:
    j.stop("post.absence_overrun", f.moment, f.timely, "the staff member was back")


def _check_complaint(j: _Judging, f: _Fact) -> None:
    at, basis = f.working_days_after(f.rules.complaint_resolution_working_days)
    j.set_timer("complaint.overdue", at, f.moment, f.message.id,
                f.data.get("complaint_no", ""), basis)


def _check_complaint_resolved(j: _Judging, f: _Fact) -> None:
    j.stop("complaint.overdue", f.moment, f.timely, "the complaint was resolved")


# Checks of one hall action, by subject: a case's own records (its clocks come after,
# in CASE_CLOCKS), a post, a complaint. One-off records (after-hours services,
# inquiries, liaison reports, comment-book and appeal-register entries) have no check
# beyond the reporting delay; the bureau's inspections have none at all.
CASE_CHECKS: dict[str, Check] = {
    "case.tolerance_accepted": _check_tolerance_list,
    "case.notice_issued": _check_notice,
    "case.extended": _check_extension,
    "case.rejected": _check_rejection,
    "case.suspended": _check_suspension,
}
POST_CHECKS: dict[str, Check] = {
    "post.absence_noticed": _check_absence,
    "post.resumed": _check_return_to_post,
}
COMPLAINT_CHECKS: dict[str, Check] = {
    "complaint.received": _check_complaint,
    "complaint.resolved": _check_complaint_resolved,
}
RECORD_CHECKS: dict[str, Check] = {**CASE_CHECKS, **POST_CHECKS, **COMPLAINT_CHECKS}


def _judge_message(j: _Judging, message: HallMessage, rules: RuleSet,
                   calendar: WorkCalendar, directory: Directory | None) -> None:
    f = _Fact(message, rules, calendar, directory)
    if message.type == AFTER_HOURS and j.key.startswith("case/"):
        _check_after_hours_record(j, f)  # a record naming this case: nothing else here
        return
    if j.key.startswith(AFTER_HOURS_WATCH + "/"):
        _judge_after_hours(j, f)  # the hall's after-hours watch: nothing else here
        return
    _note_context(j, f)
    _check_report_delay(j, f)
    check = RECORD_CHECKS.get(message.type)
    if check is not None:
        check(j, f)
    if directory is not None:  # without a directory, its rules do not judge
        for directory_check in DIRECTORY_CHECKS.get(message.type, ()):
            directory_check(j, f, directory)
    if message.case is not None:
        for clock in CASE_CLOCKS:
            clock(j, f, message.case)


# -- checks against the bureau's directory (measures art. 14, 17(3), 17(6), 17(8)) ------

DirectoryCheck = Callable[[_Judging, _Fact, Directory], None]


def _matter_code(f: _Fact) -> str | None:
    case = f.message.case
    return (case.matter_code if case else None) or f.data.get("matter_code")


def _check_matter_catalogued(j: _Judging, f: _Fact, directory: Directory) -> None:
    code = _matter_code(f)
    if directory.matter(code) is None:
        j.finding("matter.not_in_catalogue", f.moment, [f.message.id],
                  f"matter {code} ({f.data.get('matter_name', '')}) is not in directory "
                  f"{directory.version}", f.message.id)


def _check_promise(j: _Judging, f: _Fact, directory: Directory) -> None:
    matter = directory.matter(_matter_code(f))
    promised = f.data.get("promised_days")
    if matter is None or f.data.get("kind") != "promised" or not isinstance(promised, int):
        return
    if promised > matter.promised_days:
        j.finding("promise.longer_than_published", f.moment, [f.message.id],
                  f"promised {promised} working days, published {matter.promised_days}",
                  f.message.id)


def _check_tolerance_listed(j: _Judging, f: _Fact, directory: Directory) -> None:
    matter = directory.matter(_matter_code(f))
    if matter is not None and not matter.tolerance_allowed:
        j.finding("tolerance.not_on_list", f.moment, [f.message.id],
                  f"matter {matter.code} is not on the tolerance-acceptance list",
                  f.message.id)


def _check_notice_materials(j: _Judging, f: _Fact, directory: Directory) -> None:
    matter = directory.matter(_matter_code(f))
    if matter is None:
        return
    extra = sorted(set(f.data.get("missing_materials", [])) - matter.materials)
    if extra:
        j.finding("notice.outside_published_list", f.moment, [f.message.id],
                  "not on the published material list: " + "、".join(extra), f.message.id)


def _check_substitute(j: _Judging, f: _Fact, directory: Directory) -> None:
    substitute = f.data.get("substitute_staff_id")
    window = directory.window(f.data.get("window_id"))
    if substitute and window is not None and substitute != window.b_post:
        j.finding("post.substitute_not_b", f.moment, [f.message.id],
                  f"window {window.id}: substitute {substitute}, B post {window.b_post}",
                  f.message.id)


_OPENING = (_check_matter_catalogued, _check_promise)
DIRECTORY_CHECKS: dict[str, tuple[DirectoryCheck, ...]] = {
    "case.accepted": _OPENING,
    "case.tolerance_accepted": (*_OPENING, _check_tolerance_listed),
    "case.notice_issued": (_check_notice_materials,),
    "post.absence_noticed": (_check_substitute,),
}


# -- the case's clocks: each one a small check over the summary after the fact --------

CaseClock = Callable[[_Judging, _Fact, CaseSummary], None]


def _deadline_clock(j: _Judging, f: _Fact, case: CaseSummary) -> None:
    """Yellow and red (or same-day) timers while the clock runs; none otherwise."""
    previous_due = j.state.due_at
    j.update(due_at=case.due_at)
    if case.status != lifecycle.ACCEPTED or case.due_at is None:
        for rule in DEADLINE_RULES:
            j.drop_timer(rule)
        return
    wanted: dict[str, datetime | None]
    if case.kind == "immediate":
        wanted = {"immediate.not_same_day": case.due_at}
    elif case.due_at > f.moment:
        wanted = {"deadline.overdue": case.due_at, YELLOW_RULE: case.yellow_at}
    else:  # already past the due moment: a yellow would say nothing new
        j.drop_timer(YELLOW_RULE)
        wanted = {"deadline.overdue": case.due_at}
    moved = previous_due is not None and previous_due != case.due_at
    for rule, at in wanted.items():
        if at is None:
            continue
        alert = j.state.open_alerts.get(rule)
        if alert is not None and rule == YELLOW_RULE:
            if at <= f.moment:
                j.drop_timer(rule)  # the yellow stands until the red or the decision
                continue
            j.clear(rule, f.moment, "the deadline moved")
        elif alert is not None:  # a red: this overdue episode happened
            if f.message.type == DEADLINE_RECOMPUTED and at > alert.raised_at:
                j.clear(rule, f.moment, f"void: the official calendar puts the due moment "
                                        f"at {at.isoformat()}", void=True)
            elif moved:
                j.release(rule)  # it stands until the bureau resolves it
                if at <= f.moment:
                    j.mark_raised(rule, at)  # still the same episode: no second red
                    continue
            else:
                j.drop_timer(rule)
                continue
        j.set_timer(rule, at, f.moment, f.message.id)


def _supplement_clock(j: _Judging, f: _Fact, case: CaseSummary) -> None:
    if case.status in lifecycle.OPEN and case.supplement_pending and case.supplement_due_at:
        j.set_timer("tolerance.supplement_overdue", case.supplement_due_at, f.moment,
                    f.message.id)
    else:
        j.stop("tolerance.supplement_overdue", f.moment, f.timely,
               "the materials were supplemented")


def _procedure_clock(j: _Judging, f: _Fact, case: CaseSummary) -> None:
    if case.status != lifecycle.SUSPENDED:
        j.stop("procedure.overlong", f.moment, f.timely, "the special procedure ended")
    elif f.message.type == "case.suspended":
        at, basis = f.working_days_after(f.rules.procedure_max_working_days)
        j.set_timer("procedure.overlong", at, f.moment, f.message.id,
                    f"limit {f.rules.procedure_max_working_days} working days", basis)


def _rating_clock(j: _Judging, f: _Fact, case: CaseSummary) -> None:
    if not case.rating_bad_open:
        j.stop("rating.rectification_overdue", f.moment, f.timely,
               "the bad review was rectified")
    elif f.message.type == "case.rated":
        at, basis = f.working_days_after(f.rules.rating_rectification_working_days)
        j.set_timer("rating.rectification_overdue", at, f.moment, f.message.id,
                    f"satisfaction {case.rating}", basis)


def _decision(j: _Judging, f: _Fact, case: CaseSummary) -> None:
    """A decided case's deadline alerts end (see the module docstring)."""
    if case.status not in lifecycle.CLOSED:
        return
    for rule in CLEARS_WHEN_CLOSED:
        j.stop(rule, f.moment, f.timely, f"the case was {case.status}",
               clear_why=f"the case was {case.status}")


def _judge_after_hours(j: _Judging, f: _Fact) -> None:
    """A hall's after-hours watch (measures art. 17(5)): an acceptance or completion out
    of office hours must be covered, within the reporting delay, by an after-hours
    service record that names the case in ``case_numbers`` or was kept at the act's
    window over a span (``start``–``end``) containing the act's time. Records are kept
    ``SPAN_KEPT`` for acts typed in after them; each act waits on a timer of its own."""
    message = f.message
    j.update(context=replace(j.state.context, hall_id=message.hall_id))
    # The watch lives as long as its hall: forget acts raised long ago (an alert id is
    # derived from its rule and moment, so a very late redelivery still raises nothing
    # twice), keeping the state each judgement records small.
    horizon = f.moment - SPAN_KEPT
    recent = tuple(r for r in j.state.raised
                   if datetime.fromisoformat(r.rsplit("@", 1)[1]) >= horizon)
    if recent != j.state.raised:
        j.update(raised=recent)
    if message.type == AFTER_HOURS:
        span = Span(str(f.data["window_id"]), parse_time(str(f.data["start"])),
                    parse_time(str(f.data["end"])), tuple(f.data.get("case_numbers") or ()))
        kept = tuple(s for s in j.state.spans if s.end >= span.end - SPAN_KEPT and s != span)
        j.update(spans=(*kept, span))
        for key, timer in list(j.state.timers.items()):
            _, case_no, window_id = key.split("#")
            if span.covers(case_no, window_id or None, timer.since):
                j.stop(key, f.moment, f.timely, "an after-hours service record covered it")
        return
    case = message.case
    if f.directory is None or case is None:
        return  # judged only with the bureau's reference data loaded (docs/rules.md)
    window = case.window_id or ""
    if any(s.covers(message.subject, window or None, f.moment) for s in j.state.spans):
        return  # a record already kept covers it
    key = f"{UNRECORDED}#{message.subject}#{window}"
    if key in j.state.timers:
        return  # the record that covers the case's earlier act is still awaited
    j.set_timer(key, f.moment + timedelta(hours=f.rules.report_late_hours), f.moment,
                message.id, f"{message.type} at {f.moment.isoformat()}")


def _awaited(key: str, state: WatchState, message: HallMessage) -> bool:
    """A record naming a case whose watch still waits for one is judged whatever its
    position: it only stops that wait, which is idempotent. (A watch recorded before
    lanes were kept cannot tell a record of another partition from a redelivery.)"""
    return message.type == AFTER_HOURS and key.startswith("case/") and (
        UNRECORDED in state.timers or UNRECORDED in state.open_alerts)


def _check_after_hours_record(j: _Judging, f: _Fact) -> None:
    """A record naming a case whose own watch waits for one (judged before each hall
    had its after-hours watch)."""
    j.stop(UNRECORDED, f.moment, f.timely, "an after-hours service record covered it")


def _delivery_clock(j: _Judging, f: _Fact, case: CaseSummary) -> None:
    """A completed case's decision is delivered within the statutory period (行政许可法
    art. 44, working days by its art. 82)."""
    if f.directory is None:
        return  # judged only with the bureau's reference data loaded (docs/rules.md)
    if case.status == lifecycle.COMPLETED and f.message.type == "case.completed":
        at, basis = f.working_days_after(f.rules.delivery_working_days)
        j.set_timer("decision.not_delivered", at, f.moment, f.message.id,
                    f"limit {f.rules.delivery_working_days} working days", basis)
    elif case.status != lifecycle.COMPLETED:
        j.stop("decision.not_delivered", f.moment, f.timely, "the decision was delivered")


CASE_CLOCKS: tuple[CaseClock, ...] = (_deadline_clock, _supplement_clock, _procedure_clock,
                                      _rating_clock, _decision, _delivery_clock)
