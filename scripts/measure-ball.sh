#!/usr/bin/env bash
# Ball tracking on a rendered clip, measured end to end: `footml render` draws real SkillCorner
# tracking through the panning broadcast camera (video.mp4 + ball_gt.txt + homography.json),
# `footml analyze` finds and tracks the ball in the video, and scripts/score_ball.py scores the
# report's ball against the renderer's ground truth (pixels, metres through the renderer's own
# homography, share within 1 m, share of frames tracked). Numbers go into benches/README.md.
#
# Usage: scripts/measure-ball.sh [START_FRAME] [FRAMES]     (default 1 150)
# Env:   FOOTML   the footml binary (default target/release/footml, built when missing)
#        MODEL=1  also run with the default person model (2x2 tiles; ~5 s per 1080p frame on a
#                 loaded 2-core machine), so that player boxes suppress candidates on bodies
#        OUT      output directory (default out/measure-ball)
#        METHODS  tracking methods (default "kalman particle_filter")
#        MODES    modes (default "no-homography homography", plus "model" with MODEL=1)
# Runs, for each tracking_method (kalman, particle_filter):
#   no-homography   classical candidates, no player boxes, no calibration
#   homography      the same with the clip's homography (pitch positions, pitch-mark masking)
#   model           (MODEL=1) person model + homography
set -euo pipefail
cd "$(dirname "$0")/.."
START=${1:-1}
FRAMES=${2:-150}
OUT=${OUT:-out/measure-ball}
FOOTML=${FOOTML:-target/release/footml}
if [ ! -x "$FOOTML" ]; then
  cargo build --release -q -p footml-core --bin footml
fi
CLIP=$OUT/clip-$START-$FRAMES
if [ ! -s "$CLIP/video.mp4" ] || [ ! -s "$CLIP/ball_gt.txt" ]; then
  "$FOOTML" render --tracking tests/fixtures/skillcorner/tracking.csv --out "$CLIP" --start-frame "$START" \
    --frames "$FRAMES"
fi
MODEL_PATH=$(ls .venv/lib/python3*/site-packages/fall_detection/models/best_fp16.onnx 2>/dev/null | head -n1 || true)
modes=${MODES:-no-homography homography}
if [ "${MODEL:-0}" = 1 ] && [ -z "${MODES:-}" ]; then modes="$modes model"; fi
for method in ${METHODS:-kalman particle_filter}; do
  for mode in $modes; do
    run=$OUT/$START-$FRAMES-$mode-$method
    mkdir -p "$run"
    # The renderer's 1920x1080 camera shows the ball 4.5-7 px in radius.
    players=""
    if [ "$mode" = model ]; then
      # As in scripts/run-sample.sh: the default model sees the rendered players only through
      # tiles, and only its class 0 is a person.
      players='"player_detection": {"tiles": [2, 2], "confidence_threshold": 0.25, "player_class_ids": [0]},
               "player_tracking": {"high_threshold": 0.3, "new_track_threshold": 0.4},'
    fi
    cat > "$run/config.json" <<JSON
{"checkpoint_enabled": false, "stage_configs": {$players
  "ball_tracking": {"tracking_method": "$method", "min_ball_radius": 3, "max_ball_radius": 12}}}
JSON
    args=("$CLIP/video.mp4" --config "$run/config.json" --out "$run")
    if [ "$mode" != no-homography ]; then args+=(--homography "$CLIP/homography.json"); fi
    if [ "$mode" = model ]; then args+=(--model "$MODEL_PATH"); fi
    start_s=$(date +%s.%N)
    "$FOOTML" analyze "${args[@]}" > "$run/analyze.log" 2>&1
    end_s=$(date +%s.%N)
    score=$(.venv/bin/python scripts/score_ball.py "$run/report.json" "$CLIP")
    echo "$score" > "$run/score.json"
    .venv/bin/python - "$mode" "$method" "$score" "$start_s" "$end_s" <<'PY'
import json, sys
mode, method, s, t0, t1 = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
f = lambda v, d=2: "-" if v is None else f"{v:.{d}f}"
print(f"{mode:14} {method:16} gt {s['gt_frames']:4}  coverage {f(s['coverage'], 3)}  tracked {f(s['tracked'], 3)}  "
      f"mean {f(s['mean_px'])} px (median {f(s['median_px'])})  mean {f(s['mean_m'])} m  "
      f"within 1 m {f(s['within_1m'], 3)} (of all ground frames {f(s['within_1m_all'], 3)})  "
      f"extra {s['extra_frames']}  [{t1 - t0:.1f} s]")
PY
  done
done
