"""Group commit in the store: single events waiting together are judged one by one and
saved in one transaction, each answered as if it had been alone (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from hallwatch.case import case_id
from hallwatch.errors import Forbidden, IdempotencyConflict, ImpossibleSequence
from services.intake.groups import GroupCommitter
from services.intake.store import GROUP_LIMIT, Recorded
from tests.builders import accepted, completed

Item = tuple[dict[str, Any], str | None]


class HeldFirstGroup:
    """The store's own group commit, holding its first group until released, so that
    everything submitted meanwhile waits and forms the next group (no timing involved)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.sizes: list[int] = []
        self.first_taken = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: Sequence[Item]) -> list[Recorded | Exception]:
        self.sizes.append(len(items))
        if len(self.sizes) == 1:
            self.first_taken.set()
            assert self.release.wait(timeout=60)
        return self.store.record_each(items)  # type: ignore[no-any-return]


@pytest.fixture
def held(intake):
    holder = HeldFirstGroup(intake.store)
    intake.store.groups = GroupCommitter(holder, GROUP_LIMIT)
    return holder


def test_waiting_events_share_one_transaction_and_each_gets_its_own_answer(intake, held):
    store = intake.store
    first = store.submit(accepted("G0", time="2026-10-12T09:00:00+08:00"), "H1")
    assert held.first_taken.wait(timeout=60)
    again = accepted("G-AGAIN", time="2026-10-12T09:00:00+08:00")
    store.record_batch([again], "H1")  # stored before: its re-post answers 200
    crowd = {
        "fine": [store.submit(accepted(f"G{n}", time="2026-10-12T09:00:00+08:00"), "H1")
                 for n in range(1, 30)],
        "unknown case": store.submit(completed("G-NONE", "2026-10-12T09:10:00+08:00"), "H1"),
        "another hall": store.submit(accepted("G-H2", hall="H2"), "H1"),
        "same id, new content": store.submit(
            {**again, "data": {**again["data"], "promised_days": 9}}, "H1"),
        "again": store.submit(again, "H1"),
        # Two events of one case in one group: the second sees the first.
        "opens": store.submit(accepted("G-PAIR", time="2026-10-12T09:00:00+08:00"), "H1"),
        "closes": store.submit(completed("G-PAIR", "2026-10-12T09:20:00+08:00"), "H1"),
    }
    held.release.set()
    assert first.result(timeout=60).created
    assert held.sizes == [1, 35]
    assert all(f.result(timeout=60).created for f in crowd["fine"])
    with pytest.raises(ImpossibleSequence):
        crowd["unknown case"].result(timeout=60)
    with pytest.raises(Forbidden):
        crowd["another hall"].result(timeout=60)
    with pytest.raises(IdempotencyConflict):
        crowd["same id, new content"].result(timeout=60)
    assert not crowd["again"].result(timeout=60).created
    assert crowd["closes"].result(timeout=60).sequence == 2
    assert store.case("G-PAIR").summary.status == "completed"
    positions = [f.result().position for f in crowd["fine"]]
    assert positions == sorted(positions)  # saved in the order they were submitted
    assert store.recorder.select_events(case_id("G-NONE")) == []
    assert store.recorder.select_events(case_id("G-H2")) == []


def test_an_idle_committer_commits_a_lone_event_at_once_in_a_group_of_one(intake, held):
    held.release.set()
    for n in range(3):
        recorded = intake.store.record(accepted(f"L{n}", time="2026-10-12T09:00:00+08:00"),
                                       "H1")
        assert recorded.created and recorded.sequence == 1
    assert held.sizes == [1, 1, 1]


def test_a_closed_intake_refuses_new_events_after_committing_those_waiting(intake, held):
    waiting = intake.store.submit(accepted("W1", time="2026-10-12T09:00:00+08:00"), "H1")
    assert held.first_taken.wait(timeout=60)
    held.release.set()
    intake.store.groups.close()
    assert waiting.result(timeout=60).created
    with pytest.raises(RuntimeError, match="shutting down"):
        intake.store.submit(accepted("W2"), "H1")
