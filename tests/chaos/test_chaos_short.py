"""The short chaos run (part of ``make test``; ``make chaos`` runs the long one).

Real PostgreSQL, a three-broker Kafka cluster, and intake, relay, two supervision
instances and projections as processes, under load while every kind of fault is
injected once (see tests/chaos/faults.py); then the independent checker. The seed is
fixed so the run is the same each time; ``CHAOS_SEED=n`` tries another.
"""

from __future__ import annotations

import os

import pytest

from tests.chaos.run import SHORT, run

pytestmark = pytest.mark.slow


def test_under_faults_every_acknowledged_fact_is_stored_relayed_projected_and_judged_once(
        tmp_path):
    seed = int(os.environ.get("CHAOS_SEED", "11"))
    result = run(seed, SHORT, tmp_path)
    print(result.summary())
    assert result.ok, result.summary() + f"\nlogs: {result.logs}\nfaults:\n" + "\n".join(
        result.faults)
    # The run exercised what it claims to: late reports, overdue cases, faults, retries.
    assert result.counts["acknowledged"] == result.counts["stored"] > 0
    assert result.counts["alerts_expected"] > 0
    assert len(result.faults) >= 20
    assert result.counts["pg_terminated"] > 0
