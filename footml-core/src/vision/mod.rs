//! Plain math with no pipeline knowledge: geometry, Kalman filters, assignment.
//!
//! These are the building blocks of the tracking stages, usable on their own:
//!
//! * [`geometry`]: box conversions and IoU matrices.
//! * [`kalman`]: the constant-velocity box Kalman filter of SORT / DeepSORT / ByteTrack.
//! * [`assignment`]: optimal rectangular linear assignment with a cost threshold.

pub mod assignment;
pub mod geometry;
pub mod kalman;

pub use assignment::{Assignment, LinearAssignment, linear_assignment};
pub use kalman::{BoxKalmanFilter, BoxState};
