"""ClickHouse views of the hall event stream, written as an idempotent sink.

Each batch is written whole, then the source commits. Rows carry the event's position
and the case's version, and tables are ReplacingMergeTree keyed so that writing the same
event twice leaves one row: a crash-replay, or a full replay from offset 0 into empty
tables, gives identical views. Reads use FINAL.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, time
from pathlib import Path
from typing import Any

from hallwatch.alert import CLEARED, RESOLVED, VOID
from hallwatch.calendar import CHINA_TZ
from hallwatch.catalogue import parse_time
from hallwatch.errors import InvalidEvent
from hallwatch.published import HallMessage
from hallwatch.summary import CaseSummary
from services.common import metrics
from services.common.clickhouse import DATABASE
from services.common.messages import Message
from services.common.metrics import PROJECTED

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "clickhouse"
# the views a rebuild replaces
TABLES = ("events", "cases", "alerts", "alerts_by_case", "open_cases", "case_days",
          "day_events", "cases_by_hall", "day_staff")
log = logging.getLogger(__name__)


def schema_files() -> list[Path]:
    """The versioned schema files, in the order they apply."""
    return sorted(SCHEMA_DIR.glob("*.sql"))


def statements(file: Path) -> list[str]:
    """The statements of one schema file (comments dropped, ``{database}`` filled in)."""
    text = "\n".join(line for line in file.read_text().splitlines()
                     if not line.lstrip().startswith("--"))
    return [part.strip().replace("{database}", DATABASE) for part in text.split(";")
            if part.strip()]


def apply_schema(client: Any) -> list[str]:
    """Apply every schema file (idempotent) and record its version; returns the versions."""
    versions = []
    for file in schema_files():
        for statement in statements(file):
            client.command(statement)
        versions.append(file.stem)
    client.insert(f"{DATABASE}.schema_versions", [[v] for v in versions],
                  column_names=["version"])
    return versions


EVENT_COLUMNS = ["id", "hall_id", "type", "subject", "time", "recorded_at", "position",
                 "sequence", "window_id", "staff_id", "office_hours", "chain", "cloudevent"]
ALERT_COLUMNS = ["alert_id", "rule", "severity", "status", "hall_id", "case_no", "window_id",
                 "staff_id", "raised_at", "updated_at", "notice_due_at", "body", "version"]
ALERT_FILTERS = {"hall": "hall_id", "case": "case_no", "rule": "rule", "severity": "severity",
                 "status": "status"}
CASE_COLUMNS = ["case_no", "hall_id", "matter_code", "matter_name", "kind", "status",
                "accepted_at", "due_at", "yellow_at", "closed_at", "provisional",
                "window_id", "staff_id", "promised_days", "summary", "version", "position",
                "suspended_since"]
CASE_VERSION = CASE_COLUMNS.index("version")
OPEN_STATUSES = ("accepted", "suspended")
DECIDED_STATUSES = ("completed", "delivered")
OPEN_COLUMNS = ["case_no", "hall_id", "window_id", "staff_id", "matter_code", "matter_name",
                "kind", "status", "accepted_at", "due_at", "yellow_at", "closed_at",
                "provisional", "suspended_since", "version", "closed"]
DAY_STAFF_COLUMNS = ["day", "hall_id", "window_id", "staff_id", "post_at", "post_type",
                     "substitute_staff_id"]
POST_TYPES = ("post.absence_noticed", "post.resumed")
NO_POST = datetime.fromtimestamp(0, CHINA_TZ)  # day_staff's version for an act not on post
PAGE_COLUMNS = OPEN_COLUMNS[:-1]  # cases_by_hall: a page's columns, without ``closed``
DAY_COLUMNS = ["day", "kind", "hall_id", "case_no", "window_id", "version"]
DAY_EVENT_COLUMNS = ["day", "hall_id", "window_id", "staff_id", "time", "id", "type",
                     "substitute_staff_id", "span_start", "span_end"]
_AT = {name: i for i, name in enumerate(CASE_COLUMNS)}
_PAGE_FROM_CASE = [_AT[name] for name in PAGE_COLUMNS]
# Closed cases' rows written to open_cases between two CLEANUP merges asked for by the
# sink (the table's own settings also clean up, but only once parts are a minute old).
CLEANUP_EVERY = 20_000


def _day_staff(row: list[Any]) -> list[Any]:
    """A day_events row as day_staff keeps it: the post event, or an act with none."""
    day, hall, window, staff, moment, _id, kind, substitute = row[:8]
    if kind in POST_TYPES:
        return [day, hall, window, staff, moment, kind, substitute]
    return [day, hall, window, staff, NO_POST, "", ""]


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _moment(value: Any) -> datetime | None:
    """A time a hall sent in an event's data, read as the judge reads it; None if absent
    (stored events were validated: an unreadable one is left out, never stalls the sink)."""
    try:
        return parse_time(value) if isinstance(value, str) else None
    except InvalidEvent:
        return None


class Views:
    def __init__(self, client: Any, suffix: str = "") -> None:
        """``suffix``: write into the shadow tables of a rebuild (already created)."""
        self.client = client
        self.suffix = suffix
        self.closed_since_cleanup = 0
        self.cleanup = True  # off if the table cannot be optimised here (a Distributed one)
        if not suffix:
            apply_schema(client)

    def table(self, name: str) -> str:
        return f"{DATABASE}.{name}{self.suffix}"

    # -- writing -----------------------------------------------------------------

    def write(self, batch: list[Message]) -> None:
        """Write a batch of hall events and alerts (each table in one insert)."""
        events: list[list[Any]] = []
        staffed: list[list[Any]] = []  # the events done by staff, for day_events
        cases: dict[str, list[Any]] = {}
        alerts: dict[str, list[Any]] = {}
        for message in batch:
            if message.is_alert:
                a = message.alert
                row = self._alert_row(a)
                if a["alert_id"] not in alerts or alerts[a["alert_id"]][-1] < a["version"]:
                    alerts[a["alert_id"]] = row
                continue
            hall = message.hall
            case = hall.case
            hall_id = hall.hall_id or "hallwatch"
            window = hall.data.get("window_id") or (case and case.window_id) or ""
            staff = hall.data.get("staff_id") or (case and case.staff_id) or ""
            events.append([
                hall.id, hall_id, hall.type, hall.subject, hall.time, hall.recorded_time,
                hall.position, hall.sequence, window, staff,
                (case and case.office_hours) or "", hall.chain or "", message.text(),
            ])
            if staff:
                data = hall.data
                staffed.append([
                    hall.time.astimezone(CHINA_TZ).date(), hall_id, window, staff, hall.time,
                    hall.id, hall.type, str(data.get("substitute_staff_id") or ""),
                    _moment(data.get("start")), _moment(data.get("end"))])
            if case is not None:
                previous = cases.get(case.case_no)
                if previous is None or previous[CASE_VERSION] < hall.sequence:
                    cases[case.case_no] = self._case_row(case, hall)
        if events:
            self.client.insert(self.table("events"), events, column_names=EVENT_COLUMNS)
            if staffed:
                self.client.insert(self.table("day_events"), staffed,
                                   column_names=DAY_EVENT_COLUMNS)
                # One row per person, window and day a batch: the last of the latest (as
                # ReplacingMergeTree keeps the last inserted of equal versions).
                people: dict[tuple[Any, ...], list[Any]] = {}
                for row in map(_day_staff, staffed):
                    known = people.get(key := tuple(row[:4]))
                    if known is None or row[4] >= known[4]:
                        people[key] = row
                self.client.insert(self.table("day_staff"), list(people.values()),
                                   column_names=DAY_STAFF_COLUMNS)
        if cases:
            rows = list(cases.values())
            self.client.insert(self.table("cases"), rows, column_names=CASE_COLUMNS)
            self._write_page_rows(rows)
        if alerts:
            self.client.insert(self.table("alerts"), list(alerts.values()),
                               column_names=ALERT_COLUMNS)
            by_case = [[row[5], row[0]] for row in alerts.values() if row[5]]
            if by_case:
                self.client.insert(self.table("alerts_by_case"), by_case,
                                   column_names=["case_no", "alert_id"])
        PROJECTED.inc(len(batch))
        metrics.projected(batch)
        if alerts:
            metrics.open_alerts(self.open_alert_counts())

    def _write_page_rows(self, rows: list[list[Any]]) -> None:
        """Each case's row in ``cases_by_hall`` and ``open_cases`` (closed = 1 once it is
        no longer open), and its acceptance and decision days in ``case_days``."""
        paged, opened, days = [], [], []
        for row in rows:
            status = row[_AT["status"]]
            closed = status not in OPEN_STATUSES
            page = [row[i] for i in _PAGE_FROM_CASE]
            paged.append(page)
            opened.append([*page, int(closed)])
            self.closed_since_cleanup += closed
            key = [row[_AT["hall_id"]], row[_AT["case_no"]], row[_AT["window_id"]],
                   row[_AT["version"]]]
            accepted, decided = row[_AT["accepted_at"]], row[_AT["closed_at"]]
            if accepted is not None:
                days.append([accepted.astimezone(CHINA_TZ).date(), "accepted", *key])
            if status in DECIDED_STATUSES and decided is not None:
                days.append([decided.astimezone(CHINA_TZ).date(), "decided", *key])
        self.client.insert(self.table("cases_by_hall"), paged, column_names=PAGE_COLUMNS)
        self.client.insert(self.table("open_cases"), opened, column_names=OPEN_COLUMNS)
        if days:
            self.client.insert(self.table("case_days"), days, column_names=DAY_COLUMNS)
        if self.cleanup and self.closed_since_cleanup >= CLEANUP_EVERY:
            self.closed_since_cleanup = 0
            try:
                self.client.command(f"OPTIMIZE TABLE {self.table('open_cases')} FINAL CLEANUP")
            except Exception as error:  # housekeeping never fails a write
                self.cleanup = False
                log.warning("open_cases: no CLEANUP merges from the sink (%s); the table's "
                            "own settings clean up", error)

    @staticmethod
    def _alert_row(a: dict[str, Any]) -> list[Any]:
        return [
            a["alert_id"], a["rule"], a["severity"], a["status"], a.get("hall_id") or "",
            a.get("case_no") or "", a.get("window_id") or "", a.get("staff_id") or "",
            _ts(a["raised_at"]), _ts(a["updated_at"]), _ts(a.get("notice_due_at")),
            json.dumps({k: v for k, v in a.items() if k != "position"}, ensure_ascii=False),
            a["version"],
        ]

    @staticmethod
    def _case_row(s: CaseSummary, hall: HallMessage) -> list[Any]:
        return [
            s.case_no, s.hall_id, s.matter_code or "", s.matter_name or "", s.kind or "",
            s.status, s.accepted_at, s.due_at, s.yellow_at, s.closed_at, s.provisional,
            s.window_id or "", s.staff_id or "", s.promised_days,
            hall.case_text or json.dumps(s.as_dict(), ensure_ascii=False, sort_keys=True),
            hall.sequence, hall.position,
            # the start of the suspension day, when the case's clock stopped
            datetime.combine(s.suspended_since, time.min, CHINA_TZ)
            if s.suspended_since else None,
        ]

    def load_position(self, consumer: str) -> int:
        rows = self.client.query(
            f"SELECT max(position) FROM {DATABASE}.offsets FINAL WHERE consumer = {{c:String}}",
            parameters={"c": consumer}).result_rows
        return int(rows[0][0] or 0) if rows else 0

    def save_position(self, consumer: str, position: int) -> None:
        self.client.insert(f"{DATABASE}.offsets", [[consumer, position]],
                           column_names=["consumer", "position"])

    # -- reading -----------------------------------------------------------------

    # The reads of one case pick each row's latest version themselves (ORDER BY version
    # DESC, LIMIT 1 BY key) instead of FINAL: the same rows, by primary key, without
    # merging every part's range (FINAL was three quarters of a case view's time).

    def case(self, case_no: str) -> CaseSummary | None:
        rows = self.client.query(
            f"SELECT summary FROM {DATABASE}.cases WHERE case_no = {{n:String}} "
            "ORDER BY version DESC LIMIT 1", parameters={"n": case_no}).result_rows
        return CaseSummary.from_dict(json.loads(rows[0][0])) if rows else None

    def case_alerts(self, case_no: str) -> list[dict[str, Any]]:
        """Every alert of a case as it stands now, newest first (as ``alerts``)."""
        rows = self.client.query(
            f"SELECT body FROM {DATABASE}.alerts WHERE alert_id IN (SELECT alert_id FROM "
            f"{DATABASE}.alerts_by_case WHERE case_no = {{n:String}}) "
            "ORDER BY alert_id, version DESC LIMIT 1 BY alert_id",
            parameters={"n": case_no}).result_rows
        alerts = [json.loads(r[0]) for r in rows]
        alerts.sort(key=lambda a: a["alert_id"])
        alerts.sort(key=lambda a: datetime.fromisoformat(a["raised_at"]), reverse=True)
        return alerts

    def history(self, case_no: str) -> list[dict[str, Any]]:
        rows = self.client.query(
            f"SELECT cloudevent FROM {DATABASE}.events WHERE subject = {{n:String}} "
            "ORDER BY position LIMIT 1 BY position", parameters={"n": case_no}).result_rows
        return [json.loads(r[0]) for r in rows]

    def alerts(self, filters: dict[str, str], since: datetime | None = None,
               until: datetime | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Alerts matching every given filter, raised in [since, until), newest first."""
        return self.alert_page(filters, since, until, limit)[0]

    def alert_page(self, filters: dict[str, str], since: datetime | None = None,
                   until: datetime | None = None, limit: int = 500,
                   after: tuple[int, str] | None = None
                   ) -> tuple[list[dict[str, Any]], tuple[int, str] | None, int]:
        """A page of ``alerts``: those after the key ``after`` (raised_at in epoch ms,
        alert id), the key of the last one if more follow, and how many match in all."""
        where: list[str] = []
        params: dict[str, Any] = {}
        for name, value in filters.items():
            where.append(f"{ALERT_FILTERS[name]} = {{{name}:String}}")
            params[name] = value
        if "case" in filters:  # by primary key: the case's alert ids, then those alerts
            where.append(f"alert_id IN (SELECT alert_id FROM {DATABASE}.alerts_by_case "
                         "WHERE case_no = {case:String})")
        # Moments travel as epoch milliseconds: no time-zone guessing on either side.
        if since:
            where.append("raised_at >= fromUnixTimestamp64Milli({since:Int64})")
            params["since"] = int(since.timestamp() * 1000)
        if until:
            where.append("raised_at < fromUnixTimestamp64Milli({until:Int64})")
            params["until"] = int(until.timestamp() * 1000)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        total = int(self.client.query(f"SELECT count() FROM {DATABASE}.alerts FINAL {clause}",
                                      parameters=params).result_rows[0][0])
        if after:
            where.append("(toUnixTimestamp64Milli(raised_at) < {after_ms:Int64} OR "
                         "(toUnixTimestamp64Milli(raised_at) = {after_ms:Int64} "
                         "AND alert_id > {after_id:String}))")
            params.update(after_ms=after[0], after_id=after[1])
            clause = "WHERE " + " AND ".join(where)
        rows = self.client.query(
            f"SELECT body, toUnixTimestamp64Milli(raised_at), alert_id "
            f"FROM {DATABASE}.alerts FINAL {clause} "
            f"ORDER BY raised_at DESC, alert_id LIMIT {int(limit) + 1}",
            parameters=params).result_rows
        last = (int(rows[limit - 1][1]), str(rows[limit - 1][2])) if len(rows) > limit else None
        return [json.loads(r[0]) for r in rows[:limit]], last, total

    def open_alert_counts(self) -> list[tuple[str, str, int]]:
        """(rule, severity, count) of alerts not yet resolved, cleared or voided."""
        rows = self.client.query(
            f"SELECT rule, severity, count() FROM {DATABASE}.alerts FINAL "
            f"WHERE status NOT IN ('{RESOLVED}', '{CLEARED}', '{VOID}') "
            "GROUP BY rule, severity").result_rows
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every view's rows in a stable order (for replay-equality checks)."""
        out = {}
        for table, key in (("events", "subject, position"), ("cases", "case_no"),
                           ("alerts", "alert_id"), ("open_cases", "case_no"),
                           ("case_days", "day, kind, hall_id, case_no"),
                           ("day_events", "day, hall_id, window_id, staff_id, id"),
                           ("cases_by_hall", "hall_id, case_no"),
                           ("day_staff", "day, hall_id, window_id, staff_id")):
            out[table] = self.client.query(
                f"SELECT * FROM {DATABASE}.{table} FINAL ORDER BY {key}").result_rows
        return out
