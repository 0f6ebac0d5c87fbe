"""The hallwatch command line, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from services.intake.service import build
from tests.builders import accepted
from tests.conftest import FixedClock, embedded_settings
from tests.e2e.procs import ROOT

pytestmark = pytest.mark.slow


def hallwatch(*args: str, data_dir) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HALLWATCH_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_calendar_load_records_the_year_and_recomputes_provisional_deadlines(tmp_path):
    data_dir = tmp_path / "var"
    settings = embedded_settings(data_dir)
    intake = build(settings, FixedClock("2026-12-24T12:00:00+08:00"))
    intake.store.record(accepted("C1", time="2026-12-24T10:00:00+08:00", promised_days=10),
                        "H1")
    intake.store.close()
    notice = tmp_path / "2027.json"
    notice.write_text(json.dumps({"year": 2027, "reference": "国办发明电〔2026〕9号",
                                  "holidays": ["2027-01-01", "2027-01-04", "2027-01-05"],
                                  "workdays": []}))
    result = hallwatch("calendar", "load", str(notice), data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert "recomputed 1 provisional deadlines" in result.stdout
    reopened = build(settings, FixedClock("2027-01-02T09:00:00+08:00"))
    case = reopened.store.case("C1")
    assert (case.version, case.summary.provisional) == (2, False)
    assert case.summary.due_at.isoformat() == "2027-01-12T23:59:59+08:00"
    assert reopened.store.calendar.year(2027).source == "official"
    reopened.store.close()


def test_calendar_load_refuses_a_malformed_file_naming_the_field(tmp_path):
    notice = tmp_path / "bad.json"
    notice.write_text(json.dumps({"year": 2027, "holidays": ["2027-02-30"], "workdays": []}))
    result = hallwatch("calendar", "load", str(notice), data_dir=tmp_path / "var")
    assert result.returncode != 0
    assert "holidays[0]" in result.stderr


def test_keygen_prints_a_usable_cipher_key(tmp_path):
    result = hallwatch("keygen", data_dir=tmp_path)
    key = result.stdout.strip()
    env_check = subprocess.run(
        [sys.executable, "-c", "from services.common.settings import Settings; "
         f"Settings(cipher_key='{key}')"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and env_check.returncode == 0, env_check.stderr
