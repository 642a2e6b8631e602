"""Tests of footml.LiveSession: real frames through the real person detector."""

from __future__ import annotations

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
