//! Ball tracking: the ball followed through its candidates, then smoothed over the match.
//!
//! [`BallTracker`] (streaming, `"ball_tracking"`) turns each frame's ball candidates into at
//! most one ball position with a state ([`BallState`]):
//!
//! 1. **Candidates.** Those whose radius (half the mean of box width and height) is outside
//!    `[min_ball_radius, max_ball_radius]`, or with non-finite values, are dropped. So are,
//!    when the frame's record has them ([`FrameContext`]):
//!    * candidates in the **head region** of a player box (its top [`HEAD_FRACTION`]): a head is
//!      a bright round blob on grass to a classical detector, and a ball is seldom there;
//!    * candidates on a **pitch marking** when the frame has a homography: the candidate's centre
//!      mapped onto the pitch lies within [`MARK_MARGIN_M`] (plus the candidate's own radius in
//!      metres, at most [`MARK_MAX_RADIUS_M`]) of a line, arc or spot of the Law 1 pitch
//!      ([`crate::vision::pitch`]). Penalty spots, line ends and crossings are the static
//!      white blobs a detector confuses with the ball. A ball lying on a line is dropped too
//!      (it is bridged as occluded); one in the air projects far behind its ground point and is
//!      kept unless it happens to project onto a line.
//! 2. **Hypotheses.** Several candidate tracks are followed at once, each with its own filter —
//!    a constant-velocity point Kalman filter ([`crate::vision::point_kalman`]) or a particle
//!    filter ([`crate::vision::particle`]), per `tracking_method`. One of them, the *primary*,
//!    is the ball reported. Each frame every hypothesis predicts, then takes the candidate in
//!    its gate with the lowest `d² − 2 ln(score)` (the negative log of likelihood × score),
//!    the primary first. The gate is the 99.9 % χ² quantile of the squared Mahalanobis distance
//!    from the predicted measurement (for particles, the cloud's moments plus the measurement
//!    noise), **capped** at [`GATE_CAP_RADII`] candidate radii: the predicted covariance grows
//!    with every unseen frame, and without a cap a long occlusion ends with a gate that takes
//!    any head or mark on the screen.
//! 3. **Track score.** Each hypothesis keeps an exponentially weighted mean
//!    (factor [`SCORE_DECAY`]) of the *evidence* of its matched candidates: the candidate's
//!    score, times [`STILL_FACTOR`] while the hypothesis has stood still for [`STILL_FRAMES`]
//!    frames or more (on the pitch within [`STILL_M`] when the frame has a homography, else in
//!    the image within [`STILL_PX`]), and times [`OFF_PITCH_FACTOR`] while its ground point is more
//!    than [`OFF_PITCH_M`] beyond the touch or goal lines. Unseen frames do not count against it: the real ball is
//!    hidden whenever a player dribbles it, a head never is. A ball in play seldom stands still
//!    for a second, while a pitch mark (under a still camera, or one missing from the line
//!    model) or a TV graphic (whatever the camera does) always does.
//! 4. **Switching.** A secondary hypothesis with at least [`SWITCH_FRAMES`] matched frames whose
//!    track score is above the primary's by [`SWITCH_MARGIN`] in [`SWITCH_FRAMES`] consecutive
//!    frames where it was matched becomes the primary. One good frame never moves the ball; a
//!    candidate that is consistently the better ball does — so a tracker that locked onto a
//!    head while the ball was hidden lets go of it once the ball is back in view.
//! 5. **Occlusion and loss.** A frame in which the primary matched no candidate is reported as
//!    `occluded` at the prediction, for up to `max_missing_frames` frames; after that the
//!    hypothesis is dropped and the best remaining one matched in this frame, with at least two
//!    matched frames and a track score of at least [`ADOPT_SCORE`], becomes the primary; with
//!    none, the ball is `lost` (reported with its last tracked position,
//!    which is not a position of the ball). Secondary hypotheses are dropped after
//!    `max_missing_frames` unseen frames too, and at most [`MAX_HYPOTHESES`] are kept (the
//!    lowest track scores go).
//! 6. **New hypotheses** start from two candidates of consecutive frames at most
//!    [`PAIR_MAX_DISTANCE`] pixels apart that no hypothesis took (the filter then starts with
//!    their velocity) or, while there is no ball, from one candidate with a score of at least
//!    [`ACQUIRE_SCORE`], which becomes the primary at once. A false candidate (a head, a sock, a
//!    line crossing) seldom appears twice in a row at the same place, while the real ball does.
//!
//! [`BallSmoothing`] (match stage, `"ball_smoothing"`) then runs a Rauch–Tung–Striebel
//! smoother over each followed segment, from its first to its last tracked frame, with the
//! matched candidates as measurements: tracked frames get the smoothed position, and the
//! occluded frames between them (gaps of at most `max_missing_frames`, by construction) get
//! the smoothed model's position and `interpolated: true`. A measurement that the motion model
//! cannot reach (outside the 99.9 % gate of the forward pass: a switch to another hypothesis,
//! a hard kick) ends one segment and starts the next, so that no jump is smeared over its
//! neighbours. Occluded frames after a segment's last tracked frame keep the tracker's
//! prediction; lost frames keep no position.
//!
//! The ball's height is unknown: positions are image positions, and their pitch coordinates
//! (through the homography) are those of the ball's ground point only while it is on the
//! ground.
//!
//! The constants named above are the defaults of the keys of `stage_configs.ball_tracking`
//! ([`BallTrackingConfig`]: `acquire_score`, `adopt_score`, `pair_max_distance_px`,
//! `gate_cap_radii`, `switch_frames`, `switch_margin`, `score_decay`, `still_frames`,
//! `still_factor`, `off_pitch_factor`, `max_hypotheses`, `particles`); the tracker uses the
//! configured values.
//!
//! Everything is deterministic (the particle filters' generators are seeded from the frame
//! index and saved with the state), so a run resumed from [`StreamStage::save_state`] at any
//! frame gives the same ball as an uninterrupted one.

use serde::{Deserialize, Serialize};

use crate::config::{BallTrackingConfig, BallTrackingMethod, ConfigError};
use crate::pipeline::stage::{Artifact, MatchStage, Stage, StageContext, StreamStage, require_in_batch};
use crate::report::apply_homography;
use crate::types::{BBox, BallObservation, BallState, Detection, FrameBatch, FrameRecord, MatchData};
use crate::vision::particle::{ParticleCloud, ParticleFilter};
use crate::vision::pitch;
use crate::vision::point_kalman::{CHI2_2DOF_999, PointKalmanFilter, PointState};
use crate::{Error, Result};

/// Version of the format written by [`StreamStage::save_state`].
const STATE_VERSION: u32 = 2;

/// Score from which a single candidate (re)acquires the ball.
pub const ACQUIRE_SCORE: f32 = 0.8;
/// Largest distance in pixels between two candidates of consecutive frames that
/// start a hypothesis together.
pub const PAIR_MAX_DISTANCE: f64 = 40.0;
/// Largest gate, in candidate radii (25 radii ≈ 2.75 m: a 30 m/s shot covers 1.2 m a frame at
/// 25 fps, so one frame never needs more, and after an occlusion the ball is found again by a
/// new hypothesis rather than by a gate that covers half the screen).
pub const GATE_CAP_RADII: f64 = 25.0;
/// Share of a player box's height, from its top, that is the head region (a head is about an
/// eighth of a standing player; boxes have some margin).
pub const HEAD_FRACTION: f32 = 0.15;
/// Share of a player box's width, centred, that is the head region (arms spread widen a box,
/// not the head; a ball passing beside a head at that height is kept).
pub const HEAD_WIDTH: f32 = 0.5;
/// Distance from a pitch marking (metres, on the pitch plane) within which a candidate is on it.
pub const MARK_MARGIN_M: f64 = 0.15;
/// Largest candidate radius, in metres on the pitch, added to [`MARK_MARGIN_M`] (a blob can be
/// larger than a line is wide; a ball is 0.11 m in radius).
pub const MARK_MAX_RADIUS_M: f64 = 0.15;
/// Weight of the past in the track score: each frame the running mean keeps this share.
pub const SCORE_DECAY: f64 = 0.8;
/// Consecutive matched frames a challenger must be the better ball before it takes over (and
/// the matched frames it needs before it may).
pub const SWITCH_FRAMES: u32 = 5;
/// Track score by which a challenger must beat the primary.
pub const SWITCH_MARGIN: f64 = 0.1;
/// Frames after which a hypothesis that stands still is suspect.
pub const STILL_FRAMES: u32 = 25;
/// Evidence factor of a suspect (long-still) hypothesis.
pub const STILL_FACTOR: f64 = 0.25;
/// Movement in pixels under which a hypothesis stands still in the image (no homography).
pub const STILL_PX: f64 = 1.5;
/// Movement in metres under which a hypothesis stands still on the pitch.
pub const STILL_M: f64 = 0.1;
/// Least track score of a hypothesis that becomes the ball when there is none (a confident
/// single candidate, [`ACQUIRE_SCORE`], always does). On the rendered match the ball's candidates
/// score 0.66 in the median and heads and marks 0.40: reporting no ball beats reporting a head.
pub const ADOPT_SCORE: f64 = 0.5;
/// Distance beyond the touch and goal lines (metres) past which a candidate's ground point is
/// off the pitch.
pub const OFF_PITCH_M: f64 = 1.0;
/// Evidence factor of a candidate off the pitch: a ball there is out of play, or in the air
/// (its centre projects behind its ground point); heads of people beyond the lines are there
/// too.
pub const OFF_PITCH_FACTOR: f64 = 0.5;
/// Most hypotheses followed at once.
pub const MAX_HYPOTHESES: usize = 8;
/// Acceleration noise of the motion model, pixels / frame².
const ACCEL_STD: f64 = 1.5;
/// Velocity spread of a filter started from one candidate, pixels / frame.
const INITIAL_VELOCITY_STD: f64 = 8.0;
/// Particles per hypothesis of the particle filter.
pub const PARTICLES: usize = 400;
/// Seed of the particle filter (mixed with the frame index and hypothesis at each start).
const SEED: u64 = 0x5EED_BA11;
/// Pitch size used for the marking model (the homography file's default; Law 1 allows
/// 100–110 × 64–75 m, and the marks near the centre do not depend on it).
const PITCH: [f64; 2] = [105.0, 68.0];

/// Measurement noise (pixels) of a candidate of radius `r`: detectors place a small ball
/// within about a pixel and a large one within a fraction of its radius.
fn meas_std(r: f64) -> f64 {
    (0.3 * r).max(1.0)
}

/// What a frame's record says around its ball candidates: player boxes (tracks or detections)
/// and the image → pitch homography. Everything is optional: with nothing known, only the size
/// rule applies.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameContext<'a> {
    /// Boxes of the people in the frame.
    pub players: &'a [BBox],
    /// The frame's image → pitch homography, row-major.
    pub homography: Option<&'a [[f64; 3]; 3]>,
}

/// The filter following one hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Filter {
    Kalman(PointState),
    Particles(ParticleCloud),
}

/// A candidate that passed the per-frame rules: centre, radius, score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Candidate {
    x: f64,
    y: f64,
    r: f64,
    score: f32,
}

/// One candidate track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Hypothesis {
    /// Unique within a run, in creation order (ties are broken by it, so runs are reproducible).
    id: u64,
    filter: Filter,
    /// Consecutive frames without a matched candidate.
    missing: u32,
    /// Frames with a matched candidate.
    hits: u32,
    /// Exponentially weighted sums of evidence and of weights: the track score is their ratio.
    evidence: f64,
    weight: f64,
    /// Where the hypothesis stands still since `still` matched frames: image pixels, or pitch
    /// metres when `anchor_on_pitch`.
    anchor: [f64; 2],
    anchor_on_pitch: bool,
    still: u32,
    /// Consecutive frames (with a match) in which it beat the primary.
    better: u32,
    /// The candidate matched in the current frame.
    #[serde(skip)]
    matched: Option<Candidate>,
}

impl Hypothesis {
    fn score(&self) -> f64 {
        if self.weight > 0.0 { self.evidence / self.weight } else { 0.0 }
    }
}

/// Everything that carries over from one frame to the next.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct BallTrackerState {
    /// Frames processed so far.
    frame: u64,
    /// Hypotheses followed, in creation order.
    hyps: Vec<Hypothesis>,
    /// Id of the hypothesis reported as the ball.
    primary: Option<u64>,
    /// Next hypothesis id.
    next_id: u64,
    /// Position of the last tracked frame.
    last: Option<[f32; 2]>,
    /// The previous frame's unmatched candidates (for new hypotheses by pairs).
    pending: Vec<Candidate>,
}

#[derive(Serialize, Deserialize)]
struct SavedState {
    version: u32,
    state: BallTrackerState,
}

/// The ball tracking stage (see the [module docs](self)): requires
/// [`Artifact::BALL_CANDIDATES`], provides [`Artifact::BALL`], and runs after the stages that
/// provide [`Artifact::HOMOGRAPHY`], [`Artifact::PLAYER_DETECTIONS`] and
/// [`Artifact::PLAYER_TRACKS`] when the pipeline has them. Usable alone through
/// [`BallTracker::update`] and [`BallTracker::update_with`].
#[derive(Debug, Clone)]
pub struct BallTracker {
    cfg: BallTrackingConfig,
    kf: PointKalmanFilter,
    pf: ParticleFilter,
    state: BallTrackerState,
}

impl BallTracker {
    /// A tracker with the given settings; fails with the config check's error
    /// ([`validate_config`]) when one is invalid.
    pub fn new(cfg: &BallTrackingConfig) -> Result<Self> {
        validate_config(cfg)?;
        Ok(BallTracker {
            cfg: cfg.clone(),
            kf: PointKalmanFilter { accel_std: ACCEL_STD, initial_velocity_std: INITIAL_VELOCITY_STD },
            pf: ParticleFilter {
                particles: cfg.particles,
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

    /// Tracks one frame knowing nothing but its ball candidates: returns the ball, or `None`
    /// while no ball has been found yet.
    pub fn update(&mut self, candidates: &[Detection]) -> Option<BallObservation> {
        self.update_with(candidates, &FrameContext::default())
    }

    /// Tracks one frame with what its record knows around the candidates (player boxes,
    /// homography): returns the ball, or `None` while no ball has been found yet.
    pub fn update_with(&mut self, candidates: &[Detection], ctx: &FrameContext) -> Option<BallObservation> {
        let cfg = &self.cfg;
        let (lo, hi) = (cfg.min_ball_radius as f64, cfg.max_ball_radius as f64);
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
            .filter(|c| !ctx.players.iter().any(|p| in_head_region(p, c.x as f32, c.y as f32)))
            .filter(|c| !ctx.homography.is_some_and(|h| on_pitch_marking(h, [c.x, c.y], c.r)))
            .collect();
        let st = &mut self.state;
        st.frame += 1;
        let frame = st.frame;
        // Predict every hypothesis, then let each take the best candidate in its gate: the
        // primary first, then the others by track score.
        rank(&mut st.hyps, st.primary);
        for h in &mut st.hyps {
            match &mut h.filter {
                Filter::Kalman(s) => self.kf.predict(s),
                Filter::Particles(c) => self.pf.predict(c),
            }
            let pred = position(&self.pf, &h.filter);
            let mut best: Option<(usize, f64)> = None;
            for (i, c) in cands.iter().enumerate() {
                let ms = meas_std(c.r);
                let d2 = match &h.filter {
                    Filter::Kalman(s) => self.kf.mahalanobis_sq(s, [c.x, c.y], ms),
                    Filter::Particles(p) => self.pf.mahalanobis_sq(p, [c.x, c.y], ms),
                };
                let near =
                    (c.x - pred[0] as f64).hypot(c.y - pred[1] as f64) <= gate_cap(c.r.max(lo), cfg.gate_cap_radii);
                if d2 <= CHI2_2DOF_999 && near {
                    let cost = d2 - 2.0 * (c.score.max(1e-3) as f64).ln();
                    if best.is_none_or(|(_, b)| cost < b) {
                        best = Some((i, cost));
                    }
                }
            }
            h.matched = None;
            if let Some((i, _)) = best {
                let c = cands.remove(i);
                let ms = meas_std(c.r);
                match &mut h.filter {
                    Filter::Kalman(s) => self.kf.update(s, [c.x, c.y], ms),
                    Filter::Particles(p) => self.pf.update(p, [c.x, c.y], ms),
                }
                h.missing = 0;
                h.hits += 1;
                h.matched = Some(c);
                observe(h, &c, ctx.homography, cfg);
            } else {
                h.missing += 1;
            }
        }
        let max_missing = cfg.max_missing_frames;
        st.hyps.retain(|h| h.missing <= max_missing);
        if st.primary.is_some_and(|id| !st.hyps.iter().any(|h| h.id == id)) {
            st.primary = None;
        }

        // New hypotheses from pairs of unmatched candidates of this and the previous frame.
        let mut fresh = Vec::new();
        while let Some((prev, c, i)) = best_pair(&st.pending, &cands, cfg.pair_max_distance_px) {
            cands.remove(i);
            st.pending.retain(|p| *p != prev);
            let id = st.next_id;
            st.next_id += 1;
            let mut h = start(&self.kf, &self.pf, cfg.tracking_method, id, frame, Some(prev), c);
            h.hits = 2;
            observe(&mut h, &prev, None, cfg);
            observe(&mut h, &c, ctx.homography, cfg);
            h.matched = Some(c);
            fresh.push(h);
        }
        // With no ball and no track good enough to be it, a confident single candidate starts
        // one and is the ball at once.
        let adoptable = |h: &Hypothesis| h.hits >= 2 && h.matched.is_some() && h.score() >= cfg.adopt_score;
        if st.primary.is_none()
            && !fresh.iter().chain(&st.hyps).any(adoptable)
            && let Some(i) = best_single(&cands, cfg.acquire_score)
        {
            let c = cands.remove(i);
            let id = st.next_id;
            st.next_id += 1;
            let mut h = start(&self.kf, &self.pf, cfg.tracking_method, id, frame, None, c);
            h.hits = 1;
            observe(&mut h, &c, ctx.homography, cfg);
            h.matched = Some(c);
            st.primary = Some(id);
            fresh.push(h);
        }
        st.hyps.extend(fresh);

        // The ball: the primary, or the best established hypothesis once it is gone.
        if st.primary.is_none() {
            st.primary = st
                .hyps
                .iter()
                .filter(|h| adoptable(h))
                .max_by(|a, b| a.score().total_cmp(&b.score()).then(b.id.cmp(&a.id)))
                .map(|h| h.id);
        }
        // A challenger consistently better than the primary takes over.
        if let Some(p) = st.primary {
            let primary_score = st.hyps.iter().find(|h| h.id == p).map_or(0.0, Hypothesis::score);
            let mut winner: Option<u64> = None;
            for h in st.hyps.iter_mut().filter(|h| h.id != p) {
                if h.matched.is_some() {
                    if h.score() > primary_score + cfg.switch_margin {
                        h.better += 1;
                    } else {
                        h.better = 0;
                    }
                }
                if h.better >= cfg.switch_frames && h.hits >= cfg.switch_frames {
                    winner = Some(winner.map_or(h.id, |w| w.min(h.id)));
                }
            }
            if let Some(w) = winner {
                st.primary = Some(w);
                for h in &mut st.hyps {
                    h.better = 0;
                }
            }
        }
        // Keep the primary and the best others.
        if st.hyps.len() > cfg.max_hypotheses {
            rank(&mut st.hyps, st.primary);
            st.hyps.truncate(cfg.max_hypotheses);
        }
        st.hyps.sort_by_key(|h| h.id);
        st.pending = cands;

        match st.primary.and_then(|p| st.hyps.iter().find(|h| h.id == p)) {
            Some(h) => {
                let [x, y] = position(&self.pf, &h.filter);
                Some(match h.matched {
                    Some(c) => {
                        st.last = Some([x, y]);
                        BallObservation {
                            x,
                            y,
                            state: BallState::Tracked,
                            interpolated: false,
                            score: c.score,
                            measured: Some([c.x as f32, c.y as f32]),
                        }
                    }
                    None => BallObservation {
                        x,
                        y,
                        state: BallState::Occluded,
                        interpolated: false,
                        score: 0.0,
                        measured: None,
                    },
                })
            }
            None => st.last.map(|[x, y]| BallObservation {
                x,
                y,
                state: BallState::Lost,
                interpolated: false,
                score: 0.0,
                measured: None,
            }),
        }
    }
}

/// A hypothesis started at candidate `c` (with `prev`, its partner of the previous frame,
/// giving the velocity).
fn start(
    kf: &PointKalmanFilter,
    pf: &ParticleFilter,
    method: BallTrackingMethod,
    id: u64,
    frame: u64,
    prev: Option<Candidate>,
    c: Candidate,
) -> Hypothesis {
    let ms = meas_std(c.r);
    let filter = match method {
        BallTrackingMethod::Kalman => Filter::Kalman(match prev {
            Some(p) => kf.initiate_two([p.x, p.y], [c.x, c.y], ms),
            None => kf.initiate([c.x, c.y], ms),
        }),
        BallTrackingMethod::ParticleFilter => {
            let (v, vs) = match prev {
                Some(p) => ([c.x - p.x, c.y - p.y], (2.0f64).sqrt() * ms + ACCEL_STD),
                None => ([0.0, 0.0], INITIAL_VELOCITY_STD),
            };
            let seed = SEED ^ frame.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ id.wrapping_mul(0xD1B5_4A32_D192_ED03);
            Filter::Particles(pf.initiate([c.x, c.y], v, ms, vs, seed))
        }
    };
    Hypothesis {
        id,
        filter,
        missing: 0,
        hits: 0,
        evidence: 0.0,
        weight: 0.0,
        anchor: [c.x, c.y],
        anchor_on_pitch: false,
        still: 0,
        better: 0,
        matched: None,
    }
}

/// Orders hypotheses by precedence: the primary, then by track score (ties by id).
fn rank(hyps: &mut [Hypothesis], primary: Option<u64>) {
    hyps.sort_by(|a, b| {
        (Some(b.id) == primary)
            .cmp(&(Some(a.id) == primary))
            .then(b.score().total_cmp(&a.score()))
            .then(a.id.cmp(&b.id))
    });
}

/// The gate's largest radius in pixels for a candidate of radius `r`, with a cap of
/// `cap_radii` radii.
fn gate_cap(r: f64, cap_radii: f64) -> f64 {
    cap_radii * r.max(1.0)
}

/// Adds a matched candidate to a hypothesis's stillness count and track score.
fn observe(h: &mut Hypothesis, c: &Candidate, homography: Option<&[[f64; 3]; 3]>, cfg: &BallTrackingConfig) {
    // Stillness is measured on the pitch when the frame is calibrated (a camera pan moves
    // everything in the image), else in the image.
    let here = homography.and_then(|m| apply_homography(m, c.x, c.y));
    let (p, on_pitch, tol) = match here {
        Some(p) => (p, true, STILL_M),
        None => ([c.x, c.y], false, STILL_PX),
    };
    if on_pitch == h.anchor_on_pitch && (p[0] - h.anchor[0]).hypot(p[1] - h.anchor[1]) <= tol {
        h.still += 1;
    } else {
        h.anchor = p;
        h.anchor_on_pitch = on_pitch;
        h.still = 0;
    }
    let off_pitch =
        on_pitch && (p[0].abs() > PITCH[0] / 2.0 + OFF_PITCH_M || p[1].abs() > PITCH[1] / 2.0 + OFF_PITCH_M);
    let factor = if off_pitch { cfg.off_pitch_factor } else { 1.0 };
    h.evidence = cfg.score_decay * h.evidence + factor * evidence(c.score, h.still, cfg);
    h.weight = cfg.score_decay * h.weight + 1.0;
}

/// The evidence a matched candidate of `score` gives a hypothesis that has stood still for
/// `still` frames: long-still things are pitch marks, graphics or a dead ball, so from
/// `cfg.still_frames` frames on the score counts `cfg.still_factor` times.
pub fn evidence(score: f32, still: u32, cfg: &BallTrackingConfig) -> f64 {
    let s = score.clamp(0.0, 1.0) as f64;
    if still >= cfg.still_frames { s * cfg.still_factor } else { s }
}

/// Whether (x, y) lies in the head region of a player box: its top [`HEAD_FRACTION`].
pub fn in_head_region(p: &BBox, x: f32, y: f32) -> bool {
    let (cx, half) = (p.x + p.w / 2.0, HEAD_WIDTH * p.w / 2.0);
    (x - cx).abs() <= half && y >= p.y && y <= p.y + HEAD_FRACTION * p.h
}

/// Whether a candidate centred at pixel `c` with radius `r` pixels lies on a pitch marking,
/// through the image → pitch homography `h` (see the [module docs](self)).
pub fn on_pitch_marking(h: &[[f64; 3]; 3], c: [f64; 2], r: f64) -> bool {
    let Some(p) = apply_homography(h, c[0], c[1]) else { return false };
    if !(p[0].is_finite() && p[1].is_finite()) {
        return false;
    }
    // The candidate's radius on the pitch, measured along the image's vertical (where the
    // perspective foreshortens most, so the larger of the two).
    let r_m = [[0.0, r], [r, 0.0]]
        .iter()
        .filter_map(|d| apply_homography(h, c[0] + d[0], c[1] + d[1]))
        .map(|q| (q[0] - p[0]).hypot(q[1] - p[1]))
        .fold(0.0, f64::max);
    pitch::distance_to_markings(p, PITCH[0], PITCH[1]) <= MARK_MARGIN_M + r_m.min(MARK_MAX_RADIUS_M)
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

/// The pair (previous frame's candidate, this frame's candidate and its index in `cands`)
/// with the highest score sum among those at most `max_distance` pixels apart.
fn best_pair(pending: &[Candidate], cands: &[Candidate], max_distance: f64) -> Option<(Candidate, Candidate, usize)> {
    let mut best: Option<(Candidate, Candidate, usize, f32)> = None;
    for (i, c) in cands.iter().enumerate() {
        for p in pending {
            if (c.x - p.x).hypot(c.y - p.y) <= max_distance {
                let s = c.score + p.score;
                if best.as_ref().is_none_or(|b| s > b.3) {
                    best = Some((*p, *c, i, s));
                }
            }
        }
    }
    best.map(|(p, c, i, _)| (p, c, i))
}

/// The index of the best single candidate with a score of at least `acquire_score`.
fn best_single(cands: &[Candidate], acquire_score: f32) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, c) in cands.iter().enumerate() {
        if c.score >= acquire_score && best.is_none_or(|b| c.score > b.1) {
            best = Some((i, c.score));
        }
    }
    best.map(|b| b.0)
}

/// Checks the ball radius range: `0 < min_ball_radius ≤ max_ball_radius < ∞` (a radius of 0
/// would let every stray pixel pass for a ball). The config check, the tracker and the
/// classical ball detector all use this one rule.
pub fn validate_radius_range(c: &BallTrackingConfig) -> std::result::Result<(), ConfigError> {
    let (min_r, max_r) = (c.min_ball_radius, c.max_ball_radius);
    if min_r > 0.0 && min_r <= max_r && max_r.is_finite() {
        return Ok(());
    }
    Err(ConfigError::invalid(
        "stage_configs.ball_tracking",
        "min_ball_radius",
        "0 < min_ball_radius ≤ max_ball_radius < ∞",
        (min_r, max_r),
    ))
}

/// Checks a [`BallTrackingConfig`]: the radius range ([`validate_radius_range`]) and the
/// tuning keys.
pub fn validate_config(c: &BallTrackingConfig) -> std::result::Result<(), ConfigError> {
    const SECTION: &str = "stage_configs.ball_tracking";
    validate_radius_range(c)?;
    let unit = |key: &str, v: f64| {
        if (0.0..=1.0).contains(&v) { Ok(()) } else { Err(ConfigError::invalid(SECTION, key, "a number in [0, 1]", v)) }
    };
    let positive = |key: &str, v: f64| {
        if v > 0.0 && v.is_finite() {
            Ok(())
        } else {
            Err(ConfigError::invalid(SECTION, key, "a positive finite number", v))
        }
    };
    let at_least_one = |key: &str, v: usize| {
        if v >= 1 { Ok(()) } else { Err(ConfigError::invalid(SECTION, key, "an integer ≥ 1", v)) }
    };
    unit("acquire_score", c.acquire_score as f64)?;
    unit("adopt_score", c.adopt_score)?;
    positive("pair_max_distance_px", c.pair_max_distance_px)?;
    positive("gate_cap_radii", c.gate_cap_radii)?;
    at_least_one("switch_frames", c.switch_frames as usize)?;
    unit("switch_margin", c.switch_margin)?;
    // A weight of 1 would never let a new frame count.
    if !(0.0..1.0).contains(&c.score_decay) {
        return Err(ConfigError::invalid(SECTION, "score_decay", "a number in [0, 1)", c.score_decay));
    }
    at_least_one("still_frames", c.still_frames as usize)?;
    unit("still_factor", c.still_factor)?;
    unit("off_pitch_factor", c.off_pitch_factor)?;
    at_least_one("max_hypotheses", c.max_hypotheses)?;
    at_least_one("particles", c.particles)?;
    Ok(())
}

/// Player boxes a record knows about: tracks (which carry predicted boxes through missed
/// detections), else detections.
fn player_boxes(r: &FrameRecord) -> Vec<BBox> {
    match (&r.tracks, &r.players) {
        (Some(t), _) => t.iter().map(|t| t.bbox).collect(),
        (None, Some(p)) => p.iter().map(|d| d.bbox).collect(),
        (None, None) => Vec::new(),
    }
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

    fn after(&self) -> Vec<Artifact> {
        vec![Artifact::HOMOGRAPHY, Artifact::PLAYER_DETECTIONS, Artifact::PLAYER_TRACKS]
    }
}

impl StreamStage for BallTracker {
    fn process(&mut self, batch: &mut FrameBatch, _ctx: &StageContext) -> Result<()> {
        // Check the whole batch first so that a failure leaves the state untouched.
        require_in_batch(batch, "ball_tracking", "ball candidates", &Artifact::BALL_CANDIDATES, |r| {
            r.ball_candidates.is_some()
        })?;
        for item in &mut batch.items {
            let r = &item.record;
            let players = player_boxes(r);
            let ctx = FrameContext { players: &players, homography: r.homography.as_ref() };
            let ball = self.update_with(r.ball_candidates.as_deref().unwrap_or_default(), &ctx);
            item.record.ball = ball;
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
/// Measurement noise (pixels) with which the smoother's forward pass gates its measurements:
/// a measurement outside the 99.9 % gate starts a new segment.
const SMOOTH_GATE_STD: f64 = 3.0;

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
            let mut rest = &mut seg[first..=last];
            // Split where the motion model cannot reach the next measurement.
            while !rest.is_empty() {
                let end = self.smooth_segment(rest);
                let next = rest[end..].iter().position(|b| b.is_some_and(|b| b.measured.is_some()));
                rest = match next {
                    Some(k) => &mut rest[end + k..],
                    None => break,
                };
            }
        }
    }

    /// Forward Kalman pass and RTS over frames from one measured frame up to the last measured
    /// frame before a measurement outside the gate (or the end); returns the number of frames
    /// smoothed.
    fn smooth_segment(&self, seg: &mut [Option<BallObservation>]) -> usize {
        // The smoother has no candidate sizes: 1 px measurement noise (the tracker's floor).
        let ms = meas_std(0.0);
        let (mut pred, mut filt) = (Vec::with_capacity(seg.len()), Vec::with_capacity(seg.len()));
        let mut s: Option<PointState> = None;
        let mut last_measured = 0;
        for (k, b) in seg.iter().enumerate() {
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
                    if let Some(z) = z {
                        if self.kf.mahalanobis_sq(st, z, SMOOTH_GATE_STD) > CHI2_2DOF_999 {
                            break;
                        }
                        last_measured = k;
                    }
                    pred.push(st.clone());
                    if let Some(z) = z {
                        self.kf.update(st, z, ms);
                    }
                    filt.push(st.clone());
                }
                (None, None) => unreachable!("segments start with a measured frame"),
            }
        }
        let n = last_measured + 1;
        let smoothed = self.kf.rts_smooth(&pred[..n], &filt[..n]);
        for (b, s) in seg.iter_mut().zip(&smoothed) {
            if let Some(b) = b {
                b.x = s.mean[0] as f32;
                b.y = s.mean[1] as f32;
                b.interpolated = b.measured.is_none();
            }
        }
        n
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
            ..Default::default()
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

    /// A ball moving right at 4 px/frame from (100, 300), score 0.7, radius 3.
    fn ball_at(t: usize) -> Detection {
        cand(100.0 + 4.0 * t as f32, 300.0, 3.0, 0.7)
    }

    fn both_methods() -> [BallTrackingMethod; 2] {
        [BallTrackingMethod::Kalman, BallTrackingMethod::ParticleFilter]
    }

    #[test]
    fn the_gate_is_capped_after_a_long_occlusion() {
        for method in both_methods() {
            let cfg = BallTrackingConfig { max_missing_frames: 100, ..cfg(method) };
            let mut tr = BallTracker::new(&cfg).unwrap();
            for t in 0..20 {
                tr.update(&[ball_at(t)]);
            }
            for _ in 0..60 {
                assert_eq!(tr.update(&[]).unwrap().state, BallState::Occluded);
            }
            // 60 unseen frames: the predicted position's spread is ~400 px, so a candidate
            // 300 px from the prediction is inside the χ² gate; the cap (25 radii = 75 px) keeps
            // it out.
            let pred = tr.update(&[]).unwrap();
            let far = cand(pred.x + 4.0 + 300.0, pred.y, 3.0, 0.6);
            let b = tr.update(&[far]).unwrap();
            assert_eq!(b.state, BallState::Occluded, "{method:?}: {b:?}");
            // One within the cap is taken.
            let near = cand(b.x + 4.0 + 50.0, b.y, 3.0, 0.6);
            let b = tr.update(&[near]).unwrap();
            assert_eq!(b.state, BallState::Tracked, "{method:?}: {b:?}");
            assert_eq!(gate_cap(3.0, GATE_CAP_RADII), 75.0);
        }
    }

    #[test]
    fn a_consistently_better_candidate_takes_over_and_a_flash_does_not() {
        for method in both_methods() {
            let mut tr = BallTracker::new(&cfg(method)).unwrap();
            // A "head" (score 0.55, walking) is all there is for 20 frames: it is the ball.
            let head = |t: usize| cand(800.0 + t as f32, 500.0, 3.0, 0.55);
            for t in 0..20 {
                tr.update(&[head(t)]);
            }
            // A better candidate for two frames only, far away: nothing changes.
            for t in 20..22 {
                let b = tr.update(&[head(t), cand(300.0, 200.0 + 3.0 * t as f32, 3.0, 0.95)]).unwrap();
                assert!((b.x - 800.0 - t as f32).abs() < 2.0, "{method:?} frame {t}: {b:?}");
            }
            // The real ball (score 0.8) appears and stays: after SWITCH_FRAMES frames in which it
            // was the better track, it is the ball; never before its second frame.
            let ball = |t: usize| cand(100.0 + 5.0 * t as f32, 300.0, 3.0, 0.8);
            let mut switched = None;
            for t in 22..40 {
                let b = tr.update(&[head(t), ball(t)]).unwrap();
                let on_ball = (b.x - ball(t).bbox.x - 3.0).abs() < 2.0;
                if on_ball && switched.is_none() {
                    switched = Some(t);
                }
                if switched.is_some() {
                    assert!(on_ball && b.state == BallState::Tracked, "{method:?} frame {t}: {b:?}");
                }
            }
            // Paired at frame 23 (2 matched frames), better from then on: the 5th better frame
            // is frame 27 (the particle cloud started from the pair may miss the ball's third
            // frame, which costs one frame).
            let expected = 22 + 1 + SWITCH_FRAMES as usize - 1;
            match method {
                BallTrackingMethod::Kalman => assert_eq!(switched, Some(expected)),
                BallTrackingMethod::ParticleFilter => {
                    assert!(switched.is_some_and(|t| t == expected || t == expected + 1), "{switched:?}")
                }
            }
        }
    }

    #[test]
    fn candidates_on_heads_are_dropped() {
        let player = BBox::new(500.0, 200.0, 40.0, 100.0);
        // Head region: the top 15 px of the box, its middle 20 px across.
        assert!(in_head_region(&player, 520.0, 210.0) && in_head_region(&player, 510.0, 215.0));
        assert!(!in_head_region(&player, 520.0, 216.0) && !in_head_region(&player, 509.0, 210.0));
        assert!(!in_head_region(&player, 520.0, 199.0) && !in_head_region(&player, 531.0, 205.0));
        for method in both_methods() {
            let mut tr = BallTracker::new(&cfg(method)).unwrap();
            let players = [player];
            let ctx = FrameContext { players: &players, homography: None };
            for t in 0..10 {
                // A confident "head" and a weaker ball at the player's feet.
                let b = tr
                    .update_with(&[cand(520.0, 208.0, 3.0, 0.99), cand(400.0 + 5.0 * t as f32, 298.0, 3.0, 0.5)], &ctx)
                    .map(|b| (b.x, b.y));
                if t >= 1 {
                    let (x, y) = b.unwrap();
                    assert!((x - 400.0 - 5.0 * t as f32).abs() < 2.0 && (y - 298.0).abs() < 2.0, "{method:?} {t}");
                }
            }
        }
    }

    /// Image → pitch for a camera looking straight down, 10 px per metre, the pitch's corner
    /// (−52.5, −34) at pixel (0, 0).
    const TOP_DOWN: [[f64; 3]; 3] = [[0.1, 0.0, -52.5], [0.0, 0.1, -34.0], [0.0, 0.0, 1.0]];

    #[test]
    fn candidates_on_pitch_markings_are_dropped() {
        let px = |x: f64, y: f64| [(x + 52.5) * 10.0, (y + 34.0) * 10.0];
        // Radius 1 px = 0.1 m on the pitch: the margin is 0.15 + 0.1 m.
        let on = |x: f64, y: f64| on_pitch_marking(&TOP_DOWN, px(x, y), 1.0);
        assert!(on(41.5, 0.0) && on(-41.5, 0.2) && on(0.0, 0.0) && on(0.24, 10.0) && on(52.5, 30.0));
        assert!(!on(41.5, 0.3) && !on(0.3, 10.0) && !on(20.0, 5.0) && !on(47.3, 5.0));
        // Radius 5 px = 0.5 m: only 0.15 m of it counts.
        assert!(on_pitch_marking(&TOP_DOWN, px(41.5, 0.29), 5.0));
        assert!(!on_pitch_marking(&TOP_DOWN, px(41.5, 0.31), 5.0));
        // A high-scoring penalty spot and a weaker ball rolling past it: the ball is followed.
        for method in both_methods() {
            let mut tr = BallTracker::new(&BallTrackingConfig { max_ball_radius: 10.0, ..cfg(method) }).unwrap();
            let ctx = FrameContext { players: &[], homography: Some(&TOP_DOWN) };
            let spot = px(41.5, 0.0);
            for t in 0..30 {
                // Clear of every marking (the penalty arc ends at y = ±7.3 m).
                let ball = px(20.0 + 0.3 * t as f64, 10.0);
                let cands =
                    [cand(spot[0] as f32, spot[1] as f32, 2.0, 0.95), cand(ball[0] as f32, ball[1] as f32, 2.0, 0.5)];
                let b = tr.update_with(&cands, &ctx);
                if t >= 1 {
                    let b = b.unwrap();
                    assert!(
                        (b.x as f64 - ball[0]).abs() < 2.0 && b.state == BallState::Tracked,
                        "{method:?} {t}: {b:?}"
                    );
                }
            }
            // Without the homography the spot, the better candidate, is taken.
            let mut tr = BallTracker::new(&BallTrackingConfig { max_ball_radius: 10.0, ..cfg(method) }).unwrap();
            let b = tr.update(&[cand(spot[0] as f32, spot[1] as f32, 2.0, 0.95)]).unwrap();
            assert!(b.state == BallState::Tracked && (b.x as f64 - spot[0]).hypot(b.y as f64 - spot[1]) < 0.1);
        }
    }

    #[test]
    fn a_long_still_candidate_loses_to_a_moving_one() {
        let d = BallTrackingConfig::default();
        assert_eq!(evidence(0.8, STILL_FRAMES - 1, &d), 0.800000011920929);
        assert_eq!(evidence(0.8, STILL_FRAMES, &d), 0.800000011920929 * STILL_FACTOR);
        for method in both_methods() {
            let mut tr = BallTracker::new(&cfg(method)).unwrap();
            // A mark (score 0.8, perfectly still in the image) and the ball (0.6, moving) from
            // the first frame: the mark wins the start, then is suspect from frame 25 on.
            let mut on_ball = Vec::new();
            for t in 0..60 {
                let b = tr.update(&[cand(700.0, 400.0, 3.0, 0.8), ball_at(t)]).unwrap();
                on_ball.push((b.x - 100.0 - 4.0 * t as f32).abs() < 2.0);
            }
            let first = on_ball.iter().position(|&b| b).unwrap();
            assert!(on_ball[..STILL_FRAMES as usize].iter().all(|&b| !b), "{method:?}: {on_ball:?}");
            assert!(first <= STILL_FRAMES as usize + 2 * SWITCH_FRAMES as usize, "{method:?}: {first}");
            assert!(on_ball[first..].iter().all(|&b| b), "{method:?}: {on_ball:?}");
        }
    }

    #[test]
    fn weak_or_off_pitch_tracks_are_not_adopted() {
        for method in both_methods() {
            // Pairs of candidates scoring 0.45 (a head's typical score): no ball.
            let mut tr = BallTracker::new(&cfg(method)).unwrap();
            for t in 0..10 {
                assert_eq!(tr.update(&[cand(100.0 + 4.0 * t as f32, 300.0, 3.0, 0.45)]), None, "{method:?}");
            }
            // At 0.6 the next pair is the ball.
            tr.update(&[cand(500.0, 300.0, 3.0, 0.6)]);
            assert_eq!(tr.update(&[cand(504.0, 300.0, 3.0, 0.6)]).unwrap().state, BallState::Tracked);
            // 0.6 on the pitch is the ball; 0.6 three metres beyond the touchline (evidence
            // halved) is not.
            let ctx = FrameContext { players: &[], homography: Some(&TOP_DOWN) };
            let at = |y_m: f64, t: usize| cand((100.0 + 3.0 * t as f64) as f32, ((y_m + 34.0) * 10.0) as f32, 1.0, 0.6);
            let mut on = BallTracker::new(&cfg(method)).unwrap();
            let mut off = BallTracker::new(&cfg(method)).unwrap();
            for t in 0..5 {
                let a = on.update_with(&[at(5.0, t)], &ctx);
                let b = off.update_with(&[at(37.0, t)], &ctx);
                assert_eq!(a.is_some(), t >= 1, "{method:?}");
                assert_eq!(b, None, "{method:?}");
            }
        }
    }

    #[test]
    fn smoothing_does_not_smear_a_jump_between_hypotheses() {
        // Measured positions along a line, then (after a switch) 300 px away along another.
        let obs = |x: f32, y: f32| {
            Some(BallObservation {
                x,
                y,
                state: BallState::Tracked,
                interpolated: false,
                score: 0.8,
                measured: Some([x, y]),
            })
        };
        let mut balls: Vec<Option<BallObservation>> = (0..20).map(|t| obs(100.0 + 3.0 * t as f32, 200.0)).collect();
        balls.extend((20..40).map(|t| obs(460.0 + 3.0 * t as f32, 500.0)));
        let before = balls.clone();
        BallSmoothing::new().smooth(&mut balls);
        for (t, (a, b)) in before.iter().zip(&balls).enumerate() {
            let (a, b) = (a.unwrap(), b.unwrap());
            // Noise-free straight lines: the smoothed positions are the measurements.
            assert!((a.x - b.x).abs() < 0.05 && (a.y - b.y).abs() < 0.05, "frame {t}: {a:?} -> {b:?}");
        }
    }

    /// Frame at which the tracker first reports the real ball in the takeover scene of
    /// `a_consistently_better_candidate_takes_over_and_a_flash_does_not` (Kalman).
    fn takeover_frame(cfg: &BallTrackingConfig) -> Option<usize> {
        let mut tr = BallTracker::new(cfg).unwrap();
        let head = |t: usize| cand(800.0 + t as f32, 500.0, 3.0, 0.55);
        let ball = |t: usize| cand(100.0 + 5.0 * t as f32, 300.0, 3.0, 0.8);
        for t in 0..22 {
            tr.update(&[head(t)]);
        }
        (22..40).find(|&t| {
            let b = tr.update(&[head(t), ball(t)]).unwrap();
            (b.x - ball(t).bbox.x - 3.0).abs() < 2.0
        })
    }

    #[test]
    fn configured_values_change_the_tracker_the_expected_way() {
        let base = cfg(BallTrackingMethod::Kalman);
        let with = |f: &dyn Fn(&mut BallTrackingConfig)| {
            let mut c = base.clone();
            f(&mut c);
            BallTracker::new(&c).unwrap()
        };
        let state = |b: Option<BallObservation>| b.map(|b| b.state);

        // switch_frames: the ball (paired at frame 23) takes over at frame 22 + switch_frames.
        assert_eq!(takeover_frame(&base), Some(27));
        assert_eq!(takeover_frame(&BallTrackingConfig { switch_frames: 2, ..base.clone() }), Some(24));
        assert_eq!(takeover_frame(&BallTrackingConfig { switch_frames: 8, ..base.clone() }), Some(30));
        // switch_margin: the ball's track (0.8) beats the head's (0.55) by 0.25, never by 0.3.
        assert_eq!(takeover_frame(&BallTrackingConfig { switch_margin: 0.3, ..base.clone() }), None);

        // acquire_score: a lone 0.7 candidate is not the ball by default, is at 0.7.
        let lone = [cand(300.0, 200.0, 3.0, 0.7)];
        assert_eq!(with(&|_| {}).update(&lone), None);
        let b = with(&|c| c.acquire_score = 0.7).update(&lone).unwrap();
        assert_eq!((b.state, b.x, b.y), (BallState::Tracked, 300.0, 200.0));

        // adopt_score: a pair scoring 0.45 is not adopted by default (0.5), is at 0.44 (the
        // track score is the f32 score widened: 0.449999988).
        let weak = |t: usize| [cand(100.0 + 4.0 * t as f32, 300.0, 3.0, 0.45)];
        let (mut strict, mut lax) = (with(&|_| {}), with(&|c| c.adopt_score = 0.44));
        for t in 0..5 {
            assert_eq!(strict.update(&weak(t)), None);
            assert_eq!(state(lax.update(&weak(t))), (t >= 1).then_some(BallState::Tracked), "frame {t}");
        }

        // pair_max_distance_px: 0.6 candidates 50 px apart pair up only with a limit ≥ 50.
        let step = |t: usize| [cand(100.0 + 50.0 * t as f32, 300.0, 3.0, 0.6)];
        let (mut short, mut long) = (with(&|_| {}), with(&|c| c.pair_max_distance_px = 50.0));
        for t in 0..2 {
            assert_eq!(short.update(&step(t)), None);
            assert_eq!(state(long.update(&step(t))), (t == 1).then_some(BallState::Tracked), "frame {t}");
        }

        // gate_cap_radii: after 60 unseen frames a candidate 300 px from the prediction is out
        // of the default 75 px cap, inside a 120-radii (360 px) one.
        for (radii, expected) in [(GATE_CAP_RADII, BallState::Occluded), (120.0, BallState::Tracked)] {
            let mut tr = with(&|c| {
                c.max_missing_frames = 100;
                c.gate_cap_radii = radii;
            });
            for t in 0..20 {
                tr.update(&[ball_at(t)]);
            }
            for _ in 0..60 {
                tr.update(&[]);
            }
            let pred = tr.update(&[]).unwrap();
            let b = tr.update(&[cand(pred.x + 4.0 + 300.0, pred.y, 3.0, 0.6)]).unwrap();
            assert_eq!(b.state, expected, "{radii} radii");
        }

        // still_factor 1: a still mark (0.8) is never discounted, so the moving ball (0.6)
        // never takes over; by default it does (see a_long_still_candidate_loses_to_a_moving_one).
        let mut tr = with(&|c| c.still_factor = 1.0);
        for t in 0..60 {
            let b = tr.update(&[cand(700.0, 400.0, 3.0, 0.8), ball_at(t)]).unwrap();
            assert_eq!((b.x, b.y), (700.0, 400.0), "frame {t}");
        }
        // still_frames 70: not suspect within the 60 frames either.
        let mut tr = with(&|c| c.still_frames = 70);
        for t in 0..60 {
            let b = tr.update(&[cand(700.0, 400.0, 3.0, 0.8), ball_at(t)]).unwrap();
            assert_eq!((b.x, b.y), (700.0, 400.0), "frame {t}");
        }

        // off_pitch_factor 1: a 0.6 track 3 m beyond the touchline is adopted like one on it.
        let ctx = FrameContext { players: &[], homography: Some(&TOP_DOWN) };
        let off = |t: usize| [cand((100.0 + 3.0 * t as f64) as f32, 710.0, 1.0, 0.6)];
        let (mut halved, mut full) = (with(&|_| {}), with(&|c| c.off_pitch_factor = 1.0));
        for t in 0..5 {
            assert_eq!(halved.update_with(&off(t), &ctx), None);
            assert_eq!(state(full.update_with(&off(t), &ctx)), (t >= 1).then_some(BallState::Tracked), "frame {t}");
        }

        // max_hypotheses 1: only the ball is followed, so a pair elsewhere never starts a second
        // hypothesis and the tracker's state holds one.
        let mut tr = with(&|c| c.max_hypotheses = 1);
        for t in 0..10 {
            let b = tr.update(&[ball_at(t), cand(600.0, 100.0 + 2.0 * t as f32, 3.0, 0.5)]);
            // Both pairs start at frame 1; the ball (0.7) is adopted and the other goes.
            assert_eq!(tr.state.hyps.len(), usize::from(t >= 1), "frame {t}");
            assert_eq!(b.map(|b| (b.x - 100.0 - 4.0 * t as f32).abs() < 0.5), (t >= 1).then_some(true), "frame {t}");
        }
        let mut tr = with(&|_| {});
        for t in 0..10 {
            tr.update(&[ball_at(t), cand(600.0, 100.0 + 2.0 * t as f32, 3.0, 0.5)]);
        }
        assert_eq!(tr.state.hyps.len(), 2);
    }

    #[test]
    fn rejects_bad_tuning_values() {
        type Set = fn(&mut BallTrackingConfig);
        let cases: [(&str, Set); 17] = [
            ("acquire_score", |c| c.acquire_score = 1.5),
            ("acquire_score", |c| c.acquire_score = f32::NAN),
            ("adopt_score", |c| c.adopt_score = -0.1),
            ("pair_max_distance_px", |c| c.pair_max_distance_px = 0.0),
            ("pair_max_distance_px", |c| c.pair_max_distance_px = f64::INFINITY),
            ("gate_cap_radii", |c| c.gate_cap_radii = -1.0),
            ("switch_frames", |c| c.switch_frames = 0),
            ("switch_margin", |c| c.switch_margin = 2.0),
            ("score_decay", |c| c.score_decay = 1.0),
            ("score_decay", |c| c.score_decay = -0.5),
            ("still_frames", |c| c.still_frames = 0),
            ("still_factor", |c| c.still_factor = 1.1),
            ("off_pitch_factor", |c| c.off_pitch_factor = f64::NAN),
            ("max_hypotheses", |c| c.max_hypotheses = 0),
            ("particles", |c| c.particles = 0),
            ("gate_cap_radii", |c| c.gate_cap_radii = f64::NAN),
            ("adopt_score", |c| c.adopt_score = 1.01),
        ];
        for (key, set) in cases {
            let mut c = BallTrackingConfig::default();
            set(&mut c);
            let e = validate_config(&c).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Invalid { key: k, .. } if *k == format!("stage_configs.ball_tracking.{key}")),
                "{key}: {e}"
            );
            let err = BallTracker::new(&c).unwrap_err().to_string();
            assert!(err.contains(&format!("stage_configs.ball_tracking.{key}")), "{err}");
        }
        assert!(validate_config(&BallTrackingConfig::default()).is_ok());
    }

    /// The tracker refuses every radius range the config check refuses, with the same typed
    /// error: inverted, zero, negative, NaN and infinite radii.
    #[test]
    fn rejects_the_radius_ranges_the_config_refuses() {
        let cases = [(9.0, 2.0), (0.0, 10.0), (0.0, 0.0), (-1.0, 10.0), (f32::NAN, 10.0), (1.0, f32::INFINITY)];
        for (min_ball_radius, max_ball_radius) in cases {
            let bad = BallTrackingConfig { min_ball_radius, max_ball_radius, ..Default::default() };
            let e = BallTracker::new(&bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{e}");
            let Error::Config(e) = e else { panic!("{e}") };
            assert_eq!(e.to_string(), validate_config(&bad).unwrap_err().to_string());
            assert!(
                matches!(&e, ConfigError::Invalid { key, .. } if key == "stage_configs.ball_tracking.min_ball_radius"),
                "{e}"
            );
        }
        // Through the config: the same error as the tracker's.
        let e = crate::PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"ball_tracking": {"min_ball_radius": 0}}}"#,
            |_| None,
        )
        .unwrap_err();
        let bad = BallTrackingConfig { min_ball_radius: 0.0, ..Default::default() };
        assert_eq!(e.to_string(), BallTracker::new(&bad).unwrap_err().to_string());
        // The smallest positive radius is fine.
        let tiny = BallTrackingConfig { min_ball_radius: f32::MIN_POSITIVE, ..Default::default() };
        assert!(BallTracker::new(&tiny).is_ok());
    }
}
