"""bench/views.py fills the views through the real sink and times the live routes (a
small run here: the figures are the benchmark's, not a test's)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_views", ROOT / "bench" / "views.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_small_run_holds_every_case_and_times_every_route(tmp_path):
    bench = load_bench()
    results = bench.run(cases=3000, halls=4, windows=3, reps=3, data_dir=tmp_path,
                        log=lambda line: None)
    assert results["cases"] == 3000 and results["fill_seconds"] > 0
    routes = results["routes"]
    assert set(routes) >= {"GET /v1/halls", "GET /v1/halls/{hall}/windows",
                           "GET /v1/cases (filtered, first page)"}
    assert routes["GET /v1/halls"]["n"] == 3
    for figures in routes.values():
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"] \
            <= figures["max_ms"]
    again = bench.run(cases=3000, halls=4, windows=3, reps=1, data_dir=tmp_path,
                      log=lambda line: None)
    assert again["fill_seconds"] is None and again["cases"] == 3000  # the views were kept
