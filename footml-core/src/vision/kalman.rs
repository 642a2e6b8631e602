//! The constant-velocity box Kalman filter of SORT, DeepSORT and ByteTrack.
//!
//! State `[cx, cy, a, h, vcx, vcy, va, vh]`: box centre, aspect ratio `w / h`, height and
//! their velocities per frame. Measurement `[cx, cy, a, h]`. Process and measurement noise
//! are proportional to the box height, so a near player (tall box, many pixels per metre)
//! is allowed to move more pixels than a far one; the aspect ratio gets a small constant
//! noise because a person's box keeps its shape. The constants are those of ByteTrack
//! (`yolox/tracker/kalman_filter.py`), which tracking results are usually compared with.
//!
//! The matrices have a fixed structure (`F = [[I, I], [0, I]]`, `H = [I, 0]`), which
//! [`BoxKalmanFilter::predict`] and [`BoxKalmanFilter::update`] exploit instead of
//! multiplying general 8×8 matrices: the tracker runs them for every track in every frame.

use nalgebra::{ArrayStorage, Cholesky, Matrix4, SMatrix, SVector, U4, Vector4};
use serde::{Deserialize, Serialize};

/// The state vector `[cx, cy, a, h, vcx, vcy, va, vh]`.
pub type StateVector = SVector<f64, 8>;
/// The state covariance.
pub type StateCovariance = SMatrix<f64, 8, 8>;

/// Smallest height used to scale the noise: keeps the covariances positive definite if a
/// box's estimated height reaches 0.
const MIN_NOISE_HEIGHT: f64 = 1e-3;

/// A Gaussian estimate of a box: mean and covariance of the state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "BoxStateRepr", into = "BoxStateRepr")]
pub struct BoxState {
    /// `[cx, cy, a, h, vcx, vcy, va, vh]`.
    pub mean: StateVector,
    /// Covariance of `mean`.
    pub covariance: StateCovariance,
}

/// Serialised form of [`BoxState`]: plain arrays, so that the format does not depend on
/// nalgebra's serde support. The covariance is stored column by column.
#[derive(Serialize, Deserialize)]
struct BoxStateRepr {
    mean: [f64; 8],
    covariance: [[f64; 8]; 8],
}

impl From<BoxState> for BoxStateRepr {
    fn from(s: BoxState) -> Self {
        BoxStateRepr { mean: s.mean.data.0[0], covariance: s.covariance.data.0 }
    }
}

impl From<BoxStateRepr> for BoxState {
    fn from(r: BoxStateRepr) -> Self {
        BoxState {
            mean: StateVector::from_data(ArrayStorage([r.mean])),
            covariance: StateCovariance::from_data(ArrayStorage(r.covariance)),
        }
    }
}

impl BoxState {
    /// The measurement part of the mean, `[cx, cy, a, h]`.
    pub fn xyah(&self) -> [f64; 4] {
        [self.mean[0], self.mean[1], self.mean[2], self.mean[3]]
    }
}

/// The filter's noise model. [`Default`] gives ByteTrack's values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoxKalmanFilter {
    /// Standard deviation of position noise (centre and height) per frame, as a fraction of
    /// the box height.
    pub std_weight_position: f64,
    /// Standard deviation of velocity noise per frame, as a fraction of the box height.
    pub std_weight_velocity: f64,
}

impl Default for BoxKalmanFilter {
    fn default() -> Self {
        BoxKalmanFilter { std_weight_position: 1.0 / 20.0, std_weight_velocity: 1.0 / 160.0 }
    }
}

impl BoxKalmanFilter {
    /// A new track's state from its first measurement `[cx, cy, a, h]`: at rest, with a
    /// wide velocity uncertainty.
    pub fn initiate(&self, z: &[f64; 4]) -> BoxState {
        let h = z[3].abs().max(MIN_NOISE_HEIGHT);
        let (p, v) = (self.std_weight_position * h, self.std_weight_velocity * h);
        let std = [2.0 * p, 2.0 * p, 1e-2, 2.0 * p, 10.0 * v, 10.0 * v, 1e-5, 10.0 * v];
        let mut mean = StateVector::zeros();
        mean.fixed_rows_mut::<4>(0).copy_from(&Vector4::from(*z));
        BoxState { mean, covariance: StateCovariance::from_diagonal(&StateVector::from(std.map(|s| s * s))) }
    }

    /// Advances the state by one frame: `x ← F x`, `P ← F P Fᵀ + Q`.
    pub fn predict(&self, s: &mut BoxState) {
        let h = s.mean[3].abs().max(MIN_NOISE_HEIGHT);
        let (p, v) = (self.std_weight_position * h, self.std_weight_velocity * h);
        let q = [p, p, 1e-2, p, v, v, 1e-5, v];
        for i in 0..4 {
            s.mean[i] += s.mean[i + 4];
        }
        // With P = [[A, B], [C, D]]: F P Fᵀ = [[A + B + C + D, B + D], [C + D, D]], i.e.
        // add the velocity rows to the position rows, then the velocity columns to the
        // position columns.
        let c = &mut s.covariance;
        for j in 0..8 {
            for i in 0..4 {
                c[(i, j)] += c[(i + 4, j)];
            }
        }
        for j in 0..4 {
            for i in 0..8 {
                c[(i, j)] += c[(i, j + 4)];
            }
        }
        for (i, q) in q.iter().enumerate() {
            c[(i, i)] += q * q;
        }
    }

    /// The predicted measurement and its covariance `(H x, H P Hᵀ + R)`.
    pub fn project(&self, s: &BoxState) -> (Vector4<f64>, Matrix4<f64>) {
        let h = s.mean[3].abs().max(MIN_NOISE_HEIGHT);
        let p = self.std_weight_position * h;
        let r = Vector4::new(p * p, p * p, 1e-1 * 1e-1, p * p);
        let innovation_cov = s.covariance.fixed_view::<4, 4>(0, 0) + Matrix4::from_diagonal(&r);
        (s.mean.fixed_rows::<4>(0).into_owned(), innovation_cov)
    }

    /// Corrects the state with a measurement `[cx, cy, a, h]`. Returns `false` (and leaves
    /// the state as it was) when the innovation covariance is not positive definite, which
    /// only non-finite inputs cause.
    pub fn update(&self, s: &mut BoxState, z: &[f64; 4]) -> bool {
        let (projected, innovation_cov) = self.project(s);
        let Some(chol) = innovation_cov.cholesky() else {
            return false;
        };
        // K = P Hᵀ S⁻¹, so Kᵀ = S⁻¹ (H P): one 4×8 solve. H P is the top four rows of P.
        let hp: SMatrix<f64, 4, 8> = s.covariance.fixed_rows::<4>(0).into_owned();
        let kt = chol.solve(&hp);
        let innovation = Vector4::from(*z) - projected;
        let mean = s.mean + kt.tr_mul(&innovation);
        // P − K S Kᵀ = P − K (H P).
        let covariance = s.covariance - kt.tr_mul(&hp);
        if !(mean.iter().all(|x| x.is_finite()) && covariance.iter().all(|x| x.is_finite())) {
            return false;
        }
        s.mean = mean;
        s.covariance = covariance;
        true
    }

    /// Squared Mahalanobis distance between the predicted measurement and `z` (χ² with 4
    /// degrees of freedom: 9.4877 is the 95% gate). `None` when the innovation covariance is
    /// not positive definite.
    pub fn mahalanobis_sq(&self, s: &BoxState, z: &[f64; 4]) -> Option<f64> {
        Some(self.gate(s)?.mahalanobis_sq(z))
    }

    /// The predicted measurement distribution of `s`, factorised once so that it can be
    /// compared with many measurements. `None` when it is not positive definite.
    pub fn gate(&self, s: &BoxState) -> Option<MeasurementGate> {
        let (mean, cov) = self.project(s);
        Some(MeasurementGate { mean, chol: cov.cholesky()? })
    }
}

/// A predicted measurement and the Cholesky factor of its covariance (see
/// [`BoxKalmanFilter::gate`]).
#[derive(Debug, Clone)]
pub struct MeasurementGate {
    mean: Vector4<f64>,
    chol: Cholesky<f64, U4>,
}

impl MeasurementGate {
    /// Squared Mahalanobis distance of a measurement `[cx, cy, a, h]` from the prediction.
    pub fn mahalanobis_sq(&self, z: &[f64; 4]) -> f64 {
        let d = Vector4::from(*z) - self.mean;
        d.dot(&self.chol.solve(&d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn transition() -> StateCovariance {
        let mut f = StateCovariance::identity();
        for i in 0..4 {
            f[(i, i + 4)] = 1.0;
        }
        f
    }

    fn gaussian(rng: &mut StdRng) -> f64 {
        // Box–Muller; rand_distr is not a dependency.
        let (u1, u2): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    #[test]
    fn predict_equals_the_textbook_formula() {
        let kf = BoxKalmanFilter::default();
        let mut rng = StdRng::seed_from_u64(1);
        let a = SMatrix::<f64, 8, 8>::from_fn(|_, _| rng.random_range(-1.0..1.0));
        let mut s = BoxState { mean: StateVector::from_fn(|i, _| i as f64 + 10.0), covariance: a * a.transpose() };
        let before = s.clone();
        kf.predict(&mut s);
        let f = transition();
        let h = before.mean[3];
        let (p, v) = (h / 20.0, h / 160.0);
        let q = StateVector::from([p, p, 1e-2, p, v, v, 1e-5, v].map(|x| x * x));
        let expected = f * before.covariance * f.transpose() + StateCovariance::from_diagonal(&q);
        assert!((s.covariance - expected).abs().max() < 1e-12);
        assert!((s.mean - f * before.mean).abs().max() < 1e-12);
    }

    #[test]
    fn update_equals_the_textbook_formula() {
        let kf = BoxKalmanFilter::default();
        let mut s = kf.initiate(&[100.0, 50.0, 0.4, 40.0]);
        kf.predict(&mut s);
        kf.predict(&mut s);
        let before = s.clone();
        let z = [103.0, 49.0, 0.42, 41.0];
        assert!(kf.update(&mut s, &z));
        let mut hm = SMatrix::<f64, 4, 8>::zeros();
        for i in 0..4 {
            hm[(i, i)] = 1.0;
        }
        let (_, sm) = kf.project(&before);
        let k = before.covariance * hm.transpose() * sm.try_inverse().unwrap();
        let mean = before.mean + k * (Vector4::from(z) - hm * before.mean);
        let cov = before.covariance - k * sm * k.transpose();
        assert!((s.mean - mean).abs().max() < 1e-9);
        assert!((s.covariance - cov).abs().max() < 1e-9);
    }

    #[test]
    fn converges_on_a_constant_velocity_target() {
        let kf = BoxKalmanFilter::default();
        let mut rng = StdRng::seed_from_u64(42);
        let (v, h, a) = ([3.0, -1.5], 60.0, 0.4);
        let truth = |t: f64| [200.0 + v[0] * t, 300.0 + v[1] * t, a, h];
        let noisy = |t: f64, rng: &mut StdRng| {
            let z = truth(t);
            [
                z[0] + gaussian(rng) * 1.5,
                z[1] + gaussian(rng) * 1.5,
                z[2] + gaussian(rng) * 0.01,
                z[3] + gaussian(rng) * 1.5,
            ]
        };
        let mut s = kf.initiate(&noisy(0.0, &mut rng));
        for t in 1..=200 {
            kf.predict(&mut s);
            assert!(kf.update(&mut s, &noisy(t as f64, &mut rng)));
        }
        let z = truth(200.0);
        assert!((s.mean[0] - z[0]).abs() < 1.5 && (s.mean[1] - z[1]).abs() < 1.5, "{:?} vs {z:?}", s.xyah());
        assert!((s.mean[3] - h).abs() < 1.5);
        assert!(
            (s.mean[4] - v[0]).abs() < 0.3 && (s.mean[5] - v[1]).abs() < 0.3,
            "velocity {:?}",
            (s.mean[4], s.mean[5])
        );
        // The covariance stays a covariance.
        assert!((s.covariance - s.covariance.transpose()).abs().max() < 1e-9);
        assert!(s.covariance.cholesky().is_some());
        // Coasting follows the estimated velocity.
        let mut coast = s.clone();
        for _ in 0..10 {
            kf.predict(&mut coast);
        }
        assert!((coast.mean[0] - truth(210.0)[0]).abs() < 5.0);
        assert!(kf.mahalanobis_sq(&s, &z).unwrap() < 9.4877);
        assert!(kf.mahalanobis_sq(&s, &[z[0] + 50.0, z[1], z[2], z[3]]).unwrap() > 9.4877);
    }

    #[test]
    fn rejects_non_finite_measurements() {
        let kf = BoxKalmanFilter::default();
        let mut s = kf.initiate(&[10.0, 10.0, 0.5, 20.0]);
        let before = s.clone();
        assert!(!kf.update(&mut s, &[f64::NAN, 10.0, 0.5, 20.0]));
        assert_eq!(s, before);
    }

    #[test]
    fn serde_round_trip_is_exact() {
        let kf = BoxKalmanFilter::default();
        let mut s = kf.initiate(&[10.1, 10.3, 0.37, 21.7]);
        kf.predict(&mut s);
        assert!(kf.update(&mut s, &[11.3, 10.9, 0.38, 21.1]));
        let bytes = rmp_serde::to_vec(&s).unwrap();
        let back: BoxState = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, s);
    }
}
