"""Read latency of the live views at a city's scale: p50/p95/p99 of ``GET /v1/halls``,
``GET /v1/halls/{hall}/windows`` and ``GET /v1/cases?…`` (filtered pages, followed by their
cursor) over ClickHouse views holding ``--cases`` cases (default 1,000,000).

The views are filled through the real sink (``Views.write``, the projection service's
writer) with published CloudEvents as the relay makes them: one event per case carrying
the case's latest summary (open cases their acceptance, closed ones their completion; the
events view so holds one row per case), over ``--halls`` halls of ``--windows`` windows,
accepted over the 60 days before the moment of reading, plus an open alert for every red
case. The requests go through the real HTTP routes (FastAPI, the bureau's key) in this
process, so the figures include routing, validation and JSON, not a network.

Run: ``python bench/views.py --cases 1000000`` (``--data-dir DIR`` keeps the filled views
for the next run, which then skips the fill; ``--out FILE`` writes the results as JSON).
The issue's target is p99 ≤ 50 ms on 1M cases; the run prints each route's figures and
whether it meets it (a benchmark, not a test: exit status 0 either way).

``run()`` is the entry point for ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from bench.common import workdir  # noqa: E402
from hallwatch.calendar import CHINA_TZ  # noqa: E402
from hallwatch.summary import CaseSummary  # noqa: E402
from services.common import logs  # noqa: E402
from services.common.auth import Keyring  # noqa: E402
from services.common.clickhouse import DATABASE, connect  # noqa: E402
from services.common.messages import Message  # noqa: E402
from services.common.settings import parse_keys  # noqa: E402
from services.common.web import create_app  # noqa: E402
from services.projections import live_api  # noqa: E402
from services.projections.views import Views  # noqa: E402

NOW = datetime(2026, 11, 30, 10, 30, tzinfo=CHINA_TZ)  # a Monday morning
KEY = "bench-bureau-key-000001"
TARGET_P99_MS = 50.0
BATCH = 20_000
MATTERS = 120


def _summary(n: int, halls: int, windows: int, rng: random.Random) -> CaseSummary:
    hall = f"H{n % halls:02d}"
    window = f"{hall}-W{rng.randrange(windows):02d}"
    accepted = NOW - timedelta(days=rng.uniform(0, 60))
    immediate = rng.random() < 0.7  # most of a city's matters are on-the-spot
    days = 0 if immediate else rng.randint(1, 20)
    # Working days are ~5/7 of calendar days; deadlines here need only be realistic.
    due = accepted + timedelta(days=days * 7 / 5) if days else accepted.replace(
        hour=17, minute=0)
    closed = None
    if rng.random() < 0.9 or due < NOW - timedelta(days=10):
        closed = min(NOW, accepted + timedelta(hours=rng.uniform(0.2, 1 + days * 30)))
    status = "completed" if closed else ("suspended" if rng.random() < 0.02 else "accepted")
    return CaseSummary(
        case_no=f"{hall}-2026-{n:08d}", hall_id=hall, status=status,
        matter_code=f"M{rng.randrange(MATTERS):04d}", matter_name="事项",
        kind="immediate" if immediate else "promised", promised_days=days or None,
        accepted_at=accepted, window_id=window, staff_id=f"{window}-S{rng.randrange(2)}",
        receipt_no=f"R-{n}", due_at=due,
        yellow_at=due - timedelta(days=1) if days else None, closed_at=closed,
        working_days_used=max(1, round((closed - accepted).days * 5 / 7)) if closed and days
        else None, office_hours="in", last_event_at=closed or accepted)


def _messages(count: int, halls: int, windows: int, seed: int
              ) -> Iterator[list[Message]]:
    rng = random.Random(seed)
    batch: list[Message] = []
    alert_no = 0
    for n in range(count):
        case = _summary(n, halls, windows, rng)
        kind = "case.completed" if case.closed_at else "case.accepted"
        moment = case.closed_at or case.accepted_at
        assert moment is not None
        value = {
            "specversion": "1.0", "id": f"bench-{n}", "source": f"/halls/{case.hall_id}",
            "type": f"cn.gov.hall.{kind}", "subject": case.case_no,
            "time": moment.isoformat(), "data": {"window_id": case.window_id,
                                                 "staff_id": case.staff_id},
            "hwposition": n + 1, "hwsequence": 2 if case.closed_at else 1,
            "hwrecordedtime": moment.isoformat(),
            "hwcase": json.dumps(case.as_dict(), ensure_ascii=False, sort_keys=True),
            "partitionkey": case.case_no,
        }
        batch.append(Message("log", 0, n + 1, case.case_no, value))
        if case.status == "accepted" and case.due_at is not None and case.due_at < NOW:
            alert_no += 1
            batch.append(Message("alerts", 0, alert_no, case.case_no, {
                "alert_id": f"A-{alert_no}", "rule": "deadline.overdue", "severity": "red",
                "status": "raised", "hall_id": case.hall_id, "case_no": case.case_no,
                "window_id": case.window_id, "staff_id": case.staff_id,
                "raised_at": case.due_at.isoformat(), "updated_at": case.due_at.isoformat(),
                "notice_due_at": None, "version": 1, "position": alert_no}))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def fill(views: Views, cases: int, halls: int, windows: int, seed: int = 1,
         progress: Callable[[int], None] | None = None) -> float:
    """Write ``cases`` cases through the sink; returns the seconds it took."""
    started = time.perf_counter()
    done = 0
    for batch in _messages(cases, halls, windows, seed):
        views.write(batch)
        before, done = done, done + sum(1 for m in batch if not m.is_alert)
        if progress and before // 100_000 != done // 100_000:
            progress(done)
    return time.perf_counter() - started


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"n": len(ordered), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "max_ms": round(ordered[-1] * 1000, 2)}


def measure(client: TestClient, halls: int, windows: int, reps: int, seed: int = 2
            ) -> dict[str, dict[str, float]]:
    """Each route's latency over ``reps`` requests with varying parameters."""
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {KEY}"}

    def get(path: str, **params: Any) -> tuple[float, dict[str, Any]]:
        started = time.perf_counter()
        response = client.get(path, params=params, headers=headers)
        took = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{path} {params}: {response.status_code} {response.text}")
        return took, response.json()

    timings: dict[str, list[float]] = {"GET /v1/halls": [],
                                       "GET /v1/halls/{hall}/windows": [],
                                       "GET /v1/cases (filtered, first page)": [],
                                       "GET /v1/cases (next pages by cursor)": []}
    get("/v1/halls")  # warm-up: the first query loads the parts' marks
    for _ in range(reps):
        hall = f"H{rng.randrange(halls):02d}"
        timings["GET /v1/halls"].append(get("/v1/halls")[0])
        timings["GET /v1/halls/{hall}/windows"].append(
            get(f"/v1/halls/{hall}/windows")[0])
        filters = rng.choice([
            {"hall": hall, "light": "red"},
            {"hall": hall, "status": "accepted"},
            {"hall": hall, "window": f"{hall}-W{rng.randrange(windows):02d}"},
            {"matter": f"M{rng.randrange(MATTERS):04d}", "status": "completed"},
            {"hall": hall},
        ])
        took, page = get("/v1/cases", limit=100, **filters)
        timings["GET /v1/cases (filtered, first page)"].append(took)
        for _ in range(3):
            if not page["next"]:
                break
            took, page = get("/v1/cases", limit=100, cursor=page["next"], **filters)
            timings["GET /v1/cases (next pages by cursor)"].append(took)
    return {route: _percentiles(samples) for route, samples in timings.items() if samples}


def run(cases: int = 1_000_000, halls: int = 30, windows: int = 8, reps: int = 200,
        data_dir: Path | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fill (unless ``data_dir`` already holds ``cases`` cases) and measure; the results
    as a JSON-ready dict."""
    with workdir(data_dir, "hallwatch-bench-views-") as directory:
        views = Views(connect(f"chdb:///{directory / 'chdb'}"))
        present = int(views.client.query(
            f"SELECT count() FROM {DATABASE}.cases").result_rows[0][0])
        fill_seconds = None
        if present < cases:
            if present:
                raise SystemExit(f"{directory} holds {present} cases, fewer than {cases}: "
                                 "use another --data-dir")
            log(f"filling {cases:,} cases through the sink...")
            fill_seconds = fill(views, cases, halls, windows,
                                progress=lambda done: log(f"  {done:,} cases"))
            log(f"filled in {fill_seconds:.0f} s ({cases / fill_seconds:,.0f} cases/s)")
        held = int(views.client.query(
            f"SELECT count() FROM {DATABASE}.cases FINAL").result_rows[0][0])
        app = create_app(live_api.router(views, Keyring(parse_keys(f"bureau:bench:{KEY}")),
                                         lambda: NOW))
        with TestClient(app) as client:
            routes = measure(client, halls, windows, reps)
        # The floor under every figure on this machine now: a trivial query's round trip
        # (on a shared machine it moves with the load, and every route with it).
        floor = []
        for _ in range(reps):
            started = time.perf_counter()
            views.client.query("SELECT 1")
            floor.append(time.perf_counter() - started)
        views.client.close()
        return {"cases": held, "halls": halls, "windows_per_hall": windows, "reps": reps,
                "now": NOW.isoformat(), "fill_seconds": fill_seconds,
                "target_p99_ms": TARGET_P99_MS, "routes": routes,
                "select_1": _percentiles(floor), "load_average": list(os.getloadavg()),
                "cpus": os.cpu_count()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--halls", type=int, default=30)
    parser.add_argument("--windows", type=int, default=8, help="windows per hall")
    parser.add_argument("--reps", type=int, default=200, help="requests per route")
    parser.add_argument("--data-dir", type=Path, help="keep (or reuse) the filled views here")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    logs.configure("WARNING")  # no access line per request
    results = run(args.cases, args.halls, args.windows, args.reps, args.data_dir)
    print(f"\n{results['cases']:,} cases, {results['halls']} halls × "
          f"{results['windows_per_hall']} windows, {results['reps']} requests per route")
    print(f"{'route':42} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for route, r in results["routes"].items():
        verdict = "ok" if r["p99_ms"] <= TARGET_P99_MS else f"> {TARGET_P99_MS:g} ms"
        print(f"{route:42} {r['n']:>5} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8} "
              f"{r['max_ms']:>8}  {verdict}")
    floor = results["select_1"]
    print(f"{'(floor: SELECT 1 through the same client)':42} {floor['n']:>5} "
          f"{floor['p50_ms']:>8} {floor['p95_ms']:>8} {floor['p99_ms']:>8} "
          f"{floor['max_ms']:>8}")
    print("load average {:.1f} {:.1f} {:.1f} on {} CPUs".format(*results["load_average"],
                                                                results["cpus"]))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
