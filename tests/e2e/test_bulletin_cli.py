"""``hallwatch bulletin`` as a real process, over views a hall's month was projected into."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.builders import accepted, completed
from tests.conftest import FixedClock, embedded_settings
from tests.e2e.procs import ROOT
from tests.world import World

pytestmark = pytest.mark.slow


def hallwatch(*args: str, data_dir) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HALLWATCH_DATA_DIR": str(data_dir),
           "HALLWATCH_CLOCK": "fixed:2026-11-02T10:00:00+08:00"}
    return subprocess.run([sys.executable, "-m", "services.cli", "bulletin", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("cli") / "var"
    clock = FixedClock("2026-11-02T10:00:00+08:00")
    world = World(embedded_settings(data_dir), clock)
    world.send_on_time(accepted("K1", time="2026-10-12T09:00:00+08:00", promised_days=2))
    world.send_on_time(completed("K1", "2026-10-13T09:00:00+08:00"))
    world.send_on_time(accepted("K2", time="2026-10-12T09:00:00+08:00", promised_days=2))
    world.settle()  # K2 due 10-14 and still open: overdue
    world.close()
    return data_dir


def test_the_cli_writes_the_json_bulletin_of_a_named_period(data_dir, tmp_path):
    out = tmp_path / "b.json"
    result = hallwatch("--period", "2026-10", "--out", str(out), data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    (h1,) = report["rows"]
    assert (h1["accepted"], h1["on_time_base"], h1["on_time"], h1["overdue_open"],
            h1["early"]) == (2, 2, 1, 1, 1)
    # 100 × (0.5 × 50 + 1.0 × 10) / 60 = 58.33, less 3 for the open overdue case
    assert report["black_list"] == [{"hall_id": "H1", "score": 55.33}]


def test_the_cli_writes_the_pdf_document(data_dir, tmp_path):
    from tests.documents import ensure_document_tools

    ensure_document_tools()
    out = tmp_path / "b.pdf"
    result = hallwatch("--period", "2026-Q4", "--format", "pdf", "--out", str(out),
                       data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "关于2026年第4季度各分厅政务服务情况的通报" in text


def test_the_cli_refuses_an_unknown_period_saying_why(data_dir, tmp_path):
    result = hallwatch("--period", "2026-13", "--out", str(tmp_path / "x"), data_dir=data_dir)
    assert result.returncode != 0 and "--period" in result.stderr and "2026-W47" in result.stderr


def test_the_cli_rebuilds_the_views_to_the_same_bulletin(data_dir, tmp_path):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    assert hallwatch("--period", "2026-10", "--out", str(before), data_dir=data_dir
                     ).returncode == 0
    env = {"PATH": "/usr/bin:/bin", "HALLWATCH_DATA_DIR": str(data_dir),
           "HALLWATCH_CLOCK": "fixed:2026-11-02T10:00:00+08:00"}
    result = subprocess.run([sys.executable, "-m", "services.cli", "projections", "rebuild"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "rebuilt the views up to {'hall':" in result.stdout
    assert hallwatch("--period", "2026-10", "--out", str(after), data_dir=data_dir
                     ).returncode == 0
    assert json.loads(after.read_text())["rows"] == json.loads(before.read_text())["rows"]
