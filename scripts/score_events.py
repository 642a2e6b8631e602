#!/usr/bin/env python3
"""Score passes and turnovers against SkillCorner's ball-owner labels.

SkillCorner names the player in possession in some of its samples (`possession.
trackable_object`). A change of named player is a ball played from one to the other: to a
player of the same team a completed pass, to one of the other team a turnover (interception,
tackle). This script derives that event list from the labels alone (code independent of
footml's event detection: nothing here reads positions except to tell restarts apart) and
scores a list of detected events against it.

Label events. The named players in time order, skipping samples that name nobody; a change
A -> B gives one event: `release` = the last frame A is named, `receive` = the first frame B
is named. Changes across an unlabelled sample (SkillCorner's `none`: replays, close-ups, no
tracking) or a period break are left out: nobody knows what happened there. A change with
the ball beyond a line (by more than --out-margin metres) at some frame in between is a
*restart* (the ball went out; a throw-in or goal kick followed), reported apart from the
open-play ones, because a pass out of play is not a completed pass whatever the label says.

Matching. A detected event matches a label event of its kind (pass; turnover = footml's
`interception` or `turnover`) when its frame lies within [release - tol, receive + tol];
`players`: also the same passer and receiver (detected tracks must already be label ids),
`team`: also the same team (the passer's for passes, the winner's for turnovers). One to one,
greedily in label order, nearest frame first. Recall is over the open-play label events,
precision over the detected events.

Inputs:
  --fixture DIR   tests/fixtures/skillcorner: possession.txt (frame from 1, home/away, gt id),
                  meta.json (gt id -> team), ball_gt.txt (the ball on the pitch); 25 fps
  --match DIR     what scripts/skillcorner_match.py wrote: skillcorner_match_labels.csv,
                  skillcorner_match_positions.csv (the whole match, 10 fps)
  EVENTS          JSON: a list of events as in report.json (`type`, `frame` from 0, `team`
                  0 home / 1 away, `from_track`, `to_track`), or a report with an `events` key;
                  `-` for none (with --list)

Prints one JSON object: label counts and, per kind and level, detected / matched / precision /
recall. --list prints the label events instead (one JSON object per line).

Run: .venv/bin/python scripts/score_events.py --fixture tests/fixtures/skillcorner events.json
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys

PITCH = (105.0, 68.0)
TEAMS = {"home": 0, "away": 1}


class InputError(Exception):
    pass


def read_fixture(d):
    """Labels per frame (from 0): (team or None, named id or None, period); team per id;
    ball per frame; fps."""
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    team_of = {int(k): TEAMS[v["team"]] for k, v in meta["ids"].items() if v["team"] in TEAMS}
    labels = []
    with open(os.path.join(d, "possession.txt")) as f:
        for n, line in enumerate(f, 1):
            frame, team, named = line.strip().split(",")
            if int(frame) != n:
                raise InputError(f"possession.txt:{n}: frames must run from 1 in order, found {frame}")
            labels.append((TEAMS.get(team), None if named == "-1" else int(named), 1))
    ball = {}
    with open(os.path.join(d, "ball_gt.txt")) as f:
        for line in f:
            v = line.strip().split(",")
            ball[int(v[0]) - 1] = (float(v[3]), float(v[4]))
    return labels, team_of, ball, float(meta["fps"])


def read_match(d):
    labels, first = [], None
    with open(os.path.join(d, "skillcorner_match_labels.csv")) as f:
        for n, r in enumerate(csv.DictReader(f)):
            sample = int(r["sample"])
            first = sample if first is None else first
            if sample != first + n:
                raise InputError(f"labels row {n}: samples must be consecutive, found {sample}")
            named = int(r["named"])
            labels.append((TEAMS.get(r["group"]), None if named == -1 else named, int(r["period"])))
    team_of, ball = {}, {}
    with open(os.path.join(d, "skillcorner_match_positions.csv")) as f:
        for r in csv.DictReader(f):
            i = int(r["sample"]) - first
            if r["id"] == "0":
                ball[i] = (float(r["x"]), float(r["y"]))
            else:
                team_of[int(r["id"])] = int(r["team"])
    return labels, team_of, ball, 10.0


def label_events(labels, team_of, ball, out_margin):
    """The events the labels imply (see the module doc)."""
    events = []
    prev = None  # (named id, last frame named)
    for i, (team, named, period) in enumerate(labels):
        if team is None:
            prev = None
            continue
        if named is None:
            continue
        if prev is not None and prev[0] != named and labels[prev[1]][2] == period:
            a, release = prev
            ta, tb = team_of.get(a), team_of.get(named)
            if ta is not None and tb is not None:
                beyond = any(
                    abs(ball[j][0]) > PITCH[0] / 2 + out_margin or abs(ball[j][1]) > PITCH[1] / 2 + out_margin
                    for j in range(release, i + 1)
                    if j in ball
                )
                events.append({
                    "kind": "pass" if ta == tb else "turnover",
                    "from": a,
                    "to": named,
                    "team": ta if ta == tb else tb,
                    "release": release,
                    "receive": i,
                    "restart": beyond,
                })
        prev = (named, i)
    return events


def read_events(path):
    if path == "-":
        return []
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, dict):
        data = data.get("events")
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a list of events or a report with `events`")
    out = []
    for n, e in enumerate(data):
        if not isinstance(e, dict) or not isinstance(e.get("frame"), int) or "type" not in e:
            raise InputError(f"{path}: event {n}: expected an object with `type` and an integer `frame`, found {e!r}")
        kind = {"pass": "pass", "interception": "turnover", "turnover": "turnover"}.get(e["type"])
        if kind:
            d = e.get("details") or {}
            # The frames the ball was played over: release to arrival (passes), the pass or
            # lost touch to the win (turnovers).
            ends = [e["frame"], d.get("end_frame", e["frame"]), d.get("pass_frame", e["frame"])]
            out.append({"kind": kind, "frame": e["frame"], "team": e.get("team"),
                        "from": e.get("from_track"), "to": e.get("to_track"),
                        "span": (int(min(ends)), int(max(ends)))})
    return out


def match(labels, detected, kind, level, tol):
    """Greedy one-to-one matching of the label events of `kind` (in order) to detected ones;
    returns the matched label events and the indices of the detected events used."""
    used, hits = set(), []
    for lab in labels:
        if lab["kind"] != kind:
            continue
        best = None
        for k, d in enumerate(detected):
            if k in used or d["kind"] != kind or d["team"] != lab["team"]:
                continue
            if not lab["release"] - tol <= d["frame"] <= lab["receive"] + tol:
                continue
            if level == "players" and (d["from"], d["to"]) != (lab["from"], lab["to"]):
                continue
            gap = abs(d["frame"] - lab["release"])
            if best is None or gap < best[0]:
                best = (gap, k)
        if best is not None:
            used.add(best[1])
            hits.append(lab)
    return hits, used


def score(labels, label_evs, detected, tol):
    """Recall over the open-play label events; precision over the detected events, matched
    against all label events (a detected turnover where the label has one through a restart
    is no false event). `precision_named`: precision over the detected events whose two
    players the label names around them (within `tol` of the frames the ball was played
    over), i.e. the events the label could have seen: the label names a player in only part
    of the samples, so a pass to or from a player it never names cannot match."""
    def named_around(d):
        lo, hi = max(0, d["span"][0] - tol), min(len(labels), d["span"][1] + tol + 1)
        names = {labels[j][1] for j in range(lo, hi)}
        return d["from"] in names and d["to"] in names
    out = {"label_events": {
        k: {"open_play": sum(e["kind"] == k and not e["restart"] for e in label_evs),
            "restarts": sum(e["kind"] == k and e["restart"] for e in label_evs)}
        for k in ("pass", "turnover")}}
    for kind in ("pass", "turnover"):
        n_det = sum(d["kind"] == kind for d in detected)
        n_lab = out["label_events"][kind]["open_play"]
        out[kind] = {"detected": n_det}
        for level in ("players", "team"):
            hits, used = match(label_evs, detected, kind, level, tol)
            found = sum(not e["restart"] for e in hits)
            seen = [k for k, d in enumerate(detected) if d["kind"] == kind and named_around(d)]
            out[kind][level] = {
                "matched": found,
                "recall": round(found / n_lab, 4) if n_lab else None,
                "precision": round(len(used) / n_det, 4) if n_det else None,
                "precision_named": round(sum(k in used for k in seen) / len(seen), 4) if seen else None,
            }
        out[kind]["named"] = len(seen)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--fixture")
    src.add_argument("--match")
    ap.add_argument("events")
    ap.add_argument("--tolerance-s", type=float, default=1.0)
    ap.add_argument("--out-margin", type=float, default=0.5)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    try:
        if args.tolerance_s < 0 or args.out_margin < 0:
            raise InputError("--tolerance-s and --out-margin must be >= 0")
        labels, team_of, ball, fps = read_fixture(args.fixture) if args.fixture else read_match(args.match)
        evs = label_events(labels, team_of, ball, args.out_margin)
        if args.list:
            for e in evs:
                print(json.dumps(e))
            return 0
        detected = read_events(args.events)
    except (InputError, OSError, ValueError, KeyError) as e:
        print(f"score_events.py: {e}", file=sys.stderr)
        return 2
    result = score(labels, evs, detected, round(args.tolerance_s * fps))
    result["tolerance_frames"] = round(args.tolerance_s * fps)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
