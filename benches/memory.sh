#!/usr/bin/env bash
# Peak memory (resident set size) of footml, file mode against match length and live mode over
# a whole match. Results: benches/README.md, "Memory".
#
#   bash benches/memory.sh [LENGTHS...]      # default: 1000 10000 50000 135000 frames
#   FOOTML=path/to/footml LIVE=0 bash benches/memory.sh 135000   # another build, file mode only
#
# 1. File mode: the SkillCorner fixture's detections (tests/fixtures/skillcorner: 1000 frames,
#    ~15 players and ~1 ball candidate per frame, 25 fps) tiled to each length — frames
#    renumbered, boxes unchanged, into a temporary directory — and analysed by the release
#    `footml analyze --detections ... --homography ...` (the command of scripts/run-sample.sh,
#    checkpoints on as the CLI has them), once with the report's per-frame tables inline in
#    report.json and once with `report_tables: parquet`. Peak RSS is `/usr/bin/time -v`'s
#    "Maximum resident set size"; the slope (bytes per frame) is fitted over the lengths.
# 2. Live mode: the `memory_live` bench binary pushes the fixture's frames repeated to 135,000
#    (timestamps continuing, teams pushed with the detections, ball candidates, homography, so
#    possession runs) into one LiveSession and prints VmRSS/VmHWM every 10,000 pushes, then
#    finishes the session (see benches/memory_live.rs).
#
# RSS does not depend on CPU load, so these numbers hold on the shared machine; times do not.
# Everything goes under target/memory (deleted and rebuilt each run; nothing into git).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
LENGTHS=("$@")
[ ${#LENGTHS[@]} -gt 0 ] || LENGTHS=(1000 10000 50000 135000)
FIX=tests/fixtures/skillcorner
WORK=${WORK:-target/memory}
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
rm -rf "$WORK" && mkdir -p "$WORK"

if [ -z "${FOOTML:-}" ]; then
  cargo build --release -q -p footml-core --bin footml
  FOOTML=target/release/footml
fi

# Tiles a MOTChallenge file (frames 1..1000) to N frames: frame f of copy k becomes f + 1000 k.
tile() { # SRC N DST
  "$PY" - "$1" "$2" "$3" <<'PY'
import sys
src, n, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = [line.split(",", 1) for line in open(src) if line.strip()]
period = max(int(f) for f, _ in rows)
with open(dst, "w") as out:
    for k in range((n + period - 1) // period):
        for f, rest in rows:
            frame = int(f) + k * period
            if frame <= n:
                out.write(f"{frame},{rest}")
PY
}

cat > "$WORK/inline.json" <<'JSON'
{"stage_configs": {"ball_tracking": {"min_ball_radius": 0.5, "max_ball_radius": 10}}}
JSON
cat > "$WORK/parquet.json" <<'JSON'
{"report_tables": "parquet", "stage_configs": {"ball_tracking": {"min_ball_radius": 0.5, "max_ball_radius": 10}}}
JSON

echo "== file mode: peak RSS against match length"
printf '%-8s %-8s %12s %10s %14s\n' frames tables peak_rss_kB wall_s report_bytes | tee "$WORK/file.txt"
for n in "${LENGTHS[@]}"; do
  tile $FIX/det.txt "$n" "$WORK/det-$n.txt"
  tile $FIX/ball_det.txt "$n" "$WORK/ball-$n.txt"
  for tables in inline parquet; do
    out="$WORK/out-$n-$tables"
    /usr/bin/time -v -o "$WORK/time-$n-$tables.txt" $FOOTML analyze --detections "$WORK/det-$n.txt" \
      --ball-detections "$WORK/ball-$n.txt" --fps 25 --frame-size 1920x1080 --homography $FIX/homography.json \
      --config "$WORK/$tables.json" --out "$out" > /dev/null
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time-$n-$tables.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time-$n-$tables.txt")
    bytes=$(du -sb --exclude=checkpoints --exclude=events.jsonl "$out" | cut -f1)
    printf '%-8s %-8s %12s %10s %14s\n' "$n" "$tables" "$rss" "$wall" "$bytes" | tee -a "$WORK/file.txt"
    rm -rf "$out"
  done
  rm -f "$WORK/det-$n.txt" "$WORK/ball-$n.txt"
done
"$PY" - "$WORK/file.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
for tables in ("inline", "parquet"):
    pts = [(int(r[0]), int(r[2]) * 1024) for r in rows if r[1] == tables]
    if len(pts) < 2:
        continue
    n = len(pts)
    mx, my = sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
    slope = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    print(f"{tables}: slope {slope:,.0f} bytes/frame = {slope * 25 * 3600 / 1e6:,.0f} MB per hour of match "
          f"(least squares over {n} lengths), intercept {(my - slope * mx) / 1e6:,.1f} MB")
PY

# What the peak is made of, at the longest length (inline tables): the same run without
# checkpoints (each match stage's output is encoded whole for its checkpoint) and without
# retries (a stage that may be retried works on a copy of the match data).
n=${LENGTHS[-1]}
echo "== file mode at $n frames, inline: checkpoints and retries off"
tile $FIX/det.txt "$n" "$WORK/det-$n.txt"
tile $FIX/ball_det.txt "$n" "$WORK/ball-$n.txt"
for variant in no-checkpoints no-retries neither; do
  case $variant in
    no-checkpoints) extra='"checkpoint_enabled": false' ;;
    no-retries) extra='"retry": {"max_attempts": 1}' ;;
    neither) extra='"checkpoint_enabled": false, "retry": {"max_attempts": 1}' ;;
  esac
  echo "{$extra, \"stage_configs\": {\"ball_tracking\": {\"min_ball_radius\": 0.5, \"max_ball_radius\": 10}}}" \
    > "$WORK/$variant.json"
  /usr/bin/time -v -o "$WORK/time-$variant.txt" $FOOTML analyze --detections "$WORK/det-$n.txt" \
    --ball-detections "$WORK/ball-$n.txt" --fps 25 --frame-size 1920x1080 --homography $FIX/homography.json \
    --config "$WORK/$variant.json" --out "$WORK/out-$variant" > /dev/null
  echo "$variant: peak RSS $(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time-$variant.txt") kB"
  rm -rf "$WORK/out-$variant"
done
rm -f "$WORK/det-$n.txt" "$WORK/ball-$n.txt"

if [ "${LIVE:-1}" != 0 ]; then
  echo "== live mode: RSS every 10,000 pushes"
  cargo bench -q -p footml-core --bench memory_live
fi
