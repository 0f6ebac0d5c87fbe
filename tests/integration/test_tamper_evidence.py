"""The chain across the whole event log: rows edited, deleted (the last one too), swapped
or cut off directly in SQLite and in PostgreSQL are each detected and named, by the API,
the verifier and the command; never a 500."""

from __future__ import annotations

import json
import uuid

import pytest
from kafka import KafkaConsumer

from hallwatch.case import case_id
from services.common.clickhouse import connect
from services.common.relay import producer
from services.common.settings import Settings, SettingsError
from services.intake.audit import verify_command
from services.intake.heads import HeadPublisher, ensure_topic, published
from services.intake.service import build
from tests.builders import accepted, completed
from tests.conftest import AUDITOR_KEY, BUREAU_KEY, HALL_KEY, auth, bearer


def raw(store, sql, params=()):
    """SQL straight on the event store's database, as an insider would run it."""
    recorder = store.recorder
    sqlite = store.env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite"
    sql = sql.format(t=recorder.events_table_name,
                     pos="rowid" if sqlite else "notification_id")
    if not sqlite:
        sql = sql.replace("?", "%s")
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(sql, list(params))
        try:
            return [dict(r) for r in cursor.fetchall()]
        except Exception:  # statements without rows
            return []


def positions(store, case_no=None):
    """Log positions of every stored event, or of one case's events, in log order."""
    if case_no is None:
        return [r["p"] for r in raw(store, "SELECT {pos} AS p FROM {t} ORDER BY {pos}")]
    sqlite = store.env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite"
    uuid = case_id(case_no)
    return [r["p"] for r in raw(store, "SELECT {pos} AS p FROM {t} WHERE originator_id = ? "
                                "ORDER BY {pos}", [uuid.hex if sqlite else uuid])]


@pytest.fixture
def filled(client, intake):
    """Three cases, six events, each linked in the log chain."""
    for no in ("C1", "C2", "C3"):
        assert client.post("/v1/events", content=json.dumps(accepted(no)),
                           headers=auth(HALL_KEY)).status_code == 201
        assert client.post("/v1/events", content=json.dumps(
            completed(no, "2026-10-09T10:00:00+08:00")), headers=auth(HALL_KEY)
        ).status_code == 201
    return intake.store


def verify(client, **params):
    answer = client.get("/v1/audit/verify", params=params, headers=bearer(AUDITOR_KEY))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_an_untouched_log_verifies_every_link(client, filled):
    whole = verify(client)
    assert whole["verified"] is True and whole["broken"] is None
    assert whole["checked"] == len(positions(filled)) and whole["unsealed"] == 0
    assert verify(client, case="C2")["verified"] is True


def test_an_edited_row_is_named_and_its_history_answers_not_500(client, filled):
    at = positions(filled, "C2")[0]  # C2's opening event
    raw(filled, "UPDATE {t} SET state = ? WHERE {pos} = ?", [b"not what was stored", at])
    whole = verify(client)
    assert whole["verified"] is False
    assert whole["broken"]["position"] == at and "edited" in whole["broken"]["reason"]
    history = client.get("/v1/cases/C2/history", params={"reason": "定期核查"},
                         headers=bearer(AUDITOR_KEY))
    assert history.status_code == 200
    assert history.json()["verified"] is False
    assert history.json()["broken_at_sequence"] == 1
    assert "decrypt" in history.json()["broken_reason"]
    case = verify(client, case="C2")
    assert case["verified"] is False and case["broken"]["sequence"] == 1


def test_deleting_a_cases_last_event_is_detected(client, filled):
    last = positions(filled, "C3")[-1]  # C3's completion, the newest case event
    raw(filled, "DELETE FROM {t} WHERE {pos} = ?", [last])
    whole = verify(client)
    assert whole["verified"] is False
    assert whole["broken"]["position"] == last and "deleted" in whole["broken"]["reason"]
    history = client.get("/v1/cases/C3/history", headers=bearer(BUREAU_KEY)).json()
    assert history["verified"] is False and history["broken_at_sequence"] == 2
    assert verify(client, case="C3")["broken"]["sequence"] == 2


def test_deleting_the_newest_row_of_the_log_is_detected(client, filled):
    newest = positions(filled)[-1]
    raw(filled, "DELETE FROM {t} WHERE {pos} = ?", [newest])
    whole = verify(client)
    assert whole["verified"] is False and whole["broken"]["position"] == newest


def test_swapping_two_rows_is_detected_at_the_first(client, filled):
    first, second = positions(filled, "C1")[0], positions(filled, "C2")[0]
    rows = raw(filled, "SELECT {pos} AS p, state FROM {t} WHERE {pos} IN (?, ?)",
               [first, second])
    states = {r["p"]: bytes(r["state"]) for r in rows}
    raw(filled, "UPDATE {t} SET state = ? WHERE {pos} = ?", [states[second], first])
    raw(filled, "UPDATE {t} SET state = ? WHERE {pos} = ?", [states[first], second])
    whole = verify(client)
    assert whole["verified"] is False and whole["broken"]["position"] == first


def test_cutting_the_newest_events_and_their_links_fails_against_the_published_head(
        client, filled, intake):
    clickhouse = connect(intake.store_settings.clickhouse_url)
    try:
        intake.clickhouse = clickhouse
        publisher = HeadPublisher(filled.log_chain, clickhouse, filled.clock)
        assert publisher.run_once() == 1
        assert verify(client)["verified"] is True and verify(client)["published_heads"] == 1
        # The insider removes the last two events and their links: locally consistent.
        cut = positions(filled)[-2]
        raw(filled, "DELETE FROM {t} WHERE {pos} >= ?", [cut])
        raw(filled, "DELETE FROM hallwatch_log_chain WHERE log_position >= ?", [cut])
        assert filled.log_chain.verify().verified is True  # without the published head
        whole = verify(client)
        assert whole["verified"] is False
        assert "published head" in whole["broken"]["reason"]
        assert whole["broken"]["position"] > cut
    finally:
        intake.clickhouse = None
        clickhouse.close()


def test_the_verify_command_exits_1_and_names_the_break(filled, intake, capsys):
    assert verify_command(intake.store_settings, None) == 0
    capsys.readouterr()
    at = positions(filled, "C1")[1]  # C1's completion
    raw(filled, "DELETE FROM {t} WHERE {pos} = ?", [at])
    assert verify_command(intake.store_settings, None) == 1
    whole = json.loads(capsys.readouterr().out)
    assert whole["broken"]["position"] == at
    assert verify_command(intake.store_settings, "C1") == 1
    case = json.loads(capsys.readouterr().out)
    assert case["scope"] == "C1" and case["broken"]["sequence"] == 2


def test_only_auditors_and_the_bureau_may_verify(client):
    assert client.get("/v1/audit/verify", headers=bearer(HALL_KEY)).status_code == 403


def test_production_refuses_to_run_without_a_chain_key_of_its_own(tmp_path):
    settings = Settings(data_dir=tmp_path, event_store="postgresql://h@127.0.0.1:1/db")
    with pytest.raises(SettingsError, match="HALLWATCH_CHAIN_KEY"):
        settings.chain_secret()
    key_file = tmp_path / "elsewhere.key"
    key_file.write_text("Y2hhaW4ta2V5LWZvci10ZXN0cy0wMDAwMDAwMDAwMDA=\n")
    assert len(Settings(data_dir=tmp_path, event_store="postgresql://h@127.0.0.1:1/db",
                        chain_key_file=str(key_file)).chain_secret()) == 32


def test_the_chain_key_is_not_derived_from_the_cipher_key(settings):
    import base64
    import hashlib

    derived = hashlib.sha256(b"hallwatch chain\0" + base64.b64decode(settings.cipher()))
    assert settings.chain_secret() not in (derived.digest(), base64.b64decode(settings.cipher()))


def test_the_head_is_published_on_its_own_kafka_topic_and_in_clickhouse(settings, clock,
                                                                        kafka):
    intake = build(settings, clock)
    intake.store.record(accepted("K1"), "H1")
    topic = f"chain-{uuid.uuid4().hex[:8]}"
    ensure_topic(kafka.bootstrap, topic)
    clickhouse = connect(settings.clickhouse_url)
    try:
        publisher = HeadPublisher(intake.store.log_chain, clickhouse, clock,
                                  producer(kafka.bootstrap), topic)
        assert publisher.run_once() == 1
        assert publisher.run_once() == 0  # nothing new: nothing published again
        head = intake.store.log_chain.head()
        consumer = KafkaConsumer(topic, bootstrap_servers=kafka.bootstrap,
                                 auto_offset_reset="earliest", consumer_timeout_ms=20000)
        message = next(iter(consumer))
        consumer.close()
        assert json.loads(message.value) == {"position": head.position, "link": head.link,
                                             "published_at": clock.now.isoformat()}
        assert published(clickhouse) == [head]
    finally:
        clickhouse.close()
        intake.store.close()


def test_an_auditors_clear_read_needs_a_reason_and_is_shown_to_the_bureau(client, filled, clock):
    no_reason = client.get("/v1/cases/C1/history", headers=bearer(AUDITOR_KEY))
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    assert client.get("/v1/audit/reads", headers=bearer(BUREAU_KEY)).json()["reads"] == []
    for no in ("C1", "C2"):
        assert client.get(f"/v1/cases/{no}/history", params={"reason": "投诉核查 17号"},
                          headers=bearer(AUDITOR_KEY)).status_code == 200
    client.get("/v1/cases/C1/history", headers=bearer(BUREAU_KEY))  # masked: not a clear read
    reads = client.get("/v1/audit/reads", headers=bearer(BUREAU_KEY)).json()
    assert [(r["principal"], r["case_no"], r["reason"], r["what"]) for r in reads["reads"]] == [
        ("audit", "C1", "投诉核查 17号", "history"), ("audit", "C2", "投诉核查 17号", "history")]
    assert reads["reads"][0]["read_at"] == clock.now.isoformat()
    only = client.get("/v1/audit/reads", params={"case": "C2", "limit": 1},
                      headers=bearer(BUREAU_KEY)).json()
    assert [r["case_no"] for r in only["reads"]] == ["C2"] and only["next"] is None
    assert client.get("/v1/audit/reads", headers=bearer(AUDITOR_KEY)).status_code == 403
    unknown = client.get("/v1/cases/NOPE/history", params={"reason": "投诉核查 17号"},
                         headers=bearer(AUDITOR_KEY))
    assert unknown.status_code == 404
    assert len(client.get("/v1/audit/reads", headers=bearer(BUREAU_KEY)).json()["reads"]) == 2
