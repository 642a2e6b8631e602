//! # footml — football match video analysis
//!
//! footml turns match video (or detections you already have) into analysis: player tracks,
//! and, as stages are added, ball, teams, events, formations and physical metrics.
//!
//! ## The pipeline
//!
//! A [`Pipeline`] is a source of frames followed by **streaming stages** and **match stages**:
//!
//! ```text
//! source ─► [stream stage] ─► [stream stage] ─► … ─► per-frame records ─► [match stage] ─► … ─► MatchReport
//! ```
//!
//! * The source ([`FrameSource`]) yields frames in order: decoded video
//!   ([`stages::video_decoding::VideoSource`]) or a detections file
//!   ([`stages::detections_file::DetectionsFileSource`]).
//! * Streaming stages ([`StreamStage`]) run each on its own thread and see frames in batches
//!   through bounded channels, so memory does not grow with the length of the video. Pixels
//!   are dropped once the last stage that needs them has run.
//! * Match stages ([`MatchStage`]) run after the stream on the compact records of the whole
//!   match.
//! * Every stage declares the [`Artifact`]s it requires and provides; [`PipelineBuilder::build`]
//!   orders the stages and rejects a missing input or a cycle, naming the stage and artifact.
//! * A [`CheckpointStore`] keeps the records of every chunk of `checkpoint_interval_frames`
//!   frames together with the state of each stage at the chunk's end, so a resumed run gives
//!   the same report as an uninterrupted one.
//! * A [`live::LiveSession`] runs the same pipeline on frames pushed one at a time (pixels
//!   or detections) and returns each frame's tracks as soon as the stream has processed it.
//! * [`EventSink`]s receive [`PipelineEvent`]s (progress, retries, checkpoints); a slow or
//!   failing sink never slows or fails the analysis.
//!
//! ```no_run
//! use footml::{Pipeline, PipelineConfig};
//! let config = PipelineConfig::from_json(r#"{"detections_path": "dets.txt", "fps": 25,
//!     "frame_size": [1920, 1080]}"#)?;
//! let report = Pipeline::from_config(&config)?.run()?;
//! println!("{} tracks", report.tracks.len());
//! # Ok::<(), footml::Error>(())
//! ```
//!
//! ## Cargo features
//!
//! * `video` (default): FFmpeg decoding through ffmpeg-next.
//! * `cli` (default): the `footml` command-line tool.
//! * `onnx` (default): YOLO player detection on ONNX Runtime (ort, `load-dynamic`; the library
//!   comes from the `onnxruntime` wheel that `scripts/setup.sh` puts in `.venv`, or
//!   `ORT_DYLIB_PATH`), see [`stages::player_detection`].
//! * `sim` (default, needs `video`): the sample-match renderer ([`sim`], `footml render`):
//!   real tracking data drawn through a known broadcast camera into an H.264 clip with its
//!   ground truth.
//! * `parquet` (default): the report's per-frame tables in Parquet files beside `report.json`
//!   (`report_tables: "parquet"`, [`report::tables`]); the `parquet` crate's column API
//!   only, no arrow, Snappy compression.
//! * `redis` (in `cli`): the Redis checkpoint store
//!   (`pipeline::redis_store::RedisCheckpointStore`, `redis_url` / `REDIS_URL`) with entry TTLs
//!   and a per-run lock, so that workers sharing a Redis server resume each other's runs and
//!   never run the same pipeline at once.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod analysis;
pub mod config;
pub mod error;
pub mod live;
pub mod pipeline;
pub mod report;
#[cfg(feature = "sim")]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod sim;
pub mod stages;
#[cfg(test)]
mod test_support;
pub mod types;
pub mod vision;
#[cfg(feature = "viz")]
pub mod viz;

pub use config::PipelineConfig;
pub use error::{Error, ErrorKind, Result};
pub use pipeline::cancel::CancellationToken;
pub use pipeline::checkpoint::{CheckpointKey, CheckpointStore, FsCheckpointStore, MemoryCheckpointStore, RunLock};
pub use pipeline::events::{EventSink, PipelineEvent};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use pipeline::redis_store::RedisCheckpointStore;
pub use pipeline::retry::RetryPolicy;
pub use pipeline::stage::{Artifact, FrameSource, MatchStage, StageContext, StreamStage};
pub use pipeline::{Pipeline, PipelineBuilder};
pub use report::MatchReport;
pub use types::{
    BBox, BallObservation, BallState, Calibration, Detection, FrameBatch, FrameItem, FrameRecord, KitSample, MatchData,
    RgbFrame, TrackedBox, VideoInfo,
};

/// The README's Rust example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// footml's version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
