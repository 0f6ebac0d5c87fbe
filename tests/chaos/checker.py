"""The independent checker: reads what each component holds and compares it with a model.

It shares no code with the services' judging: it reads PostgreSQL tables with SQL,
decrypts stored events with the AES-GCM key (nonce ‖ tag ‖ ciphertext, as eventsourcing
writes them), reads Kafka with its own consumer and ClickHouse with its own SQL, and
computes the judgements the rules demand with a small model of its own:

* ``report.late``: a hall fact recorded more than 24 hours after its ``time`` is raised
  once, at ``time`` + 24 h;
* ``deadline.overdue``: a promised case is due at the end (23:59:59 +08:00) of the nth
  working day after its acceptance day (weekdays; the run stays in November 2026, which
  has no public holiday or make-up day); raised once, at the due time, if the case was
  completed after it or is still open when the supervision clock reaches ``clock_end``,
  and never otherwise.

And: every acknowledged fact is in the store exactly once, on Kafka at least once and in
the events view exactly once; every stored fact was judged exactly once (one ``Judged``
event names it); no alert is doubled (same rule, case and moment) or missing; every
alert is in the alerts view once, in its latest status; and each partition's supervision
tracking position never stands ahead of an unjudged message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from kafka import KafkaConsumer, TopicPartition

from tests.chaos.system import ROOT

CST = timezone(timedelta(hours=8))
LATE_AFTER = timedelta(hours=24)
MODELLED = ("report.late", "deadline.overdue")


def _utc(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).isoformat()


def due_at(accepted: datetime, working_days: int) -> datetime:
    """End of the nth weekday after the acceptance day (China time)."""
    day: date = accepted.astimezone(CST).date()
    left = working_days
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return datetime.combine(day, time(23, 59, 59), CST)


class Decrypter:
    def __init__(self, key_b64: str) -> None:
        import base64
        self.aes = AESGCM(base64.b64decode(key_b64))

    def __call__(self, blob: bytes) -> dict[str, Any]:
        nonce, tag, body = blob[:12], blob[12:28], blob[28:]
        plain = self.aes.decrypt(nonce, body + tag, None)
        return json.loads(plain)  # type: ignore[no-any-return]


@dataclass
class Findings:
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, what: str, items: Any = None) -> None:
        if items is None:
            self.problems.append(what)
            return
        items = sorted(items, key=str)
        if items:
            shown = ", ".join(str(i) for i in items[:8])
            more = f" … and {len(items) - 8} more" if len(items) > 8 else ""
            self.problems.append(f"{what}: {len(items)}: {shown}{more}")


@dataclass
class Stored:
    facts: Counter[str]  # CloudEvent id -> stored events naming it
    by_id: dict[str, dict[str, Any]]  # id -> {fact, summary, recorded_at}
    judged: Counter[str]  # CloudEvent id -> watches with a Watch.Judged naming it
    alerts: dict[str, dict[str, Any]]  # alert id -> Raised state + "status"
    tracking: dict[str, int]  # supervision tracking name -> next offset
    relay: int
    alerts_relay: int
    hall_max: int
    supervision_max: int
    # CloudEvent ids some watch judged more than once (an out-of-hours act is judged once
    # by its case's watch and once by its hall's after-hours watch: that is not a repeat)
    repeated: tuple[str, ...] = ()


STATUS_OF = {"Raised": "raised", "Acknowledged": "acknowledged", "NoticeIssued": "noticed",
             "Resolved": "resolved", "Cleared": "cleared", "Voided": "void",
             "Escalated": "escalated"}


def read_store(dsn: str, key_b64: str) -> Stored:
    decrypt = Decrypter(key_b64)
    facts: Counter[str] = Counter()
    by_id: dict[str, dict[str, Any]] = {}
    judged_by: Counter[tuple[str, str]] = Counter()
    alerts: dict[str, dict[str, Any]] = {}
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        rows = conn.execute("SELECT topic, state FROM hallstore_events "
                            "WHERE topic LIKE %s OR topic LIKE %s ORDER BY notification_id",
                            ["%:Case.Opened", "%:Case.FactRecorded"]).fetchall()
        for _topic, state in rows:
            event = decrypt(bytes(state))
            fact = event["fact"]
            facts[fact["id"]] += 1
            by_id[fact["id"]] = {"fact": fact, "summary": event["summary"],
                                 "recorded_at": event["recorded_at"]}
        rows = conn.execute("SELECT originator_id, topic, state FROM supervision_events "
                            "WHERE topic LIKE %s OR topic LIKE %s "
                            "ORDER BY originator_id, originator_version",
                            ["%:Watch.Judged", "%:Alert.%"]).fetchall()
        for originator, topic, state in rows:
            event = decrypt(bytes(state))
            name = topic.rsplit(".", 1)[-1]
            if name == "Judged":
                if event.get("source_event"):
                    judged_by[event["source_event"], str(originator)] += 1
            elif name == "Raised":
                alerts[str(originator)] = {**event, "status": "raised"}
            elif str(originator) in alerts and name in STATUS_OF:
                alerts[str(originator)]["status"] = STATUS_OF[name]
        tracking = {name: int(position) for name, position in conn.execute(
            "SELECT application_name, MAX(notification_id) FROM supervision_tracking "
            "GROUP BY application_name").fetchall()}
        relay = conn.execute("SELECT MAX(notification_id) FROM hallstore_tracking "
                             "WHERE application_name = 'relay'").fetchone()
        hall_max = conn.execute("SELECT MAX(notification_id) FROM hallstore_events").fetchone()
        sup_max = conn.execute("SELECT MAX(notification_id) FROM supervision_events").fetchone()
    judged = Counter(fact for fact, _watch in judged_by)
    return Stored(facts, by_id, judged, alerts, tracking,
                  int((relay or [0])[0] or 0), tracking.get("alerts-relay", 0),
                  int((hall_max or [0])[0] or 0), int((sup_max or [0])[0] or 0),
                  tuple(sorted({fact for (fact, _), n in judged_by.items() if n > 1})))


@dataclass
class OnKafka:
    ids: Counter[str]
    records: dict[int, list[tuple[int, str]]]  # partition -> (offset, id)
    ends: dict[int, int]


def read_kafka(bootstrap: str, topic: str) -> OnKafka:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=2000)
    try:
        partitions = [TopicPartition(topic, p)
                      for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
        records: dict[int, list[tuple[int, str]]] = {p: [] for p in ends}
        ids: Counter[str] = Counter()
        remaining = {p for p, end in ends.items() if end > 0}
        while remaining:
            polled = consumer.poll(timeout_ms=2000, max_records=5000)
            for tp, batch in polled.items():
                for record in batch:
                    value = json.loads(record.value)
                    records[tp.partition].append((record.offset, value["id"]))
                    ids[value["id"]] += 1
                    if record.offset + 1 >= ends[tp.partition]:
                        remaining.discard(tp.partition)
        return OnKafka(ids, records, ends)
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    from kafka import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="chaos-checker")
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
    finally:
        admin.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        partitions = [TopicPartition(topic, p)
                      for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {tp.partition: o for tp, o in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def read_views(chdb_dir: str) -> dict[str, Any]:
    """Per-id row counts and alert statuses from the views (FINAL, as the API reads)."""
    out = subprocess.run([sys.executable, "-m", "tests.chaos.read_views", chdb_dir], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def expected_alerts(stored: Stored, clock_end: datetime) -> Counter[tuple[str, str, str]]:
    """(rule, case, raised_at in UTC) the model says must exist, each once."""
    want: Counter[tuple[str, str, str]] = Counter()
    cases: dict[str, dict[str, Any]] = {}
    for record in stored.by_id.values():
        fact = record["fact"]
        moment = datetime.fromisoformat(fact["time"])
        recorded = datetime.fromisoformat(record["recorded_at"])
        if recorded - moment > LATE_AFTER:
            want[("report.late", fact["subject"], (moment + LATE_AFTER).astimezone(UTC)
                  .isoformat())] += 1
        case = cases.setdefault(fact["subject"], {})
        kind = fact["type"].rsplit(".", 1)[-1]
        if kind == "accepted":
            case["due"] = due_at(moment, int(fact["data"]["promised_days"]))
        elif kind == "completed":
            case["done"] = moment
    for case_no, case in cases.items():
        due = case.get("due")
        if due is None:
            continue
        done = case.get("done")
        if (done is not None and done > due) or (done is None and due <= clock_end):
            want[("deadline.overdue", case_no, due.astimezone(UTC).isoformat())] += 1
    return want


def check(*, acknowledged: dict[str, int], planned: set[str], stored: Stored,
          kafka: OnKafka, views: dict[str, Any] | None, clock_end: datetime) -> Findings:
    out = Findings()
    acked = set(acknowledged)
    out.counts.update(acknowledged=len(acked), stored=sum(stored.facts.values()),
                      stored_distinct=len(stored.facts), on_kafka=sum(kafka.ids.values()),
                      on_kafka_distinct=len(kafka.ids),
                      judged=sum(stored.judged[i] for i in stored.facts))
    # -- the store
    out.problem("acknowledged but not stored", acked - set(stored.facts))
    out.problem("stored more than once", [i for i, n in stored.facts.items() if n > 1])
    out.problem("stored but never posted", set(stored.facts) - planned)
    # -- Kafka
    out.problem("stored but not on Kafka", set(stored.facts) - set(kafka.ids))
    out.problem("on Kafka but not stored", set(kafka.ids) - set(stored.facts))
    # -- judgements
    out.problem("stored but never judged", [i for i in stored.facts if stored.judged[i] == 0])
    out.problem("judged more than once by one watch",
                [i for i in stored.repeated if i in stored.facts])
    out.problem("recorded due time differs from the model",
                [f"{r['fact']['subject']}: {r['summary'].get('due_at')}"
                 for r in stored.by_id.values()
                 if r["fact"]["type"].endswith("case.accepted") and r["summary"].get("due_at")
                 and datetime.fromisoformat(r["summary"]["due_at"]) != due_at(
                     datetime.fromisoformat(r["fact"]["time"]),
                     int(r["fact"]["data"]["promised_days"]))])
    # -- tracking: never ahead of what was judged
    for partition, records in kafka.records.items():
        name = next((n for n in stored.tracking if n.endswith(f":{partition}")
                     and n != "alerts-relay"), None)
        position = stored.tracking.get(name, 0) if name else 0
        if position > kafka.ends[partition]:
            out.problem(f"partition {partition}: tracking {position} beyond the end "
                        f"{kafka.ends[partition]}")
        skipped = [f"p{partition}@{offset}:{i}" for offset, i in records
                   if offset < position and stored.judged[i] == 0]
        out.problem(f"partition {partition}: tracking at {position} past unjudged messages",
                    skipped)
    # -- alerts
    want = expected_alerts(stored, clock_end)
    found: Counter[tuple[str, str, str]] = Counter()
    every: Counter[tuple[str, str, str]] = Counter()
    for alert in stored.alerts.values():
        identity = (alert["rule"], alert["context"].get("case_no", alert["watch"]),
                    _utc(alert["raised_at"]))
        every[identity] += 1
        if alert["rule"] in MODELLED:
            found[identity] += 1
    out.counts.update(alerts_expected=sum(want.values()), alerts_found=sum(found.values()),
                      alerts_all=len(stored.alerts))
    out.problem("alert missing", sorted((want - found).elements()))
    out.problem("alert not called for by the model", sorted((found - want).elements()))
    out.problem("alert doubled", [k for k, n in every.items() if n > 1])
    # -- views
    if views is not None:
        events = views["events"]
        out.counts.update(in_views=sum(events.values()), in_views_distinct=len(events))
        out.problem("stored but not in the events view", set(stored.facts) - set(events))
        out.problem("in the events view but not stored", set(events) - set(stored.facts))
        out.problem("in the events view more than once", [i for i, n in events.items() if n > 1])
        rows = views["alerts"]
        out.counts.update(alerts_in_views=len(rows))
        out.problem("alert not in the alerts view", set(stored.alerts) - set(rows))
        out.problem("in the alerts view but not in the store", set(rows) - set(stored.alerts))
        out.problem("alert in the view more than once", [i for i, r in rows.items()
                                                         if r["rows"] > 1])
        out.problem("alert's status in the view is not its latest",
                    [f"{i}: {rows[i]['status']} != {a['status']}"
                     for i, a in stored.alerts.items() if i in rows
                     and rows[i]["status"] != a["status"]])
    return out
