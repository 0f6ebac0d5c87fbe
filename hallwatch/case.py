"""The Case aggregate: one application's life in a hall, from notice or acceptance to
delivery, rating or return.

Commands compute (lifecycle check, deadline, office-hours class) and record the result
in the event; event application only copies recorded values. The public ``summary`` is
the case as the bureau sees it after each event; it travels with the event so views
never recompute anything.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from hallwatch import deadline as deadlines
from hallwatch import lifecycle
from hallwatch.calendar import WorkCalendar, local_date, start_of_day
from hallwatch.catalogue import Fact, digest
from hallwatch.errors import Forbidden, ImpossibleSequence, InvalidEvent
from hallwatch.office_hours import Seasons, classify

NAMESPACE = UUID("5b1e9a57-3f4c-4c1e-9a63-6a0d1f3c2b10")

Summary = dict[str, Any]


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
    return hmac.new(key, (previous + digest(content)).encode(), hashlib.sha256).hexdigest()


def _apply_deadline(summary: Summary, deadline: deadlines.Deadline | None) -> None:
    summary["deadline"] = deadline
    summary["due_at"] = deadline["due_at"] if deadline else None
    summary["yellow_at"] = deadline["yellow_at"] if deadline else None
    summary["provisional"] = bool(deadline and deadline["provisional"]) or bool(
        summary.get("supplement_provisional") and summary.get("supplement_pending")
    )


def judge(summary: Summary | None, fact: Fact, calendar: WorkCalendar, seasons: Seasons
          ) -> Summary:
    """The case summary after ``fact``; raises a DomainError if the fact is impossible."""
    current = summary["status"] if summary else None
    try:
        status = lifecycle.next_status(current, fact.type)
    except ValueError as refusal:
        raise ImpossibleSequence(str(refusal), "type") from None
    new: Summary = dict(summary) if summary else {
        "case_no": fact.subject, "hall_id": fact.hall_id, "matter_code": None,
        "matter_name": None, "kind": None, "promised_days": None, "accepted_at": None,
        "window_id": None, "staff_id": None, "receipt_no": None, "deadline": None,
        "due_at": None, "yellow_at": None, "provisional": False, "supplement_due_at": None,
        "supplement_pending": False, "supplement_provisional": False, "supplement_days": None,
        "suspended_since": None, "closed_at": None, "notice_materials": [],
        "rating": None, "rating_bad_open": False, "extensions": 0,
    }
    new["status"] = status
    data = fact.data
    kind = fact.type
    if kind in ("case.accepted", "case.tolerance_accepted"):
        promised = data.get("promised_days") if data.get("kind") == "promised" else None
        if data.get("kind") == "promised" and not promised:
            raise InvalidEvent("a promised case needs promised_days", "data.promised_days")
        for key in ("matter_code", "matter_name", "kind", "window_id", "staff_id", "receipt_no"):
            new[key] = data.get(key)
        new["promised_days"] = promised
        new["accepted_at"] = fact.time.isoformat()
        _apply_deadline(new, deadlines.base(calendar, fact.time, promised, fact.id))
        if kind == "case.tolerance_accepted":
            days = int(data["supplement_days"])
            due, provisional, versions = deadlines.supplement_due(calendar, fact.time, days)
            new.update(supplement_due_at=due, supplement_pending=True, supplement_days=days,
                       supplement_provisional=provisional, supplement_calendar=versions)
            _apply_deadline(new, new["deadline"])
    elif kind == "case.notice_issued":
        listed = set(new["notice_materials"]) | set(data.get("missing_materials", []))
        new["notice_materials"] = sorted(listed)
        if new.get("matter_code") is None:
            new["matter_code"] = data.get("matter_code")
    elif kind == "case.materials_supplemented":
        if data.get("complete", True):
            new["supplement_pending"] = False
            _apply_deadline(new, new["deadline"])
    elif kind == "case.suspended":
        new["suspended_since"] = local_date(fact.time).isoformat()
    elif kind == "case.resumed":
        since = date.fromisoformat(new["suspended_since"])
        until = local_date(fact.time)
        if until < since:
            raise ImpossibleSequence("a case cannot resume before it was suspended", "time")
        _apply_deadline(new, deadlines.add_suspension(calendar, new["deadline"], since, until,
                                                      fact.id))
        new["suspended_since"] = None
    elif kind == "case.extended":
        new["extensions"] += 1
        if data.get("approved_by"):
            _apply_deadline(new, deadlines.add_extension(calendar, new["deadline"],
                                                         int(data["extra_days"]), fact.id))
    elif kind in ("case.rejected", "case.completed", "case.returned", "case.withdrawn"):
        new["closed_at"] = fact.time.isoformat()
        new["supplement_pending"] = False
        if new.get("accepted_at"):
            # Working days from the day after acceptance through the closing day.
            accepted_on = local_date(datetime.fromisoformat(new["accepted_at"]))
            new["working_days_used"] = calendar.working_days_between(
                accepted_on + timedelta(days=1), local_date(fact.time) + timedelta(days=1)).count
    elif kind == "case.rated":
        grade = int(data["satisfaction"])
        new["rating"] = grade
        new["rating_bad_open"] = grade >= 4
    elif kind == "case.rating_rectified":
        if not new["rating_bad_open"]:
            raise ImpossibleSequence("there is no bad review open to rectify", "type")
        new["rating_bad_open"] = False
    new["office_hours"] = classify(fact.time, calendar, seasons)
    return new


class Case(Aggregate):
    """A case, identified by its case number 办件编号."""

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
                   chain=link(GENESIS, fact.envelope, chain_key),
                   recorded_at=(recorded_at or fact.time).isoformat())

    @event("Opened")
    def __init__(self, case_no: str, hall_id: str, fact: dict[str, Any], summary: Summary,
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
                     chain=link(self.chain, fact.envelope, chain_key),
                     recorded_at=(recorded_at or fact.time).isoformat())

    @event("FactRecorded")
    def _record(self, fact: dict[str, Any], summary: Summary, chain: str, recorded_at: str
                ) -> None:
        self.summary = summary
        self.chain = chain

    def needs_recompute(self, year: int, reload: bool = False) -> bool:
        """True if an open case's deadline or supplement deadline depended on ``year``
        provisionally — or at all, when an official year is ``reload``-ed (corrected)."""
        s = self.summary
        deadline = s.get("deadline")
        if s["status"] not in lifecycle.OPEN or not deadline:
            return False
        main = deadlines.touches_year(deadline["calendar"], year) and (
            reload or deadline["provisional"])
        supplement = bool(s.get("supplement_pending")) and deadlines.touches_year(
            s.get("supplement_calendar") or [], year) and (
            reload or bool(s.get("supplement_provisional")))
        return bool(main or supplement)

    def calendar_versions(self) -> list[str]:
        """Every calendar version the case's current deadlines were computed with."""
        deadline = self.summary.get("deadline") or {}
        return [*deadline.get("calendar", []), *(self.summary.get("supplement_calendar") or [])]

    def recompute_deadline(self, calendar: WorkCalendar, year_version: str,
                           at: datetime, chain_key: bytes) -> None:
        """Recompute under a newly loaded year and record the result as a new event."""
        new = dict(self.summary)
        _apply_deadline(new, deadlines.recompute(calendar, new["deadline"]))
        tolerance = self._supplement_days()
        if new.get("supplement_pending") and tolerance is not None:
            accepted = datetime.fromisoformat(new["accepted_at"])
            due, provisional, versions = deadlines.supplement_due(calendar, accepted, tolerance)
            new.update(supplement_due_at=due, supplement_provisional=provisional,
                       supplement_calendar=versions)
            _apply_deadline(new, new["deadline"])
        self._recomputed(summary=new, calendar_year=year_version, recorded_at=at.isoformat(),
                         chain=link(self.chain, {"deadline": new["deadline"],
                                                 "calendar_year": year_version}, chain_key))

    def _supplement_days(self) -> int | None:
        days = self.summary.get("supplement_days")
        return int(days) if days is not None else None

    @event("DeadlineRecomputed")
    def _recomputed(self, summary: Summary, calendar_year: str, recorded_at: str, chain: str
                    ) -> None:
        self.summary = summary
        self.chain = chain


def light(summary: Summary, now: datetime) -> str:
    """green while running, yellow from the working day before the due date, red once
    overdue; none for a closed case or one not yet accepted. A suspended case is judged
    as of its suspension day: its clock is stopped."""
    if summary["status"] not in lifecycle.OPEN or not summary.get("due_at"):
        return "none"
    at = now
    if summary["status"] == lifecycle.SUSPENDED and summary.get("suspended_since"):
        at = min(now, start_of_day(date.fromisoformat(summary["suspended_since"])))
    if at > datetime.fromisoformat(summary["due_at"]):
        return "red"
    yellow = summary.get("yellow_at")
    if yellow and at >= datetime.fromisoformat(yellow):
        return "yellow"
    return "green"
