//! Ball tracking on real match data: the SkillCorner fixture's ball candidates (jitter, 13 %
//! misses, false candidates) tracked and smoothed, scored against its ground truth by code
//! that shares nothing with the stages.
//!
//! Measured (1000 frames, 924 with a ground-truth ball, 867 of them with the ball below
//! 0.5 m):
//!
//! | method | output | mean px error | mean m error (ground) | within 1 m (ground) | gt frames with a position |
//! |---|---|---|---|---|---|
//! | kalman | tracker only | 0.399 | 0.269 | 99.5 % | 99.7 % |
//! | particle_filter | tracker only | 0.433 | 0.273 | 99.4 % | 99.7 % |
//! | kalman | + smoothing (report) | 0.253 | 0.257 | 99.4 % | 99.7 % |
//! | particle_filter | + smoothing (report) | 0.253 | 0.257 | 99.4 % | 99.7 % |
//!
//! Projection floor (ground-truth pixels through the homography): 0.246 m, 99.9 % within 1 m.
//! Both methods match the same candidates here, and the smoother (a Kalman RTS on the matched
//! candidates) rewrites the positions, so the smoothed results are the same; 132 frames are
//! interpolated, and 29 positions fall on frames where the data has no ball (predictions
//! while the ball is occluded just before SkillCorner loses it).
//!
//! Metres are compared only where the ground-truth ball is below 0.5 m: the homography maps
//! the image onto the pitch *plane*, so the pixel centre of a ball in the air lands on the
//! ground far behind the ball (a 3 m high ball seen from the 25 m high camera lands ~10 m
//! off), which is an error of the question, not of the tracker. Even a ball on the ground has
//! its centre 0.11 m up; the ground-truth pixels pushed through the same homography
//! ("projection floor", printed) show the error that remains with a perfect tracker.
//! The thresholds sit just below the measurements so that a regression fails.

use std::collections::BTreeMap;

use footml::config::{BallTrackingConfig, BallTrackingMethod};
use footml::stages::ball_tracking::BallTracker;
use footml::{BBox, BallState, Detection, Pipeline, PipelineConfig};

use crate::common::{self, fixture, fixture_detections_config, fixture_homography, read_ball_gt};

/// The fixture's homography, read and applied here rather than through footml.
fn to_pitch(u: f64, v: f64) -> [f64; 2] {
    common::to_pitch(&fixture_homography(), u, v)
}

struct Scores {
    mean_px: f64,
    mean_m: f64,
    within_1m: f64,
    coverage: f64,
    extra: usize,
    interpolated: usize,
}

/// Scores positions (frame from 0 → pixel centre) against the ground truth.
fn score(ball: &BTreeMap<u64, [f64; 2]>, interpolated: usize) -> Scores {
    let gt = read_ball_gt(&fixture("ball_gt.txt"));
    let (mut px_sum, mut px_n) = (0.0, 0usize);
    let (mut m_sum, mut m_n, mut within, mut ground) = (0.0, 0usize, 0usize, 0usize);
    for (f, g) in &gt {
        let est = ball.get(f);
        if let Some(b) = est {
            px_sum += (b[0] - g.px[0]).hypot(b[1] - g.px[1]);
            px_n += 1;
        }
        if g.z < 0.5 {
            ground += 1;
            if let Some(b) = est {
                let p = to_pitch(b[0], b[1]);
                let e = (p[0] - g.m[0]).hypot(p[1] - g.m[1]);
                m_sum += e;
                m_n += 1;
                if e <= 1.0 {
                    within += 1;
                }
            }
        }
    }
    Scores {
        mean_px: px_sum / px_n as f64,
        mean_m: m_sum / m_n as f64,
        within_1m: within as f64 / ground as f64,
        coverage: px_n as f64 / gt.len() as f64,
        extra: ball.keys().filter(|f| !gt.contains_key(f)).count(),
        interpolated,
    }
}

/// The tracker alone (no smoothing), fed the candidates file parsed here.
fn run_tracker_only(method: BallTrackingMethod) -> Scores {
    let mut frames: BTreeMap<u64, Vec<Detection>> = BTreeMap::new();
    for l in std::fs::read_to_string(fixture("ball_det.txt")).unwrap().lines().filter(|l| !l.trim().is_empty()) {
        let v: Vec<f32> = l.split(',').map(|x| x.trim().parse().unwrap()).collect();
        let d = Detection { bbox: BBox::new(v[2], v[3], v[4], v[5]), score: v[6], class_id: 0 };
        frames.entry(v[0] as u64 - 1).or_default().push(d);
    }
    let mut tr = BallTracker::new(&ball_config(method)).unwrap();
    let mut ball = BTreeMap::new();
    for f in 0..1000 {
        let b = tr.update(frames.get(&f).map(Vec::as_slice).unwrap_or_default());
        if let Some(b) = b.filter(|b| b.state != BallState::Lost) {
            ball.insert(f, [b.x as f64, b.y as f64]);
        }
    }
    score(&ball, 0)
}

fn ball_config(method: BallTrackingMethod) -> BallTrackingConfig {
    // The fixture's ball is 1–2 px in radius (a wide camera 30 m behind the touchline).
    BallTrackingConfig {
        tracking_method: method,
        min_ball_radius: 0.5,
        max_ball_radius: 10.0,
        max_missing_frames: 10,
        ..Default::default()
    }
}

fn run(method: BallTrackingMethod) -> Scores {
    let mut config = fixture_detections_config();
    config.stage_configs.ball_tracking = ball_config(method);
    let report = Pipeline::from_config(&config).unwrap().run().unwrap();
    let ball: BTreeMap<u64, [f64; 2]> = report.ball.iter().map(|b| (b.frame, [b.x as f64, b.y as f64])).collect();
    score(&ball, report.ball.iter().filter(|b| b.interpolated).count())
}

#[test]
fn projection_floor() {
    let gt = read_ball_gt(&fixture("ball_gt.txt"));
    let ground: Vec<&common::BallGt> = gt.values().filter(|g| g.z < 0.5).collect();
    let e: Vec<f64> = ground
        .iter()
        .map(|g| {
            let p = to_pitch(g.px[0], g.px[1]);
            (p[0] - g.m[0]).hypot(p[1] - g.m[1])
        })
        .collect();
    let mean = e.iter().sum::<f64>() / e.len() as f64;
    let within = e.iter().filter(|&&x| x <= 1.0).count() as f64 / e.len() as f64;
    eprintln!("projection floor ({} ground frames): mean {mean:.3} m, within 1 m {within:.3}", e.len());
    // The comparison itself is sound: perfect pixels give a small error.
    assert!(mean < 0.3 && within > 0.99, "projection floor {mean} m, {within} within 1 m");
}

fn check(method: BallTrackingMethod, max_raw_px: f64) {
    let (max_px, max_m, min_1m, min_cov) = (0.28, 0.28, 0.985, 0.99);
    let raw = run_tracker_only(method);
    eprintln!(
        "{method:?} tracker only: mean {:.3} px, {:.3} m; within 1 m {:.3}; coverage {:.3}; {} positions on frames without gt",
        raw.mean_px, raw.mean_m, raw.within_1m, raw.coverage, raw.extra
    );
    assert!(raw.mean_px <= max_raw_px, "{method:?}: tracker-only pixel error {} > {max_raw_px}", raw.mean_px);
    assert!(raw.mean_m <= 0.30, "{method:?}: tracker-only metre error {}", raw.mean_m);
    assert!(raw.within_1m >= min_1m && raw.coverage >= min_cov, "{method:?}: tracker only");
    let s = run(method);
    eprintln!(
        "{method:?}: mean {:.3} px, {:.3} m; within 1 m {:.3}; coverage {:.3}; {} positions on frames without gt; {} interpolated",
        s.mean_px, s.mean_m, s.within_1m, s.coverage, s.extra, s.interpolated
    );
    assert!(s.mean_px <= max_px, "{method:?}: mean pixel error {} > {max_px}", s.mean_px);
    assert!(s.mean_m <= max_m, "{method:?}: mean metre error {} > {max_m}", s.mean_m);
    assert!(s.within_1m >= min_1m, "{method:?}: within 1 m {} < {min_1m}", s.within_1m);
    assert!(s.coverage >= min_cov, "{method:?}: coverage {} < {min_cov}", s.coverage);
    assert!(s.interpolated > 0, "{method:?}: gaps are interpolated");
}

#[test]
fn kalman_ball_on_skillcorner_fixture() {
    check(BallTrackingMethod::Kalman, 0.44);
}

#[test]
fn particle_filter_ball_on_skillcorner_fixture() {
    check(BallTrackingMethod::ParticleFilter, 0.47);
}

/// Both `tracking_method`s through the whole engine (config JSON → report): a ball rolling
/// 4 px per frame, unseen in frames 20–25 (6 frames, within `max_missing_frames` = 10) and
/// 40–59 (20). The report has the short gap occluded and interpolated, the long one occluded
/// at the prediction for exactly 10 frames and then absent (lost: the report keeps no
/// position), and the ball tracked again once it is back.
#[test]
fn report_ball_states_honour_max_missing_frames_with_both_methods() {
    let dir = tempfile::tempdir().unwrap();
    let truth = |t: usize| (100.0 + 4.0 * t as f64, 300.0);
    let (mut players, mut balls) = (String::new(), String::new());
    for t in 0..80 {
        players.push_str(&format!("{},-1,900,500,20,50,0.9,-1,-1,-1\n", t + 1));
        if !(20..=25).contains(&t) && !(40..=59).contains(&t) {
            let (x, y) = truth(t);
            balls.push_str(&format!("{},-1,{:.2},{:.2},6,6,0.7,-1,-1,-1\n", t + 1, x - 3.0, y - 3.0));
        }
    }
    std::fs::write(dir.path().join("players.txt"), players).unwrap();
    std::fs::write(dir.path().join("ball.txt"), balls).unwrap();
    for method in ["kalman", "particle_filter"] {
        let json = format!(
            r#"{{"stage_configs": {{"ball_tracking": {{"tracking_method": "{method}", "min_ball_radius": 1,
                "max_ball_radius": 10, "max_missing_frames": 10}}}}}}"#
        );
        let mut config = PipelineConfig::from_json(&json).unwrap();
        config.detections_path = Some(dir.path().join("players.txt"));
        config.ball_detections_path = Some(dir.path().join("ball.txt"));
        config.fps = Some(25.0);
        config.frame_size = Some([1280, 720]);
        let report = Pipeline::from_config(&config).unwrap().run().unwrap();
        let at: BTreeMap<u64, &footml::report::BallFrame> = report.ball.iter().map(|b| (b.frame, b)).collect();
        for t in 2..80usize {
            let b = at.get(&(t as u64));
            let (x, y) = truth(t);
            let expect = match t {
                20..=25 => Some((BallState::Occluded, true)),
                40..=49 => Some((BallState::Occluded, false)),
                50..=59 => None,
                60 | 61 => continue, // found again from a pair of candidates
                _ => Some((BallState::Tracked, false)),
            };
            assert_eq!(b.map(|b| (b.state, b.interpolated)), expect, "{method} frame {t}");
            if let Some(b) = b.filter(|b| !(40..=61).contains(&t) || b.interpolated) {
                let e = (b.x as f64 - x).hypot(b.y as f64 - y);
                assert!(e < 1.0, "{method} frame {t}: {e} px off");
            }
        }
        assert!(at.get(&62).is_some_and(|b| b.state == BallState::Tracked), "{method}: found again");
    }
}
