"""Throughput of each stage, as a ratio of the raw limit of its own storage measured in
the same run on the same machine (so the numbers mean something on any machine).

    stage                        raw limit it is compared with
    intake (batch, SQLite)       INSERTs of the same number of rows of the same size, in
                                 transactions of the same size, into a plain SQLite table
    projection sink (chDB)       one INSERT of the same number of rows into a plain
                                 MergeTree table with the same columns
    supervision (SQLite)         the same raw SQLite limit as the intake

Run: ``make bench`` (or ``python bench/run.py --events 5000``). Prints a table and writes
``bench/results.json``. Ratios below TARGETS fail the run (exit 1).

Sizing: the seed city has ~30 departments, 206 service points and 947 matters; even
100,000 hall events a day is ~1 event/s on average and well under 100/s at a morning
peak. On the 2-core reference machine (2026-11-25), over repeated runs of one process:
intake 1,350-1,800 events/s (0.023-0.033 of raw SQLite), the sink 10,000-15,000/s
(0.17-0.24 of raw chDB inserts), supervision 1,230-1,700/s (0.020-0.031): each stage
has 10x or more headroom over that peak. Identical runs vary ~30% on this shared VM even
as ratios, so each target sits about half way below the lowest ratio seen: a real
(~2x) regression fails, machine noise does not.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services import system  # noqa: E402
from services.common.clickhouse import DATABASE, connect  # noqa: E402
from services.common.messages import Message, to_cloudevent  # noqa: E402
from services.common.settings import Settings  # noqa: E402
from services.intake.store import CHUNK, HallStore  # noqa: E402
from services.projections.views import Views  # noqa: E402

# Minimum acceptable fraction of the raw limit.
TARGETS = {"intake": 0.012, "projection_sink": 0.08, "supervision": 0.010}
START = datetime.fromisoformat("2026-11-02T09:00:00+08:00")


def events(count: int) -> list[dict[str, Any]]:
    """A realistic mix: acceptances, then a completion for every other case."""
    out = []
    cases = count * 2 // 3
    for n in range(cases):
        out.append({
            "specversion": "1.0", "id": f"b-{n}", "source": "/halls/H1",
            "type": "cn.gov.hall.case.accepted", "subject": f"BENCH-{n:07d}",
            "time": (START + timedelta(seconds=n)).isoformat(),
            "data": {"matter_code": "M0001", "matter_name": "不动产转移登记", "kind": "promised",
                     "promised_days": 5, "window_id": "W01", "staff_id": "S01",
                     "receipt_no": f"R-{n}",
                     "applicant": {"name": "张三", "id_number": "110101199001011234"}},
        })
    for n in range(count - cases):
        out.append({
            "specversion": "1.0", "id": f"c-{n}", "source": "/halls/H1",
            "type": "cn.gov.hall.case.completed", "subject": f"BENCH-{n:07d}",
            "time": (START + timedelta(days=2, seconds=n)).isoformat(),
            "data": {"result": "approved"},
        })
    return out


def timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def raw_sqlite(path: Path, rows: int, row_bytes: int) -> float:
    """Seconds to insert ``rows`` blobs of ``row_bytes`` in transactions of CHUNK rows."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER, state BLOB)")
    blob = os.urandom(row_bytes)

    def work() -> None:
        for start in range(0, rows, CHUNK):
            with db:
                db.executemany("INSERT INTO t VALUES (?,?,?)",
                               [(f"k{n}", n, blob) for n in range(start, min(rows, start + CHUNK))])
    seconds = timed(work)
    db.close()
    return seconds


def stored_bytes(store: HallStore) -> tuple[int, int]:
    rows = store.recorder.select_notifications(1, 1_000_000)
    return len(rows), sum(len(r.state) for r in rows) // max(1, len(rows))


def best(measure: Any, repeats: int) -> Any:
    """The best of ``repeats`` runs of ``measure`` (throughput: noise only slows)."""
    runs = [measure(n) for n in range(repeats)]
    return tuple(max(values) for values in zip(*runs, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    clock_now = START + timedelta(days=3)
    results: dict[str, dict[str, float]] = {}
    batch = events(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        def intake(n: int) -> tuple[float, float]:
            settings = Settings(data_dir=Path(tmp) / f"intake-{n}", cipher_key="")
            store = system.hall_store(settings, lambda: clock_now)
            took = timed(lambda: store.record_batch(batch, "H1"))
            rows, size = stored_bytes(store)
            store.close()
            raw = raw_sqlite(Path(tmp) / f"raw-{n}.db", rows, size)
            return args.events / took, rows / raw

        per_s, raw_per_s = best(intake, args.repeats)
        results["intake"] = {"events_per_s": per_s, "raw_rows_per_s": raw_per_s,
                             "ratio": per_s / raw_per_s}

        settings = Settings(data_dir=Path(tmp) / "intake-0", cipher_key="")
        store = system.hall_store(settings, lambda: clock_now)
        published = [m for n in store.recorder.select_notifications(1, 1_000_000)
                     if (m := to_cloudevent(store, n)) is not None]
        messages = [Message("log", 0, ce["hwposition"], ce["subject"], ce) for ce in published]
        client = connect(f"chdb:///{Path(tmp) / 'chdb'}")

        def sink(n: int) -> tuple[float, float]:
            for table in ("events", "cases", "alerts", "offsets"):
                client.command(f"DROP TABLE IF EXISTS {DATABASE}.{table}")
            views = Views(client)
            took = timed(lambda: views.write(messages))
            client.command(f"DROP TABLE IF EXISTS {DATABASE}.raw_events")
            client.command(f"CREATE TABLE {DATABASE}.raw_events AS {DATABASE}.events "
                           "ENGINE = MergeTree ORDER BY (subject, position)")
            result = client.query(f"SELECT * FROM {DATABASE}.events")
            rows = result.result_rows
            raw = timed(lambda: client.insert(f"{DATABASE}.raw_events", rows,
                                              column_names=result.column_names))
            return len(messages) / took, len(rows) / raw

        per_s, raw_per_s = best(sink, args.repeats)
        results["projection_sink"] = {"events_per_s": per_s, "raw_rows_per_s": raw_per_s,
                                      "ratio": per_s / raw_per_s}
        client.close()

        def supervise(n: int) -> tuple[float]:
            judge = Settings(data_dir=Path(tmp) / f"supervision-{n}", cipher_key="")
            supervision = system.judge(judge, lambda: clock_now)
            took = timed(lambda: [supervision.handle(messages[i:i + 1000])
                                  for i in range(0, len(messages), 1000)])
            supervision.close()
            return (len(messages) / took,)

        (per_s,) = best(supervise, args.repeats)
        raw_per_s = results["intake"]["raw_rows_per_s"]
        results["supervision"] = {"events_per_s": per_s, "raw_rows_per_s": raw_per_s,
                                  "ratio": per_s / raw_per_s}
        store.close()

    print(f"{'stage':<18}{'events/s':>12}{'raw rows/s':>14}{'ratio':>9}{'target':>9}")
    failed = False
    for stage, r in results.items():
        ok = r["ratio"] >= TARGETS[stage]
        failed |= not ok
        print(f"{stage:<18}{r['events_per_s']:>12,.0f}{r['raw_rows_per_s']:>14,.0f}"
              f"{r['ratio']:>9.3f}{TARGETS[stage]:>9.3f}{'' if ok else '  BELOW TARGET'}")
    (ROOT / "bench" / "results.json").write_text(json.dumps(
        {"events": args.events, "results": results, "targets": TARGETS}, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
