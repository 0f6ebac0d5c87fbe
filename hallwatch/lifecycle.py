"""The case lifecycle: which hall action may follow which status, and where it leads.

One table, used by the aggregate to refuse impossible sequences and by the docs
(``docs/lifecycle.md`` is generated from it and a test keeps them equal). Facts that
are possible but break a supervision rule (a late extension, an unapproved one) are
allowed here and judged later as findings.
"""

from __future__ import annotations

# Statuses. ``None`` means the case does not exist yet.
NOTICED = "noticed"  # one-time notice issued before acceptance
ACCEPTED = "accepted"  # running: the clock counts
SUSPENDED = "suspended"  # special procedure: the clock stops
COMPLETED = "completed"
DELIVERED = "delivered"
REJECTED = "rejected"
RETURNED = "returned"
WITHDRAWN = "withdrawn"

OPEN = frozenset({ACCEPTED, SUSPENDED})
CLOSED = frozenset({COMPLETED, DELIVERED, REJECTED, RETURNED, WITHDRAWN})
_DECIDED = (COMPLETED, DELIVERED, REJECTED, RETURNED)

SAME = "(unchanged)"

# action -> (statuses it may follow, status after it)
TRANSITIONS: dict[str, tuple[tuple[str | None, ...], str]] = {
    "case.notice_issued": ((None, NOTICED, ACCEPTED, SUSPENDED), SAME),
    "case.accepted": ((None, NOTICED), ACCEPTED),
    "case.tolerance_accepted": ((None, NOTICED), ACCEPTED),
    "case.materials_supplemented": ((NOTICED, ACCEPTED, SUSPENDED), SAME),
    "case.suspended": ((ACCEPTED,), SUSPENDED),
    "case.resumed": ((SUSPENDED,), ACCEPTED),
    "case.extended": ((ACCEPTED, SUSPENDED), SAME),
    # None: refused at the window without an acceptance (不予受理, measures art. 17(7)).
    "case.rejected": ((None, NOTICED, ACCEPTED, SUSPENDED), REJECTED),
    "case.completed": ((ACCEPTED,), COMPLETED),
    "case.delivered": ((COMPLETED,), DELIVERED),
    "case.returned": ((NOTICED, ACCEPTED, SUSPENDED), RETURNED),
    "case.withdrawn": ((NOTICED, ACCEPTED, SUSPENDED), WITHDRAWN),
    "case.rated": (_DECIDED, SAME),
    "case.rating_rectified": (_DECIDED, SAME),
}

_HINTS = {
    WITHDRAWN: "the case was withdrawn; no event may follow",
    SUSPENDED: "the case is suspended; record case.resumed first",
    None: "the case has not been accepted or noticed",
}


def next_status(current: str | None, action: str) -> str:
    """The status after ``action``; raises ValueError with a plain reason if impossible."""
    allowed, after = TRANSITIONS[action]
    if current not in allowed:
        hint = _HINTS.get(current, f"the case is {current}")
        raise ValueError(f"{action} cannot follow status {current or '(none)'}: {hint}")
    if after == SAME:
        return NOTICED if current is None else current
    return after


def as_markdown() -> str:
    """The table as Markdown, for docs/lifecycle.md."""
    lines = [
        "| action | may follow | status after |",
        "|---|---|---|",
    ]
    for action, (allowed, after) in TRANSITIONS.items():
        froms = ", ".join(s or "(new case)" for s in allowed)
        lines.append(f"| `{action}` | {froms} | {after} |")
    return "\n".join(lines) + "\n"
