"""Per-frame report tables in Parquet files beside report.json (`report_tables: "parquet"`)."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np
import pytest

import footml

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "skillcorner"


def config(out: pathlib.Path, **extra: Any) -> dict[str, Any]:
    """The fixture run with its homography and ball candidates: every table has rows."""
    return {
        "detections_path": str(FIXTURES / "det.txt"),
        "ball_detections_path": str(FIXTURES / "ball_det.txt"),
        "homography_path": str(FIXTURES / "homography.json"),
        "fps": 25,
        "frame_size": [1920, 1080],
        # The fixture's ball is 1-2 px in radius.
        "stage_configs": {"ball_tracking": {"min_ball_radius": 0.5, "max_ball_radius": 10}},
        "output_dir": str(out),
        **extra,
    }


def without_timings(report: footml.Report) -> dict[str, Any]:
    d = report.to_dict()
    for s in d["stages"]:
        s["duration_s"] = 0
    return d


def test_parquet_tables_read_back_and_load_straight_into_pandas(tmp_path: pathlib.Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    inline_dir, tables_dir = tmp_path / "inline", tmp_path / "tables"
    footml.Pipeline.from_config(config(inline_dir)).run()
    ran = footml.Pipeline.from_config(config(tables_dir, report_tables="parquet")).run()
    head = json.loads((tables_dir / "report.json").read_text())
    assert head["tables"]["tracks"] == "tracks.parquet" and head["schema_version"] == 2
    assert all(t["frames"] == [] for t in head["tracks"]) and head["ball"] == []

    inline = footml.Report.read(inline_dir / "report.json")
    tables = footml.Report.read(str(tables_dir / "report.json"))
    assert without_timings(tables) == without_timings(inline) == without_timings(ran)
    np.testing.assert_array_equal(tables.tracks, inline.tracks)
    assert len(inline.tracks) > 10_000 and len(inline.ball) > 500

    # pandas reads the files itself (pyarrow), and gets the rows Report.to_pandas gives;
    # on disk ids are uint64 and boxes float32 (the report's own types).
    on_disk = pd.read_parquet(tables_dir / "tracks.parquet")
    assert list(on_disk.columns) == footml.Report.TRACK_COLUMNS
    assert on_disk["track_id"].dtype == np.uint64 and on_disk["x"].dtype == np.float32
    pd.testing.assert_frame_equal(on_disk, tables.to_pandas("tracks"), check_dtype=False)
    pd.testing.assert_frame_equal(on_disk, inline.to_pandas("tracks"), check_dtype=False)
    calibration = pd.read_parquet(tables_dir / "calibration.parquet")
    pd.testing.assert_frame_equal(calibration, inline.to_pandas("calibration"), check_dtype=False)
    ball = pd.read_parquet(tables_dir / "ball.parquet")
    expected = inline.to_pandas("ball")
    np.testing.assert_array_equal(ball["frame"], expected["frame"])
    np.testing.assert_array_equal(ball[["x", "y", "pitch_x", "pitch_y"]].astype(float), expected[["x", "y", "pitch_x", "pitch_y"]])
    np.testing.assert_array_equal(ball["state"] != "tracked", expected["occluded"])
    np.testing.assert_array_equal(ball["interpolated"], expected["interpolated"])
    possession = pd.read_parquet(tables_dir / "possession.parquet")
    assert len(possession) == len(inline.possession) == 1000
    assert [None if pd.isna(t) else int(t) for t in possession["team"]] == inline.possession
    assert [None if pd.isna(o) else int(o) for o in possession["ball_owner"]] == inline.ball_owner


def test_report_write_read_and_errors(tmp_path: pathlib.Path) -> None:
    report = footml.Pipeline.from_config(config(tmp_path / "run")).run()
    path = tmp_path / "copy" / "report.json"
    report.write(path, tables="parquet")
    again = footml.Report.read(path)
    assert again.to_dict() == report.to_dict()
    report.write(tmp_path / "inline.json")
    assert footml.Report.read(tmp_path / "inline.json").to_dict() == report.to_dict()
    with pytest.raises(footml.ConfigError, match="csv"):
        report.write(path, tables="csv")

    # The head alone is not the report: from_json refuses it and says what to do.
    with pytest.raises(footml.ReportError, match=r"Report\.read"):
        footml.Report.from_json(path.read_text())
    # A corrupt table: ReportError naming the file; a missing one: FileNotFoundError.
    ball = path.parent / "ball.parquet"
    ball.write_bytes(b"PAR1 not really")
    with pytest.raises(footml.ReportError, match="ball.parquet"):
        footml.Report.read(path)
    ball.unlink()
    with pytest.raises(footml.InputNotFoundError, match="ball.parquet") as info:
        footml.Report.read(path)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(FileNotFoundError):
        footml.Report.read(tmp_path / "nowhere" / "report.json")
