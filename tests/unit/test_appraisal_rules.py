"""The annual staff appraisal's rules come from the scoring file and grade by hand."""

from __future__ import annotations

import pytest

from services.projections.figures import COUNT_KEYS
from services.projections.scoring import Scoring

RULES = Scoring.load()


def staff(staff_id, score, accepted=30, ranked=True, **counts):
    row = dict.fromkeys(COUNT_KEYS, 0)
    row.update(hall_id="H1", staff_id=staff_id, name=None, hall_name=None, score=score,
               ranked=ranked, accepted=accepted, on_time_rate=1.0, satisfaction_rate=None,
               **counts)
    return row


def test_the_deploy_file_sets_the_appraisal():
    appraisal = RULES.appraisal
    assert appraisal is not None and appraisal.version == "scoring.v1"
    assert (appraisal.min_accepted, appraisal.honour_min_score,
            appraisal.honour_max_share) == (20, 95.0, 0.2)
    assert appraisal.grades == (("称职", 75.0), ("基本称职", 60.0))
    assert Scoring.from_dict(RULES.as_dict()) == RULES


def test_ten_staff_share_two_places_and_a_tie_on_the_last_place_is_honoured_whole():
    assert RULES.appraisal is not None
    rows = [staff("A", 100.0), staff("B", 97.0), staff("C", 97.0),
            staff("D", 99.0, red_cards=1), staff("E", 96.0), staff("F", 80.0),
            staff("G", 70.0), staff("H", 59.99), staff("I", 75.0), staff("J", 60.0),
            staff("K", 100.0, accepted=19), staff("L", None, ranked=False)]
    result = RULES.appraisal.appraise(rows)
    # 10 appraised (K has 19 cases, L none ranked): ⌊0.2 × 10⌋ = 2 places.
    assert (result["appraised"], result["not_appraised"], result["honour_places"]) == (10, 2, 2)
    assert [(h["staff_id"], h["place"]) for h in result["honour_roll"]] == [
        ("A", 1), ("B", 2), ("C", 2)]  # D has a red card; E comes fourth
    grades = {s["staff_id"]: s["grade"] for s in result["staff"]}
    assert grades == {"A": "优秀", "B": "优秀", "C": "优秀", "D": "称职", "E": "称职",
                      "F": "称职", "I": "称职", "G": "基本称职", "J": "基本称职",
                      "H": "不称职"}
    assert next(s for s in result["staff"] if s["staff_id"] == "D")["not_clean"] == [
        "red_cards"]


def test_a_small_team_still_has_one_place():
    assert RULES.appraisal is not None
    result = RULES.appraisal.appraise([staff("A", 96.0), staff("B", 98.0)])
    assert result["honour_places"] == 1
    assert [h["staff_id"] for h in result["honour_roll"]] == ["B"]


@pytest.mark.parametrize("change,field", [
    ({"min_accepted": "many"}, "appraisal"),
    ({"honour_roll": {"min_score": 95, "max_share": 1.5}}, "max_share"),
    ({"honour_roll": {"min_score": 95, "max_share": 0.2, "clean": ["on_time_rate"]}},
     "clean.on_time_rate"),
    ({"grades": [{"grade": "基本称职", "min_score": 60}, {"grade": "称职", "min_score": 75}]},
     "grades"),
])
def test_a_wrong_appraisal_section_is_refused_naming_the_part(change, field):
    data = RULES.as_dict()
    data["appraisal"] = {**data["appraisal"], **change}
    with pytest.raises(ValueError, match=field):
        Scoring.from_dict(data)
