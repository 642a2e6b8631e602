//! The top-level error type and the per-module errors it wraps.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::pipeline::BuildError;
use crate::pipeline::checkpoint::CheckpointError;
#[cfg(feature = "sim")]
use crate::sim::SimError;
use crate::stages::detections_file::DetectionsError;
use crate::stages::pitch_calibration::CalibrationError;
#[cfg(feature = "onnx")]
use crate::stages::player_detection::DetectionError;
#[cfg(feature = "video")]
use crate::stages::video_decoding::VideoError;
#[cfg(feature = "viz")]
use crate::viz::VizError;

/// The text of a caught panic's payload: `panic!` with a message carries a `&str` or a
/// `String`; anything else has no text. Shared by the engine's stage boundary and the
/// bindings' FFI boundaries.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// The categories of [`Error`], see [`Error::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Invalid configuration or pipeline graph.
    Config,
    /// An input file (video, detections, homography) does not exist.
    NotFound,
    /// A video exists but cannot be opened or decoded.
    InvalidVideo,
    /// A detections or homography file exists but is malformed.
    InvalidDetections,
    /// The checkpoint store failed.
    Checkpoint,
    /// Reading or writing a file failed.
    Io,
    /// A stage reported a failure of its own.
    Stage,
    /// A stage panicked (a bug); the panic was contained.
    Panicked,
    /// The run was cancelled.
    Cancelled,
    /// A value passed to the API is invalid: a pushed frame's size, stride, buffer,
    /// timestamp or detections, or a push of the wrong kind ([`crate::live::LiveError`]).
    InvalidInput,
    /// The object has ended (a finished, failed or cancelled live session) and takes no
    /// more calls.
    Closed,
    /// Another worker is running the same pipeline now (its lock is held in the shared
    /// checkpoint store). Transient: retry once that run ends.
    Busy,
}

/// Result alias used throughout footml.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error footml returns.
///
/// Errors say whether retrying can help ([`Error::is_transient`]); the retry policy only
/// retries those.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid (unknown key, bad value).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The pipeline graph is invalid (missing input, cycle, no source).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Video input could not be opened or decoded.
    #[cfg(feature = "video")]
    #[error(transparent)]
    Video(#[from] VideoError),
    /// A detections file could not be read or parsed.
    #[error(transparent)]
    Detections(#[from] DetectionsError),
    /// The player detection model or ONNX Runtime failed (missing runtime, bad model,
    /// inference error).
    #[cfg(feature = "onnx")]
    #[error(transparent)]
    Detection(#[from] DetectionError),
    /// Pitch calibration could not be set up (correspondences that give no homography, a
    /// keypoint model of the wrong layout).
    #[error(transparent)]
    Calibration(#[from] CalibrationError),
    /// The checkpoint store failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The sample-match renderer failed (bad tracking file or settings, encoding).
    #[cfg(feature = "sim")]
    #[error(transparent)]
    Sim(#[from] SimError),
    /// A live session refused a pushed frame or call.
    #[error(transparent)]
    Live(#[from] crate::live::LiveError),
    /// Pictures of a report could not be made.
    #[cfg(feature = "viz")]
    #[error(transparent)]
    Viz(#[from] VizError),
    /// A report's tables could not be written or read.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A stage reported an error of its own (user stages use this through
    /// [`Error::transient`] and [`Error::permanent`]).
    #[error("{message}")]
    Stage {
        /// What went wrong.
        message: String,
        /// Whether retrying the same work may succeed.
        transient: bool,
    },
    /// A stage failed after exhausting its retry policy.
    #[error("stage `{stage}` failed after {attempts} attempt(s): {source}")]
    StageFailed {
        /// The stage's name.
        stage: String,
        /// Attempts made, including the first.
        attempts: u32,
        /// The last error.
        source: Box<Error>,
    },
    /// A stage panicked; the panic was caught and the pipeline stopped.
    #[error("stage `{stage}` panicked: {message}")]
    Panicked {
        /// The stage's name.
        stage: String,
        /// The panic payload, when it was a string.
        message: String,
    },
    /// The run was cancelled through its [`crate::CancellationToken`].
    #[error("the pipeline was cancelled")]
    Cancelled,
}

impl Error {
    /// An error that may go away if the same work is tried again (a busy device, a network
    /// store timing out). Retried by the stage's retry policy.
    pub fn transient(message: impl Into<String>) -> Self {
        Error::Stage { message: message.into(), transient: true }
    }

    /// An error that retrying cannot fix (bad input, a bug).
    pub fn permanent(message: impl Into<String>) -> Self {
        Error::Stage { message: message.into(), transient: false }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// What kind of failure this is, for callers that map errors onto their own
    /// categories (the Python exception classes, the C result codes). A stage that failed
    /// after its retries is classified by the error that made it fail, so a missing file
    /// is [`ErrorKind::NotFound`] wherever it surfaced.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) | Error::Build(_) => ErrorKind::Config,
            #[cfg(feature = "video")]
            Error::Video(crate::stages::video_decoding::VideoError::NotFound(_)) => ErrorKind::NotFound,
            #[cfg(feature = "video")]
            Error::Video(_) => ErrorKind::InvalidVideo,
            Error::Detections(DetectionsError::NotFound(_) | DetectionsError::HomographyNotFound(_)) => {
                ErrorKind::NotFound
            }
            Error::Detections(_) => ErrorKind::InvalidDetections,
            #[cfg(feature = "onnx")]
            Error::Detection(DetectionError::ModelNotFound(_)) => ErrorKind::NotFound,
            #[cfg(feature = "onnx")]
            // A model file that is no ONNX or not the YOLO layout is a bad setting, like a bad value.
            Error::Detection(
                DetectionError::InvalidConfig(_)
                | DetectionError::ProviderUnavailable { .. }
                | DetectionError::NotOnnx { .. }
                | DetectionError::Layout { .. }
                | DetectionError::RuntimeConflict { .. },
            ) => ErrorKind::Config,
            #[cfg(feature = "onnx")]
            Error::Detection(_) => ErrorKind::Stage,
            #[cfg(feature = "onnx")]
            Error::Calibration(CalibrationError::Model(DetectionError::ModelNotFound(_))) => ErrorKind::NotFound,
            #[cfg(feature = "onnx")]
            Error::Calibration(CalibrationError::Model(
                DetectionError::InvalidConfig(_) | DetectionError::NotOnnx { .. } | DetectionError::Layout { .. },
            )) => ErrorKind::Config,
            #[cfg(feature = "onnx")]
            Error::Calibration(CalibrationError::Model(_)) => ErrorKind::Stage,
            Error::Calibration(_) => ErrorKind::Config,
            Error::Checkpoint(CheckpointError::Locked { .. }) => ErrorKind::Busy,
            Error::Checkpoint(_) => ErrorKind::Checkpoint,
            Error::Report(crate::report::ReportError::TableNotFound { .. }) => ErrorKind::NotFound,
            Error::Report(crate::report::ReportError::ParquetUnavailable) => ErrorKind::Config,
            // A table file that is not what report.json says, like a file that cannot be read.
            Error::Report(_) => ErrorKind::Io,
            #[cfg(feature = "sim")]
            Error::Sim(e) => match e {
                SimError::TrackingNotFound(_) => ErrorKind::NotFound,
                SimError::BadTracking { .. } | SimError::EmptyRange { .. } => ErrorKind::InvalidDetections,
                SimError::InvalidConfig(_) => ErrorKind::Config,
                SimError::Io { .. } => ErrorKind::Io,
                SimError::Encode { .. } => ErrorKind::Stage,
            },
            Error::Live(crate::live::LiveError::Closed { .. }) => ErrorKind::Closed,
            Error::Live(_) => ErrorKind::InvalidInput,
            #[cfg(feature = "viz")]
            Error::Viz(e) => match e {
                VizError::Size { .. } => ErrorKind::Config,
                VizError::Png { .. } | VizError::Write { .. } => ErrorKind::Io,
                VizError::Report(_) => ErrorKind::Stage,
                VizError::Video(_) => ErrorKind::InvalidVideo,
            },
            Error::Io { .. } => ErrorKind::Io,
            Error::Stage { .. } => ErrorKind::Stage,
            Error::StageFailed { source, .. } => source.kind(),
            Error::Panicked { .. } => ErrorKind::Panicked,
            Error::Cancelled => ErrorKind::Cancelled,
        }
    }

    /// Whether retrying the failed work may succeed.
    pub fn is_transient(&self) -> bool {
        use std::io::ErrorKind as K;
        match self {
            Error::Stage { transient, .. } => *transient,
            Error::Io { source, .. } => matches!(
                source.kind(),
                K::Interrupted | K::TimedOut | K::WouldBlock | K::ConnectionReset | K::ConnectionAborted
            ),
            Error::Checkpoint(e) => e.is_transient(),
            _ => false,
        }
    }
}
