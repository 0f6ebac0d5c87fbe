"""ClickHouse views of the hall event stream, written as an idempotent sink.

Each batch is written whole, then the source commits. Rows carry the event's position
and the case's version, and tables are ReplacingMergeTree keyed so that writing the same
event twice leaves one row: a crash-replay, or a full replay from offset 0 into empty
tables, gives identical views. Reads use FINAL.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hallwatch.published import HallMessage
from hallwatch.summary import CaseSummary
from services.common.clickhouse import DATABASE
from services.common.messages import Message
from services.common.metrics import PROJECTED

TS = "DateTime64(3, 'Asia/Shanghai')"

DDL = [
    f"""CREATE TABLE IF NOT EXISTS {DATABASE}.events (
        id String, hall_id LowCardinality(String), type LowCardinality(String),
        subject String, time {TS}, recorded_at {TS}, position UInt64, sequence UInt32,
        window_id String, staff_id String, office_hours LowCardinality(String), chain String,
        cloudevent String
    ) ENGINE = ReplacingMergeTree ORDER BY (subject, position)""",
    f"""CREATE TABLE IF NOT EXISTS {DATABASE}.cases (
        case_no String, hall_id LowCardinality(String), matter_code String,
        matter_name String, kind LowCardinality(String), status LowCardinality(String),
        accepted_at Nullable({TS}), due_at Nullable({TS}), yellow_at Nullable({TS}),
        closed_at Nullable({TS}), provisional Bool, window_id String, staff_id String,
        promised_days Nullable(UInt16), summary String, version UInt32, position UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY case_no""",
    f"""CREATE TABLE IF NOT EXISTS {DATABASE}.alerts (
        alert_id String, rule LowCardinality(String), severity LowCardinality(String),
        status LowCardinality(String), hall_id LowCardinality(String), case_no String,
        window_id String, staff_id String, raised_at {TS}, updated_at {TS},
        notice_due_at Nullable({TS}), body String, version UInt32
    ) ENGINE = ReplacingMergeTree(version) ORDER BY alert_id""",
    f"""CREATE TABLE IF NOT EXISTS {DATABASE}.offsets (
        consumer String, position UInt64
    ) ENGINE = ReplacingMergeTree(position) ORDER BY consumer""",
]

EVENT_COLUMNS = ["id", "hall_id", "type", "subject", "time", "recorded_at", "position",
                 "sequence", "window_id", "staff_id", "office_hours", "chain", "cloudevent"]
ALERT_COLUMNS = ["alert_id", "rule", "severity", "status", "hall_id", "case_no", "window_id",
                 "staff_id", "raised_at", "updated_at", "notice_due_at", "body", "version"]
ALERT_FILTERS = {"hall": "hall_id", "case": "case_no", "rule": "rule", "severity": "severity",
                 "status": "status"}
CASE_COLUMNS = ["case_no", "hall_id", "matter_code", "matter_name", "kind", "status",
                "accepted_at", "due_at", "yellow_at", "closed_at", "provisional",
                "window_id", "staff_id", "promised_days", "summary", "version", "position"]


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Views:
    def __init__(self, client: Any) -> None:
        self.client = client
        for statement in DDL:
            client.command(statement)

    # -- writing -----------------------------------------------------------------

    def write(self, batch: list[Message]) -> None:
        """Write a batch of hall events and alerts (each table in one insert)."""
        events: list[list[Any]] = []
        cases: dict[str, list[Any]] = {}
        alerts: dict[str, list[Any]] = {}
        for message in batch:
            if message.is_alert:
                a = message.value
                row = self._alert_row(a)
                if a["alert_id"] not in alerts or alerts[a["alert_id"]][-1] < a["version"]:
                    alerts[a["alert_id"]] = row
                continue
            hall = message.hall
            case = hall.case
            events.append([
                hall.id, hall.hall_id or "hallwatch", hall.type, hall.subject, hall.time,
                hall.recorded_time, hall.position, hall.sequence,
                hall.data.get("window_id") or (case and case.window_id) or "",
                hall.data.get("staff_id") or (case and case.staff_id) or "",
                (case and case.office_hours) or "", hall.chain or "", message.text(),
            ])
            if case is not None:
                previous = cases.get(case.case_no)
                if previous is None or previous[-2] < hall.sequence:
                    cases[case.case_no] = self._case_row(case, hall)
        if events:
            self.client.insert(f"{DATABASE}.events", events, column_names=EVENT_COLUMNS)
        if cases:
            self.client.insert(f"{DATABASE}.cases", list(cases.values()),
                               column_names=CASE_COLUMNS)
        if alerts:
            self.client.insert(f"{DATABASE}.alerts", list(alerts.values()),
                               column_names=ALERT_COLUMNS)
        PROJECTED.inc(len(batch))

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

    def case(self, case_no: str) -> CaseSummary | None:
        rows = self.client.query(
            f"SELECT summary FROM {DATABASE}.cases FINAL WHERE case_no = {{n:String}}",
            parameters={"n": case_no}).result_rows
        return CaseSummary.from_dict(json.loads(rows[0][0])) if rows else None

    def history(self, case_no: str) -> list[dict[str, Any]]:
        rows = self.client.query(
            f"SELECT cloudevent FROM {DATABASE}.events FINAL WHERE subject = {{n:String}} "
            "ORDER BY position", parameters={"n": case_no}).result_rows
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

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every view's rows in a stable order (for replay-equality checks)."""
        out = {}
        for table, key in (("events", "subject, position"), ("cases", "case_no"),
                           ("alerts", "alert_id")):
            out[table] = self.client.query(
                f"SELECT * FROM {DATABASE}.{table} FINAL ORDER BY {key}").result_rows
        return out
