"""Every process logs JSON lines through one set-up; kafka-python is kept at WARNING and a
missing topic is said once; a worker failing the same way again says it once."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from services.common import logs
from services.common.workers import Worker


def test_a_service_line_is_one_json_object_with_time_level_logger_and_message(log_lines):
    logging.getLogger("hallwatch.intake").info("loaded %d calendar years", 2)
    logging.getLogger("hallwatch.intake").debug("not at INFO")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("hallwatch.relay").exception("round failed")
    first, second = log_lines()
    assert {k: first[k] for k in ("level", "logger", "message")} == {
        "level": "INFO", "logger": "hallwatch.intake", "message": "loaded 2 calendar years"}
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR" and "ValueError: boom" in second["error"]


def test_kafka_pythons_info_chatter_is_dropped_and_its_warnings_kept(log_lines):
    logging.getLogger("kafka.conn").info("<BrokerConnection ...>: connecting")
    logging.getLogger("kafka.coordinator").warning("Heartbeat failed")
    assert [(r["logger"], r["level"]) for r in log_lines()] == [("kafka.coordinator", "WARNING")]


def test_a_missing_topic_is_said_once_plainly_not_at_every_metadata_refresh(log_lines):
    cluster = logging.getLogger("kafka.cluster")
    for _ in range(50):
        cluster.error("Topic %s not found in cluster metadata", "hall.events")
        cluster.warning("Topic %s is not available during auto-create initialization",
                        "hall.events")
    cluster.error("Topic %s not found in cluster metadata", "supervision.alerts")
    said = log_lines()
    assert [(r["logger"], r["level"], r["message"]) for r in said] == [
        ("hallwatch.kafka", "ERROR", "Kafka topic 'hall.events' does not exist: create it "
         "(docs/deployment.md, Topics); hallwatch keeps trying and says this once"),
        ("hallwatch.kafka", "ERROR", "Kafka topic 'supervision.alerts' does not exist: "
         "create it (docs/deployment.md, Topics); hallwatch keeps trying and says this once"),
    ]


def test_access_lines_carry_the_requests_fields_and_follow_the_level(log_lines):
    fields = {"method": "GET", "route": "/v1/halls", "status": 200, "ms": 1.5,
              "principal": "bureau"}
    logging.getLogger(logs.ACCESS_LOGGER).info(json.dumps(fields), extra={
        "fields": fields, "summary": "request"})
    (line,) = log_lines()
    assert line["message"] == "request" and line["route"] == "/v1/halls"
    assert line["logger"] == "hallwatch.access" and line["principal"] == "bureau"


def test_the_level_is_a_setting_and_a_wrong_one_is_refused_naming_the_levels(monkeypatch):
    from services.common.settings import SettingsError, load_settings

    monkeypatch.setenv("HALLWATCH_LOG_LEVEL", "warning")
    assert load_settings().log_level == "WARNING"
    monkeypatch.setenv("HALLWATCH_LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError, match="LOG_LEVEL"):
        load_settings()


def test_a_worker_failing_the_same_way_says_it_once_then_says_when_it_recovers(log_lines):
    stop = threading.Event()
    rounds = iter([RuntimeError("topic missing")] * 4 + [True, None])

    def step():
        outcome = next(rounds)
        if isinstance(outcome, Exception):
            raise outcome
        if outcome is None:
            stop.set()
        return outcome

    worker = Worker("relay-test", step, stop, 0.001)
    worker.run()  # in this thread, until the last round stops it
    said = [r for r in log_lines() if r["logger"] == "services.common.workers"]
    assert [(r["level"], r["message"]) for r in said] == [
        ("ERROR", "relay-test: round failed (1 in a row)"),
        ("INFO", "relay-test: recovered after 4 failed rounds")]
    assert "RuntimeError: topic missing" in said[0]["error"]
