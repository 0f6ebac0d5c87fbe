"""Supervision rules: stable ids, severities and the local thresholds (a versioned file).

Rules judge facts; they never refuse them. A breach becomes an alert: a warning
(yellow/red, about a deadline) or a finding (a rule of the measures was broken).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

YELLOW, RED, FINDING = "yellow", "red", "finding"

RULES: dict[str, tuple[str, str]] = {
    # id: (severity, what it means)
    "deadline.warning": (YELLOW, "the case entered the working day before its due date"),
    "deadline.overdue": (RED, "the case was not decided by its due time"),
    "immediate.not_same_day": (RED, "an immediate case was not completed on its acceptance day"),
    "tolerance.supplement_overdue": (FINDING, "tolerated materials were not supplemented in "
                                              "time; the case should be returned"),
    "notice.not_one_time": (FINDING, "a later notice asked for materials the first did not list"),
    "extension.unapproved": (FINDING, "an extension names no approving leader"),
    "extension.not_notified": (FINDING, "the applicant was not told of the extension"),
    "extension.after_due": (FINDING, "the extension came after the due time"),
    "rejection.incomplete": (FINDING, "a rejection lacks legal basis, notice number or the "
                                      "review-rights statement"),
    "procedure.not_informed": (FINDING, "a clock stop without written notice to the applicant"),
    "procedure.overlong": (FINDING, "a special procedure ran past the configured limit"),
    "post.uncovered": (FINDING, "an absence with no B-post substitute"),
    "post.absence_overrun": (FINDING, "an absence ran past its expected return"),
    "rating.rectification_overdue": (FINDING, "a bad review was not rectified within the limit"),
    "complaint.overdue": (FINDING, "a complaint was not resolved within the limit"),
    "report.late": (FINDING, "an event was recorded long after it happened (possible offline "
                             "handling, 体外循环)"),
}

# Warnings about a case's clock clear themselves once the case is decided.
CLEARS_WHEN_CLOSED = frozenset({"deadline.warning", "deadline.overdue",
                                "immediate.not_same_day"})


def severity(rule: str) -> str:
    return RULES[rule][0]


@dataclass(frozen=True)
class RuleSet:
    """Local thresholds; defaults from the domain notes. Loaded from a versioned file."""

    version: str = "default"
    procedure_max_working_days: int = 30
    absence_grace_minutes: int = 15
    rating_rectification_working_days: int = 5
    complaint_resolution_working_days: int = 5
    report_late_hours: int = 24
    notice_working_days: int = 3

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleSet:
        """Raises ValueError naming the field that is unknown or not a positive integer."""
        known = {f.name for f in fields(cls)}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"{key}: unknown threshold")
            if key == "version":
                if not isinstance(value, str) or not value:
                    raise ValueError("version: must be a non-empty string")
            elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key}: must be a whole number of 0 or more")
        if "version" not in data:
            raise ValueError("version: a rules file must name its version")
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
