//! `footml render-report`: pictures of a real report (the SkillCorner fixture tracked with its
//! ball and homography), and clear errors for bad reports.

use std::path::Path;

use crate::cli::{fails_with, footml};
use crate::common::fixture;

/// Width and height from a PNG's IHDR chunk (bytes 16..24), after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", path.display());
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

#[test]
fn render_report_draws_heatmaps_and_radar_of_a_real_report() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let o = footml()
        .args(["analyze", "--detections"])
        .arg(fixture("det.txt"))
        .arg("--ball-detections")
        .arg(fixture("ball_det.txt"))
        .arg("--homography")
        .arg(fixture("homography.json"))
        .args(["--fps", "25", "--frame-size", "1920x1080", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pics = dir.path().join("pics");
    let o = footml()
        .arg("render-report")
        .arg(run.join("report.json"))
        .args(["--scale", "6", "--no-radar-video", "--out"])
        .arg(&pics)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // 105 × 68 m at 6 px/m with an 18 px margin.
    assert_eq!(png_size(&pics.join("radar.png")), (666, 444));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    let players = report["metrics"]["players"].as_array().unwrap();
    assert!(players.len() > 20);
    for p in players {
        let path = pics.join(format!("heatmaps/player_{}.png", p["track_id"]));
        assert_eq!(png_size(&path), (666, 444), "{}", path.display());
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(&format!("wrote {} files", players.len() + 1)), "{stdout}");
}

#[test]
fn render_report_rejects_missing_and_foreign_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let missing = dir.path().join("nope.json");
    fails_with(&["render-report", missing.to_str().unwrap(), "--out", out], "nope.json");
    let foreign = dir.path().join("other.json");
    std::fs::write(&foreign, r#"{"schema_version": 1, "tracks": "many"}"#).unwrap();
    fails_with(&["render-report", foreign.to_str().unwrap(), "--out", out], "is not a footml report");
    let h = fixture("homography.json");
    fails_with(&["render-report", h.to_str().unwrap(), "--out", out], "is not a footml report");
}
