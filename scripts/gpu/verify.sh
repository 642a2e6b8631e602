#!/usr/bin/env bash
# Runs the GPU verification (issue 3 item 2) on a GPU machine, from parts staged by
# scripts/gpu/stage.sh. Every device call runs this same command with one part carried
# (`carry: [".gpu/pN"]`): it moves the part out of the working copy into $GPU_ROOT, and once all
# parts are there it unpacks them and runs footml-core/examples/execution_providers.rs on the
# rendered clip with the CUDA and TensorRT providers, writing under $OUT:
#   gpu.json        the program's results (providers, accuracy vs CPU and ground truth, speed)
#   run.log         what it printed
#   nvidia-smi.txt  the GPU and driver
#   dynamic.json    the dynamic-batch export's equality proof (from stage.sh)
#
# The CUDA libraries come from the machine's Python packages (nvidia-cublas, -cuda-runtime,
# -curand, -cudnn-cu13: the CUDA 13 stack the onnxruntime-gpu wheel is built against).
# Environment: GPU_ROOT (default /root/footml-gpu), OUT (default ./out/gpu), FRAMES (frames of
# the clip to use, default 40), THREADS (CPU threads of the CPU runs, default 8), PYTHON
# (default python3: it decodes the clip with OpenCV, or FFmpeg's CLI when OpenCV is missing).
set -euo pipefail
cd "$(dirname "$0")/../.."

GPU_ROOT=${GPU_ROOT:-/root/footml-gpu}
OUT=${OUT:-out/gpu}
FRAMES=${FRAMES:-40}
THREADS=${THREADS:-8}
PYTHON=${PYTHON:-python3}
mkdir -p "$GPU_ROOT/parts" "$OUT"

# 1. Collect whatever part this call carried.
for d in .gpu/p*/; do
  [ -d "$d" ] || continue
  cp "$d"part.* "$d"manifest "$GPU_ROOT/parts/"
done
[ -f "$GPU_ROOT/parts/manifest" ] || { echo "verify.sh: no part collected yet (carry .gpu/pN)" >&2; exit 2; }
parts=$(sed -n 's/^parts=//p' "$GPU_ROOT/parts/manifest")
sum=$(sed -n 's/^sha256=//p' "$GPU_ROOT/parts/manifest")
have=$(find "$GPU_ROOT/parts" -name 'part.*' | wc -l)
if [ "$have" -lt "$parts" ]; then
  echo "verify.sh: $have of $parts parts collected; carry the next one"
  exit 0
fi

# 2. Unpack once (checked against the manifest's checksum).
x=$GPU_ROOT/x
if [ "$(cat "$x/.sha256" 2>/dev/null)" != "$sum" ]; then
  got=$(cat "$GPU_ROOT"/parts/part.* | sha256sum | cut -d' ' -f1)
  [ "$got" = "$sum" ] || { echo "verify.sh: parts checksum $got != $sum (stage again)" >&2; exit 1; }
  rm -rf "$x" && mkdir -p "$x"
  if command -v xz >/dev/null; then
    cat "$GPU_ROOT"/parts/part.* | xz -dc | tar -C "$x" -xf -
  else
    cat "$GPU_ROOT"/parts/part.* | "$PYTHON" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)' | tar -C "$x" -xf -
  fi
  echo "$sum" > "$x/.sha256"
fi

# 3. The machine, the CUDA libraries, the frames.
(nvidia-smi || echo "nvidia-smi: not found") > "$OUT/nvidia-smi.txt" 2>&1
cp "$x/dynamic.json" "$OUT/" 2>/dev/null || true
cuda_dirs=$("$PYTHON" - <<'PY' 2>/dev/null || true
import importlib.util, pathlib
spec = importlib.util.find_spec("nvidia")
dirs = set()
for root in (spec.submodule_search_locations if spec else []):
    for lib in pathlib.Path(root).rglob("lib*.so*"):
        dirs.add(str(lib.parent))
print(":".join(sorted(dirs)))
PY
)
export LD_LIBRARY_PATH="$x/lib${cuda_dirs:+:$cuda_dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export ORT_DYLIB_PATH
ORT_DYLIB_PATH=$(ls "$x"/lib/libonnxruntime.so.1.*)
frames=$GPU_ROOT/frames.rgb
size=$("$PYTHON" - "$x/clip/video.mp4" "$frames" "$FRAMES" <<'PY'
import subprocess, sys
video, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    import cv2
except ImportError:
    cv2 = None
if cv2 is not None:
    cap = cv2.VideoCapture(video)
    n, size = 0, None
    with open(out, "wb") as f:
        while n < limit:
            ok, bgr = cap.read()
            if not ok:
                break
            f.write(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).tobytes())
            size, n = (bgr.shape[1], bgr.shape[0]), n + 1
    if n == 0:
        sys.exit(f"{video}: no frame decoded")
    print(f"{size[0]}x{size[1]}")
else:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", video, "-frames:v", str(limit), "-f", "rawvideo",
                    "-pix_fmt", "rgb24", out], check=True)
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height", "-of", "csv=p=0:s=x", video], check=True, capture_output=True, text=True)
    print(probe.stdout.strip())
PY
)
echo "clip: $size, up to $FRAMES frames; LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

# 4. The verification program.
set -o pipefail
"$x/bin/execution_providers" --model "$x/model/best_fp16.onnx" --frames "$frames" --size "$size" \
  --gt "$x/clip/gt.txt" --batch-model "$x/model/best_fp16_dynamic.onnx" --threads "$THREADS" \
  --json "$OUT/gpu.json" 2>&1 | tee "$OUT/run.log"
