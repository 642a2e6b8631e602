//! Classical ball candidates through the whole engine: a video (encoded by the ffmpeg CLI,
//! so with real H.264 and 4:2:0 chroma loss) of a ball rolling over striped grass past
//! lines and a penalty spot, decoded, detected, tracked and smoothed by the standard
//! pipeline, and compared with the positions it was drawn at.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use footml::{BallState, Pipeline, PipelineConfig};

const W: usize = 640;
const H: usize = 360;
const FRAMES: usize = 30;

/// Where the ball is drawn in frame `t` (centre, pixels): rolling right and down, slowing.
fn ball_at(t: usize) -> (f64, f64) {
    let t = t as f64;
    (80.0 + 14.0 * t - 0.1 * t * t, 90.0 + 6.0 * t)
}

/// Frame `t`: grass stripes, a touchline, the halfway line, a penalty spot (radius 3, below
/// the minimum ball radius) and the ball (radius 7), drawn with anti-aliased edges.
fn render(t: usize) -> Vec<u8> {
    let (bx, by) = ball_at(t);
    let mut rgb = vec![0u8; W * H * 3];
    for y in 0..H {
        for x in 0..W {
            let grass: [f64; 3] = if (x / 80) % 2 == 0 { [58.0, 128.0, 54.0] } else { [70.0, 145.0, 62.0] };
            let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
            let line = (40..44).contains(&y) || ((318..323).contains(&x) && y >= 44);
            let mut c = if line { [235.0; 3] } else { grass };
            // Coverage of the pixel by a disc, from the distance of its centre to the rim.
            let cover = |cx: f64, cy: f64, r: f64| (r + 0.5 - (px - cx).hypot(py - cy)).clamp(0.0, 1.0);
            for (a, col) in [(cover(500.5, 250.5, 3.0), [235.0; 3]), (cover(bx, by, 7.0), [240.0, 240.0, 235.0])] {
                for k in 0..3 {
                    c[k] = c[k] * (1.0 - a) + col[k] * a;
                }
            }
            rgb[(y * W + x) * 3..(y * W + x) * 3 + 3].copy_from_slice(&c.map(|v| v.round() as u8));
        }
    }
    rgb
}

fn encode(dir: &Path) -> PathBuf {
    let path = dir.join("ball.mp4");
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &format!("{W}x{H}")])
        .args(["-r", "25", "-i", "-", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p"])
        .arg(&path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("ffmpeg CLI (installed by scripts/setup.sh)");
    let mut stdin = child.stdin.take().unwrap();
    for t in 0..FRAMES {
        stdin.write_all(&render(t)).unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    path
}

#[test]
fn rolling_ball_is_found_and_tracked_in_a_video() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = PipelineConfig {
        video_path: Some(encode(dir.path())),
        checkpoint_enabled: false,
        batch_size: 4,
        ..Default::default()
    };
    config.stage_configs.ball_tracking.max_ball_radius = 15.0;
    let pipeline = Pipeline::from_config(&config).unwrap();
    assert_eq!(
        pipeline.stage_names(),
        vec!["video_decoding", "ball_detection", "ball_tracking", "ball_smoothing"],
        "no player model: classical ball candidates, then the ball tracker"
    );
    let report = pipeline.run().unwrap();
    assert_eq!(report.ball.len(), FRAMES, "{:?}", report.ball);
    let (mut worst, mut worst_bridged, mut bridged): (f64, f64, usize) = (0.0, 0.0, 0);
    for b in &report.ball {
        let (x, y) = ball_at(b.frame as usize);
        let e = (b.x as f64 - x).hypot(b.y as f64 - y);
        // A ball touching a line (the halfway line spans x 318..323) joins it into one long
        // blob that is rejected as a line: those frames are bridged by the tracker and
        // interpolated by the smoother.
        let on_line = x + 7.5 >= 318.0 && x - 7.5 <= 323.0;
        if on_line {
            assert!(b.state == BallState::Tracked || b.interpolated, "{b:?}");
            bridged += usize::from(b.interpolated);
            worst_bridged = worst_bridged.max(e);
        } else {
            assert_eq!(b.state, BallState::Tracked, "{b:?}");
            worst = worst.max(e);
        }
    }
    eprintln!(
        "classical ball on H.264 video: worst error {worst:.3} px where seen, {worst_bridged:.3} px over {bridged} \
         interpolated frames on the line"
    );
    assert!(worst < 0.5, "worst error {worst} px");
    assert!(worst_bridged < 1.5, "worst error {worst_bridged} px on interpolated frames");
}

// ---------------------------------------------------------------------------------------------
// The rendered sample match (`footml render`): real SkillCorner positions, broadcast camera.
// ---------------------------------------------------------------------------------------------

use std::collections::BTreeMap;

use footml::config::{BallDetectionConfig, BallTrackingConfig, VideoDecodingConfig};
use footml::sim::{RenderConfig, render as render_match};
use footml::stages::ball_detection::{BallCandidate, BallDetector};
use footml::stages::ball_tracking::{BallSmoothing, BallTracker};
use footml::stages::video_decoding::VideoSource;
use footml::{BBox, FrameSource};

use crate::common::{BallGt, fixture, read_ball_gt, to_pitch};

/// The renderer's person boxes (`gt.txt`) by frame from 0: a perfect player detector.
fn read_people(path: &Path) -> BTreeMap<u64, Vec<BBox>> {
    let mut m: BTreeMap<u64, Vec<BBox>> = BTreeMap::new();
    for l in std::fs::read_to_string(path).unwrap().lines().filter(|l| !l.trim().is_empty()) {
        let v: Vec<f32> = l.split(',').map(|x| x.trim().parse().unwrap()).collect();
        m.entry(v[0] as u64 - 1).or_default().push(BBox::new(v[2], v[3], v[4], v[5]));
    }
    m
}

/// Per-frame image → pitch homographies of the renderer, applied here rather than by footml.
fn read_homographies(path: &Path) -> Vec<[[f64; 3]; 3]> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| serde_json::from_value(f["image_to_pitch"].clone()).unwrap())
        .collect()
}

struct BallScores {
    gt_frames: usize,
    /// Share of ground-truth frames with a candidate within the tolerance.
    recall: f64,
    /// Share of ground-truth frames whose best candidate is within the tolerance.
    top1: f64,
    /// Share of candidates within the tolerance of the ball.
    precision: f64,
    candidates_per_frame: f64,
    /// Ground-truth frames where the smoothed track has a position.
    coverage: f64,
    /// Pixel error of the smoothed track: mean, median, share within 3 px.
    mean_px: f64,
    median_px: f64,
    within_3px: f64,
    /// Metre error (ball on the ground, below 0.5 m): mean and share within 1 m.
    mean_m: f64,
    within_1m: f64,
}

/// What one detector + tracker pair has seen of a clip.
#[derive(Default)]
struct Run {
    hit: usize,
    top: usize,
    good: usize,
    all: usize,
    balls: Vec<Option<footml::BallObservation>>,
}

/// Candidates of every frame of the rendered clip in `dir`, without and with the renderer's
/// person boxes (a perfect player detector), then the ball tracker and smoother on them,
/// scored against the renderer's ground truth (`tol` px for a candidate to be the ball).
/// Returns the scores without and with people.
fn score_rendered(dir: &Path, ball: &BallTrackingConfig, tol: f64) -> [BallScores; 2] {
    let gt = read_ball_gt(&dir.join("ball_gt.txt"));
    let people = read_people(&dir.join("gt.txt"));
    let hs = read_homographies(&dir.join("homography.json"));
    let mut src = VideoSource::open(&dir.join("video.mp4"), &VideoDecodingConfig::default(), None).unwrap();
    let mut det = BallDetector::new(ball, &BallDetectionConfig::default()).unwrap();
    let mut trackers = [BallTracker::new(ball).unwrap(), BallTracker::new(ball).unwrap()];
    let mut runs = [Run::default(), Run::default()];
    let near = |c: &BallCandidate, g: &BallGt| (c.x as f64 - g.px[0]).hypot(c.y as f64 - g.px[1]) <= tol;
    let mut frames = 0;
    while let Some(item) = src.next_frame().unwrap() {
        let f = item.record.index;
        frames += 1;
        for (k, (run, tracker)) in runs.iter_mut().zip(&mut trackers).enumerate() {
            let boxes = if k == 1 { people.get(&f).map(Vec::as_slice).unwrap_or_default() } else { &[] };
            let cs = det.detect(item.image.as_ref().unwrap(), boxes);
            run.all += cs.len();
            if let Some(g) = gt.get(&f) {
                run.hit += usize::from(cs.iter().any(|c| near(c, g)));
                run.top += usize::from(cs.first().is_some_and(|c| near(c, g)));
                run.good += cs.iter().filter(|c| near(c, g)).count();
            }
            let dets: Vec<footml::Detection> = cs.iter().map(BallCandidate::detection).collect();
            run.balls.push(tracker.update(&dets));
        }
    }
    runs.map(|mut run| {
        BallSmoothing::new().smooth(&mut run.balls);
        let (mut px, mut m, mut within_m) = (Vec::new(), Vec::new(), 0);
        for (f, b) in run.balls.iter().enumerate() {
            let (Some(b), Some(g)) = (b.filter(|b| b.has_position()), gt.get(&(f as u64))) else { continue };
            px.push((b.x as f64 - g.px[0]).hypot(b.y as f64 - g.px[1]));
            // Metres only for a ball on the ground: the homography maps onto the pitch plane.
            if g.z < 0.5 {
                let p = to_pitch(&hs[f], b.x as f64, b.y as f64);
                let e = (p[0] - g.m[0]).hypot(p[1] - g.m[1]);
                m.push(e);
                within_m += usize::from(e <= 1.0);
            }
        }
        px.sort_by(f64::total_cmp);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let n = gt.len().max(1) as f64;
        BallScores {
            gt_frames: gt.len(),
            recall: run.hit as f64 / n,
            top1: run.top as f64 / n,
            precision: run.good as f64 / run.all.max(1) as f64,
            candidates_per_frame: run.all as f64 / frames.max(1) as f64,
            coverage: px.len() as f64 / n,
            mean_px: mean(&px),
            median_px: px.get(px.len() / 2).copied().unwrap_or(f64::NAN),
            within_3px: px.iter().filter(|&&e| e <= 3.0).count() as f64 / px.len().max(1) as f64,
            mean_m: mean(&m),
            within_1m: within_m as f64 / m.len().max(1) as f64,
        }
    })
}

/// The renderer's 1920×1080 broadcast camera shows the ball 4–7 px in radius.
fn rendered_ball_config() -> BallTrackingConfig {
    BallTrackingConfig { min_ball_radius: 3.0, max_ball_radius: 12.0, ..Default::default() }
}

fn print_scores(what: &str, s: &BallScores) {
    eprintln!(
        "{what}: {} gt frames; candidates: recall {:.3}, top-1 {:.3}, precision {:.3}, {:.2}/frame; track: \
         coverage {:.3}, mean {:.2} px, median {:.2} px, within 3 px {:.3}, mean {:.2} m, within 1 m {:.3}",
        s.gt_frames,
        s.recall,
        s.top1,
        s.precision,
        s.candidates_per_frame,
        s.coverage,
        s.mean_px,
        s.median_px,
        s.within_3px,
        s.mean_m,
        s.within_1m
    );
}

/// Measurement on a longer clip (release build): `FOOTML_RENDER_DIR=DIR` names a clip rendered
/// by `footml render` into DIR. Numbers in benches/README.md.
#[test]
#[ignore]
fn measure_classical_ball_on_rendered_match() {
    let dir = PathBuf::from(std::env::var("FOOTML_RENDER_DIR").expect("FOOTML_RENDER_DIR"));
    let [alone, known] = score_rendered(&dir, &rendered_ball_config(), 3.0);
    print_scores(&format!("{}, people unknown", dir.display()), &alone);
    print_scores(&format!("{}, people known", dir.display()), &known);
}

/// 40 frames of the rendered match at 960×540 (the ball, 3.5–5 px in radius, rolls from a
/// player's feet across the pitch; hidden behind him in the first two frames).
///
/// Measured (candidates within 2 px of the ball):
///
/// | people | candidate recall | top-1 | precision | per frame | track coverage | mean px | within 3 px | mean m | within 1 m |
/// |---|---|---|---|---|---|---|---|---|---|
/// | unknown | 0.950 | 0.875 | 0.230 | 4.1 | 0.925 | 0.41 | 1.000 | 0.15 | 1.000 |
/// | known (renderer's boxes) | 0.950 | 0.950 | 0.884 | 1.07 | 0.925 | 0.41 | 1.000 | 0.15 | 1.000 |
///
/// Without player boxes, heads, shorts and socks are candidates too; the single-hypothesis
/// tracker of main at 4ca803c followed one of them while the ball was hidden at the start and
/// never let go. The multi-hypothesis tracker switches to the ball once it is consistently the
/// better track, so the track is asserted without boxes too. The thresholds sit a little below
/// the measurements.
#[test]
fn classical_ball_on_rendered_match() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = RenderConfig { size: [960, 540], ..RenderConfig::new(fixture("tracking.csv"), dir.path()) }.frames(40);
    render_match(&cfg).unwrap();
    let ball = BallTrackingConfig { min_ball_radius: 1.5, max_ball_radius: 6.0, ..Default::default() };
    let [alone, known] = score_rendered(dir.path(), &ball, 2.0);
    print_scores("rendered match 960x540, people unknown", &alone);
    print_scores("rendered match 960x540, people known", &known);
    assert!(alone.recall >= 0.85 && alone.precision >= 0.18, "people unknown: candidates");
    assert!(alone.coverage >= 0.85 && alone.mean_px <= 0.6 && alone.within_3px >= 0.95, "people unknown: track (px)");
    assert!(alone.mean_m <= 0.25 && alone.within_1m >= 0.97, "people unknown: track (m)");
    assert!(known.recall >= 0.85 && known.top1 >= 0.85 && known.precision >= 0.8, "people known: candidates");
    assert!(known.coverage >= 0.85 && known.mean_px <= 0.6 && known.within_3px >= 0.95, "people known: track (px)");
    assert!(known.mean_m <= 0.25 && known.within_1m >= 0.97, "people known: track (m)");
}

/// The ball track of the standard pipeline (video → classical candidates → tracker → smoother,
/// with the clip's homography, no player model) against the renderer's ground truth: for each
/// frame with a position and a ground-truth ball, the frame, the pixel error and, for a ball on
/// the ground, the metre error through the renderer's homography. Also the number of
/// ground-truth frames.
fn pipeline_ball_errors(
    dir: &Path,
    method: footml::config::BallTrackingMethod,
) -> (Vec<(u64, f64, Option<f64>)>, usize) {
    let mut config = PipelineConfig {
        video_path: Some(dir.join("video.mp4")),
        homography_path: Some(dir.join("homography.json")),
        checkpoint_enabled: false,
        batch_size: 4,
        ..Default::default()
    };
    config.stage_configs.ball_tracking = BallTrackingConfig {
        tracking_method: method,
        min_ball_radius: 1.5,
        max_ball_radius: 6.0,
        ..Default::default()
    };
    let report = Pipeline::from_config(&config).unwrap().run().unwrap();
    let gt = read_ball_gt(&dir.join("ball_gt.txt"));
    let hs = read_homographies(&dir.join("homography.json"));
    let errors = report
        .ball
        .iter()
        .filter_map(|b| {
            let g = gt.get(&b.frame)?;
            let px = (b.x as f64 - g.px[0]).hypot(b.y as f64 - g.px[1]);
            let m = (g.z < 0.5).then(|| {
                let p = to_pitch(&hs[b.frame as usize], b.x as f64, b.y as f64);
                (p[0] - g.m[0]).hypot(p[1] - g.m[1])
            });
            Some((b.frame, px, m))
        })
        .collect();
    (errors, gt.len())
}

/// 60 frames of the rendered match at 960×540 (tracking frames 56–115) with the clip's
/// homography and no player model, so heads, socks and far marks are candidates too. A player
/// dribbles the ball (hidden, or a blob joined to his boots) until frame 42, then passes it.
/// The tracker of main at 4ca803c followed a far player from the start and never let go (0 of 60
/// frames within 1 m). Measured now: frames 14–37 follow a far player while the ball is hidden
/// (nothing tells a sock from a ball without player boxes; reporting no ball would be better),
/// then the ball from frame 44 on, 0.19 px from the truth:
///
/// | method | frames with a position | within 1 m | frames 44–59 within 1 m | their mean px |
/// |---|---|---|---|---|
/// | kalman | 45 / 60 | 16 | 16 / 16 | 0.21 |
/// | particle_filter | 48 / 60 | 19 | 16 / 16 | 0.19 |
///
/// (With the figures before their tapered torso and wider limbs: kalman 40 / 16, particle
/// filter 32 / 16, the same 16 of 16 at the end; the far player's wider socks are followed for
/// a few frames more.) The thresholds sit a little below the measurements.
#[test]
fn ball_track_recovers_after_a_dribble_on_rendered_match() {
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        RenderConfig { size: [960, 540], start_frame: 56, ..RenderConfig::new(fixture("tracking.csv"), dir.path()) }
            .frames(60);
    render_match(&cfg).unwrap();
    for method in [footml::config::BallTrackingMethod::Kalman, footml::config::BallTrackingMethod::ParticleFilter] {
        let (errors, gt_frames) = pipeline_ball_errors(dir.path(), method);
        let within = |e: &[&(u64, f64, Option<f64>)]| e.iter().filter(|e| e.2.is_some_and(|m| m <= 1.0)).count();
        let all: Vec<_> = errors.iter().collect();
        let late: Vec<_> = errors.iter().filter(|e| e.0 >= 44).collect();
        let late_px = late.iter().map(|e| e.1).sum::<f64>() / late.len().max(1) as f64;
        eprintln!(
            "rendered dribble 960x540, {method:?}: {} of {gt_frames} frames with a position, {} within 1 m; \
             frames 44-59: {} with a position, {} within 1 m, mean {late_px:.2} px",
            all.len(),
            within(&all),
            late.len(),
            within(&late)
        );
        assert!(late.len() == 16 && within(&late) == 16 && late_px < 0.6, "{method:?}: the ball once free");
        // The far player followed while the ball is hidden: no more frames than measured.
        assert!(
            all.len() - within(&all) <= 32,
            "{method:?}: {} positions off by more than 1 m",
            all.len() - within(&all)
        );
    }
}

/// scripts/score_ball.py (the measurement script's scorer) on a hand-built clip and report, with
/// the values worked out by hand; malformed input is a one-line error with a non-zero exit.
#[test]
fn score_ball_script_scores_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path();
    // Ten pixels per metre: pitch = pixel / 10.
    let h = serde_json::json!({"frames": (1..=6).map(|f| serde_json::json!(
        {"frame": f, "image_to_pitch": [[0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 1.0]]})).collect::<Vec<_>>()});
    std::fs::write(clip.join("homography.json"), h.to_string()).unwrap();
    // Frames 1 and 2 on the ground, frame 3 in the air (z = 2 m).
    std::fs::write(clip.join("ball_gt.txt"), "1,100,200,10,20,0,5\n2,110,200,11,20,0.11,5\n3,120,200,12,20,2,5\n")
        .unwrap();
    let ball = |frame: u64, x: f64, y: f64, state: &str| serde_json::json!({"frame": frame, "x": x, "y": y, "pitch": null, "state": state, "interpolated": false});
    // Frame 0: 5 px and 0.5 m off; frame 1: 20 px and 2 m off; frame 2: no ball; frame 5: a
    // ball where the truth has none.
    let report = serde_json::json!({"ball": [ball(0, 103.0, 204.0, "tracked"), ball(1, 110.0, 220.0, "occluded"),
                                            ball(5, 1.0, 1.0, "tracked")]});
    std::fs::write(clip.join("report.json"), report.to_string()).unwrap();
    let run = |report: &Path, clip: &Path| {
        Command::new(crate::common::python())
            .arg(crate::common::root().join("scripts/score_ball.py"))
            .args([report, clip])
            .output()
            .expect("run scripts/score_ball.py")
    };
    let out = run(&clip.join("report.json"), clip);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = |k: &str| s[k].as_f64().unwrap_or_else(|| panic!("{k} in {s}"));
    assert_eq!(f("gt_frames"), 3.0);
    assert!((f("coverage") - 2.0 / 3.0).abs() < 1e-12 && (f("tracked") - 1.0 / 3.0).abs() < 1e-12, "{s}");
    assert!((f("mean_px") - 12.5).abs() < 1e-9 && (f("median_px") - 12.5).abs() < 1e-9, "{s}");
    assert!(f("ground_frames") == 2.0 && (f("mean_m") - 1.25).abs() < 1e-9, "{s}");
    assert!(f("within_1m") == 0.5 && f("within_1m_all") == 0.5 && f("extra_frames") == 1.0, "{s}");
    // A clip without ground truth, a malformed line, a file that is not a report.
    let out = run(&clip.join("report.json"), &dir.path().join("nowhere"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2) && err.starts_with("score_ball.py: cannot read") && err.lines().count() == 1,
        "{err}"
    );
    std::fs::write(clip.join("ball_gt.txt"), "1,100,oops\n").unwrap();
    let err = String::from_utf8_lossy(&run(&clip.join("report.json"), clip).stderr).to_string();
    assert!(err.contains("ball_gt.txt:1: expected frame,x_px"), "{err}");
    let err = String::from_utf8_lossy(&run(&clip.join("homography.json"), clip).stderr).to_string();
    assert!(err.contains("expected a footml report.json"), "{err}");
}
