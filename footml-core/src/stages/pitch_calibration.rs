//! Pitch calibration: the image → pitch homography of every frame, so that tracks and the
//! ball get pitch coordinates in metres (origin at the centre spot, x along the length, y
//! along the width, positive towards the far touchline as seen from the main camera).
//!
//! One source, from `stage_configs.pitch_calibration` (or the top-level `homography_path`):
//!
//! * **a homography file** (DESIGN.md format: one matrix, or one per frame);
//! * **a matrix** (`image_to_pitch`);
//! * **correspondences**: at least four pixel ↔ pitch points of a static camera, fitted once
//!   with the normalised DLT (four points) or RANSAC and a least-squares refit (more);
//! * **a keypoint model** (feature `onnx`): a YOLOv8-pose ONNX model whose output is
//!   `[N, 4 + C + 3K, A]` (per anchor: box, `C` class scores, `K` × (x, y, visibility), in
//!   model-input pixels). Per frame, the anchor with the best pitch-class score is taken, its
//!   keypoints above the visibility threshold are un-letterboxed into frame pixels, paired with
//!   their pitch positions ([`DEFAULT_KEYPOINTS`] or a custom map) and fitted with RANSAC. A
//!   frame with too few usable keypoints reuses the last fitted homography for at most
//!   `max_reuse_frames` frames, and its record says so ([`Calibration::Reused`]). Model
//!   sessions and letterboxing are shared with player detection.

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, PipelineConfig, PitchCalibrationConfig};
use crate::pipeline::stage::{Artifact, Stage, StageContext, StreamStage};
use crate::stages::detections_file::HomographyFile;
use crate::types::{Calibration, FrameBatch};
use crate::vision::homography::{self, HomographyError, RansacParams};
use crate::{Error, Result};

/// The name of the stage.
pub const STAGE_NAME: &str = "pitch_calibration";

// IFAB Law 1 dimensions of a 105 × 68 m pitch.
const HALF_L: f64 = 52.5;
const HALF_W: f64 = 34.0;
const PENALTY_AREA_HALF_W: f64 = 20.16;
const GOAL_AREA_HALF_W: f64 = 9.16;
const PENALTY_AREA_X: f64 = HALF_L - 16.5;
const GOAL_AREA_X: f64 = HALF_L - 5.5;
const PENALTY_SPOT_X: f64 = HALF_L - 11.0;
const CIRCLE_R: f64 = 9.15;

/// The default keypoint layout: the 32 pitch points, in order, of the common public football
/// field keypoint models (Roboflow's `football-field-detection` dataset and the
/// `roboflow/sports` `SoccerPitchConfiguration`), placed on a 105 × 68 m pitch with IFAB
/// dimensions, in footml's pitch frame. Their point 1 is the far-left corner as the main camera
/// sees it (x = −52.5, y = +34); then down the left goal line (2–6: penalty area, goal area,
/// near corner), the left goal area's front corners (7, 8), the left penalty spot (9), the left
/// penalty area's front line (10–13), the halfway line (14–17: far touchline, centre circle far
/// and near, near touchline), the mirror image on the right (18–30), and the centre circle's
/// crossings of the long axis (31 left, 32 right).
pub const DEFAULT_KEYPOINTS: [[f64; 2]; 32] = [
    [-HALF_L, HALF_W],
    [-HALF_L, PENALTY_AREA_HALF_W],
    [-HALF_L, GOAL_AREA_HALF_W],
    [-HALF_L, -GOAL_AREA_HALF_W],
    [-HALF_L, -PENALTY_AREA_HALF_W],
    [-HALF_L, -HALF_W],
    [-GOAL_AREA_X, GOAL_AREA_HALF_W],
    [-GOAL_AREA_X, -GOAL_AREA_HALF_W],
    [-PENALTY_SPOT_X, 0.0],
    [-PENALTY_AREA_X, PENALTY_AREA_HALF_W],
    [-PENALTY_AREA_X, GOAL_AREA_HALF_W],
    [-PENALTY_AREA_X, -GOAL_AREA_HALF_W],
    [-PENALTY_AREA_X, -PENALTY_AREA_HALF_W],
    [0.0, HALF_W],
    [0.0, CIRCLE_R],
    [0.0, -CIRCLE_R],
    [0.0, -HALF_W],
    [PENALTY_AREA_X, PENALTY_AREA_HALF_W],
    [PENALTY_AREA_X, GOAL_AREA_HALF_W],
    [PENALTY_AREA_X, -GOAL_AREA_HALF_W],
    [PENALTY_AREA_X, -PENALTY_AREA_HALF_W],
    [PENALTY_SPOT_X, 0.0],
    [GOAL_AREA_X, GOAL_AREA_HALF_W],
    [GOAL_AREA_X, -GOAL_AREA_HALF_W],
    [HALF_L, HALF_W],
    [HALF_L, PENALTY_AREA_HALF_W],
    [HALF_L, GOAL_AREA_HALF_W],
    [HALF_L, -GOAL_AREA_HALF_W],
    [HALF_L, -PENALTY_AREA_HALF_W],
    [HALF_L, -HALF_W],
    [-CIRCLE_R, 0.0],
    [CIRCLE_R, 0.0],
];

/// Why a calibration could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CalibrationError {
    /// The configured correspondences or matrix give no homography (fewer than 4 points,
    /// coincident or collinear points, a singular matrix).
    #[error("pitch calibration: {0}")]
    Fit(#[from] HomographyError),
    /// The keypoint model's outputs or metadata do not match the YOLOv8-pose layout with the
    /// configured keypoints.
    #[error("pitch keypoint model {}: unexpected {what}: expected {expected}, found {found}", path.display())]
    Layout {
        /// The model file.
        path: std::path::PathBuf,
        /// Which part.
        what: String,
        /// What footml needs.
        expected: String,
        /// What the model has.
        found: String,
    },
    /// The keypoint model could not be loaded or run.
    #[cfg(feature = "onnx")]
    #[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
    #[error("pitch keypoint model: {0}")]
    Model(#[from] crate::stages::player_detection::DetectionError),
}

/// Checks `stage_configs.pitch_calibration` (and that at most one source of homographies is
/// configured, counting the top-level `homography_path`).
pub fn validate_config(config: &PipelineConfig) -> Result<(), ConfigError> {
    let c = &config.stage_configs.pitch_calibration;
    const SECTION: &str = "stage_configs.pitch_calibration";
    let sources: Vec<&str> = [
        (config.homography_path.is_some(), "homography_path"),
        (c.homography_path.is_some(), "stage_configs.pitch_calibration.homography_path"),
        (c.image_to_pitch.is_some(), "stage_configs.pitch_calibration.image_to_pitch"),
        (c.correspondences.is_some(), "stage_configs.pitch_calibration.correspondences"),
        (c.keypoint_model.is_some(), "stage_configs.pitch_calibration.keypoint_model"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if sources.len() > 1 {
        let found = sources.join(", ");
        return Err(ConfigError::invalid(SECTION, "", "at most one source of homographies", format_args!("{found}")));
    }
    if c.keypoints.is_some() && c.keypoint_model.is_none() {
        return Err(ConfigError::invalid(
            SECTION,
            "keypoints",
            "a keypoint map only together with keypoint_model",
            "no model",
        ));
    }
    if let Some(map) = &c.keypoints
        && (map.is_empty() || map.iter().flatten().flatten().any(|v| !v.is_finite()))
    {
        return Err(ConfigError::invalid(SECTION, "keypoints", "a non-empty list of [x, y] metres or null", map));
    }
    if let Some(m) = &c.image_to_pitch
        && m.iter().flatten().any(|v| !v.is_finite())
    {
        return Err(ConfigError::invalid(SECTION, "image_to_pitch", "a 3x3 matrix of finite numbers", m));
    }
    for (name, v) in [("confidence_threshold", c.confidence_threshold), ("keypoint_threshold", c.keypoint_threshold)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(ConfigError::invalid(SECTION, name, "a number in [0, 1]", v));
        }
    }
    if !(c.ransac_threshold_m.is_finite() && c.ransac_threshold_m > 0.0) {
        return Err(ConfigError::invalid(
            SECTION,
            "ransac_threshold_m",
            "a positive number of metres",
            c.ransac_threshold_m,
        ));
    }
    if c.ransac_iterations == 0 {
        return Err(ConfigError::invalid(SECTION, "ransac_iterations", "at least 1", 0));
    }
    Ok(())
}

/// Whether `config` calibrates frames at all (some source of homographies is configured).
pub fn is_configured(config: &PipelineConfig) -> bool {
    let c = &config.stage_configs.pitch_calibration;
    config.homography_path.is_some()
        || c.homography_path.is_some()
        || c.image_to_pitch.is_some()
        || c.correspondences.is_some()
        || c.keypoint_model.is_some()
}

/// A matrix given by the user must be invertible: a singular one maps the image onto a line.
fn checked_matrix(m: [[f64; 3]; 3]) -> Result<[[f64; 3]; 3], HomographyError> {
    let h = homography::from_rows(&m);
    let det = h.determinant();
    if m.iter().flatten().any(|v| !v.is_finite()) || !det.is_finite() || det.abs() <= 1e-12 * h.norm().powi(3) {
        return Err(HomographyError::Degenerate("image_to_pitch is singular".into()));
    }
    Ok(m)
}

/// The static homography of `correspondences` (DLT for four, RANSAC + refit for more).
pub fn fit_correspondences(
    correspondences: &[crate::config::Correspondence],
    params: &RansacParams,
) -> Result<homography::RansacFit, HomographyError> {
    let (src, dst): (Vec<[f64; 2]>, Vec<[f64; 2]>) = correspondences.iter().map(|c| (c.pixel, c.pitch)).unzip();
    homography::ransac(&src, &dst, params)
}

fn ransac_params(c: &PitchCalibrationConfig) -> RansacParams {
    RansacParams { threshold: c.ransac_threshold_m, max_iterations: c.ransac_iterations, ..Default::default() }
}

enum Source {
    /// The same matrix for every frame.
    Fixed([[f64; 3]; 3]),
    /// A homography file (per-frame entries may be missing).
    File(HomographyFile),
    /// A pitch keypoint model, and for how many frames its last fit stands in for frames it
    /// cannot fit (only a fitted model has a "last fit" to reuse).
    #[cfg(feature = "onnx")]
    Keypoints { model: keypoints::KeypointCalibrator, max_reuse_frames: u64 },
}

/// What carries over between batches: the last fitted homography (keypoint models only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    last_fit: Option<(u64, [[f64; 3]; 3])>,
}

/// The pitch calibration stage: writes [`crate::FrameRecord::homography`] and
/// [`crate::FrameRecord::calibration`] of every frame it can calibrate.
pub struct PitchCalibration {
    source: Source,
    state: State,
}

impl PitchCalibration {
    /// The stage for `config`, or `None` when no source of homographies is configured.
    pub fn from_config(config: &PipelineConfig) -> Result<Option<Self>> {
        validate_config(config)?;
        let c = &config.stage_configs.pitch_calibration;
        let source = if let Some(path) = config.homography_path.as_ref().or(c.homography_path.as_ref()) {
            Source::File(HomographyFile::load(path)?)
        } else if let Some(m) = c.image_to_pitch {
            Source::Fixed(checked_matrix(m).map_err(CalibrationError::from)?)
        } else if let Some(points) = &c.correspondences {
            let fit = fit_correspondences(points, &ransac_params(c)).map_err(CalibrationError::from)?;
            Source::Fixed(homography::to_rows(&fit.h))
        } else if let Some(model) = &c.keypoint_model {
            #[cfg(feature = "onnx")]
            {
                Source::Keypoints {
                    model: keypoints::KeypointCalibrator::new(model, c)?,
                    max_reuse_frames: u64::from(c.max_reuse_frames),
                }
            }
            #[cfg(not(feature = "onnx"))]
            {
                return Err(crate::pipeline::BuildError::Unsupported(format!(
                    "pitch keypoint model {} needs footml built with the `onnx` feature",
                    model.display()
                ))
                .into());
            }
        } else {
            return Ok(None);
        };
        Ok(Some(PitchCalibration { source, state: State::default() }))
    }

    /// A stage serving one fixed matrix (checked to be invertible).
    pub fn fixed(image_to_pitch: [[f64; 3]; 3]) -> Result<Self> {
        let m = checked_matrix(image_to_pitch).map_err(CalibrationError::from)?;
        Ok(PitchCalibration { source: Source::Fixed(m), state: State::default() })
    }

    /// A stage serving a homography file.
    pub fn from_file(file: HomographyFile) -> Self {
        PitchCalibration { source: Source::File(file), state: State::default() }
    }
}

impl Stage for PitchCalibration {
    fn name(&self) -> &str {
        STAGE_NAME
    }
    fn requires(&self) -> Vec<Artifact> {
        match &self.source {
            #[cfg(feature = "onnx")]
            Source::Keypoints { .. } => vec![Artifact::FRAMES],
            _ => vec![],
        }
    }
    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::HOMOGRAPHY]
    }
}

impl StreamStage for PitchCalibration {
    fn process(&mut self, batch: &mut FrameBatch, _ctx: &StageContext) -> Result<()> {
        match &mut self.source {
            Source::Fixed(m) => {
                for item in &mut batch.items {
                    item.record.homography = Some(*m);
                    item.record.calibration = Some(Calibration::Given);
                }
            }
            Source::File(file) => {
                for item in &mut batch.items {
                    item.record.homography = file.for_frame(item.record.index);
                    item.record.calibration = item.record.homography.map(|_| Calibration::Given);
                }
            }
            #[cfg(feature = "onnx")]
            Source::Keypoints { model, max_reuse_frames } => {
                // Everything that can fail runs before the state changes, so a retried batch
                // starts from the same state.
                let fits = model.fit_batch(batch)?;
                let mut state = self.state.clone();
                for (item, fit) in batch.items.iter_mut().zip(fits) {
                    let index = item.record.index;
                    match fit {
                        Some((h, calibration)) => {
                            state.last_fit = Some((index, h));
                            item.record.homography = Some(h);
                            item.record.calibration = Some(calibration);
                        }
                        None => match state.last_fit {
                            Some((from, h)) if index.saturating_sub(from) <= *max_reuse_frames => {
                                item.record.homography = Some(h);
                                item.record.calibration = Some(Calibration::Reused { from_frame: from });
                            }
                            _ => {
                                item.record.homography = None;
                                item.record.calibration = None;
                            }
                        },
                    }
                }
                self.state = state;
            }
        }
        Ok(())
    }

    fn save_state(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(&self.state).map_err(|e| Error::permanent(format!("pitch calibration state: {e}")))
    }

    fn load_state(&mut self, state: &[u8]) -> Result<()> {
        self.state = if state.is_empty() {
            State::default()
        } else {
            serde_json::from_slice(state).map_err(|e| Error::permanent(format!("pitch calibration state: {e}")))?
        };
        Ok(())
    }
}

#[cfg(feature = "onnx")]
#[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
pub mod keypoints {
    //! The keypoint-model path: YOLOv8-pose output decoding (pure) and the per-batch fit.

    use std::path::Path;
    use std::sync::Arc;

    use super::{CalibrationError, ransac_params};
    use crate::config::PitchCalibrationConfig;
    use crate::pipeline::stage::require_pixels;
    use crate::stages::player_detection::{BatchDim, Letterbox, YoloModel, letterbox_into};
    use crate::types::{Calibration, FrameBatch};
    use crate::vision::homography::{self, RansacParams};
    use crate::{Error, Result};

    /// A fitted frame: its homography (row-major) and how it was obtained.
    pub type Fitted = ([[f64; 3]; 3], Calibration);

    /// The keypoints of the best pitch detection in one image, in frame pixels.
    #[derive(Debug, Clone, PartialEq)]
    pub struct PitchKeypoints {
        /// The pitch class score of the chosen anchor.
        pub score: f32,
        /// Per model keypoint: its frame position when its visibility reached the threshold.
        pub points: Vec<Option<[f64; 2]>>,
    }

    /// Decodes one image of a YOLOv8-pose output `[4 + C + 3K, A]` (`out`, row-major): the
    /// anchor with the highest score of class `class_id` (when it reaches `confidence`), and
    /// its keypoints whose visibility reaches `keypoint_threshold`, letterbox undone. Keypoints
    /// may lie outside the frame (a corner beyond the picture is still a valid correspondence).
    #[allow(clippy::too_many_arguments)]
    pub fn decode_keypoints(
        out: &[f32],
        channels: usize,
        anchors: usize,
        keypoints: usize,
        class_id: usize,
        confidence: f32,
        keypoint_threshold: f32,
        lb: &Letterbox,
    ) -> Option<PitchKeypoints> {
        let classes = channels.checked_sub(4 + 3 * keypoints)?;
        if class_id >= classes || out.len() < channels * anchors {
            return None;
        }
        let scores = &out[(4 + class_id) * anchors..(5 + class_id) * anchors];
        let (best, &score) =
            scores.iter().enumerate().filter(|(_, s)| !s.is_nan()).max_by(|a, b| a.1.total_cmp(b.1))?;
        if score < confidence {
            return None;
        }
        let at = |row: usize| out[row * anchors + best];
        let points = (0..keypoints)
            .map(|k| {
                let row = 4 + classes + 3 * k;
                let (x, y, v) = (at(row), at(row + 1), at(row + 2));
                (v >= keypoint_threshold && x.is_finite() && y.is_finite()).then(|| {
                    [
                        ((x - lb.pad.0) / lb.scale.0 + lb.origin.0) as f64,
                        ((y - lb.pad.1) / lb.scale.1 + lb.origin.1) as f64,
                    ]
                })
            })
            .collect();
        Some(PitchKeypoints { score, points })
    }

    /// Pairs visible keypoints with their pitch positions and fits a homography; `None` when
    /// fewer than four pairs remain or they do not determine one.
    pub fn fit_keypoints(found: &PitchKeypoints, pitch: &[Option<[f64; 2]>], params: &RansacParams) -> Option<Fitted> {
        let (src, dst): (Vec<[f64; 2]>, Vec<[f64; 2]>) =
            found.points.iter().zip(pitch).filter_map(|(px, p)| Some(((*px)?, (*p)?))).unzip();
        let fit = homography::ransac(&src, &dst, params).ok()?;
        let calibration = Calibration::Keypoints {
            keypoints: src.len() as u32,
            inliers: fit.inlier_count() as u32,
            rms_error_m: fit.rms_error,
        };
        Some((homography::to_rows(&fit.h), calibration))
    }

    /// A loaded keypoint model with its settings.
    pub(crate) struct KeypointCalibrator {
        model: Arc<YoloModel>,
        pitch: Vec<Option<[f64; 2]>>,
        class_id: usize,
        confidence: f32,
        keypoint_threshold: f32,
        params: RansacParams,
        input: Vec<f32>,
    }

    impl KeypointCalibrator {
        pub(crate) fn new(path: &Path, c: &PitchCalibrationConfig) -> Result<Self> {
            let model = YoloModel::load(path, c.intra_threads).map_err(CalibrationError::from)?;
            let pitch = c.keypoints.clone().unwrap_or_else(|| super::DEFAULT_KEYPOINTS.map(Some).to_vec());
            let layout = |what: &str, expected: String, found: String| CalibrationError::Layout {
                path: path.to_path_buf(),
                what: what.into(),
                expected,
                found,
            };
            let k = pitch.len();
            // Ultralytics exports state the keypoint shape; when the model does, it must match
            // the map, since `4 + C + 3K` channels alone cannot tell C from K.
            if let Some(shape) = model.metadata("kpt_shape") {
                let dims: Vec<usize> = shape
                    .trim_matches(|ch| ch == '[' || ch == ']' || ch == '(' || ch == ')')
                    .split(',')
                    .filter_map(|d| d.trim().parse().ok())
                    .collect();
                if dims != [k, 3] {
                    return Err(
                        layout("kpt_shape", format!("[{k}, 3] (the keypoint map has {k} points)"), shape).into()
                    );
                }
            }
            if let Some(channels) = model.classes().map(|c| c + 4) {
                let classes = channels.saturating_sub(4 + 3 * k);
                if classes <= c.pitch_class_id as usize {
                    return Err(layout(
                        "output channels",
                        format!("4 + classes + 3 × {k} with class {} among the classes", c.pitch_class_id),
                        channels.to_string(),
                    )
                    .into());
                }
            }
            Ok(KeypointCalibrator {
                model,
                pitch,
                class_id: c.pitch_class_id as usize,
                confidence: c.confidence_threshold,
                keypoint_threshold: c.keypoint_threshold,
                params: ransac_params(c),
                input: Vec::new(),
            })
        }

        /// The homography of each frame of the batch that has enough keypoints.
        pub(crate) fn fit_batch(&mut self, batch: &FrameBatch) -> Result<Vec<Option<Fitted>>> {
            let (in_w, in_h) = self.model.input_size();
            let plane3 = 3 * in_w * in_h;
            let per_call = match self.model.batch() {
                BatchDim::Fixed(n) => n.max(1),
                BatchDim::Dynamic => batch.items.len().max(1),
            };
            let frames = require_pixels(batch, super::STAGE_NAME)?;
            let mut out = Vec::with_capacity(frames.len());
            for chunk in frames.chunks(per_call) {
                let n = match self.model.batch() {
                    BatchDim::Fixed(n) => n,
                    BatchDim::Dynamic => chunk.len(),
                };
                self.input.clear();
                self.input.resize(n * plane3, 0.0);
                let mut boxes = Vec::with_capacity(chunk.len());
                for (i, frame) in chunk.iter().enumerate() {
                    let dst = &mut self.input[i * plane3..(i + 1) * plane3];
                    boxes.push(letterbox_into(frame, [0, 0, frame.width, frame.height], in_w, in_h, dst));
                }
                let (channels, anchors, data) =
                    self.model.infer(&self.input, n).map_err(|e| Error::from(CalibrationError::from(e)))?;
                let k = self.pitch.len();
                if channels < 5 + 3 * k + self.class_id {
                    return Err(CalibrationError::Layout {
                        path: self.model.path().to_path_buf(),
                        what: "output channels at run time".into(),
                        expected: format!("4 + classes + 3 × {k}"),
                        found: channels.to_string(),
                    }
                    .into());
                }
                for (i, lb) in boxes.iter().enumerate() {
                    let image = &data[i * channels * anchors..(i + 1) * channels * anchors];
                    let found = decode_keypoints(
                        image,
                        channels,
                        anchors,
                        k,
                        self.class_id,
                        self.confidence,
                        self.keypoint_threshold,
                        lb,
                    );
                    out.push(found.and_then(|f| fit_keypoints(&f, &self.pitch, &self.params)));
                }
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Correspondence;
    use crate::types::{FrameItem, FrameRecord};

    fn config(json: &str) -> std::result::Result<PipelineConfig, ConfigError> {
        PipelineConfig::from_json_with_env(json, |_| None)
    }

    fn run(stage: &mut PitchCalibration, items: Vec<FrameItem>) -> Vec<FrameRecord> {
        let mut batch = FrameBatch { items, ..Default::default() };
        stage.process(&mut batch, &StageContext::standalone(STAGE_NAME, Default::default())).unwrap();
        batch.items.into_iter().map(|i| i.record).collect()
    }

    fn bare(n: u64) -> Vec<FrameItem> {
        (0..n).map(|index| FrameItem::new(FrameRecord { index, ..Default::default() }, None)).collect()
    }

    /// Image → pitch of a camera looking down at the pitch at an angle (perspective).
    const H: [[f64; 3]; 3] = [[0.08, 0.01, -60.0], [0.002, -0.12, 45.0], [0.00001, 0.0009, 1.0]];

    #[test]
    fn default_layout_is_symmetric_and_on_the_pitch() {
        assert_eq!(DEFAULT_KEYPOINTS.len(), 32);
        for (i, p) in DEFAULT_KEYPOINTS.iter().enumerate() {
            assert!(p[0].abs() <= 52.5 && p[1].abs() <= 34.0, "{i}: {p:?}");
            // Every point has its mirror image across the halfway line in the layout.
            assert!(DEFAULT_KEYPOINTS.contains(&[-p[0], p[1]]), "{i}: {p:?}");
        }
        // Roboflow's points 1, 6, 25 and 30 are the corners; 9 and 22 the penalty spots.
        assert_eq!(DEFAULT_KEYPOINTS[0], [-52.5, 34.0]);
        assert_eq!(DEFAULT_KEYPOINTS[29], [52.5, -34.0]);
        assert_eq!(DEFAULT_KEYPOINTS[8], [-41.5, 0.0]);
        assert_eq!(DEFAULT_KEYPOINTS[21], [41.5, 0.0]);
        assert_eq!(DEFAULT_KEYPOINTS[12], [-36.0, -20.16]);
    }

    #[test]
    fn correspondences_give_the_static_homography() {
        let h = homography::from_rows(&H);
        let pixels = [[100.0, 600.0], [1800.0, 650.0], [1500.0, 200.0], [300.0, 180.0], [960.0, 400.0]];
        let mut corr: Vec<Correspondence> =
            pixels.iter().map(|p| Correspondence { pixel: *p, pitch: homography::transfer(&h, *p).unwrap() }).collect();
        // One misclicked point: RANSAC leaves it out.
        corr.push(Correspondence { pixel: [700.0, 300.0], pitch: [0.0, 0.0] });
        let json = serde_json::json!({"stage_configs": {"pitch_calibration": {"correspondences": corr}}});
        let cfg = config(&json.to_string()).unwrap();
        let mut stage = PitchCalibration::from_config(&cfg).unwrap().unwrap();
        assert!(stage.requires().is_empty());
        assert_eq!(stage.provides(), vec![Artifact::HOMOGRAPHY]);
        let recs = run(&mut stage, bare(2));
        let got = homography::from_rows(&recs[1].homography.unwrap());
        for p in [[0.0, 0.0], [1919.0, 1079.0], [640.0, 360.0]] {
            let (a, b) = (homography::transfer(&got, p).unwrap(), homography::transfer(&h, p).unwrap());
            assert!((a[0] - b[0]).hypot(a[1] - b[1]) < 1e-6, "{p:?}: {a:?} vs {b:?}");
        }
        assert_eq!(recs[0].calibration, Some(Calibration::Given));
    }

    #[test]
    fn matrix_and_file_sources() {
        let cfg = config(
            r#"{"stage_configs": {"pitch_calibration": {"image_to_pitch": [[0.1,0,-50],[0,0.1,-30],[0,0,1]]}}}"#,
        )
        .unwrap();
        let mut stage = PitchCalibration::from_config(&cfg).unwrap().unwrap();
        let recs = run(&mut stage, bare(3));
        assert!(recs.iter().all(|r| r.homography == Some([[0.1, 0.0, -50.0], [0.0, 0.1, -30.0], [0.0, 0.0, 1.0]])));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.json");
        std::fs::write(&path, r#"{"frames": [{"frame": 2, "image_to_pitch": [[1,0,0],[0,1,0],[0,0,1]]}]}"#).unwrap();
        let json = serde_json::json!({"stage_configs": {"pitch_calibration": {"homography_path": path}}});
        let mut stage = PitchCalibration::from_config(&config(&json.to_string()).unwrap()).unwrap().unwrap();
        let recs = run(&mut stage, bare(3));
        assert_eq!(recs.iter().map(|r| r.homography.is_some()).collect::<Vec<_>>(), [false, true, false]);
        assert_eq!(recs[0].calibration, None);
        assert!(PitchCalibration::from_config(&PipelineConfig::default()).unwrap().is_none());
    }

    #[test]
    fn bad_calibration_configs_are_typed_errors() {
        // Conflicting sources, including the top-level homography_path.
        let e = config(
            r#"{"homography_path": "h.json", "stage_configs": {"pitch_calibration": {"image_to_pitch": [[1,0,0],[0,1,0],[0,0,1]]}}}"#,
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { key, found, .. } if key == "stage_configs.pitch_calibration"
                && found.contains("homography_path") && found.contains("image_to_pitch")),
            "{e}"
        );
        let e =
            config(r#"{"stage_configs": {"pitch_calibration": {"keypoint_model": "k.onnx", "correspondences": []}}}"#)
                .unwrap_err();
        assert!(matches!(&e, ConfigError::Invalid { .. }), "{e}");
        // Unknown keys are still named.
        let e = config(r#"{"stage_configs": {"pitch_calibration": {"ransac_threshold": 1}}}"#).unwrap_err();
        assert!(
            matches!(&e, ConfigError::UnknownKey { key } if key == "stage_configs.pitch_calibration.ransac_threshold"),
            "{e}"
        );
        let e = config(r#"{"stage_configs": {"pitch_calibration": {"correspondences": [{"pixel": [1, 2], "pitch": [1, 2], "z": 0}]}}}"#)
            .unwrap_err();
        assert!(matches!(&e, ConfigError::UnknownKey { .. }), "{e}");
        for bad in [
            r#"{"ransac_threshold_m": 0}"#,
            r#"{"ransac_iterations": 0}"#,
            r#"{"keypoint_threshold": 1.5}"#,
            r#"{"keypoints": [[0, 0]]}"#,
            r#"{"keypoint_model": "k.onnx", "keypoints": []}"#,
        ] {
            let e = config(&format!(r#"{{"stage_configs": {{"pitch_calibration": {bad}}}}}"#)).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Invalid { key, .. } if key.starts_with("stage_configs.pitch_calibration.")),
                "{bad}: {e}"
            );
        }
        // Fewer than four points; collinear points; a singular matrix.
        let fit_err = |calib: &str| {
            let cfg = config(&format!(r#"{{"stage_configs": {{"pitch_calibration": {calib}}}}}"#)).unwrap();
            match PitchCalibration::from_config(&cfg) {
                Err(Error::Calibration(CalibrationError::Fit(e))) => e,
                other => panic!("{calib}: expected a fit error, got {:?}", other.map(|s| s.is_some())),
            }
        };
        let three = r#"{"correspondences": [{"pixel": [0, 0], "pitch": [0, 0]}, {"pixel": [1, 0], "pitch": [1, 0]},
            {"pixel": [0, 1], "pitch": [0, 1]}]}"#;
        assert_eq!(fit_err(three), HomographyError::TooFewPoints { found: 3 });
        let line = r#"{"correspondences": [{"pixel": [0, 0], "pitch": [0, 0]}, {"pixel": [1, 1], "pitch": [1, 0]},
            {"pixel": [2, 2], "pitch": [0, 1]}, {"pixel": [3, 3], "pitch": [1, 1]}]}"#;
        assert!(matches!(fit_err(line), HomographyError::Degenerate(_)));
        let singular = r#"{"image_to_pitch": [[1, 2, 3], [2, 4, 6], [0, 0, 1]]}"#;
        assert!(matches!(fit_err(singular), HomographyError::Degenerate(_)));
        let e = PitchCalibration::fixed([[0.0; 3]; 3]).err().unwrap();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
    }

    #[cfg(feature = "onnx")]
    mod model {
        use std::path::{Path, PathBuf};
        use std::sync::{Arc, OnceLock};

        use super::*;
        use crate::stages::player_detection::Letterbox;
        use crate::types::RgbFrame;

        fn venv_python() -> PathBuf {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
            assert!(p.exists(), "{} is missing: run scripts/setup.sh", p.display());
            p
        }

        /// The 128×64 test frame is letterboxed into 64×64 at scale 0.5 with 16 rows of padding
        /// above: input = (frame.x × 0.5, frame.y × 0.5 + 16).
        fn to_input(p: [f64; 2]) -> [f64; 2] {
            [p[0] * 0.5, p[1] * 0.5 + 16.0]
        }

        /// Frame pixels of each default keypoint under [`H`] (pitch → image is its inverse).
        fn true_pixels() -> Vec<[f64; 2]> {
            let inv = homography::from_rows(&H).try_inverse().unwrap();
            DEFAULT_KEYPOINTS.iter().map(|p| homography::transfer(&inv, *p).unwrap()).collect()
        }

        const VISIBLE: [usize; 12] = [0, 1, 2, 6, 8, 9, 10, 13, 14, 15, 30, 31];
        const OUTLIER: usize = 10;

        /// A YOLOv8-pose graph (opset 13, `kpt_shape` metadata [32, 3]) with input [1,3,64,64]
        /// and output [1, 4+1+96, 3] = C + M × mean(R of the input): anchor 0 (pitch score 0.9)
        /// carries the true input positions of the [`VISIBLE`] keypoints (one, [`OUTLIER`], off
        /// by 12 px) with visibility = mean R (0.72 for a red frame, 0.22 for a black one), the
        /// rest invisible (0.1) at wrong places; anchor 1 (0.6) has every keypoint visible at
        /// wrong places; anchor 2 scores 0.2. `short.onnx`: output [1, 20, 3], no metadata.
        fn graphs() -> &'static Path {
            static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
            DIR.get_or_init(|| {
                let (ch, a) = (4 + 1 + 96, 3);
                let mut c = vec![0.0f32; ch * a];
                let mut m = vec![0.0f32; ch * a];
                let at = |row: usize, anchor: usize| row * a + anchor;
                c[at(4, 0)] = 0.9;
                c[at(4, 1)] = 0.6;
                c[at(4, 2)] = 0.2;
                let px = true_pixels();
                for (k, &pixel) in px.iter().enumerate() {
                    let row = 5 + 3 * k;
                    if VISIBLE.contains(&k) {
                        let mut p = to_input(pixel);
                        if k == OUTLIER {
                            p[0] += 12.0;
                        }
                        c[at(row, 0)] = p[0] as f32;
                        c[at(row + 1, 0)] = p[1] as f32;
                        m[at(row + 2, 0)] = 1.0;
                    } else {
                        c[at(row, 0)] = 3.0 * k as f32;
                        c[at(row + 2, 0)] = 0.1;
                    }
                    c[at(row, 1)] = 7.0;
                    c[at(row + 1, 1)] = k as f32;
                    c[at(row + 2, 1)] = 1.0;
                }
                let dir = tempfile::tempdir().expect("temp dir");
                let spec = serde_json::json!({"C": c, "M": m, "ch": ch, "a": a});
                std::fs::write(dir.path().join("spec.json"), spec.to_string()).unwrap();
                let out = std::process::Command::new(venv_python())
                    .args(["-c", GRAPHS])
                    .arg(dir.path())
                    .output()
                    .expect("run python");
                assert!(out.status.success(), "building test graphs failed: {}", String::from_utf8_lossy(&out.stderr));
                dir
            })
            .path()
        }

        const GRAPHS: &str = r#"
import sys, json, numpy as np, onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
out = sys.argv[1]
spec = json.load(open(f"{out}/spec.json"))
ch, a = spec["ch"], spec["a"]
C = np.array(spec["C"], np.float32).reshape(1, ch, a)
M = np.array(spec["M"], np.float32).reshape(1, ch, a)
def const(name, arr):
    return h.make_node("Constant", [], [name], value=nh.from_array(np.asarray(arr), name))
def save(name, nodes, out_shape, meta):
    g = h.make_graph(nodes, name, [h.make_tensor_value_info("images", T.FLOAT, [1, 3, 64, 64])],
                     [h.make_tensor_value_info("output0", T.FLOAT, out_shape)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)], ir_version=8)
    for k, v in meta.items():
        p = m.metadata_props.add(); p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, f"{out}/{name}.onnx")
red = [h.make_node("ReduceMean", ["images"], ["mean"], axes=[2, 3], keepdims=0),
       const("i0", np.array([0], np.int64)),
       h.make_node("Gather", ["mean", "i0"], ["r"], axis=1)]
save("pose", red + [const("C", C), const("M", M), h.make_node("Mul", ["M", "r"], ["mr"]),
                    h.make_node("Add", ["C", "mr"], ["output0"])], [1, ch, a], {"kpt_shape": "[32, 3]", "task": "pose"})
save("short", [const("S", np.zeros((1, 20, 3), np.float32)),
               h.make_node("Identity", ["S"], ["output0"])], [1, 20, 3], {})
"#;

        fn solid(rgb: [u8; 3]) -> Arc<RgbFrame> {
            let data = [rgb; 128 * 64].concat();
            Arc::new(RgbFrame { width: 128, height: 64, stride: 128 * 3, data })
        }

        fn keypoint_config(model: &str, extra: &str) -> PipelineConfig {
            let path = graphs().join(model);
            config(&format!(
                r#"{{"stage_configs": {{"pitch_calibration": {{"keypoint_model": {}, "intra_threads": 1{extra}}}}}}}"#,
                serde_json::to_string(&path).unwrap()
            ))
            .unwrap()
        }

        #[test]
        fn decodes_pose_output_and_fits_per_frame_with_fallback() {
            let cfg = keypoint_config("pose.onnx", r#", "max_reuse_frames": 1, "ransac_threshold_m": 0.5"#);
            let mut stage = PitchCalibration::from_config(&cfg).unwrap().unwrap();
            assert_eq!(stage.requires(), vec![Artifact::FRAMES]);
            let (red, black) = (solid([255, 0, 0]), solid([0, 0, 0]));
            let frames = [&red, &black, &black, &red];
            let items = frames
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    FrameItem::new(FrameRecord { index: i as u64, ..Default::default() }, Some(Arc::clone(f)))
                })
                .collect();
            let recs = run(&mut stage, items);
            // Frame 0: 12 keypoints, the displaced one left out, the rest fit exactly.
            let Some(Calibration::Keypoints { keypoints, inliers, rms_error_m }) = recs[0].calibration else {
                panic!("{:?}", recs[0].calibration)
            };
            assert_eq!((keypoints, inliers), (12, 11));
            assert!(rms_error_m < 1e-3, "{rms_error_m}");
            let got = homography::from_rows(&recs[0].homography.unwrap());
            let truth = homography::from_rows(&H);
            for p in [[0.0, 0.0], [127.0, 63.0], [64.0, 32.0], [10.0, 50.0]] {
                let (a, b) = (homography::transfer(&got, p).unwrap(), homography::transfer(&truth, p).unwrap());
                assert!((a[0] - b[0]).hypot(a[1] - b[1]) < 0.01, "{p:?}: {a:?} vs {b:?}");
            }
            // Frame 1: black, every keypoint under the threshold: frame 0's homography, marked.
            assert_eq!(recs[1].calibration, Some(Calibration::Reused { from_frame: 0 }));
            assert_eq!(recs[1].homography, recs[0].homography);
            // Frame 2: two frames after the last fit, beyond max_reuse_frames: uncalibrated.
            assert_eq!((recs[2].homography, recs[2].calibration), (None, None));
            assert!(matches!(recs[3].calibration, Some(Calibration::Keypoints { .. })));
            // The state (last fit) survives a checkpoint.
            let state = stage.save_state().unwrap();
            let mut resumed = PitchCalibration::from_config(&cfg).unwrap().unwrap();
            resumed.load_state(&state).unwrap();
            let item = FrameItem::new(FrameRecord { index: 4, ..Default::default() }, Some(black));
            let recs = run(&mut resumed, vec![item]);
            assert_eq!(recs[0].calibration, Some(Calibration::Reused { from_frame: 3 }));
        }

        #[test]
        fn decoder_picks_the_best_pitch_anchor_and_thresholds_keypoints() {
            // [4 + 1 + 3×2, 2]: anchor 1 wins (0.8 > 0.4); its keypoint 1 is under 0.5.
            let out = [
                0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, // box
                0.4, 0.8, // pitch scores
                1.0, 20.0, 2.0, 30.0, 0.3, 0.9, // keypoint 0: x, y, v per anchor
                3.0, 40.0, 4.0, 50.0, 0.9, 0.2, // keypoint 1
            ];
            let lb = Letterbox { origin: (0.0, 0.0), scale: (0.5, 0.5), pad: (0.0, 16.0) };
            let k = keypoints::decode_keypoints(&out, 11, 2, 2, 0, 0.5, 0.5, &lb).unwrap();
            assert_eq!(k, keypoints::PitchKeypoints { score: 0.8, points: vec![Some([40.0, 28.0]), None] });
            assert_eq!(keypoints::decode_keypoints(&out, 11, 2, 2, 0, 0.9, 0.5, &lb), None);
            // A layout with fewer channels than the keypoints need decodes nothing.
            assert_eq!(keypoints::decode_keypoints(&out, 11, 2, 3, 0, 0.5, 0.5, &lb), None);
        }

        #[test]
        fn keypoint_models_of_the_wrong_layout_are_typed_errors() {
            // kpt_shape [32, 3] against a 4-point map.
            let e = PitchCalibration::from_config(&keypoint_config(
                "pose.onnx",
                r#", "keypoints": [[0, 0], [1, 0], [0, 1], null]"#,
            ))
            .err()
            .unwrap();
            assert!(
                matches!(&e, Error::Calibration(CalibrationError::Layout { what, .. }) if what == "kpt_shape"),
                "{e}"
            );
            // 20 channels cannot hold 32 keypoints.
            let e = PitchCalibration::from_config(&keypoint_config("short.onnx", "")).err().unwrap();
            assert!(
                matches!(&e, Error::Calibration(CalibrationError::Layout { what, .. }) if what == "output channels"),
                "{e}"
            );
            assert_eq!(e.kind(), crate::ErrorKind::Config);
            let e = PitchCalibration::from_config(&keypoint_config("missing.onnx", "")).err().unwrap();
            assert_eq!(e.kind(), crate::ErrorKind::NotFound, "{e}");
        }
    }
}
