"""cProfile of one in-process stage, top frames by own time (for docs/performance.md).

    python bench/profiling.py record        # HallStore.record, one event a call (a POST)
    python bench/profiling.py record_batch  # HallStore.record_batch, 1,000 a call (NDJSON)
    python bench/profiling.py supervision   # Supervision.handle, rounds of 1,000
    python bench/profiling.py sink          # Views.write
    python bench/profiling.py read          # a case view's reads (views.case + case_alerts)

Embedded (SQLite, chDB) by default; ``--postgres DSN`` puts the stores on PostgreSQL.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import stages  # noqa: E402
from bench.common import CHAIN_KEY, HALL, KEYS, NOW, chunks, mix  # noqa: E402
from services import system  # noqa: E402
from services.common.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("record", "record_batch", "supervision", "sink",
                                               "read"))
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--postgres", default="", help="a PostgreSQL DSN for the stores")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hallwatch-profile-") as tmp:
        def settings(name: str) -> Settings:
            return Settings(data_dir=Path(tmp) / name, event_store=args.postgres, keys=KEYS,
                            chain_key=CHAIN_KEY, cipher_key="")
        events = mix(args.events, "PR")
        if args.stage in ("record", "record_batch"):
            store = system.hall_store(settings("hall"), lambda: NOW)
            if args.stage == "record":
                def work() -> None:
                    for event in events:
                        store.record(event, HALL)
            else:
                def work() -> None:
                    for part in chunks(events, 1000):
                        store.record_batch(part, HALL)
            print(stages.profile(work, args.top))
            store.close()
            return
        sample = stages.recorded(settings("sample"), args.events, "PS")
        if args.stage == "supervision":
            print(stages.profile(lambda: stages.supervision(settings("judge"), sample.messages),
                                 args.top))
        elif args.stage == "sink":
            from services.common.clickhouse import connect
            from services.projections.views import Views

            views = Views(connect(f"chdb:///{Path(tmp) / 'chdb-sink'}"))
            views.write(sample.messages[:10])  # imports and first use, not profiled
            print(stages.profile(lambda: views.write(sample.messages[10:]), args.top))
        else:
            from services.common.clickhouse import connect
            from services.projections.views import Views

            views = Views(connect(f"chdb:///{Path(tmp) / 'chdb-read'}"))
            views.write(sample.messages)
            cases = sorted({m.key for m in sample.messages})[:300]

            def read() -> None:
                for case_no in cases:  # what GET /v1/cases/{no} asks ClickHouse
                    views.case(case_no)
                    views.case_alerts(case_no)
            print(f"{len(cases)} case views read")
            print(stages.profile(read, args.top))


if __name__ == "__main__":
    main()
