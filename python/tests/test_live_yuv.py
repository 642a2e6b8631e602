"""LiveSession.push_yuv420: I420 frames as OpenCV and PyAV hand them out, through the real
person detector, against the same picture pushed as RGB."""

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


def photo(pix_fmt: str) -> bytes:
    """The photo on a grass-green frame (as test_live.py makes it), raw, in `pix_fmt`, by the
    ffmpeg CLI (BT.601 limited range for yuv420p: FFmpeg's default for RGB input)."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"color=c=0x3c783c:s={W}x{H}", "-i", str(PHOTO)]
        + ["-filter_complex", "[1]scale=-2:220[p];[0][p]overlay=x=150:y=80,format=" + pix_fmt, "-frames:v", "1"]
        + ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        check=True,
        capture_output=True,
    ).stdout


def session() -> footml.LiveSession:
    config: dict[str, Any] = {
        "fps": 25,
        "frame_size": [W, H],
        "stage_configs": {"player_detection": {"model_path": str(MODEL), "intra_threads": 1}},
    }
    return footml.LiveSession(config)


@pytest.mark.skipif(not MODEL.exists() or not PHOTO.exists(), reason="needs scripts/setup.sh")
def test_push_yuv420_finds_the_person_the_rgb_push_finds() -> None:
    yuv = np.frombuffer(photo("yuv420p"), dtype=np.uint8).reshape(H * 3 // 2, W)
    rgb = np.frombuffer(photo("rgb24"), dtype=np.uint8).reshape(H, W, 3)
    live = session()
    got = [live.push_yuv420(yuv, i / 25, matrix="bt601") for i in range(3)]
    live.finish()
    live = session()
    want = [live.push(rgb, i / 25) for i in range(3)]
    live.finish()
    assert [r.index for r in got] == [0, 1, 2]
    # One person, one track, and the box where the RGB frame puts it: the two pictures differ
    # only by 4:2:0 chroma and rounding.
    assert len(got[2].tracks) == len(want[2].tracks) == 1
    np.testing.assert_allclose(got[2].tracks[0, 1:5], want[2].tracks[0, 1:5], atol=3.0)
    # A strided view of the same planes gives the very same result (read through one copy).
    wide = np.zeros((H * 3 // 2, W + 8), dtype=np.uint8)
    wide[:, 4 : 4 + W] = yuv
    live = session()
    strided = [live.push_yuv420(wide[:, 4 : 4 + W], i / 25, matrix="bt601") for i in range(3)]
    live.finish()
    np.testing.assert_array_equal(strided[2].tracks, got[2].tracks)


def test_push_yuv420_bad_frames() -> None:
    live = footml.LiveSession({"fps": 25, "frame_size": [64, 48], "live": {"input": "pixels"}})
    good = np.full((48 * 3 // 2, 64), 128, dtype=np.uint8)
    for bad, error, message in [
        (good.tolist(), footml.ArrayError, "numpy.ndarray"),
        (None, footml.ArrayError, "numpy.ndarray"),
        (good[:-1], footml.ArrayError, r"shape \(height \* 3 // 2, width\)"),
        (good[:, :-1], footml.ArrayError, "even"),
        (good[:, :, None], footml.ArrayError, "shape"),
        (good.astype(np.uint16), footml.ArrayError, "dtype uint8, found uint16"),
        (np.full((36 * 3 // 2, 64), 128, np.uint8), footml.InvalidInputError, "frame size"),
    ]:
        with pytest.raises(error, match=message):
            live.push_yuv420(bad, 0.0)
    with pytest.raises(footml.InvalidInputError, match="matrix"):
        live.push_yuv420(good, 0.0, matrix="bt2020")
    with pytest.raises(TypeError):
        live.push_yuv420(good, None)  # type: ignore[arg-type]
    # Mid-grey in limited and full range both push; the next push must come later in time.
    assert live.push_yuv420(good, 0.0).index == 0
    assert live.push_yuv420(good, 0.04, matrix="bt601", full_range=True).index == 1
    with pytest.raises(footml.InvalidInputError, match="timestamp"):
        live.push_yuv420(good, 0.04)
    live.finish()
    with pytest.raises(footml.UsageError, match="closed"):
        live.push_yuv420(good, 1.0)
