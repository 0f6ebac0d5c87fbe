"""Notification channels in the directory, the outbox's choices and a delivery's life."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from hallwatch.directory import Directory
from hallwatch.errors import InvalidEvent
from hallwatch.notify import Channel, Delivery, Retry, outbox
from services.intake.directory import check

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "deploy" / "directory" / "sample-city.v1.json").read_text())
AT = datetime.fromisoformat("2026-10-13T23:59:00+08:00")
ALERT = {"alert_id": "d34fee2b-6460-54b8-89ec-311bba246176", "rule": "deadline.overdue",
         "severity": "red", "status": "raised", "hall_id": "main", "case_no": "C1",
         "raised_at": AT.isoformat()}
SMS = Channel("sms", "webhook", ("leaders",), "http://127.0.0.1:9/x", "SMS")
MAIL = Channel("mail", "email", ("duban@example.gov.cn",), on=("notice", "red_card"))


def with_channels(*channels: dict) -> dict:
    document = copy.deepcopy(SAMPLE)
    document["halls"][0]["notify"] = list(channels)
    return document


def test_the_sample_directory_names_its_main_halls_channels_with_a_key_name_not_a_key():
    directory = Directory.from_document(check(SAMPLE))
    (sms, mail) = directory.channels["main"]
    assert (sms.kind, sms.secret) == ("webhook", "SMS_GATEWAY")
    assert mail.kind == "email" and "yellow" not in mail.on


@pytest.mark.parametrize(("channel", "field"), [
    ({"id": "sms", "kind": "webhook", "to": ["x"], "url": "https://gw.example/api"},
     "halls.0.notify.0"),
    ({"id": "sms", "kind": "webhook", "to": ["x"], "url": "ftp://gw.example",
      "secret": "SMS"}, "halls.0.notify.0.url"),
    ({"id": "m", "kind": "email", "to": ["not an address"]}, "halls.0.notify.0.to.0"),
    ({"id": "m", "kind": "fax", "to": ["1"]}, "halls.0.notify.0.kind"),
    ({"id": "m", "kind": "email", "to": ["a@b.cn"], "on": ["green"]}, "halls.0.notify.0.on.0"),
    ({"id": "sms", "kind": "webhook", "to": ["x"], "url": "https://gw.example/api",
      "secret": "the key itself, pasted"}, "halls.0.notify.0.secret"),
])
def test_a_malformed_channel_is_refused_naming_its_field(channel, field):
    with pytest.raises(InvalidEvent) as refused:
        check(with_channels(channel))
    assert refused.value.field == field


def test_two_channels_of_one_hall_may_not_share_an_id():
    mail = {"id": "c", "kind": "email", "to": ["a@b.cn"]}
    with pytest.raises(InvalidEvent) as refused:
        check(with_channels(mail, mail))
    assert refused.value.field == "halls.0.notify"


def test_the_outbox_queues_one_delivery_per_channel_told_of_the_occasion():
    channels = {"main": (SMS, MAIL)}
    raised = outbox([("Raised", ALERT)], channels, {"main": "主厅"}, AT)
    assert [d.key for d in raised] == [f"{ALERT['alert_id']}/red/sms"]
    noticed = outbox([("NoticeIssued", {**ALERT, "status": "noticed"})], channels, {}, AT)
    assert sorted(d.channel.id for d in noticed) == ["mail", "sms"]


def test_findings_other_halls_and_other_changes_queue_nothing():
    channels = {"main": (SMS,)}
    assert outbox([("Raised", {**ALERT, "severity": "finding"})], channels, {}, AT) == []
    assert outbox([("Raised", {**ALERT, "hall_id": "other"})], channels, {}, AT) == []
    assert outbox([("Acknowledged", ALERT), ("Cleared", ALERT)], channels, {}, AT) == []


def test_the_waits_double_after_each_failure_up_to_the_cap_then_it_is_given_up():
    retry = Retry(attempts=4, base=timedelta(seconds=30), cap=timedelta(seconds=100))
    (delivery,) = outbox([("Raised", ALERT)], {"main": (SMS,)}, {}, AT)
    now, waits = AT, []
    while delivery.status != "given_up":
        delivery.start(now, retry)
        delivery.fail(now, "HTTP 503", retry)
        if delivery.status == "pending":
            waits.append(delivery.due_at() - now)
            now = delivery.due_at()
    assert waits == [timedelta(seconds=s) for s in (30, 60, 100)]
    assert delivery.attempts == 4 and delivery.due_at() is None


def test_a_delivery_is_claimed_once_and_a_lapsed_claim_counts_as_a_failed_attempt():
    retry = Retry(lease=timedelta(seconds=50))
    delivery = Delivery(key="k", alert_id=str(UUID(int=1)), occasion="red", hall_id="main",
                        channel=SMS, subject="s", text="t", payload={}, queued_at=AT.isoformat())
    delivery.start(AT, retry)
    assert delivery.due_at() == AT + timedelta(seconds=50)
    with pytest.raises(ValueError):
        delivery.start(AT, retry)  # claimed already
    delivery.lapse(AT + timedelta(seconds=50), retry)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert "no outcome recorded" in delivery.history[-1]["error"]


def test_a_channels_key_comes_from_its_variable_or_else_the_secrets_file(tmp_path,
                                                                         monkeypatch):
    from services.common.settings import Settings

    secrets = tmp_path / "notify-secrets.json"
    secrets.write_text(json.dumps({"SMS_GATEWAY": "from-the-file", "OTHER": "other-key"}))
    settings = Settings(data_dir=tmp_path, notify_secrets_file=str(secrets))
    monkeypatch.delenv("HALLWATCH_NOTIFY_SECRET_SMS_GATEWAY", raising=False)
    assert settings.notify_secret("SMS_GATEWAY") == b"from-the-file"
    monkeypatch.setenv("HALLWATCH_NOTIFY_SECRET_SMS_GATEWAY", "from-the-variable")
    assert settings.notify_secret("SMS_GATEWAY") == b"from-the-variable"
    secrets.write_text(json.dumps({"OTHER": "rotated-key"}))  # re-read: no restart
    assert settings.notify_secret("OTHER") == b"rotated-key"
    assert settings.notify_secret("MISSING") is None
    secrets.unlink()
    assert settings.notify_secret("OTHER") is None
