"""The ClickHouse queries behind each figure of ``figures.py`` (one query per view).

Every query reads several periods of one kind at once (a bulletin's period, the one
before, a year before and the trend's), in one pass over its view. Every query takes the
same parameters — ``starts`` and ``ends`` (the periods, epoch ms, one of each per period),
``now`` (epoch ms) and ``statutory`` (JSON: the directory's statutory days per matter
code) — and groups by ``period_no`` (the period's place in ``starts``, from 1) and the
scope's key columns, so the caller never puts a value into SQL text. Keys are aliased
``k0``, ``k1``…
"""

from __future__ import annotations

from hallwatch.rules import FINDING, RULES
from services.common.clickhouse import DATABASE

# What the figures read from events' and cases' JSON are columns ClickHouse computed when
# the row was written (schemas/clickhouse/0006_bulletin_columns.sql): a figure that read the
# CloudEvent text read all of it for every event of the period.

# scope -> (key names, key expression per view)
CASE_MATTER = "case_matter"  # the matter of the case an event is about
SCOPES: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "hall": (("hall_id",), {"cases": ("hall_id",), "events": ("hall_id",),
                            "alerts": ("a.hall_id",)}),
    "window": (("hall_id", "window_id"), {"cases": ("hall_id", "window_id"),
                                          "events": ("hall_id", "window_id"),
                                          "alerts": ("a.hall_id", "a.window_id")}),
    "staff": (("hall_id", "staff_id"), {"cases": ("hall_id", "staff_id"),
                                        "events": ("hall_id", "staff_id"),
                                        "alerts": ("a.hall_id", "a.staff_id")}),
    "matter": (("matter_code",), {"cases": ("matter_code",), "events": (CASE_MATTER,),
                                  "alerts": ("c.matter_code",)}),
}


# Cases and alerts count in every period their moments fall in: each row is read once and
# paired with each period (``period``: start, end, number).
EVERY_PERIOD = ("ARRAY JOIN arrayZip({starts:Array(Int64)}, {ends:Array(Int64)}, "
                "arrayEnumerate({starts:Array(Int64)})) AS period")
START = "fromUnixTimestamp64Milli(period.1)"
END = "fromUnixTimestamp64Milli(period.2)"
# An event counts in the one period its time falls in (periods of one kind never
# overlap); 0 in none. The bounds first: a cheap filter before the lambda.
EVENT_PERIOD = ("arrayFirstIndex(p -> time >= fromUnixTimestamp64Milli(p.1) AND "
                "time < fromUnixTimestamp64Milli(p.2), "
                "arrayZip({starts:Array(Int64)}, {ends:Array(Int64)}))")
WITHIN_ALL = ("time >= fromUnixTimestamp64Milli(arrayMin({starts:Array(Int64)})) "
              "AND time < fromUnixTimestamp64Milli(arrayMax({ends:Array(Int64)}))")


def _in(col: str) -> str:
    return f"({col} >= {START} AND {col} < {END})"


NOW = "fromUnixTimestamp64Milli({now:Int64})"
# A suspended case's clock stopped at the start of its suspension day.
SUSPENDED_FROM = "suspended_since"  # schemas/clickhouse/0003_narrow_columns.sql
# Open now and past due (its clock, not the wall, decides for a suspended case).
OPEN_OVERDUE = (f"(status = 'accepted' OR (status = 'suspended' AND "
                f"ifNull({SUSPENDED_FROM} > due_at, 0)))")
DECIDED = "status IN ('completed', 'delivered')"
CLOSED_IN = f"(closed_at IS NOT NULL AND {_in('closed_at')})"
NOT_CLOSED_BY_DUE = f"((closed_at IS NULL AND {OPEN_OVERDUE}) OR closed_at > due_at)"
BASE = (f"(status != 'withdrawn' AND due_at IS NOT NULL AND ({CLOSED_IN} OR "
        f"({_in('due_at')} AND due_at < {NOW} AND {NOT_CLOSED_BY_DUE})))")
PROMISED_DECIDED = f"(kind = 'promised' AND {DECIDED} AND {CLOSED_IN})"
TOLERANCE = "tolerance = 1"  # accepted with missing materials (容缺受理)
# The directory's 法定办结时限 per matter code: a JSON object passed as a parameter ('{}'
# with no directory); JSON text travels the same way to chDB and to a server.
STATUTORY = "JSONExtract({statutory:String}, 'Map(String, UInt16)')"
CATALOGUED = f"mapContains({STATUTORY}, matter_code)"
# A due moment passed before a late extension moved it: never on time.
MISSED = "(missed_due = 1)"

CASES = f"""
SELECT period.3 AS period_no, {{keys}},
  countIf({_in('accepted_at')}) AS accepted,
  countIf({_in('accepted_at')} AND kind = 'immediate') AS accepted_immediate,
  countIf({_in('accepted_at')} AND kind = 'promised') AS accepted_promised,
  countIf({DECIDED} AND {CLOSED_IN}) AS decided,
  countIf({BASE}) AS on_time_base,
  countIf({BASE} AND closed_at IS NOT NULL AND closed_at <= due_at AND NOT {MISSED}) AS on_time,
  countIf(due_at IS NOT NULL AND due_at < least({NOW}, {END}) AND (
          (closed_at IS NULL AND {OPEN_OVERDUE})
          OR (status != 'withdrawn' AND closed_at >= {END}))) AS overdue_open,
  countIf(status != 'withdrawn' AND {CLOSED_IN} AND due_at IS NOT NULL
          AND (closed_at > due_at OR {MISSED})) AS overdue_closed,
  countIf({PROMISED_DECIDED}) AS promised_decided,
  countIf({PROMISED_DECIDED} AND toDate(closed_at) < toDate(due_at)) AS early,
  sumIf(working_days_used, {PROMISED_DECIDED}) AS working_days_used_sum,
  sumIf(ifNull(promised_days, 0), {PROMISED_DECIDED}) AS working_days_promised_sum,
  countIf({PROMISED_DECIDED} AND {CATALOGUED}) AS promised_decided_catalogued,
  sumIf({STATUTORY}[matter_code], {PROMISED_DECIDED} AND {CATALOGUED})
    AS working_days_statutory_sum,
  countIf({_in('accepted_at')} AND {TOLERANCE}) AS tolerance_accepted
FROM {DATABASE}.cases FINAL {EVERY_PERIOD} GROUP BY period_no, {{group}}"""

SATISFACTION = "data_satisfaction"
ON_TOLERANCE_CASE = "case_tolerance = 1"
COMPLAINT_NO = "data_complaint_no"
# A rejection of a case that was never accepted (不予受理): its summary has no acceptance.
WINDOW_REFUSAL = "(type = 'case.rejected' AND case_unaccepted = 1)"

EVENTS = f"""
SELECT {EVENT_PERIOD} AS period_no, {{keys}},
  countIf(type = 'case.extended') AS extensions,
  countIf(type = 'case.extended' AND data_approved = 1) AS extensions_approved,
  countIf(type = 'case.materials_supplemented' AND {ON_TOLERANCE_CASE}
          AND data_incomplete = 0) AS tolerance_supplemented,
  countIf(type = 'case.returned' AND {ON_TOLERANCE_CASE}) AS tolerance_returned,
  countIf(type = 'case.rejected') AS rejections,
  countIf(type = 'case.rejected' AND data_category = 'out_of_scope')
    AS rejections_out_of_scope,
  countIf(type = 'case.rejected' AND data_category = 'time_limit_exceeded')
    AS rejections_time_limit_exceeded,
  countIf(type = 'case.rejected' AND data_category = 'non_compliant')
    AS rejections_non_compliant,
  countIf(type = 'post.absence_noticed') AS absences,
  countIf(type = 'post.absence_noticed' AND data_uncovered = 1) AS uncovered_posts,
  countIf(type = 'service.after_hours') AS after_hours,
  countIf(type = 'complaint.received') AS complaints,
  countIf(type = 'complaint.received' AND (hall_id, {COMPLAINT_NO}) IN (
          SELECT hall_id, {COMPLAINT_NO} FROM {DATABASE}.events
          WHERE type = 'complaint.resolved')) AS complaints_resolved,
  countIf(type = 'case.rated') AS ratings,
  countIf(type = 'case.rated' AND {SATISFACTION} BETWEEN 1 AND 3) AS ratings_satisfied,
  countIf(type = 'case.rated' AND {SATISFACTION} >= 4) AS bad_reviews,
  countIf(type = 'case.rated' AND {SATISFACTION} >= 4
          AND subject IN (SELECT subject FROM {DATABASE}.events
                          WHERE type = 'case.rating_rectified')
          AND subject NOT IN (SELECT case_no FROM {DATABASE}.alerts FINAL
                              WHERE rule = 'rating.rectification_overdue'
                              AND status != 'void')) AS bad_reviews_rectified_on_time,
  countIf({WINDOW_REFUSAL}) AS window_refusals,
  countIf({WINDOW_REFUSAL} AND data_category = 'out_of_scope')
    AS window_refusals_out_of_scope,
  countIf({WINDOW_REFUSAL} AND data_category = 'time_limit_exceeded')
    AS window_refusals_time_limit_exceeded,
  countIf({WINDOW_REFUSAL} AND data_category = 'non_compliant')
    AS window_refusals_non_compliant,
  countIf(type = 'inspection.recorded') AS inspections,
  sumIf(data_breaches, type = 'inspection.recorded') AS inspection_breaches
FROM {DATABASE}.events FINAL WHERE {WITHIN_ALL} AND period_no > 0
GROUP BY period_no, {{group}}"""

FINDING_RULES = sorted(rule.id for rule in RULES.values() if rule.severity == FINDING)
RED_RULES = "('deadline.overdue', 'immediate.not_same_day')"


def _times_in(column: str) -> str:
    """How many of an alert's moments (``noticed_at``, ``escalated_at``) fall in the period."""
    return f"arrayCount(t -> {_in('t')}, a.{column})"


_RAISED = _in("a.raised_at")
_GONE = "a.status IN ('cleared', 'resolved')"
ALERTS = f"""
SELECT period.3 AS period_no, {{keys}},
  countIf(a.rule = 'deadline.warning' AND {_RAISED}) AS yellow_raised,
  countIf(a.rule = 'deadline.warning' AND {_RAISED} AND {_GONE}) AS yellow_resolved,
  countIf(a.rule IN {RED_RULES} AND {_RAISED}) AS red_raised,
  countIf(a.rule IN {RED_RULES} AND {_RAISED} AND {_GONE}) AS red_resolved,
  countIf(a.rule IN ({", ".join(f"'{r}'" for r in FINDING_RULES)}) AND {_RAISED}) AS findings,
  sum({_times_in('noticed_at')}) AS notices,
  sum({_times_in('escalated_at')}) AS red_cards,
  countIf(a.rule = 'extension.after_due' AND {_RAISED}) AS extensions_late,
  countIf(a.rule = 'notice.not_one_time' AND {_RAISED}) AS one_time_notice_breaches,
  countIf(a.rule = 'report.late' AND {_RAISED}) AS late_reports
FROM {DATABASE}.alerts AS a FINAL {{join}} {EVERY_PERIOD}
WHERE a.status != 'void' GROUP BY period_no, {{group}}"""
# Only the matter scope needs each alert's case (its matter).
CASE_JOIN = (f"LEFT JOIN (SELECT case_no, matter_code FROM {DATABASE}.cases FINAL) AS c "
             "ON a.case_no = c.case_no")

QUERIES = {"cases": CASES, "events": EVENTS, "alerts": ALERTS}


def query(view: str, scope: str) -> str:
    """The SQL of ``view`` grouped by ``scope`` (both from fixed tables, never input)."""
    exprs = SCOPES[scope][1][view]
    keys = ", ".join(f"{expr} AS k{n}" for n, expr in enumerate(exprs))
    group = ", ".join(f"k{n}" for n in range(len(exprs)))
    # Plain replace: the SQL's {name:Type} placeholders are ClickHouse's.
    join = CASE_JOIN if scope == "matter" else ""
    return QUERIES[view].replace("{keys}", keys).replace("{group}", group) \
        .replace("{join}", join)
