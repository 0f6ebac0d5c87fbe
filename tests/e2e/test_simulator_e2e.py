"""The simulator against a real embedded ``hallwatch serve`` sharing its accelerated
clock: days of the seed city go in with no refusal and the judge raises alerts of
several rules."""

from __future__ import annotations

import json
import subprocess
import sys

from services.common.clocks import anchored
from services.simulator import directory
from services.simulator.embedded import hall_keys
from tests.e2e.procs import ROOT, Service, call, free_port, wait_for

BUREAU = "bureau-sim-secret-000001"
# Frequent violations, so a few simulated days show many rules.
RATES = ("rejection=0.1,incomplete_rejection=0.8,absence=0.3,uncovered_absence=0.5,"
         "extension=0.3,unapproved_extension=0.6,notice=0.3,second_notice=0.7,"
         "suspension=0.3,uninformed_suspension=0.6,late_completion=0.3,bad_review=0.3")


def test_simulated_days_are_all_accepted_and_judged_by_several_rules(tmp_path) -> None:
    keys = hall_keys(directory.load(), prefix="e2e")
    spec = anchored("accelerated:2026-03-01T22:00:00+08:00:4000")
    env = {"HALLWATCH_DATA_DIR": str(tmp_path / "var"), "HALLWATCH_CLOCK": spec,
           "HALLWATCH_KEYS": ",".join([*(f"hall:{h}:{k}" for h, k in keys.items()),
                                       f"bureau:bureau:{BUREAU}"])}
    serve = Service("serve", env, tmp_path, free_port()).start()
    try:
        simulate = subprocess.run(
            [sys.executable, "-m", "services.cli", "simulate", "--target", serve.url,
             "--days", "2.5", "--seed", "11", "--scale", "0.3", "--rates", RATES, "--quiet"],
            env={**serve.env}, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert simulate.returncode == 0, simulate.stderr[-3000:]
        line = next(ln for ln in simulate.stdout.splitlines() if ln.startswith("summary "))
        result = json.loads(line.removeprefix("summary "))
        assert result["refused"] == {}, result["refusal_samples"]
        assert result["unanswered"] == 0
        assert result["sent"] > 300 and result["batches"] > 0
        assert result["requests"] > result["batches"]  # single events were sent too

        # Rules judged on the facts sent, not on the clock running on after the
        # simulator stopped (which leaves its last cases open).
        wanted = {"post.uncovered", "rejection.incomplete", "extension.unapproved",
                  "notice.not_one_time", "procedure.not_informed"}

        def rules() -> set[str]:
            status, body = call(f"{serve.url}/v1/alerts?limit=10000", "GET", BUREAU)
            assert status == 200, body
            return {alert["rule"] for alert in body["alerts"]} & wanted

        seen: set[str] = set()

        def three_rules() -> bool:
            seen.update(rules())
            return len(seen) >= 3

        try:
            wait_for(three_rules, timeout=120, what="alerts of three rules judged on facts")
        except AssertionError:
            raise AssertionError(f"only these rules were raised: {sorted(seen)}") from None
        status, bulletin = call(f"{serve.url}/v1/bulletins?from=2026-03-01&to=2026-04-01",
                                "GET", BUREAU)
        assert status == 200, bulletin
        assert sum(row["accepted"] for row in bulletin["rows"]) > 100
    finally:
        serve.stop()
