#!/usr/bin/env bash
# `pip install .` from a checkout into a fresh virtualenv, as the README promises: pip builds
# the footml wheel through pyproject.toml (PEP 517, maturin), the wheel must be abi3, and a
# new venv that has nothing but NumPy gets it installed with no package index and runs the
# README's program. Run by scripts/test.sh after `maturin develop --release`, so the Rust
# build is mostly cached. Needs scripts/setup.sh (the project venv: pip, maturin, NumPy).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/.venv/bin:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --no-build-isolation: the build backend is the pinned maturin of .venv (with isolation pip
# would fetch the very same pin, maturin==1.16.0, from PyPI into a temporary environment).
"$root/.venv/bin/python" -m pip wheel . --no-build-isolation --no-deps -q -w "$work/wheels"
wheel=$(ls "$work"/wheels/footml-*.whl)
case "$(basename "$wheel")" in
  footml-*-cp39-abi3-*.whl) ;;
  *) echo "check_install: not an abi3 (cp39) wheel: $(basename "$wheel")" >&2; exit 1 ;;
esac

# A fresh venv from the same interpreter, without pip; its only dependency, NumPy, is copied
# from the project venv so that the install needs no index.
base=$(python -c 'import sys; print(sys._base_executable)')
"$base" -m venv --without-pip "$work/venv"
site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
numpy_site=$(python -c 'import numpy, os; print(os.path.dirname(os.path.dirname(numpy.__file__)))')
cp -r "$numpy_site"/numpy "$numpy_site"/numpy-*.dist-info "$site"/
[ -d "$numpy_site/numpy.libs" ] && cp -r "$numpy_site/numpy.libs" "$site"/
"$root/.venv/bin/python" -m pip --python "$work/venv/bin/python" install -q --no-index "$wheel"

# The README's program, from outside the checkout (so nothing but the installed package can
# be imported), with the fixture's absolute path.
cd "$work"
"$work/venv/bin/python" - "$root" "$work/venv" <<'PY'
import pathlib, sys
root, venv = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
import footml
package = pathlib.Path(footml.__file__).parent
assert venv in package.parents, f"footml imported from {package}, not the fresh venv"
# Typing ships with the wheel: the stubs and the py.typed marker.
assert (package / "_footml.pyi").is_file() and (package / "py.typed").is_file(), sorted(package.iterdir())
det = root / "tests" / "fixtures" / "skillcorner" / "det.txt"
report = footml.analyze({"detections_path": str(det), "fps": 25, "frame_size": [1920, 1080]})
rows, cols = report.tracks.shape
assert rows > 1000 and cols == len(footml.Report.TRACK_COLUMNS), report.tracks.shape
print(f"check_install: footml {footml.__version__} from the fresh venv: {rows} track rows")
PY
echo "check_install: $(basename "$wheel") installs into a fresh venv and runs"
