//! Live mode memory over a whole match: is a long live session flat?
//!
//! The SkillCorner fixture's ground-truth boxes (1000 frames, ~15 people) are pushed as
//! detections with their teams (home 0, away 1, the referee none, by `meta.json`) and the
//! fixture's ball candidates, repeated to `FOOTML_LIVE_FRAMES` frames (default 135,000, a
//! 90-minute match at 25 fps) with timestamps continuing, into one calibrated
//! [`LiveSession`] (tracking, ball tracking, possession, the user's team votes). Every 10,000
//! pushes it prints the process's VmRSS and VmHWM (`/proc/self/status`) and the session's
//! retained state, then finishes the session (the match stages run) and prints the peak again.
//!
//! What the session keeps per frame for [`LiveSession::finish`] is each frame's record in the
//! engine's collector (the match stages need the whole match), so some growth per push is
//! legitimate; the bench prints it apart, as the size of the records so far, so that growth
//! beyond it stands out. Run by `benches/memory.sh`; results in benches/README.md, "Memory".
//!
//! ```text
//! cargo bench -p footml-core --bench memory_live
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use footml::live::{LiveFrame, LiveSession};
use footml::{BBox, Detection, FrameRecord, PipelineConfig};

/// `VmRSS` and `VmHWM` of this process in kB.
fn rss_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Reads a MOTChallenge-style file into per-frame rows of numbers (frames from 1).
fn rows_by_frame(path: &PathBuf, frames: usize) -> Vec<Vec<Vec<f64>>> {
    let mut out = vec![Vec::new(); frames];
    for line in std::fs::read_to_string(path).expect("fixture file").lines() {
        let c: Vec<f64> = line.split(',').map(|v| v.trim().parse().expect("number")).collect();
        out[c[0] as usize - 1].push(c);
    }
    out
}

/// Bytes one frame's record takes: the struct and its vectors' contents (the allocator adds
/// a little per allocation).
fn record_size(r: &FrameRecord) -> usize {
    fn vec<T>(v: &Option<Vec<T>>) -> usize {
        v.as_ref().map_or(0, |v| v.capacity() * size_of::<T>())
    }
    size_of::<FrameRecord>()
        + vec(&r.players)
        + vec(&r.ball_candidates)
        + vec(&r.tracks)
        + vec(&r.kit)
        + vec(&r.player_appearance)
        + vec(&r.player_teams)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/skillcorner");
    let total: u64 = std::env::var("FOOTML_LIVE_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(135_000);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("meta.json")).expect("meta.json")).expect("meta");
    let team_of: BTreeMap<u64, Option<u32>> = meta["ids"]
        .as_object()
        .expect("ids")
        .iter()
        .map(|(id, v)| {
            let team = match v["team"].as_str() {
                Some("home") => Some(0),
                Some("away") => Some(1),
                _ => None,
            };
            (id.parse().expect("id"), team)
        })
        .collect();
    let period = 1000;
    let players: Vec<(Vec<Detection>, Vec<Option<u32>>)> = rows_by_frame(&root.join("gt.txt"), period)
        .into_iter()
        .map(|rows| {
            let dets = rows
                .iter()
                .map(|c| Detection {
                    bbox: BBox::new(c[2] as f32, c[3] as f32, c[4] as f32, c[5] as f32),
                    score: 0.9,
                    class_id: 0,
                })
                .collect();
            (dets, rows.iter().map(|c| team_of[&(c[1] as u64)]).collect())
        })
        .collect();
    let balls: Vec<Vec<Detection>> = rows_by_frame(&root.join("ball_det.txt"), period)
        .into_iter()
        .map(|rows| {
            rows.iter()
                .map(|c| Detection {
                    bbox: BBox::new(c[2] as f32, c[3] as f32, c[4] as f32, c[5] as f32),
                    score: c[6] as f32,
                    class_id: 0,
                })
                .collect()
        })
        .collect();
    let config = serde_json::json!({"fps": 25, "frame_size": [1920, 1080],
        "homography_path": root.join("homography.json"),
        "live": {"input": "detections", "ball_candidates": true, "user_teams": true},
        "stage_configs": {"ball_tracking": {"min_ball_radius": 0.5, "max_ball_radius": 10}}});
    let config = PipelineConfig::from_json(&config.to_string()).expect("config");
    let mut session = LiveSession::from_config(&config).expect("session");
    let (rss0, _) = rss_kb();
    println!("live session, {total} pushes of the fixture's frames (teams and ball candidates pushed)");
    println!("{:>8} {:>10} {:>10} {:>14} {:>12}", "pushes", "rss_kB", "hwm_kB", "records_kB", "tracks_seen");
    // The bytes the engine's collector holds for `finish`: each frame's record as the
    // session returns it (detections, teams, ball candidates, tracks, ball, homography).
    let mut record_bytes = 0usize;
    let mut max_track = 0u64;
    let t = std::time::Instant::now();
    for i in 0..total {
        let f = (i % period as u64) as usize;
        let (dets, teams) = &players[f];
        let result = session
            .push(LiveFrame::Detections {
                players: dets,
                ball_candidates: Some(&balls[f]),
                player_teams: Some(teams),
                timestamp_s: i as f64 / 25.0,
            })
            .expect("push");
        record_bytes += record_size(&result.record);
        max_track = result.tracks().iter().map(|t| t.track_id).fold(max_track, u64::max);
        if (i + 1) % 10_000 == 0 || i + 1 == total {
            let (rss, hwm) = rss_kb();
            println!("{:>8} {:>10} {:>10} {:>14} {:>12}", i + 1, rss, hwm, record_bytes / 1024, max_track);
        }
    }
    let pushed_s = t.elapsed().as_secs_f64();
    let report = session.finish().expect("finish");
    let (rss, hwm) = rss_kb();
    println!(
        "finished: {} tracks in the report; rss {rss} kB, peak {hwm} kB (start {rss0} kB); pushes took {pushed_s:.1} s",
        report.tracks.len()
    );
}
