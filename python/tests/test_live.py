"""Tests of footml.LiveSession: real frames through the real person detector."""

from __future__ import annotations

import json
import pathlib
import subprocess
from typing import Any

import numpy as np
import pytest

import footml

ROOT = pathlib.Path(__file__).resolve().parents[2]
PHOTO = ROOT / "data" / "fixtures" / "grace_hopper.jpg"
MODEL = ROOT / ".venv" / "lib" / "python3.11" / "site-packages" / "fall_detection" / "models" / "best_fp16.onnx"
W, H = 640, 360


def photo_rgb() -> np.ndarray:
    """The photo, 220 px high, on a grass-green W×H frame, as RGB24 made by the ffmpeg CLI."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"color=c=0x3c783c:s={W}x{H}", "-i", str(PHOTO)]
        + ["-filter_complex", "[1]scale=-2:220[p];[0][p]overlay=x=150:y=80", "-frames:v", "1"]
        + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(H, W, 3)


def config() -> dict[str, Any]:
    return {
        "fps": 25,
        "frame_size": [W, H],
        "stage_configs": {"player_detection": {"model_path": str(MODEL), "intra_threads": 1}},
    }


def push_all(frames: list[np.ndarray], **kw: Any) -> list[np.ndarray]:
    session = footml.LiveSession(config())
    results = [session.push(f, i / 25, **kw) for i, f in enumerate(frames)]
    assert [(r.index, r.time_s) for r in results] == [(i, i / 25) for i in range(len(frames))]
    # Not calibrated: no pitch, so no possession; the ball is tracked from the pixels.
    assert all(r.possession is None for r in results)
    assert all(r.ball is None or {"x", "y", "state", "pitch_x"} <= r.ball.keys() for r in results)
    report = session.finish()
    assert report.video["frame_count"] == len(frames) or report.video["frame_count"] is None
    return [r.tracks for r in results]


@pytest.mark.skipif(not MODEL.exists() or not PHOTO.exists(), reason="needs scripts/setup.sh")
def test_push_rgb_bgr_and_strided_give_the_same_tracks() -> None:
    rgb = photo_rgb()
    results = push_all([rgb, rgb, rgb])
    assert [r.shape[1] for r in results] == [len(footml.LiveSession.COLUMNS)] * 3
    # The person is confirmed after two hits (min_hits 2) and keeps one id.
    assert len(results[2]) == 1
    _, x, y, w, h = results[2][0, :5]
    # The box is on the photo (x 150.., y 80..300) and holds most of its height.
    assert 140 < x < 250 and 70 < y < 200 and 100 < h < 240 and x + w < 360
    assert np.isnan(results[2][0, 6:]).all()  # not calibrated
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    np.testing.assert_array_equal(push_all([bgr] * 3, bgr=True)[2], results[2])
    wide = np.zeros((H, W + 16, 3), dtype=np.uint8)
    wide[:, 8 : 8 + W] = rgb
    view = wide[:, 8 : 8 + W]
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(push_all([view] * 3)[2], results[2])


@pytest.mark.skipif(not MODEL.exists() or not PHOTO.exists(), reason="needs scripts/setup.sh")
def test_live_teams_from_kit_colours() -> None:
    """Two people on grass, one with the red and blue channels swapped (another kit): once each
    has five kit samples (`min_samples`), they are in different teams in every frame, and the
    report of finish() has the same teams."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"color=c=0x3c783c:s={W}x{H}", "-i", str(PHOTO)]
        + ["-filter_complex", "[1]scale=-2:220,split[a][b];[b]colorchannelmixer=rr=0:rb=1:br=1:bb=0[c];"
           + "[0][a]overlay=x=60:y=80[t];[t][c]overlay=x=380:y=80"]
        + ["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
    ).stdout
    frame = np.frombuffer(raw, dtype=np.uint8).reshape(H, W, 3)
    session = footml.LiveSession({**config(), "live": {"teams": {"min_tracks": 2}}})
    results = [session.push(frame, i / 25) for i in range(8)]
    report = session.finish()
    # Both tracked from the first frame (the tracker's first frame confirms at once): five kit
    # samples each, so teams, from the fifth.
    assert [len(r.tracks) for r in results] == [2] * 8
    assert all(r.teams == [None, None] for r in results[:4]), [r.teams for r in results]
    ids = [int(i) for i in results[-1].tracks[:, 0]]
    for r in results[4:]:
        assert sorted(t for t in r.teams if t is not None) == [0, 1], r.teams
        assert [r.team_of(i) for i in ids] == r.teams
    assert results[-1].team_of(999) is None
    final = {i: team["id"] for team in report.teams for i in team["track_ids"]}
    assert [final.get(i) for i in ids] == results[-1].teams
    # Turned off: no provisional teams (the report still classifies at the end).
    session = footml.LiveSession({**config(), "live": {"teams": {"min_tracks": 2, "enabled": False}}})
    results = [session.push(frame, i / 25) for i in range(6)]
    assert results[-1].teams == [None, None]
    assert sorted(team["id"] for team in session.finish().teams) == [0, 1]


@pytest.mark.skipif(not MODEL.exists(), reason="needs scripts/setup.sh")
def test_push_bad_frames_and_closed_session() -> None:
    session = footml.LiveSession(config())
    good = np.zeros((H, W, 3), dtype=np.uint8)
    for bad, message in [
        (good.tolist(), "numpy.ndarray"),
        (None, "numpy.ndarray"),
        (good[:, :, 0], r"shape \(height, width, 3\)"),
        (np.zeros((H, W, 4), dtype=np.uint8), r"shape \(height, width, 3\)"),
        (good.astype(np.float32), "dtype uint8, found float32"),
    ]:
        with pytest.raises(footml.ArrayError, match=message) as info:
            session.push(bad, 0.0)
        assert isinstance(info.value, ValueError)
    with pytest.raises(footml.InvalidInputError, match="frame size") as size_error:
        session.push(np.zeros((10, 10, 3), dtype=np.uint8), 0.0)
    assert isinstance(size_error.value, ValueError)
    session.push(good, 0.0)
    with pytest.raises(footml.InvalidInputError, match="timestamp"):
        session.push(good, 0.0)
    with pytest.raises(TypeError):
        session.push(good, None)  # type: ignore[arg-type]
    report = session.finish()
    assert isinstance(report, footml.Report)
    with pytest.raises(footml.UsageError, match="closed"):
        session.push(good, 1.0)
    with pytest.raises(footml.UsageError):
        session.finish()
    with pytest.raises(footml.ConfigError, match="frame_size"):
        footml.LiveSession({"fps": 25})
    with pytest.raises(TypeError):
        footml.LiveSession(None)  # type: ignore[arg-type]


FIXTURE = ROOT / "tests" / "fixtures" / "skillcorner"
FRAMES = 60


def mot_frames(name: str) -> list[np.ndarray]:
    """The fixture's first FRAMES frames of a MOTChallenge file as (N, 6) float32 arrays."""
    table = np.loadtxt(FIXTURE / name, delimiter=",", dtype=np.float64)
    table = table[table[:, 0] <= FRAMES]
    return [
        np.column_stack([table[table[:, 0] == f, 2:7], np.zeros(int((table[:, 0] == f).sum()))]).astype(np.float32)
        for f in range(1, FRAMES + 1)
    ]


def detections_config(**extra: Any) -> dict[str, Any]:
    return {
        "fps": 25,
        "frame_size": [1920, 1080],
        "homography_path": str(FIXTURE / "homography.json"),
        "live": {"input": "detections", "ball_candidates": True},
        "stage_configs": {"ball_tracking": {"min_ball_radius": 0.5, "max_ball_radius": 10}},
        **extra,
    }


def test_push_detections_gives_the_file_run_and_possession(tmp_path: pathlib.Path) -> None:
    players, ball = mot_frames("det.txt"), mot_frames("ball_det.txt")
    session = footml.LiveSession(detections_config())
    results = [session.push_detections(p, i / 25, ball=b) for i, (p, b) in enumerate(zip(players, ball))]
    live = session.finish()

    # The same detections as files through a file run: every frame's tracks as pushed.
    for name in ("det.txt", "ball_det.txt"):
        lines = (FIXTURE / name).read_text().splitlines()
        (tmp_path / name).write_text("".join(l + "\n" for l in lines if int(l.split(",")[0]) <= FRAMES))
    config = detections_config(detections_path=str(tmp_path / "det.txt"))
    del config["live"]
    config["ball_detections_path"] = str(tmp_path / "ball_det.txt")
    file = footml.analyze(config)
    rows = file.tracks
    cols = footml.Report.TRACK_COLUMNS
    frame = rows[:, cols.index("frame")]
    owners = 0
    for r in results:
        want = rows[frame == r.index]
        want = want[np.argsort(want[:, cols.index("track_id")])]
        got = r.tracks
        np.testing.assert_array_equal(got[:, 0], want[:, cols.index("track_id")])
        np.testing.assert_array_equal(got[:, 1:5], want[:, [cols.index(c) for c in ("x", "y", "w", "h")]])
        # The owner, when there is one, is a player tracked in that frame with the ball seen.
        assert r.possession is not None and set(r.possession) == {"team", "track_id"}
        assert r.possession["team"] is None  # no teams from detections
        assert r.teams == [None] * len(got) and r.team_of(int(got[0, 0])) is None
        if r.possession["track_id"] is not None:
            owners += 1
            assert r.possession["track_id"] in set(got[:, 0].astype(int).tolist())
            assert r.ball is not None and r.ball["state"] in ("tracked", "occluded")
    assert owners >= 10, owners
    np.testing.assert_array_equal(live.tracks, file.tracks)


def test_push_detections_bad_inputs() -> None:
    session = footml.LiveSession(detections_config())
    good = np.array([[100, 200, 10, 30, 0.9, 0]], dtype=np.float64)
    for bad, error, message in [
        (good.tolist(), footml.ArrayError, "numpy.ndarray"),
        (None, footml.ArrayError, "numpy.ndarray"),
        (good[:, :5], footml.ArrayError, r"shape \(N, 6\)"),
        (good[0], footml.ArrayError, r"shape \(N, 6\)"),
        (good.astype(np.int64), footml.ArrayError, "dtype float64 or float32, found int64"),
        (np.array([[np.nan, 200, 10, 30, 0.9, 0]]), footml.DetectionsError, "players row 0: x: expected a finite"),
        (np.array([[100, 200, 0, 30, 0.9, 0]]), footml.DetectionsError, "positive box size"),
        (np.array([[100, 200, 10, 30, 0.9, -1]]), footml.DetectionsError, "class: expected a whole number"),
    ]:
        with pytest.raises(error, match=message) as info:
            session.push_detections(bad, 0.0)
        assert isinstance(info.value, ValueError)
    with pytest.raises(footml.ArrayError, match="ball: expected dtype"):
        session.push_detections(good, 0.0, ball=good.astype(np.int32))
    with pytest.raises(footml.DetectionsError, match="ball row 0"):
        session.push_detections(good, 0.0, ball=np.array([[1, 2, 3, 4, np.inf, 0]]))
    r = session.push_detections(good.astype(np.float32), 0.0)
    assert r.index == 0 and r.time_s == 0.0
    with pytest.raises(footml.InvalidInputError, match="timestamp"):
        session.push_detections(good, 0.0)
    with pytest.raises(TypeError):
        session.push_detections(good, None)  # type: ignore[arg-type]
    with pytest.raises(footml.InvalidInputError, match="takes detections, found pixels"):
        session.push(np.zeros((1080, 1920, 3), dtype=np.uint8), 1.0)
    session.finish()
    with pytest.raises(footml.UsageError, match="closed"):
        session.push_detections(good, 1.0)

    # Ball candidates for a session without them, detections for a pixel session.
    no_ball = footml.LiveSession({"fps": 25, "frame_size": [1920, 1080], "live": {"input": "detections"}})
    with pytest.raises(footml.InvalidInputError, match="ball candidates"):
        no_ball.push_detections(good, 0.0, ball=good)
    assert no_ball.push_detections(good, 0.0).possession is None  # not calibrated, no ball
    pixels = footml.LiveSession({"fps": 25, "frame_size": [64, 48], "live": {"input": "pixels"}})
    with pytest.raises(footml.InvalidInputError, match="takes pixels"):
        pixels.push_detections(good, 0.0)


def gt_frames_with_teams() -> list[np.ndarray]:
    """The fixture's ground-truth boxes of the first FRAMES frames as (N, 7) pushes whose last
    column is the player's team from meta.json (home 0, away 1, referees -1 unknown)."""
    meta = json.loads((FIXTURE / "meta.json").read_text())["ids"]
    code = {"home": 0, "away": 1}
    table = np.loadtxt(FIXTURE / "gt.txt", delimiter=",", dtype=np.float64)
    table = table[table[:, 0] <= FRAMES]
    frames = []
    for f in range(1, FRAMES + 1):
        rows = table[table[:, 0] == f]
        teams = [code.get(meta[str(int(i))]["team"], -1) if meta[str(int(i))]["role"] != "referee" else -1
                 for i in rows[:, 1]]
        frames.append(np.column_stack([rows[:, 2:6], np.ones(len(rows)), np.zeros(len(rows)), teams]))
    return frames


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box `a` (x, y, w, h) with each row of `b`."""
    x1, y1 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x2, y2 = np.minimum(a[0] + a[2], b[:, 0] + b[:, 2]), np.minimum(a[1] + a[3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter / (a[2] * a[3] + b[:, 2] * b[:, 3] - inter)


def test_push_detections_with_a_team_column_gives_the_users_teams_and_possession_team() -> None:
    """Ground-truth boxes pushed with each player's real team: every track takes the team of
    the player it follows, from its first frame, and possession names the owner's team; with
    live.user_teams the report's teams at the end are the same."""
    players, ball = gt_frames_with_teams(), mot_frames("ball_det.txt")
    live = {"input": "detections", "ball_candidates": True, "user_teams": True}
    session = footml.LiveSession(detections_config(live=live))
    owners = decided = 0
    last_team: dict[int, int | None] = {}
    for i, (p, b) in enumerate(zip(players, ball)):
        r = session.push_detections(p, i / 25, ball=b)
        last_team.update(zip((int(t[0]) for t in r.tracks), r.teams))
        want = []
        for track in r.tracks:
            overlap = iou(track[1:5], p[:, :4])
            assert overlap.max() >= 0.5, (i, track)
            team = int(p[overlap.argmax(), 6])
            want.append(None if team == -1 else team)
        assert r.teams == want, i
        decided += sum(t is not None for t in want)
        if r.possession is not None and r.possession["track_id"] is not None:
            owners += 1
            assert r.possession["team"] == r.team_of(r.possession["track_id"]) is not None, (i, r.possession)
    assert decided >= 15 * FRAMES and owners >= 10, (decided, owners)
    report = session.finish()
    final = {i: team["id"] for team in report.teams for i in team["track_ids"]}
    assert {i: final.get(i) for i in last_team} == last_team
    assert sorted(final.values()) == sorted(t for t in last_team.values() if t is not None)


def test_push_detections_team_column_errors() -> None:
    session = footml.LiveSession({"fps": 25, "frame_size": [1920, 1080], "live": {"input": "detections"}})
    row = [100, 200, 10, 30, 0.9, 0]
    for team in (2, 0.5, -2, np.nan):
        with pytest.raises(footml.DetectionsError, match=r"players row 0: team: expected 0, 1 or -1"):
            session.push_detections(np.array([row + [team]]), 0.0)
    with pytest.raises(footml.ArrayError, match=r"\(N, 7\)"):
        session.push_detections(np.array([row + [0, 0]]), 0.0)
    with pytest.raises(footml.ArrayError, match="dtype float64 or float32, found int64"):
        session.push_detections(np.array([row + [1]], dtype=np.int64), 0.0)
    # float32 and -1 (unknown) are fine; the session was left usable by the bad pushes.
    r = session.push_detections(np.array([row + [-1]], dtype=np.float32), 0.0)
    assert r.teams == [None] and r.team_of(int(r.tracks[0, 0])) is None
    r = session.push_detections(np.array([[101, 200, 10, 30, 0.9, 0, 1]]), 0.04)
    assert r.teams == [1]
    session.finish()


def test_push_detections_with_the_referee_class_gives_the_referee_no_team() -> None:
    """Ground-truth boxes pushed with each player's real team — the referee (gt id 27) by
    mistake with team 0 — and the referee's boxes with class 3: with referee_class_ids [3]
    his track is a referee without a team in every frame, every other track keeps its
    player's team, and the report gives each track the team and role it had live. Without
    the key he is in team 0, as pushed."""
    meta = json.loads((FIXTURE / "meta.json").read_text())["ids"]
    table = np.loadtxt(FIXTURE / "gt.txt", delimiter=",", dtype=np.float64)
    table = table[table[:, 0] <= FRAMES]
    frames = []
    for f in range(1, FRAMES + 1):
        rows = table[table[:, 0] == f]
        ids = rows[:, 1].astype(int)
        teams = [1 if meta[str(i)]["team"] == "away" else 0 for i in ids]
        classes = [3 if i == 27 else 0 for i in ids]
        frames.append((ids, np.column_stack([rows[:, 2:6], np.ones(len(rows)), classes, teams])))

    def run(extra: dict[str, Any]) -> None:
        live = {"input": "detections", "user_teams": True}
        session = footml.LiveSession({"fps": 25, "frame_size": [1920, 1080], "live": live, "stage_configs": extra})
        last: dict[int, tuple[int | None, str | None]] = {}
        referee_frames = 0
        for i, (ids, p) in enumerate(frames):
            r = session.push_detections(p, i / 25)
            assert len(r.roles) == len(r.teams) == len(r.tracks)
            for track, team, role in zip(r.tracks, r.teams, r.roles):
                overlap = iou(track[1:5], p[:, :4])
                assert overlap.max() >= 0.5, (i, track)
                gt_id = ids[overlap.argmax()]
                if gt_id == 27 and extra:
                    referee_frames += 1
                    assert (team, role) == (None, "referee"), i
                else:
                    assert (team, role) == (int(p[overlap.argmax(), 6]), "player"), (i, gt_id)
                last[int(track[0])] = (team, role)
        assert referee_frames == (FRAMES if extra else 0)
        report = session.finish().to_dict()
        assert {t["track_id"]: (t["team"], t["role"]) for t in report["tracks"]} == last

    run({"player_detection": {"referee_class_ids": [3]}})
    run({})
