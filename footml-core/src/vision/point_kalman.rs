//! A constant-velocity Kalman filter for a point (a ball centre), with gating and a
//! Rauch–Tung–Striebel smoother.
//!
//! State `[x, y, vx, vy]` in pixels and pixels per frame, measurement `[x, y]`. The process
//! noise is the discrete white-noise acceleration model: an acceleration of standard
//! deviation `accel_std` (pixels / frame²) held over one frame, so
//! `Q = q² [[¼ I, ½ I], [½ I, I]]`. The measurement noise is isotropic with a standard
//! deviation given per update (a detector's jitter grows with the ball's size on screen).

use nalgebra::{ArrayStorage, Matrix2, Matrix2x4, Matrix4, Vector2, Vector4};
use serde::{Deserialize, Serialize};

/// Gate on the squared Mahalanobis distance of a 2-D measurement: the 99.9 % quantile of
/// χ² with 2 degrees of freedom.
pub const CHI2_2DOF_999: f64 = 13.816;

/// A Gaussian estimate of a point: mean `[x, y, vx, vy]` and its covariance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "PointStateRepr", into = "PointStateRepr")]
pub struct PointState {
    /// `[x, y, vx, vy]`.
    pub mean: Vector4<f64>,
    /// Covariance of `mean`.
    pub covariance: Matrix4<f64>,
}

/// Serialised form of [`PointState`]: plain arrays (covariance column by column), so that
/// the format does not depend on nalgebra's serde support.
#[derive(Serialize, Deserialize)]
struct PointStateRepr {
    mean: [f64; 4],
    covariance: [[f64; 4]; 4],
}

impl From<PointState> for PointStateRepr {
    fn from(s: PointState) -> Self {
        PointStateRepr { mean: s.mean.data.0[0], covariance: s.covariance.data.0 }
    }
}

impl From<PointStateRepr> for PointState {
    fn from(r: PointStateRepr) -> Self {
        PointState {
            mean: Vector4::from_data(ArrayStorage([r.mean])),
            covariance: Matrix4::from_data(ArrayStorage(r.covariance)),
        }
    }
}

impl PointState {
    /// The position `[x, y]`.
    pub fn position(&self) -> [f64; 2] {
        [self.mean[0], self.mean[1]]
    }
}

/// The constant-velocity point filter's noise model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PointKalmanFilter {
    /// Standard deviation of the acceleration per frame (pixels / frame²).
    pub accel_std: f64,
    /// Standard deviation of the velocity of a new track (pixels / frame).
    pub initial_velocity_std: f64,
}

impl Default for PointKalmanFilter {
    fn default() -> Self {
        PointKalmanFilter { accel_std: 1.0, initial_velocity_std: 8.0 }
    }
}

fn transition() -> Matrix4<f64> {
    Matrix4::new(1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)
}

fn observation() -> Matrix2x4<f64> {
    Matrix2x4::new(1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0)
}

impl PointKalmanFilter {
    /// A new state at measurement `z` (standard deviation `meas_std`), at rest with a wide
    /// velocity uncertainty.
    pub fn initiate(&self, z: [f64; 2], meas_std: f64) -> PointState {
        let (p, v) = (meas_std * meas_std, self.initial_velocity_std * self.initial_velocity_std);
        PointState {
            mean: Vector4::new(z[0], z[1], 0.0, 0.0),
            covariance: Matrix4::from_diagonal(&Vector4::new(p, p, v, v)),
        }
    }

    /// A new state from two consecutive measurements (`z0` one frame before `z1`): at `z1`
    /// with the velocity between them.
    pub fn initiate_two(&self, z0: [f64; 2], z1: [f64; 2], meas_std: f64) -> PointState {
        let r = meas_std * meas_std;
        let mut s =
            PointState { mean: Vector4::new(z1[0], z1[1], z1[0] - z0[0], z1[1] - z0[1]), covariance: Matrix4::zeros() };
        // Velocity = z1 − z0: variance 2r plus one frame of acceleration; position and
        // velocity errors share z1's error (covariance r).
        let q = self.accel_std * self.accel_std;
        for i in 0..2 {
            s.covariance[(i, i)] = r;
            s.covariance[(i, i + 2)] = r;
            s.covariance[(i + 2, i)] = r;
            s.covariance[(i + 2, i + 2)] = 2.0 * r + q;
        }
        s
    }

    /// The process noise of one frame.
    pub fn process_noise(&self) -> Matrix4<f64> {
        let q = self.accel_std * self.accel_std;
        let mut m = Matrix4::zeros();
        for i in 0..2 {
            m[(i, i)] = 0.25 * q;
            m[(i, i + 2)] = 0.5 * q;
            m[(i + 2, i)] = 0.5 * q;
            m[(i + 2, i + 2)] = q;
        }
        m
    }

    /// Advances the state by one frame: `x ← F x`, `P ← F P Fᵀ + Q`.
    pub fn predict(&self, s: &mut PointState) {
        let f = transition();
        s.mean = f * s.mean;
        s.covariance = f * s.covariance * f.transpose() + self.process_noise();
    }

    /// The innovation `z − H x` and its covariance `H P Hᵀ + R`.
    fn innovation(&self, s: &PointState, z: [f64; 2], meas_std: f64) -> (Vector2<f64>, Matrix2<f64>) {
        let h = observation();
        let y = Vector2::new(z[0], z[1]) - h * s.mean;
        let cov = h * s.covariance * h.transpose() + Matrix2::identity() * (meas_std * meas_std);
        (y, cov)
    }

    /// Squared Mahalanobis distance of measurement `z` from the state's predicted
    /// measurement; `f64::INFINITY` when the covariance is singular.
    pub fn mahalanobis_sq(&self, s: &PointState, z: [f64; 2], meas_std: f64) -> f64 {
        let (y, cov) = self.innovation(s, z, meas_std);
        match cov.try_inverse() {
            Some(inv) => (y.transpose() * inv * y)[0],
            None => f64::INFINITY,
        }
    }

    /// Corrects the state with measurement `z` (Joseph form, so the covariance stays
    /// symmetric positive definite).
    pub fn update(&self, s: &mut PointState, z: [f64; 2], meas_std: f64) {
        let h = observation();
        let (y, cov) = self.innovation(s, z, meas_std);
        let Some(inv) = cov.try_inverse() else { return };
        let k = s.covariance * h.transpose() * inv;
        s.mean += k * y;
        let i_kh = Matrix4::identity() - k * h;
        let r = Matrix2::identity() * (meas_std * meas_std);
        s.covariance = i_kh * s.covariance * i_kh.transpose() + k * r * k.transpose();
    }

    /// Rauch–Tung–Striebel smoothing of a filtered sequence. `predicted[t]` is the state
    /// predicted for step `t` from step `t − 1` (unused for `t = 0`), `filtered[t]` the state
    /// after step `t`'s update (equal to `predicted[t]` on a step without measurement).
    /// Returns the smoothed states, one per step.
    pub fn rts_smooth(&self, predicted: &[PointState], filtered: &[PointState]) -> Vec<PointState> {
        assert_eq!(predicted.len(), filtered.len(), "one predicted state per filtered state");
        let n = filtered.len();
        let mut out = filtered.to_vec();
        let f = transition();
        for t in (0..n.saturating_sub(1)).rev() {
            let p_pred = &predicted[t + 1].covariance;
            let Some(inv) = p_pred.try_inverse() else { continue };
            let c = filtered[t].covariance * f.transpose() * inv;
            let mean = filtered[t].mean + c * (out[t + 1].mean - predicted[t + 1].mean);
            let cov = filtered[t].covariance + c * (out[t + 1].covariance - p_pred) * c.transpose();
            out[t] = PointState { mean, covariance: cov };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic noise source for the tests (no RNG crate needed).
    fn noise(i: usize) -> f64 {
        ((i as f64 * 12.9898).sin() * 43758.5453).rem_euclid(1.0) - 0.5
    }

    #[test]
    fn converges_on_a_constant_velocity_point() {
        // A target that truly moves at constant velocity: little acceleration noise.
        let kf = PointKalmanFilter { accel_std: 0.1, ..Default::default() };
        let mut s = kf.initiate([100.0, 50.0], 1.0);
        for t in 1..60 {
            kf.predict(&mut s);
            let z = [100.0 + 3.0 * t as f64 + noise(2 * t), 50.0 - 1.5 * t as f64 + noise(2 * t + 1)];
            kf.update(&mut s, z, 1.0);
        }
        assert!((s.mean[2] - 3.0).abs() < 0.2, "vx {}", s.mean[2]);
        assert!((s.mean[3] + 1.5).abs() < 0.2, "vy {}", s.mean[3]);
        assert!((s.mean[0] - (100.0 + 3.0 * 59.0)).abs() < 1.0);
        assert!((s.mean[1] - (50.0 - 1.5 * 59.0)).abs() < 1.0);
    }

    #[test]
    fn gate_rejects_a_far_outlier() {
        let kf = PointKalmanFilter::default();
        let mut s = kf.initiate_two([0.0, 0.0], [2.0, 0.0], 1.0);
        for t in 2..20 {
            kf.predict(&mut s);
            kf.update(&mut s, [2.0 * t as f64, 0.0], 1.0);
        }
        kf.predict(&mut s);
        assert!(kf.mahalanobis_sq(&s, [40.5, 0.3], 1.0) < CHI2_2DOF_999);
        assert!(kf.mahalanobis_sq(&s, [40.0, 60.0], 1.0) > CHI2_2DOF_999);
        assert!(kf.mahalanobis_sq(&s, [300.0, 0.0], 1.0) > CHI2_2DOF_999);
    }

    #[test]
    fn rts_smoothing_reduces_the_error_and_bridges_a_gap() {
        let kf = PointKalmanFilter::default();
        let truth = |t: usize| [10.0 + 4.0 * t as f64, 20.0 + 1.0 * t as f64];
        let (mut pred, mut filt) = (Vec::new(), Vec::new());
        let mut s = kf.initiate(truth(0), 2.0);
        pred.push(s.clone());
        filt.push(s.clone());
        for t in 1..40 {
            kf.predict(&mut s);
            pred.push(s.clone());
            if !(15..20).contains(&t) {
                let p = truth(t);
                kf.update(&mut s, [p[0] + 3.0 * noise(2 * t), p[1] + 3.0 * noise(2 * t + 1)], 2.0);
            }
            filt.push(s.clone());
        }
        let smooth = kf.rts_smooth(&pred, &filt);
        let err = |v: &[PointState]| -> f64 {
            v.iter()
                .enumerate()
                .skip(5)
                .map(|(t, s)| {
                    let p = truth(t);
                    ((s.mean[0] - p[0]).powi(2) + (s.mean[1] - p[1]).powi(2)).sqrt()
                })
                .sum::<f64>()
        };
        assert!(err(&smooth) < err(&filt), "smoothed {} filtered {}", err(&smooth), err(&filt));
        for (t, s) in smooth.iter().enumerate().take(20).skip(15) {
            let p = truth(t);
            assert!((s.mean[0] - p[0]).abs() < 2.0 && (s.mean[1] - p[1]).abs() < 2.0, "gap frame {t}");
        }
    }

    #[test]
    fn state_round_trips_through_msgpack() {
        let kf = PointKalmanFilter::default();
        let mut s = kf.initiate_two([1.0, 2.0], [3.0, 5.0], 0.7);
        kf.predict(&mut s);
        let bytes = rmp_serde::to_vec(&s).unwrap();
        let back: PointState = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, s);
    }
}
