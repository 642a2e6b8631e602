"""Tests of Pipeline, PipelineBuilder, Report, NumPy detections and Python stages."""

from __future__ import annotations

import json
import pathlib
import sys
import threading
import time
from typing import Any

import numpy as np
import pytest

import footml

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "skillcorner"
DETECTIONS = FIXTURES / "det.txt"


def fixture_config(**extra: Any) -> dict[str, Any]:
    return {"detections_path": str(DETECTIONS), "fps": 25, "frame_size": [1920, 1080], **extra}


def det_array() -> np.ndarray:
    """det.txt as the (N, 7) array the binding takes: frames from 0, class 0."""
    mot = np.loadtxt(DETECTIONS, delimiter=",")
    return np.column_stack([mot[:, 0] - 1, mot[:, 2:7], np.zeros(len(mot))])


def sparse_file(tmp_path: pathlib.Path, frames: int, name: str = "sparse.txt") -> pathlib.Path:
    """A detections file of `frames` frames, nearly all empty: long runs that cost little."""
    path = tmp_path / name
    path.write_text(f"1,-1,10,10,20,40,0.9,-1,-1,-1\n{frames},-1,10,10,20,40,0.9,-1,-1,-1\n")
    return path


def read_mot_tracks(path: pathlib.Path) -> np.ndarray:
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))]


def test_from_config_run_report_and_tracks_array(tmp_path: pathlib.Path) -> None:
    report = footml.Pipeline.from_config(fixture_config(output_dir=str(tmp_path))).run()
    assert isinstance(report, footml.Report)
    tracks = report.tracks
    assert tracks.dtype == np.float64 and tracks.ndim == 2
    assert tracks.shape[1] == len(footml.Report.TRACK_COLUMNS) == 9
    assert report.tracks is tracks  # built once, then the same array
    assert not tracks.flags.writeable or tracks.flags.c_contiguous
    # Every row is in the tracks.txt the engine wrote (MOTChallenge, frames from 1, 2 decimals).
    mot = read_mot_tracks(tmp_path / "tracks.txt")
    ours = tracks[np.lexsort((tracks[:, 1], tracks[:, 0]))]
    assert len(ours) == len(mot) > 1000
    np.testing.assert_array_equal(ours[:, 0] + 1, mot[:, 0])
    np.testing.assert_array_equal(ours[:, 1], mot[:, 1])
    np.testing.assert_allclose(ours[:, 2:6], mot[:, 2:6], atol=0.006)
    # Not calibrated: no pitch positions.
    assert np.isnan(tracks[:, 7:]).all()
    assert report.video["frame_count"] == 1000 and report.video["fps"] == 25.0
    assert [s["name"] for s in report.stages] == ["detections_input", "player_tracking"]
    assert report.footml_version == footml.__version__ and report.schema_version >= 1
    assert report.pipeline_id.startswith("fm-")
    assert report.ball.shape == (0, 7)
    assert report.teams == [] and report.events == [] and report.formations == [] and report.possession == []
    assert report.ball_owner == [] and report.possession_phases == []
    assert report.metrics == {"players": [], "teams": []}
    assert report.frames_lost == 0 and report.events_dropped == 0 and report.extra == {}
    assert "report" in report.outputs or isinstance(report.outputs, dict)
    assert report.to_dict() == json.loads((tmp_path / "report.json").read_text())
    assert "1000 frames" in repr(report)


def test_calibrated_run_fills_ball_pitch_and_metrics() -> None:
    config = fixture_config(
        ball_detections_path=str(FIXTURES / "ball_det.txt"),
        homography_path=str(FIXTURES / "homography.json"),
        # The fixture's ball is 3-4 px wide (far camera).
        stage_configs={"ball_tracking": {"min_ball_radius": 1}},
    )
    report = footml.Pipeline.from_config(json.dumps(config)).run()
    ball = report.ball
    assert ball.shape[1] == 7 and len(ball) > 300
    assert set(np.unique(ball[:, 5])) <= {0.0, 1.0} and set(np.unique(ball[:, 6])) <= {0.0, 1.0}
    as_json = report.to_dict()["ball"]
    assert [b["frame"] for b in as_json] == ball[:, 0].astype(int).tolist()
    np.testing.assert_allclose(ball[:, 3:5], [b["pitch"] for b in as_json])
    assert ball[:, 6].sum() == sum(b["interpolated"] for b in as_json)
    assert not np.isnan(report.tracks[:, 7:]).any()
    players = report.metrics["players"]
    assert players and all(p["distance_m"] >= 0 for p in players)
    df = report.to_pandas("players")
    assert "heatmap" not in df.columns and len(df) == len(players)
    balls = report.to_pandas("ball")
    assert balls["interpolated"].dtype == bool and balls["frame"].dtype == np.int64
    # Event detection ran: a ball owner per frame, but no teams (no kit colours from a
    # detections file), so no team possession and no phases (teams are never guessed).
    owner = report.ball_owner
    assert len(owner) == len(report.possession) == 1000 and any(t is not None for t in owner)
    assert report.possession == [None] * 1000 and report.possession_phases == []
    possession = report.to_pandas("possession")
    assert list(possession.columns) == ["frame", "team", "ball_owner"]
    assert len(possession) == 1000 and possession["frame"].tolist() == list(range(1000))
    assert [None if t is None or t != t else int(t) for t in possession["ball_owner"]] == owner
    # Every frame calibrated by the file's one matrix, given by the user.
    given = json.loads((FIXTURES / "homography.json").read_text())["image_to_pitch"]
    calibration = report.calibration
    assert calibration.shape == (1000, len(footml.Report.CALIBRATION_COLUMNS)) == (1000, 15)
    np.testing.assert_array_equal(calibration[:, 0], np.arange(1000))
    np.testing.assert_array_equal(calibration[:, 1:10], np.tile(np.ravel(given), (1000, 1)))
    assert footml.Report.CALIBRATION_SOURCES[0] == "given" and (calibration[:, 10] == 0).all()
    assert np.isnan(calibration[:, 11:]).all()
    assert report.to_dict()["calibration"][7] == {"frame": 7, "image_to_pitch": given, "source": "given"}
    frames = report.to_pandas("calibration")
    assert frames["frame"].dtype == np.int64 and set(frames["source"]) == {"given"}


def test_report_json_round_trip_and_bad_json() -> None:
    report = footml.analyze(fixture_config())
    text = report.to_json()
    again = footml.Report.from_json(text)
    assert again.to_dict() == report.to_dict()
    assert again.to_json() == text  # floats parse back exactly (serde_json float_roundtrip)
    np.testing.assert_array_equal(again.tracks, report.tracks)
    assert json.loads(report.to_json(indent=2)) == json.loads(text)
    assert "\n  " in report.to_json(indent=2)
    for bad in ("{}", "not json", '{"schema_version": "one"}'):
        with pytest.raises(footml.ReportError) as info:
            footml.Report.from_json(bad)
        assert isinstance(info.value, ValueError)
    with pytest.raises(TypeError):
        footml.Report.from_json(None)  # type: ignore[arg-type]


def test_to_pandas_tables_and_missing_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    report = footml.analyze(fixture_config())
    tracks = report.to_pandas()
    assert list(tracks.columns) == footml.Report.TRACK_COLUMNS
    assert len(tracks) == len(report.tracks) and tracks["track_id"].dtype == np.int64
    assert tracks.groupby("track_id").size().to_dict() == {t["track_id"]: len(t["frames"]) for t in report["tracks"]}
    for table in ("calibration", "events", "formations", "teams", "possession", "possession_phases"):
        assert len(report.to_pandas(table)) == 0
    assert report.calibration.shape == (0, 15)
    with pytest.raises(ValueError, match="unknown table `nope`"):
        report.to_pandas("nope")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        report.to_pandas()


def test_events_iterator_from_another_thread() -> None:
    pipeline = footml.Pipeline.from_config(fixture_config())
    events: list[dict[str, Any]] = []
    iterator = pipeline.events()
    consumer = threading.Thread(target=lambda: events.extend(iterator))
    consumer.start()  # blocks in next() (GIL released) until run() produces events
    report = pipeline.run()
    consumer.join(10)
    assert not consumer.is_alive(), "the iterator must end when the run ends"
    kinds = [e["type"] for e in events]
    assert kinds[0] == "stage_started" and kinds[-1] == "pipeline_completed"
    assert "stage_progress" in kinds and "stage_completed" in kinds
    assert all(e["pipeline_id"] == report.pipeline_id and e["timestamp"] > 0 for e in events)
    assert report.events_dropped == 0


def test_events_after_run_and_second_run_are_usage_errors() -> None:
    pipeline = footml.Pipeline.from_config(fixture_config())
    pipeline.run()
    with pytest.raises(footml.UsageError, match="already been run") as info:
        pipeline.run()
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(footml.UsageError):
        pipeline.events()


def test_cancel_from_another_thread(tmp_path: pathlib.Path) -> None:
    pipeline = footml.Pipeline.from_config(fixture_config(detections_path=str(sparse_file(tmp_path, 2_000_000))))
    events = pipeline.events()

    def cancel_after_first_event() -> None:
        next(events)
        pipeline.cancel()
        list(events)

    t = threading.Thread(target=cancel_after_first_event)
    t.start()
    with pytest.raises(footml.CancelledError):
        pipeline.run()
    t.join(10)
    assert pipeline.cancelled


def test_two_pipelines_in_two_threads_overlap(tmp_path: pathlib.Path) -> None:
    spans: dict[str, list[float]] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            config = fixture_config(detections_path=str(sparse_file(tmp_path, 400_000, f"{name}.txt")))
            stamps: list[float] = []
            footml.analyze(config, on_event=lambda e: stamps.append(e["timestamp"]))
            spans[name] = [min(stamps), max(stamps)]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    (a0, a1), (b0, b1) = spans["a"], spans["b"]
    # Both ran at the same time: each started before the other ended (engine timestamps).
    # With the GIL held during a run, the second could only start after the first ended.
    assert a0 < b1 and b0 < a1, spans


def test_builder_detections_array_gives_the_file_runs_tracks() -> None:
    from_file = footml.PipelineBuilder().detections(DETECTIONS, fps=25, frame_size=(1920, 1080)).build().run()
    players = det_array()
    from_array = footml.PipelineBuilder().detections_array(players, fps=25, frame_size=(1920, 1080)).build().run()
    np.testing.assert_array_equal(from_array.tracks, from_file.tracks)
    assert from_array.video["frame_count"] == 1000 and from_array.video["codec"] == "detections-array"
    # float32 and strided (non-contiguous) arrays work too.
    wide = np.zeros((len(players), 14))
    wide[:, ::2] = players
    strided = wide[:, ::2]
    assert not strided.flags.c_contiguous
    again = footml.PipelineBuilder().detections_array(strided, fps=25, frame_size=(1920, 1080)).build().run()
    np.testing.assert_array_equal(again.tracks, from_file.tracks)
    f32 = footml.PipelineBuilder().detections_array(players.astype(np.float32), fps=25, frame_size=(1920, 1080))
    assert len(f32.build().run().tracks) > 1000


def test_builder_array_errors() -> None:
    good = det_array()[:10]
    b = footml.PipelineBuilder()
    cases: list[tuple[Any, str]] = [
        (good.tolist(), "expected a numpy.ndarray"),
        (None, "expected a numpy.ndarray"),
        (good[:, :6], r"shape \(N, 7\)"),
        (good[0], r"shape \(N, 7\)"),
        (good[None], r"shape \(N, 7\)"),
        (good.astype(np.int64), "dtype float64 or float32, found int64"),
        (good.astype(np.uint8), "found uint8"),
    ]
    for bad, message in cases:
        with pytest.raises(footml.ArrayError, match=message) as info:
            b.detections_array(bad, fps=25, frame_size=(1920, 1080))
        assert isinstance(info.value, ValueError)
    with pytest.raises(footml.ArrayError, match="ball"):
        b.detections_array(good, fps=25, frame_size=(1920, 1080), ball=good[:, :3])
    nan = good.copy()
    nan[3, 2] = np.nan
    with pytest.raises(footml.DetectionsError, match="players row 3: y: expected a finite number"):
        footml.PipelineBuilder().detections_array(nan, fps=25, frame_size=(1920, 1080)).build()
    negative = good.copy()
    negative[0, 0] = -1
    with pytest.raises(footml.DetectionsError, match="players row 0: frame"):
        footml.PipelineBuilder().detections_array(negative, fps=25, frame_size=(1920, 1080)).build()
    with pytest.raises(footml.ConfigError, match="fps"):
        footml.PipelineBuilder().detections_array(good, fps=0, frame_size=(1920, 1080)).build()
    with pytest.raises(TypeError):
        b.detections_array(good, fps=None, frame_size=(1920, 1080))  # type: ignore[arg-type]
    with pytest.raises(footml.ConfigError, match="neither"):
        footml.PipelineBuilder(fixture_config()).detections_array(good, fps=25, frame_size=(1, 1)).build()


def test_builder_stage_settings_by_name_and_bad_inputs(tmp_path: pathlib.Path) -> None:
    default = footml.PipelineBuilder(fixture_config()).build().run()
    strict = footml.PipelineBuilder(fixture_config()).stage("player_tracking", {"min_hits": 10}).build().run()
    # A track is reported once confirmed: more hits needed means fewer rows, never more.
    assert 0 < len(strict.tracks) < len(default.tracks)
    with pytest.raises(footml.ConfigError, match="stage_configs.player_tracking.bogus"):
        footml.PipelineBuilder(fixture_config()).stage("player_tracking", {"bogus": 1}).build()
    with pytest.raises(footml.ConfigError, match="stage_configs.jersey_numbers"):
        footml.PipelineBuilder(fixture_config()).stage("jersey_numbers", {}).build()
    with pytest.raises(footml.ConfigError, match="no source"):
        footml.PipelineBuilder().build()
    with pytest.raises(footml.InputNotFoundError):
        footml.PipelineBuilder().video(tmp_path / "missing.mp4").build()
    with pytest.raises(footml.InputNotFoundError):
        footml.PipelineBuilder().detections(tmp_path / "missing.txt", fps=25, frame_size=(1, 1)).build()
    with pytest.raises(TypeError):
        footml.PipelineBuilder().video(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        footml.PipelineBuilder().on_event(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        footml.PipelineBuilder(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        footml.Pipeline.from_config(None)  # type: ignore[arg-type]
    with pytest.raises(footml.ConfigError):
        footml.Pipeline.from_config("[1, 2]")
    # Checkpoints and outputs go where the builder says.
    events: list[dict[str, Any]] = []
    report = (
        footml.PipelineBuilder(fixture_config(checkpoint_interval_frames=100))
        .checkpoint_dir(tmp_path / "ck")
        .output_dir(tmp_path / "out")
        .on_event(events.append)
        .build()
        .run()
    )
    assert (tmp_path / "out" / "report.json").exists()
    assert any(e["type"] == "checkpoint_saved" for e in events)
    assert report.to_dict() == json.loads((tmp_path / "out" / "report.json").read_text())


class CountTracks:
    """A streaming stage: writes each frame's number of tracks into the record."""

    name = "count_tracks"
    requires = ["player_tracks"]
    provides = ["track_count"]

    def __init__(self) -> None:
        self.calls = 0

    def process(self, records: list[dict[str, Any]]) -> None:
        self.calls += 1
        for r in records:
            r.setdefault("extra", {})["track_count"] = len(r["tracks"])


class Histogram:
    """A match stage: collects the counts of the streaming stage into a match artifact."""

    name = "histogram"
    requires = ["track_count"]
    provides = ["track_counts"]

    def run(self, match: dict[str, Any]) -> dict[str, Any]:
        match["extra"]["track_counts"] = [f["extra"]["track_count"] for f in match["frames"]]
        return match


def test_python_stages_run_in_the_pipeline() -> None:
    counter = CountTracks()
    report = (
        footml.PipelineBuilder(fixture_config(batch_size=16))
        .stage(Histogram())  # added first: the builder orders stages by what they need
        .stage(counter)
        .build()
        .run()
    )
    counts = report.extra["track_counts"]
    assert len(counts) == 1000
    frames = report.tracks[:, 0].astype(int)
    np.testing.assert_array_equal(counts, np.bincount(frames, minlength=1000))
    # The streaming stage's per-frame values reach the report too, frame by frame.
    per_frame = report.frame_extra["track_count"]
    assert [r["frame"] for r in per_frame] == list(range(1000))
    assert [r["value"] for r in per_frame] == counts
    assert footml.Report.from_json(report.to_json()).frame_extra == report.frame_extra
    assert counter.calls == 1000 // 16 + 1
    assert [s["name"] for s in report.stages] == ["detections_input", "player_tracking", "count_tracks", "histogram"]


def test_python_stage_errors() -> None:
    class Broken:
        name = "broken"
        requires = ["player_tracks"]
        provides: list[str] = []

        def process(self, records: list[dict[str, Any]]) -> None:
            raise KeyError("no jersey here")

    with pytest.raises(footml.StageError) as info:
        footml.PipelineBuilder(fixture_config()).stage(Broken()).build().run()
    text = str(info.value)
    assert "Python stage `broken` raised" in text and "KeyError" in text and "no jersey here" in text
    assert "Traceback" in text and "in process" in text

    class WrongRecords:
        name = "wrong"
        requires: list[str] = []
        provides: list[str] = []

        def process(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return records[1:]

    with pytest.raises(footml.StageError, match="same `index` values"):
        footml.PipelineBuilder(fixture_config()).stage(WrongRecords()).build().run()

    class NeedsMissing(Histogram):
        requires = ["jerseys"]

    with pytest.raises(footml.ConfigError, match="jerseys"):
        footml.PipelineBuilder(fixture_config()).stage(NeedsMissing()).build().run()

    class NoName:
        def process(self, records: list[dict[str, Any]]) -> None: ...

    class NoMethod:
        name = "x"

    class BadRequires(Histogram):
        requires = "track_count"  # type: ignore[assignment]

    for bad, message in [(NoName(), "`name`"), (NoMethod(), "process"), (BadRequires(), "list of artifact names")]:
        with pytest.raises(TypeError, match=message):
            footml.PipelineBuilder().stage(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="by name"):
        footml.PipelineBuilder().stage(CountTracks(), {"a": 1})  # type: ignore[arg-type]


def test_analyze_with_a_video_path_and_config(tmp_path: pathlib.Path) -> None:
    with pytest.raises(footml.InputNotFoundError, match="game.mp4"):
        footml.analyze(tmp_path / "game.mp4", {"batch_size": 4})
    with pytest.raises(footml.ConfigError, match="bogus"):
        footml.analyze(str(tmp_path / "game.mp4"), {"bogus": 1})
    with pytest.raises(TypeError, match="not both"):
        footml.analyze(fixture_config(), {"batch_size": 4})
    with pytest.raises(TypeError, match="source must be"):
        footml.analyze(None)  # type: ignore[arg-type]


def test_python_stages_are_part_of_the_pipeline_id(tmp_path: pathlib.Path) -> None:
    """Checkpoints are keyed by the pipeline id: a derived id covers the Python stages (class
    and `version`), so another stage set never resumes this run's checkpoints."""

    class V1(CountTracks):
        version = "1"

    class V2(CountTracks):
        version = "2"

    def run_id(*stages: Any, **config: Any) -> str:
        builder = footml.PipelineBuilder(fixture_config(checkpoint_dir=str(tmp_path), **config))
        for s in stages:
            builder = builder.stage(s)
        return builder.build().run().pipeline_id

    plain, v1, v2, unversioned = run_id(), run_id(V1()), run_id(V2()), run_id(CountTracks())
    assert len({plain, v1, v2, unversioned}) == 4
    assert run_id(V1()) == v1
    assert run_id(V1(), Histogram()) not in (v1, plain)
    # An id given in the config is the user's, used as given.
    assert run_id(V1(), pipeline_id="mine") == "mine"

    class BadVersion(CountTracks):
        version = 2

    with pytest.raises(TypeError, match="`version` must be a str, found int"):
        footml.PipelineBuilder().stage(BadVersion())


class Flaky:
    """A stage whose first `failures` calls raise `error` (a remote service that drops out)."""

    name = "flaky"
    requires = ["player_tracks"]
    provides: list[str] = []

    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def process(self, records: list[dict[str, Any]]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"feed dropped (call {self.calls})")


def test_builder_stage_retry_policy_retries_one_stage(tmp_path: pathlib.Path) -> None:
    """A Python stage raising ConnectionError/TimeoutError is retried under its own policy;
    the pipeline-wide policy (one attempt here) stays in force for the other stages."""
    config = fixture_config(detections_path=str(sparse_file(tmp_path, 20)))
    fast = {"initial_backoff_ms": 1, "max_backoff_ms": 1, "jitter": 0.0}

    def run(stage: Flaky, **policies: dict[str, Any]) -> tuple[footml.Report, list[dict[str, Any]]]:
        events: list[dict[str, Any]] = []
        builder = (
            footml.PipelineBuilder(config).batch_size(8).retry_policy(max_attempts=1).stage(stage).on_event(events.append)
        )
        for name, policy in policies.items():
            builder = builder.stage_retry_policy(name, **policy)
        return builder.build().run(), events

    flaky = Flaky(failures=2)
    report, events = run(flaky, flaky={"max_attempts": 3, **fast})
    retries = [e for e in events if e["type"] == "stage_retrying"]
    # `attempt` is the attempt about to be made: the 2nd and 3rd.
    assert [(e["stage"], e["attempt"]) for e in retries] == [("flaky", 2), ("flaky", 3)], retries
    assert all("ConnectionError" in e["error"] for e in retries)
    # Two failed calls on the first batch, then one call per batch: 20 frames in batches of 8.
    assert flaky.calls == 2 + 3
    assert len(report.stages) == 3
    # TimeoutError is transient too; settings not given keep the pipeline's (here 1 attempt → 2 given).
    _, events = run(Flaky(failures=1, error=TimeoutError), flaky={"max_attempts": 2, **fast})
    assert [e["attempt"] for e in events if e["type"] == "stage_retrying"] == [2]

    # A policy for another stage does not reach `flaky`: one attempt, then the typed error.
    with pytest.raises(footml.StageError, match="ConnectionError") as info:
        run(Flaky(failures=1), player_tracking={"max_attempts": 5, **fast})
    assert "stage `flaky` failed after 1 attempt(s)" in str(info.value)
    # Other exceptions are permanent: never retried, whatever the policy.
    stage = Flaky(failures=1, error=KeyError)
    with pytest.raises(footml.StageError, match="KeyError"):
        run(stage, flaky={"max_attempts": 5, **fast})
    assert stage.calls == 1

    builder = footml.PipelineBuilder
    for bad, key in [
        (builder(config).stage_retry_policy("flaky", max_attempts=0), "max_attempts"),
        (builder(config).stage_retry_policy("flaky", jitter=2.0), "jitter"),
        (builder(config).stage_retry_policy("flaky", multiplier=0.5), "multiplier"),
    ]:
        with pytest.raises(footml.ConfigError, match=key):
            bad.build()
    with pytest.raises(TypeError):
        builder().stage_retry_policy(None, max_attempts=2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        builder().stage_retry_policy("flaky", 2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        builder().stage_retry_policy("flaky", jitter="none")  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        builder().stage_retry_policy("flaky", max_attempts=-1)


class Arrivals:
    """Notes when each frame reaches the stream (batches of one frame)."""

    name = "arrivals"
    requires = ["player_tracks"]
    provides: list[str] = []

    def __init__(self) -> None:
        self.seen: list[tuple[int, float]] = []

    def process(self, records: list[dict[str, Any]]) -> None:
        self.seen.extend((r["index"], time.monotonic()) for r in records)


def test_builder_pace_reads_no_faster_than_real_time(tmp_path: pathlib.Path) -> None:
    """With pace(10), frame i of a 25 fps input is read no earlier than i / 250 s after the
    start (a lower bound: a loaded machine can only make it later)."""
    config = fixture_config(detections_path=str(sparse_file(tmp_path, 51)))
    stage = Arrivals()
    start = time.monotonic()
    footml.PipelineBuilder(config).batch_size(1).pace(10.0).stage(stage).build().run()
    assert [i for i, _ in stage.seen] == list(range(51))
    early = [(i, t - start) for i, t in stage.seen if t - start < i / 250]
    assert not early, early
    assert stage.seen[-1][1] - start >= 0.2
    builder = footml.PipelineBuilder
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(footml.ConfigError, match="pace must be a positive number"):
            builder().pace(bad)
    for wrong in (None, "fast"):
        with pytest.raises(TypeError):
            builder().pace(wrong)  # type: ignore[arg-type]


def test_builder_sink_grace_bounds_the_wait_for_callbacks(tmp_path: pathlib.Path) -> None:
    """The end of a run waits for a slow callback up to sink_grace, then returns without it."""
    config = fixture_config(detections_path=str(sparse_file(tmp_path, 5)))
    release = threading.Event()
    seen: list[str] = []

    def slow(event: dict[str, Any]) -> None:
        if event["type"] == "pipeline_completed":
            release.wait(10)  # held until the test lets it go
        seen.append(event["type"])

    # Grace 0.05 s: run() returns while the callback still holds pipeline_completed.
    footml.PipelineBuilder(config).sink_grace(0.05).on_event(slow).build().run()
    assert "pipeline_completed" not in seen
    release.set()
    deadline = time.monotonic() + 10
    while "pipeline_completed" not in seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen[-1] == "pipeline_completed"  # delivered later, on the callback's own thread

    # With the default grace (2 s) a callback that takes 0.1 s is waited for.
    late: list[str] = []

    def slowish(event: dict[str, Any]) -> None:
        if event["type"] == "pipeline_completed":
            time.sleep(0.1)
        late.append(event["type"])

    footml.PipelineBuilder(config).on_event(slowish).build().run()
    assert late[-1] == "pipeline_completed"
    builder = footml.PipelineBuilder
    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(footml.ConfigError, match="sink_grace"):
            builder().sink_grace(bad)
    for wrong in (None, "2s"):
        with pytest.raises(TypeError):
            builder().sink_grace(wrong)  # type: ignore[arg-type]
