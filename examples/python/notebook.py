"""footml from Python, notebook style: run the cells top to bottom (or `python notebook.py`).

Analyses the SkillCorner-derived fixture (real tracking data; see
tests/fixtures/skillcorner/README.md) with a calibrated camera, follows progress from another
thread, adds a stage written in Python and looks at the results with NumPy and pandas.
Run from the repository root.
"""

# %% Imports and inputs
import pathlib
import threading

import numpy as np

import footml

FIXTURES = pathlib.Path("tests/fixtures/skillcorner")
config = {
    "detections_path": str(FIXTURES / "det.txt"),
    "ball_detections_path": str(FIXTURES / "ball_det.txt"),
    "homography_path": str(FIXTURES / "homography.json"),
    "fps": 25,
    "frame_size": [1920, 1080],
    "stage_configs": {"ball_tracking": {"min_ball_radius": 1}},
}


# %% A stage written in Python: players in the penalty areas per frame (pitch x beyond ±36 m).
class PenaltyAreaCount:
    name = "penalty_area_count"
    requires = ["player_tracks", "homography"]
    provides = ["in_penalty_area"]

    def process(self, records):
        for r in records:
            h = np.array(r["homography"])
            n = 0
            for t in r["tracks"]:
                b = t["bbox"]
                u, v, w = h @ [b["x"] + b["w"] / 2, b["y"] + b["h"], 1.0]
                n += abs(u / w) > 36.0
            r.setdefault("extra", {})["in_penalty_area"] = int(n)


class Collect:
    name = "collect_penalty_area"
    requires = ["in_penalty_area"]
    provides = ["penalty_area_counts"]

    def run(self, match):
        match["extra"]["penalty_area_counts"] = [f["extra"]["in_penalty_area"] for f in match["frames"]]


# %% Build and run, printing progress from another thread
pipeline = footml.PipelineBuilder(config).stage(PenaltyAreaCount()).stage(Collect()).build()
events = pipeline.events()
progress = threading.Thread(
    target=lambda: [print(e["type"], e.get("stage", "")) for e in events if e["type"] != "stage_progress"]
)
progress.start()
report = pipeline.run()
progress.join()

# %% Tracks and ball as NumPy arrays
tracks = report.tracks
print(report)
print("track rows:", tracks.shape, "ids:", len(np.unique(tracks[:, 1])))
print("ball frames:", len(report.ball), "interpolated:", int(report.ball[:, 6].sum()))

# %% Match analysis
print("formations:", [(f["team"], f["formation"]) for f in report.formations][:4])
print("events:", len(report.events))
counts = report.extra["penalty_area_counts"]
print("most players in a penalty area:", max(counts))

# %% pandas, when installed
try:
    players = report.to_pandas("players")
    print(players.sort_values("distance_m", ascending=False).head(3)[["track_id", "distance_m", "max_speed_kmh"]])
except ImportError as e:
    print(e)
