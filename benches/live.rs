//! Live session latency beyond inference: what a push costs on top of the stages' own work.
//!
//! * `tracker_direct`: the player tracker alone on the calling thread, one frame at a time
//!   (the stage work a live push cannot avoid).
//! * `push_detections`: the same frames pushed into a tracking-only live session
//!   (`LiveFrame::Detections`): conversion, channel hops to the source, tracker and
//!   collector threads, the result back. The difference per frame is the live overhead.
//! * `push_rgb_720p` / `push_yuv420_720p`: 1280×720 pixel pushes into a session without
//!   stages: buffer checks, conversion to the engine's RGB frame (a row copy; swscale for
//!   YUV) and the hops.
//! * `possession_live`: [`LivePossession::push`] on each frame's tracks and ball (what a
//!   calibrated live session adds to a push), against `possession_whole_match`: the event
//!   detection stage on the whole match once (per frame of it).
//! * `teams_live`: [`LiveTeams::push`] (provisional teams: what a pixels session with kit
//!   colours adds to a push, refits included) on the fixture's ground-truth boxes with a kit
//!   sample per box (the team's colour by `meta.json`, plus noise; the colours do not change
//!   the work), against `teams_whole_match`: the team classification stage on the whole match
//!   once (per frame of it). The live assignment is checked against the ground truth first,
//!   so the bench cannot time a broken path.
//!
//! SkillCorner fixture detections (1000 frames, ~15 players per frame). Before criterion
//! runs, per-push p50/p99 latencies are printed. Results: benches/README.md.
//!
//! ```text
//! cargo bench -p footml-core --bench live
//! ```

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use footml::live::{LiveFrame, LiveInput, LiveSession, LiveSpec, PackedFormat, YuvColor};
use footml::stages::detections_file::DetectionsFileSource;
use footml::stages::events::{EventDetection, LivePossession};
use footml::stages::player_tracking::PlayerTracker;
use footml::stages::teams::{LiveTeams, TeamClassification};
use footml::{FrameBatch, FrameItem, FrameRecord, FrameSource, Pipeline, StageContext, StreamStage, VideoInfo};

fn fixture_frames() -> Vec<FrameRecord> {
    let det = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/skillcorner/det.txt");
    let mut src = DetectionsFileSource::open(&det, None, 25.0, [1920, 1080]).expect("fixture");
    std::iter::from_fn(|| src.next_frame().expect("fixture frame")).map(|i| i.record).collect()
}

/// The fixture's frames with tracks, ball and homography, as a calibrated live session
/// returns them.
fn tracked_frames() -> Vec<FrameRecord> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/skillcorner");
    let mut src =
        DetectionsFileSource::open(&root.join("det.txt"), Some(&root.join("ball_det.txt")), 25.0, [1920, 1080])
            .expect("fixture");
    let config = serde_json::json!({"fps": 25, "frame_size": [1920, 1080],
        "homography_path": root.join("homography.json"),
        "live": {"input": "detections", "ball_candidates": true},
        "stage_configs": {"ball_tracking": {"min_ball_radius": 0.5, "max_ball_radius": 10}}});
    let mut session =
        LiveSession::from_config(&footml::PipelineConfig::from_json(&config.to_string()).expect("config"))
            .expect("session");
    let frames = std::iter::from_fn(|| src.next_frame().expect("fixture frame"))
        .map(|i| {
            let r = i.record;
            let frame = LiveFrame::Detections {
                players: r.players.as_deref().unwrap_or(&[]),
                ball_candidates: r.ball_candidates.as_deref(),
                player_teams: None,
                timestamp_s: r.time_s,
            };
            session.push(frame).expect("push").record
        })
        .collect();
    session.finish().expect("finish");
    frames
}

/// The fixture's ground-truth boxes as tracks, with its homography and a kit sample per box:
/// home red, away yellow, goalkeepers purple and grey, the referee black (CIELAB), ±3 noise.
/// Also each id's ground-truth team.
fn kit_frames() -> (Vec<FrameRecord>, std::collections::BTreeMap<u64, String>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/skillcorner");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("meta.json")).expect("meta.json")).expect("meta");
    let h: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("homography.json")).expect("homography")).expect("json");
    let homography: [[f64; 3]; 3] = serde_json::from_value(h["image_to_pitch"].clone()).expect("matrix");
    let mut teams = std::collections::BTreeMap::new();
    let mut kit_of = std::collections::BTreeMap::new();
    for (id, v) in meta["ids"].as_object().expect("ids") {
        let id: u64 = id.parse().expect("id");
        let (team, role) = (v["team"].as_str().unwrap_or("none"), v["role"].as_str().unwrap_or(""));
        let lab = match (team, role) {
            (_, "referee") | ("none", _) => [12.0, 0.0, 0.0],
            ("home", "goalkeeper") => [40.0, 45.0, -55.0],
            (_, "goalkeeper") => [55.0, 0.0, -10.0],
            ("home", _) => [45.0, 65.0, 45.0],
            _ => [85.0, 0.0, 80.0],
        };
        teams.insert(id, team.to_string());
        kit_of.insert(id, lab);
    }
    let mut rng = footml::vision::particle::SplitMix64(11);
    let mut frames: Vec<FrameRecord> = (0..1000)
        .map(|i| FrameRecord {
            index: i,
            time_s: i as f64 / 25.0,
            tracks: Some(Vec::new()),
            kit: Some(Vec::new()),
            homography: Some(homography),
            ..Default::default()
        })
        .collect();
    for line in std::fs::read_to_string(root.join("gt.txt")).expect("gt.txt").lines() {
        let c: Vec<f32> = line.split(',').map(|v| v.trim().parse().expect("number")).collect();
        let (f, id) = (c[0] as usize - 1, c[1] as u64);
        let bbox = footml::BBox::new(c[2], c[3], c[4], c[5]);
        frames[f].tracks.as_mut().expect("tracks").push(footml::TrackedBox { track_id: id, bbox, score: 1.0 });
        let lab: [f32; 3] = kit_of[&id].map(|v: f32| v + (rng.uniform() as f32 - 0.5) * 6.0);
        frames[f].kit.as_mut().expect("kit").push(footml::types::KitSample { track_id: id, lab, pixels: 100 });
    }
    (frames, teams)
}

fn tracking_session() -> LiveSession {
    let builder = Pipeline::builder().stream_stage(PlayerTracker::new(&Default::default()).expect("tracker"));
    let spec = LiveSpec {
        fps: 25.0,
        frame_size: [1920, 1080],
        input: LiveInput::Detections { ball_candidates: false, user_teams: false },
    };
    LiveSession::start(builder, spec).expect("session")
}

fn pixel_session() -> LiveSession {
    let spec = LiveSpec { fps: 25.0, frame_size: [1280, 720], input: LiveInput::Pixels };
    LiveSession::start(Pipeline::builder(), spec).expect("session")
}

fn push_all(session: &mut LiveSession, frames: &[FrameRecord]) -> Vec<Duration> {
    frames
        .iter()
        .map(|r| {
            let t = Instant::now();
            let res = session
                .push(LiveFrame::Detections {
                    players: r.players.as_deref().unwrap_or(&[]),
                    ball_candidates: None,
                    player_teams: None,
                    timestamp_s: r.time_s,
                })
                .expect("push");
            black_box(res);
            t.elapsed()
        })
        .collect()
}

fn percentiles(mut d: Vec<Duration>) -> String {
    d.sort();
    let p = |q: f64| d[((d.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6;
    format!("p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs", p(0.5), p(0.99), p(1.0))
}

/// A flat 1280×720 frame as packed RGB and as YUV 4:2:0.
struct Pixels {
    rgb: Vec<u8>,
    y: Vec<u8>,
    uv: Vec<u8>,
}

impl Pixels {
    fn frame(&self, rgb: bool, i: usize) -> LiveFrame<'_> {
        let timestamp_s = i as f64 / 25.0;
        if rgb {
            LiveFrame::Packed {
                format: PackedFormat::Rgb24,
                width: 1280,
                height: 720,
                stride: 1280 * 3,
                data: &self.rgb,
                timestamp_s,
            }
        } else {
            LiveFrame::Yuv420p {
                width: 1280,
                height: 720,
                planes: [&self.y, &self.uv, &self.uv],
                strides: [1280, 640, 640],
                color: YuvColor::default(),
                timestamp_s,
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let frames = fixture_frames();
    let n = frames.len() as u64;
    let info = VideoInfo { fps: 25.0, width: 1920, height: 1080, ..Default::default() };

    let mut session = tracking_session();
    let lat = push_all(&mut session, &frames);
    session.finish().expect("finish");
    eprintln!("push_detections (tracker pipeline), per push: {}", percentiles(lat));
    let pixels = Pixels { rgb: vec![90u8; 1280 * 720 * 3], y: vec![120u8; 1280 * 720], uv: vec![128u8; 640 * 360] };
    let kinds = [("push_rgb_720p", true), ("push_yuv420_720p", false)];
    for (name, rgb) in kinds {
        let mut s = pixel_session();
        let lat: Vec<Duration> = (0..200)
            .map(|i| {
                let t = Instant::now();
                black_box(s.push(pixels.frame(rgb, i)).expect("push"));
                t.elapsed()
            })
            .collect();
        s.finish().expect("finish");
        eprintln!("{name}, per push: {}", percentiles(lat));
    }

    let tracked = tracked_frames();
    let cfg = Default::default();
    let mut live = LivePossession::new(&cfg, 25.0, None).expect("possession");
    let lat: Vec<Duration> = tracked
        .iter()
        .map(|r| {
            let t = Instant::now();
            black_box(live.push(r));
            t.elapsed()
        })
        .collect();
    eprintln!("possession_live, per push: {}", percentiles(lat));

    let (kits, gt_teams) = kit_frames();
    let (tc, live_cfg) = (Default::default(), Default::default());
    let mut live = LiveTeams::new(&tc, &live_cfg).expect("live teams");
    // Per push, and a check that the provisional teams are the ground truth's.
    let mut names: [Option<String>; 2] = [None, None];
    let lat: Vec<Duration> = kits
        .iter()
        .map(|r| {
            let t = Instant::now();
            black_box(live.push(r));
            let d = t.elapsed();
            for tt in &live.assignment().tracks {
                if let Some(k) = tt.team {
                    let name = names[k as usize].get_or_insert_with(|| gt_teams[&tt.track_id].clone());
                    assert_eq!(*name, gt_teams[&tt.track_id], "frame {}: track {}", r.index, tt.track_id);
                }
            }
            d
        })
        .collect();
    assert!(live.warmed_up_at().is_some() && names[0] != names[1], "{names:?}");
    eprintln!(
        "teams_live, per push: {} (warm-up {:?} frames, held at the end {:?} tracks/samples)",
        percentiles(lat),
        live.warmed_up_at(),
        live.held()
    );

    let mut g = c.benchmark_group("live");
    g.throughput(Throughput::Elements(kits.len() as u64));
    g.bench_function("teams_live", |b| {
        b.iter(|| {
            let mut live = LiveTeams::new(&tc, &live_cfg).expect("live teams");
            for r in &kits {
                black_box(live.push(r));
            }
        })
    });
    let whole_kits = footml::MatchData {
        video: VideoInfo { fps: 25.0, ..Default::default() },
        frames: kits.clone(),
        ..Default::default()
    };
    let stage = TeamClassification::new(&tc).expect("stage");
    g.bench_function("teams_whole_match", |b| b.iter(|| black_box(stage.classify(&whole_kits))));
    g.throughput(Throughput::Elements(tracked.len() as u64));
    g.bench_function("possession_live", |b| {
        b.iter(|| {
            let mut live = LivePossession::new(&cfg, 25.0, None).expect("possession");
            for r in &tracked {
                black_box(live.push(r));
            }
        })
    });
    let whole = footml::MatchData {
        video: VideoInfo { fps: 25.0, ..Default::default() },
        frames: tracked.clone(),
        ..Default::default()
    };
    let stage = EventDetection::new(&cfg).expect("stage");
    g.bench_function("possession_whole_match", |b| b.iter(|| black_box(stage.detect(&whole).expect("detect"))));
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("tracker_direct", |b| {
        b.iter(|| {
            let mut tracker = PlayerTracker::new(&Default::default()).expect("tracker");
            let ctx = StageContext::standalone("player_tracking", info.clone());
            for r in &frames {
                let mut batch = FrameBatch::default();
                batch.items.push(FrameItem::new(r.clone(), None));
                tracker.process(&mut batch, &ctx).expect("track");
                black_box(&batch);
            }
        })
    });
    g.bench_function("push_detections", |b| {
        b.iter(|| {
            let mut s = tracking_session();
            black_box(push_all(&mut s, &frames));
            s.finish().expect("finish")
        })
    });
    g.throughput(Throughput::Elements(50));
    for (name, rgb) in kinds {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut s = pixel_session();
                for i in 0..50 {
                    black_box(s.push(pixels.frame(rgb, i)).expect("push"));
                }
                s.finish().expect("finish")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
