"""Supervision rules: stable ids, severities and the local thresholds (a versioned file).

Rules judge facts; they never refuse them. A breach becomes an alert: a warning
(yellow/red, about a deadline) or a finding (a rule of the measures was broken).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

YELLOW, RED, FINDING = "yellow", "red", "finding"


# What ends an alert, in the words docs/rules.md uses (see hallwatch/watch.py).
STANDS = "nothing: it stands"
BY_HAND = "the bureau, by hand, with a reason (every alert)"
DIRECTORY = "with a directory loaded: "
# Why two timers that read nothing of the directory still wait for one.
TIMERS_NEED_DIRECTORY = (
    "Why only with a directory: this timer reads nothing of the directory itself. It "
    "waits for one because issue 8 §1 introduced it among the findings judged against "
    "the bureau's published reference data, and so that facts recorded before the bureau "
    "loaded its first directory (and the bulletins already counted from them) keep the "
    "judgements they had.")
TIMELY_REPORT = ("a timely report (recorded within `report_late_hours`) showing that {what} "
                 "happened before the alert's moment")


@dataclass(frozen=True)
class Rule:
    """One supervision rule as the bureau reads it (docs/rules.md is generated from these).

    ``basis``: the article of the measures or the law it enforces; ``trigger``: the fact
    or the timer that raises it; ``raised_at``: the moment the alert states (never when
    it was noticed); ``voids``: what withdraws it as never broken; ``clears``: what ends
    it on the watch's side (besides the bureau resolving it by hand)."""

    id: str
    severity: str
    meaning: str
    basis: str
    trigger: str
    raised_at: str
    voids: str = STANDS
    clears: str = STANDS


_RULES = (
    Rule("deadline.warning", YELLOW,
         "the case entered the working day before its due date",
         "measures art. 17(4) 限时办结; art. 18 (working days)",
         "timer: a promised case still open at the start of the working day before its "
         "due date", "the start of that working day (00:00, Beijing time)",
         TIMELY_REPORT.format(what="the decision"),
         "the decision after the yellow moment; `deadline.overdue` superseding it; the "
         "due moment moving later"),
    Rule("deadline.overdue", RED, "the case was not decided by its due time",
         "measures art. 17(4) 限时办结; art. 18 (working days)",
         "timer: a promised case still open (not suspended) at its due moment",
         "the due moment (end of the last promised working day)",
         TIMELY_REPORT.format(what="the decision") + "; an official calendar year that "
         "puts the due moment after the red",
         "the decision after the due moment (the episode ended); an extension after the "
         "red leaves it standing"),
    Rule("immediate.not_same_day", RED,
         "an immediate case was not completed on its acceptance day",
         "measures art. 17(4)2 即办件",
         "timer: an immediate case still open at the end of its acceptance day",
         "the end of the acceptance day",
         TIMELY_REPORT.format(what="the decision"),
         "the decision after that moment"),
    Rule("tolerance.supplement_overdue", FINDING,
         "tolerated materials were not supplemented in time; the case should be returned",
         "measures art. 17(3) 容缺受理",
         "timer: a tolerance acceptance whose materials are still missing at the promised "
         "supplement moment", "the promised supplement moment",
         TIMELY_REPORT.format(what="the supplement")),
    Rule("notice.not_one_time", FINDING,
         "a later notice asked for materials the first did not list",
         "measures art. 17(2) 一次性告知",
         "`case.notice_issued` listing materials on neither the first notice nor the "
         "tolerance acceptance's list", "the notice's time"),
    Rule("extension.unapproved", FINDING, "an extension names no approving leader",
         "measures art. 17(4)4", "`case.extended` without `approved_by`",
         "the extension's time"),
    Rule("extension.not_notified", FINDING, "the applicant was not told of the extension",
         "measures art. 17(4)4", "`case.extended` without `applicant_notified`",
         "the extension's time"),
    Rule("extension.after_due", FINDING, "the extension came after the due time",
         "measures art. 17(4)4; 行政许可法 art. 42",
         "`case.extended` stating a time after the case's due moment",
         "the extension's time"),
    Rule("rejection.incomplete", FINDING,
         "a rejection lacks legal basis, notice number or the review-rights statement",
         "measures art. 17(7) 否定备案; 行政许可法 art. 38",
         "`case.rejected` without `legal_basis`, `notice_no` or `review_rights_told`",
         "the rejection's time"),
    Rule("procedure.not_informed", FINDING,
         "a clock stop without written notice to the applicant",
         "行政许可法 art. 45", "`case.suspended` without `applicant_informed`",
         "the suspension's time"),
    Rule("procedure.overlong", FINDING, "a special procedure ran past the configured limit",
         "行政许可法 art. 45; limit `procedure_max_working_days`",
         "timer: a case still suspended `procedure_max_working_days` working days after "
         "the suspension", "the end of the last allowed working day",
         TIMELY_REPORT.format(what="the resumption")),
    Rule("post.uncovered", FINDING, "an absence with no B-post substitute",
         "measures art. 17(6)3 A/B 岗", "`post.absence_noticed` without "
         "`substitute_staff_id`", "the absence's time"),
    Rule("post.absence_overrun", FINDING, "an absence ran past its expected return",
         "measures art. 17(6)2 不得脱岗",
         "timer: no `post.resumed` by the expected return plus `absence_grace_minutes`",
         "the expected return plus the grace",
         TIMELY_REPORT.format(what="the return to the post")),
    Rule("rating.rectification_overdue", FINDING,
         "a bad review was not rectified within the limit",
         "好差评 (国办发〔2019〕51号); limit `rating_rectification_working_days`",
         "timer: a bad `case.rated` with no `case.rating_rectified` within the limit",
         "the end of the last allowed working day",
         TIMELY_REPORT.format(what="the rectification")),
    Rule("complaint.overdue", FINDING, "a complaint was not resolved within the limit",
         "measures art. 10; limit `complaint_resolution_working_days`",
         "timer: a `complaint.received` with no `complaint.resolved` within the limit",
         "the end of the last allowed working day",
         TIMELY_REPORT.format(what="the resolution")),
    Rule("decision.not_delivered", FINDING,
         "a decision was not delivered within the statutory delivery period",
         "行政许可法 art. 44 (working days by its art. 82); limit `delivery_working_days`",
         DIRECTORY + "timer: a `case.completed` with no `case.delivered` within the limit. "
         + TIMERS_NEED_DIRECTORY,
         "the end of the last allowed working day",
         TIMELY_REPORT.format(what="the delivery")),
    Rule("after_hours.unrecorded", FINDING,
         "an out-of-hours acceptance or completion with no after-hours service record",
         "measures art. 17(5) 延时服务; art. 11 (office hours); limit `report_late_hours`",
         DIRECTORY + "timer: a `case.accepted`, `case.tolerance_accepted` or "
         "`case.completed` out of office hours, and no `service.after_hours` of the same "
         "hall covering it within `report_late_hours`: a record covers an act when it "
         "names the case in `case_numbers`, or when it was kept at the act's window "
         "(the case's accepting window) over a `start`–`end` span containing the act's "
         "time; a record typed in before the act covers it too (kept 31 days). Each "
         "uncovered act is its own finding, naming its case and window. "
         + TIMERS_NEED_DIRECTORY, "the act's time plus `report_late_hours`",
         TIMELY_REPORT.format(what="the after-hours record")),
    Rule("matter.not_in_catalogue", FINDING,
         "a matter outside the published catalogue was accepted (目录之外无审批)",
         "measures art. 14; art. 17(8)2", DIRECTORY + "`case.accepted` or "
         "`case.tolerance_accepted` whose `matter_code` is no implementation code of the "
         "directory", "the acceptance's time"),
    Rule("promise.longer_than_published", FINDING,
         "a case was promised more working days than the published promise",
         "measures art. 17(4)1, 17(8)2 (承诺期限公开)", DIRECTORY + "a promised acceptance "
         "whose `promised_days` exceed the matter's published `promised_days`",
         "the acceptance's time"),
    Rule("tolerance.not_on_list", FINDING,
         "a tolerance acceptance for a matter not on the tolerance-acceptance list",
         "measures art. 17(3)4 (容缺受理清单)", DIRECTORY + "`case.tolerance_accepted` for a "
         "matter whose `tolerance_allowed` is false", "the acceptance's time"),
    Rule("notice.outside_published_list", FINDING,
         "a notice asked for materials outside the published material list",
         "measures art. 17(2)1, 17(8)2 (全部材料目录公开)", DIRECTORY + "`case.notice_issued` "
         "whose `missing_materials` are not all on the matter's published `materials`",
         "the notice's time"),
    Rule("post.substitute_not_b", FINDING,
         "an absence was covered by someone other than the window's B post",
         "measures art. 17(6)3 (A/B 岗同岗替代)", DIRECTORY + "`post.absence_noticed` whose "
         "`substitute_staff_id` is not the window's `b_post`", "the absence's time"),
    Rule("report.late", FINDING,
         "an event was recorded long after it happened (possible offline handling, 体外循环)",
         "measures art. 23 (every step recorded in the system); limit `report_late_hours`",
         "any hall event recorded more than `report_late_hours` after the time it states",
         "the stated time plus `report_late_hours`"),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}

# Warnings about a case's clock clear themselves once the case is decided.
CLEARS_WHEN_CLOSED = frozenset({"deadline.warning", "deadline.overdue",
                                "immediate.not_same_day"})


def severity(rule: str) -> str:
    return RULES[rule].severity


DOC_HEAD = """# Supervision rules

Every rule the supervision service judges by. Generated from `hallwatch/rules.py`
(`RULES`) by `python scripts/rules_doc.py`; a test fails if this page and the table
differ. Rules judge facts, they never refuse them: a breach is an alert, a warning
(yellow/red, about a deadline) or a finding. Thresholds named here (`report_late_hours`…)
are in the versioned rules file `deploy/rules/supervision.v1.json`, and each alert
records the rules version it was judged under.

- **raised_at** is the moment the rule was broken, however late hallwatch noticed it (a
  restart after downtime, a late report); each (rule, moment) is raised once.
- **void**: withdrawn because the facts show the rule was never broken. A report is
  *timely* when recorded within `report_late_hours` of the time it states; a late report
  voids nothing (the alert stands and `report.late` is raised).
- **cleared**: ended on the watch's side because what the alert warned about ended.
- **resolved**: the bureau closes an alert by hand with a reason, at any status.
- Rules whose trigger starts "with a directory loaded" judge against the bureau's
  directory (docs/directory.md): with no directory loaded they do not fire, and facts
  judged before the first load are not judged again when it arrives. Each alert records
  the directory version it was judged with (`directory_version`).

"""


def as_markdown() -> str:
    """docs/rules.md: the head, a summary table, then one section per rule."""
    lines = [DOC_HEAD.rstrip("\n"), "", "| rule | severity | basis | trigger |",
             "|---|---|---|---|"]
    lines += [f"| [`{r.id}`](#{r.id.replace('.', '')}) | {r.severity} | {r.basis} | "
              f"{r.trigger} |" for r in RULES.values()]
    for r in RULES.values():
        lines += ["", f"### {r.id}", "", f"{r.meaning[0].upper()}{r.meaning[1:]}.", "",
                  f"- **severity**: {r.severity}", f"- **basis**: {r.basis}",
                  f"- **trigger**: {r.trigger}", f"- **raised_at**: {r.raised_at}",
                  f"- **void**: {r.voids}", f"- **cleared**: {r.clears}",
                  f"- **resolved**: {BY_HAND}"]
    return "\n".join(lines) + "\n"


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
    delivery_working_days: int = 10

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
