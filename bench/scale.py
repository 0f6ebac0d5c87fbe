"""Open-case scale probe: the embedded system (what ``hallwatch serve`` runs without Kafka)
with N open cases, all due at the same moment.

1. Load: N ``case.accepted`` events through the intake's batch path (``record_batch``, as
   ``POST /v1/events:batch`` calls it, 1,000 to a batch) while supervision and projections
   follow in their own threads, as in ``serve``; wait until both have caught up.
2. Reads: ``GET /v1/cases/{no}`` (bureau key, in-process ASGI client) for a sample of
   cases: p50 and p99.
3. Start-up: close and re-open the whole system; the time, and how much the supervision
   index read (rows of its checkpoint, notifications replayed after it).
4. Storm: the clock jumps past every deadline at once (N watches due, a warning and an
   overdue alert each); a new event is posted once the storm is under way and the time
   until supervision has judged it is measured; alerts/s over the storm.
5. Reads again, with the alerts in place; RSS throughout.

Run: ``python bench/scale.py --cases 100000`` (default 1,000,000). Prints JSON; ``--out``
writes it to a file. :func:`measure` is the same for a harness.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from services import system  # noqa: E402
from services.common.auth import Keyring  # noqa: E402
from services.common.settings import Settings  # noqa: E402
from services.common.web import create_app  # noqa: E402

START = datetime.fromisoformat("2026-11-02T08:00:00+08:00")  # a Monday
LOADED = datetime.fromisoformat("2026-11-02T12:00:00+08:00")  # after the last acceptance
STORM = datetime.fromisoformat("2026-11-20T09:00:00+08:00")  # every deadline passed
BUREAU_KEY = "bureau-scale-probe-key"
KEYS = f"bureau:bureau:{BUREAU_KEY}"
BATCH = 1000


class Clock:
    """The probe's clock: moved by hand, like the tests' fixed clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def accepted(n: int, at: datetime) -> dict[str, Any]:
    return {
        "specversion": "1.0", "id": f"scale-{n}", "source": "/halls/H1",
        "type": "cn.gov.hall.case.accepted", "subject": f"SCALE-{n:07d}",
        "time": at.isoformat(),
        "data": {"matter_code": "M0001", "matter_name": "不动产转移登记", "kind": "promised",
                 "promised_days": 5, "window_id": "W01", "staff_id": "S01",
                 "receipt_no": f"R-{n}",
                 "applicant": {"name": "张三", "id_number": "110101199001011234"}},
    }


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def wait_until(done: Callable[[], bool], limit: float, what: str) -> float:
    started = time.perf_counter()
    while not done():
        if time.perf_counter() - started > limit:
            raise TimeoutError(f"{what}: not within {limit:.0f} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def caught_up(sys_: system.System) -> bool:
    """Supervision has judged the whole hall log; projections have written it and every
    alert recorded so far."""
    assert sys_.intake and sys_.supervision and sys_.projections
    head = sys_.intake.store.recorder.max_notification_id() or 0
    judged = getattr(sys_.supervision.source, "position", 0)
    alerts_head = sys_.supervision.app.recorder.max_notification_id() or 0
    hall, alerts = sys_.projections.sources[0], sys_.projections.sources[-1]
    return (judged >= head and getattr(hall, "position", 0) >= head
            and getattr(alerts, "position", 0) >= alerts_head)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            "n": len(ordered)}


def case_reads(sys_: system.System, settings: Settings, cases: int, samples: int,
               expect_findings: bool) -> dict[str, float]:
    client = TestClient(create_app(*sys_.routers, keys=Keyring(settings.key_specs)))
    headers = {"Authorization": f"Bearer {BUREAU_KEY}"}
    took = []
    for n in random.Random(7).sample(range(cases), min(samples, cases)):
        started = time.perf_counter()
        response = client.get(f"/v1/cases/SCALE-{n:07d}", headers=headers)
        took.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        assert bool(response.json()["findings"]) == expect_findings, response.text
    return percentiles(took)


def open_system(settings: Settings, clock: Clock) -> tuple[system.System, float]:
    started = time.perf_counter()
    sys_ = system.embedded(settings, clock)
    took = time.perf_counter() - started
    sys_.start()
    return sys_, took


def measure(cases: int, data_dir: Path, samples: int = 500,
            storm_limit: float = 3600.0, log: Callable[[str], None] = print
            ) -> dict[str, Any]:
    """Run the probe on ``cases`` open cases in ``data_dir``; returns the figures."""
    settings = Settings(data_dir=data_dir, keys=KEYS, cipher_key="")
    clock = Clock(LOADED)
    out: dict[str, Any] = {"cases": cases, "rss_mb": {"start": round(rss_mb())}}
    sys_, _ = open_system(settings, clock)
    assert sys_.intake and sys_.supervision
    # 1. load
    step = (LOADED - START - timedelta(minutes=5)) / cases  # all on one day: one due moment
    started = time.perf_counter()
    for first in range(0, cases, BATCH):
        batch = [accepted(n, START + step * n) for n in range(first, min(cases, first + BATCH))]
        refused = [r for r in sys_.intake.store.record_batch(batch, "H1")
                   if isinstance(r, Exception)]
        assert not refused, refused[:3]
        if first // BATCH % 100 == 0:
            log(f"loaded {first + len(batch):,} ({time.perf_counter() - started:.0f} s, "
                f"RSS {rss_mb():.0f} MB)")
    recorded = time.perf_counter() - started
    wait_until(lambda: caught_up(sys_), 7200, "supervision and projections catching up")
    loaded = time.perf_counter() - started
    timers = sys_.supervision.app.timer_count()
    out["load"] = {"recorded_s": round(recorded, 1), "intake_events_per_s": round(cases / recorded),
                   "all_caught_up_s": round(loaded, 1),
                   "end_to_end_events_per_s": round(cases / loaded), "open_timers": timers}
    out["rss_mb"]["loaded"] = round(rss_mb())
    out["disk_bytes_per_case"] = round(sum(
        f.stat().st_size for f in data_dir.rglob("*") if f.is_file()) / cases)
    log(f"load: {out['load']} RSS {out['rss_mb']}")
    # 2. reads, no alerts yet
    out["case_read_before_storm"] = case_reads(sys_, settings, cases, samples, False)
    log(f"reads: {out['case_read_before_storm']}")
    # 3. start-up
    sys_.close()
    sys_, took = open_system(settings, clock)
    assert sys_.supervision and sys_.intake
    rows, replayed = sys_.supervision.app.restored
    out["start_up"] = {"seconds": round(took, 2), "index_rows_read": rows,
                       "log_notifications_replayed": replayed,
                       "timers_after": sys_.supervision.app.timer_count()}
    out["rss_mb"]["restarted"] = round(rss_mb())
    log(f"start-up: {out['start_up']} RSS {out['rss_mb']}")
    assert out["start_up"]["timers_after"] == timers
    # 4. the storm
    app = sys_.supervision.app
    before = app.recorder.max_notification_id() or 0
    clock.now = STORM
    storm_started = time.perf_counter()
    sys_.supervision.app.written.notify()  # wake the judge now rather than at its poll
    wait_until(lambda: (app.recorder.max_notification_id() or 0) > before, 60, "storm start")
    time.sleep(1.0)  # well under way
    posted = time.perf_counter()
    result = sys_.intake.store.record(accepted(cases + 1, STORM - timedelta(minutes=1)), "H1")
    position = sys_.intake.store.recorder.max_notification_id() or 0
    source = sys_.supervision.source
    wait_until(lambda: getattr(source, "position", 0) >= position, 600,
               "the new event judged")
    judged_in = time.perf_counter() - posted  # from before it was recorded
    log(f"storm: the new event judged {judged_in:.3f} s after it was posted")
    stored_then = (app.recorder.max_notification_id() or 0) - before

    def drained_() -> bool:
        due = app.next_due()
        return (due is None or due > STORM) and not app.backlog

    try:
        drained = wait_until(drained_, storm_limit, "the storm drained")
    except TimeoutError:  # a bounded run: the rate so far
        drained = float("nan")
    storm_s = time.perf_counter() - storm_started
    alerts = (app.recorder.max_notification_id() or 0) - before
    fired = timers - app.timer_count()  # each fired watch's last timer was its deadline
    out["storm"] = {"timers": timers, "seconds": round(storm_s, 1),
                    "drained": drained == drained,
                    "stored_events_per_s": round(alerts / storm_s),
                    "watches_fired": fired, "watches_fired_per_s": round(fired / storm_s),
                    "new_event_judged_after_s": round(judged_in, 3),
                    "stored_events_when_it_was_judged": stored_then,
                    "drain_after_event_s": round(drained, 1), "event": str(result)[:60]}
    out["rss_mb"]["storm"] = round(rss_mb())
    log(f"storm: {out['storm']} RSS {out['rss_mb']}")
    if drained != drained:
        sys_.close()
        return out
    wait_until(lambda: caught_up(sys_), 3600, "alerts projected")
    # 5. reads with the alerts
    out["case_read_after_storm"] = case_reads(sys_, settings, cases, samples, True)
    out["rss_mb"]["end"] = round(rss_mb())
    out["rss_mb"]["peak"] = round(peak_rss_mb())
    log(f"reads: {out['case_read_after_storm']} RSS {out['rss_mb']}")
    sys_.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=500, help="case reads sampled")
    parser.add_argument("--dir", default="", help="data directory (default: a temporary one)")
    parser.add_argument("--out", default="", help="also write the figures (JSON) here")
    parser.add_argument("--storm-seconds", type=float, default=3600.0,
                        help="stop the storm after this long and report its rate so far")
    args = parser.parse_args()
    # A loop thread may still be finishing a write as the system closes: never let the
    # clean-up of the scratch directory lose the figures.
    with tempfile.TemporaryDirectory(dir=args.dir or None, ignore_cleanup_errors=True) as tmp:
        figures = measure(args.cases, Path(tmp) / "var", args.samples, args.storm_seconds,
                          log=lambda text: print(text, file=sys.stderr, flush=True))
        figures["command"] = "python bench/scale.py " + " ".join(sys.argv[1:])
        text = json.dumps(figures, indent=2, ensure_ascii=False)
        print(text, flush=True)
        if args.out:
            Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
