#!/usr/bin/env python3
"""Export the whole SkillCorner match (positions and possession labels) and describe the labels.

Source: the real SkillCorner broadcast-tracking match in the kloppy wheel (Bundesliga
2019-11-09, match 2417; kloppy/tests/files/skillcorner_structured_data.json and
skillcorner_match_data.json; kloppy is BSD-3-Clause), the raw file as SkillCorner wrote it:
10 fps samples, each with `data` (objects: `trackable_object` when SkillCorner identified
it, else only `group_name` and `track_id`; x, y in metres, origin at the centre spot) and
`possession: {group, trackable_object}` (the team, and the player when one is named).

Writes into OUT (default data/):
  skillcorner_match_labels.csv     sample,period,group,named
      one row per raw sample in file order (sample = the raw `frame`); group home/away/none;
      named = trackable object of the player in possession, -1 when nobody is named
  skillcorner_match_positions.csv  sample,id,team,x,y
      the ball (id 0, team -1) and every player (team 0 home / 1 away; id = trackable object,
      or 1000000 + track_id for players SkillCorner did not identify); referees left out

and prints what the labels are, measured on the whole match (the facts tests/it/events.rs
cites): how often the team label is the team of the last player named in possession, where
the label changes team relative to the first named player of the new team, how far the
named player is from the ball, and how long the label's spells are.

Run:  .venv/bin/python scripts/skillcorner_match.py [--out data]
"""
from __future__ import annotations

import argparse
import importlib.resources
import json
import math
import os
import sys
from collections import Counter

ANONYMOUS = 1_000_000


def quantiles(values, qs):
    v = sorted(values)
    return [round(v[int(q * (len(v) - 1))], 2) for q in qs]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data")
    args = ap.parse_args(argv)
    base = importlib.resources.files("kloppy") / "tests" / "files"
    with open(base / "skillcorner_match_data.json") as f:
        match = json.load(f)
    with open(base / "skillcorner_structured_data.json") as f:
        raw = json.load(f)
    home_id = match["home_team"]["id"]
    team_of = {p["trackable_object"]: 0 if p["team_id"] == home_id else 1 for p in match["players"]}
    referees = {r["trackable_object"] for r in match["referees"]}
    ball_id = match["ball"]["trackable_object"]
    groups = {"home team": 0, "away team": 1, "home goalkeeper": 0, "away goalkeeper": 1}

    os.makedirs(args.out, exist_ok=True)
    labels_path = os.path.join(args.out, "skillcorner_match_labels.csv")
    positions_path = os.path.join(args.out, "skillcorner_match_positions.csv")
    # Per sample for the summary: (label team, named player, ball, {player: (team, x, y)}).
    samples = []
    with open(labels_path + ".tmp", "w") as lf, open(positions_path + ".tmp", "w") as pf:
        lf.write("sample,period,group,named\n")
        pf.write("sample,id,team,x,y\n")
        for fr in raw:
            pos = fr.get("possession") or {}
            group = {"home team": "home", "away team": "away"}.get(pos.get("group"), "none")
            named = pos.get("trackable_object")
            lf.write(f"{fr['frame']},{fr['period'] or 0},{group},{-1 if named is None else named}\n")
            ball = None
            players = {}
            for o in fr["data"]:
                to = o.get("trackable_object")
                x, y = float(o["x"]), float(o["y"])
                if to == ball_id or o.get("group_name") == "ball":
                    ball = (x, y)
                    pf.write(f"{fr['frame']},0,-1,{x:.3f},{y:.3f}\n")
                    continue
                if to in referees or o.get("group_name") == "referee":
                    continue
                if to is not None:
                    team, pid = team_of.get(to), to
                else:
                    team, pid = groups.get(o.get("group_name")), ANONYMOUS + int(o["track_id"])
                if team is None:
                    continue
                players[pid] = (team, x, y)
                pf.write(f"{fr['frame']},{pid},{team},{x:.3f},{y:.3f}\n")
            label = {"home": 0, "away": 1}.get(group)
            samples.append((label, named, ball, players))
    os.replace(labels_path + ".tmp", labels_path)
    os.replace(positions_path + ".tmp", positions_path)

    # What the label is.
    labelled = [s for s in samples if s[0] is not None]
    named = [s for s in labelled if s[1] is not None]
    print(f"samples {len(samples)}, labelled (team given) {len(labelled)}, a player named in {len(named)}")
    same = sum(team_of.get(s[1]) == s[0] for s in named)
    print(f"named player's team == label team: {same}/{len(named)}")
    last, agree, total = None, 0, 0
    for s in samples:
        if s[0] is None:
            last = None
            continue
        if s[1] is not None:
            last = team_of.get(s[1])
        if last is not None:
            total += 1
            agree += last == s[0]
    print(f"label team == team of the last named player (since the last unlabelled sample): {agree}/{total}"
          f" = {agree / total:.4f}")
    offsets = []
    for i in range(1, len(samples)):
        a, b = samples[i - 1][0], samples[i][0]
        if a is not None and b is not None and a != b:
            near = [j - i for j in range(max(0, i - 50), min(len(samples), i + 50))
                    if samples[j][1] is not None and team_of.get(samples[j][1]) == b]
            offsets.append(min(near, key=abs) if near else None)
    print(f"label team changes {len(offsets)}; offset (samples) of the nearest named player of the new team:"
          f" {Counter(offsets).most_common(6)}")
    dist = [math.hypot(s[3][s[1]][1] - s[2][0], s[3][s[1]][2] - s[2][1]) for s in named
            if s[2] is not None and s[1] in s[3]]
    print(f"named player to ball (m), quantiles 10/50/90/99 %: {quantiles(dist, (0.1, 0.5, 0.9, 0.99))}")
    nearest = 0
    for s in named:
        if s[2] is not None and s[1] in s[3]:
            d = {p: math.hypot(v[1] - s[2][0], v[2] - s[2][1]) for p, v in s[3].items()}
            nearest += min(d, key=d.get) == s[1]
    print(f"named player is the nearest player to the ball: {nearest}/{len(dist)}")
    runs, prev, length = {0: [], 1: []}, None, 0
    for s in samples + [(None, None, None, {})]:
        if s[0] == prev:
            length += 1
            continue
        if prev is not None:
            runs[prev].append(length)
        prev, length = s[0], 1
    for t, name in ((0, "home"), (1, "away")):
        r = sorted(runs[t])
        print(f"{name} label spells: {len(r)}, median {r[len(r) // 2]} samples, shortest {r[:5]}")
    print(f"wrote {labels_path} and {positions_path}")


if __name__ == "__main__":
    sys.exit(main())
