//! Cross-crate integration tests: one binary, one module per area.

mod ball;
mod ball_detection;
mod calibration;
mod cli;
mod common;
mod detection;
mod events;
mod live;
mod metrics;
mod model_scripts;
mod pipeline;
mod readme;
#[cfg(feature = "redis")]
mod redis;
mod sim;
mod teams;
mod tracking;
mod video;
mod viz;
