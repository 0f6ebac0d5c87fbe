"""The composite score (综合评分), ranking, red list (红榜) and black list (黑榜).

Weights, penalties and thresholds come from a versioned file
(``deploy/bulletins/scoring.v1.json``). The score is 100 × the weighted mean of the rates
a row has (a rate with an empty denominator drops out with its weight), less each
penalty × its count, never below 0. A row is ranked only if it had case activity
(accepted, or cases due or closed) and has at least one weighted rate. Red list: ranked,
score ≥ ``red_list.min_score``, no open overdue case and no red card, best first, at most
``red_list.max_size``. Black list: ranked with score < ``black_list.max_score``, or any
red card; worst first.

The same file's ``appraisal`` section sets the annual staff appraisal (绩效考评, measures
art. 17(9)) read from the year's staff bulletin: see :class:`Appraisal`.
"""

from __future__ import annotations

import json
import math
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
    appraisal: Appraisal | None = None

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
            lists = (float(red["min_score"]), int(red["max_size"]), float(black["max_score"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"red_list/black_list: {error}") from None
        appraisal = (Appraisal.from_dict(data["appraisal"], version)
                     if "appraisal" in data else None)
        return cls(version, dict(weights), dict(penalties), *lists, appraisal)

    @classmethod
    def load(cls, path: Path | None = None) -> Scoring:
        file = path or DEFAULT_SCORING
        return cls.from_dict(json.loads(file.read_text()))

    def as_dict(self) -> dict[str, Any]:
        out = {"version": self.version, "weights": self.weights, "penalties": self.penalties,
               "red_list": {"min_score": self.red_min_score, "max_size": self.red_max_size},
               "black_list": {"max_score": self.black_max_score}}
        if self.appraisal is not None:
            out["appraisal"] = self.appraisal.as_dict()
        return out

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


EXCELLENT, FAILING = "优秀", "不称职"


@dataclass(frozen=True)
class Appraisal:
    """The annual staff appraisal (绩效考评) and its honour roll (光荣榜 of 先进工作者),
    from the year's staff rows of the bulletin (their counts, rates and composite score).

    - Appraised (参评): ranked in the year, with at least ``min_accepted`` cases accepted.
    - Honour roll: appraised, score ≥ ``honour_roll.min_score`` and every count named in
      ``honour_roll.clean`` zero; best first, up to max(1, ⌊``max_share`` × appraised⌋)
      places (equal scores share a place, so a tie on the last place is honoured whole).
    - Grade (等次): 优秀 on the honour roll; otherwise the first of ``grades`` whose
      ``min_score`` the score reaches; otherwise 不称职. Not appraised: no grade.
    """

    version: str
    min_accepted: int
    honour_min_score: float
    honour_max_share: float
    clean: tuple[str, ...]
    grades: tuple[tuple[str, float], ...]  # (等次, min score), highest first

    @classmethod
    def from_dict(cls, data: Any, version: str) -> Appraisal:
        """Raises ValueError naming the part of the ``appraisal`` section that is wrong."""
        try:
            honour = data["honour_roll"]
            clean = tuple(honour.get("clean", ()))
            grades = tuple((str(g["grade"]), float(g["min_score"])) for g in data["grades"])
            out = cls(version, int(data["min_accepted"]), float(honour["min_score"]),
                      float(honour["max_share"]), clean, grades)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"appraisal: {error!r}") from None
        for name in clean:
            if name not in COUNT_KEYS:
                raise ValueError(f"appraisal.honour_roll.clean.{name}: not a count of the "
                                 "bulletin")
        if not 0 < out.honour_max_share <= 1:
            raise ValueError("appraisal.honour_roll.max_share: must be in (0, 1]")
        if [g[1] for g in grades] != sorted((g[1] for g in grades), reverse=True):
            raise ValueError("appraisal.grades: must go from the highest min_score down")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"min_accepted": self.min_accepted,
                "honour_roll": {"min_score": self.honour_min_score,
                                "max_share": self.honour_max_share, "clean": list(self.clean)},
                "grades": [{"grade": g, "min_score": m} for g, m in self.grades]}

    def grade(self, score: float) -> str:
        return next((g for g, least in self.grades if score >= least), FAILING)

    def appraise(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The appraisal of a year's staff rows (scored and ranked by :class:`Scoring`)."""
        appraised = [r for r in rows if r["ranked"] and r["accepted"] >= self.min_accepted]
        places = max(1, math.floor(self.honour_max_share * len(appraised))) if appraised else 0
        candidates = sorted((r for r in appraised if r["score"] >= self.honour_min_score
                             and not any(r[k] for k in self.clean)),
                            key=lambda r: (-r["score"], r["hall_id"], r["staff_id"]))
        honoured: list[dict[str, Any]] = []
        for n, row in enumerate(candidates, 1):
            place = n if not honoured or honoured[-1]["score"] != row["score"] else \
                honoured[-1]["place"]
            if place > places:
                break
            honoured.append({**_who(row), "score": row["score"], "place": place})
        on_roll = {(h["hall_id"], h["staff_id"]) for h in honoured}
        staff = []
        for row in sorted(appraised, key=lambda r: (-r["score"], r["hall_id"], r["staff_id"])):
            key = (row["hall_id"], row["staff_id"])
            staff.append({**_who(row), "score": row["score"], "accepted": row["accepted"],
                          "on_time_rate": row["on_time_rate"],
                          "satisfaction_rate": row["satisfaction_rate"],
                          "grade": EXCELLENT if key in on_roll else self.grade(row["score"]),
                          "not_clean": [k for k in self.clean if row[k]]})
        return {"version": self.version, "appraised": len(appraised),
                "not_appraised": len(rows) - len(appraised), "honour_places": places,
                "honour_roll": honoured, "staff": staff}


def _who(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ("hall_id", "staff_id", "name", "hall_name")}
