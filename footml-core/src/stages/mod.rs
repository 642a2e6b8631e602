//! The built-in stages, one module each.

pub mod ball_detection;
pub mod ball_tracking;
pub mod detections_file;
pub mod events;
pub mod formations;
pub mod metrics;
pub mod pitch_calibration;
#[cfg(feature = "onnx")]
#[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
pub mod player_detection;
pub mod player_tracking;
pub mod teams;
#[cfg(feature = "video")]
#[cfg_attr(docsrs, doc(cfg(feature = "video")))]
pub mod video_decoding;
