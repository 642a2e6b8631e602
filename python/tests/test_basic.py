"""Tests of the footml Python binding (build it first: see scripts/test.sh)."""

from __future__ import annotations

import _thread
import json
import pathlib
import pickle
import sys
import time
from typing import Any

import pytest

import footml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DETECTIONS = ROOT / "tests" / "fixtures" / "skillcorner" / "det.txt"


def fixture_config(**extra: Any) -> dict[str, Any]:
    return {"detections_path": str(DETECTIONS), "fps": 25, "frame_size": [1920, 1080], **extra}


def test_version() -> None:
    assert footml.__version__ == footml._footml.__version__
    assert footml.__version__.count(".") == 2


def test_analyze_detections_fixture(tmp_path: pathlib.Path) -> None:
    report = footml.analyze(fixture_config(output_dir=str(tmp_path)))
    # The fixture is 40 s at 25 fps (det.txt's last frame is 1000) of 27 people.
    assert report["video"]["frame_count"] == 1000
    assert report["video"]["fps"] == 25.0
    assert len(report["tracks"]) >= 20
    for track in report["tracks"]:
        assert track["frames"], track["track_id"]
        assert all(0 <= f["frame"] < 1000 and len(f["bbox"]) == 4 for f in track["frames"])
    assert [s["name"] for s in report["stages"]] == ["detections_input", "player_tracking"]
    assert report["footml_version"] == footml.__version__
    # The dict is exactly the report.json the engine itself wrote for the same run.
    assert report.to_dict() == json.loads((tmp_path / "report.json").read_text())


def test_config_as_json_string_and_paths() -> None:
    from_str = footml.analyze(json.dumps(fixture_config()))
    from_path = footml.analyze(fixture_config(detections_path=DETECTIONS))  # a pathlib.Path value
    assert from_str["tracks"] == from_path["tracks"]


def test_unknown_config_key_is_config_error() -> None:
    with pytest.raises(footml.ConfigError, match="bogus_key") as info:
        footml.analyze(fixture_config(bogus_key=1))
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, footml.FootmlError)


def test_invalid_json_is_config_error() -> None:
    with pytest.raises(footml.ConfigError):
        footml.analyze("{not json")


def test_missing_detections_file_is_input_not_found(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(footml.InputNotFoundError, match="nope.txt") as info:
        footml.analyze(fixture_config(detections_path=str(missing)))
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, footml.FootmlError)


def test_missing_video_is_input_not_found(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError, match="match.mp4"):
        footml.analyze({"video_path": str(tmp_path / "match.mp4")})


def test_malformed_homography_is_detections_error(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "h.json"
    bad.write_text('{"image_to_pitch": [[1, 0]]}')
    with pytest.raises(footml.DetectionsError, match="h.json") as info:
        footml.analyze(fixture_config(homography_path=str(bad)))
    assert isinstance(info.value, ValueError)


def test_bad_frame_number_is_detections_error(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1,-1,10,10,20,40,0.9,-1,-1,-1\nthis is not a detection\n")
    with pytest.raises(footml.DetectionsError, match="bad.txt:2") as info:
        footml.analyze(fixture_config(detections_path=str(bad)))
    assert isinstance(info.value, ValueError)


def test_bad_value_mid_stream_is_detections_error(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1,-1,10,10,20,40,0.9,-1,-1,-1\n2,-1,10,abc,20,40,0.9,-1,-1,-1\n")
    with pytest.raises(footml.DetectionsError, match="bad.txt:2"):
        footml.analyze(fixture_config(detections_path=str(bad)))


def test_wrong_config_type_is_type_error() -> None:
    with pytest.raises(TypeError, match="int"):
        footml.analyze(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        footml.analyze({"detections_path": object()})
    with pytest.raises(TypeError, match="callable"):
        footml.analyze(fixture_config(), on_event=3)  # type: ignore[arg-type]


def test_exception_hierarchy_and_pickling() -> None:
    for cls in (
        footml.ConfigError,
        footml.InputNotFoundError,
        footml.DetectionsError,
        footml.VideoError,
        footml.CheckpointError,
        footml.StageError,
        footml.CancelledError,
    ):
        assert issubclass(cls, footml.FootmlError)
        assert cls.__module__ == "footml"
        assert cls.__doc__
    assert issubclass(footml.FootmlError, Exception)
    # Celery sends a worker's exceptions back pickled.
    try:
        footml.analyze(fixture_config(bogus_key=1))
    except footml.ConfigError as e:
        again = pickle.loads(pickle.dumps(e))
        assert type(again) is footml.ConfigError and str(again) == str(e)


def test_on_event_receives_stage_events() -> None:
    events: list[dict[str, Any]] = []
    report = footml.analyze(fixture_config(), on_event=events.append)
    kinds = [e["type"] for e in events]
    for stage in ("detections_input", "player_tracking"):
        assert {"stage_started", "stage_completed"} <= {e["type"] for e in events if e.get("stage") == stage}
    assert "stage_progress" in kinds
    assert kinds[-1] == "pipeline_completed"
    assert all(e["pipeline_id"] == report["pipeline_id"] and e["timestamp"] > 0 for e in events)


def test_raising_on_event_does_not_fail_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))
    calls = 0

    def on_event(event: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("callback bug")

    report = footml.analyze(fixture_config(), on_event=on_event)
    assert len(report["tracks"]) >= 20
    assert calls >= 1
    # The callback's exceptions are not swallowed silently: they reach sys.unraisablehook.
    assert reported and all(isinstance(e, RuntimeError) for e in reported)
    assert report["events_dropped"] >= 1


def test_keyboard_interrupt_cancels_the_run(tmp_path: pathlib.Path) -> None:
    # 2,000,000 frames (almost all empty): several seconds of work, stopped after the first event.
    sparse = tmp_path / "sparse.txt"
    sparse.write_text("1,-1,10,10,20,40,0.9,-1,-1,-1\n2000000,-1,10,10,20,40,0.9,-1,-1,-1\n")
    events: list[dict[str, Any]] = []

    def on_event(event: dict[str, Any]) -> None:
        if not events:
            _thread.interrupt_main()  # as if Ctrl-C were pressed during the run
        events.append(event)

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        footml.analyze(fixture_config(detections_path=str(sparse)), on_event=on_event)
    assert time.monotonic() - start < 3.0
    # The engine was cancelled, not left running: it reported the run as failed, cancelled.
    failed = [e for e in events if e["type"] == "pipeline_failed"]
    assert failed and "cancelled" in failed[0]["error"]
