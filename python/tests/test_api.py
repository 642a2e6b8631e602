"""The public API as a whole: every public name is documented and exercised by a test, every
call rejects bad arguments with a typed error, Ctrl-C (a real SIGINT) cancels a run, the report
tables are NumPy views of Rust buffers, and a report with teams, events and formations comes
through the attributes as in report.json."""

from __future__ import annotations

import inspect
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from typing import Any, Callable

import numpy as np
import pytest

import footml

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "skillcorner"
TESTS = pathlib.Path(__file__).resolve().parent


def fixture_config(**extra: Any) -> dict[str, Any]:
    return {"detections_path": str(FIXTURES / "det.txt"), "fps": 25, "frame_size": [1920, 1080], **extra}


def public_classes() -> list[type]:
    return [getattr(footml, n) for n in footml.__all__ if inspect.isclass(getattr(footml, n))]


def public_members(cls: type) -> list[str]:
    """A class's own public API: what it defines beyond `object`/`Exception` (dunders that
    carry behaviour included)."""
    base = set(dir(BaseException if issubclass(cls, BaseException) else object))
    behaviour = {"__getitem__", "__iter__", "__next__", "__repr__", "__new__"}
    names = []
    for name in sorted(vars(cls)):
        if name == "__new__" and getattr(cls, "__text_signature__", None) is None:
            continue  # no constructor: instances come from footml ("cannot create instances")
        if name in behaviour:
            names.append(name)
        elif not name.startswith("_") and name not in base:
            names.append(name)
    return names


def test_all_is_the_module_public_surface() -> None:
    public = {n for n in dir(footml) if not n.startswith("_")} - {"annotations"}
    assert public == set(footml.__all__) - {"__version__"}
    assert set(footml._footml.__all__) == set(footml.__all__)  # the stubs list the same names


def test_every_public_function_class_and_member_has_a_docstring() -> None:
    missing = []
    for name in footml.__all__:
        obj = getattr(footml, name)
        if callable(obj) and not (obj.__doc__ or "").strip():
            missing.append(name)
    for cls in public_classes():
        for member in public_members(cls):
            if member in ("__new__",):
                continue  # pyo3 documents the constructor on the class
            attr = inspect.getattr_static(cls, member)
            if isinstance(attr, (list, str, int, float)):
                continue  # a class constant (its column names); documented on the class
            if not (getattr(attr, "__doc__", None) or "").strip():
                missing.append(f"{cls.__name__}.{member}")
    assert footml.__doc__ and footml.__doc__.strip()
    assert not missing, f"no docstring: {missing}"


def uses(name: str) -> re.Pattern[str]:
    """How a test exercises a member: an attribute access or call, or the syntax a dunder backs."""
    special = {
        "__getitem__": r"\breport\[",
        "__iter__": r"\b(list|extend)\(|\bfor \w+ in \w+",
        "__next__": r"\bnext\(",
        "__repr__": r"\brepr\(",
        "__new__": None,
    }
    pattern = special.get(name, rf"\.{re.escape(name)}\b")
    return re.compile(pattern or r"$^")


def test_every_public_name_is_exercised_by_a_test() -> None:
    """A guard against untested API: each public name and class member appears in a test."""
    sources = "\n".join(p.read_text() for p in sorted(TESTS.glob("test_*.py")))
    missing = [n for n in footml.__all__ if not re.search(rf"\bfootml\.{re.escape(n)}\b", sources)]
    for cls in public_classes():
        if issubclass(cls, BaseException):
            continue  # the exception classes are names of the module (checked above)
        constructor = rf"\bfootml\.{cls.__name__}\("
        for member in public_members(cls):
            pattern = re.compile(constructor) if member == "__new__" else uses(member)
            if not pattern.search(sources):
                missing.append(f"{cls.__name__}.{member}")
    assert not missing, f"not exercised by any test: {missing}"


# Every call with an argument of the wrong type, or a value it cannot take, raises a typed
# error (a TypeError for the wrong type, a footml error for a wrong value), never crashes.
def bad_calls() -> list[tuple[str, Callable[[], object], type[BaseException], str]]:
    report = footml.Report.from_json(footml.analyze(fixture_config()).to_json())
    builder = footml.PipelineBuilder
    return [
        ("analyze(config=int)", lambda: footml.analyze("m.mp4", 42), TypeError, "config must be a dict"),
        ("analyze(config=list)", lambda: footml.analyze("m.mp4", [1]), TypeError, "config must be a dict"),
        ("analyze(config=JSON list)", lambda: footml.analyze("m.mp4", "[1]"), footml.ConfigError, "object"),
        ("analyze(bad key)", lambda: footml.analyze("m.mp4", {"bogus": 1}), footml.ConfigError, "bogus"),
        ("analyze(bad value)", lambda: footml.analyze(fixture_config(fps="x")), footml.ConfigError, "fps"),
        ("analyze(stage key)", lambda: footml.analyze(fixture_config(stage_configs={"x": {}})), footml.ConfigError, "x"),
        ("from_config(int)", lambda: footml.Pipeline.from_config(42), TypeError, "found int"),
        ("from_config(bad key)", lambda: footml.Pipeline.from_config({"bogus": 1}), footml.ConfigError, "bogus"),
        ("from_config(missing)", lambda: footml.Pipeline.from_config(fixture_config(detections_path="/no/d.txt")),
         footml.InputNotFoundError, "/no/d.txt"),
        ("PipelineBuilder(list)", lambda: builder([1]), TypeError, "found list"),
        ("PipelineBuilder(bad key).build", lambda: builder({"bogus": 1}).build(), footml.ConfigError, "bogus"),
        ("video(int)", lambda: builder().video(3), TypeError, ""),
        ("detections(None)", lambda: builder().detections(None, fps=25, frame_size=(8, 8)), TypeError, ""),
        ("detections(fps=None)", lambda: builder().detections("d.txt", fps=None, frame_size=(8, 8)), TypeError, ""),
        ("detections(frame_size=(8,))", lambda: builder().detections("d.txt", fps=25, frame_size=(8,)), ValueError,
         "length 2"),
        ("detections(frame_size=-1)", lambda: builder().detections("d.txt", fps=25, frame_size=(-1, 8)),
         OverflowError, ""),
        ("detections(ball=int)", lambda: builder().detections("d.txt", fps=25, frame_size=(8, 8), ball=3), TypeError,
         ""),
        ("detections(missing ball)", lambda: builder().detections(FIXTURES / "det.txt", fps=25, frame_size=(8, 8),
                                                                  ball="/no/b.txt").build(),
         footml.InputNotFoundError, "/no/b.txt"),
        ("detections_array(frame_size=None)", lambda: builder().detections_array(np.zeros((1, 7)), fps=25,
                                                                                 frame_size=None), TypeError, ""),
        ("stage(None)", lambda: builder().stage(None), TypeError, "`name`"),
        ("stage(int)", lambda: builder().stage(3), TypeError, "`name`"),
        ("stage(name, int)", lambda: builder().stage("player_tracking", 3), TypeError, "config must be a dict"),
        ("stage(name, bad value)", lambda: builder(fixture_config()).stage("player_tracking", {"min_hits": "x"})
         .build(), footml.ConfigError, "min_hits"),
        ("checkpoint_dir(None)", lambda: builder().checkpoint_dir(None), TypeError, ""),
        ("output_dir(None)", lambda: builder().output_dir(None), TypeError, ""),
        ("on_event(None)", lambda: builder().on_event(None), TypeError, "callable"),
        ("pace(None)", lambda: builder().pace(None), TypeError, ""),
        ("pace(str)", lambda: builder().pace("1x"), TypeError, ""),
        ("pace(-1)", lambda: builder().pace(-1), footml.ConfigError, "pace"),
        ("pace(0)", lambda: builder().pace(0), footml.ConfigError, "pace"),
        ("sink_grace(None)", lambda: builder().sink_grace(None), TypeError, ""),
        ("sink_grace(str)", lambda: builder().sink_grace("2"), TypeError, ""),
        ("sink_grace(-1)", lambda: builder().sink_grace(-1), footml.ConfigError, "sink_grace"),
        ("stage_retry_policy(None)", lambda: builder().stage_retry_policy(None), TypeError, ""),
        ("stage_retry_policy(int)", lambda: builder().stage_retry_policy(3), TypeError, ""),
        ("stage_retry_policy(max_attempts=None-like str)",
         lambda: builder().stage_retry_policy("player_tracking", max_attempts="3"), TypeError, ""),
        ("stage_retry_policy(max_attempts=-1)", lambda: builder().stage_retry_policy("player_tracking", max_attempts=-1),
         OverflowError, ""),
        ("stage_retry_policy(max_attempts=0).build", lambda: builder(fixture_config())
         .stage_retry_policy("player_tracking", max_attempts=0).build(), footml.ConfigError, "max_attempts"),
        ("stage_retry_policy(initial_backoff_ms=-1)",
         lambda: builder().stage_retry_policy("player_tracking", initial_backoff_ms=-1), OverflowError, ""),
        ("to_json(indent=str)", lambda: report.to_json(indent="2"), TypeError, ""),
        ("to_json(indent=-1)", lambda: report.to_json(indent=-1), OverflowError, ""),
        ("to_pandas(None)", lambda: report.to_pandas(None), TypeError, ""),
        ("report[unknown]", lambda: report["nope"], KeyError, "nope"),
        ("report[int]", lambda: report[3], TypeError, ""),
        ("from_json(bytes)", lambda: footml.Report.from_json(b"{}"), TypeError, ""),
        ("LiveSession(int)", lambda: footml.LiveSession(42), TypeError, "found int"),
        ("LiveSession(bad key)", lambda: footml.LiveSession({"fps": 25, "frame_size": [8, 8], "bogus": 1}),
         footml.ConfigError, "bogus"),
        ("LiveSession(bad input)", lambda: footml.LiveSession({"fps": 25, "frame_size": [8, 8],
                                                               "live": {"input": "audio"}}), footml.ConfigError,
         "audio"),
        ("LiveSession(no fps)", lambda: footml.LiveSession({"frame_size": [8, 8]}), footml.ConfigError, "fps"),
        ("analyze(missing homography)", lambda: footml.analyze(fixture_config(homography_path="/no/h.json")),
         footml.InputNotFoundError, "/no/h.json"),
        ("LiveSession(missing model)", lambda: footml.LiveSession(
            {"fps": 25, "frame_size": [8, 8], "stage_configs": {"player_detection": {"model_path": "/no/m.onnx"}}}),
         footml.InputNotFoundError, "/no/m.onnx"),
        ("LiveSession(missing homography)", lambda: footml.LiveSession(
            {"fps": 25, "frame_size": [8, 8], "homography_path": "/no/h.json"}), footml.InputNotFoundError, "/no/h.json"),
    ]


def test_bad_arguments_raise_typed_errors() -> None:
    failures = []
    for name, call, error, message in bad_calls():
        try:
            call()
        except error as e:
            if message not in str(e):
                failures.append(f"{name}: {type(e).__name__}({e}) does not mention {message!r}")
        except BaseException as e:  # noqa: BLE001 - every mismatch is listed below
            failures.append(f"{name}: raised {type(e).__name__}({e}), want {error.__name__}")
        else:
            failures.append(f"{name}: no error, want {error.__name__}")
    assert not failures, "\n".join(failures)


def test_live_push_with_wrong_timestamps_and_flags() -> None:
    session = footml.LiveSession({"fps": 25, "frame_size": [1920, 1080], "live": {"input": "detections"}})
    players = np.array([[100, 200, 10, 30, 0.9, 0]])
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(footml.InvalidInputError, match="timestamp"):
            session.push_detections(players, bad)
    with pytest.raises(TypeError):
        session.push_detections(players, "0.0")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        session.push(np.zeros((1080, 1920, 3), np.uint8), 0.0, bgr="yes")  # type: ignore[arg-type]
    result = session.push_detections(players, 0.0)
    assert isinstance(result, footml.FrameResult)
    # A track born on the tracker's first frame is confirmed at once (as ByteTrack does).
    assert result.index == 0 and result.tracks.shape == (1, len(footml.LiveSession.COLUMNS))
    assert repr(result) == "FrameResult(index=0, time_s=0.0, tracks=1 rows)"
    assert footml.LiveSession.DETECTION_COLUMNS == ["x", "y", "w", "h", "score", "class"]
    session.finish()


def test_video_error_for_a_file_that_is_not_a_video(tmp_path: pathlib.Path) -> None:
    fake = tmp_path / "match.mp4"
    fake.write_bytes(b"this is not a video\n" * 100)
    with pytest.raises(footml.VideoError, match="match.mp4") as info:
        footml.analyze(fake)
    assert isinstance(info.value, footml.FootmlError)
    assert not isinstance(info.value, FileNotFoundError)


def test_checkpoint_error_when_the_directory_cannot_be_made(tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the checkpoint directory should go")
    pipeline = footml.PipelineBuilder(fixture_config()).checkpoint_dir(blocker / "ck").build()
    with pytest.raises(footml.CheckpointError) as info:
        pipeline.run()
    assert isinstance(info.value, footml.FootmlError)


def test_file_error_when_the_output_directory_cannot_be_made(tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output directory should go")
    with pytest.raises(footml.FileError, match="out") as info:
        footml.analyze(fixture_config(output_dir=str(blocker / "out")))
    assert isinstance(info.value, OSError) and isinstance(info.value, footml.FootmlError)
    assert not isinstance(info.value, FileNotFoundError)


def test_every_error_class_is_a_footml_error_with_the_standard_bases() -> None:
    expected = {
        "ConfigError": ValueError,
        "InputNotFoundError": FileNotFoundError,
        "DetectionsError": ValueError,
        "ArrayError": ValueError,
        "ReportError": ValueError,
        "InvalidInputError": ValueError,
        "UsageError": RuntimeError,
        "VideoError": None,
        "CheckpointError": None,
        # Transient, another worker has the pipeline: a CheckpointError of its own meaning.
        "PipelineBusyError": footml.CheckpointError,
        "FileError": OSError,
        "StageError": None,
        "CancelledError": None,
    }
    classes = {n: getattr(footml, n) for n in footml.__all__ if n.endswith("Error") and n != "FootmlError"}
    assert set(classes) == set(expected)
    for name, cls in classes.items():
        assert issubclass(cls, footml.FootmlError) and cls.__module__ == "footml" and cls.__doc__, name
        if expected[name] is not None:
            assert issubclass(cls, expected[name]), name
        # One exception class per meaning: no class doubles as another (beyond its declared
        # footml base).
        ancestors = {n for n, other in classes.items() if issubclass(cls, other)}
        declared = {name} | {n for n, other in classes.items() if other is expected[name]}
        assert ancestors == declared, (name, ancestors)


def test_report_tables_are_views_of_rust_buffers() -> None:
    report = footml.analyze(fixture_config())
    assert report.ball.shape == (0, len(footml.Report.BALL_COLUMNS))
    for table in (report.tracks, report.ball, report.calibration):
        assert table.dtype == np.float64 and table.flags.c_contiguous
        # Not NumPy-owned memory: the array wraps the Vec Rust filled (no copy was made).
        assert not table.flags.owndata and table.base is not None
        assert type(table.base).__module__ != "numpy"
    tracks = report.tracks
    again = report.tracks
    assert again is tracks
    # Shared, so read-only: an edit cannot change what the next caller reads.
    with pytest.raises(ValueError, match="read-only"):
        tracks[0, 0] = -1.0
    assert tracks.copy().flags.writeable
    assert again.__array_interface__["data"][0] == tracks.__array_interface__["data"][0]
    # A pandas frame of it is made from the same array.
    assert len(report.to_pandas("tracks")) == len(tracks)


def test_a_real_sigint_cancels_the_run_cleanly(tmp_path: pathlib.Path) -> None:
    """Ctrl-C as a terminal sends it: SIGINT to the Python process while `run()` works. The
    run stops (the engine reports it cancelled), KeyboardInterrupt reaches the script, and
    the process exits normally through its handler."""
    sparse = tmp_path / "sparse.txt"
    sparse.write_text("1,-1,10,10,20,40,0.9,-1,-1,-1\n5000000,-1,10,10,20,40,0.9,-1,-1,-1\n")
    script = textwrap.dedent(
        f"""
        import sys, footml
        events = []
        def on_event(e):
            events.append(e["type"])
            if e["type"] == "stage_progress" and events.count("stage_progress") == 1:
                print("running", flush=True)
        config = {{"detections_path": {str(sparse)!r}, "fps": 25, "frame_size": [64, 48]}}
        try:
            footml.analyze(config, on_event=on_event)
        except KeyboardInterrupt:
            print("interrupted", events[-1], flush=True)
            sys.exit(3)
        print("finished", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "running"
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, (out, err)
    # The engine stopped and said so before the exception reached the script.
    assert out.strip() == "interrupted pipeline_failed", (out, err)


def teamed_detections(tmp_path: pathlib.Path) -> pathlib.Path:
    """gt.txt as a detections file whose column 8 is each box's team (0 home, 1 away, -1 the
    referee), from meta.json: the real teams of the real players."""
    ids = json.loads((FIXTURES / "meta.json").read_text())["ids"]
    team = {int(i): {"home": 0, "away": 1}.get(v["team"], -1) for i, v in ids.items()}
    rows = np.loadtxt(FIXTURES / "gt.txt", delimiter=",")
    lines = [f"{int(r[0])},-1,{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},1,{team[int(r[1])]},-1,-1" for r in rows]
    path = tmp_path / "teamed.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_report_attributes_with_teams_events_and_formations(tmp_path: pathlib.Path) -> None:
    config = fixture_config(
        detections_path=str(teamed_detections(tmp_path)),
        ball_detections_path=str(FIXTURES / "ball_det.txt"),
        homography_path=str(FIXTURES / "homography.json"),
        output_dir=str(tmp_path / "out"),
        stage_configs={"ball_tracking": {"min_ball_radius": 1}},
    )
    report = footml.analyze(config)
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    # Each attribute is its report.json section.
    for section in ("teams", "events", "formations", "metrics", "possession", "possession_phases", "ball_owner"):
        assert getattr(report, section) == written[section], section
    # Two teams, each holding the tracks of its real players: the detections are the ground
    # truth boxes, so the gt box nearest a track's box in a frame names its player and team.
    gt = np.loadtxt(FIXTURES / "gt.txt", delimiter=",")
    ids = json.loads((FIXTURES / "meta.json").read_text())["ids"]
    gt_team = {int(i): {"home": 0, "away": 1}.get(v["team"], -1) for i, v in ids.items()}
    centres = gt[:, 2:4] + gt[:, 4:6] / 2
    by_frame = {int(f) - 1: np.flatnonzero(gt[:, 0] == f) for f in np.unique(gt[:, 0])}
    teams = report.teams
    assert sorted(t["id"] for t in teams) == [0, 1]
    for t in teams:
        assert len(t["track_ids"]) >= 8
        for track_id in t["track_ids"]:
            votes: Counter[int] = Counter()
            for f, _, x, y, w, h in report.tracks[report.tracks[:, 1] == track_id][:, :6]:
                rows = by_frame[int(f)]
                nearest = rows[np.argmin(np.hypot(*(centres[rows] - [x + w / 2, y + h / 2]).T))]
                votes[gt_team[int(gt[nearest, 1])]] += 1
            assert votes.most_common(1)[0][0] == t["id"], (t["id"], track_id, votes)
    # Possession by team, events and formations from those teams.
    assert {p for p in report.possession if p is not None} <= {0, 1} and any(p is not None for p in report.possession)
    assert report.events and {e["type"] for e in report.events} & {"pass", "pass_failed", "interception", "turnover", "shot"}
    assert all(0 <= e["frame"] < 1000 and e["time_s"] == pytest.approx(e["frame"] / 25) for e in report.events)
    assert report.formations and all(re.fullmatch(r"\d(-\d)+", f["formation"]) for f in report.formations)
    assert {f["team"] for f in report.formations} <= {0, 1}
    pct = [t["possession_pct"] for t in report.metrics["teams"]]
    assert len(pct) == 2 and sum(pct) == pytest.approx(100, abs=0.5)
    # The same tables through pandas.
    assert len(report.to_pandas("events")) == len(report.events)
    assert len(report.to_pandas("formations")) == len(report.formations)
    assert len(report.to_pandas("teams")) == 2
    phases = report.to_pandas("possession_phases")
    assert len(phases) == len(report.possession_phases) > 0


def test_analyze_takes_config_and_on_event_by_position() -> None:
    events: list[dict[str, Any]] = []
    # `analyze(path, config=None, on_event=None)`: a config dict as the source, then the callback.
    report = footml.analyze(fixture_config(), None, events.append)
    assert isinstance(report, footml.Report)
    iterator = footml.Pipeline.from_config(fixture_config()).events()
    assert isinstance(iterator, footml.EventIterator) and iter(iterator) is iterator
    assert events[-1]["type"] == "pipeline_completed" and events[-1]["pipeline_id"] == report.pipeline_id


class CountBatches:
    """A streaming stage that only counts the batches it sees."""

    name = "count_batches"
    requires = ["player_tracks"]
    provides: list[str] = []

    def __init__(self) -> None:
        self.calls = 0

    def process(self, records: list[dict[str, Any]]) -> None:
        self.calls += 1


def test_builder_run_settings_mirror_rust(tmp_path: pathlib.Path) -> None:
    counter = CountBatches()
    events: list[dict[str, Any]] = []
    report = (
        footml.PipelineBuilder(fixture_config())
        .pipeline_id("match-42")
        .batch_size(16)
        .channel_capacity(2)
        .checkpoint_dir(tmp_path / "ck")
        .checkpoint_interval(250)
        .model_version("v9")
        .retry_policy(max_attempts=5, jitter=0.0)
        .stage(counter)
        .on_event(events.append)
        .build()
        .run()
    )
    assert report.pipeline_id == "match-42" and report["model_version"] == "v9"
    # Batches of 16 frames, cut at the 250-frame checkpoint chunks: 4 chunks of ⌈250 / 16⌉.
    assert counter.calls == 4 * 16
    # One checkpoint per 250-frame chunk: frames_done 250, 500, 750, 1000.
    saved = sorted({e["frames_done"] for e in events if e["type"] == "checkpoint_saved"})
    assert saved == [250, 500, 750, 1000], saved
    # Settings are checked when the pipeline is built, as in the config.
    builder = footml.PipelineBuilder
    for bad, key in [
        (builder(fixture_config()).batch_size(0), "batch_size"),
        (builder(fixture_config()).channel_capacity(0), "channel_capacity"),
        (builder(fixture_config()).retry_policy(max_attempts=0), "max_attempts"),
        (builder(fixture_config()).retry_policy(jitter=2.0), "jitter"),
        # Keys the config already had stay, unknown ones included.
        (builder(fixture_config(retry={"bogus": 1})).retry_policy(max_attempts=2), "bogus"),
    ]:
        with pytest.raises(footml.ConfigError, match=key):
            bad.build()
    with pytest.raises(OverflowError):
        builder().batch_size(-1)
    with pytest.raises(TypeError):
        builder().pipeline_id(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        builder().retry_policy(3)  # type: ignore[misc]
    with pytest.raises(TypeError, match="`retry` must be an object"):
        builder({"retry": 3}).retry_policy(max_attempts=2)


def test_stubs_match_the_module(tmp_path: pathlib.Path) -> None:
    """mypy.stubtest compares python/footml/_footml.pyi (and the package) with the built module,
    so `pytest` alone catches a stub that drifted."""
    pytest.importorskip("mypy")
    # From a directory without a `footml` folder, so the installed package is what is checked.
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "footml"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "checked 2 modules" in out.stdout or "in 2 modules" in out.stdout, out.stdout


def test_builder_resume_and_keep_checkpoints(tmp_path: pathlib.Path) -> None:
    """A second run with the same id restores the kept chunks instead of computing them again;
    with `resume(False)` it deletes them and computes every chunk anew."""

    def run(keep: bool, resume: bool = True) -> tuple[footml.Report, list[dict[str, Any]]]:
        events: list[dict[str, Any]] = []
        builder = (
            footml.PipelineBuilder(fixture_config())
            .pipeline_id("kept")
            .checkpoint_dir(tmp_path / "ck")
            .checkpoint_interval(250)
            .keep_checkpoints(keep)
            .resume(resume)
            .on_event(events.append)
        )
        return builder.build().run(), events

    def saved(events: list[dict[str, Any]]) -> list[int]:
        return sorted({e["frames_done"] for e in events if e["type"] == "checkpoint_saved"})

    first, events = run(keep=True)
    assert saved(events) == [250, 500, 750, 1000]
    kept = sorted(p.name for p in (tmp_path / "ck").rglob("*") if p.is_file())
    assert kept, "keep_checkpoints(True) leaves the checkpoints"
    resumed, events = run(keep=True)
    assert saved(events) == [] and resumed.to_dict()["tracks"] == first.to_dict()["tracks"]
    fresh, events = run(keep=False, resume=False)
    assert saved(events) == [250, 500, 750, 1000] and fresh.to_dict()["tracks"] == first.to_dict()["tracks"]
    # Default (keep_checkpoints False): deleted once the report exists.
    assert not [p for p in (tmp_path / "ck").rglob("*") if p.is_file()]
    with pytest.raises(TypeError):
        footml.PipelineBuilder().resume(None)  # type: ignore[arg-type]
