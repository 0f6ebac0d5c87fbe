"""How long a monthly bulletin takes over views holding ``--events`` hall events (default
10,000,000; issue 12's aim: ≤ 2 s).

Filling ten million events through the sink would take half an hour on this box, and the
fill is not what is measured: the rows are generated inside ClickHouse instead (``INSERT …
SELECT … FROM numbers(N)``), shaped as the sink writes them — the ``events`` view with each
event's published CloudEvent (its data and the case summary it carries, ~1.2 KB), the
``cases`` view (one row per case, its summary JSON), and ``alerts`` with their histories.
Five events per case (accepted, materials supplemented, completed, delivered, rated; a
tenth of the cases stay open and get staff, complaint and inquiry events instead), over
``--halls`` halls of 8 windows, accepted evenly over the five months before the bulletin's
(July–November 2026), a fifth of the cases with an alert. Every figure query of the
bulletin then reads real rows of the real schema.

Then ``Bulletins.bulletin(2026-11, scope)`` — what ``GET /v1/bulletins/2026-11`` and
``hallwatch bulletin`` compute: the month, the month before (环比), a year before (同比)
and the six-month trend, each three figure queries — is timed ``--reps`` times per scope.

Run: ``python bench/bulletin.py --events 10000000 --data-dir DIR`` (the fill is kept in
DIR and reused by the next run; ``--out FILE`` writes JSON). ``run()`` is the entry point
for a harness. A benchmark, not a test: exit status 0 either way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import workdir  # noqa: E402
from hallwatch.calendar import CHINA_TZ  # noqa: E402
from services.common.clickhouse import DATABASE, connect  # noqa: E402
from services.projections.bulletin import Bulletins  # noqa: E402
from services.projections.periods import parse  # noqa: E402
from services.projections.views import Views  # noqa: E402

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=CHINA_TZ)
PERIOD = "2026-11"
TARGET_SECONDS = 2.0
EVENTS_PER_CASE = 5
FIRST = "toDateTime64('2026-07-01 08:00:00', 3, 'Asia/Shanghai')"
SPAN_SECONDS = 152 * 86400  # July to November
BLOCK = 1_000_000  # events generated per INSERT (bounded memory)

# Per case c (of {cases}): its hall, window, staff, matter, kind and moments. Used as a
# WITH prefix by each fill statement, over `c`.
CASE = f"""
  concat('H', leftPad(toString(c % {{halls}}), 2, '0')) AS hall,
  concat(hall, '-2026-', leftPad(toString(c), 9, '0')) AS case_no,
  concat(hall, '-W0', toString(intDiv(c, {{halls}}) % 8)) AS win,
  concat(win, '-S', toString(intDiv(c, {{halls}} * 8) % 3)) AS staff,
  concat('M', leftPad(toString(c % 120), 4, '0')) AS matter,
  c % 10 < 7 AS immediate, c % 10 = 0 AS open,
  if(immediate, 0, 1 + c % 15) AS days,
  addSeconds({FIRST}, intDiv(c * {SPAN_SECONDS}, {{cases}})) AS accepted,
  if(immediate, toStartOfDay(accepted, 'Asia/Shanghai') + toIntervalHour(17),
     addSeconds(accepted, days * 120960)) AS due,
  if(immediate, NULL, addSeconds(due, -86400)) AS yellow,
  if(open, NULL, addSeconds(accepted, if(c % 13 = 0, days * 140000 + 7200,
                                        (1 + c % 7) * 1800 + days * 60000))) AS closed,
  if(open, 'accepted', 'delivered') AS status,
  formatDateTime(accepted, '%Y-%m-%dT%H:%i:%S+08:00', 'Asia/Shanghai') AS accepted_text,
  formatDateTime(due, '%Y-%m-%dT%H:%i:%S+08:00', 'Asia/Shanghai') AS due_text,
  if(closed IS NULL, 'null', concat('"', formatDateTime(assumeNotNull(closed),
     '%Y-%m-%dT%H:%i:%S+08:00', 'Asia/Shanghai'), '"')) AS closed_json,
  concat('{{"case_no":"', case_no, '","hall_id":"', hall, '","status":"', status,
         '","matter_code":"', matter, '","matter_name":"不动产登记（转移登记）","kind":"',
         if(immediate, 'immediate', 'promised'), '","promised_days":',
         if(immediate, 'null', toString(days)), ',"accepted_at":"', accepted_text,
         '","window_id":"', win, '","staff_id":"', staff, '","receipt_no":"R-', toString(c),
         '","deadline":{{"due_at":"', due_text, '","yellow_at":',
         if(immediate, 'null', concat('"', due_text, '"')),
         ',"provisional":false,"calendar":["2026"],"immediate":',
         if(immediate, 'true', 'false'), ',"steps":[{{"kind":"base","event":"case.accepted",',
         '"from":"', toString(toDate(accepted, 'Asia/Shanghai')), '","working_days":',
         toString(days), '}}]}},"due_at":"', due_text,
         '","yellow_at":', if(immediate, 'null', concat('"', due_text, '"')),
         ',"provisional":false,"supplement_due_at":null,"supplement_pending":false,',
         '"supplement_provisional":false,"supplement_days":', toString(c % 17 = 0),
         ',"supplement_calendar":[],"suspended_since":null,"closed_at":', closed_json,
         ',"notice_materials":[],"rating":', if(open, 'null', toString(1 + c % 5)),
         ',"rating_bad_open":false,"extensions":0,"working_days_used":',
         if(open OR immediate, 'null', toString(1 + c % (days + 1))),
         ',"office_hours":"in","last_event_at":', closed_json, ',"missed_due_at":null}}')
    AS summary
"""

EVENTS = f"""
INSERT INTO {DATABASE}.events
WITH intDiv(n, {EVENTS_PER_CASE}) AS c, n % {EVENTS_PER_CASE} AS i, {CASE},
  if(open, ['case.accepted', 'case.materials_supplemented', 'post.absence_noticed',
            'complaint.received', 'inquiry.recorded'],
           ['case.accepted', 'case.materials_supplemented', 'case.completed',
            'case.delivered', 'case.rated'])[i + 1] AS type,
  startsWith(type, 'case.') AS of_case,
  addSeconds(accepted, if(i = 0 OR closed IS NULL, i * 600,
                          intDiv(i * dateDiff('second', accepted, assumeNotNull(closed)), 3)))
    AS at,
  formatDateTime(at, '%Y-%m-%dT%H:%i:%S.000+08:00', 'Asia/Shanghai') AS at_text,
  concat('bench-', toString(n)) AS id
SELECT id, hall, type, if(of_case, case_no, win), at, at, n + 1, i + 1, win, staff, 'in',
  lower(hex(SHA256(id))),
  concat('{{"specversion":"1.0","id":"', id, '","source":"/halls/', hall,
         '","type":"cn.gov.hall.', type, '","subject":"', if(of_case, case_no, win),
         '","time":"', at_text, '","datacontenttype":"application/json",',
         '"data":{{"window_id":"', win, '","staff_id":"', staff, '","satisfaction":',
         toString(1 + c % 5), ',"complaint_no":"C-', toString(c),
         '","category":"non_compliant","reason":"材料齐全，当场办结"}},"hwposition":',
         toString(n + 1), ',"hwsequence":', toString(i + 1), ',"hwrecordedtime":"',
         at_text, '"', if(of_case, concat(',"hwcase":', toJSONString(summary)), ''),
         ',"hwchain":"', lower(hex(SHA256(id))), '","partitionkey":"', case_no, '"}}')
FROM (SELECT number AS n FROM numbers({{first}}, {{count}}))
"""

CASES = f"""
INSERT INTO {DATABASE}.cases (case_no, hall_id, matter_code, matter_name, kind, status,
  accepted_at, due_at, yellow_at, closed_at, provisional, window_id, staff_id,
  promised_days, summary, version, position, suspended_since)
WITH {CASE}
SELECT case_no, hall, matter, '不动产登记（转移登记）', if(immediate, 'immediate', 'promised'),
  status, accepted, due, yellow, closed, false, win, staff,
  if(immediate, NULL, days), summary, {EVENTS_PER_CASE}, (c + 1) * {EVENTS_PER_CASE}, NULL
FROM (SELECT number AS c FROM numbers({{cases}}))
"""

ALERTS = f"""
INSERT INTO {DATABASE}.alerts
WITH {CASE}, concat('A-', toString(c)) AS alert,
  if(c % 2 = 0, 'deadline.warning', 'deadline.overdue') AS rule,
  formatDateTime(due, '%Y-%m-%dT%H:%i:%S+08:00', 'Asia/Shanghai') AS raised_text
SELECT alert, rule, if(rule = 'deadline.warning', 'yellow', 'red'),
  if(open, 'raised', 'resolved'), hall, case_no, win, staff, due, due, NULL,
  concat('{{"alert_id":"', alert, '","rule":"', rule, '","status":"',
         if(open, 'raised', 'resolved'), '","hall_id":"', hall, '","case_no":"', case_no,
         '","history":[{{"status":"raised","at":"', raised_text, '"}},',
         '{{"status":"noticed","at":"', raised_text, '"}}]}}'), 2
FROM (SELECT number * 5 AS c FROM numbers(intDiv({{cases}}, 5)))
"""


def fill(client: Any, events: int, halls: int, log: Callable[[str], None]) -> float:
    """Generate ``events`` events (and their cases and alerts) in ClickHouse; seconds."""
    cases = events // EVENTS_PER_CASE
    started = time.perf_counter()
    sizes = {"halls": str(halls), "cases": str(cases)}

    def sql(text: str, **more: int) -> str:
        for name, value in {**sizes, **{k: str(v) for k, v in more.items()}}.items():
            text = text.replace("{" + name + "}", value)
        return text
    for first in range(0, events, BLOCK):
        client.command(sql(EVENTS, first=first, count=min(BLOCK, events - first)))
        log(f"  {min(first + BLOCK, events):,} events")
    client.command(sql(CASES))
    client.command(sql(ALERTS))
    return time.perf_counter() - started


def run(events: int = 10_000_000, halls: int = 30, reps: int = 3,
        scopes: tuple[str, ...] = ("hall", "staff"), data_dir: Path | None = None,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    with workdir(data_dir, "hallwatch-bench-bulletin-") as directory:
        views = Views(connect(f"chdb:///{directory / 'chdb'}"))
        client = views.client
        held = int(client.query(f"SELECT count() FROM {DATABASE}.events").result_rows[0][0])
        fill_seconds = None
        if held == 0:
            log(f"generating {events:,} events in ClickHouse...")
            fill_seconds = fill(client, events, halls, log)
            log(f"generated in {fill_seconds:.0f} s")
        elif held != events:
            raise SystemExit(f"{directory} holds {held:,} events, not {events:,}: "
                             "use another --data-dir")
        # Months-old rows are merged; fresh ones are still being merged in the background,
        # which takes the cores the bulletin would use. Time it on settled views.
        settled = time.perf_counter()
        while time.perf_counter() - settled < 600 and int(client.query(
                f"SELECT count() FROM system.merges WHERE database = '{DATABASE}'"
        ).result_rows[0][0]):
            time.sleep(1)
        merging_seconds = round(time.perf_counter() - settled, 1)
        counts = {table: int(client.query(
            f"SELECT count() FROM {DATABASE}.{table}").result_rows[0][0])
            for table in ("events", "cases", "alerts")}
        in_month = int(client.query(
            f"SELECT count() FROM {DATABASE}.events WHERE toYYYYMM(time) = 202611"
        ).result_rows[0][0])
        bulletins = Bulletins(client)
        period = parse(PERIOD)
        timings: dict[str, list[float]] = {}
        checks: dict[str, Any] = {}
        for scope in scopes:
            timings[scope] = []
            for _ in range(reps):
                started = time.perf_counter()
                report = bulletins.bulletin(period, scope, NOW)
                timings[scope].append(round(time.perf_counter() - started, 3))
            checks[scope] = {"rows": len(report["rows"]),
                             "accepted": report["totals"]["accepted"],
                             "decided": report["totals"]["decided"],
                             "on_time_rate": report["totals"]["on_time_rate"]}
        client.close()
        return {"events": counts["events"], "cases": counts["cases"],
                "alerts": counts["alerts"], "events_in_month": in_month, "halls": halls,
                "period": PERIOD, "now": NOW.isoformat(), "fill_seconds": fill_seconds,
                "waited_for_merges_s": merging_seconds,
                "disk_bytes": sum(f.stat().st_size for f in directory.rglob("*")
                                  if f.is_file()),
                "target_seconds": TARGET_SECONDS, "seconds": timings, "bulletins": checks,
                "load_average": list(os.getloadavg()), "cpus": os.cpu_count()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--halls", type=int, default=30)
    parser.add_argument("--reps", type=int, default=3, help="bulletins per scope")
    parser.add_argument("--scopes", default="hall,staff")
    parser.add_argument("--data-dir", type=Path, help="keep (or reuse) the filled views here")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    results = run(args.events, args.halls, args.reps, tuple(args.scopes.split(",")),
                  args.data_dir)
    print(f"\n{results['events']:,} events ({results['events_in_month']:,} in "
          f"{results['period']}), {results['cases']:,} cases, {results['alerts']:,} alerts")
    for scope, seconds in results["seconds"].items():
        best = min(seconds)
        verdict = "ok" if best <= TARGET_SECONDS else f"> {TARGET_SECONDS:g} s"
        print(f"monthly bulletin per {scope}: {', '.join(f'{s:.2f}' for s in seconds)} s "
              f"(best {best:.2f} s)  {verdict}  {results['bulletins'][scope]}")
    print("load average {:.1f} {:.1f} {:.1f} on {} CPUs".format(*results["load_average"],
                                                                results["cpus"]))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
