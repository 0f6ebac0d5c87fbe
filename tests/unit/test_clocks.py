"""HALLWATCH_CLOCK: system, fixed and accelerated clocks, shared through an anchor."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from services.common.clocks import AcceleratedClock, anchored, parse_clock
from services.common.settings import Settings, SettingsError, load_settings

START = datetime.fromisoformat("2026-03-02T08:00:00+08:00")


def test_an_accelerated_clock_runs_speed_times_real_time_from_its_anchor() -> None:
    anchor = time.time() - 10
    clock = parse_clock(f"accelerated:{START.isoformat()}:60@{anchor}")
    before = time.time()
    reading = clock()
    after = time.time()
    assert START + timedelta(seconds=(before - anchor) * 60) <= reading
    assert reading <= START + timedelta(seconds=(after - anchor) * 60)


def test_two_processes_given_the_same_anchored_spec_read_the_same_time() -> None:
    spec = anchored(f"accelerated:{START.isoformat()}:1440")
    assert "@" in spec
    first, second = parse_clock(spec), parse_clock(spec)
    assert isinstance(first, AcceleratedClock) and isinstance(second, AcceleratedClock)
    assert (first.start, first.speed, first.anchor) == (second.start, second.speed,
                                                         second.anchor)
    assert first.wall_time_of(START + timedelta(minutes=1440)) == pytest.approx(
        first.anchor + 60)


def test_settings_anchor_an_accelerated_clock_once_so_every_clock_of_a_process_agrees() -> None:
    settings = Settings(clock=f"accelerated:{START.isoformat()}:100")
    assert "@" in settings.clock
    one, two = settings.now(), settings.now()
    assert isinstance(one, AcceleratedClock) and isinstance(two, AcceleratedClock)
    assert one.anchor == two.anchor


def test_fixed_and_system_clocks_keep_their_meaning() -> None:
    assert parse_clock(f"fixed:{START.isoformat()}")() == START
    assert abs(parse_clock("system")().timestamp() - time.time()) < 60


@pytest.mark.parametrize("spec", ["accelerated:2026-03-02T08:00:00:60", "accelerated:x:60",
                                  "accelerated:2026-03-02T08:00:00+08:00:-5",
                                  "accelerated:2026-03-02T08:00:00+08:00:fast", "fixed:soon",
                                  "tomorrow"])
def test_a_malformed_clock_stops_the_process_naming_the_variable(
        spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLWATCH_CLOCK", spec)
    with pytest.raises(SettingsError, match=r"HALLWATCH_CLOCK: .*accelerated:"):
        load_settings()
