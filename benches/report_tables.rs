//! Whole-match report: `report.json` inline against `report.json` + Parquet tables
//! (`report_tables: "parquet"`): bytes on disk, write time and read time, side by side in one
//! run.
//!
//! The report is the fixture's analysis (SkillCorner detections with ball candidates and the
//! homography, 1000 frames = 40 s) tiled to a 90-minute match (135 tiles = 135,000 frames):
//! every per-frame row is repeated with its frame shifted by 1000 per tile, under the same
//! track ids (tracks that last the match, as `report.json`'s per-track sections would then
//! be), and events and formations are tiled too; per-player metrics are the fixture's. Each
//! form is written and read `ROUNDS` times, alternating, into a temporary directory; the
//! medians are printed.
//!
//! ```text
//! cargo bench -p footml-core --no-default-features --features parquet --bench report_tables
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use footml::report::ReportTables;
use footml::{MatchReport, Pipeline, PipelineConfig};

const TILES: u64 = 135;
const ROUNDS: usize = 3;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/skillcorner").join(name).display().to_string()
}

/// The fixture's report tiled to `TILES` × its frames.
fn match_report() -> MatchReport {
    let config = format!(
        r#"{{"detections_path": {:?}, "ball_detections_path": {:?}, "homography_path": {:?}, "fps": 25,
             "frame_size": [1920, 1080], "checkpoint_enabled": false,
             "stage_configs": {{"ball_tracking": {{"min_ball_radius": 0.5, "max_ball_radius": 10}}}}}}"#,
        fixture("det.txt"),
        fixture("ball_det.txt"),
        fixture("homography.json")
    );
    let clip = Pipeline::from_config(&PipelineConfig::from_json(&config).unwrap()).unwrap().run().unwrap();
    let n = clip.possession.len() as u64;
    let dt = n as f64 / clip.video.fps;
    let mut r = clip.clone();
    for k in 1..TILES {
        let shift = k * n;
        for (t, c) in r.tracks.iter_mut().zip(&clip.tracks) {
            t.frames
                .extend(c.frames.iter().map(|f| footml::report::TrackFrame { frame: f.frame + shift, ..f.clone() }));
        }
        r.ball.extend(clip.ball.iter().map(|b| footml::report::BallFrame { frame: b.frame + shift, ..b.clone() }));
        r.possession.extend(&clip.possession);
        r.ball_owner.extend(&clip.ball_owner);
        r.calibration.extend(
            clip.calibration.iter().map(|c| footml::report::CalibrationFrame { frame: c.frame + shift, ..c.clone() }),
        );
        r.events.extend(clip.events.iter().map(|e| {
            let mut e = e.clone();
            e.frame += shift;
            e.time_s += k as f64 * dt;
            e
        }));
        r.formations.extend(clip.formations.iter().map(|f| {
            let mut f = f.clone();
            f.from_frame += shift;
            f.to_frame += shift;
            f
        }));
    }
    r.video.frame_count = Some(n * TILES);
    r
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64()
}

fn bytes(dir: &Path) -> (u64, u64) {
    let mut tables = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "parquet") {
            tables += std::fs::metadata(&p).unwrap().len();
        }
    }
    (std::fs::metadata(dir.join("report.json")).unwrap().len(), tables)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not meaningful here.
    let report = match_report();
    let rows: usize = report.tracks.iter().map(|t| t.frames.len()).sum();
    println!(
        "report: {} frames, {} track rows, {} ball rows, {} calibration rows, {} events",
        report.possession.len(),
        rows,
        report.ball.len(),
        report.calibration.len(),
        report.events.len()
    );
    let tmp = std::env::temp_dir().join(format!("footml-report-tables-{}", std::process::id()));
    let forms = [("inline", ReportTables::Inline), ("parquet", ReportTables::Parquet)];
    let mut write = [vec![], vec![]];
    let mut read = [vec![], vec![]];
    for _ in 0..ROUNDS {
        for (i, (name, tables)) in forms.iter().enumerate() {
            let path = tmp.join(name).join("report.json");
            let t = Instant::now();
            report.write(&path, *tables).unwrap();
            write[i].push(t.elapsed());
            let t = Instant::now();
            let back = MatchReport::read_json(&path).unwrap();
            read[i].push(t.elapsed());
            assert!(back == report, "{name}: the report read back differs");
        }
    }
    for (i, (name, _)) in forms.iter().enumerate() {
        let (json, tables) = bytes(&tmp.join(name));
        println!(
            "{name:>7}: report.json {:>11} B + tables {:>10} B; write {:.2} s, read {:.2} s (median of {ROUNDS})",
            json,
            tables,
            median(write[i].clone()),
            median(read[i].clone())
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
