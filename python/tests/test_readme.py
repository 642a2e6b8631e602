"""The README's Python program, run exactly as written (from the repository root)."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_readme_python_program_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    out = subprocess.run(
        [sys.executable, "-c", blocks[0]], cwd=ROOT, capture_output=True, text=True, env=dict(os.environ), timeout=120
    )
    assert out.returncode == 0, out.stderr
    match = re.match(r"\((\d+), (\d+)\) (\[.*\])$", out.stdout.strip())
    assert match, out.stdout
    assert int(match[1]) > 1000 and int(match[2]) == 9
    assert match[3] == str(["frame", "track_id", "x", "y", "w", "h", "score", "pitch_x", "pitch_y"])
