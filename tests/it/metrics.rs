//! Distance covered on real match data: the SkillCorner fixture's player positions, pushed
//! through its camera (ground-truth boxes) and through simulated detection noise + tracking
//! (det.txt), against the clean distance computed here from the ground truth with code that
//! shares nothing with the metrics stage.
//!
//! Clean distance of a ground-truth id: the feet point (bottom centre) of each gt.txt box
//! through the fixture's homography, summed step lengths between consecutive frames (25 fps;
//! the fixture linearly interpolates SkillCorner's 10 fps samples, so this is the length of
//! the 10 fps polyline up to corner cutting); gaps up to the stage's `max_gap_frames` (12)
//! are bridged by a straight line, longer ones are not counted (as the stage does).
//!
//! SkillCorner's own data teleports a few times (ids 6, 13, 18: 8–31 m within 1–8 frames where
//! its broadcast tracking lost a player); steps faster than 12 m/s are not running and are left
//! out of the clean distance, as the stage leaves them out.
//!
//! Measured with the default metrics settings (accel_std 16 m/s², feet noise 0.03 box heights):
//! - ground-truth boxes through the stage: mean |error| 3.36 % over 22 ids (the smoother cuts a
//!   little off the corners of SkillCorner's 10 fps polyline; always an underestimate);
//! - det.txt → tracker → stage (the stage measures each track on the raw detection it was
//!   updated with, not on the tracker's filtered box), per track against the clean path of the
//!   people it actually followed (each frame's box matched to a gt id, IoU ≥ 0.5; steps across
//!   an identity switch left out of the clean path), 37 tracks following ≥ 10 m: mean |error|
//!   **2.70 %** (target 3 %: met). Almost all are slight underestimates, as on the ground truth.
//! - the same run summed per gt id (15 ids covered ≥ 80 % of their frames): 5.94 % against the
//!   clean distance over the tracked spans. This figure mixes in the tracker's identity switches:
//!   ids 4, 8 and 9 (+21 %, +15 %, +50 %) are tracks that also followed another player for
//!   part of their life (e.g. track 42: 44 frames on id 5, then 204 on id 9), so the other
//!   player's running is counted for them. That is a tracking error, measured by IDF1 in the
//!   tracking tests; it is kept here as a looser regression bound.
//!
//! Tuning with the tracker's filtered boxes (mean |error| gt boxes / det vs spans): accel 2 m/s² + noise 0.03: 7.5 % / 8.6 %;
//! 8 + 0.03: 4.8 % / 6.9 %; 16 + 0.03: 3.4 % / 6.0 %; 16 + 0.047: 4.3 % / 6.4 %; 30 + 0.03:
//! 2.3 % / 7.5 %; 60 + 0.03: 1.5 % / 12.7 %. The thresholds sit just above the measurements so
//! that a regression fails. With raw detections, per track vs followed path: 16 + 0.03: 2.70 %;
//! 16 + 0.047: 3.79 %; 24 + 0.047: 2.68 %; 30 + 0.047: 2.21 % (but a standing player's 0.3 m
//! jitter then keeps 5 % of its raw length, against 2 % at the default).

use std::collections::BTreeMap;

use footml::config::MetricsConfig;
use footml::stages::metrics::PhysicalMetrics;
use footml::{BBox, FrameRecord, MatchData, MatchStage, Pipeline, PipelineConfig, StageContext, VideoInfo};

use crate::common::{fixture, fixture_homography, to_pitch};

const MAX_GAP: u64 = 12;
const MAX_SPEED_MPS: f64 = 12.0;

/// Mean absolute relative error of the stage on the ground-truth boxes (measured 3.36 %).
const MAX_GT_MAE: f64 = 0.04;
/// Mean absolute relative error per gt id after detection noise + tracking, over the ids
/// covered at least `MIN_COVERAGE` of their frames (measured 5.98 %).
const MAX_DET_MAE: f64 = 0.065;
const MIN_COVERAGE: f64 = 0.8;
/// Mean absolute relative error per track against the clean path of the people it followed.
const MAX_TRACK_MAE: f64 = 0.03;

/// gt.txt: id → frame (from 0) → box.
fn ground_truth() -> BTreeMap<u64, BTreeMap<u64, BBox>> {
    let mut gt: BTreeMap<u64, BTreeMap<u64, BBox>> = BTreeMap::new();
    for line in std::fs::read_to_string(fixture("gt.txt")).unwrap().lines() {
        let f: Vec<f64> = line.split(',').map(|x| x.trim().parse().unwrap()).collect();
        let bbox = BBox::new(f[2] as f32, f[3] as f32, f[4] as f32, f[5] as f32);
        gt.entry(f[1] as u64).or_default().insert(f[0] as u64 - 1, bbox);
    }
    gt
}

/// Clean distance of one id over the steps between frames `a` and `b` (both in `keep`).
fn clean_distance(h: &[[f64; 3]; 3], boxes: &BTreeMap<u64, BBox>, keep: impl Fn(u64, u64) -> bool) -> f64 {
    let feet = |b: &BBox| to_pitch(h, b.x as f64 + b.w as f64 / 2.0, b.y as f64 + b.h as f64);
    let mut d = 0.0;
    let mut prev: Option<(u64, [f64; 2])> = None;
    for (&f, b) in boxes {
        let p = feet(b);
        if let Some((pf, pp)) = prev
            && f - pf - 1 <= MAX_GAP
            && keep(pf, f)
        {
            let step = (p[0] - pp[0]).hypot(p[1] - pp[1]);
            // SkillCorner's own data teleports a few times (ids 6, 13, 18: 8–31 m within
            // 1–8 frames, where its broadcast tracking lost the player): not running.
            if step <= MAX_SPEED_MPS * (f - pf) as f64 / 25.0 {
                d += step;
            }
        }
        prev = Some((f, p));
    }
    d
}

#[test]
fn distance_on_ground_truth_boxes() {
    let h = fixture_homography();
    let gt = ground_truth();
    let mut frames: Vec<FrameRecord> = (0..1000u64)
        .map(|i| FrameRecord {
            index: i,
            time_s: i as f64 / 25.0,
            tracks: Some(vec![]),
            homography: Some(h),
            ..Default::default()
        })
        .collect();
    for (&id, boxes) in &gt {
        for (&f, &bbox) in boxes {
            frames[f as usize].tracks.as_mut().unwrap().push(footml::TrackedBox { track_id: id, bbox, score: 1.0 });
        }
    }
    let video = VideoInfo { fps: 25.0, ..Default::default() };
    let mut data = MatchData { video: video.clone(), frames, ..Default::default() };
    let mut stage = PhysicalMetrics::new(&MetricsConfig::default()).unwrap();
    stage.run(&mut data, &StageContext::standalone("metrics", video)).unwrap();
    let metrics: footml::report::Metrics = serde_json::from_value(data.extra["metrics"].clone()).unwrap();
    let mut errs = Vec::new();
    eprintln!("| gt id | clean m | stage m | error |");
    for p in &metrics.players {
        let clean = clean_distance(&h, &gt[&p.track_id], |_, _| true);
        if clean < 10.0 {
            continue;
        }
        let e = (p.distance_m - clean) / clean;
        eprintln!("| {} | {clean:.1} | {:.1} | {:+.2} % |", p.track_id, p.distance_m, 100.0 * e);
        errs.push(e.abs());
    }
    let mae = errs.iter().sum::<f64>() / errs.len() as f64;
    eprintln!("ground truth through the stage: {} ids, mean |error| {:.2} %", errs.len(), 100.0 * mae);
    assert!(mae <= MAX_GT_MAE, "mean |error| {mae}");
}

#[test]
fn distance_after_detection_noise_and_tracking() {
    let dir = tempfile::tempdir().unwrap();
    let config = PipelineConfig {
        detections_path: Some(fixture("det.txt")),
        homography_path: Some(fixture("homography.json")),
        fps: Some(25.0),
        frame_size: Some([1920, 1080]),
        output_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let report = Pipeline::from_config(&config).unwrap().run().unwrap();
    assert!(report.stages.iter().any(|s| s.name == "metrics"));
    let h = fixture_homography();
    let gt = ground_truth();
    // gt boxes per frame.
    let mut by_frame: BTreeMap<u64, Vec<(u64, BBox)>> = BTreeMap::new();
    for (&id, boxes) in &gt {
        for (&f, &b) in boxes {
            by_frame.entry(f).or_default().push((id, b));
        }
    }
    // Each track → the gt id its boxes overlap (IoU ≥ 0.5) in most of its frames.
    let mut assigned: BTreeMap<u64, Vec<u64>> = BTreeMap::new(); // gt id → track ids
    let mut covered: BTreeMap<u64, std::collections::BTreeSet<u64>> = BTreeMap::new(); // gt id → frames
    let mut spans: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new(); // gt id → track spans
    // Per track, per frame: the gt id its box overlaps best (IoU ≥ 0.5), if any.
    let paths: Vec<Vec<(u64, Option<u64>)>> = report
        .tracks
        .iter()
        .map(|t| {
            t.frames
                .iter()
                .map(|f| {
                    let b = BBox::new(f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3]);
                    let best = by_frame
                        .get(&f.frame)
                        .into_iter()
                        .flatten()
                        .map(|(id, g)| (*id, g.iou(&b)))
                        .filter(|(_, iou)| *iou >= 0.5)
                        .max_by(|a, b| a.1.total_cmp(&b.1));
                    (f.frame, best.map(|(id, _)| id))
                })
                .collect()
        })
        .collect();
    for (t, path) in report.tracks.iter().zip(&paths) {
        let mut votes: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for &(frame, id) in path {
            if let Some(id) = id {
                votes.entry(id).or_default().push(frame);
            }
        }
        let Some((id, frames)) = votes.into_iter().max_by_key(|(_, v)| v.len()) else { continue };
        if 2 * frames.len() < t.frames.len() {
            continue;
        }
        assigned.entry(id).or_default().push(t.track_id);
        covered.entry(id).or_default().extend(frames);
        spans.entry(id).or_default().push((t.frames[0].frame, t.frames[t.frames.len() - 1].frame));
    }
    let dist: BTreeMap<u64, f64> = report.metrics.players.iter().map(|p| (p.track_id, p.distance_m)).collect();
    // Per track, against the clean path of the people it actually followed: each frame's
    // box is matched to a gt id (IoU ≥ 0.5) and the clean step lengths of that id are summed
    // while the id stays the same, so that identity switches of the tracker (its error, not
    // the metrics') do not count as running. Tracks that followed a path of at least 10 m.
    eprintln!("| track | frames | matched | ids followed | clean m (followed) | measured m | error |");
    let mut errs_track = Vec::new();
    for (t, path) in report.tracks.iter().zip(&paths) {
        let matched = path.iter().filter(|p| p.1.is_some()).count();
        // A track mostly on nobody is a false track, not a measurement of anyone.
        if matched * 10 < path.len() * 9 {
            continue;
        }
        let mut clean = 0.0;
        let mut ids = std::collections::BTreeSet::new();
        for w in path.windows(2) {
            let ((fa, Some(a)), (fb, Some(b))) = (w[0], w[1]) else { continue };
            ids.insert(a);
            if a != b {
                continue;
            }
            let boxes = &gt[&a];
            clean += clean_distance(&h, &boxes.range(fa..=fb).map(|(k, v)| (*k, *v)).collect(), |_, _| true);
        }
        if clean < 10.0 {
            continue;
        }
        let e = (dist[&t.track_id] - clean) / clean;
        eprintln!(
            "| {} | {} | {matched} | {ids:?} | {clean:.1} | {:.1} | {:+.1} % |",
            t.track_id,
            path.len(),
            dist[&t.track_id],
            100.0 * e
        );
        errs_track.push(e.abs());
    }
    let glitches: u32 = report.metrics.players.iter().map(|p| p.glitch_steps).sum();
    eprintln!(
        "| gt id | gt frames | covered | tracks | clean m (all) | clean m (tracked spans) | measured m | error vs spans | error vs all |"
    );
    let (mut errs_span, mut errs_all) = (Vec::new(), Vec::new());
    for (id, boxes) in &gt {
        let Some(tracks) = assigned.get(id) else { continue };
        let coverage = covered[id].len() as f64 / boxes.len() as f64;
        let clean_all = clean_distance(&h, boxes, |_, _| true);
        let sp = &spans[id];
        let clean_span = clean_distance(&h, boxes, |a, b| sp.iter().any(|&(s, e)| s <= a && b <= e));
        let measured: f64 = tracks.iter().map(|t| dist[t]).sum();
        let (es, ea) = ((measured - clean_span) / clean_span, (measured - clean_all) / clean_all);
        eprintln!(
            "| {id} | {} | {:.0} % | {} | {clean_all:.1} | {clean_span:.1} | {measured:.1} | {:+.1} % | {:+.1} % |",
            boxes.len(),
            100.0 * coverage,
            tracks.len(),
            100.0 * es,
            100.0 * ea
        );
        if coverage >= MIN_COVERAGE && clean_all >= 10.0 {
            errs_span.push(es.abs());
            errs_all.push(ea.abs());
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (mae_span, mae_all) = (mean(&errs_span), mean(&errs_all));
    eprintln!(
        "ids covered ≥ {:.0} %: {}; mean |error| vs tracked spans {:.2} %, vs whole time {:.2} %; glitch steps {glitches}",
        100.0 * MIN_COVERAGE,
        errs_span.len(),
        100.0 * mae_span,
        100.0 * mae_all
    );
    let mae_track = mean(&errs_track);
    eprintln!(
        "tracks following ≥ 10 m: {}; mean |error| vs the followed clean path {:.2} %",
        errs_track.len(),
        100.0 * mae_track
    );
    assert!(errs_track.len() >= 15, "only {} tracks", errs_track.len());
    assert!(mae_track <= MAX_TRACK_MAE, "mean |error| per track {mae_track}");
    assert!(errs_span.len() >= 10, "only {} ids covered", errs_span.len());
    assert!(mae_span <= MAX_DET_MAE, "mean |error| {mae_span}");
}
