//! Pipeline configuration: the JSON request of the original service, accepted as is.
//!
//! Unknown keys are errors naming the key (with its path, e.g.
//! `stage_configs.video_decoding.fps_target`). Environment variables of the original service
//! fill values the JSON leaves out:
//!
//! | variable | fills |
//! |---|---|
//! | `YOLO_MODEL_PATH` | `stage_configs.player_detection.model_path` |
//! | `KEYPOINT_MODEL_PATH` | `stage_configs.pitch_calibration.keypoint_model`, when no calibration source is set |
//! | `MODEL_CACHE_DIR` | `model_cache_dir` |
//! | `CHECKPOINT_TTL_SECONDS` | `checkpoint_ttl_seconds` |
//! | `REDIS_URL` | `redis_url` |
//! | `CUDA_VISIBLE_DEVICES` | `cuda_visible_devices` |
//! | `GPU_MEMORY_FRACTION` | `gpu_memory_fraction` |
//! | `ML_PIPELINE_LOG_LEVEL` | `log_level` |

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Errors in a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A key the configuration does not know.
    #[error("unknown config key `{key}`")]
    UnknownKey {
        /// The key with its path, e.g. `stage_configs.video_decoding.fps`.
        key: String,
    },
    /// The JSON could not be parsed or a value had the wrong type.
    #[error("invalid config at `{path}`: {message}")]
    Parse {
        /// Where in the document (`.` for the root).
        path: String,
        /// What serde said.
        message: String,
    },
    /// A value is out of range or inconsistent with another.
    #[error("invalid config value `{key}`: expected {expected}, found {found}")]
    Invalid {
        /// The key.
        key: String,
        /// What is accepted.
        expected: String,
        /// What was given.
        found: String,
    },
    /// An environment variable could not be parsed.
    #[error("environment variable {var}: expected {expected}, found `{found}`")]
    Env {
        /// The variable.
        var: String,
        /// What is accepted.
        expected: String,
        /// Its value.
        found: String,
    },
}

impl ConfigError {
    /// An out-of-range or inconsistent value: `key` of config `section` (its path, e.g.
    /// `stage_configs.metrics`; `""` for a top-level key; an empty `key` names the section
    /// itself), what is accepted, and the value given, shown with `Debug` (so strings are
    /// quoted; pass `format_args!("{v}")` to show a value as written).
    ///
    /// The one constructor every validator uses, so that keys are always spelled with their
    /// full path and messages read the same everywhere.
    pub fn invalid(section: &str, key: &str, expected: &str, found: impl std::fmt::Debug) -> Self {
        let key = match (section.is_empty(), key.is_empty()) {
            (true, _) => key.to_string(),
            (false, true) => section.to_string(),
            (false, false) => format!("{section}.{key}"),
        };
        ConfigError::Invalid { key, expected: expected.into(), found: format!("{found:?}") }
    }
}

fn default_batch_size() -> usize {
    8
}
fn default_true() -> bool {
    true
}
fn default_checkpoint_interval() -> u64 {
    250
}
fn default_channel_capacity() -> usize {
    4
}

/// The whole configuration of a pipeline run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Video to analyse.
    #[serde(default)]
    pub video_path: Option<PathBuf>,
    /// MOTChallenge player detections to analyse instead of video. With `video_path` as well,
    /// each frame's players come from this file instead of a detection model (your own
    /// detector's boxes), while the pixels still come from the video for the ball, the kit
    /// colours and the tracker's re-identification by appearance.
    #[serde(default)]
    pub detections_path: Option<PathBuf>,
    /// MOTChallenge ball candidates to go with `detections_path`.
    #[serde(default)]
    pub ball_detections_path: Option<PathBuf>,
    /// Image → pitch homography file (see DESIGN.md); the same as
    /// `stage_configs.pitch_calibration.homography_path` (set at most one source of homographies).
    #[serde(default)]
    pub homography_path: Option<PathBuf>,
    /// Frame rate of a detections input.
    #[serde(default)]
    pub fps: Option<f64>,
    /// `[width, height]` of the frames a detections input refers to.
    #[serde(default)]
    pub frame_size: Option<[u32; 2]>,
    /// Model version label, carried into the report.
    #[serde(default)]
    pub model_version: Option<String>,
    /// Frames per batch between streaming stages.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Use the GPU for inference when available.
    #[serde(default)]
    pub gpu_enabled: bool,
    /// Write checkpoints so that an interrupted run can resume.
    #[serde(default = "default_true")]
    pub checkpoint_enabled: bool,
    /// Where `report.json`, `tracks.txt` and side outputs (extracted audio) are written.
    /// Without it the report is only returned.
    #[serde(default)]
    pub output_dir: Option<PathBuf>,
    /// How `report.json` in `output_dir` carries the per-frame tables (track boxes, ball,
    /// possession, calibration, user per-frame artifacts): `"inline"` (the default: all in
    /// `report.json`) or `"parquet"` (in Parquet files beside it that `report.json` names, so
    /// that a whole match's report stays small; needs the `parquet` feature). Either form
    /// reads back as the same report ([`crate::MatchReport::read_json`]).
    #[serde(default)]
    pub report_tables: ReportTables,
    /// Frames per checkpoint chunk.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval_frames: u64,
    /// Where the filesystem checkpoint store writes (the CLI defaults to `OUT/checkpoints`).
    #[serde(default)]
    pub checkpoint_dir: Option<PathBuf>,
    /// How long checkpoints live after their last write in stores that expire entries (the
    /// Redis store; one day when unset). At least 1.
    #[serde(default)]
    pub checkpoint_ttl_seconds: Option<u64>,
    /// Redis URL (`redis://[user:password@]host[:port][/db]`): when set (and
    /// `checkpoint_enabled`), checkpoints go to the Redis checkpoint store instead of
    /// `checkpoint_dir`, so that any worker sharing the server resumes a run, and a lock on
    /// the server keeps two workers from running the same pipeline at once. Needs footml
    /// built with the `redis` feature (the CLI and the Python package are).
    #[serde(default)]
    pub redis_url: Option<String>,
    /// Id of the run; derived from the inputs and config when absent, so that the same
    /// analysis resumes from its own checkpoints. Keys that do not change the result (output
    /// and checkpoint places, batching, retries) stay out of a derived id, and so do the
    /// `live` keys in file mode, which never reads them.
    #[serde(default)]
    pub pipeline_id: Option<String>,
    /// Batches buffered between two streaming stages (back-pressure bound).
    #[serde(default = "default_channel_capacity")]
    pub channel_capacity: usize,
    /// Where models are kept (`MODEL_CACHE_DIR`). A relative `model_path` or `keypoint_model`
    /// is looked up here first, and used as given (relative to the working directory) when
    /// the file is not here; TensorRT keeps the engines it builds in `tensorrt/` under it, so
    /// that the minutes-long engine build happens once per model and GPU, not per process.
    #[serde(default)]
    pub model_cache_dir: Option<PathBuf>,
    /// The ONNX Runtime shared library (`libonnxruntime.so*`) detection models run on. Unset:
    /// `ORT_DYLIB_PATH`, else the `onnxruntime` wheel of the project's `.venv` (see
    /// `stages::player_detection`). One process loads one library: a config naming another
    /// one than the process already loaded is an error.
    #[serde(default)]
    pub onnxruntime_path: Option<PathBuf>,
    /// Log level for the CLI (`error`, `warn`, `info`, `debug`, `trace`).
    #[serde(default)]
    pub log_level: Option<String>,
    /// GPUs visible to inference, as CUDA understands the variable.
    #[serde(default)]
    pub cuda_visible_devices: Option<String>,
    /// Share of GPU memory inference may use, in `(0, 1]`.
    #[serde(default)]
    pub gpu_memory_fraction: Option<f64>,
    /// How failing stages are retried.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Per-stage settings.
    #[serde(default)]
    pub stage_configs: StageConfigs,
    /// Live sessions ([`crate::live::LiveSession`]): what pushed frames carry.
    #[serde(default)]
    pub live: LiveConfig,
}

/// Where a written report's per-frame tables go ([`PipelineConfig::report_tables`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportTables {
    /// Inside `report.json`.
    #[default]
    Inline,
    /// In Parquet files beside `report.json` (`tracks.parquet`, `ball.parquet`,
    /// `possession.parquet`, `calibration.parquet`, `frame_extra.parquet`; layout in
    /// `footml::report::tables`), named by its `tables`.
    Parquet,
}

/// What the frames pushed into a live session carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveInputKind {
    /// Pixels when a player detection model is configured, detections otherwise.
    #[default]
    Auto,
    /// Pixels (RGB, BGR or YUV 4:2:0 buffers): players come from the detection model, ball
    /// candidates from the classical ball detector.
    Pixels,
    /// Player detections (and ball candidates with `ball_candidates`) computed elsewhere;
    /// no model is needed.
    Detections,
}

/// Live session settings. The session also uses `fps` and `frame_size` (both required),
/// `homography_path`, the checkpoint keys and `stage_configs`, as file mode does.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// What pushes carry.
    pub input: LiveInputKind,
    /// With detections input: pushes may carry ball candidates, and the ball is tracked
    /// (as `ball_detections_path` does in file mode).
    pub ball_candidates: bool,
    /// With detections input: pushes carry the user's team per detection, and the report's
    /// teams at the end are those (the `user_teams` stage, as a detections file with a team
    /// column gives them; never guessed). Without it, pushed teams still give each frame's
    /// tracks and possession a team, but the report has no teams.
    pub user_teams: bool,
    /// Provisional teams while the feed runs (pixels input).
    pub teams: LiveTeamsConfig,
}

/// Provisional team classification in a live session ([`crate::stages::teams::LiveTeams`]):
/// the kit samples of the frames pushed so far are clustered as `team_classification` does
/// on the whole match (its `stage_configs.team_classification` settings apply), so that a
/// frame's tracks and possession have a team before [`crate::live::LiveSession::finish`]
/// gives the whole-match vote. Needs kit colours, so pixels input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveTeamsConfig {
    /// Classify teams while the feed runs (when the pipeline measures kit colours).
    pub enabled: bool,
    /// Warm-up: the teams are first fitted once this many tracks have `min_samples` kit
    /// samples each (a handful of tracks would let one referee or goalkeeper pass for a team).
    pub min_tracks: u32,
    /// Frames between refits of the two team kits after the first fit (a decision for a new
    /// track does not wait for a refit: it is voted against the current kits).
    pub refit_interval_frames: u32,
    /// Most kit samples kept per track (the newest; memory stays bounded however long a
    /// track lives). At least `team_classification.min_samples`.
    pub max_samples_per_track: u32,
    /// A track not seen for this many frames is forgotten (its samples and team), and
    /// positions older than this are not used to place goalkeepers.
    pub forget_after_frames: u32,
}

impl Default for LiveTeamsConfig {
    fn default() -> Self {
        LiveTeamsConfig {
            enabled: true,
            min_tracks: 6,
            refit_interval_frames: 25,
            max_samples_per_track: 100,
            forget_after_frames: 250,
        }
    }
}

/// Retry policy settings (see [`crate::RetryPolicy`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts in all, including the first (1 = no retry).
    pub max_attempts: u32,
    /// Wait before the first retry, in milliseconds.
    pub initial_backoff_ms: u64,
    /// Upper bound of a wait, in milliseconds.
    pub max_backoff_ms: u64,
    /// Factor between consecutive waits.
    pub multiplier: f64,
    /// Random spread of each wait, as a fraction (0.2 = ±20%).
    pub jitter: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig { max_attempts: 3, initial_backoff_ms: 200, max_backoff_ms: 10_000, multiplier: 2.0, jitter: 0.2 }
    }
}

/// Settings of each built-in stage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StageConfigs {
    /// Video decoding.
    pub video_decoding: VideoDecodingConfig,
    /// Player detection.
    pub player_detection: PlayerDetectionConfig,
    /// Player tracking.
    pub player_tracking: PlayerTrackingConfig,
    /// Classical ball candidates (used when the detection model has no ball class).
    pub ball_detection: BallDetectionConfig,
    /// Ball tracking.
    pub ball_tracking: BallTrackingConfig,
    /// Physical metrics (distance, speeds, sprints, heatmaps).
    pub metrics: MetricsConfig,
    /// Event detection (possession, passes, interceptions, turnovers, shots, ball out).
    pub event_detection: EventDetectionConfig,
    /// Formation analysis (team shapes per window).
    pub formation_analysis: FormationAnalysisConfig,
    /// Pitch calibration (image → pitch homographies).
    pub pitch_calibration: PitchCalibrationConfig,
    /// Team classification from kit colours.
    pub team_classification: TeamClassificationConfig,
}

/// Team classification settings (see [`crate::stages::teams`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeamClassificationConfig {
    /// A track needs kit samples in at least this many frames to be classified; tracks with
    /// fewer are reported with role `unknown` and no team.
    pub min_samples: u32,
    /// A frame's kit sample counts only when its torso showed at least this many non-grass
    /// pixels (after subsampling); smaller samples (tiny or hidden players) are ignored.
    pub min_pixels: u32,
    /// Distance (ΔE in shade-normalised CIELAB, [`crate::vision::colour::shade_normalised`])
    /// from the nearer team kit beyond which a sample is not that team's kit:
    /// referees and goalkeepers, whose kits differ from both teams'. Also the least distance
    /// between the two team kits: closer kits cannot be told apart and no team is reported.
    pub outlier_distance: f32,
    /// Share of the tracks' weight (the farthest from their kit) left out when the two team
    /// kits are fitted, so referees and goalkeepers do not pull the team colours.
    pub trim: f32,
    /// With pitch positions, a kit outlier whose median distance from the halfway line is at
    /// least this many metres is a goalkeeper (the penalty area begins 36 m out); the others
    /// are referees.
    pub goalkeeper_min_abs_x_m: f64,
}

impl Default for TeamClassificationConfig {
    fn default() -> Self {
        TeamClassificationConfig {
            min_samples: 5,
            min_pixels: 8,
            outlier_distance: 22.0,
            trim: 0.2,
            goalkeeper_min_abs_x_m: 30.0,
        }
    }
}

/// Video decoding settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VideoDecodingConfig {
    /// Output frame rate; frames are picked by timestamp (the first frame at or after each
    /// tick of the target clock). `None` keeps every frame.
    pub target_fps: Option<f64>,
    /// `[width, height]` box the frames are scaled to fit, aspect ratio kept (the output is
    /// the largest size with the source's aspect that fits the box, rounded to even numbers);
    /// never upscales. `None` keeps the source size.
    pub target_resolution: Option<[u32; 2]>,
    /// Write the first audio track as a WAV file beside the report.
    pub extract_audio: bool,
    /// FFmpeg decoder threads (0 = FFmpeg chooses).
    pub threads: usize,
}

/// Player detection settings (used by the detection stage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlayerDetectionConfig {
    /// YOLO ONNX model.
    pub model_path: Option<PathBuf>,
    /// Minimum detection confidence.
    pub confidence_threshold: f32,
    /// IoU above which NMS suppresses the weaker box.
    pub nms_threshold: f32,
    /// Frames per inference call for dynamic-batch models (default 4), each with all its
    /// tiles: a call takes `batch_size × regions` images (regions = tiles, plus the whole frame
    /// with `tile_full_frame`), 3 × H × W floats each (4.9 MB at 640 × 640). Fixed-batch models
    /// take their own batch per call whatever this says.
    pub batch_size: Option<usize>,
    /// `[cols, rows]` of tiles for small players.
    pub tiles: [u32; 2],
    /// Overlap between neighbouring tiles as a fraction of a tile.
    pub tile_overlap: f32,
    /// Also run the whole frame when tiling.
    pub tile_full_frame: bool,
    /// Model class ids that are players; `None` = every class of the model.
    pub player_class_ids: Option<Vec<u32>>,
    /// ONNX Runtime intra-op threads (0 = one per available core).
    pub intra_threads: usize,
    /// Model class ids that are the ball (default none). Detections of these classes become
    /// ball candidates ([`crate::Artifact::BALL_CANDIDATES`]) instead of players, and the
    /// classical ball detector is not run.
    pub ball_class_ids: Vec<u32>,
    /// Model class ids that are goalkeepers (default none), for models that tell them apart
    /// (e.g. a football model with classes ball / goalkeeper / player / referee). They are
    /// detected and tracked as players (added to `player_class_ids` when that is set), and a
    /// track whose detections are mostly of these classes gets the goalkeeper role in team
    /// classification, whatever its kit says.
    pub goalkeeper_class_ids: Vec<u32>,
    /// Model class ids that are referees (default none): detected and tracked as players, and
    /// a track whose detections are mostly of these classes is a referee (no team).
    pub referee_class_ids: Vec<u32>,
    /// Detect every `detection_stride`-th frame (frame index divisible by it) and let the
    /// tracker predict the frames in between (≥ 1; 1 = every frame).
    pub detection_stride: u32,
    /// The execution provider the model must run on. Unset: the CPU, or with `gpu_enabled`
    /// the GPU when this build and the ONNX Runtime library have a GPU provider, else the
    /// CPU with a warning event. Set: that provider or a typed error naming what is missing.
    pub device: Option<InferenceDevice>,
}

/// An ONNX Runtime execution provider for detection models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InferenceDevice {
    /// ONNX Runtime's CPU provider (always available).
    Cpu,
    /// NVIDIA CUDA (cargo feature `cuda`, the `onnxruntime-gpu` library).
    Cuda,
    /// NVIDIA TensorRT, with CUDA for the nodes TensorRT does not take (cargo feature
    /// `tensorrt`, the `onnxruntime-gpu` library and TensorRT).
    Tensorrt,
}

impl std::fmt::Display for InferenceDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InferenceDevice::Cpu => "cpu",
            InferenceDevice::Cuda => "cuda",
            InferenceDevice::Tensorrt => "tensorrt",
        })
    }
}

impl Default for PlayerDetectionConfig {
    fn default() -> Self {
        PlayerDetectionConfig {
            model_path: None,
            confidence_threshold: 0.5,
            nms_threshold: 0.45,
            batch_size: None,
            tiles: [1, 1],
            tile_overlap: 0.1,
            tile_full_frame: true,
            player_class_ids: None,
            intra_threads: 0,
            ball_class_ids: Vec::new(),
            goalkeeper_class_ids: Vec::new(),
            referee_class_ids: Vec::new(),
            detection_stride: 1,
            device: None,
        }
    }
}

/// Player tracking (ByteTrack-style) settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlayerTrackingConfig {
    /// Detections at or above this score take part in the first association. Default 0.4
    /// (ByteTrack uses 0.5 / 0.6 with its own detector): the default person model scores
    /// small broadcast players low; on the rendered match (2×2 tiles, 50 frames) 0.5 / 0.6
    /// gave IDF1 0.62 and MOTA 0.42, 0.4 / 0.5 gives 0.76 and 0.58, and the SkillCorner
    /// fixture's detections also score better (IDF1 0.669 → 0.685, MOTA 0.920 → 0.923). Lower
    /// still (0.3 / 0.4, the sample run's setting) tracks the rendered match better again but
    /// adds a false pass on the fixture: benches/README.md, "Tracker thresholds".
    pub high_threshold: f32,
    /// Detections between this and `high_threshold` take part in the second association.
    pub low_threshold: f32,
    /// An unmatched detection at or above this score starts a new track (default 0.5, see
    /// `high_threshold`).
    pub new_track_threshold: f32,
    /// Minimum IoU for a match in the first association.
    pub match_iou: f32,
    /// Minimum IoU for a match in the second (low-score) association.
    pub low_match_iou: f32,
    /// Minimum IoU for matching a tentative (not yet confirmed) track.
    pub unconfirmed_match_iou: f32,
    /// Weigh the IoU by the detection score in the high-score associations (ByteTrack's
    /// `fuse_score`): the cost is `1 − IoU · score`, so a confident detection wins a
    /// contested track.
    pub fuse_score: bool,
    /// Boxes are enlarged by this fraction of their width and height on every side before
    /// their IoU is taken (buffered IoU, as C-BIoU does for sports): small, fast players
    /// whose boxes no longer overlap from one frame to the next still match. 0 = plain IoU.
    pub iou_buffer: f32,
    /// Gate on the squared Mahalanobis distance (4 degrees of freedom; 9.49 is the 95%
    /// quantile) for matching confirmed tracks that IoU left unmatched to the remaining
    /// high-score detections by their Kalman prediction. 0 disables this step.
    pub recovery_gate: f32,
    /// Consecutive matched frames before a new track is confirmed and reported.
    pub min_hits: u32,
    /// Frames a lost track is kept for re-association before it is deleted.
    pub max_lost_frames: u32,
    /// When two consecutive frames have homographies, move every track by the camera's
    /// motion between them (image → pitch → image) before predicting, so that pans and zooms
    /// do not tear tracks from their players.
    pub camera_motion_compensation: bool,
    /// Re-identification on the pitch (calibrated frames only): a lost track is matched to a
    /// confident detection whose feet are within `reid_gate_m + reid_max_speed_mps × time
    /// lost` metres of where it was last seen, so a player who leaves the picture (a pan, a
    /// zoom, an exit) gets his id back when he returns. 0 disables it.
    pub reid_gate_m: f64,
    /// How fast (m/s) a player may have moved while unseen, widening the re-identification
    /// radius with the time lost.
    pub reid_max_speed_mps: f64,
    /// The radius stops growing at this many metres: beyond it, a returning player is a new
    /// track rather than a guess.
    pub reid_max_radius_m: f64,
    /// Frames a lost track last seen on the pitch is kept for re-identification (instead of
    /// `max_lost_frames`) while frames are calibrated.
    pub reid_max_lost_frames: u32,
    /// Share of the re-identification cost given to the kit colour (the rest is the distance on
    /// the pitch, as a fraction of the radius): with pixels, each detection's torso colour
    /// ([`crate::stages::teams::PlayerAppearance`]) is compared with the track's running
    /// average, so that of two players near where a track left, the one in its kit wins.
    /// 0 = position only. Without pixels (detections input) the cost is position alone.
    pub reid_kit_weight: f64,
    /// Kits further apart than this (ΔE in shade-normalised CIELAB, as team classification's
    /// `outlier_distance`) are different kits: such a track and detection are never joined
    /// by re-identification (another team, a referee, a goalkeeper), however near. Tracks
    /// and detections whose user-given teams (a detections file's team column) differ are
    /// never joined either. 0 disables the kit gate.
    pub reid_kit_gate: f32,
    /// Weight of a track's previous kit colour when a new sample is averaged in (exponential
    /// moving average, in `[0, 1)`): near 1, one odd sample (a player half hidden behind an
    /// opponent) barely moves it.
    pub reid_kit_momentum: f32,
}

impl Default for PlayerTrackingConfig {
    fn default() -> Self {
        PlayerTrackingConfig {
            high_threshold: 0.4,
            low_threshold: 0.1,
            new_track_threshold: 0.5,
            match_iou: 0.2,
            low_match_iou: 0.5,
            unconfirmed_match_iou: 0.3,
            fuse_score: true,
            iou_buffer: 0.3,
            recovery_gate: 9.4877,
            min_hits: 2,
            max_lost_frames: 30,
            camera_motion_compensation: true,
            reid_gate_m: 2.0,
            reid_max_speed_mps: 6.0,
            reid_max_radius_m: 20.0,
            reid_max_lost_frames: 750,
            reid_kit_weight: 0.5,
            reid_kit_gate: 22.0,
            reid_kit_momentum: 0.9,
        }
    }
}

/// How the ball is tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BallTrackingMethod {
    /// Constant-velocity Kalman filter.
    #[default]
    Kalman,
    /// Particle filter.
    ParticleFilter,
}

/// Ball tracking settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BallTrackingConfig {
    /// Filter used.
    pub tracking_method: BallTrackingMethod,
    /// Smallest ball radius in pixels.
    pub min_ball_radius: f32,
    /// Largest ball radius in pixels.
    pub max_ball_radius: f32,
    /// Frames the ball may be unseen before it is lost.
    pub max_missing_frames: u32,
    /// Score (0–1) from which a single candidate acquires the ball at once while there is
    /// none; weaker candidates must first appear twice in a row (see `pair_max_distance_px`).
    /// Default 0.8: classical candidates of heads and marks seldom score that high. Set 1 to
    /// always wait for a pair.
    pub acquire_score: f32,
    /// Least track score (0–1) of an established hypothesis (two matched frames or more) that
    /// becomes the ball when there is none. Default 0.5: on the rendered match the ball's
    /// candidates score 0.66 in the median and heads and marks 0.40, and reporting no ball
    /// beats reporting a head. Lower it for a detector whose scores run low.
    pub adopt_score: f64,
    /// Largest distance in pixels between two unclaimed candidates of consecutive frames that
    /// start a hypothesis together. Default 40 px: the ball's step at 25 fps in a broadcast
    /// frame, while a false candidate seldom recurs that close. Scale it with the resolution
    /// and inversely with the frame rate.
    pub pair_max_distance_px: f64,
    /// Largest gate, in candidate radii, around a hypothesis's prediction. Default 25 radii
    /// (≈ 2.75 m): a 30 m/s shot covers 1.2 m a frame at 25 fps, and after a long occlusion the
    /// ball is found again by a new hypothesis rather than by a gate that covers half the screen.
    pub gate_cap_radii: f64,
    /// Consecutive matched frames in which a challenger must have a better track score than
    /// the ball (and matched frames it needs) before it becomes the ball. Default 5: one good
    /// frame never moves the ball; fewer frames leave a wrongly followed head sooner and jump
    /// to flashes more often.
    pub switch_frames: u32,
    /// Track score (0–1) by which a challenger must beat the ball in those frames. Default 0.1.
    pub switch_margin: f64,
    /// Weight (0 ≤ w < 1) of the past in a hypothesis's track score, an exponentially weighted
    /// mean of its candidates' evidence. Default 0.8 (a memory of about five frames).
    pub score_decay: f64,
    /// Matched frames after which a hypothesis standing still (within 0.1 m on the pitch, or
    /// 1.5 px in the image without a homography) is suspect: a ball in play seldom stands still
    /// for a second, a pitch mark or a TV graphic always does. Default 25 (one second at 25 fps).
    pub still_frames: u32,
    /// Factor (0–1) on the evidence of a suspect (long-still) hypothesis. Default 0.25; set 1
    /// to never discount still tracks (e.g. set pieces filmed by a fixed camera).
    pub still_factor: f64,
    /// Factor (0–1) on the evidence of a candidate whose ground point is more than 1 m beyond
    /// the touch or goal lines: out of play, in the air, or a head in the crowd. Default 0.5.
    pub off_pitch_factor: f64,
    /// Most hypotheses followed at once (the lowest track scores go). Default 8.
    pub max_hypotheses: usize,
    /// Particles per hypothesis with `tracking_method: particle_filter` (cost grows linearly).
    /// Default 400.
    pub particles: usize,
}

impl Default for BallTrackingConfig {
    fn default() -> Self {
        use crate::stages::ball_tracking as bt;
        BallTrackingConfig {
            tracking_method: BallTrackingMethod::Kalman,
            min_ball_radius: 5.0,
            max_ball_radius: 50.0,
            max_missing_frames: 10,
            acquire_score: bt::ACQUIRE_SCORE,
            adopt_score: bt::ADOPT_SCORE,
            pair_max_distance_px: bt::PAIR_MAX_DISTANCE,
            gate_cap_radii: bt::GATE_CAP_RADII,
            switch_frames: bt::SWITCH_FRAMES,
            switch_margin: bt::SWITCH_MARGIN,
            score_decay: bt::SCORE_DECAY,
            still_frames: bt::STILL_FRAMES,
            still_factor: bt::STILL_FACTOR,
            off_pitch_factor: bt::OFF_PITCH_FACTOR,
            max_hypotheses: bt::MAX_HYPOTHESES,
            particles: bt::PARTICLES,
        }
    }
}

/// Classical ball candidate settings (see [`crate::stages::ball_detection`]); the radius
/// range comes from `stage_configs.ball_tracking`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BallDetectionConfig {
    /// Least luma (0–255) by which a ball must be brighter than the grass around it.
    pub min_contrast: f32,
    /// Least share of grass on a ring around a candidate: a ball on the pitch is surrounded
    /// by grass, a bright patch on a shirt or in the stands is not. In `[0, 1]`.
    pub min_grass_surround: f32,
    /// Largest mean HSV saturation (0–1) of a candidate's pixels: balls are white (with dark
    /// panels), kits, skin and boards are coloured. Set 1 for a coloured (e.g. orange winter)
    /// ball.
    pub max_saturation: f32,
    /// Candidates kept per frame, best first.
    pub max_candidates: usize,
}

impl Default for BallDetectionConfig {
    fn default() -> Self {
        BallDetectionConfig { min_contrast: 40.0, min_grass_surround: 0.5, max_saturation: 0.5, max_candidates: 20 }
    }
}

/// Checks [`BallDetectionConfig`] ranges.
pub fn validate_ball_detection(c: &BallDetectionConfig) -> Result<(), ConfigError> {
    const SECTION: &str = "stage_configs.ball_detection";
    if !(c.min_contrast > 0.0 && c.min_contrast <= 255.0) {
        return Err(ConfigError::invalid(SECTION, "min_contrast", "a luma difference in (0, 255]", c.min_contrast));
    }
    if !(0.0..=1.0).contains(&c.min_grass_surround) {
        return Err(ConfigError::invalid(SECTION, "min_grass_surround", "a fraction in [0, 1]", c.min_grass_surround));
    }
    if !(0.0..=1.0).contains(&c.max_saturation) {
        return Err(ConfigError::invalid(SECTION, "max_saturation", "a fraction in [0, 1]", c.max_saturation));
    }
    if c.max_candidates == 0 {
        return Err(ConfigError::invalid(SECTION, "max_candidates", "at least 1", 0));
    }
    Ok(())
}

/// Physical metrics settings (see [`crate::stages::metrics`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Smoothing strength: the standard deviation of a player's acceleration (m/s²) in the
    /// constant-velocity Kalman/RTS smoother. Smaller = smoother paths (noise inflates the
    /// distance less, but quick turns are cut); larger = closer to the raw positions.
    pub accel_std_mps2: f64,
    /// Standard deviation of the feet point in pixels, as a fraction of the box height, per
    /// image axis; pushed through the homography's Jacobian to give each position its noise
    /// in metres (far players are noisier on the pitch than near ones).
    pub foot_noise_box_heights: f64,
    /// A track unseen for more than this many frames starts a new path segment (the gap is
    /// neither counted in distance nor in time on pitch); shorter gaps are bridged.
    pub max_gap_frames: u32,
    /// Steps faster than this (m/s) are tracking glitches (e.g. an id jumping to another
    /// player): they split the path, are not counted and are reported as `glitch_steps`.
    pub max_speed_mps: f64,
    /// Window (s) over which the maximum speed is averaged, so that a one-frame spike does
    /// not count.
    pub max_speed_window_s: f64,
    /// Sprint speed threshold (km/h).
    pub sprint_speed_kmh: f64,
    /// A sprint lasts at least this long above the threshold (s).
    pub sprint_min_duration_s: f64,
    /// Heatmap grid `[cols, rows]` over the pitch (cols along the length).
    pub heatmap_cells: [u32; 2],
    /// Pitch `[length, width]` in metres the heatmap covers (origin at the centre spot).
    pub pitch_size_m: [f64; 2],
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            accel_std_mps2: 16.0,
            foot_noise_box_heights: 0.03,
            max_gap_frames: 12,
            max_speed_mps: 12.0,
            max_speed_window_s: 0.5,
            sprint_speed_kmh: 25.0,
            sprint_min_duration_s: 1.0,
            heatmap_cells: [21, 14],
            pitch_size_m: [105.0, 68.0],
        }
    }
}

/// Event detection settings (see [`crate::stages::events`]). Distances are on the pitch in
/// metres, speeds in m/s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventDetectionConfig {
    /// Pitch `[length, width]` in metres (origin at the centre spot): where the lines and
    /// the goals are.
    pub pitch_size_m: [f64; 2],
    /// A player gains the ball when it is within this distance of his feet (and moves with
    /// him, see `max_control_speed_mps`).
    pub control_radius_m: f64,
    /// Hysteresis in metres: a player keeps the ball until it is farther than
    /// `control_radius_m + release_margin_m`, so ball jitter at the edge of the radius does
    /// not make possession flicker.
    pub release_margin_m: f64,
    /// The ball is only controlled while its velocity differs from the player's by at most
    /// this much (just before or just after the frame): a pass rolling past a player is not
    /// his ball.
    pub max_control_speed_mps: f64,
    /// Hysteresis in frames: a challenger must be the controlling player for this many
    /// consecutive frames to take the ball, and an owner loses it after this many frames
    /// out of control, so brief contests do not flip possession.
    pub min_control_frames: u32,
    /// Frames over which ball and player velocities are measured (one-sided differences for
    /// control, centred for shots).
    pub velocity_window_frames: u32,
    /// A team keeps possession while its ball is in flight or loose for up to this long after
    /// its last control; after that nobody has the ball.
    pub max_loose_s: f64,
    /// Second hysteresis level, for team possession phases ([`crate::analysis::PossessionPhase`]):
    /// the team in possession keeps it through loose balls and contests until the other
    /// team's players have controlled the ball for this long in total (counted over their
    /// control spells since the holder's last one); the phase then changes at the first of
    /// those spells. A tackle attempt, a deflection or a touch shorter than this leaves the
    /// phase with the holder; 0 lets every control spell of the other team switch it.
    pub phase_min_control_s: f64,
    /// Whether a possession phase goes on while the ball is out of play (the team that had
    /// it keeps it until the restart, as SkillCorner's possession label does; a restart by
    /// the other team changes the phase at once) instead of ending when the ball goes out
    /// (the default: nobody has a dead ball).
    pub phases_through_out_of_play: bool,
    /// The ball must travel at least this far between two players for the change to be a
    /// played ball (an interception rather than a tackle, a failed pass rather than a lost
    /// touch).
    pub min_pass_distance_m: f64,
    /// A shot: the ball at least this fast (pitch-plane speed) ...
    pub shot_min_speed_mps: f64,
    /// ... within this distance of the goal it heads to (from that goal's half) ...
    pub max_shot_distance_m: f64,
    /// ... on a line that crosses the goal line within the goal mouth widened by
    /// `goal_mouth_margin_m` on each side.
    pub goal_width_m: f64,
    /// Extra width on each side of the goal mouth that still counts as heading at goal (shots
    /// just wide are shots).
    pub goal_mouth_margin_m: f64,
    /// The ball is out of play when it is beyond a line by more than this ...
    pub out_margin_m: f64,
    /// ... for at least this many consecutive frames.
    pub out_min_frames: u32,
    /// The ball is also out of play when it disappears (no position) for at least this many
    /// frames ...
    pub lost_out_frames: u32,
    /// ... while its last position was within this distance of a line.
    pub lost_near_line_m: f64,
}

impl Default for EventDetectionConfig {
    fn default() -> Self {
        EventDetectionConfig {
            pitch_size_m: [105.0, 68.0],
            control_radius_m: 2.5,
            release_margin_m: 1.0,
            max_control_speed_mps: 10.0,
            min_control_frames: 3,
            velocity_window_frames: 3,
            max_loose_s: 3.0,
            phase_min_control_s: 1.0,
            phases_through_out_of_play: false,
            min_pass_distance_m: 5.0,
            shot_min_speed_mps: 15.0,
            max_shot_distance_m: 35.0,
            goal_width_m: 7.32,
            goal_mouth_margin_m: 1.0,
            out_margin_m: 1.0,
            out_min_frames: 3,
            lost_out_frames: 12,
            lost_near_line_m: 2.0,
        }
    }
}

/// One pixel ↔ pitch correspondence of a static calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correspondence {
    /// `[u, v]` in frame pixels.
    pub pixel: [f64; 2],
    /// `[x, y]` on the pitch in metres (origin at the centre spot, x along the length).
    pub pitch: [f64; 2],
}

/// Pitch calibration settings (see [`crate::stages::pitch_calibration`]). At most one source
/// of homographies: `homography_path`, `image_to_pitch`, `correspondences` or
/// `keypoint_model` (the top-level `homography_path` counts as a source too). With none, frames
/// are not calibrated and no pitch coordinates are reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PitchCalibrationConfig {
    /// A homography file (DESIGN.md format: one matrix, or one per frame).
    pub homography_path: Option<PathBuf>,
    /// A static image → pitch matrix, row-major.
    pub image_to_pitch: Option<[[f64; 3]; 3]>,
    /// At least 4 pixel ↔ pitch correspondences of a static camera; fitted by normalised DLT
    /// (exactly 4) or RANSAC with a least-squares refit (more than 4).
    pub correspondences: Option<Vec<Correspondence>>,
    /// A pitch-keypoint ONNX model in the YOLOv8-pose layout (`[N, 4 + C + 3K, A]`): one
    /// homography per frame from the keypoints it finds.
    pub keypoint_model: Option<PathBuf>,
    /// Pitch `[x, y]` in metres of each model keypoint, in the model's keypoint order; `null`
    /// for a keypoint that is not a point of the pitch plane. Default: the 32-point layout of
    /// [`crate::stages::pitch_calibration::DEFAULT_KEYPOINTS`].
    pub keypoints: Option<Vec<Option<[f64; 2]>>>,
    /// The model class that is the pitch.
    pub pitch_class_id: u32,
    /// Least class score of the pitch detection whose keypoints are used.
    pub confidence_threshold: f32,
    /// Least visibility score of a keypoint to be used.
    pub keypoint_threshold: f32,
    /// RANSAC inlier threshold: how far (metres on the pitch) a keypoint may land from its
    /// pitch position under the fitted homography.
    pub ransac_threshold_m: f64,
    /// Upper bound on RANSAC samples per fit.
    pub ransac_iterations: u32,
    /// A frame with fewer than 4 usable keypoints reuses the last fitted homography (marked as
    /// reused in the frame record) for at most this many frames; after that it is left
    /// uncalibrated.
    pub max_reuse_frames: u32,
    /// ONNX Runtime intra-op threads for the keypoint model (0 = one per available core).
    pub intra_threads: usize,
}

impl Default for PitchCalibrationConfig {
    fn default() -> Self {
        PitchCalibrationConfig {
            homography_path: None,
            image_to_pitch: None,
            correspondences: None,
            keypoint_model: None,
            keypoints: None,
            pitch_class_id: 0,
            confidence_threshold: 0.5,
            keypoint_threshold: 0.5,
            ransac_threshold_m: 1.0,
            ransac_iterations: 1000,
            max_reuse_frames: 25,
            intra_threads: 0,
        }
    }
}

/// How formation windows are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormationWindowing {
    /// Fixed windows of `window_minutes`.
    #[default]
    Minutes,
    /// One window per team possession phase (`MatchData.possession_phases`, from event
    /// detection), per team: the shape in and out of possession differs.
    PossessionPhases,
}

/// Formation analysis settings (see [`crate::stages::formations`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FormationAnalysisConfig {
    /// How windows are cut.
    pub windowing: FormationWindowing,
    /// Window length in minutes (`windowing = "minutes"`).
    pub window_minutes: f64,
    /// Possession phases shorter than this are too short for a shape and are skipped
    /// (`windowing = "possession_phases"`).
    pub min_phase_s: f64,
    /// Frames per second of the window that are fitted (the rest are skipped: a shape does
    /// not change within a fifth of a second).
    pub samples_per_second: f64,
    /// A frame counts toward a team's shape only when at least this many of its outfield
    /// players are seen in it (broadcast video shows part of the pitch).
    pub min_outfield_players: usize,
    /// Pitch `[length, width]` in metres.
    pub pitch_size_m: [f64; 2],
}

impl Default for FormationAnalysisConfig {
    fn default() -> Self {
        FormationAnalysisConfig {
            windowing: FormationWindowing::Minutes,
            window_minutes: 5.0,
            min_phase_s: 10.0,
            samples_per_second: 5.0,
            min_outfield_players: 8,
            pitch_size_m: [105.0, 68.0],
        }
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        // An empty object is a valid config: every field has a default.
        serde_json::from_str("{}").expect("the empty config is valid")
    }
}

impl PipelineConfig {
    /// Parses a JSON config and fills gaps from the process environment.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        Self::from_json_with_env(json, |k| std::env::var(k).ok())
    }

    /// Parses a JSON config, filling gaps from `env` (a lookup of environment variables), and
    /// validates it.
    pub fn from_json_with_env(json: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let mut cfg: PipelineConfig = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
        de.end().map_err(|e| ConfigError::Parse { path: ".".into(), message: e.to_string() })?;
        cfg.apply_env(env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses a JSON config file.
    pub fn from_file(path: &std::path::Path) -> crate::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
        Ok(Self::from_json(&text)?)
    }

    /// Where a model named by `path` is: a relative path is looked up in `model_cache_dir`
    /// first and taken as given when it is not there (see [`PipelineConfig::model_cache_dir`]).
    pub fn model_file(&self, path: &std::path::Path) -> PathBuf {
        match &self.model_cache_dir {
            Some(dir) if path.is_relative() && dir.join(path).is_file() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// This config with its model paths (`player_detection.model_path`,
    /// `pitch_calibration.keypoint_model`) found through [`PipelineConfig::model_file`];
    /// borrowed when that changes nothing.
    pub fn with_model_files(&self) -> std::borrow::Cow<'_, PipelineConfig> {
        let found = |p: &Option<PathBuf>| p.as_deref().map(|p| self.model_file(p));
        let (model, keypoints) = (
            found(&self.stage_configs.player_detection.model_path),
            found(&self.stage_configs.pitch_calibration.keypoint_model),
        );
        if model == self.stage_configs.player_detection.model_path
            && keypoints == self.stage_configs.pitch_calibration.keypoint_model
        {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut resolved = self.clone();
        resolved.stage_configs.player_detection.model_path = model;
        resolved.stage_configs.pitch_calibration.keypoint_model = keypoints;
        std::borrow::Cow::Owned(resolved)
    }

    /// Fills values the config left out from the original service's environment variables.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parsed<T: std::str::FromStr>(var: &str, v: String, expected: &str) -> Result<T, ConfigError> {
            v.trim().parse().map_err(|_| ConfigError::Env { var: var.into(), expected: expected.into(), found: v })
        }
        let pd = &mut self.stage_configs.player_detection;
        if pd.model_path.is_none() {
            pd.model_path = env("YOLO_MODEL_PATH").filter(|v| !v.is_empty()).map(PathBuf::from);
        }
        // Only when nothing else calibrates: a second source would be a config error, and a
        // config that names a homography means it.
        if !crate::stages::pitch_calibration::is_configured(self) {
            self.stage_configs.pitch_calibration.keypoint_model =
                env("KEYPOINT_MODEL_PATH").filter(|v| !v.is_empty()).map(PathBuf::from);
        }
        if self.model_cache_dir.is_none() {
            self.model_cache_dir = env("MODEL_CACHE_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
        }
        if self.checkpoint_ttl_seconds.is_none()
            && let Some(v) = env("CHECKPOINT_TTL_SECONDS")
        {
            self.checkpoint_ttl_seconds = Some(parsed("CHECKPOINT_TTL_SECONDS", v, "a whole number of seconds")?);
        }
        if self.redis_url.is_none() {
            self.redis_url = env("REDIS_URL").filter(|v| !v.is_empty());
        }
        if self.cuda_visible_devices.is_none() {
            self.cuda_visible_devices = env("CUDA_VISIBLE_DEVICES");
        }
        if self.gpu_memory_fraction.is_none()
            && let Some(v) = env("GPU_MEMORY_FRACTION")
        {
            self.gpu_memory_fraction = Some(parsed("GPU_MEMORY_FRACTION", v, "a number in (0, 1]")?);
        }
        if self.log_level.is_none() {
            self.log_level = env("ML_PIPELINE_LOG_LEVEL").filter(|v| !v.is_empty());
        }
        Ok(())
    }

    /// Checks ranges and consistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.report_tables == ReportTables::Parquet && !cfg!(feature = "parquet") {
            return Err(ConfigError::invalid(
                "",
                "report_tables",
                "`inline` (this build of footml has no `parquet` feature)",
                "parquet",
            ));
        }
        if self.batch_size == 0 {
            return Err(ConfigError::invalid("", "batch_size", "at least 1", self.batch_size));
        }
        if self.channel_capacity == 0 {
            return Err(ConfigError::invalid("", "channel_capacity", "at least 1", self.channel_capacity));
        }
        if self.checkpoint_interval_frames == 0 {
            return Err(ConfigError::invalid("", "checkpoint_interval_frames", "at least 1", 0));
        }
        if self.checkpoint_ttl_seconds == Some(0) {
            // Redis refuses `SET … EX 0`; an entry that expires at once would be no checkpoint.
            return Err(ConfigError::invalid("", "checkpoint_ttl_seconds", "at least 1 second", 0));
        }
        if let Some(fps) = self.fps
            && !(fps.is_finite() && fps > 0.0)
        {
            return Err(ConfigError::invalid("", "fps", "a positive number", fps));
        }
        if let Some([w, h]) = self.frame_size
            && (w == 0 || h == 0)
        {
            return Err(ConfigError::invalid("", "frame_size", "positive width and height", [w, h]));
        }
        if let Some(f) = self.gpu_memory_fraction
            && !(f > 0.0 && f <= 1.0)
        {
            return Err(ConfigError::invalid("", "gpu_memory_fraction", "a number in (0, 1]", f));
        }
        if let Some(level) = &self.log_level
            && !["error", "warn", "info", "debug", "trace"].contains(&level.to_ascii_lowercase().as_str())
        {
            return Err(ConfigError::invalid("", "log_level", "one of error, warn, info, debug, trace", level));
        }
        let r = &self.retry;
        if r.max_attempts == 0 {
            return Err(ConfigError::invalid("retry", "max_attempts", "at least 1", 0));
        }
        if !(r.multiplier.is_finite() && r.multiplier >= 1.0) {
            return Err(ConfigError::invalid("retry", "multiplier", "a number ≥ 1", r.multiplier));
        }
        if !(0.0..=1.0).contains(&r.jitter) {
            return Err(ConfigError::invalid("retry", "jitter", "a fraction in [0, 1]", r.jitter));
        }
        let vd = &self.stage_configs.video_decoding;
        if let Some(fps) = vd.target_fps
            && !(fps.is_finite() && fps > 0.0)
        {
            return Err(ConfigError::invalid("stage_configs.video_decoding", "target_fps", "a positive number", fps));
        }
        if let Some([w, h]) = vd.target_resolution
            && (w < 2 || h < 2)
        {
            return Err(ConfigError::invalid(
                "stage_configs.video_decoding",
                "target_resolution",
                "width and height ≥ 2",
                [w, h],
            ));
        }
        let pd = &self.stage_configs.player_detection;
        if !(0.0..=1.0).contains(&pd.confidence_threshold) {
            return Err(ConfigError::invalid(
                "stage_configs.player_detection",
                "confidence_threshold",
                "a number in [0, 1]",
                pd.confidence_threshold,
            ));
        }
        if !(0.0..=1.0).contains(&pd.nms_threshold) {
            return Err(ConfigError::invalid(
                "stage_configs.player_detection",
                "nms_threshold",
                "a number in [0, 1]",
                pd.nms_threshold,
            ));
        }
        if pd.tiles[0] == 0 || pd.tiles[1] == 0 {
            return Err(ConfigError::invalid("stage_configs.player_detection", "tiles", "[cols, rows] ≥ 1", pd.tiles));
        }
        if !(0.0..0.5).contains(&pd.tile_overlap) {
            return Err(ConfigError::invalid(
                "stage_configs.player_detection",
                "tile_overlap",
                "a fraction in [0, 0.5)",
                pd.tile_overlap,
            ));
        }
        if pd.detection_stride == 0 {
            return Err(ConfigError::invalid(
                "stage_configs.player_detection",
                "detection_stride",
                "an integer ≥ 1",
                0,
            ));
        }
        if let Some(both) =
            pd.ball_class_ids.iter().find(|c| pd.player_class_ids.as_ref().is_some_and(|p| p.contains(c)))
        {
            return Err(ConfigError::invalid(
                "stage_configs.player_detection",
                "ball_class_ids",
                "classes not also in player_class_ids",
                both,
            ));
        }
        crate::stages::player_tracking::validate_config(&self.stage_configs.player_tracking)?;
        // The radius range and the tuning keys, as the tracker checks them.
        crate::stages::ball_tracking::validate_config(&self.stage_configs.ball_tracking)?;
        validate_ball_detection(&self.stage_configs.ball_detection)?;
        crate::stages::metrics::validate_config(&self.stage_configs.metrics)?;
        crate::stages::events::validate_config(&self.stage_configs.event_detection)?;
        crate::stages::formations::validate_config(&self.stage_configs.formation_analysis)?;
        crate::stages::pitch_calibration::validate_config(self)?;
        crate::stages::teams::validate_config(&self.stage_configs.team_classification)?;
        crate::stages::teams::validate_live_config(&self.live.teams, &self.stage_configs.team_classification)?;
        if self.video_path.is_some() && self.detections_path.is_some() {
            // Players from the file, everything else from the video: the video gives the frame
            // rate and size and the ball, and a model would be a second source of players.
            if self.fps.is_some() || self.frame_size.is_some() {
                return Err(ConfigError::invalid(
                    "",
                    "fps/frame_size",
                    "none with video_path (the video's own)",
                    (self.fps, self.frame_size),
                ));
            }
            if let Some(b) = &self.ball_detections_path {
                return Err(ConfigError::invalid(
                    "",
                    "ball_detections_path",
                    "none with video_path (the ball comes from the pixels)",
                    b,
                ));
            }
            if let Some(m) = &self.stage_configs.player_detection.model_path {
                return Err(ConfigError::invalid(
                    "stage_configs.player_detection",
                    "model_path",
                    "no model when detections_path gives the players",
                    m,
                ));
            }
        } else if self.detections_path.is_some() && (self.fps.is_none() || self.frame_size.is_none()) {
            return Err(ConfigError::invalid(
                "",
                "fps/frame_size",
                "both set for a detections input",
                (self.fps, self.frame_size),
            ));
        }
        Ok(())
    }
}

fn path_error(e: serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let message = inner.to_string();
    // serde's own wording: "unknown field `x`, expected one of ..."
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some(end) = rest.find('`')
    {
        let field = &rest[..end];
        let key = if path == "." || path.is_empty() {
            field.to_string()
        } else {
            // serde_path_to_error already appends the unknown field to the path.
            if path.ends_with(field) { path.clone() } else { format!("{path}.{field}") }
        };
        return ConfigError::UnknownKey { key };
    }
    ConfigError::Parse { path, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_model_paths_are_looked_up_in_the_model_cache_dir_first() {
        let cache = tempfile::tempdir().unwrap();
        std::fs::create_dir(cache.path().join("kp")).unwrap();
        std::fs::write(cache.path().join("players.onnx"), b"x").unwrap();
        std::fs::write(cache.path().join("kp/pitch.onnx"), b"x").unwrap();
        let mut c = PipelineConfig::default();
        c.stage_configs.player_detection.model_path = Some("players.onnx".into());
        c.stage_configs.pitch_calibration.keypoint_model = Some("kp/pitch.onnx".into());
        // Without a cache dir the paths stay as given.
        assert!(matches!(c.with_model_files(), std::borrow::Cow::Borrowed(_)));
        c.model_cache_dir = Some(cache.path().to_path_buf());
        let r = c.with_model_files();
        assert_eq!(r.stage_configs.player_detection.model_path, Some(cache.path().join("players.onnx")));
        assert_eq!(r.stage_configs.pitch_calibration.keypoint_model, Some(cache.path().join("kp/pitch.onnx")));
        // Not in the cache: as given (relative to the working directory); absolute: as given.
        assert_eq!(c.model_file(std::path::Path::new("elsewhere.onnx")), PathBuf::from("elsewhere.onnx"));
        let abs = cache.path().join("players.onnx");
        assert_eq!(c.model_file(&abs), abs);
        c.stage_configs.player_detection.model_path = Some("missing.onnx".into());
        c.stage_configs.pitch_calibration.keypoint_model = None;
        assert!(matches!(c.with_model_files(), std::borrow::Cow::Borrowed(_)));
    }

    const SERVICE_REQUEST: &str = r#"{"video_path": "match.mp4", "model_version": "v1.0.0", "batch_size": 8, "gpu_enabled": true,
 "checkpoint_enabled": true,
 "stage_configs": {
   "video_decoding": {"target_fps": 25, "target_resolution": [1280, 720], "extract_audio": false},
   "player_detection": {"model_path": "yolov8n.onnx", "confidence_threshold": 0.5, "nms_threshold": 0.4, "batch_size": 8,
                        "tiles": [2, 2], "tile_overlap": 0.1, "tile_full_frame": true},
   "ball_tracking": {"tracking_method": "kalman", "min_ball_radius": 5, "max_ball_radius": 50, "max_missing_frames": 10}}}"#;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// Every validator builds its error with [`ConfigError::invalid`]: the key with its full
    /// path, and the messages the validators gave before they shared it (values by `Debug`,
    /// strings as written where a validator passes them so).
    #[test]
    fn invalid_values_give_one_message_format() {
        let message = |json: &str| PipelineConfig::from_json_with_env(json, no_env).unwrap_err().to_string();
        let cases = [
            (r#"{"batch_size": 0}"#, "invalid config value `batch_size`: expected at least 1, found 0"),
            (
                r#"{"retry": {"jitter": 2}}"#,
                "invalid config value `retry.jitter`: expected a fraction in [0, 1], found 2.0",
            ),
            (
                r#"{"stage_configs": {"metrics": {"accel_std_mps2": -1}}}"#,
                "invalid config value `stage_configs.metrics.accel_std_mps2`: expected a positive number, found -1.0",
            ),
            (
                r#"{"stage_configs": {"team_classification": {"min_samples": 0}}}"#,
                "invalid config value `stage_configs.team_classification.min_samples`: expected at least 1, found 0",
            ),
            (
                r#"{"stage_configs": {"ball_detection": {"max_saturation": 1.5}}}"#,
                "invalid config value `stage_configs.ball_detection.max_saturation`: expected a fraction in [0, 1], \
                 found 1.5",
            ),
            (
                r#"{"stage_configs": {"event_detection": {"out_min_frames": 0}}}"#,
                "invalid config value `stage_configs.event_detection.out_min_frames`: expected at least 1, found 0",
            ),
            (
                r#"{"stage_configs": {"formation_analysis": {"min_phase_s": -2}}}"#,
                "invalid config value `stage_configs.formation_analysis.min_phase_s`: expected a number ≥ 0, \
                 found -2.0",
            ),
            (
                r#"{"stage_configs": {"player_tracking": {"min_hits": 0}}}"#,
                "invalid config value `stage_configs.player_tracking.min_hits`: expected at least 1, found 0",
            ),
            (
                r#"{"log_level": "loud"}"#,
                "invalid config value `log_level`: expected one of error, warn, info, debug, trace, found \"loud\"",
            ),
            (
                r#"{"homography_path": "h.json", "stage_configs": {"pitch_calibration": {"image_to_pitch": [[1,0,0],[0,1,0],[0,0,1]]}}}"#,
                "invalid config value `stage_configs.pitch_calibration`: expected at most one source of homographies, \
                 found homography_path, stage_configs.pitch_calibration.image_to_pitch",
            ),
            (
                r#"{"stage_configs": {"pitch_calibration": {"ransac_iterations": 0}}}"#,
                "invalid config value `stage_configs.pitch_calibration.ransac_iterations`: expected at least 1, found 0",
            ),
        ];
        for (json, want) in cases {
            assert_eq!(message(json), want, "{json}");
        }
        // A section's own key, and a value shown as written rather than by `Debug`.
        assert_eq!(
            ConfigError::invalid("live", "", "an object", format_args!("{}", 1.0)).to_string(),
            "invalid config value `live`: expected an object, found 1"
        );
        let e = crate::stages::detections_file::DetectionsArraySource::new(&[], None, -1.0, [4, 4]).err().unwrap();
        assert_eq!(e.to_string(), "invalid config value `fps`: expected a positive number, found -1");
    }

    #[test]
    fn accepts_the_service_request_unchanged() {
        let c = PipelineConfig::from_json_with_env(SERVICE_REQUEST, no_env).unwrap();
        assert_eq!(c.video_path.as_deref(), Some(std::path::Path::new("match.mp4")));
        assert_eq!(c.model_version.as_deref(), Some("v1.0.0"));
        assert!(c.gpu_enabled);
        assert_eq!(c.stage_configs.video_decoding.target_fps, Some(25.0));
        assert_eq!(c.stage_configs.video_decoding.target_resolution, Some([1280, 720]));
        assert_eq!(c.stage_configs.player_detection.tiles, [2, 2]);
        assert_eq!(c.stage_configs.player_detection.nms_threshold, 0.4);
        assert_eq!(c.stage_configs.ball_tracking.tracking_method, BallTrackingMethod::Kalman);
        assert_eq!(c.stage_configs.ball_tracking.max_missing_frames, 10);
    }

    #[test]
    fn goalkeeper_and_referee_class_ids_are_keys() {
        let c = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"player_detection": {"goalkeeper_class_ids": [1], "referee_class_ids": [3]}}}"#,
            no_env,
        )
        .unwrap();
        let pd = &c.stage_configs.player_detection;
        assert_eq!((pd.goalkeeper_class_ids.as_slice(), pd.referee_class_ids.as_slice()), (&[1][..], &[3][..]));
        let e = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"player_detection": {"keeper_class_ids": [1]}}}"#,
            no_env,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "unknown config key `stage_configs.player_detection.keeper_class_ids`");
    }

    #[test]
    fn onnxruntime_path_is_a_key_and_its_misspelling_is_not() {
        let c = PipelineConfig::from_json_with_env(r#"{"onnxruntime_path": "/opt/ort/libonnxruntime.so.1"}"#, no_env)
            .unwrap();
        assert_eq!(c.onnxruntime_path, Some(PathBuf::from("/opt/ort/libonnxruntime.so.1")));
        assert_eq!(PipelineConfig::from_json_with_env("{}", no_env).unwrap().onnxruntime_path, None);
        let e = PipelineConfig::from_json_with_env(r#"{"onnxruntime_pth": "x"}"#, no_env).unwrap_err();
        assert!(matches!(&e, ConfigError::UnknownKey { key } if key == "onnxruntime_pth"), "{e}");
    }

    /// `report_tables` is `inline` by default, `parquet` on request (with the feature), and
    /// any other value an error naming the key and the accepted values.
    #[test]
    fn report_tables_is_inline_or_parquet() {
        let parse = |json: &str| PipelineConfig::from_json_with_env(json, no_env);
        assert_eq!(parse("{}").unwrap().report_tables, ReportTables::Inline);
        assert_eq!(parse(r#"{"report_tables": "inline"}"#).unwrap().report_tables, ReportTables::Inline);
        let parquet = parse(r#"{"report_tables": "parquet"}"#);
        if cfg!(feature = "parquet") {
            assert_eq!(parquet.unwrap().report_tables, ReportTables::Parquet);
        } else {
            let e = parquet.unwrap_err();
            assert!(matches!(&e, ConfigError::Invalid { key, .. } if key == "report_tables"), "{e}");
        }
        for bad in [r#""csv""#, r#""Parquet""#, "true", "null"] {
            let e = parse(&format!(r#"{{"report_tables": {bad}}}"#)).unwrap_err();
            assert!(matches!(&e, ConfigError::Parse { path, .. } if path == "report_tables"), "{bad}: {e}");
        }
        let e = parse(r#"{"report_tables": "csv"}"#).unwrap_err().to_string();
        assert!(e.contains("`csv`") && e.contains("`inline`") && e.contains("`parquet`"), "{e}");
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let e = PipelineConfig::from_json_with_env(r#"{"video_path": "a.mp4", "batch_sise": 4}"#, no_env).unwrap_err();
        assert!(matches!(&e, ConfigError::UnknownKey { key } if key == "batch_sise"), "{e}");
        let e = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"video_decoding": {"target_fps": 25, "fps_target": 3}}}"#,
            no_env,
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::UnknownKey { key } if key == "stage_configs.video_decoding.fps_target"),
            "{e}"
        );
        let e = PipelineConfig::from_json_with_env(r#"{"stage_configs": {"jersey_numbers": {}}}"#, no_env).unwrap_err();
        assert_eq!(e.to_string(), "unknown config key `stage_configs.jersey_numbers`");
    }

    #[test]
    fn video_with_a_detections_file() {
        // Players from the file, everything else from the video.
        let ok = r#"{"video_path": "m.mp4", "detections_path": "d.txt"}"#;
        PipelineConfig::from_json_with_env(ok, no_env).unwrap();
        for (json, key) in [
            (r#"{"video_path": "m.mp4", "detections_path": "d.txt", "fps": 25}"#, "fps/frame_size"),
            (
                r#"{"video_path": "m.mp4", "detections_path": "d.txt", "ball_detections_path": "b.txt"}"#,
                "ball_detections_path",
            ),
            (
                r#"{"video_path": "m.mp4", "detections_path": "d.txt", "stage_configs": {"player_detection": {"model_path": "y.onnx"}}}"#,
                "stage_configs.player_detection.model_path",
            ),
        ] {
            let e = PipelineConfig::from_json_with_env(json, no_env).unwrap_err();
            assert!(matches!(&e, ConfigError::Invalid { key: k, .. } if k == key), "{json}: {e}");
        }
    }

    #[test]
    fn wrong_types_and_ranges_are_errors() {
        let e = PipelineConfig::from_json_with_env(r#"{"batch_size": "eight"}"#, no_env).unwrap_err();
        assert!(matches!(&e, ConfigError::Parse { path, .. } if path == "batch_size"), "{e}");
        let e = PipelineConfig::from_json_with_env(r#"{"batch_size": 0}"#, no_env).unwrap_err();
        assert!(matches!(&e, ConfigError::Invalid { key, .. } if key == "batch_size"), "{e}");
        let e = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"ball_tracking": {"tracking_method": "magic"}}}"#,
            no_env,
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::Parse { path, .. } if path == "stage_configs.ball_tracking.tracking_method"),
            "{e}"
        );
        assert!(PipelineConfig::from_json_with_env("{} trailing", no_env).is_err());
        assert!(PipelineConfig::from_json_with_env(r#"{"detections_path": "d.txt"}"#, no_env).is_err());
    }

    #[test]
    fn ball_detection_settings_are_checked() {
        let c = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"ball_detection": {"min_contrast": 30, "max_candidates": 5}}}"#,
            no_env,
        )
        .unwrap();
        assert_eq!(
            c.stage_configs.ball_detection,
            BallDetectionConfig { min_contrast: 30.0, max_candidates: 5, ..Default::default() }
        );
        let e = PipelineConfig::from_json_with_env(r#"{"stage_configs": {"ball_detection": {"radius": 3}}}"#, no_env)
            .unwrap_err();
        assert!(matches!(&e, ConfigError::UnknownKey { key } if key == "stage_configs.ball_detection.radius"), "{e}");
        for bad in [
            r#"{"min_contrast": 0}"#,
            r#"{"min_grass_surround": 1.5}"#,
            r#"{"max_saturation": -1}"#,
            r#"{"max_candidates": 0}"#,
        ] {
            let json = format!(r#"{{"stage_configs": {{"ball_detection": {bad}}}}}"#);
            let e = PipelineConfig::from_json_with_env(&json, no_env).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Invalid { key, .. } if key.starts_with("stage_configs.ball_detection.")),
                "{e}"
            );
        }
        let e = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"ball_tracking": {"min_ball_radius": 9, "max_ball_radius": 4}}}"#,
            no_env,
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { key, .. } if key == "stage_configs.ball_tracking.min_ball_radius"),
            "{e}"
        );
    }

    #[test]
    fn ball_tracking_tuning_keys_are_read_and_checked() {
        // The defaults are the tracker's documented constants.
        let d = BallTrackingConfig::default();
        assert_eq!((d.acquire_score, d.adopt_score, d.pair_max_distance_px, d.gate_cap_radii), (0.8, 0.5, 40.0, 25.0));
        assert_eq!((d.switch_frames, d.switch_margin, d.score_decay), (5, 0.1, 0.8));
        assert_eq!((d.still_frames, d.still_factor, d.off_pitch_factor), (25, 0.25, 0.5));
        assert_eq!((d.max_hypotheses, d.particles), (8, 400));
        let c = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"ball_tracking": {"acquire_score": 0.9, "adopt_score": 0.4,
                "pair_max_distance_px": 60, "gate_cap_radii": 30, "switch_frames": 3, "switch_margin": 0.05,
                "score_decay": 0.7, "still_frames": 50, "still_factor": 1, "off_pitch_factor": 0.8,
                "max_hypotheses": 4, "particles": 200}}}"#,
            no_env,
        )
        .unwrap();
        assert_eq!(
            c.stage_configs.ball_tracking,
            BallTrackingConfig {
                acquire_score: 0.9,
                adopt_score: 0.4,
                pair_max_distance_px: 60.0,
                gate_cap_radii: 30.0,
                switch_frames: 3,
                switch_margin: 0.05,
                score_decay: 0.7,
                still_frames: 50,
                still_factor: 1.0,
                off_pitch_factor: 0.8,
                max_hypotheses: 4,
                particles: 200,
                ..Default::default()
            }
        );
        let e =
            PipelineConfig::from_json_with_env(r#"{"stage_configs": {"ball_tracking": {"switch_frame": 3}}}"#, no_env)
                .unwrap_err();
        assert!(
            matches!(&e, ConfigError::UnknownKey { key } if key == "stage_configs.ball_tracking.switch_frame"),
            "{e}"
        );
        for (bad, key) in [
            (r#"{"acquire_score": 1.5}"#, "acquire_score"),
            (r#"{"adopt_score": -0.1}"#, "adopt_score"),
            (r#"{"pair_max_distance_px": 0}"#, "pair_max_distance_px"),
            (r#"{"gate_cap_radii": -2}"#, "gate_cap_radii"),
            (r#"{"switch_frames": 0}"#, "switch_frames"),
            (r#"{"switch_margin": 1.5}"#, "switch_margin"),
            (r#"{"score_decay": 1}"#, "score_decay"),
            (r#"{"still_frames": 0}"#, "still_frames"),
            (r#"{"still_factor": 2}"#, "still_factor"),
            (r#"{"off_pitch_factor": -1}"#, "off_pitch_factor"),
            (r#"{"max_hypotheses": 0}"#, "max_hypotheses"),
            (r#"{"particles": 0}"#, "particles"),
        ] {
            let json = format!(r#"{{"stage_configs": {{"ball_tracking": {bad}}}}}"#);
            let e = PipelineConfig::from_json_with_env(&json, no_env).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Invalid { key: k, .. } if *k == format!("stage_configs.ball_tracking.{key}")),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn detection_stride_ball_classes_and_device_are_read_and_checked() {
        let c = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"player_detection": {"detection_stride": 3, "ball_class_ids": [32], "device": "tensorrt"}}}"#,
            no_env,
        )
        .unwrap();
        let pd = &c.stage_configs.player_detection;
        assert_eq!(
            (pd.detection_stride, pd.ball_class_ids.as_slice(), pd.device),
            (3, &[32][..], Some(InferenceDevice::Tensorrt))
        );
        let d = PlayerDetectionConfig::default();
        assert_eq!((d.detection_stride, d.ball_class_ids.is_empty(), d.device), (1, true, None));
        let e = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"player_detection": {"detection_stride": 0}}}"#,
            no_env,
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { key, .. } if key == "stage_configs.player_detection.detection_stride"),
            "{e}"
        );
        let e = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"player_detection": {"player_class_ids": [0, 1], "ball_class_ids": [1]}}}"#,
            no_env,
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { key, .. } if key == "stage_configs.player_detection.ball_class_ids"),
            "{e}"
        );
        let e =
            PipelineConfig::from_json_with_env(r#"{"stage_configs": {"player_detection": {"device": "tpu"}}}"#, no_env)
                .unwrap_err();
        assert!(
            matches!(&e, ConfigError::Parse { path, .. } if path == "stage_configs.player_detection.device"),
            "{e}"
        );
        let e = PipelineConfig::from_json_with_env(r#"{"stage_configs": {"player_detection": {"stride": 2}}}"#, no_env)
            .unwrap_err();
        assert!(matches!(&e, ConfigError::UnknownKey { key } if key == "stage_configs.player_detection.stride"), "{e}");
    }

    #[test]
    fn live_section_is_parsed_and_checked() {
        let c = PipelineConfig::from_json_with_env(
            r#"{"fps": 25, "frame_size": [1280, 720], "live": {"input": "detections", "ball_candidates": true}}"#,
            no_env,
        )
        .unwrap();
        assert_eq!(
            c.live,
            LiveConfig {
                input: LiveInputKind::Detections,
                ball_candidates: true,
                user_teams: false,
                teams: Default::default()
            }
        );
        assert_eq!(PipelineConfig::default().live.input, LiveInputKind::Auto);
        let e = PipelineConfig::from_json_with_env(r#"{"live": {"inputs": "pixels"}}"#, no_env).unwrap_err();
        assert!(matches!(&e, ConfigError::UnknownKey { key } if key == "live.inputs"), "{e}");
        let e = PipelineConfig::from_json_with_env(r#"{"live": {"input": "audio"}}"#, no_env).unwrap_err();
        assert!(matches!(&e, ConfigError::Parse { path, .. } if path == "live.input"), "{e}");
        // Provisional teams: settings read, checked, unknown keys named.
        let c = PipelineConfig::from_json_with_env(
            r#"{"live": {"teams": {"min_tracks": 10, "refit_interval_frames": 50}}}"#,
            no_env,
        )
        .unwrap();
        let t = &c.live.teams;
        assert_eq!((t.enabled, t.min_tracks, t.refit_interval_frames), (true, 10, 50));
        assert_eq!(t.max_samples_per_track, LiveTeamsConfig::default().max_samples_per_track);
        for (json, key) in [
            (r#"{"min_tracks": 1}"#, "live.teams.min_tracks"),
            (r#"{"refit_interval_frames": 0}"#, "live.teams.refit_interval_frames"),
            (r#"{"forget_after_frames": 0}"#, "live.teams.forget_after_frames"),
            (r#"{"max_samples_per_track": 4}"#, "live.teams.max_samples_per_track"),
        ] {
            let e =
                PipelineConfig::from_json_with_env(&format!(r#"{{"live": {{"teams": {json}}}}}"#), no_env).unwrap_err();
            assert!(matches!(&e, ConfigError::Invalid { key: k, .. } if k == key), "{json}: {e}");
        }
        // max_samples_per_track is checked against team classification's min_samples.
        let e = PipelineConfig::from_json_with_env(
            r#"{"live": {"teams": {"max_samples_per_track": 9}},
                "stage_configs": {"team_classification": {"min_samples": 10}}}"#,
            no_env,
        )
        .unwrap_err();
        assert!(e.to_string().contains("min_samples (10)"), "{e}");
        let e = PipelineConfig::from_json_with_env(r#"{"live": {"teams": {"refit_every": 3}}}"#, no_env).unwrap_err();
        assert!(matches!(&e, ConfigError::UnknownKey { key } if key == "live.teams.refit_every"), "{e}");
    }

    #[test]
    fn event_and_formation_settings_are_read_and_checked() {
        let c = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"event_detection": {"control_radius_m": 1.5, "min_control_frames": 4},
                "formation_analysis": {"windowing": "possession_phases", "window_minutes": 10}}}"#,
            no_env,
        )
        .unwrap();
        let ed = &c.stage_configs.event_detection;
        assert_eq!((ed.control_radius_m, ed.min_control_frames), (1.5, 4));
        assert_eq!(ed.release_margin_m, EventDetectionConfig::default().release_margin_m);
        let fa = &c.stage_configs.formation_analysis;
        assert_eq!((fa.windowing, fa.window_minutes), (FormationWindowing::PossessionPhases, 10.0));
        let e = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"event_detection": {"control_radius": 2}}}"#,
            no_env,
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::UnknownKey { key } if key == "stage_configs.event_detection.control_radius"),
            "{e}"
        );
        // The possession phase settings.
        let c = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"event_detection": {"phase_min_control_s": 0.5, "phases_through_out_of_play": true}}}"#,
            no_env,
        )
        .unwrap();
        let ed = &c.stage_configs.event_detection;
        assert_eq!((ed.phase_min_control_s, ed.phases_through_out_of_play), (0.5, true));
        let d = EventDetectionConfig::default();
        assert_eq!((d.phase_min_control_s, d.phases_through_out_of_play), (1.0, false));
        let event_error = |settings: &str| {
            let json = format!(r#"{{"stage_configs": {{"event_detection": {settings}}}}}"#);
            PipelineConfig::from_json_with_env(&json, no_env).unwrap_err()
        };
        let e = event_error(r#"{"phase_min_control": 1}"#);
        let unknown = |k: &str| k == "stage_configs.event_detection.phase_min_control";
        assert!(matches!(&e, ConfigError::UnknownKey { key } if unknown(key)), "{e}");
        let e = event_error(r#"{"phase_min_control_s": -0.5}"#);
        let invalid = |k: &str| k == "stage_configs.event_detection.phase_min_control_s";
        assert!(matches!(&e, ConfigError::Invalid { key, .. } if invalid(key)), "{e}");
        let e = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"event_detection": {"control_radius_m": -1}}}"#,
            no_env,
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { key, .. } if key == "stage_configs.event_detection.control_radius_m"),
            "{e}"
        );
        let e = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"formation_analysis": {"windowing": "halves"}}}"#,
            no_env,
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::Parse { path, .. } if path == "stage_configs.formation_analysis.windowing"),
            "{e}"
        );
        let e = PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"formation_analysis": {"samples_per_second": 0}}}"#,
            no_env,
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { key, .. } if key == "stage_configs.formation_analysis.samples_per_second"),
            "{e}"
        );
    }

    #[test]
    fn environment_fills_gaps_but_never_overrides() {
        let env = |k: &str| match k {
            "YOLO_MODEL_PATH" => Some("/models/env.onnx".to_string()),
            "MODEL_CACHE_DIR" => Some("/cache".to_string()),
            "CHECKPOINT_TTL_SECONDS" => Some("3600".to_string()),
            "REDIS_URL" => Some("redis://127.0.0.1:6379/0".to_string()),
            "CUDA_VISIBLE_DEVICES" => Some("1".to_string()),
            "GPU_MEMORY_FRACTION" => Some("0.5".to_string()),
            "ML_PIPELINE_LOG_LEVEL" => Some("debug".to_string()),
            _ => None,
        };
        let c = PipelineConfig::from_json_with_env("{}", env).unwrap();
        assert_eq!(c.stage_configs.player_detection.model_path, Some(PathBuf::from("/models/env.onnx")));
        assert_eq!(c.model_cache_dir, Some(PathBuf::from("/cache")));
        assert_eq!(c.checkpoint_ttl_seconds, Some(3600));
        assert_eq!(c.redis_url.as_deref(), Some("redis://127.0.0.1:6379/0"));
        assert_eq!(c.cuda_visible_devices.as_deref(), Some("1"));
        assert_eq!(c.gpu_memory_fraction, Some(0.5));
        assert_eq!(c.log_level.as_deref(), Some("debug"));
        let c = PipelineConfig::from_json_with_env(SERVICE_REQUEST, env).unwrap();
        assert_eq!(c.stage_configs.player_detection.model_path, Some(PathBuf::from("yolov8n.onnx")));
        // The keypoint model fills calibration only when the config names no other source.
        let keypoints = |k: &str| (k == "KEYPOINT_MODEL_PATH").then(|| "/models/pitch.onnx".to_string());
        let c = PipelineConfig::from_json_with_env("{}", keypoints).unwrap();
        assert_eq!(c.stage_configs.pitch_calibration.keypoint_model, Some(PathBuf::from("/models/pitch.onnx")));
        for json in [
            r#"{"homography_path": "h.json"}"#,
            r#"{"stage_configs": {"pitch_calibration": {"image_to_pitch": [[1,0,0],[0,1,0],[0,0,1]]}}}"#,
            r#"{"stage_configs": {"pitch_calibration": {"keypoint_model": "mine.onnx"}}}"#,
        ] {
            let c = PipelineConfig::from_json_with_env(json, keypoints).unwrap();
            assert_ne!(c.stage_configs.pitch_calibration.keypoint_model, Some(PathBuf::from("/models/pitch.onnx")));
        }
        let bad = |k: &str| (k == "GPU_MEMORY_FRACTION").then(|| "half".to_string());
        let e = PipelineConfig::from_json_with_env("{}", bad).unwrap_err();
        assert!(matches!(&e, ConfigError::Env { var, .. } if var == "GPU_MEMORY_FRACTION"), "{e}");
        let out_of_range = |k: &str| (k == "GPU_MEMORY_FRACTION").then(|| "1.5".to_string());
        assert!(PipelineConfig::from_json_with_env("{}", out_of_range).is_err());
    }
}
