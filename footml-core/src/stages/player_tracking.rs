//! Player tracking: ByteTrack-style multi-object tracking of player detections.
//!
//! Each frame's detections are split by score. Every track's box is predicted by a
//! constant-velocity Kalman filter ([`crate::vision::kalman`]), then associated with the
//! detections by optimal assignment ([`crate::vision::assignment`]) on `1 − IoU`, in the
//! order of ByteTrack (Zhang et al., ECCV 2022):
//!
//! 1. confirmed tracks (tracked and lost) with the high-score detections (`1 − IoU · score`
//!    with `fuse_score`);
//! 2. tracks still unmatched that were tracked in the previous frame with the low-score
//!    detections, at a stricter IoU: a partly occluded player gets a low score, and these
//!    detections keep their tracks alive without being trusted to start new ones;
//! 3. *(not in ByteTrack)* confirmed tracks still unmatched with the high-score detections
//!    left, by the Mahalanobis distance of the detection from the track's Kalman prediction
//!    (`recovery_gate`);
//! 4. tentative (not yet confirmed) tracks with the high-score detections left;
//! 5. new tentative tracks from the high-score detections still left (`new_track_threshold`).
//!
//! Two changes from ByteTrack come from football seen by a wide camera, where a far player
//! is a box a few pixels wide that can move more than its width between two matches:
//! IoU is taken on boxes enlarged by `iou_buffer` (buffered IoU, after C-BIoU, Yang et al.
//! 2023, designed for sports tracking), and step 3 re-finds tracks whose boxes no longer
//! overlap their detection, with a gate that widens as the filter's uncertainty grows.
//! On the SkillCorner fixture (`tests/fixtures/skillcorner`) they raise IDF1 from 0.62 to
//! 0.67 and MOTA from 0.910 to 0.920. Both can be turned off (`0`) to get ByteTrack.
//!
//! A tentative track is confirmed, and gets its id, after `min_hits` consecutive matches
//! (on the tracker's very first frame at once, as ByteTrack does, so that the players
//! already on screen are reported from the start); it is dropped at its first miss. A
//! confirmed track that misses a frame becomes lost; it keeps being predicted and can be
//! re-found for `max_lost_frames` frames, after which it is deleted. Only confirmed tracks
//! matched in a frame are reported for that frame, with the Kalman-filtered box.
//!
//! A frame without detections (`players` is `None`: the detector skipped it, see
//! `detection_stride`) is not an observation: [`PlayerTracker::predict`] moves every track
//! one step along its Kalman prediction and reports the confirmed tracks matched in the
//! last observed frame at their predicted boxes. Such a frame does not count as a miss:
//! `min_hits` and `max_lost_frames` count observed frames only.
//!
//! **Calibrated frames** (a homography per frame, from pitch calibration): the tracker also
//! follows players on the pitch, so that ids survive what the camera does:
//!
//! * *camera motion compensation*: between two calibrated frames the camera's own motion is
//!   the image → image homography `H_t⁻¹ · H_{t−1}`; every track's Kalman state (box and
//!   velocity) is moved through it before the prediction, so a pan or zoom no longer looks like
//!   every player jumping at once (as BoT-SORT does with an estimated affine motion; here
//!   the motion is known exactly);
//! * *re-identification on the pitch* (step 3b, after the motion recovery): a lost track
//!   whose predicted box has left the picture is matched to a confident detection whose
//!   feet land within a radius of where its feet were last seen on the pitch, the radius
//!   growing with the time lost (`reid_gate_m`,
//!   `reid_max_speed_mps`, `reid_max_radius_m`); such tracks are kept for
//!   `reid_max_lost_frames`, so a player who leaves the picture and comes back gets his id
//!   back.
//!
//! **Appearance and team in re-identification.** Position alone swaps two players who trade
//! places while out of view. When the frames carry each detection's kit colour
//! ([`crate::FrameRecord::player_appearance`], measured from the pixels before tracking by
//! [`crate::stages::teams::PlayerAppearance`], the same torso colour team classification
//! uses) every track keeps an exponential moving average of its kit (`reid_kit_momentum`, in
//! shade-normalised CIELAB so that sun and shadow do not split a kit). Step 3b then costs a
//! pair `(1 − w) · d / r + w · ΔE / g`: the distance `d` on the pitch over the radius `r`, and
//! the kit difference over `g` = `reid_kit_gate`, with `w` = `reid_kit_weight`; a pair whose
//! kits differ by more than `g` (another team, a referee, a goalkeeper) is never joined, and
//! neither is one whose detection carries a user-given team (a detections file's team column,
//! [`crate::FrameRecord::player_teams`]) other than the majority of the track's. Where either
//! side has no kit colour (detections input, a hidden torso) the cost is the position alone.
//! A player coming back through the edge of the picture is first seen in a box cut by the
//! edge, which has no kit colour; while a lost track with a kit could be him, he is not
//! re-identified by position alone there: his detection starts a tentative track that is
//! neither confirmed nor reported while it stays at the edge without a kit, and once he
//! shows his kit, step 3b re-identifies him (the tentative track, unmatched, is dropped).
//! Team classification itself runs after the match (it needs every track's samples), so the
//! tracker compares kits directly instead of team labels: a different kit is a different team
//! or role, whichever team it turns out to be.
//!
//! Frames without a homography are tracked in the image alone, exactly as before.
//!
//! Everything is ordered (tracks by creation, detections by input order) and nothing
//! depends on hash-map iteration, so the same input gives the same output, bit for bit,
//! and a run resumed from [`StreamStage::save_state`] at any frame gives the same tracks
//! as an uninterrupted one.

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, PlayerTrackingConfig};
use crate::pipeline::stage::{Artifact, Stage, StageContext, StreamStage};
use crate::types::{BBox, Detection, FrameBatch, TrackedBox};
use crate::vision::assignment::LinearAssignment;
use crate::vision::colour::{delta_e, shade_normalised};
use crate::vision::geometry::{bbox_from_xyah, xyah_from_bbox};
use crate::vision::homography::{from_rows, transfer};
use crate::vision::kalman::{BoxKalmanFilter, BoxState};
use crate::{Error, Result};

/// Version of the format written by [`StreamStage::save_state`]; bumped when it changes so
/// that an old checkpoint is refused rather than misread.
const STATE_VERSION: u32 = 3;

/// Checks a [`PlayerTrackingConfig`]; errors name the key as in the pipeline config.
pub(crate) fn validate_config(cfg: &PlayerTrackingConfig) -> Result<(), ConfigError> {
    const SECTION: &str = "stage_configs.player_tracking";
    let unit = |key: &str, x: f32| {
        if (0.0..=1.0).contains(&x) { Ok(()) } else { Err(ConfigError::invalid(SECTION, key, "a number in [0, 1]", x)) }
    };
    unit("high_threshold", cfg.high_threshold)?;
    unit("low_threshold", cfg.low_threshold)?;
    unit("new_track_threshold", cfg.new_track_threshold)?;
    // A minimum IoU of 0 would let boxes that do not overlap at all match.
    let iou = |key: &str, x: f32| {
        if x > 0.0 && x <= 1.0 { Ok(()) } else { Err(ConfigError::invalid(SECTION, key, "a number in (0, 1]", x)) }
    };
    iou("match_iou", cfg.match_iou)?;
    iou("low_match_iou", cfg.low_match_iou)?;
    iou("unconfirmed_match_iou", cfg.unconfirmed_match_iou)?;
    if !(cfg.iou_buffer >= 0.0 && cfg.iou_buffer <= 2.0) {
        return Err(ConfigError::invalid(SECTION, "iou_buffer", "a number in [0, 2]", cfg.iou_buffer));
    }
    if !(cfg.recovery_gate >= 0.0 && cfg.recovery_gate.is_finite()) {
        return Err(ConfigError::invalid(SECTION, "recovery_gate", "a finite number ≥ 0", cfg.recovery_gate));
    }
    if cfg.low_threshold > cfg.high_threshold {
        return Err(ConfigError::invalid(SECTION, "low_threshold", "at most high_threshold", cfg.low_threshold));
    }
    if cfg.new_track_threshold < cfg.high_threshold {
        return Err(ConfigError::invalid(
            SECTION,
            "new_track_threshold",
            "at least high_threshold",
            cfg.new_track_threshold,
        ));
    }
    if cfg.min_hits == 0 {
        return Err(ConfigError::invalid(SECTION, "min_hits", "at least 1", cfg.min_hits));
    }
    for (key, v) in [
        ("reid_gate_m", cfg.reid_gate_m),
        ("reid_max_speed_mps", cfg.reid_max_speed_mps),
        ("reid_max_radius_m", cfg.reid_max_radius_m),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(ConfigError::invalid(SECTION, key, "a finite number ≥ 0", v));
        }
    }
    if !(0.0..=1.0).contains(&cfg.reid_kit_weight) {
        return Err(ConfigError::invalid(SECTION, "reid_kit_weight", "a number in [0, 1]", cfg.reid_kit_weight));
    }
    if !(cfg.reid_kit_gate.is_finite() && cfg.reid_kit_gate >= 0.0) {
        return Err(ConfigError::invalid(SECTION, "reid_kit_gate", "a finite ΔE ≥ 0", cfg.reid_kit_gate));
    }
    if !(0.0..1.0).contains(&cfg.reid_kit_momentum) {
        return Err(ConfigError::invalid(SECTION, "reid_kit_momentum", "a number in [0, 1)", cfg.reid_kit_momentum));
    }
    Ok(())
}

/// Where a track stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Status {
    /// Started, not yet confirmed: no id, not reported, dropped at its first miss.
    Tentative,
    /// Confirmed and matched in the last frame.
    Tracked,
    /// Confirmed, unmatched since `last_frame`.
    Lost,
}

/// One track and its filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Track {
    /// Id from 1 once confirmed, 0 while tentative.
    id: u64,
    status: Status,
    kalman: BoxState,
    /// Consecutive frames matched up to `last_frame`.
    hits: u32,
    /// Frame (tracker-local, from 1) of the last match.
    last_frame: u64,
    /// Score of the last matched detection.
    score: f32,
    /// Feet on the pitch (metres) when last matched in a calibrated frame.
    pitch: Option<[f64; 2]>,
    /// Lost, and its predicted box has left the picture since (a pan, a zoom, an exit): only
    /// such tracks are re-identified on the pitch; a track lost inside the picture is
    /// occluded, and there a nearby player is more often someone else.
    #[serde(default)]
    out_of_view: bool,
    /// Running average of the kit colour of its detections (shade-normalised CIELAB), when
    /// any had one.
    #[serde(default)]
    kit: Option<[f32; 3]>,
    /// Detections matched to it with a user-given team, per team (0, 1).
    #[serde(default)]
    team_votes: [u32; 2],
}

impl Track {
    /// The team most of its detections were given (none on a tie or without any).
    fn team(&self) -> Option<u32> {
        let [a, b] = self.team_votes;
        (a != b).then_some(u32::from(b > a))
    }

    /// Whether a detection is clearly someone else: its kit is more than `gate` ΔE from the
    /// track's (when `gate` > 0 and both are known), or its user-given team is not the track's.
    fn clashes(&self, c: &Cue, gate: f32) -> bool {
        let kits = gate > 0.0 && matches!((self.kit, c.kit), (Some(a), Some(b)) if delta_e(a, b) > gate);
        kits || matches!((self.team(), c.team), (Some(a), Some(b)) if a != b)
    }

    /// Takes in what the matched detection says about who this is.
    fn observe(&mut self, cue: Cue, momentum: f32) {
        if let Some(k) = cue.kit {
            self.kit = Some(match self.kit {
                Some(old) => std::array::from_fn(|c| momentum * old[c] + (1.0 - momentum) * k[c]),
                None => k,
            });
        }
        if let Some(t @ 0..=1) = cue.team {
            self.team_votes[t as usize] = self.team_votes[t as usize].saturating_add(1);
        }
    }
}

/// What is known about one detection besides its box: kit colour (shade-normalised) and team.
#[derive(Debug, Clone, Copy, Default)]
struct Cue {
    kit: Option<[f32; 3]>,
    team: Option<u32>,
}

/// Per-detection cues for [`PlayerTracker::update_with_cues`], each slice parallel to the
/// detections (or `None`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DetectionCues<'a> {
    /// Kit colour (median CIELAB of the torso, as in
    /// [`crate::FrameRecord::player_appearance`]) of each detection, `None` where unknown.
    pub kits: Option<&'a [Option<[f32; 3]>]>,
    /// Team (0 or 1) of each detection given by the user, `None` where unknown.
    pub teams: Option<&'a [Option<u32>]>,
}

/// Everything that carries over from one frame to the next.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct TrackerState {
    /// Observed frames (frames with detections) processed so far.
    frame: u64,
    /// The last id given out.
    last_id: u64,
    /// Live tracks in creation order.
    tracks: Vec<Track>,
    /// The previous frame's image → pitch homography, when it had one.
    prev_homography: Option<[[f64; 3]; 3]>,
}

#[derive(Serialize, Deserialize)]
struct SavedState {
    version: u32,
    state: TrackerState,
}

/// The player tracking stage: ByteTrack-style association of player detections into tracks
/// with stable ids (see the [module docs](self)).
///
/// Usable in a pipeline (it is a [`StreamStage`]: requires [`Artifact::PLAYER_DETECTIONS`],
/// provides [`Artifact::PLAYER_TRACKS`]) or on its own through [`PlayerTracker::update`]:
///
/// ```
/// use footml::stages::player_tracking::PlayerTracker;
/// use footml::{BBox, Detection};
///
/// let mut tracker = PlayerTracker::new(&Default::default())?;
/// for t in 0..10 {
///     let x = 100.0 + 3.0 * t as f32;
///     let players = [Detection { bbox: BBox::new(x, 200.0, 12.0, 30.0), score: 0.9, class_id: 0 }];
///     let tracks = tracker.update(&players);
///     assert_eq!(tracks.len(), 1);
///     assert_eq!(tracks[0].track_id, 1);
/// }
/// # Ok::<(), footml::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PlayerTracker {
    cfg: PlayerTrackingConfig,
    /// Frames per second of the input (re-identification radii grow with seconds lost).
    fps: f64,
    /// Width and height of the frames, when known (needed to tell that a track left the
    /// picture).
    frame_size: Option<[f64; 2]>,
    kf: BoxKalmanFilter,
    state: TrackerState,
    solver: LinearAssignment,
}

impl PlayerTracker {
    /// A tracker with the given settings; fails when they are invalid (the error names the
    /// key, e.g. `stage_configs.player_tracking.min_hits`).
    pub fn new(cfg: &PlayerTrackingConfig) -> Result<Self> {
        validate_config(cfg)?;
        Ok(PlayerTracker {
            cfg: cfg.clone(),
            fps: 25.0,
            frame_size: None,
            kf: BoxKalmanFilter::default(),
            state: TrackerState::default(),
            solver: LinearAssignment::new(),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &PlayerTrackingConfig {
        &self.cfg
    }

    /// Observed frames (frames with detections) processed so far; frames passed to
    /// [`PlayerTracker::predict`] are not counted.
    pub fn frames_processed(&self) -> u64 {
        self.state.frame
    }

    /// Forgets every track and restarts ids from 1, as a new tracker would.
    pub fn reset(&mut self) {
        self.state = TrackerState::default();
    }

    /// Tracks one frame: takes its player detections and returns the confirmed tracks
    /// matched in it, sorted by id.
    ///
    /// Detections with a non-finite value or a box without area are ignored: they cannot
    /// be tracked.
    pub fn update(&mut self, detections: &[Detection]) -> Vec<TrackedBox> {
        self.update_calibrated(detections, None)
    }

    /// Frames per second of the input (default 25), for the re-identification radius.
    pub fn set_fps(&mut self, fps: f64) {
        if fps.is_finite() && fps > 0.0 {
            self.fps = fps;
        }
    }

    /// Width and height of the frames in pixels: without them no track is known to have
    /// left the picture, and nothing is re-identified on the pitch.
    pub fn set_frame_size(&mut self, width: u32, height: u32) {
        self.frame_size = (width > 0 && height > 0).then_some([f64::from(width), f64::from(height)]);
    }

    /// Tracks one frame with its image → pitch homography, when known: as [`Self::update`],
    /// plus camera motion compensation and re-identification on the pitch (module docs).
    pub fn update_calibrated(
        &mut self,
        detections: &[Detection],
        homography: Option<&[[f64; 3]; 3]>,
    ) -> Vec<TrackedBox> {
        self.track(detections, homography, &[])
    }

    /// Tracks one frame with its homography and what else is known of each detection (kit
    /// colour, user-given team): as [`Self::update_calibrated`], with appearance and team in
    /// re-identification (module docs). Fails, changing nothing, when a cue slice is not as
    /// long as `detections`.
    pub fn update_with_cues(
        &mut self,
        detections: &[Detection],
        homography: Option<&[[f64; 3]; 3]>,
        cues: DetectionCues<'_>,
    ) -> Result<Vec<TrackedBox>> {
        for (what, len) in [("kits", cues.kits.map(<[_]>::len)), ("teams", cues.teams.map(<[_]>::len))] {
            if let Some(len) = len
                && len != detections.len()
            {
                return Err(Error::permanent(format!(
                    "player_tracking: {len} detection {what} for {} detections (expected one per detection)",
                    detections.len()
                )));
            }
        }
        let use_kit = self.cfg.reid_kit_gate > 0.0;
        let per_det: Vec<Cue> = (0..detections.len())
            .map(|i| Cue {
                kit: cues
                    .kits
                    .and_then(|k| k[i])
                    .filter(|lab| use_kit && lab.iter().all(|v| v.is_finite()))
                    .map(shade_normalised),
                team: cues.teams.and_then(|t| t[i]),
            })
            .collect();
        Ok(self.track(detections, homography, &per_det))
    }

    /// One observed frame; `cues` is parallel to `detections` or empty.
    fn track(&mut self, detections: &[Detection], homography: Option<&[[f64; 3]; 3]>, cues: &[Cue]) -> Vec<TrackedBox> {
        let cfg = &self.cfg;
        let fps = self.fps;
        let frame_size = self.frame_size;
        let kf = &self.kf;
        let solver = &mut self.solver;
        let st = &mut self.state;
        st.frame += 1;
        let frame = st.frame;

        let valid = |d: &Detection| {
            let b = d.bbox;
            [b.x, b.y, b.w, b.h, d.score].iter().all(|v| v.is_finite()) && b.w > 0.0 && b.h > 0.0
        };
        // Detections by score band, with their positions in `detections` (for their cues).
        let band = |keep: &dyn Fn(f32) -> bool| -> Vec<usize> {
            (0..detections.len()).filter(|&i| valid(&detections[i]) && keep(detections[i].score)).collect()
        };
        let high_at = band(&|s| s >= cfg.high_threshold);
        let low_at = band(&|s| s >= cfg.low_threshold && s < cfg.high_threshold);
        let high: Vec<&Detection> = high_at.iter().map(|&i| &detections[i]).collect();
        let low: Vec<&Detection> = low_at.iter().map(|&i| &detections[i]).collect();
        let cue = |i: usize| cues.get(i).copied().unwrap_or_default();
        let grow = |b: &BBox| buffered(b, cfg.iou_buffer);
        let high_boxes: Vec<BBox> = high.iter().map(|d| grow(&d.bbox)).collect();
        let low_boxes: Vec<BBox> = low.iter().map(|d| grow(&d.bbox)).collect();
        let mut high_left: Vec<usize> = (0..high.len()).collect();
        let mut low_left: Vec<usize> = (0..low.len()).collect();

        if cfg.camera_motion_compensation
            && let (Some(prev), Some(cur)) = (st.prev_homography.as_ref(), homography)
            && let Some(inv) = from_rows(cur).try_inverse()
        {
            let motion = inv * from_rows(prev);
            for t in &mut st.tracks {
                warp_state(&mut t.kalman, &motion);
            }
        }
        let to_pitch = |b: &BBox| -> Option<[f64; 2]> {
            let (u, v) = b.foot();
            let p = transfer(&from_rows(homography?), [f64::from(u), f64::from(v)])?;
            p.iter().all(|c| c.is_finite()).then_some(p)
        };
        for t in &mut st.tracks {
            // As ByteTrack: a lost track keeps its motion but not its change of height,
            // which would otherwise grow or shrink the box without limit while it coasts.
            if t.status == Status::Lost {
                t.kalman.mean[7] = 0.0;
            }
            kf.predict(&mut t.kalman);
            if t.status == Status::Lost
                && let Some([w, h]) = frame_size
            {
                let b = bbox_from_xyah(&t.kalman.xyah());
                let inside = b.x >= 0.0 && b.y >= 0.0 && b.x + b.w <= w as f32 && b.y + b.h <= h as f32;
                t.out_of_view |= !inside;
            }
        }
        let predicted: Vec<BBox> = st.tracks.iter().map(|t| grow(&bbox_from_xyah(&t.kalman.xyah()))).collect();
        let apply = |t: &mut Track, d: &Detection, c: Cue| {
            // A detection that the filter rejects (it cannot happen with the finite boxes
            // kept above) still counts as a match: the track stays at its prediction.
            let _ = kf.update(&mut t.kalman, &xyah_from_bbox(&d.bbox));
            t.hits = if t.last_frame + 1 == frame { t.hits.saturating_add(1) } else { 1 };
            t.last_frame = frame;
            t.score = d.score;
            t.observe(c, cfg.reid_kit_momentum);
        };
        // Fusing the score (ByteTrack) makes a confident detection win a contested track.
        let iou_cost = |track: usize, det: &BBox, score: f32, fuse: bool| {
            let iou = f64::from(predicted[track].iou(det));
            if fuse { 1.0 - iou * f64::from(score) } else { 1.0 - iou }
        };
        let mut matched = vec![false; st.tracks.len()];

        // 1. Confirmed tracks, tracked before lost (ByteTrack's pool order), with the
        //    high-score detections.
        // A track lost for longer than `max_lost_frames` (as of the last frame) is only still there because it left the
        // picture (re-identification keeps it): its coasted box and grown uncertainty would let
        // steps 1 and 3 hand it to whoever stands near, so only step 3b may re-find it.
        let in_image_pool = |t: &Track| frame - 1 - t.last_frame <= u64::from(cfg.max_lost_frames);
        let pool: Vec<usize> = (0..st.tracks.len())
            .filter(|&i| st.tracks[i].status == Status::Tracked)
            .chain(
                (0..st.tracks.len()).filter(|&i| st.tracks[i].status == Status::Lost && in_image_pool(&st.tracks[i])),
            )
            .collect();
        let max_cost = 1.0 - f64::from(cfg.match_iou);
        // Kit colours are not used in steps 1–3: a single detection's torso sample is noisy
        // (a jittered box takes in shorts or a neighbour), and gating every frame's matches by
        // it tore tracks apart on the rendered clips (ID switches 21 → 151); the running
        // average over a track is what re-identification compares, in step 3b.
        for (ti, di) in associate(solver, &pool, &mut high_left, max_cost, |ti, di| {
            iou_cost(ti, &high_boxes[di], high[di].score, cfg.fuse_score)
        }) {
            matched[ti] = true;
            st.tracks[ti].status = Status::Tracked;
            apply(&mut st.tracks[ti], high[di], cue(high_at[di]));
        }

        // 2. Tracks tracked until the last frame with the low-score detections. Scores are
        //    not fused here: the low scores would push every cost over the threshold.
        let unmatched_tracked: Vec<usize> =
            pool.iter().copied().filter(|&i| !matched[i] && st.tracks[i].status == Status::Tracked).collect();
        let max_cost = 1.0 - f64::from(cfg.low_match_iou);
        for (ti, di) in associate(solver, &unmatched_tracked, &mut low_left, max_cost, |ti, di| {
            iou_cost(ti, &low_boxes[di], low[di].score, false)
        }) {
            matched[ti] = true;
            apply(&mut st.tracks[ti], low[di], cue(low_at[di]));
        }
        for &ti in &unmatched_tracked {
            if !matched[ti] {
                st.tracks[ti].status = Status::Lost;
            }
        }

        // 3. Motion recovery (not in ByteTrack): confirmed tracks still unmatched with the
        //    high-score detections left, by Mahalanobis distance to the Kalman prediction.
        //    IoU fails when a player moves more than its box width between matches (small
        //    far players, a few missed frames, a track whose velocity is not yet known); the
        //    filter's uncertainty grows with each missed frame, and the gate with it.
        if cfg.recovery_gate > 0.0 {
            let rows: Vec<usize> = pool.iter().copied().filter(|&i| !matched[i]).collect();
            let gates: Vec<_> = rows.iter().map(|&i| kf.gate(&st.tracks[i].kalman)).collect();
            let measured: Vec<[f64; 4]> = high.iter().map(|d| xyah_from_bbox(&d.bbox)).collect();
            // Rows are positions in `rows`, so that each track's gate is looked up directly.
            let idx: Vec<usize> = (0..rows.len()).collect();
            for (r, di) in associate(solver, &idx, &mut high_left, f64::from(cfg.recovery_gate), |r, di| {
                gates[r].as_ref().map_or(f64::INFINITY, |g| g.mahalanobis_sq(&measured[di]))
            }) {
                let ti = rows[r];
                matched[ti] = true;
                st.tracks[ti].status = Status::Tracked;
                apply(&mut st.tracks[ti], high[di], cue(high_at[di]));
            }
        }

        // 3b. Re-identification on the pitch: lost tracks with the high-score detections left,
        //     by the distance between feet, within a radius that grows with the time lost.
        //     The track restarts at the detection: its coasted prediction is no guide after
        //     a long absence.
        let reid_on = homography.is_some() && cfg.reid_gate_m > 0.0;
        // The cost of giving lost track `t` back to a player whose feet are at `foot` and who
        // looks like `c` (module docs); above 1 (infinite) when he cannot be that player.
        let reid_cost = |t: &Track, foot: Option<[f64; 2]>, c: &Cue| -> f64 {
            let (Some(last), Some(foot)) = (t.pitch, foot) else { return f64::INFINITY };
            let lost_s = (frame - t.last_frame) as f64 / fps;
            let radius =
                (cfg.reid_gate_m + cfg.reid_max_speed_mps * lost_s).min(cfg.reid_max_radius_m.max(cfg.reid_gate_m));
            let place = (last[0] - foot[0]).hypot(last[1] - foot[1]) / radius;
            if place > 1.0 || t.clashes(c, cfg.reid_kit_gate) {
                return f64::INFINITY;
            }
            match (t.kit, c.kit) {
                (Some(a), Some(b)) => {
                    let kit = f64::from(delta_e(a, b) / cfg.reid_kit_gate);
                    (1.0 - cfg.reid_kit_weight) * place + cfg.reid_kit_weight * kit
                }
                _ => place,
            }
        };
        let reid_pool = |tracks: &[Track], matched: &[bool]| -> Vec<usize> {
            (0..tracks.len())
                .filter(|&i| {
                    let t = &tracks[i];
                    !matched[i] && t.status == Status::Lost && t.out_of_view && t.pitch.is_some()
                })
                .collect()
        };
        // A box touching the picture's edge has no kit colour (its torso cannot be located).
        let at_edge = |b: &BBox| {
            frame_size.is_some_and(|[w, h]| {
                b.x < 1.0 || b.y < 1.0 || f64::from(b.x + b.w) > w - 1.0 || f64::from(b.y + b.h) > h - 1.0
            })
        };
        if reid_on {
            let rows = reid_pool(&st.tracks, &matched);
            let feet: Vec<Option<[f64; 2]>> = high.iter().map(|d| to_pitch(&d.bbox)).collect();
            let idx: Vec<usize> = (0..rows.len()).collect();
            let tracks = &st.tracks;
            for (r, di) in associate(solver, &idx, &mut high_left, 1.0, |r, di| {
                let t = &tracks[rows[r]];
                let c = cue(high_at[di]);
                // A player coming back in through the edge of the picture shows no kit yet:
                // rather than decide by position alone, wait until he is in view (his new
                // tentative track is held unconfirmed meanwhile, step 4).
                if t.kit.is_some() && c.kit.is_none() && at_edge(&high[di].bbox) {
                    return f64::INFINITY;
                }
                reid_cost(t, feet[di], &c)
            }) {
                let ti = rows[r];
                matched[ti] = true;
                let t = &mut st.tracks[ti];
                t.status = Status::Tracked;
                t.kalman = kf.initiate(&xyah_from_bbox(&high[di].bbox));
                t.hits = 1;
                t.last_frame = frame;
                t.score = high[di].score;
                t.observe(cue(high_at[di]), cfg.reid_kit_momentum);
            }
        }

        // 4. Tentative tracks with the high-score detections left.
        let tentative: Vec<usize> =
            (0..st.tracks.len()).filter(|&i| st.tracks[i].status == Status::Tentative).collect();
        let max_cost = 1.0 - f64::from(cfg.unconfirmed_match_iou);
        for (ti, di) in associate(solver, &tentative, &mut high_left, max_cost, |ti, di| {
            iou_cost(ti, &high_boxes[di], high[di].score, cfg.fuse_score)
        }) {
            matched[ti] = true;
            apply(&mut st.tracks[ti], high[di], cue(high_at[di]));
            if st.tracks[ti].hits < cfg.min_hits {
                continue;
            }
            // Still at the edge with no kit seen, while a lost track with a kit could be him:
            // not confirmed yet (nor reported), so that step 3b decides by kit once he is in
            // view. Were he confirmed now, the new id would stick.
            let new = &st.tracks[ti];
            if reid_on && new.kit.is_none() && at_edge(&high[di].bbox) {
                let (foot, look) = (to_pitch(&high[di].bbox), Cue { kit: None, team: new.team() });
                let tracks = &st.tracks;
                if reid_pool(tracks, &matched)
                    .into_iter()
                    .any(|i| tracks[i].kit.is_some() && reid_cost(&tracks[i], foot, &look) <= 1.0)
                {
                    continue;
                }
            }
            let t = &mut st.tracks[ti];
            st.last_id += 1;
            t.id = st.last_id;
            t.status = Status::Tracked;
        }

        // Drop tentative tracks that missed and lost tracks that stayed lost too long.
        // `retain` keeps the creation order.
        let mut i = 0;
        st.tracks.retain(|t| {
            let keep = match t.status {
                Status::Tentative => matched[i],
                Status::Lost => {
                    let reid = homography.is_some() && cfg.reid_gate_m > 0.0 && t.out_of_view && t.pitch.is_some();
                    let keep_for =
                        if reid { cfg.reid_max_lost_frames.max(cfg.max_lost_frames) } else { cfg.max_lost_frames };
                    frame - t.last_frame <= u64::from(keep_for)
                }
                Status::Tracked => true,
            };
            i += 1;
            keep
        });

        // 5. New tracks from the confident detections nobody claimed.
        for &di in &high_left {
            let d = high[di];
            if d.score < cfg.new_track_threshold {
                continue;
            }
            let c = cue(high_at[di]);
            let confirm_now = frame == 1 || cfg.min_hits <= 1;
            let id = if confirm_now {
                st.last_id += 1;
                st.last_id
            } else {
                0
            };
            st.tracks.push(Track {
                id,
                status: if confirm_now { Status::Tracked } else { Status::Tentative },
                kalman: kf.initiate(&xyah_from_bbox(&d.bbox)),
                hits: 1,
                last_frame: frame,
                score: d.score,
                pitch: None,
                out_of_view: false,
                kit: c.kit,
                team_votes: std::array::from_fn(|t| u32::from(c.team == Some(t as u32))),
            });
        }
        for t in st.tracks.iter_mut().filter(|t| t.last_frame == frame) {
            t.pitch = to_pitch(&bbox_from_xyah(&t.kalman.xyah()));
            t.out_of_view = false;
        }
        st.prev_homography = homography.copied();

        // The filtered box rather than the detection's: it averages out the detector's
        // jitter (on the SkillCorner fixture: MOTA 0.921 against 0.914, see
        // `examples/track_mot.rs`).
        let mut out: Vec<TrackedBox> = st
            .tracks
            .iter()
            .filter(|t| t.status == Status::Tracked && t.last_frame == frame)
            .map(|t| TrackedBox { track_id: t.id, bbox: bbox_from_xyah(&t.kalman.xyah()), score: t.score })
            .collect();
        out.sort_by_key(|t| t.track_id);
        out
    }
}

impl PlayerTracker {
    /// Tracks one frame without detections (not an observation, e.g. skipped by the
    /// detector's `detection_stride`): every track moves one step along its Kalman
    /// prediction, and the confirmed tracks matched in the last observed frame are returned
    /// at their predicted boxes, sorted by id. Nothing ages: a frame passed here counts
    /// neither as a match nor as a miss.
    pub fn predict(&mut self) -> Vec<TrackedBox> {
        let st = &mut self.state;
        for t in &mut st.tracks {
            // The same motion model as in `update`: a lost track coasts without changing height.
            if t.status == Status::Lost {
                t.kalman.mean[7] = 0.0;
            }
            self.kf.predict(&mut t.kalman);
        }
        let mut out: Vec<TrackedBox> = st
            .tracks
            .iter()
            .filter(|t| t.status == Status::Tracked && t.last_frame == st.frame && st.frame > 0)
            .map(|t| TrackedBox { track_id: t.id, bbox: bbox_from_xyah(&t.kalman.xyah()), score: t.score })
            .collect();
        out.sort_by_key(|t| t.track_id);
        out
    }
}

/// Moves a box state through the camera's motion `m` (previous image → this image): the box's
/// top and bottom centre give the new centre and height (aspect ratio kept), and the velocity
/// goes through the map at the centre. Left alone where the map is undefined.
fn warp_state(s: &mut BoxState, m: &nalgebra::Matrix3<f64>) {
    let [x, y, a, h] = s.xyah();
    let (vx, vy) = (s.mean[4], s.mean[5]);
    let (Some(top), Some(bottom), Some(c), Some(cv)) = (
        transfer(m, [x, y - h / 2.0]),
        transfer(m, [x, y + h / 2.0]),
        transfer(m, [x, y]),
        transfer(m, [x + vx, y + vy]),
    ) else {
        return;
    };
    let new_h = (bottom[1] - top[1]).abs().hypot(bottom[0] - top[0]);
    if !(new_h.is_finite() && new_h > 0.0 && h > 0.0) {
        return;
    }
    let scale = new_h / h;
    s.mean[0] = (top[0] + bottom[0]) / 2.0;
    s.mean[1] = (top[1] + bottom[1]) / 2.0;
    s.mean[2] = a;
    s.mean[3] = new_h;
    s.mean[4] = cv[0] - c[0];
    s.mean[5] = cv[1] - c[1];
    s.mean[7] *= scale;
}

/// `b` enlarged by `fraction` of its width and height on every side (buffered IoU).
fn buffered(b: &BBox, fraction: f32) -> BBox {
    if fraction == 0.0 {
        return *b;
    }
    BBox::new(b.x - fraction * b.w, b.y - fraction * b.h, b.w * (1.0 + 2.0 * fraction), b.h * (1.0 + 2.0 * fraction))
}

/// Optimal assignment of the tracks `rows` to the detections `cols` under `cost(row, col)`
/// (indices as given), up to `max_cost`: returns the matched `(row, col)` values and removes
/// the matched detections from `cols`, keeping their order.
fn associate(
    solver: &mut LinearAssignment,
    rows: &[usize],
    cols: &mut Vec<usize>,
    max_cost: f64,
    cost: impl Fn(usize, usize) -> f64,
) -> Vec<(usize, usize)> {
    if rows.is_empty() || cols.is_empty() {
        return Vec::new();
    }
    let matrix = DMatrix::from_fn(rows.len(), cols.len(), |r, c| cost(rows[r], cols[c]));
    let a = solver.solve(&matrix, max_cost);
    let pairs = a.matches.iter().map(|&(r, c)| (rows[r], cols[c])).collect();
    *cols = a.unmatched_cols.iter().map(|&c| cols[c]).collect();
    pairs
}

impl Stage for PlayerTracker {
    fn name(&self) -> &str {
        "player_tracking"
    }

    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::PLAYER_DETECTIONS]
    }

    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::PLAYER_TRACKS]
    }

    fn after(&self) -> Vec<Artifact> {
        vec![Artifact::HOMOGRAPHY, Artifact::PLAYER_APPEARANCE, Artifact::PLAYER_TEAMS]
    }
}

impl StreamStage for PlayerTracker {
    fn process(&mut self, batch: &mut FrameBatch, ctx: &StageContext) -> Result<()> {
        self.set_fps(ctx.video().fps);
        self.set_frame_size(ctx.video().width, ctx.video().height);
        // Cues that do not line up with their detections are a bug in an earlier stage: fail
        // before any frame of the batch changes the tracker, so nothing is half done.
        for item in &batch.items {
            let r = &item.record;
            let n = r.players.as_ref().map(Vec::len);
            let lens = [r.player_appearance.as_ref().map(Vec::len), r.player_teams.as_ref().map(Vec::len)];
            if let Some(n) = n
                && lens.iter().flatten().any(|&l| l != n)
            {
                return Err(Error::permanent(format!(
                    "player_tracking: frame {} has {n} detections but {lens:?} appearance/team entries",
                    r.index
                )));
            }
        }
        // `None` is a frame the detector skipped (`detection_stride`), not a missing input:
        // the builder already checked that a stage provides the detections. The camera's
        // motion over skipped frames is compensated at the next observed frame (from the
        // last observed frame's homography to its own).
        for item in &mut batch.items {
            let r = &item.record;
            let tracks = match r.players.as_deref() {
                Some(players) => {
                    let cues = DetectionCues { kits: r.player_appearance.as_deref(), teams: r.player_teams.as_deref() };
                    self.update_with_cues(players, r.homography.as_ref(), cues)?
                }
                None => self.predict(),
            };
            item.record.tracks = Some(tracks);
        }
        Ok(())
    }

    fn save_state(&self) -> Result<Vec<u8>> {
        let saved = SavedState { version: STATE_VERSION, state: self.state.clone() };
        rmp_serde::to_vec(&saved)
            .map_err(|e| Error::permanent(format!("player_tracking: cannot encode the tracker state: {e}")))
    }

    fn load_state(&mut self, state: &[u8]) -> Result<()> {
        let saved: SavedState = rmp_serde::from_slice(state)
            .map_err(|e| Error::permanent(format!("player_tracking: cannot decode the saved tracker state: {e}")))?;
        if saved.version != STATE_VERSION {
            return Err(Error::permanent(format!(
                "player_tracking: saved state has format version {}, expected {STATE_VERSION}",
                saved.version
            )));
        }
        self.state = saved.state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{FrameItem, FrameRecord, VideoInfo};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn det(x: f32, y: f32, w: f32, h: f32, score: f32) -> Detection {
        Detection { bbox: BBox::new(x, y, w, h), score, class_id: 0 }
    }

    /// Frames of `n` people walking in straight lines (some crossing), with box jitter,
    /// random misses, low-score detections and false positives; with each detection's
    /// true identity (`None` for false positives).
    fn scene(seed: u64, frames: usize, n: usize) -> Vec<Vec<(Detection, Option<usize>)>> {
        let mut rng = StdRng::seed_from_u64(seed);
        let people: Vec<([f32; 2], [f32; 2], f32)> = (0..n)
            .map(|_| {
                let h = rng.random_range(30.0..70.0);
                (
                    [rng.random_range(100.0..1700.0), rng.random_range(100.0..900.0)],
                    [rng.random_range(-3.0..3.0), rng.random_range(-2.0..2.0)],
                    h,
                )
            })
            .collect();
        (0..frames)
            .map(|t| {
                let mut out = Vec::new();
                for (k, &(p, v, h)) in people.iter().enumerate() {
                    if rng.random::<f32>() < 0.05 {
                        continue;
                    }
                    let w = 0.4 * h;
                    let jitter = |rng: &mut StdRng| rng.random_range(-0.03..0.03) * h;
                    let x = p[0] + v[0] * t as f32 + jitter(&mut rng);
                    let y = p[1] + v[1] * t as f32 + jitter(&mut rng);
                    let score = if rng.random::<f32>() < 0.1 {
                        rng.random_range(0.15..0.5)
                    } else {
                        rng.random_range(0.6..0.95)
                    };
                    out.push((
                        det(x, y, w * rng.random_range(0.95..1.05), h * rng.random_range(0.95..1.05), score),
                        Some(k),
                    ));
                }
                if rng.random::<f32>() < 0.3 {
                    let (x, y) = (rng.random_range(0.0..1800.0), rng.random_range(0.0..1000.0));
                    out.push((det(x, y, 20.0, 50.0, rng.random_range(0.1..0.6)), None));
                }
                out
            })
            .collect()
    }

    fn dets(frame: &[(Detection, Option<usize>)]) -> Vec<Detection> {
        frame.iter().map(|(d, _)| *d).collect()
    }

    fn run(tracker: &mut PlayerTracker, frames: &[Vec<(Detection, Option<usize>)>]) -> Vec<Vec<TrackedBox>> {
        frames.iter().map(|f| tracker.update(&dets(f))).collect()
    }

    fn tracker() -> PlayerTracker {
        PlayerTracker::new(&PlayerTrackingConfig::default()).unwrap()
    }

    #[test]
    fn follows_separate_people_with_one_id_each() {
        let frames = scene(5, 200, 12);
        let mut tr = tracker();
        let mut ids_of: Vec<std::collections::BTreeSet<u64>> = vec![Default::default(); 12];
        let mut reported = 0;
        for f in &frames {
            for t in tr.update(&dets(f)) {
                reported += 1;
                // The true identity of a track box: the detection it overlaps most.
                let best = f.iter().max_by(|a, b| a.0.bbox.iou(&t.bbox).total_cmp(&b.0.bbox.iou(&t.bbox))).unwrap();
                if let (Some(k), true) = (best.1, best.0.bbox.iou(&t.bbox) > 0.5) {
                    ids_of[k].insert(t.track_id);
                }
            }
        }
        let switches: usize = ids_of.iter().map(|s| s.len().saturating_sub(1)).sum();
        assert!(switches <= 2, "id switches: {ids_of:?}");
        // Nearly every true detection is reported (5% random misses are not).
        assert!(reported > 200 * 12 * 90 / 100, "{reported} boxes reported");
    }

    #[test]
    fn ids_start_at_one_and_increase() {
        let frames = scene(9, 100, 8);
        let mut tr = tracker();
        let mut seen = Vec::new();
        for out in run(&mut tr, &frames) {
            assert!(out.windows(2).all(|w| w[0].track_id < w[1].track_id), "sorted, unique");
            for t in out {
                if !seen.contains(&t.track_id) {
                    seen.push(t.track_id);
                }
            }
        }
        // Ids appear in order 1, 2, 3, … (a frame reports its new ids in ascending order).
        assert_eq!(seen[0], 1);
        assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "{seen:?}");
    }

    #[test]
    fn first_frame_confirms_at_once_later_tracks_after_min_hits() {
        let cfg = PlayerTrackingConfig { min_hits: 3, ..Default::default() };
        let mut tr = PlayerTracker::new(&cfg).unwrap();
        let a = |t: usize| det(100.0 + 2.0 * t as f32, 100.0, 20.0, 50.0, 0.9);
        let b = |t: usize| det(800.0, 400.0 + t as f32, 20.0, 50.0, 0.9);
        assert_eq!(tr.update(&[a(0)]).len(), 1, "reported on the first frame");
        assert_eq!(tr.update(&[a(1), b(1)]).len(), 1, "b is tentative (1 hit)");
        assert_eq!(tr.update(&[a(2), b(2)]).len(), 1, "b is tentative (2 hits)");
        let out = tr.update(&[a(3), b(3)]);
        assert_eq!(out.iter().map(|t| t.track_id).collect::<Vec<_>>(), vec![1, 2], "b confirmed at its third hit");
    }

    #[test]
    fn small_fast_players_keep_their_id() {
        // A far player: 5 px wide, moving 5 px per frame, so consecutive boxes barely touch
        // and plain IoU cannot follow it; buffered IoU and motion recovery can.
        let a = |t: usize| det(100.0 + 5.0 * t as f32, 300.0 + 0.5 * t as f32, 5.0, 15.0, 0.9);
        // (frames reported, distinct ids)
        let run = |cfg: &PlayerTrackingConfig| {
            let mut tr = PlayerTracker::new(cfg).unwrap();
            let mut ids = std::collections::BTreeSet::new();
            let mut reported = 0;
            for t in 0..40 {
                let out = tr.update(&[a(t)]);
                reported += out.len();
                ids.extend(out.iter().map(|t| t.track_id));
            }
            (reported, ids.len())
        };
        assert_eq!(run(&PlayerTrackingConfig::default()), (40, 1));
        let plain = PlayerTrackingConfig { iou_buffer: 0.0, recovery_gate: 0.0, ..Default::default() };
        let (reported, _) = run(&plain);
        assert!(reported < 10, "plain ByteTrack loses it ({reported} frames reported)");
    }

    #[test]
    fn tentative_track_dropped_at_first_miss() {
        let mut tr = tracker();
        tr.update(&[]);
        let b = det(800.0, 400.0, 20.0, 50.0, 0.9);
        assert!(tr.update(&[b]).is_empty());
        assert!(tr.update(&[]).is_empty());
        // Starts again from scratch: one more hit is not enough.
        assert!(tr.update(&[b]).is_empty());
        assert_eq!(tr.update(&[b])[0].track_id, 1);
    }

    #[test]
    fn lost_track_is_found_again_until_max_lost_frames() {
        let cfg = PlayerTrackingConfig { max_lost_frames: 10, ..Default::default() };
        let a = |t: usize| det(100.0 + 2.0 * t as f32, 100.0, 20.0, 50.0, 0.9);
        for (gap, same) in [(5, true), (10, true), (11, false)] {
            let mut tr = PlayerTracker::new(&cfg).unwrap();
            for t in 0..20 {
                assert_eq!(tr.update(&[a(t)])[0].track_id, 1);
            }
            for _ in 0..gap {
                assert!(tr.update(&[]).is_empty());
            }
            let t = 20 + gap;
            tr.update(&[a(t)]);
            let out = tr.update(&[a(t + 1)]);
            assert_eq!(out[0].track_id == 1, same, "gap {gap}: {out:?}");
        }
    }

    #[test]
    fn low_score_detections_keep_tracks_but_never_start_them() {
        let mut tr = tracker();
        let a = |t: usize, s: f32| det(100.0 + 2.0 * t as f32, 100.0, 20.0, 50.0, s);
        assert_eq!(tr.update(&[a(0, 0.9)])[0].track_id, 1);
        for t in 1..5 {
            let out = tr.update(&[a(t, 0.3)]);
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].score, 0.3);
        }
        let mut fresh = tracker();
        for t in 0..5 {
            assert!(fresh.update(&[a(t, 0.3)]).is_empty());
        }
        // Below low_threshold: ignored entirely, the track gets lost.
        assert!(tr.update(&[a(5, 0.05)]).is_empty());
    }

    #[test]
    fn invalid_detections_are_ignored() {
        let mut tr = tracker();
        let out = tr.update(&[
            det(f32::NAN, 0.0, 10.0, 10.0, 0.9),
            det(0.0, 0.0, 0.0, 10.0, 0.9),
            det(0.0, 0.0, 10.0, -1.0, 0.9),
            det(0.0, 0.0, 10.0, 10.0, f32::NAN),
            det(50.0, 50.0, 10.0, 20.0, 0.9),
        ]);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn deterministic_and_output_boxes_follow_the_detections() {
        let frames = scene(21, 150, 15);
        let a = run(&mut tracker(), &frames);
        let b = run(&mut tracker(), &frames);
        assert_eq!(rmp_serde::to_vec(&a).unwrap(), rmp_serde::to_vec(&b).unwrap());
        for (out, f) in a.iter().zip(&frames) {
            for t in out {
                let best = f.iter().map(|(d, _)| d.bbox.iou(&t.bbox)).fold(0.0, f32::max);
                assert!(best > 0.5, "a reported box overlaps a detection of its frame");
            }
        }
    }

    #[test]
    fn resumed_runs_equal_the_uninterrupted_run() {
        let frames = scene(33, 240, 18);
        let full = run(&mut tracker(), &frames);
        for split in [0, 1, 2, 3, 17, 64, 100, 199, 239, 240] {
            let mut first = tracker();
            let mut out = run(&mut first, &frames[..split]);
            let saved = first.save_state().unwrap();
            // Running on after saving does not change what was saved.
            let mut second = tracker();
            second.load_state(&saved).unwrap();
            assert_eq!(second.save_state().unwrap(), saved);
            out.extend(run(&mut second, &frames[split..]));
            assert_eq!(rmp_serde::to_vec(&out).unwrap(), rmp_serde::to_vec(&full).unwrap(), "split at {split}");
        }
        // Chained: save and restore after every frame.
        let mut state = tracker().save_state().unwrap();
        let mut out = Vec::new();
        for f in &frames {
            let mut tr = tracker();
            tr.load_state(&state).unwrap();
            out.push(tr.update(&dets(f)));
            state = tr.save_state().unwrap();
        }
        assert_eq!(out, full);
    }

    #[test]
    fn load_state_rejects_garbage_and_other_versions() {
        let mut tr = tracker();
        assert!(tr.load_state(b"not a state").is_err());
        let other =
            rmp_serde::to_vec(&SavedState { version: STATE_VERSION + 1, state: TrackerState::default() }).unwrap();
        let err = tr.load_state(&other).unwrap_err().to_string();
        assert!(err.contains("version"), "{err}");
    }

    fn item(index: u64, players: Option<Vec<Detection>>) -> FrameItem {
        FrameItem::new(FrameRecord { index, players, ..Default::default() }, None)
    }

    #[test]
    fn stage_fills_tracks_and_predicts_frames_without_detections() {
        let mut tr = tracker();
        assert_eq!(tr.name(), "player_tracking");
        assert_eq!(tr.requires(), vec![Artifact::PLAYER_DETECTIONS]);
        assert_eq!(tr.provides(), vec![Artifact::PLAYER_TRACKS]);
        let ctx = StageContext::standalone("player_tracking", VideoInfo::default());
        let d = det(10.0, 10.0, 10.0, 30.0, 0.9);
        let mut batch = FrameBatch { items: vec![item(0, Some(vec![d])), item(1, Some(vec![]))], ..Default::default() };
        tr.process(&mut batch, &ctx).unwrap();
        assert_eq!(batch.items[0].record.tracks.as_ref().unwrap().len(), 1);
        assert_eq!(batch.items[1].record.tracks, Some(vec![]));
        // Frame 3 was not observed: the track of frame 2 is reported at its prediction.
        let mut batch = FrameBatch { items: vec![item(2, Some(vec![d])), item(3, None)], ..Default::default() };
        tr.process(&mut batch, &ctx).unwrap();
        let [t2] = batch.items[0].record.tracks.as_deref().unwrap() else { panic!("{batch:?}") };
        let [t3] = batch.items[1].record.tracks.as_deref().unwrap() else { panic!("{batch:?}") };
        assert_eq!((t2.track_id, t3.track_id), (1, 1));
        assert_eq!(tr.frames_processed(), 3, "the predicted frame is not an observation");
    }

    fn assert_box(got: &BBox, want: &BBox, tol: f32) {
        let (g, w) = ([got.x, got.y, got.w, got.h], [want.x, want.y, want.w, want.h]);
        assert!(g.iter().zip(&w).all(|(a, b)| (a - b).abs() <= tol), "got {got:?}, expected {want:?}");
    }

    #[test]
    fn predicted_frames_keep_a_still_player_exactly_in_place() {
        // Same box in every observed frame: zero innovation and zero velocity, so the
        // prediction is the box itself on the frames in between.
        let b = BBox::new(500.0, 300.0, 20.0, 50.0);
        let mut tr = tracker();
        for t in 0..12 {
            let out =
                if t % 3 == 0 { tr.update(&[Detection { bbox: b, score: 0.9, class_id: 0 }]) } else { tr.predict() };
            let [one] = out.as_slice() else { panic!("frame {t}: {out:?}") };
            assert_eq!((one.track_id, one.score), (1, 0.9));
            assert_box(&one.bbox, &b, 1e-3);
        }
        assert_eq!(tr.frames_processed(), 4);
    }

    #[test]
    fn predicted_frames_follow_a_moving_player() {
        // 6 px per frame to the right, detected every 3rd frame: once the filter has the
        // velocity, the boxes in between are where the player really is.
        let truth = |t: usize| BBox::new(200.0 + 6.0 * t as f32, 300.0, 20.0, 50.0);
        let mut tr = tracker();
        for t in 0..60 {
            let out = if t % 3 == 0 {
                tr.update(&[Detection { bbox: truth(t), score: 0.9, class_id: 0 }])
            } else {
                tr.predict()
            };
            let [one] = out.as_slice() else { panic!("frame {t}: {out:?}") };
            assert_eq!(one.track_id, 1);
            if t >= 45 {
                assert_box(&one.bbox, &truth(t), 0.5);
            }
        }
    }

    #[test]
    fn frames_without_detections_do_not_age_tracks() {
        let cfg = PlayerTrackingConfig { max_lost_frames: 2, min_hits: 3, ..Default::default() };
        let mut tr = PlayerTracker::new(&cfg).unwrap();
        let a = det(100.0, 100.0, 20.0, 50.0, 0.9);
        let b = det(600.0, 100.0, 20.0, 50.0, 0.9);
        assert_eq!(tr.update(&[a]).len(), 1); // a: id 1, confirmed on the first frame
        // a is missed once (lost), then 10 frames are not observed, then it is back: one
        // observed miss ≤ max_lost_frames, so it keeps its id.
        assert!(tr.update(&[]).is_empty());
        for _ in 0..10 {
            assert!(tr.predict().is_empty(), "a lost track is not reported on predicted frames");
        }
        let out = tr.update(&[a]);
        assert_eq!(out.iter().map(|t| t.track_id).collect::<Vec<_>>(), vec![1]);
        // b needs 3 consecutive observed matches; unobserved frames in between do not break
        // the run and do not count.
        let ids = |v: Vec<TrackedBox>| v.iter().map(|t| t.track_id).collect::<Vec<_>>();
        assert_eq!(ids(tr.update(&[a, b])), vec![1]);
        assert_eq!(ids(tr.predict()), vec![1]);
        assert_eq!(ids(tr.update(&[a, b])), vec![1]);
        assert_eq!(ids(tr.predict()), vec![1]);
        assert_eq!(ids(tr.update(&[a, b])), vec![1, 2]);
        assert_eq!(ids(tr.predict()), vec![1, 2]);
        // Without predicted frames between them, 3 observed misses delete a (> 2).
        for _ in 0..3 {
            tr.update(&[b]);
        }
        assert_eq!(ids(tr.update(&[a, b])), vec![2], "a was deleted; its new track is tentative");
    }

    #[test]
    fn rejects_invalid_config() {
        let bad = [
            PlayerTrackingConfig { min_hits: 0, ..Default::default() },
            PlayerTrackingConfig { low_threshold: 0.7, ..Default::default() },
            PlayerTrackingConfig { match_iou: 1.5, ..Default::default() },
            PlayerTrackingConfig { high_threshold: f32::NAN, ..Default::default() },
            PlayerTrackingConfig { new_track_threshold: 0.2, ..Default::default() },
            PlayerTrackingConfig { match_iou: 0.0, ..Default::default() },
            PlayerTrackingConfig { iou_buffer: -0.1, ..Default::default() },
            PlayerTrackingConfig { recovery_gate: f32::INFINITY, ..Default::default() },
            PlayerTrackingConfig { reid_gate_m: -1.0, ..Default::default() },
            PlayerTrackingConfig { reid_max_speed_mps: f64::NAN, ..Default::default() },
            PlayerTrackingConfig { reid_kit_weight: 1.5, ..Default::default() },
            PlayerTrackingConfig { reid_kit_gate: -2.0, ..Default::default() },
            PlayerTrackingConfig { reid_kit_momentum: 1.0, ..Default::default() },
        ];
        for cfg in bad {
            let err = PlayerTracker::new(&cfg).unwrap_err().to_string();
            assert!(err.contains("stage_configs.player_tracking."), "{err}");
        }
        // The re-identification keys through the pipeline config: read, checked, named.
        let json = |v: &str| format!(r#"{{"stage_configs": {{"player_tracking": {{{v}}}}}}}"#);
        let ok = json(r#""reid_kit_weight": 0.3, "reid_kit_gate": 15, "reid_kit_momentum": 0.8"#);
        let pt = crate::PipelineConfig::from_json_with_env(&ok, |_| None).unwrap().stage_configs.player_tracking;
        assert_eq!((pt.reid_kit_weight, pt.reid_kit_gate, pt.reid_kit_momentum), (0.3, 15.0, 0.8));
        for (v, key) in [
            (r#""reid_kit_weight": -0.1"#, "reid_kit_weight"),
            (r#""reid_kit_gate": -1"#, "reid_kit_gate"),
            (r#""reid_kit_momentum": 1"#, "reid_kit_momentum"),
        ] {
            let err = crate::PipelineConfig::from_json_with_env(&json(v), |_| None).unwrap_err().to_string();
            assert!(err.contains(&format!("stage_configs.player_tracking.{key}")), "{err}");
        }
        let err = crate::PipelineConfig::from_json_with_env(&json(r#""reid_kit": 1"#), |_| None).unwrap_err();
        assert!(err.to_string().contains("stage_configs.player_tracking.reid_kit"), "{err}");
    }

    /// A camera that shows the pitch at 10 px per metre, shifted by `offset` pixels:
    /// pixel = 10 · pitch + offset, so image → pitch is `(p − offset) / 10`.
    fn shifted(offset: [f64; 2]) -> [[f64; 3]; 3] {
        [[0.1, 0.0, -offset[0] / 10.0], [0.0, 0.1, -offset[1] / 10.0], [0.0, 0.0, 1.0]]
    }

    /// Standing players at 3 m spacing (30 px, boxes 12 × 30 px with feet at the pitch point),
    /// seen through a camera offset by `offset`.
    fn standing(n: usize, offset: [f64; 2], skip: &[usize]) -> Vec<Detection> {
        (0..n)
            .filter(|k| !skip.contains(k))
            .map(|k| {
                let (px, py) = (3.0 * k as f64 + 5.0, 20.0);
                let (u, v) = (10.0 * px + offset[0], 10.0 * py + offset[1]);
                det((u - 6.0) as f32, (v - 30.0) as f32, 12.0, 30.0, 0.9)
            })
            .collect()
    }

    fn ids(tracks: &[TrackedBox]) -> Vec<u64> {
        tracks.iter().map(|t| t.track_id).collect()
    }

    #[test]
    fn camera_jumps_keep_ids_with_homographies_and_break_them_without() {
        // The camera shakes: 45 px right at frame 10, 90 px left at frame 20 (more than a box
        // width, against the motion the filter learnt), then still.
        let offset = |t: usize| match t {
            0..10 => [0.0, 0.0],
            10..20 => [45.0, 10.0],
            _ => [-45.0, 0.0],
        };
        let n = 6;
        let run = |calibrated: bool| {
            let mut tr = PlayerTracker::new(&Default::default()).unwrap();
            let mut all = Vec::new();
            for t in 0..30 {
                let h = shifted(offset(t));
                let d = standing(n, offset(t), &[]);
                let out = if calibrated { tr.update_calibrated(&d, Some(&h)) } else { tr.update(&d) };
                all.push(ids(&out));
            }
            all
        };
        let with = run(true);
        assert!(with.iter().all(|f| *f == (1..=n as u64).collect::<Vec<_>>()), "{with:?}");
        let without = run(false);
        assert!(without.iter().flatten().any(|&id| id > n as u64), "the image-only tracker keeps ids: {without:?}");
    }

    #[test]
    fn a_player_who_leaves_the_picture_gets_his_id_back_on_the_pitch() {
        // A 400 × 300 picture pans 150 px left over 30 frames, holds for 40 (all four players
        // out of the picture for more than max_lost_frames = 30), and pans back; only boxes
        // fully inside the picture are detected. Player 2 comes back a metre from where he
        // left.
        let run = |calibrated: bool| {
            let mut tr = PlayerTracker::new(&Default::default()).unwrap();
            tr.set_frame_size(400, 300);
            let mut last = Vec::new();
            for t in 0..130 {
                let o = [pan_away_and_back(t), 0.0];
                let mut d = standing(4, o, &[]);
                if t >= 80 {
                    d[2].bbox.x += 10.0;
                }
                d.retain(|d| d.bbox.x >= 0.0 && d.bbox.x + d.bbox.w <= 400.0);
                let h = shifted(o);
                last = if calibrated { tr.update_calibrated(&d, Some(&h)) } else { tr.update(&d) };
            }
            ids(&last)
        };
        assert_eq!(run(true), vec![1, 2, 3, 4]);
        assert!(run(false).iter().all(|&id| id > 4), "without homographies they are new tracks");
        // A player lost inside the picture (occluded) is not re-identified on the pitch.
        let mut tr = PlayerTracker::new(&Default::default()).unwrap();
        tr.set_frame_size(400, 300);
        let h = shifted([0.0, 0.0]);
        for _ in 0..5 {
            tr.update_calibrated(&standing(2, [0.0, 0.0], &[]), Some(&h));
        }
        for _ in 0..40 {
            tr.update_calibrated(&standing(2, [0.0, 0.0], &[1]), Some(&h));
        }
        let back = standing(2, [0.0, 0.0], &[]);
        tr.update_calibrated(&back, Some(&h));
        assert_eq!(ids(&tr.update_calibrated(&back, Some(&h))), vec![1, 3]);
    }

    /// Horizontal camera offset (pixels) at frame `t` of a pan that leaves a 400 px wide
    /// picture's left part and comes back: 150 px left over frames 10–40, held until 80, back
    /// by 110.
    fn pan_away_and_back(t: usize) -> f64 {
        match t {
            0..10 => 0.0,
            10..40 => -5.0 * (t - 10) as f64,
            40..80 => -150.0,
            80..110 => -150.0 + 5.0 * (t - 80) as f64,
            _ => 0.0,
        }
    }

    /// Two players of different kits leave the picture in a pan, trade places while out of it
    /// (3 m apart) and come back: by position alone each track takes the other's player.
    /// Returns, per final track id, the pitch x (metres) of the player it ends on.
    /// With `edges`, players are also detected while partly out of the picture (the box cut
    /// at the edge), and such boxes have no kit colour, as [`crate::stages::teams::PlayerAppearance`]
    /// gives none for them.
    fn swap_while_away(kits: bool, teams: bool, edges: bool, cfg: &PlayerTrackingConfig) -> Vec<(u64, f64)> {
        let red = crate::vision::colour::srgb_to_lab([210, 25, 40]);
        let yellow = crate::vision::colour::srgb_to_lab([250, 215, 20]);
        let mut tr = PlayerTracker::new(cfg).unwrap();
        tr.set_frame_size(400, 300);
        let mut last = Vec::new();
        for t in 0..130 {
            let o = pan_away_and_back(t);
            // Red is player 0, yellow player 1; from frame 60 (out of view) they have swapped.
            let xs = if t < 60 { [5.0, 8.0] } else { [8.0, 5.0] };
            let mut dets = Vec::new();
            for (k, x) in xs.into_iter().enumerate() {
                let u = 10.0 * x + o;
                let (x0, x1) = if edges { ((u - 6.0).max(0.0), (u + 6.0).min(400.0)) } else { (u - 6.0, u + 6.0) };
                if x0 >= 0.0 && x1 <= 400.0 && x1 - x0 >= 4.0 {
                    let d = det(x0 as f32, 170.0, (x1 - x0) as f32, 30.0, 0.9);
                    let cut = x1 - x0 < 12.0;
                    dets.push((d, (!cut).then_some([red, yellow][k]), k as u32));
                }
            }
            let boxes: Vec<Detection> = dets.iter().map(|d| d.0).collect();
            let looks: Vec<Option<[f32; 3]>> = dets.iter().map(|d| d.1).collect();
            let sides: Vec<Option<u32>> = dets.iter().map(|d| Some(d.2)).collect();
            let cues = DetectionCues { kits: kits.then_some(&looks[..]), teams: teams.then_some(&sides[..]) };
            last = tr.update_with_cues(&boxes, Some(&shifted([o, 0.0])), cues).unwrap();
        }
        last.iter().map(|t| (t.track_id, (f64::from(t.bbox.x) + 6.0) / 10.0)).collect()
    }

    fn close(got: &[(u64, f64)], want: &[(u64, f64)]) -> bool {
        got.len() == want.len() && got.iter().zip(want).all(|(g, w)| g.0 == w.0 && (g.1 - w.1).abs() < 0.2)
    }

    #[test]
    fn kit_colour_keeps_ids_through_a_swap_out_of_view_that_position_alone_gets_wrong() {
        let cfg = PlayerTrackingConfig::default();
        // Track 1 is red, who ends at x = 8 m; track 2 yellow, at 5 m.
        let right = [(1, 8.0), (2, 5.0)];
        let swapped = [(1, 5.0), (2, 8.0)];
        for edges in [false, true] {
            let position_only = swap_while_away(false, false, edges, &cfg);
            assert!(close(&position_only, &swapped), "position alone swaps them: {position_only:?}");
            // With the players seen at the edge first, without a kit: the tracker waits for a
            // look (re-identification when the new track is confirmed).
            let with_kits = swap_while_away(true, false, edges, &cfg);
            assert!(close(&with_kits, &right), "edges {edges}: {with_kits:?}");
            // A user-given team column does the same without pixels.
            let with_teams = swap_while_away(false, true, edges, &cfg);
            assert!(close(&with_teams, &right), "edges {edges}: {with_teams:?}");
            // With the kit gate off, kits are not used.
            let off = PlayerTrackingConfig { reid_kit_gate: 0.0, ..Default::default() };
            assert!(close(&swap_while_away(true, false, edges, &off), &swapped));
        }
    }

    #[test]
    fn kit_weight_picks_the_matching_kit_among_players_in_range() {
        // Track 1 (red) left at x = 5 m. Two detections come back within the radius, both
        // kits within the gate: a red one 1.5 m away and an orange-red one (ΔE 10.6 after shade
        // normalisation) right at the spot. By position the orange one wins; with the kit
        // weighed in, the red one (0.5 · 1.5 / 10.6 = 0.07 against 0.5 · 10.6 / 22 = 0.24).
        let red = crate::vision::colour::srgb_to_lab([210, 25, 40]);
        let orange = crate::vision::colour::srgb_to_lab([215, 55, 40]);
        let run = |weight: f64| {
            let cfg = PlayerTrackingConfig { reid_kit_weight: weight, ..Default::default() };
            let mut tr = PlayerTracker::new(&cfg).unwrap();
            tr.set_frame_size(400, 300);
            let h0 = shifted([0.0, 0.0]);
            let far = shifted([-300.0, 0.0]);
            let at = |x: f64, o: f64| det((10.0 * x + o - 6.0) as f32, 170.0, 12.0, 30.0, 0.9);
            for _ in 0..3 {
                tr.update_with_cues(
                    &[at(5.0, 0.0)],
                    Some(&h0),
                    DetectionCues { kits: Some(&[Some(red)]), teams: None },
                )
                .unwrap();
            }
            // The camera jumps away for 35 frames (the player is out of the picture), longer
            // than `max_lost_frames`, so only re-identification may find him again.
            for _ in 0..35 {
                tr.update_calibrated(&[], Some(&far));
            }
            let back = [at(6.5, 0.0), at(5.0, 0.0)];
            let kits = [Some(red), Some(orange)];
            let cues = DetectionCues { kits: Some(&kits), teams: None };
            let out = tr.update_with_cues(&back, Some(&h0), cues).unwrap();
            let one = out.iter().find(|t| t.track_id == 1).expect("track 1 re-identified");
            (f64::from(one.bbox.x) + 6.0) / 10.0
        };
        assert!((run(0.0) - 5.0).abs() < 0.1);
        assert!((run(0.5) - 6.5).abs() < 0.1);
    }

    #[test]
    fn cues_of_the_wrong_length_are_errors() {
        let mut tr = tracker();
        let d = [det(10.0, 10.0, 10.0, 30.0, 0.9)];
        let kits = [None, None];
        let err = tr.update_with_cues(&d, None, DetectionCues { kits: Some(&kits), teams: None }).unwrap_err();
        assert!(err.to_string().contains("2 detection kits for 1 detections"), "{err}");
        assert_eq!(tr.frames_processed(), 0, "nothing changed");
        let teams = [Some(0)];
        assert_eq!(tr.update_with_cues(&d, None, DetectionCues { kits: None, teams: Some(&teams) }).unwrap().len(), 1);
        // In a pipeline: the stage fails before tracking any frame of the batch.
        let ctx = StageContext::standalone("player_tracking", VideoInfo::default());
        let mut good = item(0, Some(d.to_vec()));
        good.record.player_appearance = Some(vec![None]);
        let mut bad = item(1, Some(d.to_vec()));
        bad.record.player_appearance = Some(vec![]);
        let mut fresh = tracker();
        let mut batch = FrameBatch { items: vec![good, bad], ..Default::default() };
        let err = fresh.process(&mut batch, &ctx).unwrap_err();
        assert!(err.to_string().contains("frame 1 has 1 detections"), "{err}");
        assert_eq!(fresh.frames_processed(), 0);
    }
}
