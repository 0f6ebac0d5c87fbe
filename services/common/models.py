"""Response models shared by more than one service's routes (OpenAPI documents them).

The domain owns these shapes; the models name the fields clients rely on and let the
rest through (``extra="allow"``), so a field added in the domain is never dropped."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AlertView(BaseModel):
    """A warning (预警) or finding, with its whole lifecycle in ``history``."""

    model_config = ConfigDict(extra="allow")

    alert_id: str
    rule: str = Field(description="the rule that raised it, e.g. deadline.overdue")
    severity: str = Field(description="yellow, red or finding")
    status: str = Field(description="raised, acknowledged, noticed, escalated, resolved, "
                                    "cleared or void")
    raised_at: str
    updated_at: str
    history: list[dict[str, Any]] = Field(default_factory=list)
