//! Ball tracking: one ball followed through its candidates, then smoothed over the match.
//!
//! [`BallTracker`] (streaming, `"ball_tracking"`) turns each frame's ball candidates into at
//! most one ball position with a state ([`BallState`]):
//!
//! 1. Candidates whose radius (half the mean of box width and height) is outside
//!    `[min_ball_radius, max_ball_radius]`, or with non-finite values, are dropped.
//! 2. While a ball is followed, its filter — a constant-velocity point Kalman filter
//!    ([`crate::vision::point_kalman`]) or a particle filter ([`crate::vision::particle`]),
//!    per `tracking_method` — predicts the ball's centre. A candidate passes the gate when
//!    its squared Mahalanobis distance from the predicted measurement is below the 99.9 %
//!    χ² quantile (for particles, the cloud's moments plus the measurement noise: a Gaussian
//!    approximation of the predictive likelihood). Among the candidates in the gate the one
//!    with the lowest `d² − 2 ln(score)` (the negative log of likelihood × score) updates the
//!    filter: the frame is `tracked`.
//! 3. When no candidate passes, the prediction is reported as `occluded`, for up to
//!    `max_missing_frames` frames; after that the ball is `lost` (reported with its last
//!    tracked position, which is not a position of the ball) and the filter is dropped.
//! 4. A lost (or not yet found) ball is (re)acquired from two candidates in consecutive
//!    frames at most [`PAIR_MAX_DISTANCE`] pixels apart — the filter then starts with their
//!    velocity — or from one candidate with a score of at least [`ACQUIRE_SCORE`]. A
//!    false candidate (a head, a sock, a line crossing) seldom appears twice in a row at the
//!    same place, while the real ball does; requiring the pair costs one frame, which the
//!    confident single-frame rule gives back when the detector is sure.
//!
//! [`BallSmoothing`] (match stage, `"ball_smoothing"`) then runs a Rauch–Tung–Striebel
//! smoother over each followed segment, from its first to its last tracked frame, with the
//! matched candidates as measurements: tracked frames get the smoothed position, and the
//! occluded frames between them (gaps of at most `max_missing_frames`, by construction) get
//! the smoothed model's position and `interpolated: true`. Occluded frames after a segment's
//! last tracked frame keep the tracker's prediction; lost frames keep no position.
//!
//! Everything is deterministic (the particle filter's generator is seeded from the frame
//! index and saved with the state), so a run resumed from [`StreamStage::save_state`] at any
//! frame gives the same ball as an uninterrupted one.

use serde::{Deserialize, Serialize};

use crate::config::{BallTrackingConfig, BallTrackingMethod};
use crate::pipeline::stage::{Artifact, MatchStage, Stage, StageContext, StreamStage, require_in_batch};
use crate::types::{BallObservation, BallState, Detection, FrameBatch, MatchData};
use crate::vision::particle::{ParticleCloud, ParticleFilter};
use crate::vision::point_kalman::{CHI2_2DOF_999, PointKalmanFilter, PointState};
use crate::{Error, Result};

/// Version of the format written by [`StreamStage::save_state`].
const STATE_VERSION: u32 = 1;

/// Score from which a single candidate (re)acquires the ball.
pub const ACQUIRE_SCORE: f32 = 0.8;
/// Largest distance in pixels between two candidates of consecutive frames that
/// (re)acquire the ball together.
pub const PAIR_MAX_DISTANCE: f64 = 40.0;
/// Acceleration noise of the motion model, pixels / frame².
const ACCEL_STD: f64 = 1.5;
/// Velocity spread of a filter started from one candidate, pixels / frame.
const INITIAL_VELOCITY_STD: f64 = 8.0;
/// Number of particles.
const PARTICLES: usize = 400;
/// Seed of the particle filter (mixed with the frame index at each (re)acquisition).
const SEED: u64 = 0x5EED_BA11;

/// Measurement noise (pixels) of a candidate of radius `r`: detectors place a small ball
/// within about a pixel and a large one within a fraction of its radius.
fn meas_std(r: f64) -> f64 {
    (0.3 * r).max(1.0)
}

/// The filter following the ball.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Filter {
    Kalman(PointState),
    Particles(ParticleCloud),
}

/// A candidate that passed the size filter: centre, radius, score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Candidate {
    x: f64,
    y: f64,
    r: f64,
    score: f32,
}

/// Everything that carries over from one frame to the next.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct BallTrackerState {
    /// Frames processed so far.
    frame: u64,
    /// The filter while the ball is followed (tracked or occluded).
    filter: Option<Filter>,
    /// Consecutive frames without a matched candidate.
    missing: u32,
    /// Position of the last tracked frame.
    last: Option<[f32; 2]>,
    /// The previous frame's unmatched candidates (for acquisition by pairs).
    pending: Vec<Candidate>,
}

#[derive(Serialize, Deserialize)]
struct SavedState {
    version: u32,
    state: BallTrackerState,
}

/// The ball tracking stage (see the [module docs](self)): requires
/// [`Artifact::BALL_CANDIDATES`], provides [`Artifact::BALL`]. Usable alone through
/// [`BallTracker::update`].
#[derive(Debug, Clone)]
pub struct BallTracker {
    cfg: BallTrackingConfig,
    kf: PointKalmanFilter,
    pf: ParticleFilter,
    state: BallTrackerState,
}

impl BallTracker {
    /// A tracker with the given settings; fails when the radius range is invalid.
    pub fn new(cfg: &BallTrackingConfig) -> Result<Self> {
        if !(cfg.min_ball_radius >= 0.0
            && cfg.min_ball_radius <= cfg.max_ball_radius
            && cfg.max_ball_radius.is_finite())
        {
            return Err(crate::config::ConfigError::invalid(
                "stage_configs.ball_tracking",
                "min_ball_radius",
                "0 ≤ min_ball_radius ≤ max_ball_radius < ∞",
                (cfg.min_ball_radius, cfg.max_ball_radius),
            )
            .into());
        }
        Ok(BallTracker {
            cfg: cfg.clone(),
            kf: PointKalmanFilter { accel_std: ACCEL_STD, initial_velocity_std: INITIAL_VELOCITY_STD },
            pf: ParticleFilter {
                particles: PARTICLES,
                accel_std: ACCEL_STD,
                initial_velocity_std: INITIAL_VELOCITY_STD,
            },
            state: BallTrackerState::default(),
        })
    }

    /// Frames processed so far.
    pub fn frames_processed(&self) -> u64 {
        self.state.frame
    }

    /// Tracks one frame: takes its ball candidates and returns the ball, or `None` while no
    /// ball has been found yet.
    pub fn update(&mut self, candidates: &[Detection]) -> Option<BallObservation> {
        let (lo, hi) = (self.cfg.min_ball_radius as f64, self.cfg.max_ball_radius as f64);
        let mut cands: Vec<Candidate> = candidates
            .iter()
            .filter_map(|d| {
                let b = d.bbox;
                let c = Candidate {
                    x: (b.x + b.w / 2.0) as f64,
                    y: (b.y + b.h / 2.0) as f64,
                    r: ((b.w + b.h) / 4.0) as f64,
                    score: d.score,
                };
                let ok = c.x.is_finite() && c.y.is_finite() && d.score.is_finite() && c.r >= lo && c.r <= hi;
                ok.then_some(c)
            })
            .collect();
        let st = &mut self.state;
        st.frame += 1;
        let frame = st.frame;
        let mut out = None;

        if let Some(filter) = &mut st.filter {
            // Predict, then pick the best candidate in the gate.
            match filter {
                Filter::Kalman(s) => self.kf.predict(s),
                Filter::Particles(c) => self.pf.predict(c),
            }
            let mut best: Option<(usize, f64)> = None;
            for (i, c) in cands.iter().enumerate() {
                let ms = meas_std(c.r);
                let d2 = match filter {
                    Filter::Kalman(s) => self.kf.mahalanobis_sq(s, [c.x, c.y], ms),
                    Filter::Particles(p) => self.pf.mahalanobis_sq(p, [c.x, c.y], ms),
                };
                if d2 <= CHI2_2DOF_999 {
                    let cost = d2 - 2.0 * (c.score.max(1e-3) as f64).ln();
                    if best.is_none_or(|(_, b)| cost < b) {
                        best = Some((i, cost));
                    }
                }
            }
            if let Some((i, _)) = best {
                let c = cands.remove(i);
                let ms = meas_std(c.r);
                match filter {
                    Filter::Kalman(s) => self.kf.update(s, [c.x, c.y], ms),
                    Filter::Particles(p) => self.pf.update(p, [c.x, c.y], ms),
                }
                st.missing = 0;
                let [x, y] = position(&self.pf, filter);
                st.last = Some([x, y]);
                out = Some(observation(x, y, BallState::Tracked, c));
            } else {
                st.missing += 1;
                if st.missing <= self.cfg.max_missing_frames {
                    let [x, y] = position(&self.pf, filter);
                    out = Some(BallObservation {
                        x,
                        y,
                        state: BallState::Occluded,
                        interpolated: false,
                        score: 0.0,
                        measured: None,
                    });
                } else {
                    st.filter = None;
                }
            }
        }

        if st.filter.is_none() {
            if let Some((prev, c, i)) = acquire(&st.pending, &cands) {
                let ms = meas_std(c.r);
                let filter = match self.cfg.tracking_method {
                    BallTrackingMethod::Kalman => Filter::Kalman(match prev {
                        Some(p) => self.kf.initiate_two([p.x, p.y], [c.x, c.y], ms),
                        None => self.kf.initiate([c.x, c.y], ms),
                    }),
                    BallTrackingMethod::ParticleFilter => {
                        let (v, vs) = match prev {
                            Some(p) => ([c.x - p.x, c.y - p.y], (2.0f64).sqrt() * ms + ACCEL_STD),
                            None => ([0.0, 0.0], INITIAL_VELOCITY_STD),
                        };
                        let seed = SEED ^ frame.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                        Filter::Particles(self.pf.initiate([c.x, c.y], v, ms, vs, seed))
                    }
                };
                cands.remove(i);
                let [x, y] = position(&self.pf, &filter);
                st.filter = Some(filter);
                st.missing = 0;
                st.last = Some([x, y]);
                out = Some(observation(x, y, BallState::Tracked, c));
            } else if let Some([x, y]) = st.last {
                out = Some(BallObservation {
                    x,
                    y,
                    state: BallState::Lost,
                    interpolated: false,
                    score: 0.0,
                    measured: None,
                });
            }
        }
        st.pending = cands;
        out
    }
}

fn observation(x: f32, y: f32, state: BallState, c: Candidate) -> BallObservation {
    BallObservation { x, y, state, interpolated: false, score: c.score, measured: Some([c.x as f32, c.y as f32]) }
}

fn position(pf: &ParticleFilter, f: &Filter) -> [f32; 2] {
    match f {
        Filter::Kalman(s) => [s.mean[0] as f32, s.mean[1] as f32],
        Filter::Particles(c) => {
            let m = pf.mean(c);
            [m[0] as f32, m[1] as f32]
        }
    }
}

/// The candidate that (re)acquires the ball, with its partner of the previous frame when
/// acquired by a pair, and its index in `cands`. Pairs come first (highest score sum), then
/// the highest single score at or above [`ACQUIRE_SCORE`].
fn acquire(pending: &[Candidate], cands: &[Candidate]) -> Option<(Option<Candidate>, Candidate, usize)> {
    let mut best: Option<(Option<Candidate>, Candidate, usize, f32)> = None;
    for (i, c) in cands.iter().enumerate() {
        for p in pending {
            if (c.x - p.x).hypot(c.y - p.y) <= PAIR_MAX_DISTANCE {
                let s = c.score + p.score;
                if best.as_ref().is_none_or(|b| b.0.is_none() || s > b.3) {
                    best = Some((Some(*p), *c, i, s));
                }
            }
        }
    }
    if best.is_none() {
        for (i, c) in cands.iter().enumerate() {
            if c.score >= ACQUIRE_SCORE && best.as_ref().is_none_or(|b| c.score > b.3) {
                best = Some((None, *c, i, c.score));
            }
        }
    }
    best.map(|(p, c, i, _)| (p, c, i))
}

impl Stage for BallTracker {
    fn name(&self) -> &str {
        "ball_tracking"
    }

    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::BALL_CANDIDATES]
    }

    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::BALL]
    }
}

impl StreamStage for BallTracker {
    fn process(&mut self, batch: &mut FrameBatch, _ctx: &StageContext) -> Result<()> {
        // Check the whole batch first so that a failure leaves the state untouched.
        require_in_batch(batch, "ball_tracking", "ball candidates", &Artifact::BALL_CANDIDATES, |r| {
            r.ball_candidates.is_some()
        })?;
        for item in &mut batch.items {
            item.record.ball = self.update(item.record.ball_candidates.as_deref().unwrap_or_default());
        }
        Ok(())
    }

    fn save_state(&self) -> Result<Vec<u8>> {
        let saved = SavedState { version: STATE_VERSION, state: self.state.clone() };
        rmp_serde::to_vec(&saved)
            .map_err(|e| Error::permanent(format!("ball_tracking: cannot encode the tracker state: {e}")))
    }

    fn load_state(&mut self, state: &[u8]) -> Result<()> {
        let saved: SavedState = rmp_serde::from_slice(state)
            .map_err(|e| Error::permanent(format!("ball_tracking: cannot decode the saved tracker state: {e}")))?;
        if saved.version != STATE_VERSION {
            return Err(Error::permanent(format!(
                "ball_tracking: saved state has format version {}, expected {STATE_VERSION}",
                saved.version
            )));
        }
        self.state = saved.state;
        Ok(())
    }
}

/// The ball smoothing stage (see the [module docs](self)): requires [`Artifact::BALL`] and
/// rewrites it in place; provides the marker artifact `"ball_smoothed"`
/// ([`BallSmoothing::ARTIFACT`]) for stages that want the smoothed ball.
#[derive(Debug, Clone, Default)]
pub struct BallSmoothing {
    kf: PointKalmanFilter,
}

impl BallSmoothing {
    /// The marker artifact provided once the ball is smoothed.
    pub const ARTIFACT: &'static str = "ball_smoothed";

    /// A smoother with the tracker's motion model.
    pub fn new() -> Self {
        BallSmoothing { kf: PointKalmanFilter { accel_std: ACCEL_STD, initial_velocity_std: INITIAL_VELOCITY_STD } }
    }

    /// Smooths the ball of consecutive frames in place (`None` = no ball record).
    pub fn smooth(&self, balls: &mut [Option<BallObservation>]) {
        let mut t = 0;
        while t < balls.len() {
            // A segment: consecutive frames with a position.
            if !balls[t].is_some_and(|b| b.has_position()) {
                t += 1;
                continue;
            }
            let start = t;
            while t < balls.len() && balls[t].is_some_and(|b| b.has_position()) {
                t += 1;
            }
            let seg = &mut balls[start..t];
            let Some(first) = seg.iter().position(|b| b.is_some_and(|b| b.measured.is_some())) else { continue };
            let last = seg.iter().rposition(|b| b.is_some_and(|b| b.measured.is_some())).expect("first exists");
            self.smooth_segment(&mut seg[first..=last]);
        }
    }

    /// Forward Kalman pass and RTS over frames from one measured frame to another.
    fn smooth_segment(&self, seg: &mut [Option<BallObservation>]) {
        // The smoother has no candidate sizes: 1 px measurement noise (the tracker's floor).
        let ms = meas_std(0.0);
        let (mut pred, mut filt) = (Vec::with_capacity(seg.len()), Vec::with_capacity(seg.len()));
        let mut s: Option<PointState> = None;
        for b in seg.iter() {
            let z = b.and_then(|b| b.measured).map(|m| [m[0] as f64, m[1] as f64]);
            match (&mut s, z) {
                (None, Some(z)) => {
                    let st = self.kf.initiate(z, ms);
                    pred.push(st.clone());
                    filt.push(st.clone());
                    s = Some(st);
                }
                (Some(st), z) => {
                    self.kf.predict(st);
                    pred.push(st.clone());
                    if let Some(z) = z {
                        self.kf.update(st, z, ms);
                    }
                    filt.push(st.clone());
                }
                (None, None) => unreachable!("segments start with a measured frame"),
            }
        }
        let smoothed = self.kf.rts_smooth(&pred, &filt);
        for (b, s) in seg.iter_mut().zip(&smoothed) {
            if let Some(b) = b {
                b.x = s.mean[0] as f32;
                b.y = s.mean[1] as f32;
                b.interpolated = b.measured.is_none();
            }
        }
    }
}

impl Stage for BallSmoothing {
    fn name(&self) -> &str {
        "ball_smoothing"
    }

    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::BALL]
    }

    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::custom(Self::ARTIFACT)]
    }
}

impl MatchStage for BallSmoothing {
    fn run(&mut self, data: &mut MatchData, _ctx: &StageContext) -> Result<()> {
        let mut balls: Vec<Option<BallObservation>> = data.frames.iter().map(|f| f.ball).collect();
        self.smooth(&mut balls);
        for (f, b) in data.frames.iter_mut().zip(balls) {
            f.ball = b;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::BBox;
    use crate::vision::particle::SplitMix64;

    fn cand(x: f32, y: f32, r: f32, score: f32) -> Detection {
        Detection { bbox: BBox::new(x - r, y - r, 2.0 * r, 2.0 * r), score, class_id: 0 }
    }

    /// A ball moving along a parabola-free path with jitter, misses, a 6-frame occlusion,
    /// a 20-frame disappearance and false candidates.
    fn scene(seed: u64) -> (Vec<Vec<Detection>>, Vec<[f32; 2]>) {
        let mut rng = SplitMix64(seed);
        let (mut frames, mut truth) = (Vec::new(), Vec::new());
        for t in 0..200 {
            let tf = t as f32;
            let p = [200.0 + 6.0 * tf, 300.0 + 80.0 * (tf / 30.0).sin()];
            truth.push(p);
            let mut dets = Vec::new();
            let hidden = (50..56).contains(&t) || (120..140).contains(&t) || rng.uniform() < 0.1;
            if !hidden {
                dets.push(cand(
                    p[0] + 0.5 * rng.normal() as f32,
                    p[1] + 0.5 * rng.normal() as f32,
                    3.0,
                    0.4 + 0.5 * rng.uniform() as f32,
                ));
            }
            if rng.uniform() < 0.2 {
                dets.push(cand(1900.0 * rng.uniform() as f32, 1000.0 * rng.uniform() as f32, 3.0, 0.5));
            }
            // A candidate of the wrong size right on the ball: filtered by the radius range.
            if t % 7 == 0 {
                dets.push(cand(p[0] + 2.0, p[1], 40.0, 0.99));
            }
            frames.push(dets);
        }
        (frames, truth)
    }

    fn cfg(method: BallTrackingMethod) -> BallTrackingConfig {
        BallTrackingConfig {
            tracking_method: method,
            min_ball_radius: 1.0,
            max_ball_radius: 10.0,
            max_missing_frames: 10,
        }
    }

    fn run(tr: &mut BallTracker, frames: &[Vec<Detection>]) -> Vec<Option<BallObservation>> {
        frames.iter().map(|f| tr.update(f)).collect()
    }

    #[test]
    fn follows_the_ball_through_occlusion_and_reacquires_after_loss() {
        for method in [BallTrackingMethod::Kalman, BallTrackingMethod::ParticleFilter] {
            let (frames, truth) = scene(5);
            let mut out = run(&mut BallTracker::new(&cfg(method)).unwrap(), &frames);
            for (t, b) in out.iter().enumerate().skip(5) {
                let b = b.unwrap_or_else(|| panic!("{method:?}: no ball at frame {t}"));
                if (131..140).contains(&t) {
                    assert_eq!(b.state, BallState::Lost, "{method:?} frame {t}");
                } else if (50..56).contains(&t) {
                    assert_eq!(b.state, BallState::Occluded, "{method:?} frame {t}");
                }
                if b.state == BallState::Tracked {
                    let e = (b.x - truth[t][0]).hypot(b.y - truth[t][1]);
                    assert!(e < 3.0, "{method:?} frame {t}: error {e}");
                }
            }
            assert!(out[145].unwrap().state == BallState::Tracked, "{method:?}: re-acquired");
            BallSmoothing::new().smooth(&mut out);
            for (t, b) in out.iter().enumerate().take(56).skip(50) {
                let b = b.unwrap();
                assert!(b.interpolated && b.state == BallState::Occluded);
                let e = (b.x - truth[t][0]).hypot(b.y - truth[t][1]);
                assert!(e < 6.0, "{method:?} interpolated frame {t}: error {e}");
            }
            assert!(out.iter().flatten().filter(|b| b.state == BallState::Tracked).all(|b| !b.interpolated));
        }
    }

    #[test]
    fn gating_ignores_a_far_confident_candidate() {
        let mut tr = BallTracker::new(&cfg(BallTrackingMethod::Kalman)).unwrap();
        for t in 0..20 {
            tr.update(&[cand(100.0 + 5.0 * t as f32, 100.0, 3.0, 0.6)]);
        }
        let b = tr.update(&[cand(900.0, 700.0, 3.0, 0.99), cand(200.5, 100.0, 3.0, 0.3)]).unwrap();
        assert_eq!(b.state, BallState::Tracked);
        assert!((b.x - 200.5).abs() < 1.5, "{b:?}");
        let b = tr.update(&[cand(900.0, 700.0, 3.0, 0.99)]).unwrap();
        assert_eq!(b.state, BallState::Occluded);
        assert!((b.x - 205.0).abs() < 2.0, "{b:?}");
    }

    #[test]
    fn resumed_runs_equal_the_uninterrupted_run() {
        for method in [BallTrackingMethod::Kalman, BallTrackingMethod::ParticleFilter] {
            let (frames, _) = scene(11);
            let tracker = || BallTracker::new(&cfg(method)).unwrap();
            let full = run(&mut tracker(), &frames);
            for split in [0, 1, 2, 52, 125, 133, 199, 200] {
                let mut first = tracker();
                let mut out = run(&mut first, &frames[..split]);
                let saved = first.save_state().unwrap();
                let mut second = tracker();
                second.load_state(&saved).unwrap();
                assert_eq!(second.save_state().unwrap(), saved);
                out.extend(run(&mut second, &frames[split..]));
                assert_eq!(out, full, "{method:?} split at {split}");
            }
        }
    }

    #[test]
    fn particle_runs_are_reproducible() {
        let (frames, _) = scene(3);
        let a = run(&mut BallTracker::new(&cfg(BallTrackingMethod::ParticleFilter)).unwrap(), &frames);
        let b = run(&mut BallTracker::new(&cfg(BallTrackingMethod::ParticleFilter)).unwrap(), &frames);
        assert_eq!(rmp_serde::to_vec(&a).unwrap(), rmp_serde::to_vec(&b).unwrap());
    }

    #[test]
    fn load_state_rejects_garbage_and_other_versions() {
        let mut tr = BallTracker::new(&cfg(BallTrackingMethod::Kalman)).unwrap();
        assert!(tr.load_state(b"nope").is_err());
        let other =
            rmp_serde::to_vec(&SavedState { version: STATE_VERSION + 1, state: BallTrackerState::default() }).unwrap();
        assert!(tr.load_state(&other).unwrap_err().to_string().contains("version"));
    }

    #[test]
    fn rejects_an_inverted_radius_range() {
        let bad = BallTrackingConfig { min_ball_radius: 9.0, max_ball_radius: 2.0, ..Default::default() };
        let err = BallTracker::new(&bad).unwrap_err().to_string();
        assert!(err.contains("stage_configs.ball_tracking.min_ball_radius"), "{err}");
    }
}
