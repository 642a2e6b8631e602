#!/usr/bin/env bash
# The main job on the bundled sample: set up, build, track the sample detections (real
# SkillCorner positions seen through a known camera, with detector noise), score the tracks
# against ground truth with py-motmetrics, and decode the sample clip with audio extraction.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release -q -p footml-core --bin footml
FOOTML=target/release/footml
FIX=tests/fixtures/skillcorner

echo "== tracking the sample detections"
# The fixture's wide camera shows the ball about 1.5 px across: widen the candidate size range
# (the service's default, 5–50 px, suits broadcast close-ups).
mkdir -p out
cat > out/sample-tracking.json <<'JSON'
{"stage_configs": {"ball_tracking": {"min_ball_radius": 0.5, "max_ball_radius": 10}}}
JSON
$FOOTML analyze --detections $FIX/det.txt --ball-detections $FIX/ball_det.txt --fps 25 --frame-size 1920x1080 \
  --homography $FIX/homography.json --config out/sample-tracking.json --out out/sample-tracking
.venv/bin/python scripts/score_mot.py $FIX/gt.txt out/sample-tracking/tracks.txt > out/sample-tracking/motmetrics.json
.venv/bin/python - out/sample-tracking/motmetrics.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"tracking vs ground truth (py-motmetrics): MOTA {m['mota']:.3f}  IDF1 {m['idf1']:.3f}  ID switches {m['num_switches']}")
PY

echo "== decoding the sample clip"
cat > out/sample-video.json <<'JSON'
{"stage_configs": {"video_decoding": {"target_fps": 10, "target_resolution": [640, 360], "extract_audio": true}}}
JSON
$FOOTML analyze data/sample.mp4 --config out/sample-video.json --out out/sample-video
