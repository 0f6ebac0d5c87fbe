"""One chaos run per seed: start everything, load it while faults fly, let it settle, check.

``python -m tests.chaos.run --seed 7`` (or ``make chaos SEED=7``) replays one seed;
``--seeds 20`` runs seeds 1..20 (or from ``--seed``). Each run prints its seed first, its
counts and every problem the checker found, and the directory with every process's log.
Exit status 1 if any seed failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.chaos import checker
from tests.chaos.faults import Injector, schedule
from tests.chaos.load import Load, plan
from tests.chaos.system import System

# The intake's clock (fixed: every fact is recorded at this moment) and the supervision
# clock's range: it starts here and moves forward at each supervision start.
INTAKE_NOW = datetime.fromisoformat("2026-11-20T10:00:00+08:00")  # a Friday
CLOCK_END = datetime.fromisoformat("2026-11-24T10:00:00+08:00")  # the Tuesday after
CLOCK_STEP = timedelta(hours=6)
CAUGHT_UP = "every consumer caught up; waiting for: "
QUIET_SECONDS = 45.0


@dataclass(frozen=True)
class Scale:
    cases: int
    load_seconds: float
    fault_seconds: float
    rounds: int
    settle_seconds: float


SHORT = Scale(cases=160, load_seconds=40, fault_seconds=45, rounds=1, settle_seconds=240)
FULL = Scale(cases=1500, load_seconds=150, fault_seconds=160, rounds=3, settle_seconds=420)


@dataclass
class Result:
    seed: int
    ok: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    logs: str = ""
    seconds: float = 0.0

    def summary(self) -> str:
        c = self.counts
        line = (f"seed {self.seed}: {'PASS' if self.ok else 'FAIL'} in {self.seconds:.0f}s; "
                f"posted {c.get('posted')} acknowledged {c.get('acknowledged')} "
                f"stored {c.get('stored')} on Kafka {c.get('on_kafka_distinct')} "
                f"({c.get('on_kafka')} messages) in views {c.get('in_views')} judged "
                f"{c.get('judged')}; alerts expected {c.get('alerts_expected')} found "
                f"{c.get('alerts_found')} (all rules {c.get('alerts_all')}, in views "
                f"{c.get('alerts_in_views')}); faults {len(self.faults)}, PG connections "
                f"terminated {c.get('pg_terminated')}")
        return "\n".join([line, *(f"  PROBLEM {p}" for p in self.problems)])


def say(text: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", flush=True)


def run(seed: int, scale: Scale, base: Path) -> Result:
    result = Result(seed, logs=str(base / "logs"))
    say(f"seed {seed}: replay with `make chaos SEED={seed}`; logs in {result.logs}")
    started = time.monotonic()
    system = System(base, INTAKE_NOW, CLOCK_END, CLOCK_STEP)
    try:
        system.start()
        say(f"seed {seed}: system up in {time.monotonic() - started:.0f}s")
        cases = plan(seed, scale.cases, INTAKE_NOW)
        planned = {e["id"] for c in cases for e in c.events}
        load = Load(system.procs["intake"].url, cases, seed, scale.load_seconds)
        injector = Injector(system, schedule(seed, scale.fault_seconds, scale.rounds), seed,
                            log=say)
        injector.start()
        report = load.run(time.monotonic() + scale.load_seconds + scale.settle_seconds)
        injector.join()
        result.faults = injector.done
        result.counts.update(posted=report.posted, pg_terminated=injector.terminated,
                             requests=report.requests, batches=report.batches,
                             retries=report.retries)
        say(f"seed {seed}: load done ({len(report.acknowledged)}/{len(planned)} acknowledged,"
            f" {report.retries} retries); faults done; settling")
        for problem in (f"refused: {i}: {why}" for i, why in report.refused.items()):
            result.problems.append(problem)
        if len(report.acknowledged) + len(report.refused) < len(planned):
            result.problems.append(f"load: only {len(report.acknowledged)} of {len(planned)} "
                                   "facts acknowledged before the deadline")
        system.restart_everything_at_the_end()
        settled = settle(system, report.acknowledged, planned,
                         time.monotonic() + scale.settle_seconds)
        result.counts["settled"] = int(settled)
        system.procs["projections"].wanted = False
        system.procs["projections"].stop()
        findings = gather(system, report.acknowledged, planned, views=True)
        result.counts.update(findings.counts)
        result.problems += findings.problems
        result.ok = not result.problems
    except Exception as error:
        result.problems.append(f"the run itself failed: {error!r}")
    finally:
        system.stop()
        result.seconds = time.monotonic() - started
    say(result.summary())
    return result


def gather(system: System, acknowledged: dict[str, int], planned: set[str],
           views: bool) -> checker.Findings:
    stored = checker.read_store(system.dsn(), system.cipher_key)
    kafka = checker.read_kafka(system.kafka.bootstrap, system.hall_topic)
    return checker.check(acknowledged=acknowledged, planned=planned, stored=stored,
                         kafka=kafka, clock_end=CLOCK_END,
                         views=checker.read_views(str(system.chdb_dir)) if views else None)


def settle(system: System, acknowledged: dict[str, int], planned: set[str],
           deadline: float) -> bool:
    """Poll until every consumer has caught up and the model's alerts are all there.

    Gives up at the deadline, or once every consumer has caught up and nothing changed
    for QUIET_SECONDS (quiescence: what is missing then will stay missing); the final
    check then says what is missing."""
    last, since = "", time.monotonic()
    while time.monotonic() < deadline:
        try:
            why = _not_settled(system, acknowledged, planned)
        except Exception as error:  # a component still recovering
            why = repr(error)
        if not why:
            say("settled")
            return True
        if why != last:
            say(f"settling: {why[:400]}")
            last, since = why, time.monotonic()
        elif why.startswith(CAUGHT_UP) and time.monotonic() - since > QUIET_SECONDS:
            say(f"quiescent for {QUIET_SECONDS:.0f}s with something missing")
            return False
        time.sleep(2)
    say(f"not settled by the deadline: {last[:400]}")
    return False


def _not_settled(system: System, acknowledged: dict[str, int], planned: set[str]) -> str:
    stored = checker.read_store(system.dsn(), system.cipher_key)
    if stored.relay < stored.hall_max:
        return f"relay at {stored.relay} of {stored.hall_max}"
    if stored.alerts_relay < stored.supervision_max:
        return f"alerts relay at {stored.alerts_relay} of {stored.supervision_max}"
    bootstrap = system.kafka.bootstrap
    ends = checker.end_offsets(bootstrap, system.hall_topic)
    for partition, end in ends.items():
        name = f"{system.hall_topic}:{partition}"
        if end and stored.tracking.get(name, 0) < end:
            return f"supervision {name} at {stored.tracking.get(name, 0)} of {end}"
    committed = checker.committed_offsets(bootstrap, f"{system.group}-projections")
    for topic in (system.hall_topic, system.alerts_topic):
        for partition, end in checker.end_offsets(bootstrap, topic).items():
            if end and committed.get((topic, partition), 0) < end:
                return f"projections {topic}:{partition} at " \
                       f"{committed.get((topic, partition), 0)} of {end}"
    kafka = checker.read_kafka(bootstrap, system.hall_topic)
    findings = checker.check(acknowledged=acknowledged, planned=planned, stored=stored,
                             kafka=kafka, views=None, clock_end=CLOCK_END)
    waiting = [p for p in findings.problems if p.startswith(("alert missing",
                                                               "stored but never judged"))]
    return CAUGHT_UP + "; ".join(waiting) if waiting else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.run", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="the (first) seed")
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds from --seed")
    parser.add_argument("--short", action="store_true", help="the short variant's size")
    parser.add_argument("--keep", action="store_true", help="keep data and logs of passes")
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    args = parser.parse_args(argv)
    first = args.seed if args.seed is not None else int(time.time()) % 100_000
    scale = SHORT if args.short else FULL
    results: list[dict[str, Any]] = []
    failed = 0
    for seed in range(first, first + args.seeds):
        base = Path(tempfile.mkdtemp(prefix=f"hallwatch-chaos-{seed}-"))
        result = run(seed, scale, base)
        results.append(asdict(result))
        if result.ok and not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        failed += not result.ok
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    print(f"chaos: {len(results) - failed} of {len(results)} seeds passed "
          f"({', '.join(str(r['seed']) + ('' if r['ok'] else ' FAILED') for r in results)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
