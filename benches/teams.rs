//! Team features: microseconds per tracked box, and the team classification of a match.
//!
//! The frame is synthetic: 1920×1080 of mown grass stripes with pixel noise and 22 players
//! (11 red, 11 yellow shirts, skin heads and arms, white shorts) of 60–110 px height. The bench
//! first checks that the kit samples are the shirts' colours, so it cannot time a broken
//! stage.
//!
//! ```text
//! cargo bench -p footml-core --no-default-features --bench teams
//! ```

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use footml::stages::ball_detection::GrassModel;
use footml::stages::teams::{TeamClassification, TeamFeatures};
use footml::vision::colour::{delta_e, srgb_to_lab};
use footml::{
    BBox, FrameBatch, FrameItem, FrameRecord, MatchData, RgbFrame, StageContext, StreamStage, TrackedBox, VideoInfo,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const W: usize = 1920;
const H: usize = 1080;
const KITS: [[u8; 3]; 2] = [[210, 25, 40], [250, 215, 20]];

fn scene() -> (RgbFrame, Vec<TrackedBox>) {
    let mut rng = StdRng::seed_from_u64(7);
    let mut data = vec![0u8; W * H * 3];
    for y in 0..H {
        for x in 0..W {
            let c: [i32; 3] = if (x / 180) % 2 == 0 { [58, 128, 54] } else { [70, 145, 62] };
            let c = c.map(|v| (v + rng.random_range(-6..=6)).clamp(0, 255) as u8);
            data[(y * W + x) * 3..][..3].copy_from_slice(&c);
        }
    }
    let mut fill = |x0: f32, y0: f32, x1: f32, y1: f32, c: [u8; 3]| {
        for y in y0 as usize..y1 as usize {
            for x in x0 as usize..x1 as usize {
                data[(y * W + x) * 3..][..3].copy_from_slice(&c);
            }
        }
    };
    let mut tracks = Vec::new();
    for i in 0..22u64 {
        let h = 60.0 + (i % 6) as f32 * 10.0;
        let w = 0.4 * h;
        let (x, y) = (60.0 + 80.0 * i as f32, 200.0 + 30.0 * (i % 9) as f32);
        let skin = [224, 172, 130];
        fill(x + 0.35 * w, y, x + 0.65 * w, y + 0.14 * h, skin);
        fill(x + 0.15 * w, y + 0.14 * h, x + 0.85 * w, y + 0.5 * h, KITS[(i % 2) as usize]);
        fill(x, y + 0.16 * h, x + 0.15 * w, y + 0.45 * h, skin);
        fill(x + 0.85 * w, y + 0.16 * h, x + w, y + 0.45 * h, skin);
        fill(x + 0.2 * w, y + 0.5 * h, x + 0.8 * w, y + 0.68 * h, [245, 245, 245]);
        fill(x + 0.25 * w, y + 0.68 * h, x + 0.75 * w, y + h, skin);
        tracks.push(TrackedBox { track_id: i + 1, bbox: BBox::new(x, y, w, h), score: 0.9 });
    }
    (RgbFrame { width: W as u32, height: H as u32, stride: W * 3, data }, tracks)
}

fn batch(frame: &Arc<RgbFrame>, tracks: &[TrackedBox], n: u64) -> FrameBatch {
    let mut b = FrameBatch::default();
    b.items = (0..n)
        .map(|index| {
            FrameItem::new(
                FrameRecord { index, tracks: Some(tracks.to_vec()), ..Default::default() },
                Some(frame.clone()),
            )
        })
        .collect();
    b
}

fn bench(c: &mut Criterion) {
    let (frame, tracks) = scene();
    let frame = Arc::new(frame);
    let ctx = StageContext::standalone("team_features", VideoInfo::default());
    let mut stage = TeamFeatures::new();
    // The samples are the shirts: a broken stage is not timed.
    let mut b = batch(&frame, &tracks, 1);
    stage.process(&mut b, &ctx).unwrap();
    let kit = b.items[0].record.kit.clone().unwrap();
    assert_eq!(kit.len(), 22);
    for s in &kit {
        let want = srgb_to_lab(KITS[((s.track_id - 1) % 2) as usize]);
        assert!(delta_e(s.lab, want) < 2.0, "track {}: {:?}", s.track_id, s.lab);
    }

    let mut g = c.benchmark_group("team_features");
    g.throughput(Throughput::Elements(22));
    g.bench_function("1080p_frame_22_boxes", |bch| {
        bch.iter(|| {
            let mut b = batch(&frame, &tracks, 1);
            stage.process(&mut b, &ctx).unwrap();
            black_box(b)
        })
    });
    // The boxes alone, without the per-frame grass model.
    let grass = GrassModel::for_frame(&frame).unwrap();
    g.bench_function("22_boxes_without_grass_model", |bch| {
        bch.iter(|| {
            for t in &tracks {
                black_box(stage.sample(&frame, Some(&grass), &t.bbox, &[]));
            }
        })
    });
    g.finish();

    // Ball detection and team features on the same frame, as the pipeline runs them: each
    // learning the frame's grass model itself (as before `FrameItem::grass`: the ball
    // detector's grid, and team features' own coarser one, width / 160), against the model
    // learned once and shared. Same frame, same binary, side by side.
    let ball = footml::config::BallTrackingConfig::default();
    let mut det = footml::stages::ball_detection::BallDetector::new(&ball, &Default::default()).unwrap();
    let boxes: Vec<BBox> = tracks.iter().map(|t| t.bbox).collect();
    let shared = GrassModel::for_frame(&frame).unwrap();
    let own = GrassModel::estimate(&frame, (frame.width / 160).max(4)).unwrap();
    // Both ways find the same candidates and the same kits, or the comparison means nothing.
    assert_eq!(det.detect(&frame, &boxes), det.detect_on_grass(&frame, &shared, &boxes));
    assert_eq!(stage.samples_on_grass(&frame, &own, &boxes), stage.samples_on_grass(&frame, &shared, &boxes));
    let mut g = c.benchmark_group("ball_and_team_features_1080p");
    g.throughput(Throughput::Elements(1));
    g.bench_function("grass_learned_per_stage", |bch| {
        bch.iter(|| {
            let candidates = det.detect(&frame, &boxes);
            let grass = GrassModel::estimate(&frame, (frame.width / 160).max(4)).unwrap();
            black_box((candidates, stage.samples_on_grass(&frame, &grass, &boxes)))
        })
    });
    g.bench_function("grass_learned_once", |bch| {
        bch.iter(|| {
            let grass = GrassModel::for_frame(&frame).unwrap();
            let candidates = det.detect_on_grass(&frame, &grass, &boxes);
            black_box((candidates, stage.samples_on_grass(&frame, &grass, &boxes)))
        })
    });
    g.bench_function("grass_model_alone", |bch| bch.iter(|| black_box(GrassModel::for_frame(&frame))));
    g.finish();

    // Classification of a 90-minute match's worth of samples: 22 tracks × 135 000 frames is
    // what the stage reads; here 30 tracks × 5 000 frames (150 000 samples).
    let mut records = Vec::new();
    let mut rng = StdRng::seed_from_u64(3);
    for index in 0..5000u64 {
        let tracks: Vec<TrackedBox> = (1..=30)
            .map(|id| TrackedBox { track_id: id, bbox: BBox::new(10.0 * id as f32, 500.0, 30.0, 75.0), score: 0.9 })
            .collect();
        let kit = (1..=30u64)
            .map(|id| {
                let lab = srgb_to_lab(KITS[(id % 2) as usize]).map(|v| v + rng.random_range(-3.0..3.0));
                footml::KitSample { track_id: id, lab, pixels: 100 }
            })
            .collect();
        records.push(FrameRecord { index, tracks: Some(tracks), kit: Some(kit), ..Default::default() });
    }
    let data = MatchData { frames: records, ..Default::default() };
    let cls = TeamClassification::new(&Default::default()).unwrap();
    let a = cls.classify(&data);
    assert_eq!(a.teams.len(), 2);
    assert_eq!(a.teams[0].track_ids.len() + a.teams[1].track_ids.len(), 30);
    let mut g = c.benchmark_group("team_classification");
    g.sample_size(10);
    g.throughput(Throughput::Elements(150_000));
    g.bench_function("150k_samples", |bch| bch.iter(|| black_box(cls.classify(&data))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
