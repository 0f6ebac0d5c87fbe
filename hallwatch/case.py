"""The Case aggregate: one application's life in a hall, from notice or acceptance to
delivery, rating or return.

Commands compute (lifecycle check, deadline, office-hours class) and record the result
in the event; event application only copies recorded values. The public summary
(:class:`~hallwatch.summary.CaseSummary`) is the case as the bureau sees it after each
event; it travels with the event so views never recompute anything.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from hallwatch import deadline as deadlines
from hallwatch import lifecycle
from hallwatch.calendar import WorkCalendar, local_date, start_of_day
from hallwatch.catalogue import Fact, digest
from hallwatch.deadline import Deadline
from hallwatch.errors import Forbidden, ImpossibleSequence, InvalidEvent
from hallwatch.office_hours import Seasons, classify
from hallwatch.summary import CaseSummary

NAMESPACE = UUID("5b1e9a57-3f4c-4c1e-9a63-6a0d1f3c2b10")
# How much earlier than the case's previous event a fact may say it happened: the clocks
# of a hall's systems (window terminal, back office) differ by a few minutes.
ORDER_SKEW = timedelta(minutes=10)


@lru_cache(maxsize=65_536)  # bounded; a case's id is asked for on each of its events
def case_id(case_no: str) -> UUID:
    return uuid5(NAMESPACE, "case/" + case_no)


GENESIS = "0" * 64


def link(previous: str, content: dict[str, Any], key: bytes) -> str:
    """The next link of a case's hash chain: HMAC-SHA256(key, previous link + digest).

    Each event records its link, and the link is published with it, so an auditor can
    recompute the chain from the event store and compare it with the copies in Kafka and
    ClickHouse: changing any stored event breaks every later link. The link is keyed
    because it covers the applicant's personal data, which is published masked: an
    unkeyed hash of a short phone or ID number could be brute-forced from its mask."""
    return link_digest(previous, digest(content), key)


def link_digest(previous: str, content_digest: str, key: bytes) -> str:
    """:func:`link` of content whose digest (``hallwatch.catalogue.digest``) is known."""
    return hmac.new(key, (previous + content_digest).encode(), hashlib.sha256).hexdigest()


def with_deadline(summary: CaseSummary, deadline: Deadline | None) -> CaseSummary:
    """The summary with ``deadline`` and the moments and flags that follow from it."""
    return summary.but(
        deadline=deadline,
        due_at=deadline.due_at if deadline else None,
        yellow_at=deadline.yellow_at if deadline else None,
        provisional=bool(deadline and deadline.provisional)
        or (summary.supplement_provisional and summary.supplement_pending))


# -- one handler per hall action -------------------------------------------------------

Handler = Callable[[CaseSummary, Fact, WorkCalendar], CaseSummary]


def _accept(s: CaseSummary, fact: Fact, calendar: WorkCalendar) -> CaseSummary:
    """Acceptance starts the clock: the deadline in working days, or the same day."""
    data = fact.data
    promised = data.get("promised_days") if data.get("kind") == "promised" else None
    if data.get("kind") == "promised" and not promised:
        raise InvalidEvent("a promised case needs promised_days", "data.promised_days")
    s = s.but(matter_code=data.get("matter_code"), matter_name=data.get("matter_name"),
                kind=data.get("kind"), window_id=data.get("window_id"),
                staff_id=data.get("staff_id"), receipt_no=data.get("receipt_no"),
                promised_days=promised, accepted_at=fact.time)
    return with_deadline(s, deadlines.base(calendar, fact.time, promised, fact.id))


def _accept_with_missing_materials(s: CaseSummary, fact: Fact, calendar: WorkCalendar
                                   ) -> CaseSummary:
    """Tolerance acceptance: accepted, and the missing materials are due by a date."""
    s = _accept(s, fact, calendar)
    days = int(fact.data["supplement_days"])
    due, provisional, versions = deadlines.supplement_due(calendar, fact.time, days)
    s = s.but(supplement_due_at=due, supplement_pending=True, supplement_days=days,
                supplement_provisional=provisional, supplement_calendar=versions)
    return with_deadline(s, s.deadline)


def _list_missing_materials(s: CaseSummary, fact: Fact, calendar: WorkCalendar
                            ) -> CaseSummary:
    listed = set(s.notice_materials) | set(fact.data.get("missing_materials", []))
    return s.but(notice_materials=tuple(sorted(listed)),
                   matter_code=s.matter_code or fact.data.get("matter_code"))


def _take_in_materials(s: CaseSummary, fact: Fact, calendar: WorkCalendar) -> CaseSummary:
    if not fact.data.get("complete", True):
        return s  # a partial supplement: still pending
    return with_deadline(s.but(supplement_pending=False), s.deadline)


def _stop_clock(s: CaseSummary, fact: Fact, calendar: WorkCalendar) -> CaseSummary:
    return s.but(suspended_since=local_date(fact.time))


def _restart_clock(s: CaseSummary, fact: Fact, calendar: WorkCalendar) -> CaseSummary:
    """Resumption adds the stopped working days back to the deadline."""
    since, until = s.suspended_since, local_date(fact.time)
    assert since is not None and s.deadline is not None, "only a suspended case resumes"
    if until < since:
        raise ImpossibleSequence("a case cannot resume before it was suspended", "time")
    moved = deadlines.add_suspension(calendar, s.deadline, since, until, fact.id)
    return with_deadline(s.but(suspended_since=None), moved)


def _extend(s: CaseSummary, fact: Fact, calendar: WorkCalendar) -> CaseSummary:
    """Every extension is counted; only an approved one moves the deadline. One approved
    after the due moment moves it too, but the case did miss that moment: it is kept in
    ``missed_due_at`` (the first moment missed) and the case is never on time."""
    s = s.but(extensions=s.extensions + 1)
    current = s.deadline
    if not fact.data.get("approved_by") or current is None:
        return s
    if fact.time > current.due_at:
        s = s.but(missed_due_at=s.missed_due_at or current.due_at)
    return with_deadline(s, deadlines.add_extension(calendar, current,
                                                    int(fact.data["extra_days"]), fact.id))


def _close(s: CaseSummary, fact: Fact, calendar: WorkCalendar) -> CaseSummary:
    """Decided, returned or withdrawn: the clock ends and its working days are counted."""
    used = None
    if s.accepted_at is not None:
        # Working days from the day after acceptance through the closing day.
        used = calendar.working_days_between(
            local_date(s.accepted_at) + timedelta(days=1),
            local_date(fact.time) + timedelta(days=1)).count
    return s.but(closed_at=fact.time, supplement_pending=False, working_days_used=used)


def _reject(s: CaseSummary, fact: Fact, calendar: WorkCalendar) -> CaseSummary:
    """A rejection closes the case. One at the window without an acceptance (不予受理)
    names the matter, window and staff no acceptance named; the case keeps what an
    earlier acceptance or notice named."""
    data = fact.data
    s = s.but(matter_code=s.matter_code or data.get("matter_code"),
              matter_name=s.matter_name or data.get("matter_name"),
              window_id=s.window_id or data.get("window_id"),
              staff_id=s.staff_id or data.get("staff_id"))
    return _close(s, fact, calendar)


def _rate(s: CaseSummary, fact: Fact, calendar: WorkCalendar) -> CaseSummary:
    grade = int(fact.data["satisfaction"])
    return s.but(rating=grade, rating_bad_open=grade >= 4)


def _rectify_rating(s: CaseSummary, fact: Fact, calendar: WorkCalendar) -> CaseSummary:
    if not s.rating_bad_open:
        raise ImpossibleSequence("there is no bad review open to rectify", "type")
    return s.but(rating_bad_open=False)


def _status_only(s: CaseSummary, fact: Fact, calendar: WorkCalendar) -> CaseSummary:
    return s


HANDLERS: dict[str, Handler] = {
    "case.accepted": _accept,
    "case.tolerance_accepted": _accept_with_missing_materials,
    "case.notice_issued": _list_missing_materials,
    "case.materials_supplemented": _take_in_materials,
    "case.suspended": _stop_clock,
    "case.resumed": _restart_clock,
    "case.extended": _extend,
    "case.rejected": _reject,
    "case.completed": _close,
    "case.delivered": _status_only,
    "case.returned": _close,
    "case.withdrawn": _close,
    "case.rated": _rate,
    "case.rating_rectified": _rectify_rating,
}


def check_time_order(summary: CaseSummary, fact: Fact, skew: timedelta = ORDER_SKEW) -> None:
    """A fact cannot have happened before its case was accepted, nor more than ``skew``
    before the case's previous event: such a time is impossible (refused, 422)."""
    stated = fact.time.isoformat()
    if summary.accepted_at is not None and fact.time < summary.accepted_at:
        raise InvalidEvent(f"{fact.type} at {stated} is earlier than the case's acceptance "
                           f"at {summary.accepted_at.isoformat()}", "time")
    last = summary.last_event_at
    if last is not None and fact.time < last - skew:
        minutes = int(skew.total_seconds() // 60)
        raise InvalidEvent(f"{fact.type} at {stated} is more than {minutes} minutes earlier "
                           f"than the case's previous event at {last.isoformat()}", "time")


def judge(summary: CaseSummary | None, fact: Fact, calendar: WorkCalendar, seasons: Seasons,
          skew: timedelta = ORDER_SKEW) -> CaseSummary:
    """The case summary after ``fact``; raises a DomainError if the fact is impossible."""
    try:
        status = lifecycle.next_status(summary.status if summary else None, fact.type)
    except ValueError as refusal:
        raise ImpossibleSequence(str(refusal), "type") from None
    if summary is not None:
        check_time_order(summary, fact, skew)
    current = summary or CaseSummary(case_no=fact.subject, hall_id=fact.hall_id, status=status)
    after = HANDLERS[fact.type](current.but(status=status), fact, calendar)
    latest = max(fact.time, current.last_event_at) if current.last_event_at else fact.time
    return after.but(office_hours=classify(fact.time, calendar, seasons),
                   last_event_at=latest)


def _upcast_summary(state: dict[str, Any]) -> None:
    """Version 1 stored the summary as a plain dict: read it as a CaseSummary."""
    if not isinstance(state.get("summary"), CaseSummary):
        state["summary"] = CaseSummary.from_dict(state["summary"])


class Case(Aggregate):
    """A case, identified by its case number 办件编号."""

    class_version: ClassVar[int] = 2  # snapshots of version 1 hold the summary as a dict
    upcast_v1_v2 = staticmethod(_upcast_summary)

    class Opened(Aggregate.Created):
        class_version: ClassVar[int] = 2
        upcast_v1_v2 = staticmethod(_upcast_summary)
        case_no: str
        hall_id: str
        fact: dict[str, Any]
        summary: CaseSummary
        chain: str
        recorded_at: str

    class FactRecorded(Aggregate.Event):
        class_version: ClassVar[int] = 2
        upcast_v1_v2 = staticmethod(_upcast_summary)
        fact: dict[str, Any]
        summary: CaseSummary
        chain: str
        recorded_at: str

    class DeadlineRecomputed(Aggregate.Event):
        class_version: ClassVar[int] = 2
        upcast_v1_v2 = staticmethod(_upcast_summary)
        summary: CaseSummary
        calendar_year: str
        recorded_at: str
        chain: str

    @staticmethod
    def create_id(case_no: str) -> UUID:
        return case_id(case_no)

    @classmethod
    def open(cls, fact: Fact, calendar: WorkCalendar, seasons: Seasons, chain_key: bytes,
             recorded_at: datetime | None = None) -> Case:
        """``recorded_at``: when the system stored the fact (the injected clock);
        ``chain_key``: the secret the hash chain is keyed with."""
        return cls(case_no=fact.subject, hall_id=fact.hall_id, fact=fact.envelope,
                   summary=judge(None, fact, calendar, seasons),
                   chain=link_digest(GENESIS, fact.digest, chain_key),
                   recorded_at=(recorded_at or fact.time).isoformat())

    @event(Opened)
    def __init__(self, case_no: str, hall_id: str, fact: dict[str, Any], summary: CaseSummary,
                 chain: str, recorded_at: str) -> None:
        self.case_no = case_no
        self.hall_id = hall_id
        self.summary = summary
        self.chain = chain

    def record(self, fact: Fact, calendar: WorkCalendar, seasons: Seasons, chain_key: bytes,
               recorded_at: datetime | None = None) -> None:
        if fact.hall_id != self.hall_id:
            # Say nothing of whose case it is: that is another hall's business.
            raise Forbidden(f"case {self.case_no} is not one of this hall's cases", "subject")
        self._record(fact=fact.envelope, summary=judge(self.summary, fact, calendar, seasons),
                     chain=link_digest(self.chain, fact.digest, chain_key),
                     recorded_at=(recorded_at or fact.time).isoformat())

    @event(FactRecorded)
    def _record(self, fact: dict[str, Any], summary: CaseSummary, chain: str, recorded_at: str
                ) -> None:
        self.summary = summary
        self.chain = chain

    def needs_recompute(self, year: int, reload: bool = False) -> bool:
        """True if an open case's deadline or supplement deadline depended on ``year``
        provisionally — or at all, when an official year is ``reload``-ed (corrected)."""
        s = self.summary
        if s.status not in lifecycle.OPEN or s.deadline is None:
            return False
        main = s.deadline.touches_year(year) and (reload or s.deadline.provisional)
        supplement = s.supplement_pending and deadlines.touches_year(
            s.supplement_calendar, year) and (reload or s.supplement_provisional)
        return bool(main or supplement)

    def calendar_versions(self) -> list[str]:
        """Every calendar version the case's current deadlines were computed with."""
        main = self.summary.deadline.calendar if self.summary.deadline else ()
        return [*main, *self.summary.supplement_calendar]

    def recompute_deadline(self, calendar: WorkCalendar, year_version: str,
                           at: datetime, chain_key: bytes) -> None:
        """Recompute under a newly loaded year and record the result as a new event."""
        s = self.summary
        assert s.deadline is not None, "only an accepted case has a deadline to recompute"
        new = with_deadline(s, deadlines.recompute(calendar, s.deadline))
        if new.supplement_pending and new.supplement_days is not None \
                and new.accepted_at is not None:
            due, provisional, versions = deadlines.supplement_due(
                calendar, new.accepted_at, new.supplement_days)
            new = new.but(supplement_due_at=due, supplement_provisional=provisional,
                          supplement_calendar=versions)
            new = with_deadline(new, new.deadline)
        assert new.deadline is not None
        self._recomputed(summary=new, calendar_year=year_version, recorded_at=at.isoformat(),
                         chain=link(self.chain, recomputed_content(new, year_version),
                                    chain_key))

    @event(DeadlineRecomputed)
    def _recomputed(self, summary: CaseSummary, calendar_year: str, recorded_at: str,
                    chain: str) -> None:
        self.summary = summary
        self.chain = chain


def recomputed_content(summary: CaseSummary, calendar_year: str) -> dict[str, Any]:
    """What the hash chain covers of a recomputed deadline."""
    deadline = summary.deadline.as_dict() if summary.deadline else None
    return {"deadline": deadline, "calendar_year": calendar_year}


def light(summary: CaseSummary, now: datetime) -> str:
    """green while running, yellow from the working day before the due date, red once
    overdue; none for a closed case or one not yet accepted. A suspended case is judged
    as of its suspension day: its clock is stopped."""
    if summary.status not in lifecycle.OPEN or summary.due_at is None:
        return "none"
    at = now
    if summary.status == lifecycle.SUSPENDED and summary.suspended_since:
        at = min(now, start_of_day(summary.suspended_since))
    if at > summary.due_at:
        return "red"
    if summary.yellow_at and at >= summary.yellow_at:
        return "yellow"
    return "green"



