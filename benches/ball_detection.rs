//! Classical ball candidates: milliseconds per 1920×1080 frame.
//!
//! The frame is synthetic but shaped like a wide broadcast view: stands and advertising
//! boards at the top, mown grass stripes with pixel noise, touchline, halfway line and centre
//! circle, 22 players (shirt, shorts, skin-coloured head and legs) and a white ball of
//! radius 6. The bench first checks that the ball is the best candidate, so it cannot time a
//! broken detector.
//!
//! ```text
//! cargo bench -p footml-core --no-default-features --bench ball_detection
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use footml::RgbFrame;
use footml::config::{BallDetectionConfig, BallTrackingConfig};
use footml::stages::ball_detection::{BallDetector, GrassModel};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const W: usize = 1920;
const H: usize = 1080;
const BALL: (f64, f64) = (1234.5, 678.5);

fn frame() -> RgbFrame {
    let mut rng = StdRng::seed_from_u64(7);
    let mut data = vec![0u8; W * H * 3];
    let put = |data: &mut [u8], x: usize, y: usize, c: [u8; 3]| data[(y * W + x) * 3..][..3].copy_from_slice(&c);
    for y in 0..H {
        for x in 0..W {
            let c: [i32; 3] = if y < 90 {
                [rng.random_range(0..256), rng.random_range(0..256), rng.random_range(0..256)]
            } else if y < 126 {
                [20, 30, 120]
            } else if (x / 180) % 2 == 0 {
                [58, 128, 54]
            } else {
                [70, 145, 62]
            };
            let n = if y >= 126 { 6 } else { 0 };
            let c = c.map(|v| (v + rng.random_range(-n..=n)).clamp(0, 255) as u8);
            put(&mut data, x, y, c);
        }
    }
    let white = [235, 235, 235];
    for y in 0..H {
        for x in 0..W {
            let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
            let line = (150..156).contains(&y)
                || ((957..964).contains(&x) && y >= 150)
                || ((px - 960.5).hypot(py - 615.0) - 220.0).abs() <= 3.0;
            if line && y >= 126 {
                put(&mut data, x, y, white);
            }
            if (px - BALL.0).hypot(py - BALL.1) <= 6.0 {
                put(&mut data, x, y, white);
            }
        }
    }
    for _ in 0..22 {
        let (fx, fy) = (rng.random_range(60..1860usize), rng.random_range(320..1070usize));
        let h = fy / 8;
        let w = h / 4;
        let shirt = [rng.random_range(100..220), rng.random_range(0..60), rng.random_range(0..200)];
        for y in fy - h..fy {
            for x in fx - w / 2..fx + w / 2 {
                let t = (y + h - fy) as f64 / h as f64;
                let c = if t < 0.15 {
                    [225, 180, 150]
                } else if t < 0.6 {
                    shirt
                } else if t < 0.75 {
                    [30, 30, 90]
                } else {
                    [225, 180, 150]
                };
                put(&mut data, x, y, c);
            }
        }
    }
    RgbFrame { width: W as u32, height: H as u32, stride: W * 3, data }
}

fn bench(c: &mut Criterion) {
    let frame = frame();
    let ball = BallTrackingConfig { min_ball_radius: 3.0, max_ball_radius: 20.0, ..Default::default() };
    let mut det = BallDetector::new(&ball, &BallDetectionConfig::default()).unwrap();
    let found = det.detect(&frame, &[]);
    let best = found.first().expect("candidates");
    assert!(
        (best.x as f64 - BALL.0).abs() < 0.5 && (best.y as f64 - BALL.1).abs() < 0.5,
        "the ball must be the best candidate: {found:#?}"
    );
    let mut g = c.benchmark_group("ball_detection");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    g.bench_function("1920x1080, radius 3..20 (step 1)", |b| b.iter(|| black_box(det.detect(black_box(&frame), &[]))));
    let ball = BallTrackingConfig { min_ball_radius: 5.0, max_ball_radius: 50.0, ..Default::default() };
    let mut det = BallDetector::new(&ball, &BallDetectionConfig::default()).unwrap();
    g.bench_function("1920x1080, radius 5..50 (step 2)", |b| b.iter(|| black_box(det.detect(black_box(&frame), &[]))));
    // The same with the frame's grass model learned beforehand (as a pipeline shares it
    // between stages through `FrameItem::grass`): the difference is the model's cost.
    let grass = GrassModel::for_frame(&frame).unwrap();
    assert_eq!(det.detect(&frame, &[]), det.detect_on_grass(&frame, &grass, &[]));
    g.bench_function("1920x1080, radius 5..50 (step 2), grass model given", |b| {
        b.iter(|| black_box(det.detect_on_grass(black_box(&frame), &grass, &[])))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
