#!/usr/bin/env python3
"""Player tracking through a panning, zooming camera: footml with and without the per-frame
homographies against a peer tracker (norfair), all scored by py-motmetrics.

Usage: camera_motion.py RENDER_DIR OUT_DIR [--footml BIN] [--seed N]

RENDER_DIR is the output of `footml render` (broadcast camera): gt.txt (boxes of the drawn
figures with visibility) and homography.json (exact per-frame image -> pitch). Detections are
simulated from gt.txt with the noise model of scripts/make_fixtures.py (seeded): centre
jitter 4 % of the box height, 5 % size jitter, 6 % random misses and 60 % misses of boxes less
than half visible, 10 % true detections with a low score, 0.5 false positives a frame.

Trackers, each run as its users would:
  footml (image)       `footml analyze --detections`: the image-space ByteTrack-style tracker
  footml (calibrated)  the same with `--homography`: camera motion compensation + re-id on the
                       pitch by position alone (a detections file has no pixels)
  footml (calibrated + kit)  `footml analyze VIDEO --detections --homography`: the same
                       detections, with the rendered video's pixels, so each detection's torso
                       kit colour joins re-identification (appearance + team compatibility)
  norfair (image)      norfair 2.3.0 Tracker(distance_function="iou", distance_threshold=0.7)
                       on detections scoring >= 0.5 (norfair has no low-score stage)
  norfair (calibrated) the same with coord_transformations=HomographyTransformation(H_t), the
                       camera-motion input norfair documents, fed the exact homographies

Prints one table row per tracker (Markdown) and writes the tracks and scores into OUT_DIR.
Needs numpy, motmetrics and norfair, all in .venv (scripts/requirements.txt).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def simulate(gt_path: Path, size: tuple[int, int], seed: int) -> list[tuple[int, float, float, float, float, float]]:
    rng = np.random.default_rng(seed)
    W, H = size
    rows = [l.split(",") for l in gt_path.read_text().splitlines() if l.strip()]
    by_frame: dict[int, list[list[float]]] = {}
    for r in rows:
        by_frame.setdefault(int(r[0]), []).append([float(v) for v in r[2:6]] + [float(r[8])])
    dets = []
    frames = max(by_frame) if by_frame else 0
    for k in range(1, frames + 1):
        out = []
        for x, y, w, h, vis in by_frame.get(k, []):
            if vis < 0.1:
                continue
            if rng.random() < (0.6 if vis < 0.5 else 0.06):
                continue
            cx = x + w / 2 + rng.normal(0, 0.04 * h)
            cy = y + h / 2 + rng.normal(0, 0.04 * h)
            w2 = w * max(0.2, 1 + rng.normal(0, 0.05))
            h2 = h * max(0.2, 1 + rng.normal(0, 0.05))
            x1, y1 = max(0.0, cx - w2 / 2), max(0.0, cy - h2 / 2)
            x2, y2 = min(W, cx + w2 / 2), min(H, cy + h2 / 2)
            if x2 - x1 < 1 or y2 - y1 < 1:
                continue
            s = rng.uniform(0.1, 0.5) if rng.random() < 0.1 else 0.5 + 0.45 * rng.beta(4, 2)
            out.append((k, x1, y1, x2 - x1, y2 - y1, s))
        for _ in range(rng.poisson(0.5)):
            if not by_frame.get(k):
                break
            _, _, w, h, _ = by_frame[k][rng.integers(len(by_frame[k]))]
            x1, y1 = rng.uniform(0, W - w), rng.uniform(0, H - h)
            out.append((k, x1, y1, w, h, rng.uniform(0.1, 0.6)))
        dets.extend(out[i] for i in rng.permutation(len(out)))
    return dets


def write_mot(path: Path, rows, det: bool) -> None:
    with path.open("w") as f:
        for k, a, x, y, w, h, s in rows:
            f.write(f"{k},{-1 if det else a},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{s:.3f},-1,-1,-1\n")


def norfair_tracks(dets, homographies, calibrated: bool):
    from norfair import Detection, Tracker
    from norfair.camera_motion import HomographyTransformation

    tracker = Tracker(distance_function="iou", distance_threshold=0.7)
    by_frame: dict[int, list] = {}
    for k, x, y, w, h, s in dets:
        by_frame.setdefault(k, []).append((x, y, w, h, s))
    frames = max(by_frame) if by_frame else 0
    out = []
    for k in range(1, frames + 1):
        nd = [
            Detection(points=np.array([[x, y], [x + w, y + h]]), scores=np.array([s, s]))
            for x, y, w, h, s in by_frame.get(k, [])
            if s >= 0.5
        ]
        tr = None
        if calibrated and k in homographies:
            tr = HomographyTransformation(np.array(homographies[k]))
        objs = tracker.update(detections=nd, coord_transformations=tr)
        for o in objs:
            (x1, y1), (x2, y2) = o.estimate
            if x2 > x1 and y2 > y1:
                out.append((k, o.id, x1, y1, x2 - x1, y2 - y1, 1.0))
    return out


def ids_in(tracks: Path) -> int:
    return len({l.split(",")[1] for l in tracks.read_text().splitlines() if l.strip()})


def score(gt: Path, tracks: Path) -> dict:
    py = sys.executable
    r = subprocess.run([py, str(ROOT / "scripts/score_mot.py"), str(gt), str(tracks)], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"score_mot.py failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("render")
    ap.add_argument("out")
    ap.add_argument("--footml", default=str(ROOT / "target/release/footml"))
    ap.add_argument("--seed", type=int, default=4)
    a = ap.parse_args()
    render, out = Path(a.render), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = json.loads((render / "meta.json").read_text())
    size = tuple(meta["frame_size"])
    fps = meta.get("fps", 25)
    hjson = json.loads((render / "homography.json").read_text())
    homographies = {f["frame"]: f["image_to_pitch"] for f in hjson["frames"]}
    dets = simulate(render / "gt.txt", size, a.seed)
    det_path = out / "det.txt"
    write_mot(det_path, [(k, -1, x, y, w, h, s) for k, x, y, w, h, s in dets], det=True)
    rows = []
    h_arg = ["--homography", str(render / "homography.json")]
    no_pixels = ["--fps", str(fps), "--frame-size", f"{size[0]}x{size[1]}"]
    for name, extra in [
        ("footml (image)", no_pixels),
        ("footml (calibrated)", no_pixels + h_arg),
        ("footml (calibrated + kit)", [str(render / "video.mp4"), *h_arg]),
    ]:
        d = out / name.replace(" ", "_").replace("(", "").replace(")", "").replace("+", "")
        cmd = [a.footml, "analyze", "--detections", str(det_path), "--out", str(d), *extra]
        subprocess.run(cmd, check=True, capture_output=True)
        rows.append((name, score(render / "gt.txt", d / "tracks.txt") | {"ids": ids_in(d / "tracks.txt")}))
    try:
        for name, cal in [("norfair 2.3.0 (image)", False), ("norfair 2.3.0 (calibrated)", True)]:
            p = out / f"norfair_{'cal' if cal else 'img'}.txt"
            write_mot(p, norfair_tracks(dets, homographies, cal), det=False)
            rows.append((name, score(render / "gt.txt", p) | {"ids": ids_in(p)}))
    except ImportError as e:
        print(f"norfair rows skipped: {e}", file=sys.stderr)
    print("| tracker | IDF1 | MOTA | ID switches | fragmentations | tracks / GT ids |")
    print("|---|---|---|---|---|---|")
    for name, s in rows:
        print(f"| {name} | {s['idf1']:.3f} | {s['mota']:.3f} | {s['num_switches']} | {s['num_fragmentations']} | "
              f"{s['ids']} / {s['num_unique_objects']} |")
    (out / "scores.json").write_text(json.dumps(dict(rows), indent=1))


if __name__ == "__main__":
    main()
