"""The bulletin's figures (定期通报指标): one definition each, read by the code and the docs.

Every figure is a count or a sum over the ClickHouse views (so figures of several halls
add up, e.g. into a department), and every rate is one count over another. Each has its
Chinese name, its formula and what counts; ``docs/bulletins.md`` holds the table
``as_markdown()`` writes, and a test keeps them equal.

Counts are as known at the moment the bulletin is computed: the views keep each case's
latest state, so a late report changes later computations of a past period (a published
bulletin keeps its bytes; see ``publishing``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    key: str
    zh: str
    formula: str  # how it is computed
    counts: str  # what counts, in words

    @property
    def is_rate(self) -> bool:
        return self.key.endswith("_rate")


F = Figure
COUNTS: tuple[Figure, ...] = (
    F("accepted", "受理件数", "count(case: accepted_at ∈ P)",
      "cases accepted (case.accepted or case.tolerance_accepted) in the period"),
    F("accepted_immediate", "即办件受理数", "count(case: accepted_at ∈ P, kind = immediate)",
      "accepted immediate cases (即办件)"),
    F("accepted_promised", "承诺件受理数", "count(case: accepted_at ∈ P, kind = promised)",
      "accepted promised cases (承诺件)"),
    F("decided", "办结件数", "count(case: status ∈ {completed, delivered}, closed_at ∈ P)",
      "cases decided (办结, any result) in the period; rejections, returns and withdrawals "
      "are counted on their own"),
    F("on_time_base", "应按时办结件数",
      "count(case: status ≠ withdrawn, due_at set, closed_at ∈ P, or due_at ∈ P, "
      "due_at < now and not closed by due_at)",
      "every case closed in the period (decided, rejected or returned) plus every case whose "
      "due moment fell in the period (and has passed) without a decision by then: open "
      "overdue cases count against the rate; withdrawn cases do not count"),
    F("on_time", "按时办结件数",
      "count(case ∈ on_time_base: closed_at ≤ due_at, no missed_due_at)",
      "cases of the base closed no later than their due moment, and that never missed a "
      "due moment before a late extension moved it"),
    F("overdue_open", "超期未办结件数",
      "count(case: due_at < min(now, end of P), open now and overdue, or closed after "
      "the end of P)",
      "cases past their due moment and not closed by the end of the period (a suspended "
      "case is judged at its suspension day: its clock is stopped)"),
    F("overdue_closed", "超期办结件数",
      "count(case: closed_at ∈ P, status ≠ withdrawn, closed_at > due_at or missed_due_at)",
      "cases closed in the period after their due moment, or after missing one"),
    F("promised_decided", "承诺件办结数",
      "count(case: kind = promised, status ∈ {completed, delivered}, closed_at ∈ P)",
      "promised cases decided in the period"),
    F("early", "提前办结件数", "count(case ∈ promised_decided: date(closed_at) < date(due_at))",
      "promised cases decided before the day they were due"),
    F("working_days_used_sum", "实际用时合计(工作日)",
      "Σ working_days_used over promised_decided",
      "statutory working days from the day after acceptance to the decision day"),
    F("working_days_promised_sum", "承诺时限合计(工作日)",
      "Σ promised_days over promised_decided", "the working days promised at acceptance"),
    F("promised_decided_catalogued", "有法定时限的承诺件办结数",
      "count(case ∈ promised_decided: matter_code in the directory)",
      "promised cases decided in the period whose matter the loaded directory catalogues "
      "(0 with no directory)"),
    F("working_days_statutory_sum", "法定时限合计(工作日)",
      "Σ statutory_days(matter_code) over promised_decided_catalogued",
      "the statutory working days (法定办结时限) the directory gives each case's matter"),
    F("yellow_raised", "黄灯预警数", "count(alert: rule = deadline.warning, raised_at ∈ P)",
      "yellow warnings raised in the period (void ones never count)"),
    F("yellow_resolved", "黄灯消除数",
      "count(alert ∈ yellow_raised: status ∈ {cleared, resolved})",
      "of those, the ones cleared (case decided or warning superseded) or resolved"),
    F("red_raised", "红灯预警数",
      "count(alert: rule ∈ {deadline.overdue, immediate.not_same_day}, raised_at ∈ P)",
      "red warnings raised in the period"),
    F("red_resolved", "红灯消除数", "count(alert ∈ red_raised: status ∈ {cleared, resolved})",
      "of those, the ones cleared (case decided) or resolved by the bureau"),
    F("findings", "违规发现数", "count(alert: rule of severity finding, raised_at ∈ P)",
      "findings (a rule of the measures broken) raised in the period"),
    F("notices", "督办通知数", "count(alert history: noticed at ∈ P)",
      "supervision notices (督办) the bureau issued in the period"),
    F("red_cards", "红牌数", "count(alert history: escalated at ∈ P)",
      "alerts escalated to a red card (still open past the notice's deadline) in the period"),
    F("extensions", "延期件数", "count(event: case.extended, time ∈ P)",
      "extensions recorded in the period"),
    F("extensions_approved", "经审批延期数", "count(extension: approved_by given)",
      "extensions naming the approving leader"),
    F("extensions_unapproved", "未经审批延期数", "extensions − extensions_approved",
      "extensions without an approving leader"),
    F("extensions_late", "超期后延期数",
      "count(alert: rule = extension.after_due, raised_at ∈ P)",
      "extensions recorded after the case's due moment"),
    F("tolerance_accepted", "容缺受理件数",
      "count(case: accepted_at ∈ P, supplement_days set)",
      "cases accepted with secondary materials missing (容缺受理)"),
    F("tolerance_supplemented", "容缺补齐件数",
      "count(event: case.materials_supplemented, complete, time ∈ P, on a tolerance case)",
      "tolerated materials supplemented in full in the period"),
    F("tolerance_returned", "容缺退办件数",
      "count(event: case.returned, time ∈ P, on a tolerance case)",
      "tolerance cases returned (退办) in the period"),
    F("rejections", "不予办理件数", "count(event: case.rejected, time ∈ P)",
      "rejections (不予办理/否定备案) in the period"),
    F("rejections_out_of_scope", "不予办理·不属于受理范围", "rejections with category "
      "out_of_scope", "rejections because the matter is not the hall's"),
    F("rejections_time_limit_exceeded", "不予办理·超过法定时限", "rejections with category "
      "time_limit_exceeded", "rejections because the statutory time limit had passed"),
    F("rejections_non_compliant", "不予办理·不符合法定条件", "rejections with category "
      "non_compliant", "rejections because the application did not meet the conditions"),
    F("one_time_notice_breaches", "一次性告知违规数",
      "count(alert: rule = notice.not_one_time, raised_at ∈ P)",
      "later notices asking for materials the first notice did not list"),
    F("absences", "临时离岗次数", "count(event: post.absence_noticed, time ∈ P)",
      "absences from a post with a notice board (临时不在岗公示)"),
    F("uncovered_posts", "空岗次数",
      "count(event: post.absence_noticed, time ∈ P, no substitute_staff_id)",
      "absences no B post covered"),
    F("after_hours", "延时服务次数", "count(event: service.after_hours, time ∈ P)",
      "after-hours or appointment services (延时服务)"),
    F("complaints", "投诉件数", "count(event: complaint.received, time ∈ P)",
      "complaints and reports received in the period"),
    F("complaints_resolved", "投诉已办结件数",
      "count(complaint ∈ complaints: a complaint.resolved with its number exists)",
      "of those, the ones resolved since"),
    F("ratings", "评价件数", "count(event: case.rated, time ∈ P)", "ratings (好差评) given"),
    F("ratings_satisfied", "满意评价数", "count(rating: satisfaction ∈ {1, 2, 3})",
      "ratings 非常满意, 满意 or 基本满意"),
    F("bad_reviews", "差评数", "count(rating: satisfaction ∈ {4, 5})",
      "ratings 不满意 or 非常不满意"),
    F("bad_reviews_rectified_on_time", "差评按时整改数",
      "count(bad review: case.rating_rectified recorded, no rating.rectification_overdue)",
      "bad reviews rectified within the local limit"),
    F("late_reports", "迟报事件数", "count(alert: rule = report.late, raised_at ∈ P)",
      "events recorded long after they happened (体外循环 suspicion)"),
    # Refusals at the window (measures art. 17(7) 否定备案) and the bureau's inspections
    # (art. 24, conduct arts. 19–21).
    F("window_refusals", "不予受理件数",
      "count(event: case.rejected, time ∈ P, the case never accepted)",
      "refusals at the window without an acceptance (不予受理): a case whose first event "
      "(or first after a one-time notice) is its rejection; also counted in `rejections`"),
    F("window_refusals_out_of_scope", "不予受理·不属于受理范围",
      "window_refusals with category out_of_scope", "the matter is not the hall's"),
    F("window_refusals_time_limit_exceeded", "不予受理·超过法定时限",
      "window_refusals with category time_limit_exceeded",
      "the statutory time limit for applying had passed"),
    F("window_refusals_non_compliant", "不予受理·不符合法定条件",
      "window_refusals with category non_compliant",
      "the application did not meet the conditions"),
    F("inspections", "考核检查次数", "count(event: inspection.recorded, time ∈ P)",
      "the bureau's appraisals, inspections and spot checks (考核、检查、抽查) of the unit"),
    F("inspection_breaches", "检查发现违规项数",
      "Σ over inspections of count(item: result = breach)",
      "items of those inspections found in breach (着装、手机、离岗、文明用语…): the "
      "conduct findings"),
)

RATES: tuple[Figure, ...] = (
    F("on_time_rate", "按时办结率", "on_time / on_time_base",
      "none when the base is empty"),
    F("early_rate", "提前办结率", "early / promised_decided", "promised cases only"),
    F("avg_working_days_used", "平均实际用时(工作日)",
      "working_days_used_sum / promised_decided", "promised cases decided in the period"),
    F("avg_working_days_promised", "平均承诺时限(工作日)",
      "working_days_promised_sum / promised_decided", "the same cases"),
    F("avg_working_days_statutory", "平均法定时限(工作日)",
      "working_days_statutory_sum / promised_decided_catalogued",
      "the same cases, those whose matter the directory catalogues"),
    F("satisfaction_rate", "满意率", "ratings_satisfied / ratings", "ratings given in P"),
    F("complaint_resolution_rate", "投诉办结率", "complaints_resolved / complaints",
      "complaints received in P"),
    F("rectification_rate", "差评按时整改率", "bad_reviews_rectified_on_time / bad_reviews",
      "bad reviews given in P"),
)

# (rate, numerator, denominator); averages are rounded to 2 places, rates to 4.
RATE_PARTS: dict[str, tuple[str, str]] = {
    "on_time_rate": ("on_time", "on_time_base"),
    "early_rate": ("early", "promised_decided"),
    "avg_working_days_used": ("working_days_used_sum", "promised_decided"),
    "avg_working_days_promised": ("working_days_promised_sum", "promised_decided"),
    "avg_working_days_statutory": ("working_days_statutory_sum",
                                   "promised_decided_catalogued"),
    "satisfaction_rate": ("ratings_satisfied", "ratings"),
    "complaint_resolution_rate": ("complaints_resolved", "complaints"),
    "rectification_rate": ("bad_reviews_rectified_on_time", "bad_reviews"),
}

COUNT_KEYS = tuple(f.key for f in COUNTS)
FIGURES = {f.key: f for f in (*COUNTS, *RATES)}


def derive(row: dict[str, int]) -> dict[str, float | None]:
    """Every rate of a row of counts (None when its denominator is 0)."""
    out: dict[str, float | None] = {}
    for key, (part, whole) in RATE_PARTS.items():
        digits = 4 if key.endswith("_rate") else 2
        out[key] = round(row[part] / row[whole], digits) if row[whole] else None
    return out


def as_markdown() -> str:
    """The figures table of docs/bulletins.md."""
    lines = ["| key | 指标 | formula | what counts |", "|---|---|---|---|"]
    for figure in (*COUNTS, *RATES):
        lines.append(f"| `{figure.key}` | {figure.zh} | {figure.formula} | {figure.counts} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(as_markdown(), end="")
