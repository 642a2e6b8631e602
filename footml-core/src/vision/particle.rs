//! A bootstrap particle filter for a point (a ball centre), deterministic and resumable.
//!
//! Each particle is `[x, y, vx, vy]` (pixels, pixels per frame) moved by the same
//! constant-velocity model with random acceleration as [`super::point_kalman`], weighted by
//! an isotropic Gaussian likelihood of the measurement, and resampled (systematic) when the
//! effective sample size falls below half the particles. The random numbers come from a
//! SplitMix64 generator whose 64-bit state is part of the [`ParticleCloud`], so the same
//! input gives the same output bit for bit and a cloud saved and restored at any frame goes
//! on exactly as the uninterrupted one.

use serde::{Deserialize, Serialize};

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast generator whose whole state is one
/// `u64`, so it serialises trivially.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller; one value per call, the second is dropped for
    /// simplicity of the state).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The particles, their weights and the generator: everything that carries over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticleCloud {
    /// `[x, y, vx, vy]` per particle.
    pub particles: Vec<[f64; 4]>,
    /// Normalised weights, one per particle.
    pub weights: Vec<f64>,
    /// The generator's state.
    pub rng: SplitMix64,
}

/// The filter's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ParticleFilter {
    /// Number of particles.
    pub particles: usize,
    /// Standard deviation of the acceleration per frame (pixels / frame²).
    pub accel_std: f64,
    /// Standard deviation of the velocity of a new cloud (pixels / frame).
    pub initial_velocity_std: f64,
}

impl Default for ParticleFilter {
    fn default() -> Self {
        ParticleFilter { particles: 500, accel_std: 1.0, initial_velocity_std: 8.0 }
    }
}

impl ParticleFilter {
    /// A new cloud around `z` (position spread `meas_std`) moving at `velocity` (spread
    /// `velocity_std`), with generator seed `seed`.
    pub fn initiate(
        &self,
        z: [f64; 2],
        velocity: [f64; 2],
        meas_std: f64,
        velocity_std: f64,
        seed: u64,
    ) -> ParticleCloud {
        let mut rng = SplitMix64(seed);
        let n = self.particles.max(1);
        let particles = (0..n)
            .map(|_| {
                [
                    z[0] + meas_std * rng.normal(),
                    z[1] + meas_std * rng.normal(),
                    velocity[0] + velocity_std * rng.normal(),
                    velocity[1] + velocity_std * rng.normal(),
                ]
            })
            .collect();
        ParticleCloud { particles, weights: vec![1.0 / n as f64; n], rng }
    }

    /// Moves every particle by one frame with a random acceleration.
    pub fn predict(&self, c: &mut ParticleCloud) {
        let q = self.accel_std;
        for p in &mut c.particles {
            let (ax, ay) = (q * c.rng.normal(), q * c.rng.normal());
            p[0] += p[2] + 0.5 * ax;
            p[1] += p[3] + 0.5 * ay;
            p[2] += ax;
            p[3] += ay;
        }
    }

    /// Weighted mean and covariance of the particles' positions:
    /// `([mx, my], [[sxx, sxy], [sxy, syy]])`.
    pub fn position_moments(&self, c: &ParticleCloud) -> ([f64; 2], [[f64; 2]; 2]) {
        let (mut mx, mut my) = (0.0, 0.0);
        for (p, w) in c.particles.iter().zip(&c.weights) {
            mx += w * p[0];
            my += w * p[1];
        }
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        for (p, w) in c.particles.iter().zip(&c.weights) {
            let (dx, dy) = (p[0] - mx, p[1] - my);
            sxx += w * dx * dx;
            sxy += w * dx * dy;
            syy += w * dy * dy;
        }
        ([mx, my], [[sxx, sxy], [sxy, syy]])
    }

    /// The weighted mean state `[x, y, vx, vy]`.
    pub fn mean(&self, c: &ParticleCloud) -> [f64; 4] {
        let mut m = [0.0; 4];
        for (p, w) in c.particles.iter().zip(&c.weights) {
            for i in 0..4 {
                m[i] += w * p[i];
            }
        }
        m
    }

    /// Squared Mahalanobis distance of `z` from the predictive distribution of the
    /// measurement, approximated as a Gaussian: the cloud's position moments plus the
    /// measurement noise. This is the likelihood gate: the predictive likelihood of `z`
    /// falls monotonically with it.
    pub fn mahalanobis_sq(&self, c: &ParticleCloud, z: [f64; 2], meas_std: f64) -> f64 {
        let (m, s) = self.position_moments(c);
        let r = meas_std * meas_std;
        let (a, b, d) = (s[0][0] + r, s[0][1], s[1][1] + r);
        let det = a * d - b * b;
        if det.is_nan() || det <= 0.0 {
            return f64::INFINITY;
        }
        let (dx, dy) = (z[0] - m[0], z[1] - m[1]);
        (d * dx * dx - 2.0 * b * dx * dy + a * dy * dy) / det
    }

    /// Weights the particles by the likelihood of measurement `z` and resamples when the
    /// effective sample size drops below half. If every weight underflows (a measurement
    /// far outside the cloud), the cloud is re-centred on `z` keeping its velocities.
    pub fn update(&self, c: &mut ParticleCloud, z: [f64; 2], meas_std: f64) {
        let inv = 1.0 / (2.0 * meas_std * meas_std);
        // Log-weights relative to the best particle, so that nothing underflows needlessly.
        let logs: Vec<f64> = c
            .particles
            .iter()
            .zip(&c.weights)
            .map(|(p, w)| w.ln() - ((p[0] - z[0]).powi(2) + (p[1] - z[1]).powi(2)) * inv)
            .collect();
        let best = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !best.is_finite() {
            for p in &mut c.particles {
                p[0] = z[0] + meas_std * c.rng.normal();
                p[1] = z[1] + meas_std * c.rng.normal();
            }
            let n = c.particles.len();
            c.weights = vec![1.0 / n as f64; n];
            return;
        }
        let mut sum = 0.0;
        for (w, l) in c.weights.iter_mut().zip(&logs) {
            *w = (l - best).exp();
            sum += *w;
        }
        let mut sq = 0.0;
        for w in &mut c.weights {
            *w /= sum;
            sq += *w * *w;
        }
        if 1.0 / sq < 0.5 * c.particles.len() as f64 {
            self.resample(c);
        }
    }

    /// Systematic resampling: one uniform draw, `n` evenly spaced pointers.
    pub fn resample(&self, c: &mut ParticleCloud) {
        let n = c.particles.len();
        if n == 0 {
            return;
        }
        let start = c.rng.uniform() / n as f64;
        let mut out = Vec::with_capacity(n);
        let (mut i, mut cum) = (0, c.weights[0]);
        for k in 0..n {
            let u = start + k as f64 / n as f64;
            while u > cum && i + 1 < n {
                i += 1;
                cum += c.weights[i];
            }
            out.push(c.particles[i]);
        }
        c.particles = out;
        c.weights = vec![1.0 / n as f64; n];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(seed: u64) -> (ParticleCloud, Vec<[f64; 4]>) {
        let pf = ParticleFilter::default();
        let mut c = pf.initiate([100.0, 100.0], [0.0, 0.0], 1.0, 8.0, seed);
        let mut means = Vec::new();
        let mut noise = SplitMix64(99);
        for t in 1..50 {
            pf.predict(&mut c);
            let z = [100.0 + 2.5 * t as f64 + 0.5 * noise.normal(), 100.0 - 1.0 * t as f64 + 0.5 * noise.normal()];
            pf.update(&mut c, z, 1.0);
            means.push(pf.mean(&c));
        }
        (c, means)
    }

    #[test]
    fn converges_on_a_constant_velocity_point() {
        let (_, means) = track(7);
        let m = means.last().unwrap();
        assert!((m[0] - (100.0 + 2.5 * 49.0)).abs() < 1.5, "x {}", m[0]);
        assert!((m[1] - (100.0 - 49.0)).abs() < 1.5, "y {}", m[1]);
        assert!((m[2] - 2.5).abs() < 0.6, "vx {}", m[2]);
        assert!((m[3] + 1.0).abs() < 0.6, "vy {}", m[3]);
    }

    #[test]
    fn same_seed_same_result_other_seed_differs() {
        let (a, ma) = track(7);
        let (b, mb) = track(7);
        assert_eq!(a, b);
        assert_eq!(ma, mb);
        let (c, _) = track(8);
        assert_ne!(a, c);
    }

    #[test]
    fn gate_rejects_a_far_outlier() {
        let (mut c, _) = track(3);
        let pf = ParticleFilter::default();
        pf.predict(&mut c);
        let m = pf.mean(&c);
        assert!(pf.mahalanobis_sq(&c, [m[0] + 0.5, m[1] - 0.5], 1.0) < 13.8);
        assert!(pf.mahalanobis_sq(&c, [m[0] + 80.0, m[1]], 1.0) > 13.8);
    }

    #[test]
    fn uniform_and_normal_are_sane() {
        let mut r = SplitMix64(1);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean} var {var}");
        assert!((0..1000).map(|_| r.uniform()).all(|u| (0.0..1.0).contains(&u)));
    }
}
