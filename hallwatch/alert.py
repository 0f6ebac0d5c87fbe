"""An alert (warning or finding) and its handling by the supervision bureau.

raised → acknowledged → noticed (a supervision notice 督办 with its own deadline) →
resolved. Still open when the notice's deadline passes: escalated (red card). Deadline
warnings clear themselves when the case is decided.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from hallwatch.calendar import WorkCalendar, local_date
from hallwatch.case import NAMESPACE
from hallwatch.errors import ImpossibleSequence

RAISED, ACKNOWLEDGED, NOTICED = "raised", "acknowledged", "noticed"
RESOLVED, CLEARED, ESCALATED, VOID = "resolved", "cleared", "escalated", "void"

# action -> statuses it may follow
ALERT_TRANSITIONS: dict[str, frozenset[str]] = {
    "acknowledge": frozenset({RAISED}),
    "notice": frozenset({RAISED, ACKNOWLEDGED}),
    "resolve": frozenset({RAISED, ACKNOWLEDGED, NOTICED, ESCALATED}),
    "clear": frozenset({RAISED, ACKNOWLEDGED, NOTICED}),
    "void": frozenset({RAISED, ACKNOWLEDGED, NOTICED}),
    "escalate": frozenset({NOTICED}),
}


def alert_id(key: str) -> UUID:
    return uuid5(NAMESPACE, "alert/" + key)


class Alert(Aggregate):
    @staticmethod
    def create_id(key: str) -> UUID:
        return alert_id(key)

    @event("Raised")
    def __init__(self, key: str, rule: str, severity: str, watch: str, context: dict[str, Any],
                 raised_at: str, evidence: list[str], detail: str, rules_version: str) -> None:
        self.key = key
        self.rule = rule
        self.severity = severity
        self.watch = watch
        self.context = context
        self.raised_at = raised_at
        self.evidence = evidence
        self.detail = detail
        self.rules_version = rules_version
        self.status = RAISED
        self.notice_due_at: str | None = None
        self.updated_at = raised_at
        self.history: list[dict[str, Any]] = []

    def _check(self, action: str) -> None:
        if self.status not in ALERT_TRANSITIONS[action]:
            raise ImpossibleSequence(f"cannot {action} an alert that is {self.status}", "status")

    def acknowledge(self, by: str, at: str) -> None:
        self._check("acknowledge")
        self._acknowledged(by=by, at=at)

    @event("Acknowledged")
    def _acknowledged(self, by: str, at: str) -> None:
        self._moved(ACKNOWLEDGED, at, by=by)

    def issue_notice(self, by: str, at: str, calendar: WorkCalendar, working_days: int,
                     content: str) -> None:
        """A supervision notice (督办) due at the end of the nth working day after today."""
        self._check("notice")
        start = local_date(datetime.fromisoformat(at))
        due = calendar.end_of_working_day(start, working_days)
        self._noticed(by=by, at=at, due_at=due.isoformat(), content=content,
                      basis={"from": start.isoformat(), "working_days": working_days})

    @event("NoticeIssued")
    def _noticed(self, by: str, at: str, due_at: str, content: str, basis: dict[str, Any]
                 ) -> None:
        self.notice_due_at = due_at
        self.notice_basis = basis
        self._moved(NOTICED, at, by=by, due_at=due_at, content=content)

    def reschedule_notice(self, calendar: WorkCalendar, calendar_version: str) -> bool:
        """Move an open notice's deadline to where ``calendar`` puts it; True if it moved."""
        basis = getattr(self, "notice_basis", None)
        if self.status != NOTICED or not basis:
            return False
        due = calendar.end_of_working_day(date.fromisoformat(basis["from"]),
                                          basis["working_days"]).isoformat()
        if due == self.notice_due_at:
            return False
        self._notice_rescheduled(due_at=due, calendar_version=calendar_version)
        return True

    @event("NoticeRescheduled")
    def _notice_rescheduled(self, due_at: str, calendar_version: str) -> None:
        self.notice_due_at = due_at

    def resolve(self, by: str, at: str, resolution: str) -> None:
        self._check("resolve")
        self._resolved(by=by, at=at, resolution=resolution)

    @event("Resolved")
    def _resolved(self, by: str, at: str, resolution: str) -> None:
        self._moved(RESOLVED, at, by=by, resolution=resolution)

    def clear(self, at: str, reason: str) -> None:
        self._check("clear")
        self._cleared(at=at, reason=reason)

    @event("Cleared")
    def _cleared(self, at: str, reason: str) -> None:
        self._moved(CLEARED, at, reason=reason)

    def void(self, at: str, reason: str) -> None:
        """Withdrawn: the facts, reported late, show the rule was never broken."""
        self._check("void")
        self._voided(at=at, reason=reason)

    @event("Voided")
    def _voided(self, at: str, reason: str) -> None:
        self._moved(VOID, at, reason=reason)

    def escalate(self, at: str) -> None:
        self._check("escalate")
        self._escalated(at=at)

    @event("Escalated")
    def _escalated(self, at: str) -> None:
        self.severity = "red_card"
        self._moved(ESCALATED, at, reason="still open after the supervision notice's deadline")

    def _moved(self, status: str, at: str, **details: Any) -> None:
        self.status = status
        self.updated_at = at
        self.history = [*self.history, {"status": status, "at": at, **details}]

    def view(self) -> dict[str, Any]:
        """The alert as published and shown to the bureau."""
        return {
            "alert_id": str(self.id), "rule": self.rule, "severity": self.severity,
            "status": self.status, "watch": self.watch, **self.context,
            "raised_at": self.raised_at, "updated_at": self.updated_at,
            "evidence": self.evidence, "detail": self.detail,
            "notice_due_at": self.notice_due_at, "rules_version": self.rules_version,
            "history": self.history, "version": self.version,
        }
