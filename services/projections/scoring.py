"""The composite score (综合评分), ranking, red list (红榜) and black list (黑榜).

Weights, penalties and thresholds come from a versioned file
(``deploy/bulletins/scoring.v1.json``). The score is 100 × the weighted mean of the rates
a row has (a rate with an empty denominator drops out with its weight), less each
penalty × its count, never below 0. A row is ranked only if it had case activity
(accepted, or cases due or closed) and has at least one weighted rate. Red list: ranked,
score ≥ ``red_list.min_score``, no open overdue case and no red card, best first, at most
``red_list.max_size``. Black list: ranked with score < ``black_list.max_score``, or any
red card; worst first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.projections.figures import COUNT_KEYS, RATE_PARTS

DEFAULT_SCORING = (Path(__file__).resolve().parents[2] / "deploy" / "bulletins"
                   / "scoring.v1.json")


@dataclass(frozen=True)
class Scoring:
    version: str
    weights: dict[str, float]
    penalties: dict[str, float]
    red_min_score: float
    red_max_size: int
    black_max_score: float

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scoring:
        """Raises ValueError naming the part of the file that is wrong."""
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise ValueError("version: a scoring file must name its version")
        weights, penalties = data.get("weights"), data.get("penalties", {})
        if not isinstance(weights, dict) or not weights:
            raise ValueError("weights: must map rates to weights")
        for name, value in weights.items():
            if name not in RATE_PARTS or not name.endswith("_rate"):
                raise ValueError(f"weights.{name}: not a rate of the bulletin")
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"weights.{name}: must be a number ≥ 0")
        for name, value in penalties.items():
            if name not in COUNT_KEYS:
                raise ValueError(f"penalties.{name}: not a count of the bulletin")
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"penalties.{name}: must be a number ≥ 0")
        try:
            red, black = data["red_list"], data["black_list"]
            return cls(version, dict(weights), dict(penalties), float(red["min_score"]),
                       int(red["max_size"]), float(black["max_score"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"red_list/black_list: {error}") from None

    @classmethod
    def load(cls, path: Path | None = None) -> Scoring:
        file = path or DEFAULT_SCORING
        return cls.from_dict(json.loads(file.read_text()))

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "weights": self.weights, "penalties": self.penalties,
                "red_list": {"min_score": self.red_min_score, "max_size": self.red_max_size},
                "black_list": {"max_score": self.black_max_score}}

    def score(self, row: dict[str, Any]) -> float | None:
        """The row's composite score, or None if it has none of the weighted rates."""
        present = {k: w for k, w in self.weights.items() if row.get(k) is not None}
        total = sum(present.values())
        if not total:
            return None
        mean = sum(row[k] * w for k, w in present.items()) / total
        penalty = sum(row.get(k, 0) * w for k, w in self.penalties.items())
        return round(max(0.0, 100 * mean - penalty), 2)

    def rank(self, rows: list[dict[str, Any]]) -> None:
        """Set ``score``, ``ranked`` and ``rank`` (1 = best; equal scores share a rank)."""
        for row in rows:
            row["score"] = self.score(row)
            row["ranked"] = row["score"] is not None and bool(
                row["accepted"] or row["on_time_base"] or row["decided"])
        ranked = sorted((r for r in rows if r["ranked"]), key=lambda r: -r["score"])
        previous_score, previous_rank = None, 0
        for n, row in enumerate(ranked, 1):
            if row["score"] != previous_score:
                previous_score, previous_rank = row["score"], n
            row["rank"] = previous_rank
        for row in rows:
            row.setdefault("rank", None)

    def red_list(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        eligible = [r for r in rows if r["ranked"] and r["score"] >= self.red_min_score
                    and not r["overdue_open"] and not r["red_cards"]]
        return sorted(eligible, key=lambda r: r["rank"])[:self.red_max_size]

    def black_list(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        listed = [r for r in rows if r["ranked"] and (r["score"] < self.black_max_score
                                                     or r["red_cards"])]
        return sorted(listed, key=lambda r: -r["rank"])
