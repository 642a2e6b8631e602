//! Pitch calibration from pixel ↔ pitch correspondences, scored on real data: ground-truth
//! ball positions of the SkillCorner fixture (pixels and metres of the same real ball, the
//! ball on the ground) serve as clicked correspondences, one of them misclicked; the pipeline
//! then puts the tracked ball and every track on the pitch, and its metres are compared with
//! the ground truth and with the fixture's own homography, applied here by code that shares
//! nothing with footml.

use std::collections::BTreeMap;

use footml::config::Correspondence;
use footml::{Calibration, ErrorKind, Pipeline, PipelineConfig};

use crate::common::{fixture, fixture_detections_config, fixture_homography, read_ball_gt, to_pitch};

/// `(frame from 0, pixel, metres)` of ground-truth balls lower than 0.5 m.
fn ground_balls() -> Vec<(u64, [f64; 2], [f64; 2])> {
    read_ball_gt(&fixture("ball_gt.txt")).into_iter().filter(|(_, g)| g.z < 0.5).map(|(f, g)| (f, g.px, g.m)).collect()
}

fn config(correspondences: Vec<Correspondence>) -> PipelineConfig {
    // Calibrated by the correspondences, not the fixture's homography.
    let mut config = PipelineConfig { homography_path: None, ..fixture_detections_config() };
    config.stage_configs.pitch_calibration.correspondences = Some(correspondences);
    config
}

#[test]
fn correspondences_put_ball_and_tracks_on_the_pitch() {
    let gt = ground_balls();
    // Twelve balls spread over the clip (the ball crosses much of the picture), and one
    // correspondence 6 m off, as a misclick would be.
    let step = gt.len() / 12;
    let mut corr: Vec<Correspondence> =
        gt.iter().step_by(step).take(12).map(|(_, px, m)| Correspondence { pixel: *px, pitch: *m }).collect();
    corr[5].pitch[0] += 6.0;
    let report = Pipeline::from_config(&config(corr.clone())).unwrap().run().unwrap();

    // The ball: every reported position has metres, close to the real ball on the ground.
    assert!(!report.ball.is_empty() && report.ball.iter().all(|b| b.pitch.is_some()));
    let by_frame: BTreeMap<u64, [f64; 2]> = report.ball.iter().map(|b| (b.frame, b.pitch.unwrap())).collect();
    let errors: Vec<f64> =
        gt.iter().filter_map(|(f, _, m)| by_frame.get(f).map(|p| (p[0] - m[0]).hypot(p[1] - m[1]))).collect();
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    eprintln!(
        "ball on the pitch from 12 correspondences (1 misclicked): mean {mean:.3} m over {} frames",
        errors.len()
    );
    // Measured 0.140 m (fitted to ball centres, which sit 0.11 m up, so a little better than
    // the fixture's ground homography: 0.257 m in tests/it/ball.rs).
    assert!(errors.len() > 800 && mean < 0.2, "{mean} m over {}", errors.len());

    // The tracks: every frame of every track is on the pitch, within centimetres of where
    // the fixture's exact homography puts its feet.
    let exact = fixture_homography();
    let mut worst = 0.0f64;
    let mut n = 0;
    for t in &report.tracks {
        for f in &t.frames {
            let p = f.pitch.expect("calibrated frame");
            let q = to_pitch(&exact, (f.bbox[0] + f.bbox[2] / 2.0) as f64, (f.bbox[1] + f.bbox[3]) as f64);
            worst = worst.max((p[0] - q[0]).hypot(p[1] - q[1]));
            n += 1;
        }
    }
    eprintln!("track feet vs the fixture homography: worst {worst:.3} m over {n} boxes");
    assert!(n > 10_000 && worst < 0.5, "{worst} m over {n}");
    // Metrics need pitch positions: they ran.
    assert!(!report.metrics.players.is_empty());

    // The report's calibration table: every frame, one matrix given by the user (fitted once
    // to the correspondences), which puts the eleven good correspondences where they were
    // clicked and leaves the misclicked one out (its 6 m stay).
    assert_eq!(report.calibration.len(), 1000);
    let h = report.calibration[0].image_to_pitch;
    for (i, c) in report.calibration.iter().enumerate() {
        assert_eq!((c.frame, c.calibration, c.image_to_pitch), (i as u64, Some(Calibration::Given), h));
    }
    for (k, c) in corr.iter().enumerate() {
        let p = to_pitch(&h, c.pixel[0], c.pixel[1]);
        let residual = (p[0] - c.pitch[0]).hypot(p[1] - c.pitch[1]);
        if k == 5 {
            assert!(residual > 5.0, "the misclick was fitted: {residual} m");
        } else {
            assert!(residual < 0.5, "correspondence {k}: {residual} m");
        }
    }

    // Without the misclick the answer moves by centimetres at most (the point is back in
    // the refit); had the misclick been kept, its 6 m would pull positions by decimetres.
    let mut clean = corr.clone();
    clean[5].pitch[0] -= 6.0;
    let again = Pipeline::from_config(&config(clean)).unwrap().run().unwrap();
    for (x, y) in report.ball.iter().zip(&again.ball) {
        let (a, b) = (x.pitch.unwrap(), y.pitch.unwrap());
        assert!((a[0] - b[0]).hypot(a[1] - b[1]) < 0.05, "frame {}: {a:?} vs {b:?}", x.frame);
    }
}

#[test]
fn too_few_or_collinear_correspondences_fail_before_the_run() {
    let c = |u: f64, v: f64| Correspondence { pixel: [u, v], pitch: [u / 10.0, v / 10.0] };
    for (corr, want) in [
        (vec![c(0.0, 0.0), c(100.0, 0.0), c(0.0, 100.0)], "at least 4 point correspondences, found 3"),
        (vec![c(0.0, 0.0), c(100.0, 100.0), c(200.0, 200.0), c(300.0, 300.0), c(50.0, 50.0)], "one line"),
    ] {
        let e = Pipeline::from_config(&config(corr)).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert!(e.to_string().contains(want), "{e}");
    }
}
