//! Player tracker throughput: frames per second on one core with 25 players per frame.
//!
//! The scene is synthetic but shaped like broadcast football: 25 people of 40–120 px moving
//! with smoothly changing velocities (up to ~6 px per frame), detector jitter, 5% missed
//! detections, 10% low-score detections and about one false positive per frame.
//!
//! ```text
//! cargo bench -p footml-core --bench tracker
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use footml::config::PlayerTrackingConfig;
use footml::stages::player_tracking::PlayerTracker;
use footml::{BBox, Detection};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FRAMES: usize = 1000;
const PLAYERS: usize = 25;

fn scene() -> Vec<Vec<Detection>> {
    let mut rng = StdRng::seed_from_u64(2024);
    struct Person {
        pos: [f32; 2],
        vel: [f32; 2],
        h: f32,
    }
    let mut people: Vec<Person> = (0..PLAYERS)
        .map(|_| Person {
            pos: [rng.random_range(100.0..1800.0), rng.random_range(100.0..950.0)],
            vel: [rng.random_range(-3.0..3.0), rng.random_range(-2.0..2.0)],
            h: rng.random_range(40.0..120.0),
        })
        .collect();
    (0..FRAMES)
        .map(|_| {
            let mut frame = Vec::with_capacity(PLAYERS + 2);
            for p in &mut people {
                for k in 0..2 {
                    p.vel[k] = (p.vel[k] + rng.random_range(-0.3..0.3)).clamp(-6.0, 6.0);
                    p.pos[k] += p.vel[k];
                    let hi = if k == 0 { 1900.0 } else { 1060.0 };
                    if p.pos[k] < 20.0 || p.pos[k] > hi - p.h {
                        p.vel[k] = -p.vel[k];
                    }
                }
                if rng.random::<f32>() < 0.05 {
                    continue;
                }
                let j = 0.03 * p.h;
                let (w, h) = (0.4 * p.h * rng.random_range(0.95..1.05), p.h * rng.random_range(0.95..1.05));
                let score =
                    if rng.random::<f32>() < 0.1 { rng.random_range(0.15..0.5) } else { rng.random_range(0.6..0.95) };
                frame.push(Detection {
                    bbox: BBox::new(p.pos[0] + rng.random_range(-j..j), p.pos[1] + rng.random_range(-j..j), w, h),
                    score,
                    class_id: 0,
                });
            }
            while rng.random::<f32>() < 0.5 {
                let h = rng.random_range(40.0..120.0);
                frame.push(Detection {
                    bbox: BBox::new(rng.random_range(0.0..1800.0), rng.random_range(0.0..950.0), 0.4 * h, h),
                    score: rng.random_range(0.1..0.6),
                    class_id: 0,
                });
            }
            frame
        })
        .collect()
}

fn bench_tracker(c: &mut Criterion) {
    let frames = scene();
    let cfg = PlayerTrackingConfig::default();
    // Guard against timing a degenerate scene: the tracker must actually follow the players.
    let mut tracker = PlayerTracker::new(&cfg).expect("default config is valid");
    let reported: usize = frames.iter().map(|f| tracker.update(f).len()).sum();
    let per_frame = reported as f64 / FRAMES as f64;
    assert!(per_frame > 0.85 * PLAYERS as f64, "only {per_frame:.1} players tracked per frame");
    let mut group = c.benchmark_group("player_tracking");
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_function("bytetrack_25_players", |b| {
        b.iter(|| {
            let mut tracker = PlayerTracker::new(&cfg).expect("default config is valid");
            let mut boxes = 0;
            for f in &frames {
                boxes += tracker.update(black_box(f)).len();
            }
            black_box(boxes)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_tracker);
criterion_main!(benches);
