from datetime import datetime, timedelta
from uuid import uuid4

from services.supervision.timetable import Timetable

T0 = datetime.fromisoformat("2026-11-02T09:00:00+08:00")


def test_the_earliest_moment_follows_moves_and_removals():
    table = Timetable()
    a, b, c = uuid4(), uuid4(), uuid4()
    table.set(a, T0 + timedelta(hours=3), "A")
    table.set(b, T0 + timedelta(hours=1), "B")
    table.set(c, T0 + timedelta(hours=2), "C")
    assert table.earliest() == T0 + timedelta(hours=1)
    table.set(b, T0 + timedelta(hours=5), "B")  # moved later
    assert table.earliest() == T0 + timedelta(hours=2)
    table.discard(c)
    assert table.earliest() == T0 + timedelta(hours=3)
    table.discard(a)
    table.discard(b)
    assert table.earliest() is None and len(table) == 0


def test_what_is_due_stays_due_until_the_caller_moves_or_removes_it():
    table = Timetable()
    a, b = uuid4(), uuid4()
    table.set(a, T0, "A")
    table.set(a, T0, "A")  # set twice: listed once
    table.set(b, T0 + timedelta(days=1), "B")
    assert table.due(T0) == [(a, "A")]
    assert table.due(T0) == [(a, "A")]  # not fired yet: still due
    table.set(a, T0 + timedelta(days=2), "A")
    assert table.due(T0 + timedelta(days=1)) == [(b, "B")]
    assert set(table) == {a, b}


def test_many_moves_keep_the_heap_bounded():
    table = Timetable()
    ident = uuid4()
    for n in range(5000):
        table.set(ident, T0 + timedelta(minutes=n))
    assert table.earliest() == T0 + timedelta(minutes=4999)
    assert len(table._heap) <= 2 * len(table) + 1024


def test_a_bounded_look_gives_the_earliest_wanted_first_and_leaves_the_rest_due():
    table = Timetable()
    idents = [uuid4() for _ in range(10)]
    for n, ident in enumerate(idents):
        table.set(ident, T0 + timedelta(minutes=n), "mine" if n % 2 == 0 else "theirs")
    mine = [i for n, i in enumerate(idents) if n % 2 == 0]
    later = T0 + timedelta(hours=1)
    assert table.due(later, limit=3, wanted=lambda key: key == "mine") == \
        [(i, "mine") for i in mine[:3]]
    assert table.due(later, limit=3, wanted=lambda key: key == "mine") == \
        [(i, "mine") for i in mine[:3]]  # nothing fired: the same again
    for ident in mine[:3]:
        table.discard(ident)
    assert [i for i, _ in table.due(later, limit=100, wanted=lambda key: key == "mine")] == \
        mine[3:]
    assert len(table.due(later)) == 7  # the unwanted stayed due too
