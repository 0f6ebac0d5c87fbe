"""Periodic bulletins (定期通报) and the bureau's live dashboard, from the ClickHouse views.

A bulletin covers a period [start, end) per hall (or per window or staff member):
acceptances, completions, on-time and early-completion rates, working days used against
promised, overdue cases, warnings and findings, extensions with and without approval,
tolerance acceptances and returns, rejections by reason, one-time-notice breaches,
absences and uncovered posts, after-hours services, complaints, ratings — and a ranking
with its change against the previous period of the same length (red list / black list).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from hallwatch.calendar import CHINA_TZ
from services.common.clickhouse import DATABASE

GROUPS = {"hall": ("hall_id",), "window": ("hall_id", "window_id"),
          "staff": ("hall_id", "staff_id")}
RED_LIST_MIN_ON_TIME = 0.95  # on-time rate needed for the red list, with no red card
BLACK_LIST_MAX_ON_TIME = 0.80  # below this, or any red card: the black list
DONE = "('completed', 'delivered')"
PERIOD = "{col} >= fromUnixTimestamp64Milli({{start:Int64}}) " \
         "AND {col} < fromUnixTimestamp64Milli({{end:Int64}})"


def _in(col: str) -> str:
    return PERIOD.format(col=col)


CASES_SQL = f"""
SELECT {{key}},
  countIf({_in("accepted_at")}) AS accepted,
  countIf(status IN {DONE} AND {_in("closed_at")}) AS completed,
  countIf(status IN {DONE} AND {_in("closed_at")} AND closed_at <= due_at
          AND JSONExtractString(summary, 'missed_due_at') = '') AS on_time,
  countIf(status IN {DONE} AND {_in("closed_at")} AND yellow_at IS NOT NULL
          AND closed_at < yellow_at) AS early,
  avgIf(JSONExtractInt(summary, 'working_days_used'), status IN {DONE} AND {_in("closed_at")})
    AS avg_working_days_used,
  avgIf(promised_days, status IN {DONE} AND {_in("closed_at")} AND kind = 'promised')
    AS avg_working_days_promised,
  countIf({_in("due_at")} AND due_at < fromUnixTimestamp64Milli({{now:Int64}})
          AND status NOT IN ('withdrawn', 'suspended')
          AND (closed_at IS NULL OR closed_at > due_at)) AS overdue,
  countIf({_in("accepted_at")} AND JSONExtractInt(summary, 'supplement_days') > 0)
    AS tolerance_accepted,
  countIf({_in("closed_at")} AND status = 'returned'
          AND JSONExtractInt(summary, 'supplement_days') > 0) AS tolerance_returned
FROM {DATABASE}.cases FINAL GROUP BY {{key}}"""

EVENTS_SQL = f"""
SELECT {{key}},
  countIf(type = 'case.extended') AS extensions,
  countIf(type = 'case.extended' AND JSONExtractString(cloudevent, 'data', 'approved_by') != '')
    AS extensions_approved,
  groupArrayIf(JSONExtractString(cloudevent, 'data', 'category'), type = 'case.rejected')
    AS rejection_categories,
  countIf(type = 'case.materials_supplemented') AS supplements,
  countIf(type = 'post.absence_noticed') AS absences,
  countIf(type = 'service.after_hours') AS after_hours_services,
  countIf(type LIKE 'case.%' AND office_hours = 'out') AS case_actions_out_of_hours,
  countIf(type = 'complaint.received') AS complaints,
  countIf(type = 'complaint.resolved') AS complaints_resolved,
  countIf(type = 'case.rated') AS ratings,
  countIf(type = 'case.rated' AND JSONExtractInt(cloudevent, 'data', 'satisfaction') <= 3)
    AS ratings_satisfied,
  countIf(type = 'case.rated' AND JSONExtractInt(cloudevent, 'data', 'satisfaction') >= 4)
    AS bad_reviews,
  countIf(type = 'case.rating_rectified') AS bad_reviews_rectified
FROM {DATABASE}.events FINAL WHERE {_in("time")} GROUP BY {{key}}"""

ALERTS_SQL = f"""
SELECT {{key}},
  countIf(rule = 'deadline.warning') AS yellow_warnings,
  countIf(rule IN ('deadline.overdue', 'immediate.not_same_day')) AS red_warnings,
  countIf(rule IN ('deadline.warning', 'deadline.overdue', 'immediate.not_same_day')
          AND status = 'cleared') AS warnings_cleared,
  countIf(severity = 'finding') AS findings,
  countIf(status = 'resolved') AS alerts_resolved,
  countIf(status = 'escalated') AS red_cards,
  countIf(rule = 'notice.not_one_time') AS one_time_notice_breaches,
  countIf(rule = 'post.uncovered') AS uncovered_posts,
  countIf(rule = 'extension.unapproved') AS unapproved_extensions,
  countIf(rule = 'report.late') AS late_reports
FROM {DATABASE}.alerts FINAL WHERE {_in("raised_at")} AND status != 'void'
GROUP BY {{key}}"""


def _millis(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ).timestamp() * 1000)


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period to compare with: whole calendar months step back by as many months
    (month-on-month, quarter-on-quarter); any other period by its own length."""
    if start.day == 1 and end.day == 1:
        months = (end.year - start.year) * 12 + end.month - start.month
        index = start.year * 12 + start.month - 1 - months
        return date(index // 12, index % 12 + 1, 1), start
    return start - (end - start), start


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


class Bulletins:
    def __init__(self, client: Any) -> None:
        self.client = client

    def _rows(self, sql: str, by: str, start: date, end: date, now: datetime
              ) -> dict[tuple[str, ...], dict]:
        keys = GROUPS[by]
        # Plain replace: the SQL's {name:Type} placeholders are ClickHouse's, not Python's.
        result = self.client.query(sql.replace("{key}", ", ".join(keys)), parameters={
            "start": _millis(start), "end": _millis(end), "now": int(now.timestamp() * 1000)})
        rows = {}
        for values in result.result_rows:
            row = dict(zip(result.column_names, values, strict=True))
            rows[tuple(str(row.pop(k)) for k in keys)] = row
        return rows

    def _period(self, by: str, start: date, end: date, now: datetime) -> list[dict[str, Any]]:
        parts = [self._rows(sql, by, start, end, now)
                 for sql in (CASES_SQL, EVENTS_SQL, ALERTS_SQL)]
        groups = sorted(set().union(*parts))
        rows = []
        for group in groups:
            row: dict[str, Any] = dict(zip(GROUPS[by], group, strict=True))
            for part in parts:
                row.update(part.get(group, {}))
            rows.append(self._derive(row))
        return [r for r in rows if any(v for k, v in r.items() if k not in GROUPS[by])]

    @staticmethod
    def _derive(row: dict[str, Any]) -> dict[str, Any]:
        for name in ("accepted", "completed", "on_time", "early", "overdue", "extensions",
                     "extensions_approved", "ratings", "ratings_satisfied", "bad_reviews",
                     "bad_reviews_rectified", "complaints", "complaints_resolved",
                     "red_cards", "red_warnings"):
            row[name] = int(row.get(name) or 0)
        for name in ("avg_working_days_used", "avg_working_days_promised"):
            value = row.get(name)
            row[name] = round(float(value), 2) if value == value and value is not None else None
        row["rejections_by_category"] = dict(Counter(row.pop("rejection_categories", []) or []))
        row["rejections"] = sum(row["rejections_by_category"].values())
        row["extensions_unapproved"] = row["extensions"] - row["extensions_approved"]
        row["on_time_rate"] = _rate(row["on_time"], row["completed"])
        row["early_rate"] = _rate(row["early"], row["completed"])
        row["satisfaction_rate"] = _rate(row["ratings_satisfied"], row["ratings"])
        row["rectification_rate"] = _rate(row["bad_reviews_rectified"], row["bad_reviews"])
        row["complaint_resolution_rate"] = _rate(row["complaints_resolved"], row["complaints"])
        return row

    @staticmethod
    def _rank(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], int]:
        order = sorted(rows, key=lambda r: (-(r["on_time_rate"] or 0), r["red_cards"],
                                            r["red_warnings"], r["overdue"]))
        return {_group(r): n for n, r in enumerate(order, 1)}

    def bulletin(self, by: str, start: date, end: date, now: datetime) -> dict[str, Any]:
        """The bulletin for [start, end) as known at ``now``, ranked, with the change since
        the period before. A case counts as overdue once its due time has passed."""
        rows = self._period(by, start, end, now)
        before_start, _ = previous_period(start, end)
        before = self._period(by, before_start, start, now)
        ranks, previous = self._rank(rows), self._rank(before)
        for row in rows:
            group = _group(row)
            row["rank"] = ranks[group]
            row["previous_rank"] = previous.get(group)
            row["rank_change"] = (previous[group] - ranks[group]) if group in previous else None
        rows.sort(key=lambda r: r["rank"])
        red = [r for r in rows if (r["on_time_rate"] or 0) >= RED_LIST_MIN_ON_TIME
               and not r["red_cards"] and r["completed"]]
        black = [r for r in rows if r["red_cards"] or (
            r["completed"] and (r["on_time_rate"] or 0) < BLACK_LIST_MAX_ON_TIME)]
        label = GROUPS[by]
        return {
            "period": {"from": start.isoformat(), "to": end.isoformat()},
            "previous_period": {"from": before_start.isoformat(), "to": start.isoformat()},
            "by": by, "rows": rows,
            "red_list": [{k: r[k] for k in label} for r in red],
            "black_list": [{k: r[k] for k in label} for r in black],
        }

    def dashboard(self, now: datetime) -> dict[str, Any]:
        """Live: every hall's open cases by light, open alerts by severity, today's work."""
        today = now.astimezone(CHINA_TZ).date()
        params = {"now": int(now.timestamp() * 1000), "start": _millis(today),
                  "end": _millis(today + timedelta(days=1))}
        now_ = "fromUnixTimestamp64Milli({now:Int64})"
        cases = self.client.query(f"""
            SELECT hall_id,
              countIf(status = 'accepted' AND due_at IS NOT NULL AND {now_} > due_at) AS red,
              countIf(status = 'accepted' AND {now_} <= due_at AND yellow_at IS NOT NULL
                      AND {now_} >= yellow_at) AS yellow,
              countIf(status = 'accepted' AND (due_at IS NULL OR ({now_} <= due_at
                      AND (yellow_at IS NULL OR {now_} < yellow_at)))) AS green,
              countIf(status = 'suspended') AS suspended,
              countIf({_in("accepted_at")}) AS accepted_today,
              countIf(status IN {DONE} AND {_in("closed_at")}) AS completed_today
            FROM {DATABASE}.cases FINAL GROUP BY hall_id ORDER BY hall_id""",
                                  parameters=params)
        alerts = self.client.query(f"""
            SELECT hall_id, severity, count() FROM {DATABASE}.alerts FINAL
            WHERE status IN ('raised', 'acknowledged', 'noticed', 'escalated')
            GROUP BY hall_id, severity""")
        open_alerts: dict[str, dict[str, int]] = {}
        for hall, severity, count in alerts.result_rows:
            open_alerts.setdefault(hall, {})[severity] = int(count)
        halls = []
        for values in cases.result_rows:
            row = dict(zip(cases.column_names, (int(v) if isinstance(v, int) else v
                                                for v in values), strict=True))
            row["open_alerts"] = open_alerts.pop(row["hall_id"], {})
            halls.append(row)
        halls += [{"hall_id": hall, "open_alerts": counts} for hall, counts in open_alerts.items()]
        return {"as_of": now.astimezone(CHINA_TZ).isoformat(), "halls": halls}


def _group(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in ("hall_id", "window_id", "staff_id") if k in row)
