//! Plain math with no pipeline knowledge: geometry, Kalman filters, assignment.
//!
//! These are the building blocks of the tracking stages, usable on their own:
//!
//! * [`geometry`]: box conversions and IoU matrices.
//! * [`kalman`]: the constant-velocity box Kalman filter of SORT / DeepSORT / ByteTrack.
//! * [`assignment`]: optimal rectangular linear assignment with a cost threshold.
//! * [`point_kalman`]: a constant-velocity point Kalman filter with gating and RTS smoothing.
//! * [`nms`]: class-aware non-maximum suppression of detections.
//! * [`particle`]: a deterministic, resumable particle filter for a point.
//! * [`pitch`]: the pitch markings as geometry, distance of a point to the nearest marking.
//! * [`homography`]: normalised DLT and RANSAC homographies from point correspondences.
//! * [`colour`]: sRGB ↔ CIELAB and ΔE colour distances.

pub mod assignment;
pub mod colour;
pub mod geometry;
pub mod homography;
pub mod kalman;
pub mod nms;
pub mod particle;
pub mod pitch;
pub mod point_kalman;

pub use assignment::{Assignment, LinearAssignment, linear_assignment};
pub use kalman::{BoxKalmanFilter, BoxState};
