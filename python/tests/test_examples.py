"""The Python examples, run for real: the notebook script, the FastAPI service (TestClient)
and the Celery task (task_always_eager)."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from typing import Any

import pytest

import footml

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "python"))
FIXTURES = ROOT / "tests" / "fixtures" / "skillcorner"


def config(**extra: Any) -> dict[str, Any]:
    return {"detections_path": str(FIXTURES / "det.txt"), "fps": 25, "frame_size": [1920, 1080], **extra}


def test_notebook_script() -> None:
    out = subprocess.run(
        [sys.executable, "examples/python/notebook.py"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "pipeline_completed" in out.stdout
    assert "track rows: (" in out.stdout and "most players in a penalty area:" in out.stdout
    assert "distance_m" in out.stdout  # the pandas cell ran


def test_fastapi_service_streams_events_then_the_report() -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from service import app

    expected = footml.analyze(config())
    client = TestClient(app)
    with client.websocket_connect("/ws/analyze") as ws:
        ws.send_json(config())
        messages = []
        while True:
            m = ws.receive_json()
            messages.append(m)
            if m["type"] in ("report", "error"):
                break
    kinds = [m["type"] for m in messages]
    assert kinds[-1] == "report" and "stage_progress" in kinds and "pipeline_completed" in kinds
    assert messages[-1]["report"]["tracks"] == expected["tracks"]
    with client.websocket_connect("/ws/analyze") as ws:
        ws.send_json(config(bogus=1))
        error = ws.receive_json()
    assert error["type"] == "error" and error["error_type"] == "ConfigError" and "bogus" in error["message"]
    response = client.post("/analyze", json=config())
    assert response.status_code == 200 and response.json()["tracks"] == expected["tracks"]
    response = client.post("/analyze", json=config(detections_path="missing.txt"))
    assert response.status_code == 422 and response.json()["detail"]["error_type"] == "InputNotFoundError"


def test_celery_task_body() -> None:
    pytest.importorskip("celery")
    from worker import analyze_match, app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    result = analyze_match.delay(config()).get()
    assert result["tracks"] == footml.analyze(config())["tracks"]
    with pytest.raises(footml.ConfigError, match="bogus"):
        analyze_match.delay(config(bogus=1)).get()
