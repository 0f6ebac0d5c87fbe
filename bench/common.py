"""What every part of the benchmark shares: the hall events it sends, the figures it
reports, timing and the machine's facts.

A *raw limit* is what the component a stage sits on does with nothing of hallwatch on
top (eventsourcing appends, kafka-python, chDB inserts, an empty FastAPI endpoint); a
*figure* is a stage of hallwatch measured in the same run, reported beside its raw limit
and the issue's target (issue 12's table), with the ratio between the two.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime.fromisoformat("2026-11-02T09:00:00+08:00")
# The server's fixed clock: every event below happened before it (none is refused as
# coming from the future), and no timer comes due while the bench runs.
NOW = START + timedelta(days=3)
HALL = "H1"
HALL_KEY = "bench-hall-key-000000001"
BUREAU_KEY = "bench-bureau-key-0000001"
MONITOR_KEY = "bench-monitor-key-000001"
KEYS = f"hall:{HALL}:{HALL_KEY},bureau:bureau:{BUREAU_KEY},monitor:monitor:{MONITOR_KEY}"
CHAIN_KEY = "YmVuY2gtY2hhaW4ta2V5LW5vdC1mb3ItcHJvZHVjdGlvbiE="  # 32 bytes, base64


def accepted(n: int, prefix: str = "B", at: datetime | None = None) -> dict[str, Any]:
    """The n-th case accepted at the hall (a typical event: the biggest kind sent)."""
    return {
        "specversion": "1.0", "id": f"{prefix}-a-{n}", "source": f"/halls/{HALL}",
        "type": "cn.gov.hall.case.accepted", "subject": f"{prefix}-{n:08d}",
        "time": (at or START + timedelta(seconds=n % 86_400)).isoformat(),
        "data": {"matter_code": "M0001", "matter_name": "不动产转移登记", "kind": "promised",
                 "promised_days": 5, "window_id": "W01", "staff_id": "S01",
                 "receipt_no": f"R-{prefix}-{n}",
                 "applicant": {"name": "张三", "id_number": "110101199001011234"}},
    }


def completed(n: int, prefix: str = "B") -> dict[str, Any]:
    return {
        "specversion": "1.0", "id": f"{prefix}-c-{n}", "source": f"/halls/{HALL}",
        "type": "cn.gov.hall.case.completed", "subject": f"{prefix}-{n:08d}",
        "time": (START + timedelta(days=2, seconds=n % 86_400)).isoformat(),
        "data": {"result": "approved"},
    }


def mix(count: int, prefix: str = "B") -> list[dict[str, Any]]:
    """A realistic mix: two thirds acceptances, then a completion of half of those cases."""
    cases = count * 2 // 3
    return ([accepted(n, prefix) for n in range(cases)]
            + [completed(n, prefix) for n in range(count - cases)])


@dataclass
class Figure:
    """One row of the report: a stage of hallwatch beside its raw limit and target."""

    key: str  # stable name, e.g. "embedded.post_single"; floors and --check use it
    what: str
    value: float
    unit: str  # "events/s", "ms", "% of a core", "s", "MB"
    raw: str = ""  # the raw limit's key, if the stage has one
    raw_value: float | None = None
    target: str = ""  # the target, as the issue words it
    meets: bool | None = None  # None: nothing to decide (reported only)
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.raw_value in (None, 0):
            return None
        return self.value / self.raw_value  # type: ignore[operator]

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"] = self.ratio
        return out


@dataclass
class Raw:
    """A raw limit of this machine: what a component does with nothing on top."""

    key: str
    what: str
    value: float
    unit: str
    note: str = ""


def timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[rank]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare two reports: CPUs, memory, load, versions."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info
                          if line.startswith("model name")), "")
    except OSError:
        pass
    memory_mb = 0
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            memory_mb = int(next(line.split()[1] for line in info
                                 if line.startswith("MemTotal"))) // 1024
    except (OSError, StopIteration):
        pass
    versions: dict[str, str] = {}
    from importlib.metadata import PackageNotFoundError, version
    for package in ("eventsourcing", "kafka-python", "chdb", "fastapi", "uvicorn",
                    "psycopg", "crc32c", "uvloop", "httptools"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "-"
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_mb": memory_mb,
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "packages": versions}


@contextlib.contextmanager
def workdir(keep: Path | None, prefix: str = "hallwatch-bench-") -> Iterator[Path]:
    """``keep`` (created if missing; its data stays for the next run), else a temporary
    directory, removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as tmp:
        yield Path(tmp)
