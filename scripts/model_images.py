"""Real images for the model scripts (onnx_dynamic_batch.py, quantize_int8.py), letterboxed as
footml's player detection does: scaled to fit the model input with the aspect ratio kept,
centred, padded with grey 114, RGB, float32 in 0..1, NCHW.

Decoding and scaling are done by the ffmpeg CLI (installed by scripts/setup.sh), so no image
library is needed. Images (.jpg, .jpeg, .png, .bmp) give one frame; videos give `per_video`
frames spread over the clip.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


class ImageError(Exception):
    """An input could not be read as images."""


def default_sources() -> list[Path]:
    """The real pictures the project has: the person photo and the sample clip (scripts/setup.sh)."""
    found = [p for p in (ROOT / "data/fixtures/grace_hopper.jpg", ROOT / "data/sample.mp4") if p.exists()]
    if not found:
        raise ImageError("no default images: run scripts/setup.sh (data/fixtures/grace_hopper.jpg, data/sample.mp4)")
    return found


def _frame_count(video: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
         "stream=nb_read_packets", "-of", "json", str(video)],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise ImageError(f"{video}: not a readable video: {out.stderr.strip()}")
    try:
        return int(json.loads(out.stdout)["streams"][0]["nb_read_packets"])
    except (KeyError, IndexError, ValueError) as e:
        raise ImageError(f"{video}: no video stream") from e


def source_size(path: Path) -> tuple[int, int]:
    """Width and height of an image or of a video's frames."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "json",
         str(path)],
        capture_output=True, text=True,
    )
    try:
        s = json.loads(out.stdout)["streams"][0]
        return int(s["width"]), int(s["height"])
    except (KeyError, IndexError, ValueError) as e:
        raise ImageError(f"{path}: not a readable image or video: {out.stderr.strip()}") from e


def letterbox_geometry(src: tuple[int, int], dst: tuple[int, int]) -> tuple[float, float, float]:
    """(scale, pad_x, pad_y) that map source pixels into the letterboxed input, as ffmpeg's
    scale (force_original_aspect_ratio=decrease) and pad filters above do."""
    scale = min(dst[0] / src[0], dst[1] / src[1])
    w, h = min(dst[0], round(src[0] * scale)), min(dst[1], round(src[1] * scale))
    return scale, (dst[0] - w) // 2, (dst[1] - h) // 2


def frame_indices(path: Path, per_video: int) -> list[int]:
    """Which frames (from 0) `load` takes from a source."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return [0]
    n = _frame_count(path)
    every = max(1, n // per_video)
    return list(range(0, n, every))[:per_video]


def load(path: Path, width: int, height: int, per_video: int = 4) -> np.ndarray:
    """Letterboxed frames of one image or video (those of `frame_indices`), as float32
    [K, 3, height, width]."""
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    letterbox = (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease:flags=bilinear,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=0x727272"
    )
    if path.suffix.lower() in IMAGE_SUFFIXES:
        vf, frames = letterbox, 1
    else:
        n = _frame_count(path)
        if n == 0:
            raise ImageError(f"{path}: no frames")
        every = max(1, n // per_video)
        vf, frames = f"select='not(mod(n\\,{every}))',{letterbox}", min(per_video, n)
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", vf, "-fps_mode", "passthrough", "-frames:v", str(frames),
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
    )
    size = width * height * 3
    if out.returncode != 0 or len(out.stdout) == 0 or len(out.stdout) % size != 0:
        raise ImageError(f"{path}: ffmpeg could not decode it: {out.stderr.decode(errors='replace').strip()}")
    rgb = np.frombuffer(out.stdout, np.uint8).reshape(-1, height, width, 3)
    return (rgb.astype(np.float32) / 255.0).transpose(0, 3, 1, 2).copy()


def load_all(paths: list[Path], width: int, height: int, per_video: int = 4) -> np.ndarray:
    """Frames of every source, concatenated."""
    return np.concatenate([load(p, width, height, per_video) for p in paths])
