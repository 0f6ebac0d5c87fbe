"""The embedded demo: starts `hallwatch serve` with nothing but demo keys configured,
streams a morning of hall events into it as a hall system would, and prints what the
supervision bureau sees. The clock is fixed at 2026-10-12 10:00 (+08:00) so the lights
are the same on every run; set DEMO_KEEP=1 to keep the server running afterwards."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HALL_KEY = "demo-hall-key-0001"
BUREAU_KEY = "demo-bureau-key-0001"
NOW = "2026-10-12T10:00:00+08:00"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(base: str, method: str, path: str, key: str, body: dict | None = None
         ) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/cloudevents+json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def event(n: int, type_: str, case: str, at: str, data: dict) -> dict:
    return {"specversion": "1.0", "id": f"demo-{n}", "source": "/halls/realestate-01",
            "type": f"cn.gov.hall.{type_}", "subject": case, "time": at, "data": data}


def accepted(kind: str, days: int | None, receipt: str) -> dict:
    data = {"matter_code": "000123004000", "matter_name": "不动产转移登记", "kind": kind,
            "window_id": "W03", "staff_id": "S017",
            "applicant": {"name": "王小明", "id_number": "220402199001011234"}}
    if days:
        data.update(promised_days=days, receipt_no=receipt)
    return data


SCRIPT = [
    ("case.accepted", "LY-2026-0001", "2026-09-30T09:12:00+08:00",
     accepted("promised", 5, "SL-1")),
    ("case.accepted", "LY-2026-0002", "2026-09-25T14:02:00+08:00",
     accepted("promised", 3, "SL-2")),
    ("case.accepted", "LY-2026-0003", "2026-10-09T09:30:00+08:00",
     accepted("immediate", None, "")),
    ("case.completed", "LY-2026-0003", "2026-10-09T09:41:00+08:00", {"result": "approved"}),
    ("case.accepted", "LY-2026-0004", "2026-10-10T10:05:00+08:00",
     accepted("promised", 10, "SL-4")),
    ("case.accepted", "LY-2026-0005", "2026-10-12T08:40:00+08:00",
     accepted("promised", 5, "SL-5")),
    ("case.rejected", "LY-2026-0005", "2026-10-12T09:05:00+08:00",
     {"category": "non_compliant", "reason": "申请材料不符合法定形式"}),
    ("post.absence_noticed", "W03", "2026-10-12T09:20:00+08:00",
     {"window_id": "W03", "staff_id": "S017", "reason": "临时外出",
      "expected_return": "2026-10-12T09:40:00+08:00"}),
]


def main() -> None:
    data_dir = Path("var/demo")
    shutil.rmtree(data_dir, ignore_errors=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HALLWATCH_DATA_DIR": str(data_dir), "HALLWATCH_CLOCK": f"fixed:{NOW}",
           "HALLWATCH_KEYS": f"hall:realestate-01:{HALL_KEY},bureau:bureau:{BUREAU_KEY}"}
    for name in ("HALLWATCH_EVENT_STORE", "HALLWATCH_KAFKA_BOOTSTRAP", "HALLWATCH_CLICKHOUSE"):
        env.pop(name, None)
    server = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
                              env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("demo: the server did not start")
                time.sleep(0.3)
        print(f"\nhallwatch (embedded: SQLite + chDB under {data_dir}) at {base}; clock {NOW}\n")
        for n, (type_, case, at, data) in enumerate(SCRIPT, 1):
            body = event(n, type_, case, at, data)
            status, body = call(base, "POST", "/v1/events", HALL_KEY, body)
            print(f"hall   POST {type_:<16} {case}  -> {status} position {body.get('position')}")
        status, body = call(base, "POST", "/v1/events", HALL_KEY, event(1, *SCRIPT[0]))
        print(f"hall   POST (retry of demo-1)                -> {status} (idempotent)")
        bad = event(99, "case.accepted", "LY-2026-0009", "2026-10-12T09:00:00", {"kind": "x"})
        status, body = call(base, "POST", "/v1/events", HALL_KEY, bad)
        print(f"hall   POST (malformed)                      -> {status} {body['error']}\n")
        print(f"{'case':<14}{'kind':<11}{'status':<11}{'accepted':<27}{'due':<27}light")
        for case in sorted({c for t, c, _, _ in SCRIPT if t.startswith("case.")}):
            for _ in range(50):
                status, view = call(base, "GET", f"/v1/cases/{case}", BUREAU_KEY)
                if status == 200 and (case != "LY-2026-0003" or view["status"] == "completed"):
                    break
                time.sleep(0.2)
            print(f"{case:<14}{view['kind']:<11}{view['status']:<11}{view['accepted_at']:<27}"
                  f"{view['due_at']:<27}{view['light']}")
        print("\nsupervision (raised_at = when the rule was broken):")
        for _ in range(50):
            _, found = call(base, "GET", "/v1/alerts", BUREAU_KEY)
            if len(found["alerts"]) >= 9:
                break
            time.sleep(0.2)
        for alert in sorted(found["alerts"], key=lambda a: a["raised_at"]):
            subject = alert.get("case_no") or alert.get("window_id")
            print(f"  {alert['raised_at']}  {alert['severity']:<8}{alert['rule']:<24}"
                  f"{subject:<14}{alert['status']}  {alert['detail'][:40]}")
        _, report = call(base, "GET", "/v1/bulletins?from=2026-09-01&to=2026-10-13", BUREAU_KEY)
        for row in report["rows"]:
            print(f"\nbulletin {report['period']['from']}..{report['period']['to']} "
                  f"hall {row['hall_id']}: accepted {row['accepted']}, completed "
                  f"{row['completed']}, on time {row['on_time_rate']}, overdue "
                  f"{row['overdue']}, rejections {row['rejections_by_category']}, "
                  f"findings {row['findings']}")
        print(f"\ndashboard: {base}/dashboard (bureau key {BUREAU_KEY}); metrics: {base}/metrics")
        if os.environ.get("DEMO_KEEP"):
            print("serving until Ctrl-C ...")
            server.wait()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
