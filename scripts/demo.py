"""The embedded demo: a living city in one command.

Starts ``hallwatch serve`` (SQLite + chDB under var/demo) on an accelerated clock, and
the simulator of the seed city streaming every hall's events into it on the same clock:
one simulated day a minute from Monday 2 March 2026. Prints the dashboard URL with a
bureau sign-in key and a status line now and then; alerts arrive within a minute and the
bulletin of the simulated month can be fetched at any time. Ctrl-C stops everything.

``--once`` runs a fixed short scenario (a day and a half, fast), prints the alerts and
the bulletin, and exits: 0 when every event was accepted and alerts were raised.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from services.common.clocks import AcceleratedClock
from services.simulator import directory
from services.simulator.city import City, Rates
from services.simulator.driver import Run, Sender, summary
from services.simulator.embedded import EmbeddedServer, hall_keys

BUREAU_KEY = "demo-bureau-key-0001"
AUDITOR_KEY = "demo-auditor-key-0001"
START = "2026-03-01T20:00:00+08:00"  # Sunday evening: the halls open on Monday
MONTH = ("2026-03-01", "2026-04-01")
STATUS_SECONDS = 15
ONCE_DAYS = 1.5  # simulated days of the --once scenario
ONCE_LIMIT_SECONDS = 300


def get(base: str, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(base + path,
                                     headers={"Authorization": f"Bearer {BUREAU_KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError:
        return 0, None


def alerts_by_rule(base: str) -> Counter[str]:
    status, body = get(base, "/v1/alerts?limit=10000")
    return Counter(a["rule"] for a in body["alerts"]) if status == 200 else Counter()


def bulletin(base: str) -> dict[str, Any] | None:
    status, body = get(base, f"/v1/bulletins?from={MONTH[0]}&to={MONTH[1]}")
    return body if status == 200 else None


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="a fixed short scenario, then exit")
    parser.add_argument("--speed", type=float, help="simulated seconds per real second "
                        "(default 1440, one day a minute; 7200 with --once)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="arrivals per day x this")
    parser.add_argument("--data-dir", type=Path, default=Path("var/demo"))
    return parser.parse_args()


def main() -> int:
    args = arguments()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    shutil.rmtree(args.data_dir, ignore_errors=True)
    halls = directory.load()
    keys = hall_keys(halls, prefix="demo")
    speed = args.speed or (7200.0 if args.once else 1440.0)
    clock = AcceleratedClock(datetime.fromisoformat(START), speed, time.time())
    server = EmbeddedServer(args.data_dir, clock.spec, ",".join(
        [*(f"hall:{h}:{k}" for h, k in keys.items()), f"bureau:bureau:{BUREAU_KEY}",
         f"auditor:audit:{AUDITOR_KEY}"]))
    print(f"starting hallwatch (embedded: SQLite + chDB under {args.data_dir}), clock "
          f"{clock.spec}", flush=True)
    try:
        server.start()
    except RuntimeError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    try:
        if stop.is_set():
            return 130
        base = server.url
        print(f"\n  dashboard  {base}/dashboard#key={BUREAU_KEY}\n"
              f"  sign in    bureau key {BUREAU_KEY} (auditor key {AUDITOR_KEY})\n"
              f"  bulletin   curl -H 'Authorization: Bearer {BUREAU_KEY}' "
              f"'{base}/v1/bulletins?from={MONTH[0]}&to={MONTH[1]}'\n"
              f"  alerts     curl -H 'Authorization: Bearer {BUREAU_KEY}' '{base}/v1/alerts'\n"
              f"  metrics    {base}/metrics\n", flush=True)
        city = City(halls, args.seed, Rates(), args.scale)
        begin = clock()
        run = Run(city, clock, begin, begin + timedelta(days=3650), Sender(base, keys),
                  stop=stop, progress=None)
        started = time.monotonic()
        worker = threading.Thread(target=run.run, name="simulator", daemon=True)
        worker.start()
        if args.once:
            # The city keeps running while we wait: the server's clock does not stop, so
            # stopping the halls early would leave cases open and make them overdue.
            rules = wait_once(base, run, begin + timedelta(days=ONCE_DAYS), stop)
            stop.set()
            worker.join(timeout=60)
            return report_once(base, summary(run, time.monotonic() - started), rules)
        print("simulating the seed city; Ctrl-C to stop", flush=True)
        while worker.is_alive() and not stop.wait(STATUS_SECONDS):
            status(base, run)
        stop.set()
        worker.join(timeout=60)
        result = summary(run, time.monotonic() - started)
        print(f"\nstopped: sent {result['sent']} events, accepted {result['accepted']}, "
              f"refused {sum(result['refused'].values())}; simulated "
              f"{result['simulated']['from'][:16]} .. {result['simulated']['to'][:16]}")
        return 0
    finally:
        server.stop()


def status(base: str, run: Run) -> None:
    rules = alerts_by_rule(base)
    moment = f"{run.sim_now:%Y-%m-%d %H:%M}" if run.sim_now else "-"
    shown = ", ".join(f"{rule} {n}" for rule, n in rules.most_common(6)) or "none yet"
    print(f"[{moment}] events sent {run.tally.sent} (refused "
          f"{sum(run.tally.refused.values())}); alerts {sum(rules.values())}: {shown}",
          flush=True)


def wait_once(base: str, run: Run, until: Any, stop: threading.Event) -> Counter[str]:
    """Alerts by rule once the scenario has run its simulated time and raised alerts of
    at least three rules (or the real-time limit passed)."""
    deadline = time.monotonic() + ONCE_LIMIT_SECONDS
    rules: Counter[str] = Counter()
    while time.monotonic() < deadline and not stop.is_set():
        if run.sim_now is not None and run.sim_now >= until:
            rules = alerts_by_rule(base)
            if len(rules) >= 3:
                break
        stop.wait(1)
    return rules


def report_once(base: str, result: dict[str, Any], rules: Counter[str]) -> int:
    refused = sum(result["refused"].values())
    print(f"sent {result['sent']} events ({result['batches']} batches), accepted "
          f"{result['accepted']}, refused {refused}; simulated "
          f"{result['simulated']['from'][:16]} .. {result['simulated']['to'][:16]}")
    for sample in result["refusal_samples"]:
        print(f"  refused: {sample}")
    print("\nalerts by rule:")
    for rule, count in sorted(rules.items()):
        print(f"  {rule:<30}{count}")
    report = bulletin(base)
    if report is not None:
        for row in report.get("rows", []):
            print(f"bulletin {MONTH[0]}..{MONTH[1]} hall {row['hall_id']:<18} accepted "
                  f"{row['accepted']:<5} completed {row['completed']:<5} on time "
                  f"{row['on_time_rate']}")
    ok = refused == 0 and result["sent"] > 0 and len(rules) >= 2 and report is not None
    print("\ndemo: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # a second Ctrl-C while stopping: leave quietly
        sys.exit(130)
