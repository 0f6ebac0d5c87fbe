"""Periodic bulletins (定期通报) and the bureau's live dashboard, from the ClickHouse views.

A bulletin covers a named period (``periods``) per scope — hall, department (halls grouped
by a hall→department mapping), window, staff member or matter — with every figure of
``figures`` (each defined in docs/bulletins.md), each rate's change against the period
before (环比) and the same period a year before (同比), the composite score, the ranking
and the red and black lists (``scoring``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from hallwatch.calendar import CHINA_TZ
from services.common.clickhouse import DATABASE
from services.projections import figures_sql
from services.projections.figures import COUNT_KEYS, RATE_PARTS, derive
from services.projections.names import Names
from services.projections.periods import Period
from services.projections.scoring import Scoring

SCOPES = ("hall", "department", "window", "staff", "matter")
KEYS: dict[str, tuple[str, ...]] = {
    **{scope: names for scope, (names, _) in figures_sql.SCOPES.items()},
    "department": ("department_id",)}
DONE = "('completed', 'delivered')"
TREND_PERIODS = 6
POSITION_CONSUMERS = ("projections", "alerts")


def _millis(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ).timestamp() * 1000)


def _in(col: str) -> str:
    return (f"{col} >= fromUnixTimestamp64Milli({{start:Int64}}) "
            f"AND {col} < fromUnixTimestamp64Milli({{end:Int64}})")


class UnknownScope(ValueError):
    """A scope the bulletin cannot cut by (yet): e.g. department without a mapping."""


class Bulletins:
    def __init__(self, client: Any, scoring: Scoring | None = None,
                 departments: Mapping[str, str] | None = None) -> None:
        """``departments``: hall id → department id; without it, the latest directory's
        (each hall's 主管单位)."""
        self.client = client
        self.scoring = scoring or Scoring.load()
        self.departments = dict(departments or {})

    # -- figures -----------------------------------------------------------------

    def names(self) -> Names:
        """The names (and statutory days) of the latest directory in the views."""
        return Names.latest(self.client)

    def counts_of(self, scope: str, periods: list[Period], now: datetime,
                  names: Names | None = None
                  ) -> dict[Period, dict[tuple[str, ...], dict[str, int]]]:
        """Every count of every row of ``scope`` in each of ``periods`` (of one kind: they
        never overlap), as known at ``now``, read in one pass over each view. Rows whose
        key is unknown (e.g. events naming no window) are left out. ``names``: the
        directory to judge by (default: the latest in the views)."""
        names = names if names is not None else self.names()
        periods = list(dict.fromkeys(periods))  # a year's "year before" is its previous
        if len({p.kind for p in periods}) > 1:
            raise ValueError("periods of one kind only: others may overlap")
        if scope == "department":
            return self._departments(periods, now, names)
        params = {"starts": [_millis(p.start) for p in periods],
                  "ends": [_millis(p.end) for p in periods],
                  "now": int(now.timestamp() * 1000),
                  "statutory": json.dumps(dict(names.statutory_days))}
        found: dict[Period, dict[tuple[str, ...], dict[str, int]]] = {p: {} for p in periods}
        width = len(KEYS[scope])
        for view in figures_sql.QUERIES:
            result = self.client.query(figures_sql.query(view, scope), parameters=params)
            for values in result.result_rows:
                key = tuple(str(v) for v in values[1:width + 1])
                if not all(key):
                    continue
                row = found[periods[int(values[0]) - 1]].setdefault(key, {})
                for name, value in zip(result.column_names[width + 1:], values[width + 1:],
                                       strict=True):
                    row[name] = int(value or 0)
        for rows in found.values():
            for row in rows.values():
                for name in COUNT_KEYS:
                    row.setdefault(name, 0)
                row["extensions_unapproved"] = row["extensions"] - row["extensions_approved"]
        return {p: {k: r for k, r in rows.items() if any(r.values())}
                for p, rows in found.items()}

    def _departments(self, periods: list[Period], now: datetime, names: Names
                     ) -> dict[Period, dict[tuple[str, ...], dict[str, int]]]:
        departments = self.departments or names.departments
        if not departments:
            raise UnknownScope("no hall→department mapping is loaded yet (load a directory)")
        out: dict[Period, dict[tuple[str, ...], dict[str, int]]] = {}
        for period, halls in self.counts_of("hall", periods, now, names).items():
            rows = out.setdefault(period, {})
            for (hall,), row in halls.items():
                department = departments.get(hall)
                if department is None:
                    continue
                total = rows.setdefault((department,), dict.fromkeys(COUNT_KEYS, 0))
                for name in COUNT_KEYS:
                    total[name] += row[name]
        return out

    def rows_of(self, scope: str, periods: list[Period], now: datetime,
                names: Names | None = None) -> dict[Period, list[dict[str, Any]]]:
        """The rows of ``scope`` in each of ``periods`` (read together, as ``counts_of``)
        with their counts, rates, score and rank."""
        out = {}
        for period, counted in self.counts_of(scope, periods, now, names).items():
            rows = []
            for key, counts in sorted(counted.items()):
                row: dict[str, Any] = dict(zip(KEYS[scope], key, strict=True))
                row.update(counts)
                row.update(derive(counts))
                rows.append(row)
            self.scoring.rank(rows)
            out[period] = rows
        return out

    @staticmethod
    def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
        total: dict[str, Any] = {name: sum(r[name] for r in rows) for name in COUNT_KEYS}
        total.update(derive(total))
        return total

    # -- the bulletin ------------------------------------------------------------

    def bulletin(self, period: Period, scope: str, now: datetime) -> dict[str, Any]:
        """The bulletin of ``period`` per ``scope`` as known at ``now``."""
        names = KEYS[scope]
        directory = self.names()  # one directory for every part of this bulletin
        # Every period the bulletin shows is read in one pass per view: this one, the one
        # before, a year before and, per hall, the trend's.
        before, year_ago = period.previous(), period.year_ago()
        trend = self.trend_periods(period)
        read = self.rows_of(scope, [period, before, year_ago]
                            + (trend if scope == "hall" else []), now, directory)
        halls = read if scope == "hall" else self.rows_of("hall", trend, now, directory)
        rows = read[period]
        earlier = {_key(r, names): r for r in read[before]}
        last_year = {_key(r, names): r for r in read[year_ago]}
        for row in rows:
            old, older = earlier.get(_key(row, names)), last_year.get(_key(row, names))
            row["previous_rank"] = old["rank"] if old else None
            row["rank_change"] = (old["rank"] - row["rank"]
                                  if old and old["rank"] and row["rank"] else None)
            row["changes"] = {rate: _change(row[rate], old, older, rate)
                              for rate in RATE_PARTS}
        rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, _key(r, names)))
        red, black = self.scoring.red_list(rows), self.scoring.black_list(rows)
        directory.annotate(scope, rows)
        report = {
            "period": period.as_dict(), "previous_period": before.as_dict(),
            "year_ago_period": year_ago.as_dict(), "scope": scope, "by": scope,
            "as_of": now.astimezone(CHINA_TZ).isoformat(),
            "positions": self.positions(), "scoring": self.scoring.as_dict(),
            "totals": self.totals(rows),
            "rows": rows,
            "red_list": [{**{k: r[k] for k in names}, "score": r["score"]} for r in red],
            "black_list": [{**{k: r[k] for k in names}, "score": r["score"]} for r in black],
            "trend": self._trend(trend, halls),
            "directory_version": directory.version,
        }
        if scope == "staff" and period.kind == "year" and self.scoring.appraisal:
            report["appraisal"] = self.scoring.appraisal.appraise(rows)
        return report

    @staticmethod
    def trend_periods(period: Period, count: int = TREND_PERIODS) -> list[Period]:
        """The last ``count`` periods of the same kind, oldest first, ending with it."""
        return [period.shifted(-steps) for steps in range(count - 1, -1, -1)]

    def _trend(self, periods: list[Period], rows: Mapping[Period, list[dict[str, Any]]]
               ) -> list[dict[str, Any]]:
        """Totals' rates of each of ``periods`` (oldest first) from their rows per hall."""
        out = []
        for past in periods:
            totals = self.totals(rows[past])
            out.append({"period": past.name, "label": past.label,
                        **{rate: totals[rate] for rate in ("on_time_rate", "early_rate",
                                                           "satisfaction_rate")},
                        "accepted": totals["accepted"], "overdue_open": totals["overdue_open"]})
        return out

    def positions(self) -> dict[str, int]:
        """Where the figures stand in the logs: ``hall_events`` is the event-store position
        of the latest hall event in the views (either mode); the others are the embedded
        consumers' positions (hall log, supervision log), absent in Kafka mode."""
        latest = self.client.query(f"SELECT max(position) FROM {DATABASE}.events").result_rows
        out = {"hall_events": int(latest[0][0] or 0) if latest else 0}
        rows = self.client.query(
            f"SELECT consumer, max(position) FROM {DATABASE}.offsets FINAL GROUP BY consumer"
        ).result_rows
        out.update({str(c): int(p) for c, p in rows if str(c) in POSITION_CONSUMERS})
        return out

    # -- the live dashboard -------------------------------------------------------

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


def _key(row: dict[str, Any], names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in names)


def _change(value: float | None, old: dict[str, Any] | None, older: dict[str, Any] | None,
            rate: str) -> dict[str, float | None]:
    """环比/同比 of one rate: the earlier values and the differences (None without data)."""
    before = old[rate] if old else None
    year_ago = older[rate] if older else None
    return {
        "previous": before, "year_ago": year_ago,
        "mom": round(value - before, 4) if value is not None and before is not None else None,
        "yoy": round(value - year_ago, 4) if value is not None and year_ago is not None
        else None,
    }
