"""Builders for hall events used across the test suite (real 2026 dates)."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)

ACCEPTED_DATA = {
    "matter_code": "M0001", "matter_name": "不动产转移登记", "kind": "promised",
    "promised_days": 5, "window_id": "W01", "staff_id": "S01", "receipt_no": "R-0001",
}


def event(type_: str, subject: str, time: str, data: dict[str, Any] | None = None,
          hall: str = "H1", id_: str | None = None) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": id_ or f"ev-{next(_ids)}",
        "source": f"/halls/{hall}",
        "type": f"cn.gov.hall.{type_}",
        "subject": subject,
        "time": time,
        "data": data if data is not None else {},
    }


def accepted(subject: str, time: str = "2026-09-30T10:00:00+08:00", hall: str = "H1",
             **overrides: Any) -> dict[str, Any]:
    return event("case.accepted", subject, time, {**ACCEPTED_DATA, **overrides}, hall=hall)


def completed(subject: str, time: str, hall: str = "H1") -> dict[str, Any]:
    return event("case.completed", subject, time, {"result": "approved"}, hall=hall)
