"""Named principals, console sessions and the access log, through the real services."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.common.auth import SESSION_COOKIE, Keyring, Unauthenticated
from services.common.identities import add_user
from services.common.settings import KeySpec
from tests.builders import accepted, event
from tests.conftest import BUREAU_KEY, HALL_KEY, bearer, embedded_settings
from tests.world import World

PASSWORD = "correct-horse-battery"
FILE_KEY = "file-key-for-hall-H9-0001"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    add_user(path, "zhangwei", "bureau", PASSWORD, name="张伟")
    add_user(path, "lina", "auditor", PASSWORD, name="李娜")
    return path


@pytest.fixture
def world(tmp_path, clock, keys_file):
    w = World(embedded_settings(tmp_path / "var", keys_file=str(keys_file)), clock)
    yield w
    w.close()


def sign_in(world, **body):
    return world.client.post("/v1/session", json=body)


def test_an_official_signs_in_with_name_and_password_into_an_httponly_strict_cookie(world):
    response = sign_in(world, user="zhangwei", password=PASSWORD)
    assert response.status_code == 200
    assert response.json() == {"signed_in": True, "id": "zhangwei", "name": "张伟",
                               "role": "bureau", "role_zh": "监管局"}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=hws1.")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    # The cookie now opens the ordinary API, as the bureau.
    assert world.client.get("/v1/alerts").status_code == 200
    assert world.client.get("/v1/session").json()["name"] == "张伟"


@pytest.mark.parametrize("body", [{"user": "zhangwei", "password": "wrong-password-1"},
                                  {"user": "nobody", "password": PASSWORD},
                                  {"key": "not-a-key-anyone-has-00"}])
def test_a_wrong_password_unknown_user_or_key_is_refused_and_sets_no_cookie(world, body):
    response = sign_in(world, **body)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "set-cookie" not in response.headers
    assert world.client.get("/v1/session").json() == {"signed_in": False, "id": "",
                                                       "name": "", "role": "",
                                                       "role_zh": ""}


def test_a_hall_key_is_a_principal_but_may_not_use_the_console(world):
    response = sign_in(world, key=HALL_KEY)
    assert response.status_code == 403 and response.json()["field"] == "role"
    assert "set-cookie" not in response.headers


def test_keys_from_the_environment_still_work_and_may_sign_in(world):
    assert world.client.get("/v1/alerts", headers=bearer(BUREAU_KEY)).status_code == 200
    response = sign_in(world, key=BUREAU_KEY)
    assert response.status_code == 200 and response.json()["id"] == "bureau"


def test_a_key_added_to_the_file_works_at_once_and_stops_when_removed(world, keys_file):
    headers = bearer(FILE_KEY)
    assert world.client.get("/v1/alerts", headers=headers).status_code == 401
    data = json.loads(keys_file.read_text())
    data["principals"].append({"id": "H9", "role": "hall", "name": "九号分厅",
                               "keys": [sha(FILE_KEY)]})
    keys_file.write_text(json.dumps(data))
    assert world.client.get("/v1/alerts", headers=headers).status_code == 200
    data["principals"].pop()
    keys_file.write_text(json.dumps(data))
    assert world.client.get("/v1/alerts", headers=headers).status_code == 401


def test_a_malformed_file_keeps_the_last_good_principals(world, keys_file):
    assert sign_in(world, user="zhangwei", password=PASSWORD).status_code == 200
    keys_file.write_text('{"principals": [')  # an editor saved half a file
    assert world.client.get("/v1/alerts").status_code == 200
    assert sign_in(world, user="lina", password=PASSWORD).status_code == 200


def test_a_new_password_ends_the_sessions_opened_with_the_old_one(world, keys_file):
    assert sign_in(world, user="zhangwei", password=PASSWORD).status_code == 200
    assert world.client.get("/v1/alerts").status_code == 200
    add_user(keys_file, "zhangwei", "bureau", "a-brand-new-password")
    response = world.client.get("/v1/alerts")
    assert response.status_code == 401 and "sign in again" in response.json()["detail"]


def test_a_tampered_session_token_is_refused(world):
    sign_in(world, user="lina", password=PASSWORD)
    token = world.client.cookies[SESSION_COOKIE]
    head, body, mac = token.rsplit(".", 2)
    forged = body.replace(body[5], "A" if body[5] != "A" else "B")  # e.g. role
    world.client.cookies.clear()
    for bad in (f"{head}.{forged}.{mac}", token[:-2]):
        response = world.client.get("/v1/alerts", headers=bearer(bad))
        assert response.status_code == 401


def test_a_session_expires_after_a_working_day():
    now = [1_800_000_000.0]
    keys = Keyring([KeySpec("bureau", "bureau", BUREAU_KEY)], session_secret=b"s" * 32,
                   clock=lambda: now[0])
    principal, token = keys.sign_in(key=BUREAU_KEY)
    assert keys.identify(token) == principal
    now[0] += 8 * 3600 + 1
    with pytest.raises(Unauthenticated, match="expired"):
        keys.identify(token)


def test_a_cross_origin_post_carried_by_the_cookie_is_refused(world):
    sign_in(world, user="zhangwei", password=PASSWORD)
    response = world.client.post("/v1/alerts/00000000-0000-0000-0000-000000000000/acknowledge",
                                 json={}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and response.json()["field"] == "Origin"


def test_sign_out_removes_the_cookie(world):
    sign_in(world, user="zhangwei", password=PASSWORD)
    response = world.client.delete("/v1/session")
    assert response.status_code == 200 and response.json()["signed_in"] is False
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert world.client.get("/v1/session").json()["signed_in"] is False


def test_each_action_on_an_alert_records_the_officials_name(world):
    world.send(accepted("LY-7", time="2026-10-12T09:00:00+08:00"))
    world.send(event("case.rejected", "LY-7", "2026-10-12T09:30:00+08:00",
                     {"category": "non_compliant", "reason": "材料不符合法定形式"}))
    world.settle()
    (alert,) = world.alerts(rule="rejection.incomplete")
    sign_in(world, user="zhangwei", password=PASSWORD)
    path = f"/v1/alerts/{alert['alert_id']}"
    assert world.client.post(f"{path}/acknowledge", json={}).status_code == 200
    answer = world.client.post(f"{path}/notice", json={"working_days": 3, "content": "补正"})
    assert answer.status_code == 200
    answer = world.client.post(f"{path}/resolve", json={"resolution": "已整改"})
    assert answer.status_code == 200
    assert [(h["status"], h["by"]) for h in answer.json()["history"]] == [
        ("acknowledged", "张伟（zhangwei）"), ("noticed", "张伟（zhangwei）"),
        ("resolved", "张伟（zhangwei）")]


def test_an_auditor_session_reads_but_may_not_act(world):
    sign_in(world, user="lina", password=PASSWORD)
    assert world.client.get("/v1/alerts").status_code == 200
    response = world.client.post("/v1/alerts/00000000-0000-0000-0000-000000000000/resolve",
                                 json={})
    assert response.status_code == 403


def test_every_request_writes_one_json_access_line_without_secrets(world):
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect()
    logging.getLogger("hallwatch.access").addHandler(handler)
    try:
        sign_in(world, user="zhangwei", password=PASSWORD)
        token = world.client.cookies[SESSION_COOKIE]
        world.client.get("/v1/cases/LY-SECRET-NO?x=1")
        world.client.get("/v1/alerts", headers=bearer(BUREAU_KEY))
        world.client.get("/no/such/route")
    finally:
        logging.getLogger("hallwatch.access").removeHandler(handler)
    records = [json.loads(line) for line in lines]
    assert [(r["method"], r["route"], r["status"], r["principal"]) for r in records] == [
        ("POST", "/v1/session", 200, "zhangwei"),
        ("GET", "/v1/cases/{case_no}", 404, "zhangwei"),
        ("GET", "/v1/alerts", 200, "bureau"),
        ("GET", "(no route)", 404, None),
    ]
    assert all(isinstance(r["ms"], float) and r["time"] for r in records)
    text = "\n".join(lines)
    for secret in (PASSWORD, BUREAU_KEY, token, "LY-SECRET-NO", "x=1"):
        assert secret not in text


def test_the_user_add_command_writes_an_argon2_hash_the_server_accepts(world, keys_file):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HALLWATCH_")},
           "HALLWATCH_KEYS_FILE": str(keys_file)}
    done = subprocess.run([sys.executable, "-m", "services.cli", "user", "add", "wangfang",
                           "--role", "bureau", "--display-name", "王芳", "--password-stdin"],
                          input="wangfang-password-1\n", env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    entry = next(p for p in json.loads(keys_file.read_text())["principals"]
                 if p["id"] == "wangfang")
    assert entry["password"].startswith("$argon2id$") and "wangfang-password-1" not in \
        keys_file.read_text()
    assert oct(keys_file.stat().st_mode & 0o777) == "0o600"
    response = sign_in(world, user="wangfang", password="wangfang-password-1")
    assert response.status_code == 200 and response.json()["name"] == "王芳"
    short = subprocess.run([sys.executable, "-m", "services.cli", "user", "add", "x",
                            "--role", "bureau", "--password-stdin"], input="short\n",
                           env=env, capture_output=True, text=True, timeout=120)
    assert short.returncode != 0 and "at least 10" in short.stderr
