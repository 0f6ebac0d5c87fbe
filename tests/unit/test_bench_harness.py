"""The benchmark's regression guard and sizing (bench/run.py), without running a bench:
figures as a run reports them, floors as a reference run writes them."""

from __future__ import annotations

import json
from pathlib import Path

from bench.common import Figure, Raw, percentile
from bench.run import check, sizing, write_floors


def figure(key: str, value: float, raw_value: float | None = None) -> Figure:
    return Figure(key, key, value, "events/s", raw="r" if raw_value else "",
                  raw_value=raw_value)


def test_floors_are_half_of_the_reference_run_ratio_where_there_is_a_raw_limit(
        tmp_path: Path) -> None:
    floors = tmp_path / "floors.json"
    write_floors([figure("embedded.post_batch", 300, 6000), figure("production.relay", 800),
                  Figure("embedded.e2e_p99", "latency", 900, "ms")], "bench/run.py", floors)
    written = json.loads(floors.read_text())["floors"]
    assert written == {"embedded.post_batch": {"of": "ratio", "floor": 0.025},
                       "production.relay": {"of": "value", "floor": 400.0}}


def test_a_figure_below_its_floor_is_named_and_one_above_passes(tmp_path: Path) -> None:
    floors = tmp_path / "floors.json"
    write_floors([figure("embedded.post_batch", 300, 6000), figure("production.relay", 800)],
                 "bench/run.py", floors)
    # The ratio halved and a bit more: a regression; the relay held up.
    below = check([figure("embedded.post_batch", 140, 6000), figure("production.relay", 700)],
                  floors)
    assert len(below) == 1 and below[0].startswith("embedded.post_batch: ratio 0.023")


def test_a_missing_floors_file_fails_the_check(tmp_path: Path) -> None:
    assert check([figure("x", 1)], tmp_path / "none.json") != []


def test_sizing_plans_every_stage_at_half_its_measured_rate() -> None:
    figures = {f.key: f for f in (figure("production.post_single", 400),
                                  figure("production.relay", 2000),
                                  figure("production.supervision", 500),
                                  figure("embedded.sink", 4000))}
    raws = {"chdb_insert_10000": Raw("chdb_insert_10000", "chDB", 80_000, "rows/s")}
    city, province, country = sizing(figures, raws)
    assert city["processes"] == {"intake": 1, "relay": 1, "supervision": 1, "projections": 1}
    assert province["processes"] == {"intake": 5, "relay": 1, "supervision": 4,
                                     "projections": 1}
    assert country["processes"]["intake"] == 25 and country["processes"]["supervision"] == 20
    assert country["partitions"] == 40  # two per supervision instance: room to rebalance
    assert country["clickhouse_shards"] == 1  # 5,000/s under a quarter of 80,000 rows/s


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert percentile([], 99) == 0.0
