"""Group commit on a real intake process: concurrent single events share transactions,
and an answer never comes before the commit that holds its event — even across a crash."""

from __future__ import annotations

import http.client
import re
import threading
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from hallwatch.case import case_id
from services.intake.store import HallStore
from tests.builders import accepted
from tests.conftest import BUREAU_KEY, CHAIN_KEY, HALL_KEY, KEYS, FixedClock, embedded_settings
from tests.e2e.procs import Service, call, free_port

pytestmark = pytest.mark.slow
CLIENTS = 32
NOW = "fixed:2026-10-12T10:00:00+08:00"


def intake_process(tmp_path: Path, event_store: str = "", log_name: str = "intake"
                   ) -> Service:
    env = {"HALLWATCH_DATA_DIR": str(tmp_path / "var"), "HALLWATCH_KEYS": KEYS,
           "HALLWATCH_CHAIN_KEY": CHAIN_KEY, "HALLWATCH_CLOCK": NOW}
    if event_store:
        env["HALLWATCH_EVENT_STORE"] = event_store
    log_dir = tmp_path / log_name
    log_dir.mkdir()
    return Service("intake", env, log_dir, free_port()).start()


def reader(tmp_path: Path, event_store: str = "") -> HallStore:
    """The same store, opened by this test process (the cipher key is in the data dir)."""
    overrides = {"event_store": event_store} if event_store else {}
    return HallStore(embedded_settings(tmp_path / "var", chain_key=CHAIN_KEY, **overrides),
                     FixedClock())


def group_sizes(url: str) -> tuple[float, float]:
    """(groups committed, events in them) from the intake's Prometheus metrics."""
    request = urllib.request.Request(f"{url}/metrics",
                                     headers={"Authorization": f"Bearer {BUREAU_KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    count = re.search(r"^hallwatch_intake_group_events_count (\S+)$", text, re.M)
    total = re.search(r"^hallwatch_intake_group_events_sum (\S+)$", text, re.M)
    assert count and total, "the group-size metric is exposed"
    return float(count.group(1)), float(total.group(1))


def post_all_at_once(url: str, bodies: list[dict[str, Any]],
                     on_answer: Callable[[dict[str, Any], int, Any], Any]) -> list[Any]:
    """POST every body from its own client, all released together; ``on_answer`` runs in
    the client's thread the moment its answer arrives."""
    start = threading.Barrier(len(bodies))

    def one(body: dict[str, Any]) -> Any:
        start.wait()
        status, answer = call(f"{url}/v1/events", "POST", HALL_KEY, body)
        return on_answer(body, status, answer)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return ""
    postgres = request.getfixturevalue("postgres")
    return str(postgres.create_database(f"gc_{free_port()}"))


def test_each_concurrent_post_is_answered_only_once_its_event_is_readable_in_the_store(
        tmp_path, store_url):
    intake = intake_process(tmp_path, store_url)
    store = reader(tmp_path, store_url)
    try:
        def readable_on_answer(body: dict[str, Any], status: int, answer: Any) -> bool:
            assert status == 201, answer
            # Read at once, before anything else happens: the commit came before the answer.
            case = store.case(body["subject"])
            return bool(case.summary.status == "accepted" and case.version == 1)

        for round_ in range(3):
            bodies = [accepted(f"GC-{round_}-{n}", time="2026-10-12T09:00:00+08:00")
                      for n in range(CLIENTS)]
            assert all(post_all_at_once(intake.url, bodies, readable_on_answer))
        groups, events = group_sizes(intake.url)
        assert events == 3 * CLIENTS
        assert groups < events, "concurrent posts shared transactions"
        if store_url:  # PostgreSQL shows it directly: rows of one transaction share xmin
            table = sql.Identifier(*store.recorder.events_table_name.split("."))  # type: ignore[attr-defined]
            with psycopg.connect(store_url) as conn:
                transactions = conn.execute(sql.SQL(
                    "SELECT count(DISTINCT xmin::text) FROM {}").format(table)).fetchone()
            assert transactions is not None and transactions[0] < 3 * CLIENTS
    finally:
        store.close()
        intake.stop()


def test_a_refused_event_in_a_concurrent_crowd_gets_its_own_answer_and_the_others_are_stored(
        tmp_path):
    intake = intake_process(tmp_path)
    store = reader(tmp_path)
    try:
        again = accepted("GC-AGAIN", time="2026-10-12T09:00:00+08:00")
        assert call(f"{intake.url}/v1/events", "POST", HALL_KEY, again)[0] == 201
        good = [accepted(f"GC-OK-{n}", time="2026-10-12T09:00:00+08:00") for n in range(28)]
        unknown_case = {**accepted("GC-NONE"), "type": "cn.gov.hall.case.completed",
                        "data": {"result": "approved"}}
        changed = {**again, "data": {**again["data"], "promised_days": 9}}
        other_hall = accepted("GC-H2", hall="H2")
        answers = post_all_at_once(intake.url, [*good, unknown_case, changed, other_hall,
                                                again],
                                   lambda body, status, answer: (body, status, answer))
        by_subject = {body["subject"]: (status, answer) for body, status, answer in answers
                      if body is not changed}
        assert all(by_subject[b["subject"]][0] == 201 for b in good)
        assert by_subject["GC-NONE"][0] == 409
        assert by_subject["GC-NONE"][1]["field"] == "subject"
        assert by_subject["GC-H2"][0] == 403
        assert by_subject["GC-AGAIN"][0] == 200
        changed_status, changed_answer = next((s, a) for b, s, a in answers if b is changed)
        assert (changed_status, changed_answer["field"]) == (409, "id")
        for body in good:
            assert store.case(body["subject"]).version == 1
        assert store.case("GC-AGAIN").version == 1
        assert store.recorder.select_events(case_id("GC-NONE")) == []
        assert store.recorder.select_events(case_id("GC-H2")) == []
    finally:
        store.close()
        intake.stop()


def test_killing_the_intake_mid_group_loses_no_acknowledged_event(tmp_path, postgres):
    dsn = postgres.create_database(f"gc_crash_{free_port()}")
    intake = intake_process(tmp_path, dsn)
    acknowledged: list[dict[str, Any]] = []
    unanswered: list[dict[str, Any]] = []
    refused: list[Any] = []
    lock = threading.Lock()
    enough = threading.Event()

    def keep_posting(client: int) -> None:
        for n in range(10_000):
            body = accepted(f"CRASH-{client}-{n}", time="2026-10-12T09:00:00+08:00")
            try:
                status, _ = call(f"{intake.url}/v1/events", "POST", HALL_KEY, body)
            except (OSError, http.client.HTTPException):  # died with this request in flight
                with lock:
                    unanswered.append(body)
                return
            with lock:
                (acknowledged if status == 201 else refused).append(body)
                if len(acknowledged) >= 300:
                    enough.set()

    clients = [threading.Thread(target=keep_posting, args=(c,)) for c in range(CLIENTS)]
    for client in clients:
        client.start()
    assert enough.wait(timeout=300), "the intake acknowledged 300 events"
    intake.kill()  # SIGKILL while groups are being committed
    for client in clients:
        client.join(timeout=60)
    assert not refused
    store = reader(tmp_path, dsn)
    try:
        for body in acknowledged:
            case = store.case(body["subject"])
            assert case.version == 1
        # What was in flight may or may not be stored; sent again, each is stored once.
        restarted = intake_process(tmp_path, dsn, log_name="intake-again")
        try:
            for body in unanswered:
                status, answer = call(f"{restarted.url}/v1/events", "POST", HALL_KEY, body)
                assert status in (200, 201), answer
                assert store.case(body["subject"]).version == 1
        finally:
            restarted.stop()
    finally:
        store.close()
