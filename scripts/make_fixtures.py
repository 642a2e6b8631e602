#!/usr/bin/env python3
"""Derive tracking test fixtures (ground truth + simulated detections) from real tracking data.

Source: the real SkillCorner broadcast-tracking match (Bundesliga 2019-11-09, match id 2417)
shipped in the kloppy wheel (kloppy/tests/files/skillcorner_*; kloppy is BSD-3-Clause).

Pipeline:
  1. Load players and ball with kloppy's SkillCorner loader, coordinates="skillcorner":
     metres, origin at the centre spot, x along the length (-52.5..52.5), y along the width
     (-34..34, y up). This is exactly the pitch frame of DESIGN.md's homography file.
     kloppy's loader drops referee records, so the referee (trackable object listed under
     "referees" in skillcorner_match_data.json) is read from the same raw file, in the same
     coordinates (kloppy's "skillcorner" system is the raw SkillCorner frame, unchanged).
  2. Pick the 40 s window (401 consecutive 10 fps samples of one period) with the most
     players present on average. Only positions SkillCorner has in a sample are used.
  3. Resample to 25 fps: output frame k (from 1) is at t = (k-1)/25 s from the window start,
     i.e. at source position p = 0.4 (k-1). An object is present at t if p falls exactly on a
     sample where it is present, or if it is present in both neighbouring samples (linear
     interpolation). Nothing is extrapolated.
  4. Project through a fixed pinhole "tactical" camera (1920x1080) on the long side of the
     pitch. A person is a 1.8 m upright box: feet (z=0) -> box bottom, head (z=1.8) -> box
     top, width = 0.38 x height, centred horizontally on the feet. Boxes not fully inside
     the image are dropped from that frame.
  5. Simulate a detector (seeded numpy RNG): jitter, random misses, occlusion misses,
     low-score true detections, false positives. Same for the ball.
  6. Export SkillCorner's per-sample possession labels (team, and player when named) at the
     output frame rate (possession.txt).

Run:  .venv/bin/python scripts/make_fixtures.py [--out tests/fixtures/skillcorner] [--seed 20240601]
"""
from __future__ import annotations

import argparse
import importlib.resources
import json
import math
import os
import sys
from collections import defaultdict

import numpy as np

import kloppy
from kloppy import skillcorner

FPS_SRC = 10
FPS_OUT = 25
WINDOW_S = 40
N_SRC = WINDOW_S * FPS_SRC + 1  # 401 samples -> 1000 output frames
N_OUT = WINDOW_S * FPS_OUT  # 1000
IMG_W, IMG_H = 1920, 1080
PITCH_L, PITCH_W = 105.0, 68.0

PERSON_H = 1.8
PERSON_W = 0.6  # nominal body width (m); the box width uses BOX_ASPECT below
BOX_ASPECT = 0.38  # box width / box height
BALL_R = 0.11

CAMERA = {
    "model": "pinhole, no distortion, square pixels, principal point at image centre",
    "position_m": [0.0, -(34.0 + 30.0), 25.0],  # 30 m behind the near touchline, 25 m up
    "target_m": [0.0, 0.0, 0.0],  # aimed at the centre spot
    "up": [0.0, 0.0, 1.0],
    "image_size": [IMG_W, IMG_H],
    "fov_margin": 0.97,  # the pitch (+2 m run-off, 1.8 m heads) fills 97% of the half-frame
    "runoff_m": 2.0,
}

NOISE = {
    "pos_sigma_frac_h": 0.04,  # gaussian jitter of box centre, fraction of box height
    "size_sigma_frac": 0.05,  # gaussian relative jitter of w and h
    "p_miss": 0.06,  # random misses
    "occlusion_cover": 0.5,  # box covered >= 50% by one box closer to the camera ...
    "p_miss_occluded": 0.6,  # ... is missed with this probability (instead of p_miss)
    "p_low_score": 0.10,  # true detections with score in [0.1, 0.5)
    "low_score_range": [0.1, 0.5],
    "score": "0.5 + 0.45 * Beta(4, 2) for normal true detections (range [0.5, 0.95])",
    "fp_per_frame": 0.5,  # Poisson mean of false positives per frame
    "fp_score_range": [0.1, 0.6],
    "fp_box": "person box at a uniform random pitch point, height x U(0.6,1.3), aspect x U(0.8,1.25)",
    "ball_p_miss": 0.15,
    "ball_pos_sigma_px": "max(0.3, 0.25 * r) where r is the projected ball radius",
    "ball_size_sigma_frac": 0.10,
    "ball_score_range": [0.3, 0.95],
    "ball_fp_per_frame": 0.05,
    "ball_fp_score_range": [0.05, 0.5],
    "ball_fp_radius_px": [0.5, 3.0],
}


# --------------------------------------------------------------------------- camera


def look_at(position, target, up):
    c = np.asarray(position, float)
    fwd = np.asarray(target, float) - c
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, np.asarray(up, float))
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    return np.stack([right, down, fwd]), c  # rows: camera x (right), y (down), z (forward)


class Camera:
    def __init__(self, cfg):
        self.R, self.C = look_at(cfg["position_m"], cfg["target_m"], cfg["up"])
        self.t = -self.R @ self.C
        self.cx, self.cy = IMG_W / 2.0, IMG_H / 2.0
        # focal length: the whole pitch plus run-off, heads included, must be in view
        m = cfg["runoff_m"]
        xs = [-PITCH_L / 2 - m, PITCH_L / 2 + m]
        ys = [-PITCH_W / 2 - m, PITCH_W / 2 + m]
        pts = np.array([[x, y, z] for x in xs for y in ys for z in (0.0, PERSON_H)])
        pc = (self.R @ pts.T).T + self.t
        xn = np.abs(pc[:, 0] / pc[:, 2]).max()
        yn = np.abs(pc[:, 1] / pc[:, 2]).max()
        self.f = float(cfg["fov_margin"] * min(self.cx / xn, self.cy / yn))
        self.K = np.array([[self.f, 0, self.cx], [0, self.f, self.cy], [0, 0, 1.0]])
        self.P = self.K @ np.hstack([self.R, self.t[:, None]])
        # ground plane z=0: pixel ~ K [r1 r2 t] (x, y, 1)
        hp = self.K @ np.stack([self.R[:, 0], self.R[:, 1], self.t], axis=1)
        self.pitch_to_image = hp / hp[2, 2]
        hi = np.linalg.inv(hp)
        self.image_to_pitch = hi / hi[2, 2]

    def project(self, pts):
        """pts (N,3) world metres -> (N,2) pixels, (N,) depth along the optical axis."""
        pts = np.atleast_2d(np.asarray(pts, float))
        pc = (self.R @ pts.T).T + self.t
        uv = np.empty((len(pts), 2))
        uv[:, 0] = self.f * pc[:, 0] / pc[:, 2] + self.cx
        uv[:, 1] = self.f * pc[:, 1] / pc[:, 2] + self.cy
        return uv, pc[:, 2]

    def person_boxes(self, xy):
        """xy (N,2) pitch metres -> (N,4) boxes x,y,w,h (top-left) and (N,) distance to camera."""
        xy = np.atleast_2d(np.asarray(xy, float))
        n = len(xy)
        feet, _ = self.project(np.column_stack([xy, np.zeros(n)]))
        head, _ = self.project(np.column_stack([xy, np.full(n, PERSON_H)]))
        h = feet[:, 1] - head[:, 1]
        w = BOX_ASPECT * h
        boxes = np.column_stack([feet[:, 0] - w / 2, head[:, 1], w, h])
        dist = np.linalg.norm(np.column_stack([xy, np.zeros(n)]) - self.C, axis=1)
        return boxes, dist

    def meta(self):
        return {
            **CAMERA,
            "focal_length_px": self.f,
            "principal_point_px": [self.cx, self.cy],
            "horizontal_fov_deg": math.degrees(2 * math.atan(self.cx / self.f)),
            "vertical_fov_deg": math.degrees(2 * math.atan(self.cy / self.f)),
            "tilt_down_deg": math.degrees(math.atan2(CAMERA["position_m"][2], -CAMERA["position_m"][1])),
            "K": self.K.tolist(),
            "R_world_to_camera": self.R.tolist(),
            "t_world_to_camera": self.t.tolist(),
            "P": self.P.tolist(),
            "pitch_to_image": self.pitch_to_image.tolist(),
            "world_frame": "pitch metres, origin centre spot, x along length, y along width, z up",
            "camera_frame": "x right, y down, z forward (OpenCV convention)",
        }


# --------------------------------------------------------------------------- data


def source_files():
    base = importlib.resources.files("kloppy") / "tests" / "files"
    meta = base / "skillcorner_match_data.json"
    raw = base / "skillcorner_structured_data.json"
    for p in (meta, raw):
        if not p.is_file():
            sys.exit(f"make_fixtures: missing {p} (kloppy {kloppy.__version__})")
    return str(meta), str(raw)


def load_source():
    meta_path, raw_path = source_files()
    ds = skillcorner.load(
        meta_data=meta_path, raw_data=raw_path, coordinates="skillcorner", data_version="V2"
    )
    with open(meta_path) as f:
        match = json.load(f)
    with open(raw_path) as f:
        raw = json.load(f)
    ref_ids = {r["trackable_object"]: r for r in match["referees"]}
    to_by_player_id = {str(p["id"]): p["trackable_object"] for p in match["players"]}

    # frame_id -> {key: (x, y)}, key = ("player", kloppy player_id) or ("referee", trackable_object)
    objects = {}
    ball = {}
    info = {}
    period_of = {}
    for fr in ds.frames:
        d = {}
        for p, pdata in fr.players_data.items():
            if pdata.coordinates is None:
                continue
            key = ("player", p.player_id)
            d[key] = (float(pdata.coordinates.x), float(pdata.coordinates.y))
            if key not in info:
                pos = p.starting_position
                info[key] = {
                    "team": p.team.ground.value if hasattr(p.team.ground, "value") else str(p.team.ground),
                    "team_name": p.team.name,
                    "role": "goalkeeper" if pos is not None and "goalkeeper" in str(pos).lower() else "player",
                    "position": None if pos is None else str(pos),
                    "jersey_no": p.jersey_no,
                    "kloppy_player_id": p.player_id,
                    "skillcorner_trackable_object": to_by_player_id.get(p.player_id),
                }
        objects[fr.frame_id] = d
        period_of[fr.frame_id] = fr.period.id
        b = fr.ball_coordinates
        if b is not None and b.x is not None and b.y is not None:
            z = getattr(b, "z", None)
            ball[fr.frame_id] = (float(b.x), float(b.y), BALL_R if z is None else float(z))
    # referees, from the raw file (kloppy skips them)
    for fr in raw:
        fid = fr["frame"]
        if fid not in objects:
            continue
        for rec in fr["data"]:
            to = rec.get("trackable_object")
            if to in ref_ids or rec.get("group_name") == "referee":
                key = ("referee", to)
                objects[fid][key] = (float(rec["x"]), float(rec["y"]))
                if key not in info:
                    r = ref_ids.get(to, {})
                    info[key] = {
                        "team": "referee",
                        "team_name": None,
                        "role": "referee",
                        "position": {0: "main referee"}.get(r.get("referee_role"), r.get("referee_role")),
                        "jersey_no": None,
                        "kloppy_player_id": None,
                        "skillcorner_trackable_object": to,
                    }
    # SkillCorner's possession label of each sample: the team ("home team"/"away team") and,
    # when one is named, the player (trackable object) in possession.
    possession = {fr["frame"]: fr.get("possession") or {} for fr in raw if fr["frame"] in objects}
    return ds, match, objects, ball, info, period_of, possession


def choose_window(objects, ball, period_of):
    fids = sorted(objects)
    best = None
    run_start = 0
    for i in range(1, len(fids) + 1):
        if i < len(fids) and fids[i] == fids[i - 1] + 1 and period_of[fids[i]] == period_of[fids[i - 1]]:
            continue
        run = fids[run_start:i]
        run_start = i
        if len(run) < N_SRC:
            continue
        counts = np.array([sum(1 for k in objects[f] if k[0] == "player") for f in run], float)
        has_ball = np.array([f in ball for f in run], float)
        cs = np.concatenate([[0], np.cumsum(counts)])
        cb = np.concatenate([[0], np.cumsum(has_ball)])
        for s in range(0, len(run) - N_SRC + 1):
            mean_players = (cs[s + N_SRC] - cs[s]) / N_SRC
            ball_frac = (cb[s + N_SRC] - cb[s]) / N_SRC
            score = mean_players + 2.0 * ball_frac
            if best is None or score > best[0] + 1e-9:
                best = (score, run[s], mean_players, ball_frac)
    if best is None:
        sys.exit("make_fixtures: no window of 401 consecutive samples")
    return best


def resample(start_fid, objects, ball):
    """-> per output frame (1..N_OUT): dict key -> (x, y); ball dict frame -> (x, y, z)."""
    out_obj = {}
    out_ball = {}
    for k in range(1, N_OUT + 1):
        num = (k - 1) * FPS_SRC  # source position p = num / FPS_OUT
        i, rem = divmod(num, FPS_OUT)
        a = rem / FPS_OUT
        s0 = objects[start_fid + i]
        d = {}
        if rem == 0:
            d = dict(s0)
            b = ball.get(start_fid + i)
        else:
            s1 = objects[start_fid + i + 1]
            for key in s0.keys() & s1.keys():
                (x0, y0), (x1, y1) = s0[key], s1[key]
                d[key] = (x0 + a * (x1 - x0), y0 + a * (y1 - y0))
            b0, b1 = ball.get(start_fid + i), ball.get(start_fid + i + 1)
            b = None
            if b0 is not None and b1 is not None:
                b = tuple(u + a * (v - u) for u, v in zip(b0, b1))
        out_obj[k] = d
        if b is not None:
            out_ball[k] = b
    return out_obj, out_ball


# --------------------------------------------------------------------------- noise


def inside(box):
    x, y, w, h = box
    return x >= 0 and y >= 0 and x + w <= IMG_W and y + h <= IMG_H


def clip_box(x, y, w, h):
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(IMG_W), x + w), min(float(IMG_H), y + h)
    if x1 - x0 < 0.5 or y1 - y0 < 0.5:
        return None
    return x0, y0, x1 - x0, y1 - y0


def occluded_flags(boxes, dist, cover):
    n = len(boxes)
    flags = np.zeros(n, bool)
    for i in range(n):
        xi, yi, wi, hi = boxes[i]
        ai = wi * hi
        for j in range(n):
            if j == i or dist[j] >= dist[i]:
                continue
            xj, yj, wj, hj = boxes[j]
            iw = min(xi + wi, xj + wj) - max(xi, xj)
            ih = min(yi + hi, yj + hj) - max(yi, yj)
            if iw > 0 and ih > 0 and iw * ih >= cover * ai:
                flags[i] = True
                break
    return flags


def fmt(v, nd=2):
    s = f"{v:.{nd}f}"
    return "0.00" if s in ("-0.00",) else s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/fixtures/skillcorner")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)

    ds, match, objects, ball, info, period_of, possession = load_source()
    score, start_fid, mean_players, ball_frac = choose_window(objects, ball, period_of)
    ts = {fr.frame_id: fr.timestamp.total_seconds() for fr in ds.frames if start_fid <= fr.frame_id < start_fid + N_SRC}
    period = period_of[start_fid]
    out_obj, out_ball = resample(start_fid, objects, ball)
    cam = Camera(CAMERA)

    # homography round trip check
    test = np.array([[x, y] for x in np.linspace(-52.5, 52.5, 15) for y in np.linspace(-34, 34, 9)])
    uv, _ = cam.project(np.column_stack([test, np.zeros(len(test))]))
    back = (cam.image_to_pitch @ np.column_stack([uv, np.ones(len(uv))]).T).T
    back = back[:, :2] / back[:, 2:3]
    err = np.abs(back - test).max()
    assert err < 1e-3, f"homography round trip error {err} m"
    corners_px = cam.project(np.array([[sx * 52.5, sy * 34, 0] for sx in (-1, 1) for sy in (-1, 1)]))[0]
    assert all(0 <= u <= IMG_W and 0 <= v <= IMG_H for u, v in corners_px)

    # stable ids: home (by jersey), away (by jersey), referees
    present = set(k for d in out_obj.values() for k in d)
    order = {"home": 0, "away": 1, "referee": 2}
    keys = sorted(
        present,
        key=lambda k: (order.get(info[k]["team"], 3), info[k]["jersey_no"] if info[k]["jersey_no"] is not None else 999, str(k[1])),
    )

    gt_rows, det_rows, bgt_rows, bdet_rows = [], [], [], []
    used_ids = set()
    stats = defaultdict(int)
    id_of = {k: i + 1 for i, k in enumerate(keys)}
    for k in range(1, N_OUT + 1):
        d = out_obj[k]
        ks = sorted(d, key=lambda key: id_of[key])
        frame_dets = []
        if ks:
            boxes, dist = cam.person_boxes(np.array([d[key] for key in ks]))
            keep = [i for i in range(len(ks)) if inside(boxes[i])]
            stats["dropped_outside_image"] += len(ks) - len(keep)
            ks = [ks[i] for i in keep]
            boxes, dist = boxes[keep], dist[keep]
            occ = occluded_flags(boxes, dist, NOISE["occlusion_cover"])
            for i, key in enumerate(ks):
                tid = id_of[key]
                used_ids.add(tid)
                x, y, w, h = boxes[i]
                gt_rows.append(f"{k},{tid},{fmt(x)},{fmt(y)},{fmt(w)},{fmt(h)},1,1,1")
                stats["gt_boxes"] += 1
                stats["gt_occluded"] += int(occ[i])
                p_miss = NOISE["p_miss_occluded"] if occ[i] else NOISE["p_miss"]
                if rng.random() < p_miss:
                    stats["missed_occluded" if occ[i] else "missed_random"] += 1
                    continue
                cx, cy = x + w / 2 + rng.normal(0, NOISE["pos_sigma_frac_h"] * h), y + h / 2 + rng.normal(0, NOISE["pos_sigma_frac_h"] * h)
                w2 = w * max(0.2, 1 + rng.normal(0, NOISE["size_sigma_frac"]))
                h2 = h * max(0.2, 1 + rng.normal(0, NOISE["size_sigma_frac"]))
                b = clip_box(cx - w2 / 2, cy - h2 / 2, w2, h2)
                if b is None:
                    stats["missed_random"] += 1
                    continue
                if rng.random() < NOISE["p_low_score"]:
                    s = rng.uniform(*NOISE["low_score_range"])
                    stats["tp_low_score"] += 1
                else:
                    s = 0.5 + 0.45 * rng.beta(4, 2)
                stats["tp_dets"] += 1
                frame_dets.append((*b, s))
        # false positives
        n_fp = rng.poisson(NOISE["fp_per_frame"])
        for _ in range(n_fp):
            px, py = rng.uniform(-PITCH_L / 2, PITCH_L / 2), rng.uniform(-PITCH_W / 2, PITCH_W / 2)
            bx, by, bw, bh = (float(v) for v in cam.person_boxes(np.array([[px, py]]))[0][0])
            h2 = bh * rng.uniform(0.6, 1.3)
            w2 = BOX_ASPECT * h2 * rng.uniform(0.8, 1.25)
            feet_u, feet_v = bx + bw / 2, by + bh
            b = clip_box(feet_u - w2 / 2, feet_v - h2, w2, h2)
            if b is None:
                continue
            frame_dets.append((*b, rng.uniform(*NOISE["fp_score_range"])))
            stats["fp_dets"] += 1
        for j in rng.permutation(len(frame_dets)):
            x, y, w, h, s = frame_dets[j]
            det_rows.append(f"{k},-1,{fmt(x)},{fmt(y)},{fmt(w)},{fmt(h)},{s:.3f},-1,-1,-1")

        # ball
        bdets = []
        if k in out_ball:
            bx, by, bz = out_ball[k]
            (uv,), (depth,) = cam.project(np.array([[bx, by, bz]]))
            u, v = uv
            r = cam.f * BALL_R / depth
            if 0 <= u <= IMG_W and 0 <= v <= IMG_H:
                bgt_rows.append(f"{k},{fmt(u)},{fmt(v)},{bx:.3f},{by:.3f},{bz:.3f}")
                stats["ball_gt"] += 1
                if rng.random() < NOISE["ball_p_miss"]:
                    stats["ball_missed"] += 1
                else:
                    sig = max(0.3, 0.25 * r)
                    u2, v2 = u + rng.normal(0, sig), v + rng.normal(0, sig)
                    r2 = r * max(0.3, 1 + rng.normal(0, NOISE["ball_size_sigma_frac"]))
                    b = clip_box(u2 - r2, v2 - r2, 2 * r2, 2 * r2)
                    if b is not None:
                        bdets.append((*b, rng.uniform(*NOISE["ball_score_range"])))
                        stats["ball_tp_dets"] += 1
            else:
                stats["ball_outside_image"] += 1
        for _ in range(rng.poisson(NOISE["ball_fp_per_frame"])):
            px, py = rng.uniform(-PITCH_L / 2, PITCH_L / 2), rng.uniform(-PITCH_W / 2, PITCH_W / 2)
            (uv,), _ = cam.project(np.array([[px, py, BALL_R]]))
            r2 = rng.uniform(*NOISE["ball_fp_radius_px"])
            b = clip_box(uv[0] - r2, uv[1] - r2, 2 * r2, 2 * r2)
            if b is not None:
                bdets.append((*b, rng.uniform(*NOISE["ball_fp_score_range"])))
                stats["ball_fp_dets"] += 1
        for j in rng.permutation(len(bdets)):
            x, y, w, h, s = bdets[j]
            bdet_rows.append(f"{k},-1,{fmt(x)},{fmt(y)},{fmt(w)},{fmt(h)},{s:.3f},-1,-1,-1")

    def write(name, rows, header=None):
        with open(os.path.join(args.out, name), "w", newline="\n") as f:
            f.write("\n".join(rows) + ("\n" if rows else ""))

    # The renderer's input (footml render --tracking): every object's pitch position per output
    # frame, whatever the camera sees, with the same ids as gt.txt; the ball as id 0.
    trk_rows = ["frame,time_s,id,team,role,x_m,y_m,z_m"]
    for k in range(1, N_OUT + 1):
        t = (k - 1) / FPS_OUT
        for key in sorted(out_obj[k], key=lambda key: id_of[key]):
            x, y = out_obj[k][key]
            team = info[key]["team"] if info[key]["team"] in ("home", "away") else "none"
            trk_rows.append(f"{k},{t:.2f},{id_of[key]},{team},{info[key]['role']},{x:.3f},{y:.3f},0.000")
        if k in out_ball:
            bx, by, bz = out_ball[k]
            trk_rows.append(f"{k},{t:.2f},0,none,ball,{bx:.3f},{by:.3f},{bz:.3f}")
    write("tracking.csv", trk_rows)

    write("gt.txt", gt_rows)
    write("det.txt", det_rows)
    write("ball_gt.txt", bgt_rows)
    write("ball_det.txt", bdet_rows)

    # Possession labels: output frame k takes the label of the nearest 10 fps sample (the
    # source position 0.4 (k-1) is never halfway between two samples). The player is our gt
    # id, -1 when SkillCorner names nobody (ball in flight or contested) or a player outside
    # our ids. Nothing here draws from the RNG, so the other files are unchanged.
    ids_by_to = {info[k]["skillcorner_trackable_object"]: id_of[k] for k in keys if info[k]["skillcorner_trackable_object"] is not None}
    team_name = {"home team": "home", "away team": "away"}
    pos_rows = []
    for k in range(1, N_OUT + 1):
        num = (k - 1) * FPS_SRC
        lab = possession.get(start_fid + (2 * num + FPS_OUT) // (2 * FPS_OUT), {})
        team = team_name.get(lab.get("group"), "none")
        pid = ids_by_to.get(lab.get("trackable_object"), -1)
        pos_rows.append(f"{k},{team},{pid}")
    write("possession.txt", pos_rows)

    with open(os.path.join(args.out, "homography.json"), "w") as f:
        json.dump(
            {"image_to_pitch": cam.image_to_pitch.tolist(), "pitch_length": 105, "pitch_width": 68},
            f,
            indent=2,
        )
        f.write("\n")

    g = stats["gt_boxes"]
    realised = {
        "gt_boxes": g,
        "gt_boxes_per_frame": g / N_OUT,
        "gt_occluded_fraction": stats["gt_occluded"] / g,
        "true_detections": stats["tp_dets"],
        "miss_rate": 1 - stats["tp_dets"] / g,
        "missed_random": stats["missed_random"],
        "missed_occluded": stats["missed_occluded"],
        "low_score_fraction_of_true_detections": stats["tp_low_score"] / max(1, stats["tp_dets"]),
        "false_positives": stats["fp_dets"],
        "false_positives_per_frame": stats["fp_dets"] / N_OUT,
        "dropped_outside_image": stats["dropped_outside_image"],
        "ball_gt_frames": stats["ball_gt"],
        "ball_true_detections": stats["ball_tp_dets"],
        "ball_miss_rate": 1 - stats["ball_tp_dets"] / max(1, stats["ball_gt"]),
        "ball_false_positives": stats["ball_fp_dets"],
        "ball_outside_image": stats["ball_outside_image"],
    }
    id_map = {str(id_of[k]): info[k] for k in keys if id_of[k] in used_ids}
    t0 = ts[start_fid]
    meta = {
        "source": {
            "package": f"kloppy {kloppy.__version__}",
            "files": ["kloppy/tests/files/skillcorner_match_data.json", "kloppy/tests/files/skillcorner_structured_data.json"],
            "loader": "kloppy.skillcorner.load(meta_data, raw_data, coordinates='skillcorner', data_version='V2'); "
            "referee positions read from the same raw file (kloppy's loader skips referees)",
            "provider": "SkillCorner broadcast tracking, 10 fps; only objects SkillCorner has in a sample are used",
            "match": {
                "id": match.get("id"),
                "date_time": match.get("date_time"),
                "home_team": match["home_team"].get("name"),
                "away_team": match["away_team"].get("name"),
            },
            "coordinates": "kloppy 'skillcorner' coordinate system: metres, origin centre spot, x along the length "
            "[-52.5, 52.5], y along the width [-34, 34] (y up), pitch 105 x 68",
        },
        "licence": "BSD-3-Clause (kloppy, https://github.com/PySport/kloppy); data: SkillCorner sample shipped in kloppy's tests",
        "segment": {
            "period": period,
            "source_frame_ids": [start_fid, start_fid + N_SRC - 1],
            "source_fps": FPS_SRC,
            "period_timestamp_s": [t0, ts[start_fid + N_SRC - 1]],
            "selection": "401 consecutive samples of one period maximising mean players present + 2 x ball fraction",
            "mean_players_present_source": mean_players,
            "ball_fraction_source": ball_frac,
            "resampling": "output frame k (from 1) at t = (k-1)/25 s after source frame "
            f"{start_fid}; linear interpolation between consecutive 10 fps samples, only where the "
            "object is present in both (or exactly on a sample); no extrapolation",
        },
        "fps": FPS_OUT,
        "frame_count": N_OUT,
        "frame_size": [IMG_W, IMG_H],
        "person_model": {
            "height_m": PERSON_H,
            "width_m": PERSON_W,
            "box": "top = projection of head (z=1.8), bottom = projection of feet (z=0), width = 0.38 x height, "
            "centred horizontally on the projected feet; boxes not fully inside the image are dropped",
        },
        "ball_model": {
            "radius_m": BALL_R,
            "height": "z_m = SkillCorner z when given, else 0.11 (ball centre on the ground)",
            "box": "square of side 2 r around the projected centre, r = f * 0.11 / depth",
        },
        "camera": cam.meta(),
        "homography_round_trip_max_error_m": float(err),
        "noise": NOISE,
        "noise_realised": realised,
        "seed": args.seed,
        "rng": "numpy.random.default_rng(seed)",
        "ids": id_map,
        "files": {
            "gt.txt": "frame,id,x,y,w,h,1,1,1",
            "det.txt": "frame,-1,x,y,w,h,score,-1,-1,-1",
            "ball_gt.txt": "frame,x_px,y_px,x_m,y_m,z_m",
            "ball_det.txt": "frame,-1,x,y,w,h,score,-1,-1,-1",
            "homography.json": "image_to_pitch (pixel -> pitch metres, ground plane)",
            "tracking.csv": "frame,time_s,id,team,role,x_m,y_m,z_m (every object's pitch position; ball = id 0)",
        },
    }
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(json.dumps({"segment": meta["segment"], "realised": realised, "ids": len(id_map), "focal_px": cam.f}, indent=2))


if __name__ == "__main__":
    main()
