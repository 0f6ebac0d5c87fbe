"""An idle embedded server does not busy-poll: its loops block until something is written
or their timeout ends."""

from __future__ import annotations

import time

import pytest

from tests.builders import accepted
from tests.conftest import BUREAU_KEY, HALL_KEY
from tests.e2e.procs import call, cpu_seconds, post_event, wait_for

pytestmark = pytest.mark.slow
IDLE_SECONDS = 5.0
BOUND = 0.02  # of one core


def test_an_idle_embedded_server_uses_under_two_percent_of_a_core(embedded):
    # Some work first, so every loop has state to look after (a case, its timers).
    post_event(embedded.url, accepted("IDLE-1", time="2026-10-12T09:00:00+08:00"), HALL_KEY)
    wait_for(lambda: call(f"{embedded.url}/v1/cases/IDLE-1", "GET", BUREAU_KEY)[0] == 200,
             what="the case in the views")
    assert embedded.process is not None
    pid = embedded.process.pid
    started, used = time.monotonic(), cpu_seconds(pid)
    time.sleep(IDLE_SECONDS)  # the measured window of idleness, not a synchronisation
    share = (cpu_seconds(pid) - used) / (time.monotonic() - started)
    print(f"idle server: {share:.2%} of a core over {IDLE_SECONDS:.0f} s")
    assert share < BOUND, f"idle server used {share:.1%} of a core"
