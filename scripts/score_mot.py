#!/usr/bin/env python3
"""Score a MOTChallenge tracking result against MOTChallenge ground truth with py-motmetrics.

Usage: score_mot.py GT TRACKS [--iou 0.5]

GT:     frame,id,x,y,w,h[,flag,class,visibility]  (rows whose 7th column is 0 are ignored,
        as in MOTChallenge; frames from 1, pixels, top-left origin)
TRACKS: frame,id,x,y,w,h[,score,-1,-1,-1]          (may be empty)

Matching uses motmetrics.distances.iou_matrix(max_iou = 1 - iou), accumulated per frame with
motmetrics.MOTAccumulator over every frame that appears in GT or TRACKS. Metrics come from
motmetrics only (no metric code here). Prints one JSON object on stdout; exits non-zero with a
one-line message on stderr for missing or malformed input.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

METRICS = [
    "mota",
    "motp",
    "idf1",
    "idp",
    "idr",
    "precision",
    "recall",
    "num_switches",
    "num_fragmentations",
    "num_false_positives",
    "num_misses",
    "num_objects",
    "num_predictions",
    "num_unique_objects",
    "mostly_tracked",
    "partially_tracked",
    "mostly_lost",
    "num_frames",
]


class InputError(Exception):
    pass


def read_mot(path, what, is_gt):
    """-> dict frame -> list of (id, [x, y, w, h])"""
    try:
        with open(path, "r", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InputError(f"cannot read {what} file {path}: {e.strerror or e}")
    except UnicodeDecodeError:
        raise InputError(f"{what} file {path} is not text")
    frames = {}
    seen = set()
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            continue
        parts = [p.strip() for p in (s.split(",") if "," in s else s.split())]
        if len(parts) < 6:
            raise InputError(f"{what} file {path} line {n}: expected at least 6 comma-separated fields, got {len(parts)}")
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise InputError(f"{what} file {path} line {n}: non-numeric field in {s[:80]!r}")
        if not all(math.isfinite(v) for v in vals[:6]):
            raise InputError(f"{what} file {path} line {n}: non-finite value")
        frame, oid = vals[0], vals[1]
        if frame != int(frame) or frame < 0 or oid != int(oid):
            raise InputError(f"{what} file {path} line {n}: frame and id must be integers (frame >= 0)")
        x, y, w, h = vals[2:6]
        if w < 0 or h < 0:
            raise InputError(f"{what} file {path} line {n}: negative box size")
        if is_gt and len(vals) >= 7 and vals[6] == 0:
            continue  # MOTChallenge "ignore" flag
        key = (int(frame), int(oid))
        if key in seen:
            raise InputError(f"{what} file {path} line {n}: id {int(oid)} appears twice in frame {int(frame)}")
        seen.add(key)
        frames.setdefault(int(frame), []).append((int(oid), [x, y, w, h]))
    return frames


def plain(v):
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        return float(v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return int(v)
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(description="Score MOTChallenge tracks against GT with py-motmetrics")
    ap.add_argument("gt")
    ap.add_argument("tracks")
    ap.add_argument("--iou", type=float, default=0.5, help="IoU threshold for a match (default 0.5)")
    args = ap.parse_args(argv)
    try:
        if not (0.0 < args.iou <= 1.0):
            raise InputError(f"--iou must be in (0, 1], got {args.iou}")
        gt = read_mot(args.gt, "GT", True)
        hyp = read_mot(args.tracks, "tracks", False)
        if not gt:
            raise InputError(f"GT file {args.gt} has no rows")
    except InputError as e:
        print(f"score_mot: {e}", file=sys.stderr)
        return 2

    import numpy as np
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=False)
    for frame in sorted(set(gt) | set(hyp)):
        g = gt.get(frame, [])
        h = hyp.get(frame, [])
        gb = np.array([b for _, b in g], float).reshape(-1, 4)
        hb = np.array([b for _, b in h], float).reshape(-1, 4)
        dist = mm.distances.iou_matrix(gb, hb, max_iou=1.0 - args.iou)
        acc.update([i for i, _ in g], [i for i, _ in h], dist, frameid=frame)

    mh = mm.metrics.create()
    summary = mh.compute(acc, metrics=METRICS, name="all")
    row = summary.loc["all"]
    out = {}
    for m in METRICS:
        v = plain(row[m])
        if (m.startswith("num_") or m.endswith("_tracked") or m == "mostly_lost") and v is not None:
            v = int(round(v))
        out[m] = v
    out["iou_threshold"] = args.iou
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
