"""Live views for the bureau's dashboard: every hall (or window) with its counters now, and
pages of cases with a cursor. Every value reaches ClickHouse as a query parameter.

Lights follow ``hallwatch.case.light``: green while running, yellow from the working day
before the due date, red once overdue; a suspended case is judged at the start of its
suspension day (its clock is stopped); closed cases and cases not yet accepted have none.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime, timedelta
from typing import Any

from hallwatch.calendar import CHINA_TZ
from services.common.clickhouse import DATABASE
from services.projections.names import Names

NOW = "fromUnixTimestamp64Milli({now:Int64})"
DAY_START = "fromUnixTimestamp64Milli({today:Int64})"
DAY_END = "fromUnixTimestamp64Milli({tomorrow:Int64})"
SUSPENDED_FROM = "suspended_since"  # schemas/clickhouse/0003_narrow_columns.sql
AT = f"if(status = 'suspended' AND {SUSPENDED_FROM} IS NOT NULL, least({NOW}, " \
     f"assumeNotNull({SUSPENDED_FROM})), {NOW})"
LIGHT = (f"multiIf(status NOT IN ('accepted', 'suspended') OR due_at IS NULL, 'none', "
         f"{AT} > due_at, 'red', yellow_at IS NOT NULL AND {AT} >= yellow_at, 'yellow', "
         "'green')")
LIGHTS = ("green", "yellow", "red", "none")
OPEN_ALERT = "status IN ('raised', 'acknowledged', 'noticed', 'escalated')"

# scope -> key columns
UNITS = {"hall": ("hall_id",), "window": ("hall_id", "window_id")}

# The lights read only the cases open now (schemas/clickhouse/0004_dashboard_tables.sql),
# each judged at its own moment once (``at``) and counted by plain comparisons: the same
# lights as LIGHT (a case due with no yellow moment is green until it is red), without
# LIGHT's nested expression per count, whose analysis alone took chDB ~8 ms a query.
CASES = f"""
SELECT {{keys}},
  countIf(due_at >= at AND NOT ifNull(yellow_at <= at, false)) AS green,
  countIf(due_at >= at AND yellow_at <= at) AS yellow,
  countIf(due_at < at) AS red, countIf(status = 'suspended') AS suspended,
  countIf(due_at >= {DAY_START} AND due_at < {DAY_END}) AS due_today
FROM (SELECT {{keys}}, status, due_at, yellow_at, {AT} AS at
      FROM {DATABASE}.open_cases FINAL {{where}})
GROUP BY {{keys}}"""

# ... and the day's acceptances and decisions only today's (FINAL leaves one row per
# day, kind and case).
DAYS = f"""
SELECT {{keys}},
  countIf(kind = 'accepted') AS accepted_today, countIf(kind = 'decided') AS decided_today
FROM {DATABASE}.case_days FINAL WHERE day = {{day:Date}} {{and_where}} GROUP BY {{keys}}"""

ALERTS = f"""
SELECT {{keys}}, severity, count() AS n FROM {DATABASE}.alerts FINAL
WHERE {OPEN_ALERT} {{and_where}} GROUP BY {{keys}}, severity"""

# Each staff member's latest post event today says whether they are away; anyone who
# did anything today and is not away is on post. Read from day_staff (0007_day_staff.sql):
# one row per person, window and day under FINAL, the latest post event or none. The
# after-hours services in progress come from the day's after-hours records in day_events;
# counted as distinct records, so a record written twice counts once.
POSTS = f"""
SELECT {{keys}}, sum(on_post) AS staff_on_post, sum(absent) AS staff_absent,
  sum(uncovered) AS posts_uncovered, sum(serving) AS after_hours_in_progress
FROM (
  SELECT {{keys}}, uniqExactIf(staff_id, post_type != 'post.absence_noticed') AS on_post,
    countIf(post_type = 'post.absence_noticed') AS absent,
    countIf(post_type = 'post.absence_noticed' AND substitute_staff_id = '') AS uncovered,
    0 AS serving
  FROM {DATABASE}.day_staff FINAL WHERE day = {{day:Date}} {{and_where}} GROUP BY {{keys}}
  UNION ALL
  SELECT {{keys}}, 0, 0, 0, uniqExact(id)
  FROM {DATABASE}.day_events
  WHERE day = {{day:Date}} AND type = 'service.after_hours' AND span_start <= {NOW}
    AND span_end > {NOW} {{and_where}}
  GROUP BY {{keys}})
GROUP BY {{keys}}"""

# The dashboard's queries each read one day's rows, the open cases, or one hall's: a
# single thread does them in a few milliseconds, and spreading them over a pool only added
# its start-up to the tail (p99) of every read. A page over every case keeps the pool.
NARROW = {"max_threads": 1}

COUNTERS = ("green", "yellow", "red", "suspended", "due_today", "accepted_today",
            "decided_today", "staff_on_post", "staff_absent", "posts_uncovered",
            "after_hours_in_progress")


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _params(now: datetime) -> dict[str, Any]:
    today = now.astimezone(CHINA_TZ).date()

    def midnight(day: date) -> int:
        return _millis(datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ))

    return {"now": _millis(now), "today": midnight(today),
            "tomorrow": midnight(today + timedelta(days=1)), "day": today}


class Live:
    def __init__(self, client: Any) -> None:
        self.client = client

    def units(self, unit: str, now: datetime, hall: str | None = None
              ) -> list[dict[str, Any]]:
        """Every hall (``unit='hall'``) or every window of ``hall`` with its counters now,
        named (and with the hall's department) from the latest directory, None without
        one. Alerts with no window are counted for their hall only."""
        keys = UNITS[unit]
        params = _params(now)
        where = ""
        if hall is not None:
            params["hall"] = hall
            where = "hall_id = {hall:String}"
        out: dict[tuple[str, ...], dict[str, Any]] = {}

        def row(key: tuple[str, ...]) -> dict[str, Any]:
            if key not in out:
                out[key] = {**dict(zip(keys, key, strict=True)), "name": None,
                            "department": None, **dict.fromkeys(COUNTERS, 0),
                            "open_alerts": {}}
            return out[key]

        fill = {"keys": ", ".join(keys), "where": f"WHERE {where}" if where else "",
                "and_where": f"AND {where}" if where else ""}
        for sql in (CASES, DAYS, POSTS):
            result = self.client.query(_fill(sql, fill), parameters=params,
                                       settings=NARROW)
            for values in result.result_rows:
                key = tuple(str(v) for v in values[:len(keys)])
                if all(key):
                    row(key).update({c: int(v) for c, v in zip(
                        result.column_names[len(keys):], values[len(keys):], strict=True)})
        alerts = self.client.query(_fill(ALERTS, fill), parameters=params, settings=NARROW)
        for values in alerts.result_rows:
            key = tuple(str(v) for v in values[:len(keys)])
            if all(key):
                row(key)["open_alerts"][str(values[-2])] = int(values[-1])
        names = Names.latest(self.client)  # the latest directory's, else None
        for key, found in out.items():
            found["department"] = names.departments.get(key[0])
            found["name"] = (names.halls.get(key[0]) if unit == "hall"
                             else names.windows.get((key[0], key[1])))
        return [out[k] for k in sorted(out)]

    def cases(self, now: datetime, filters: dict[str, str], cursor: str | None,
              limit: int) -> dict[str, Any]:
        """A page of cases in case-number order matching every filter (hall, window,
        light, status, matter), after ``cursor``; ``next`` is the cursor of the next page."""
        params = _params(now)
        where = []
        columns = {"hall": "hall_id", "window": "window_id", "status": "status",
                   "matter": "matter_code"}
        for name, value in filters.items():
            column = LIGHT if name == "light" else columns[name]
            where.append(f"{column} = {{{name}:String}}")
            params[name] = value
        if cursor is not None:
            where.append("case_no > {after:String}")
            params["after"] = decode_cursor(cursor)
        params["limit"] = limit
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        # A light or an open status is only ever on an open case: read the small table;
        # one hall's cases: the table ordered by hall (0005_cases_by_hall.sql).
        if filters.get("light") in ("green", "yellow", "red") \
                or filters.get("status") in ("accepted", "suspended"):
            table = "open_cases"
        else:
            table = "cases_by_hall" if "hall" in filters else "cases"
        # Within one hall, (hall_id, case_no) is case-number order, and the tables' own.
        order = "hall_id, case_no" if "hall" in filters and table != "cases" else "case_no"
        result = self.client.query(f"""
            SELECT case_no, hall_id, window_id, staff_id, matter_code, matter_name, kind,
                   status, accepted_at, due_at, closed_at, provisional, {LIGHT} AS light
            FROM {DATABASE}.{table} FINAL {clause}
            ORDER BY {order} LIMIT {{limit:UInt32}}""", parameters=params,
            settings=NARROW if table != "cases" else None)
        page = []
        for values in result.result_rows:
            item = dict(zip(result.column_names, values, strict=True))
            for key in ("accepted_at", "due_at", "closed_at"):
                moment = item[key]
                item[key] = moment.astimezone(CHINA_TZ).isoformat() if moment else None
            item["provisional"] = bool(item["provisional"])
            page.append(item)
        following = encode_cursor(page[-1]["case_no"]) if len(page) == limit else None
        return {"cases": page, "count": len(page), "next": following}


# The hall's records beside its cases, as one list per hall: first inquiries and their
# referrals (measures art. 17(1)), liaison reports (art. 22), comment-book and
# appeal-register entries (art. 10), and the bureau's inspections (art. 24).
RECORD_TYPES = ("inquiry.recorded", "liaison.reported", "register.entry_recorded",
                "inspection.recorded")
REFERRED = "JSONExtractString(cloudevent, 'data', 'outcome') = 'referred'"


def records(client: Any, hall: str, kinds: tuple[str, ...], referred_only: bool,
            limit: int) -> dict[str, Any]:
    """The newest ``limit`` records of ``hall`` of the ``kinds`` given (each a type of
    RECORD_TYPES), newest first, with how many of each kind the hall has in all (and how
    many inquiries were referred). ``referred_only``: only inquiries referred elsewhere.
    Each record is the published event: type, subject, time, window, staff and data."""
    params: dict[str, Any] = {"hall": hall, "kinds": list(kinds), "limit": limit}
    where = "hall_id = {hall:String} AND type IN {kinds:Array(String)}"
    counted = client.query(
        f"SELECT type, count(), countIf({REFERRED}) FROM {DATABASE}.events FINAL "
        f"WHERE {where} GROUP BY type", parameters=params).result_rows
    counts = dict.fromkeys(kinds, 0)
    referrals = 0
    for kind, n, referred in counted:
        counts[str(kind)] = int(n)
        referrals += int(referred) if kind == "inquiry.recorded" else 0
    if referred_only:
        where += f" AND type = 'inquiry.recorded' AND {REFERRED}"
    rows = client.query(
        f"SELECT id, type, subject, time, window_id, staff_id, "
        f"JSONExtractRaw(cloudevent, 'data') FROM {DATABASE}.events FINAL WHERE {where} "
        f"ORDER BY time DESC, id LIMIT {{limit:UInt32}}", parameters=params).result_rows
    page = [{"id": r[0], "type": r[1], "subject": r[2],
             "time": r[3].astimezone(CHINA_TZ).isoformat(), "window_id": r[4] or None,
             "staff_id": r[5] or None, "data": json.loads(r[6])} for r in rows]
    return {"hall_id": hall, "counts": counts, "referrals": referrals, "records": page}


def _fill(sql: str, parts: dict[str, str]) -> str:
    """Put fixed SQL parts in (plain replace: ``{name:Type}`` are ClickHouse parameters)."""
    for name, text in parts.items():
        sql = sql.replace("{" + name + "}", text)
    return sql


def encode_cursor(case_no: str) -> str:
    return base64.urlsafe_b64encode(case_no.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """Raises ValueError for anything that is not a cursor this service gave out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("not a cursor from a previous page") from None
    if not text or len(text) > 50:
        raise ValueError("not a cursor from a previous page")
    return text
