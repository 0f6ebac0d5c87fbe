"""Process clocks named by ``HALLWATCH_CLOCK``.

- ``system``: the wall clock;
- ``fixed:<RFC 3339>``: one moment, for tests and stills;
- ``accelerated:<RFC 3339 start>:<speed>[@<unix seconds>]``: starts at ``start`` when the
  wall clock reads the anchor (``@…``) and runs ``speed`` times faster. Two processes given
  the same anchored spec read the same time, which is how the simulator and the server it
  drives share a compressed month. Without an anchor the parse moment is the anchor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hallwatch.calendar import CHINA_TZ

Clock = Callable[[], datetime]
FORMS = ("'system', 'fixed:<RFC 3339 time with offset>' or "
         "'accelerated:<RFC 3339 time with offset>:<speed>[@<unix seconds>]'")


@dataclass(frozen=True)
class AcceleratedClock:
    """``start`` at wall time ``anchor`` (Unix seconds), then ``speed`` times real time."""

    start: datetime
    speed: float
    anchor: float

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.anchor) * self.speed)

    def wall_time_of(self, moment: datetime) -> float:
        """The Unix time at which this clock reads ``moment``."""
        return self.anchor + (moment - self.start).total_seconds() / self.speed

    @property
    def spec(self) -> str:
        return f"accelerated:{self.start.isoformat()}:{self.speed:g}@{self.anchor:.3f}"


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("no offset")
    return moment


def parse_clock(spec: str) -> Clock:
    """The clock a spec names; ValueError (listing the forms) if it names none."""
    kind, _, rest = spec.partition(":")
    try:
        if spec == "system":
            return lambda: datetime.now(CHINA_TZ)
        if kind == "fixed":
            fixed = _moment(rest)
            return lambda: fixed
        if kind == "accelerated":
            body, _, anchor = rest.partition("@")
            start, _, speed = body.rpartition(":")
            factor = float(speed)
            if not factor > 0:
                raise ValueError("speed must be positive")
            return AcceleratedClock(_moment(start), factor,
                                    float(anchor) if anchor else time.time())
    except ValueError:
        pass
    raise ValueError(f"must be {FORMS}")


def anchored(spec: str) -> str:
    """``spec`` with an accelerated clock's anchor fixed now (other specs unchanged)."""
    clock = parse_clock(spec)
    return clock.spec if isinstance(clock, AcceleratedClock) else spec
