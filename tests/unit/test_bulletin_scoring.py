"""The composite score, ranking and lists follow the versioned scoring file."""

from __future__ import annotations

import pytest

from services.projections.figures import COUNT_KEYS
from services.projections.scoring import Scoring

SCORING = Scoring.load()


def row(**values):
    base = dict.fromkeys(COUNT_KEYS, 0)
    base.update(on_time_rate=None, early_rate=None, satisfaction_rate=None,
                complaint_resolution_rate=None, rectification_rate=None)
    base.update(values)
    return base


def test_the_file_in_deploy_is_version_one():
    assert SCORING.version == "scoring.v1" and SCORING.weights["on_time_rate"] == 50


def test_missing_rates_drop_out_with_their_weight_and_penalties_subtract():
    assert SCORING.score(row(accepted=1, on_time_rate=0.8)) == 80.0
    assert SCORING.score(row(accepted=1, on_time_rate=1.0, satisfaction_rate=0.5)) == pytest.approx(
        100 * (50 + 10) / 70, abs=0.01)
    assert SCORING.score(row(accepted=1, on_time_rate=1.0, findings=3, red_cards=1)) == 92.0
    assert SCORING.score(row(accepted=1, on_time_rate=0.0, findings=3)) == 0.0  # floor
    assert SCORING.score(row(absences=2)) is None


def test_an_overdue_hall_stays_off_the_red_list_whatever_its_score():
    rows = [row(hall_id="A", accepted=5, on_time_base=5, on_time_rate=1.0),
            row(hall_id="B", accepted=5, on_time_base=5, on_time_rate=1.0, overdue_open=1),
            row(hall_id="C", accepted=5, on_time_base=5, on_time_rate=0.5, red_cards=1),
            row(hall_id="D", absences=3)]
    lenient = Scoring.from_dict({**SCORING.as_dict(), "version": "t",
                                 "penalties": {"red_cards": 0}})
    lenient.rank(rows)
    assert [r["rank"] for r in rows] == [1, 1, 3, None]  # B has no overdue penalty here
    assert [r["hall_id"] for r in lenient.red_list(rows)] == ["A"]
    assert [r["hall_id"] for r in lenient.black_list(rows)] == ["C"]


@pytest.mark.parametrize("change,field", [
    ({"version": ""}, "version"),
    ({"weights": {"accepted": 1}}, "weights.accepted"),
    ({"weights": {"on_time_rate": -1}}, "weights.on_time_rate"),
    ({"penalties": {"on_time_rate": 1}}, "penalties.on_time_rate"),
    ({"red_list": {}}, "red_list"),
])
def test_a_wrong_scoring_file_is_refused_naming_the_part(change, field):
    with pytest.raises(ValueError, match=field):
        Scoring.from_dict({**SCORING.as_dict(), **change})
