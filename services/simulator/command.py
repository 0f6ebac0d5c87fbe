"""``hallwatch simulate``: the seed city streaming to a hallwatch.

Without ``--target`` it starts an embedded ``hallwatch serve`` on an accelerated clock
(``--speed``) shared with the simulator, runs the simulated period, prints a summary and
stops the server. With ``--target URL`` it drives that hallwatch over HTTP with the hall
keys of ``HALLWATCH_KEYS``, on the target's clock (``--clock``, default
``HALLWATCH_CLOCK``); a ``--start`` in the past replays (backfills) at ``--rate``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hallwatch.office_hours import Seasons
from services.common.clocks import AcceleratedClock, parse_clock
from services.common.settings import Settings
from services.simulator import directory
from services.simulator.city import City, Rates
from services.simulator.driver import Run, Sender, summary
from services.simulator.embedded import EmbeddedServer, hall_keys

# A Sunday evening: the city opens on Monday 2 March 2026.
DEFAULT_START = "2026-03-01T20:00:00+08:00"
DEFAULT_SPEED = 1440.0  # one simulated day a minute


def add_subcommand(sub: Any) -> None:
    """Registers ``simulate`` on the ``hallwatch`` command's subparsers."""
    p = sub.add_parser("simulate", help="stream the seed city's hall events to a hallwatch",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--directory", type=Path, default=directory.SAMPLE,
                   help="directory file (default: the sample city)")
    p.add_argument("--seed", type=int, default=1, help="same seed, same city")
    p.add_argument("--start", help=f"simulated start, RFC 3339 (embedded: where the "
                   f"shared clock starts, default {DEFAULT_START}; with --target: default "
                   f"the target clock's now, a past start replays up to now)")
    p.add_argument("--days", type=float, default=30, help="simulated days to run")
    p.add_argument("--speed", type=float, help=f"embedded: simulated seconds per real second "
                   f"(default {DEFAULT_SPEED:g})")
    p.add_argument("--scale", type=float, default=1.0, help="arrivals per day x this")
    p.add_argument("--rates", default="", help="name=value,... over the default rates")
    p.add_argument("--target", help="URL of a running hallwatch (else an embedded one)")
    p.add_argument("--clock", help="with --target: the target's HALLWATCH_CLOCK")
    p.add_argument("--rate", type=float, help="events a second at most")
    p.add_argument("--duration", type=float, help="real seconds to run at most")
    p.add_argument("--batch", type=int, default=200, help="events per batch request at most")
    p.add_argument("--data-dir", type=Path, default=Path("var/simulate"),
                   help="embedded: where the server keeps its data")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=cmd_simulate)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} needs an offset, e.g. +08:00")
    return moment


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> None:
    try:
        rates = Rates.parse(args.rates)
        halls = directory.load(args.directory)
        start = _moment(args.start) if args.start else None
    except (OSError, ValueError, KeyError) as error:
        sys.exit(f"hallwatch simulate: {error}")
    if args.target and args.speed:
        sys.exit("hallwatch simulate: --speed is for the embedded server; with --target, "
                 "give --clock the target's accelerated clock")
    summer, winter = settings.season_starts()
    city = City(halls, args.seed, rates, args.scale, seasons=Seasons(summer, winter))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server = None
    if args.target:
        keys = {k.principal: k.secret for k in settings.key_specs if k.role == "hall"}
        missing = sorted({h.id for h in halls} - set(keys))
        if missing:
            sys.exit("hallwatch simulate: HALLWATCH_KEYS has no hall key for "
                     + ", ".join(missing))
        try:
            clock = parse_clock(args.clock) if args.clock else settings.now()
        except ValueError as error:
            sys.exit(f"hallwatch simulate: --clock {error}")
        target = args.target
    else:
        clock = AcceleratedClock(start or _moment(DEFAULT_START), args.speed or DEFAULT_SPEED,
                                 time.time())
        keys = hall_keys(halls)
        server = EmbeddedServer(args.data_dir, clock.spec,
                                ",".join(f"hall:{h}:{k}" for h, k in keys.items()))
        print(f"starting hallwatch serve (embedded, {args.data_dir}) on {clock.spec}",
              flush=True)
        try:
            server.start()
        except RuntimeError as error:
            sys.exit(f"hallwatch simulate: {error}")
        target = server.url
        print(f"hallwatch at {target}", flush=True)
    try:
        # Embedded, the clock ran on while the server started: begin where it is now.
        # With a target, a start in the past replays the city up to now.
        begin = (start or clock()) if args.target else clock()
        run = Run(city, clock, begin, begin + timedelta(days=args.days), Sender(target, keys),
                  rate=args.rate, batch=args.batch, duration=args.duration, stop=stop,
                  progress=None if args.quiet else sys.stderr)
        began = time.monotonic()
        run.run()
        result = summary(run, time.monotonic() - began)
    finally:
        if server is not None:
            server.stop()
    print_summary(result)


def print_summary(result: dict[str, Any]) -> None:
    refused = sum(result["refused"].values())
    print(f"sent {result['sent']} events in {result['requests']} requests "
          f"({result['batches']} batches) over {result['wall_seconds']}s "
          f"({result['events_per_second']}/s), simulated {result['simulated']['from']} .. "
          f"{result['simulated']['to']}: accepted {result['accepted']} "
          f"({result['created']} new), refused {refused} {result['refused'] or ''}")
    for sample in result["refusal_samples"]:
        print(f"  refused: {sample}")
    print("summary " + json.dumps(result, ensure_ascii=False), flush=True)
