//! The data that flows through a pipeline: frames, per-frame records and match data.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use serde::{Deserialize, Serialize};

use crate::stages::ball_detection::GrassModel;

/// An axis-aligned box in pixels: top-left corner, width and height.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct BBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl BBox {
    /// A box from its top-left corner and size.
    pub const fn new(x: f32, y: f32, w: f32, h: f32) -> Self {
        Self { x, y, w, h }
    }

    /// The area (0 for degenerate boxes).
    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    /// Intersection over union with another box, in `[0, 1]`.
    pub fn iou(&self, other: &BBox) -> f32 {
        let x1 = self.x.max(other.x);
        let y1 = self.y.max(other.y);
        let x2 = (self.x + self.w).min(other.x + other.w);
        let y2 = (self.y + self.h).min(other.y + other.h);
        let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    /// The bottom-centre point (where a player's feet touch the pitch).
    pub fn foot(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h)
    }
}

/// One detection in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Where it is.
    pub bbox: BBox,
    /// Detector confidence in `[0, 1]`.
    pub score: f32,
    /// Detector class id (model specific; 0 for detections files).
    pub class_id: u32,
}

/// A tracked object in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrackedBox {
    /// Stable id of the track, from 1.
    pub track_id: u64,
    /// Box in this frame (the tracker's estimate, matched to a detection).
    pub bbox: BBox,
    /// Score of the detection matched in this frame.
    pub score: f32,
}

/// Where the ball tracker stands in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BallState {
    /// A ball candidate was matched in this frame.
    Tracked,
    /// No candidate matched; the position is predicted (or interpolated after smoothing).
    /// Lasts at most `max_missing_frames` frames.
    Occluded,
    /// Unseen for more than `max_missing_frames` frames: the position is the last estimate
    /// before the ball was lost, kept for reference only, not a position of the ball.
    Lost,
}

/// The ball in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BallObservation {
    /// Centre, pixels.
    pub x: f32,
    /// Centre, pixels.
    pub y: f32,
    /// Tracked, occluded or lost.
    pub state: BallState,
    /// The position was filled in by interpolation across a gap (ball smoothing).
    pub interpolated: bool,
    /// Score of the candidate matched in this frame (0 when none was).
    pub score: f32,
    /// Centre of the candidate matched in this frame, before filtering (what the smoother
    /// uses as the measurement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<[f32; 2]>,
}

impl BallObservation {
    /// A ball a candidate of `score` was matched to at (x, y), not interpolated.
    pub fn tracked(x: f32, y: f32, score: f32) -> Self {
        BallObservation { x, y, state: BallState::Tracked, interpolated: false, score, measured: None }
    }

    /// No ball: lost (its position, the origin, is no position of the ball).
    pub fn lost() -> Self {
        BallObservation { x: 0.0, y: 0.0, state: BallState::Lost, interpolated: false, score: 0.0, measured: None }
    }

    /// Whether the observation gives a position of the ball (tracked or occluded, not lost).
    pub fn has_position(&self) -> bool {
        self.state != BallState::Lost
    }
}

/// The compact record of one frame: everything stages produced for it, without pixels.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FrameRecord {
    /// Frame index from 0 in the analysed (possibly resampled) stream.
    pub index: u64,
    /// Presentation time in seconds from the start of the stream.
    pub time_s: f64,
    /// Player detections ([`crate::Artifact::PLAYER_DETECTIONS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub players: Option<Vec<Detection>>,
    /// Ball candidates ([`crate::Artifact::BALL_CANDIDATES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ball_candidates: Option<Vec<Detection>>,
    /// Tracked players ([`crate::Artifact::PLAYER_TRACKS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracks: Option<Vec<TrackedBox>>,
    /// The ball ([`crate::Artifact::BALL`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ball: Option<BallObservation>,
    /// Image → pitch homography, row-major ([`crate::Artifact::HOMOGRAPHY`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homography: Option<[[f64; 3]; 3]>,
    /// Where `homography` came from (set with it by pitch calibration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// Kit colour of tracked people ([`crate::Artifact::KIT_COLOURS`]), from team features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kit: Option<Vec<KitSample>>,
    /// Kit colour of each player detection, parallel to `players`
    /// ([`crate::Artifact::PLAYER_APPEARANCE`], from [`crate::stages::teams::PlayerAppearance`]):
    /// median CIELAB `[L*, a*, b*]` of the torso with grass masked, `None` where it could not be
    /// measured (box cut by the image edge, torso hidden or too small). The player tracker uses
    /// it to re-identify players who come back into view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub player_appearance: Option<Vec<Option<[f32; 3]>>>,
    /// Team of each player detection given by the user, parallel to `players` (`None` where
    /// the input said nothing); set by a detections file with a team column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub player_teams: Option<Vec<Option<u32>>>,
    /// Artifacts of user stages, by artifact name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The kit colour of one tracked person in one frame: what team classification clusters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KitSample {
    /// The track.
    pub track_id: u64,
    /// Median CIELAB `[L*, a*, b*]` (D65) of the torso's non-grass pixels.
    pub lab: [f32; 3],
    /// Pixels the median was taken over (a subsample of the torso).
    pub pixels: u32,
}

/// How a frame's homography was obtained ([`FrameRecord::calibration`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Calibration {
    /// Given by the user: a homography file or matrix, or fitted to configured correspondences.
    Given,
    /// Fitted to this frame's pitch keypoints.
    Keypoints {
        /// Keypoints found with a pitch position.
        keypoints: u32,
        /// Of those, the ones that agree with the fitted homography.
        inliers: u32,
        /// Root-mean-square distance of the inliers from their pitch positions, metres.
        rms_error_m: f64,
    },
    /// Too few keypoints in this frame: the homography fitted in frame `from_frame` is reused
    /// (the camera may have moved since).
    Reused {
        /// The frame (index from 0) whose homography this is.
        from_frame: u64,
    },
}

/// A decoded frame: packed RGB24, `stride` bytes per row.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes per row (≥ 3 × width).
    pub stride: usize,
    /// Pixel bytes, `stride * height` long.
    pub data: Vec<u8>,
}

impl RgbFrame {
    /// The RGB value at (x, y). Panics when out of bounds, like slice indexing.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = y as usize * self.stride + x as usize * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}

/// A frame travelling through the streaming stages: its record and, while some stage still
/// needs them, its pixels.
#[derive(Debug, Clone, Default)]
pub struct FrameItem {
    /// What stages have produced for this frame.
    pub record: FrameRecord,
    /// The pixels (`None` for detections input, or once no later stage needs them).
    pub image: Option<Arc<RgbFrame>>,
    /// The grass model learned from `image` by the first stage that asked ([`FrameItem::grass`]),
    /// with the image it was learned from: ball detection, team features and player
    /// appearance all mask grass, and learning it once per frame instead of once per stage
    /// saves its cost (mostly the colour lookup table) twice. The `Weak` keeps no pixels alive
    /// once `image` is dropped, and tells a model of a replaced image from a current one.
    grass: Option<(Weak<RgbFrame>, Option<Arc<GrassModel>>)>,
}

impl FrameItem {
    /// A frame's record with its pixels (or `None`).
    pub fn new(record: FrameRecord, image: Option<Arc<RgbFrame>>) -> Self {
        FrameItem { record, image, grass: None }
    }

    /// The grass model of this frame's pixels ([`GrassModel::for_frame`]), learned on the first
    /// call and shared by later stages; `None` without pixels or when the frame shows no
    /// dominant grass (a close-up, a replay transition).
    pub fn grass(&mut self) -> Option<Arc<GrassModel>> {
        let Some(image) = &self.image else {
            self.grass = None;
            return None;
        };
        match &self.grass {
            Some((learned_from, model)) if std::ptr::eq(learned_from.as_ptr(), Arc::as_ptr(image)) => model.clone(),
            _ => {
                let model = GrassModel::for_frame(image).map(Arc::new);
                self.grass = Some((Arc::downgrade(image), model.clone()));
                model
            }
        }
    }

    /// Drops the pixels, and what was learned from them.
    pub fn drop_pixels(&mut self) {
        self.image = None;
        self.grass = None;
    }
}

/// A batch of consecutive frames. Batches never cross a checkpoint chunk boundary.
#[derive(Debug, Clone, Default)]
pub struct FrameBatch {
    /// The frames, in order.
    pub items: Vec<FrameItem>,
    /// Stage states captured after this batch, set when the batch closes a checkpoint chunk.
    pub(crate) states: Option<BTreeMap<String, Vec<u8>>>,
    /// The source's count of lost frames when it closed this batch's chunk.
    pub(crate) frames_lost: u64,
}

impl FrameBatch {
    /// The records of the batch, in order.
    pub fn records(&self) -> impl Iterator<Item = &FrameRecord> {
        self.items.iter().map(|i| &i.record)
    }
}

/// What is known about the input.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VideoInfo {
    /// Input path (video or detections file).
    pub path: String,
    /// Frames per second of the analysed stream (after `target_fps`).
    pub fps: f64,
    /// Frame width in pixels of the analysed stream.
    pub width: u32,
    /// Frame height in pixels of the analysed stream.
    pub height: u32,
    /// Duration in seconds, when known.
    pub duration_s: Option<f64>,
    /// Number of frames in the analysed stream, when known up front (estimated from the
    /// container for video).
    pub frame_count: Option<u64>,
    /// Codec name (`"mot-detections"` for detections files).
    pub codec: String,
}

/// The whole match, as match stages see it: every frame's record and the match-level
/// artifacts produced so far.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MatchData {
    /// The input.
    pub video: VideoInfo,
    /// One record per analysed frame, in order.
    pub frames: Vec<FrameRecord>,
    /// Team of each track (team classification).
    #[serde(default)]
    pub teams: Option<crate::analysis::TeamAssignment>,
    /// Possession per frame, parallel to `frames` (event detection); empty when not computed.
    #[serde(default)]
    pub possession: Vec<crate::analysis::Possession>,
    /// Team possession phases in frame order, not overlapping (event detection); frames in no
    /// phase have no team in possession (before the first control, ball out of play).
    #[serde(default)]
    pub possession_phases: Vec<crate::analysis::PossessionPhase>,
    /// Match events in frame order (event detection).
    #[serde(default)]
    pub events: Vec<crate::analysis::MatchEvent>,
    /// Team shapes per window (formation analysis).
    #[serde(default)]
    pub formations: Vec<crate::analysis::FormationWindow>,
    /// Match-level artifacts of user stages, by artifact name.
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl MatchData {
    /// The team of the possession phase each frame is in, parallel to `frames` (`None` outside
    /// the phases, and everywhere when event detection did not run).
    pub fn phase_teams(&self) -> Vec<Option<u32>> {
        let mut phases = self.possession_phases.iter().peekable();
        self.frames
            .iter()
            .map(|f| {
                while phases.next_if(|p| p.to_frame < f.index).is_some() {}
                phases.peek().filter(|p| p.from_frame <= f.index).map(|p| p.team)
            })
            .collect()
    }
}
