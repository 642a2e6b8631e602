#!/usr/bin/env python3
"""Score the ball of a footml report against the ball ground truth of a rendered clip.

Usage: score_ball.py REPORT CLIP_DIR [--tol-m 1.0]

REPORT:   report.json written by `footml analyze` (its `ball` table: frame from 0, x, y in
          pixels, state, interpolated).
CLIP_DIR: a directory written by `footml render`: ball_gt.txt
          (frame,x_px,y_px,x_m,y_m,z_m,r_px, frames from 1, only frames where the ball's centre is
          in the image) and homography.json (per-frame image -> pitch matrices).

The metre error maps the report's pixel position through the renderer's own homography of that
frame (not footml's), and only where the true ball is on the ground (z < 0.5 m): a homography maps
the image onto the pitch plane, so a ball in the air lands behind itself.

Prints one JSON object:
  gt_frames        frames with the ball in the image
  coverage         share of gt_frames where the report has a ball position (tracked, occluded or
                   interpolated)
  tracked          share of gt_frames where the report's ball is `tracked` (a candidate matched)
  mean_px          mean pixel error over gt_frames with a position
  median_px        median of the same
  ground_frames    gt_frames with the ball on the ground
  mean_m           mean metre error over ground frames with a position
  within_1m        share of ground frames with a position within --tol-m of the truth
  within_1m_all    share of all ground frames (no position counts as a miss) within --tol-m
  extra_frames     frames where the report has a position but the ball is not in the image
Exits non-zero with a one-line message on stderr for missing or malformed input.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path


def fail(msg: str) -> None:
    print(f"score_ball.py: {msg}", file=sys.stderr)
    sys.exit(2)


def read_gt(path: Path) -> dict[int, tuple[float, float, float, float, float]]:
    gt = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        fail(f"cannot read {path}: {e}")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            v = [float(x) for x in line.split(",")]
            # Frames from 1 in the file, from 0 in the report.
            gt[int(v[0]) - 1] = (v[1], v[2], v[3], v[4], v[5])
        except (ValueError, IndexError):
            fail(f"{path}:{n}: expected frame,x_px,y_px,x_m,y_m,z_m,r_px, found {line!r}")
    return gt


def read_homographies(path: Path) -> dict[int, list[list[float]]]:
    try:
        doc = json.loads(path.read_text())
        return {int(f["frame"]) - 1: f["image_to_pitch"] for f in doc["frames"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"{path}: expected a per-frame homography file: {e}")
    return {}


def to_pitch(h: list[list[float]], u: float, v: float) -> tuple[float, float]:
    w = h[2][0] * u + h[2][1] * v + h[2][2]
    return ((h[0][0] * u + h[0][1] * v + h[0][2]) / w, (h[1][0] * u + h[1][1] * v + h[1][2]) / w)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("clip", type=Path)
    ap.add_argument("--tol-m", type=float, default=1.0)
    a = ap.parse_args()
    try:
        report = json.loads(a.report.read_text())
        ball = {int(b["frame"]): b for b in report["ball"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"{a.report}: expected a footml report.json with a ball table: {e}")
    gt = read_gt(a.clip / "ball_gt.txt")
    hs = read_homographies(a.clip / "homography.json")
    if not gt:
        fail(f"{a.clip / 'ball_gt.txt'} has no frames")
    px, m = [], []
    tracked = ground = within = 0
    for f, (gx, gy, mx, my, z) in gt.items():
        b = ball.get(f)
        if z < 0.5:
            ground += 1
        if b is None:
            continue
        tracked += b["state"] == "tracked"
        px.append(math.hypot(b["x"] - gx, b["y"] - gy))
        if z < 0.5 and f in hs:
            p = to_pitch(hs[f], b["x"], b["y"])
            e = math.hypot(p[0] - mx, p[1] - my)
            m.append(e)
            within += e <= a.tol_m
    n = len(gt)
    out = {
        "gt_frames": n,
        "coverage": len(px) / n,
        "tracked": tracked / n,
        "mean_px": statistics.fmean(px) if px else None,
        "median_px": statistics.median(px) if px else None,
        "ground_frames": ground,
        "mean_m": statistics.fmean(m) if m else None,
        "within_1m": within / len(m) if m else None,
        "within_1m_all": within / ground if ground else None,
        "extra_frames": sum(1 for f in ball if f not in gt),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
