"""`make demo`'s script, in its fixed short scenario (--once), as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from tests.e2e.procs import ROOT


def test_the_demo_scenario_runs_the_city_and_shows_alerts_and_a_bulletin(tmp_path) -> None:
    done = subprocess.run([sys.executable, "scripts/demo.py", "--once", "--data-dir",
                           str(tmp_path / "demo")], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "/dashboard#key=demo-bureau-key-0001" in out
    assert "refused 0;" in out
    alerts = out.split("alerts by rule:")[1].split("bulletin")[0].split()
    assert len(alerts) >= 4  # at least two rules, each with a count
    assert out.count("bulletin 2026-03-01..2026-04-01 hall") == 7
    assert out.rstrip().endswith("demo: ok")
    assert "Traceback" not in done.stderr
