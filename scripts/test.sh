#!/usr/bin/env bash
# Every check CI runs: formatting, lints, Rust tests (unit, integration, C ABI with
# valgrind), Python binding tests. Set-up first, so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -q -- -D warnings
echo "== cargo clippy, core without default features (pure-Rust build: no FFmpeg, ONNX Runtime, CLI)"
cargo clippy -p footml-core --no-default-features -q -- -D warnings
echo "== core without the redis feature: a Redis URL is a config error saying how to build it"
cargo test -p footml-core --no-default-features -q --lib redis_url_without_the_feature
echo "== cargo doc (every crate): rustdoc warnings (broken links, bad markup, missing docs) are errors"
# One crate per call: footml-capi's lib is also named `footml`, and both in one call collide
# in target/doc/footml. The core goes last so that target/doc/footml is its documentation.
for crate in footml-py footml-capi footml-core; do
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -q -p "$crate"
done
echo "== cargo test"
cargo test --workspace --exclude footml-py -q 2>&1 | tee target/cargo-test.log

# The GPU execution providers build and fall back (or fail when demanded) on this CPU-only
# onnxruntime wheel; the real GPU paths need the onnxruntime-gpu wheel and a GPU.
echo "== GPU features (cuda, tensorrt): clippy and detection tests"
cargo clippy -p footml-core --all-targets --features cuda,tensorrt -q -- -D warnings
cargo test -p footml-core --features cuda,tensorrt -q --lib stages::player_detection
cargo test -p footml-core --features cuda,tensorrt -q --test it detection::

echo "== Python binding (maturin develop, pytest with stubtest)"
maturin develop --release -q -m footml-py/Cargo.toml
# (python/tests/test_api.py runs mypy.stubtest on the built module too.)
# Nothing may skip here: setup.sh installed everything the tests use (python/tests/conftest.py).
FOOTML_NO_SKIPS=1 pytest python/tests -q
echo "== pip install . into a fresh venv (abi3 wheel, no index)"
bash scripts/check_install.sh
