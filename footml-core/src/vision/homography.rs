//! Plane-to-plane homographies from point correspondences: the normalised direct linear
//! transform (DLT) and RANSAC around it.
//!
//! * [`fit`]: least-squares DLT over all correspondences, with Hartley's normalisation (each
//!   point set moved to its centroid and scaled to a mean distance of √2), which is what makes
//!   the DLT numerically sound with pixel coordinates in the thousands (Hartley & Zisserman,
//!   *Multiple View Geometry*, 2nd ed., algorithm 4.2). The null vector comes from an SVD.
//! * [`ransac`]: minimal 4-point samples drawn by a seeded generator (the same input always
//!   gives the same answer), hypotheses scored by inlier count (ties: smaller summed error),
//!   the sample count adapted to the inlier ratio found so far, and the best consensus refitted
//!   with [`fit`] until its inlier set stops changing.
//!
//! Errors are measured where the homography maps to (`dst`): for image → pitch calibration,
//! in metres on the pitch.

use nalgebra::{DMatrix, Matrix3, Vector3};

use crate::vision::particle::SplitMix64;

/// Why no homography could be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HomographyError {
    /// Fewer than four correspondences (a homography has eight degrees of freedom).
    #[error("a homography needs at least 4 point correspondences, found {found}")]
    TooFewPoints {
        /// How many were given (or, after RANSAC, how many agreed).
        found: usize,
    },
    /// The source and destination lists differ in length.
    #[error("expected as many destination points as source points, found {src} and {dst}")]
    LengthMismatch {
        /// Source points.
        src: usize,
        /// Destination points.
        dst: usize,
    },
    /// A coordinate is NaN or infinite.
    #[error("point {index} has a coordinate that is not a finite number")]
    NotFinite {
        /// Index of the correspondence.
        index: usize,
    },
    /// The points do not determine a unique homography: coincident points, all (or, of four,
    /// three) on one line, or a configuration that maps the plane onto a line.
    #[error("degenerate correspondences: {0}")]
    Degenerate(String),
}

/// Settings of [`ransac`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RansacParams {
    /// A correspondence is an inlier when `H·src` lands within this distance of `dst`
    /// (in destination units).
    pub threshold: f64,
    /// Upper bound on the number of 4-point samples.
    pub max_iterations: u32,
    /// Stop once a sample free of outliers has been drawn with this probability, given the
    /// best inlier ratio so far.
    pub confidence: f64,
    /// Seed of the sample generator.
    pub seed: u64,
}

impl Default for RansacParams {
    fn default() -> Self {
        RansacParams { threshold: 1.0, max_iterations: 1000, confidence: 0.999, seed: 0x5EED_CA1B }
    }
}

/// The outcome of [`ransac`].
#[derive(Debug, Clone, PartialEq)]
pub struct RansacFit {
    /// The homography refitted on the inliers.
    pub h: Matrix3<f64>,
    /// Which correspondences agree with it.
    pub inliers: Vec<bool>,
    /// Root-mean-square transfer error of the inliers (destination units).
    pub rms_error: f64,
}

impl RansacFit {
    /// Number of inliers.
    pub fn inlier_count(&self) -> usize {
        self.inliers.iter().filter(|&&i| i).count()
    }
}

/// Maps `p` through `h`; `None` when it lands on the line at infinity.
pub fn transfer(h: &Matrix3<f64>, p: [f64; 2]) -> Option<[f64; 2]> {
    let v = h * Vector3::new(p[0], p[1], 1.0);
    (v.z.abs() > 1e-12).then(|| [v.x / v.z, v.y / v.z])
}

/// A row-major array, as [`crate::FrameRecord::homography`] stores it.
pub fn to_rows(h: &Matrix3<f64>) -> [[f64; 3]; 3] {
    [[h[(0, 0)], h[(0, 1)], h[(0, 2)]], [h[(1, 0)], h[(1, 1)], h[(1, 2)]], [h[(2, 0)], h[(2, 1)], h[(2, 2)]]]
}

/// The matrix of a row-major array.
pub fn from_rows(m: &[[f64; 3]; 3]) -> Matrix3<f64> {
    Matrix3::from_fn(|r, c| m[r][c])
}

/// Hartley normalisation of a point set: the similarity that moves its centroid to the origin
/// and its mean distance from it to √2.
fn normalisation(points: &[[f64; 2]], which: &str) -> Result<Matrix3<f64>, HomographyError> {
    let n = points.len() as f64;
    let (cx, cy) = points.iter().fold((0.0, 0.0), |(x, y), p| (x + p[0] / n, y + p[1] / n));
    let mean_dist = points.iter().map(|p| (p[0] - cx).hypot(p[1] - cy)).sum::<f64>() / n;
    let spread = points.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs())).max(1.0);
    if mean_dist <= 1e-12 * spread {
        return Err(HomographyError::Degenerate(format!("all {which} points coincide")));
    }
    // Collinear: the smaller principal axis of the centred points has no extent.
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for p in points {
        let (dx, dy) = (p[0] - cx, p[1] - cy);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    let half_trace = (sxx + syy) / 2.0;
    let minor = half_trace - (((sxx - syy) / 2.0).powi(2) + sxy * sxy).sqrt();
    if minor <= 1e-12 * half_trace {
        return Err(HomographyError::Degenerate(format!("all {which} points lie on one line")));
    }
    let s = std::f64::consts::SQRT_2 / mean_dist;
    Ok(Matrix3::new(s, 0.0, -s * cx, 0.0, s, -s * cy, 0.0, 0.0, 1.0))
}

fn check_input(src: &[[f64; 2]], dst: &[[f64; 2]]) -> Result<(), HomographyError> {
    if src.len() != dst.len() {
        return Err(HomographyError::LengthMismatch { src: src.len(), dst: dst.len() });
    }
    if src.len() < 4 {
        return Err(HomographyError::TooFewPoints { found: src.len() });
    }
    if let Some(index) = src.iter().zip(dst).position(|(s, d)| !s.iter().chain(d).all(|v| v.is_finite())) {
        return Err(HomographyError::NotFinite { index });
    }
    Ok(())
}

/// The homography `H` with `dst ~ H·src`, least squares over all correspondences (normalised
/// DLT), scaled so that `H[2][2] = 1` where possible.
pub fn fit(src: &[[f64; 2]], dst: &[[f64; 2]]) -> Result<Matrix3<f64>, HomographyError> {
    check_input(src, dst)?;
    let ts = normalisation(src, "source")?;
    let td = normalisation(dst, "destination")?;
    let n = src.len();
    // Two rows per correspondence; at least 9 rows so that the SVD yields all nine singular
    // values (four points give eight equations: the ninth row stays zero).
    let mut a = DMatrix::<f64>::zeros((2 * n).max(9), 9);
    for (i, (s, d)) in src.iter().zip(dst).enumerate() {
        let p = ts * Vector3::new(s[0], s[1], 1.0);
        let q = td * Vector3::new(d[0], d[1], 1.0);
        let (x, y, u, v) = (p.x, p.y, q.x, q.y);
        let r = 2 * i;
        for (c, val) in [-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u].into_iter().enumerate() {
            a[(r, c)] = val;
        }
        for (c, val) in [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v].into_iter().enumerate() {
            a[(r + 1, c)] = val;
        }
    }
    let svd = a.svd(false, true);
    let v_t = svd.v_t.as_ref().expect("V requested");
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&i, &j| svd.singular_values[j].total_cmp(&svd.singular_values[i]));
    let (largest, second_smallest) = (svd.singular_values[order[0]], svd.singular_values[order[7]]);
    // A unique solution needs a one-dimensional null space: the second-smallest singular value
    // must stay clear of zero (it vanishes when, of four points, three are collinear).
    if second_smallest <= 1e-9 * largest {
        return Err(HomographyError::Degenerate(
            "the points do not determine a unique homography (three of four on one line?)".into(),
        ));
    }
    let h = v_t.row(order[8]);
    let hn = Matrix3::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]);
    let td_inv = td.try_inverse().expect("a similarity with a non-zero scale is invertible");
    let mut hm = td_inv * hn * ts;
    let scale = if hm[(2, 2)].abs() > 1e-12 { hm[(2, 2)] } else { hm.norm() };
    hm /= scale;
    // A singular H maps the plane onto a line or a point: not a calibration.
    let det = hm.determinant();
    if !det.is_finite() || det.abs() <= 1e-12 * hm.norm().powi(3) {
        return Err(HomographyError::Degenerate("the fitted homography is singular".into()));
    }
    Ok(hm)
}

/// Squared transfer error of one correspondence (infinite when `src` maps to infinity).
fn sq_error(h: &Matrix3<f64>, s: [f64; 2], d: [f64; 2]) -> f64 {
    transfer(h, s).map_or(f64::INFINITY, |p| (p[0] - d[0]).powi(2) + (p[1] - d[1]).powi(2))
}

/// Twice the signed area of the triangle `a b c`, relative to the squared size of its longest
/// side (0 for collinear points, whatever their scale).
fn triangle_flatness(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    let area2 = ((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])).abs();
    let side2 =
        [(a, b), (b, c), (c, a)].iter().map(|(p, q)| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).fold(0.0, f64::max);
    if side2 == 0.0 { 0.0 } else { area2 / side2 }
}

/// Whether three of the four points lie (nearly) on one line: such a sample cannot define a
/// homography, so it is skipped without fitting.
fn sample_degenerate(points: &[[f64; 2]; 4]) -> bool {
    const MIN_FLATNESS: f64 = 1e-3;
    (0..4).any(|skip| {
        let t: Vec<[f64; 2]> = (0..4).filter(|&i| i != skip).map(|i| points[i]).collect();
        triangle_flatness(t[0], t[1], t[2]) < MIN_FLATNESS
    })
}

/// Robust fit: RANSAC over minimal samples, then a least-squares refit on the consensus.
/// With exactly four correspondences there is nothing to vote on and this is [`fit`].
pub fn ransac(src: &[[f64; 2]], dst: &[[f64; 2]], params: &RansacParams) -> Result<RansacFit, HomographyError> {
    check_input(src, dst)?;
    let n = src.len();
    let thr2 = params.threshold * params.threshold;
    let score = |h: &Matrix3<f64>| -> (Vec<bool>, usize, f64) {
        let errs: Vec<f64> = src.iter().zip(dst).map(|(s, d)| sq_error(h, *s, *d)).collect();
        let inliers: Vec<bool> = errs.iter().map(|&e| e <= thr2).collect();
        let count = inliers.iter().filter(|&&i| i).count();
        let sum = errs.iter().zip(&inliers).filter(|(_, i)| **i).map(|(e, _)| e).sum();
        (inliers, count, sum)
    };
    let finish = |h: Matrix3<f64>, inliers: Vec<bool>| {
        let (count, sum) = src
            .iter()
            .zip(dst)
            .zip(&inliers)
            .filter(|(_, i)| **i)
            .fold((0usize, 0.0), |(c, s), ((a, b), _)| (c + 1, s + sq_error(&h, *a, *b)));
        RansacFit { h, inliers, rms_error: (sum / count.max(1) as f64).sqrt() }
    };
    if n == 4 {
        let h = fit(src, dst)?;
        return Ok(finish(h, vec![true; 4]));
    }
    let mut rng = SplitMix64(params.seed);
    let mut best: Option<(Matrix3<f64>, Vec<bool>, usize, f64)> = None;
    let mut needed = params.max_iterations as f64;
    let mut drawn = 0u32;
    while drawn < params.max_iterations && (drawn as f64) < needed {
        drawn += 1;
        let mut idx = [0usize; 4];
        let mut k = 0;
        while k < 4 {
            let i = (rng.next_u64() % n as u64) as usize;
            if !idx[..k].contains(&i) {
                idx[k] = i;
                k += 1;
            }
        }
        let s = idx.map(|i| src[i]);
        let d = idx.map(|i| dst[i]);
        if sample_degenerate(&s) || sample_degenerate(&d) {
            continue;
        }
        let Ok(h) = fit(&s, &d) else { continue };
        let (inliers, count, sum) = score(&h);
        let better = match &best {
            None => true,
            Some((_, _, bc, bs)) => count > *bc || (count == *bc && sum < *bs),
        };
        if better {
            best = Some((h, inliers, count, sum));
            // Samples needed to draw one all-inlier sample with the wanted confidence.
            let w = count as f64 / n as f64;
            let p_good = w.powi(4);
            needed = if p_good >= 1.0 {
                0.0
            } else if p_good <= 0.0 {
                f64::INFINITY
            } else {
                (1.0 - params.confidence).ln() / (1.0 - p_good).ln()
            };
        }
    }
    let Some((_, mut inliers, count, _)) = best else {
        return Err(HomographyError::Degenerate(format!(
            "no 4 of the {n} correspondences are in general position (three or more on one line in every sample)"
        )));
    };
    if count < 4 {
        return Err(HomographyError::TooFewPoints { found: count });
    }
    // Refit on the consensus until it is stable (a refit may gain or lose borderline points).
    let mut h = Matrix3::identity();
    for _ in 0..5 {
        let (s, d): (Vec<[f64; 2]>, Vec<[f64; 2]>) =
            src.iter().zip(dst).zip(&inliers).filter(|(_, i)| **i).map(|((a, b), _)| (*a, *b)).unzip();
        h = fit(&s, &d)?;
        let (next, count, _) = score(&h);
        if next == inliers || count < 4 {
            break;
        }
        inliers = next;
    }
    Ok(finish(h, inliers))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A perspective map like a broadcast camera's (image → pitch).
    fn h_true() -> Matrix3<f64> {
        Matrix3::new(0.08, 0.01, -60.0, 0.002, -0.12, 45.0, 0.00001, 0.0009, 1.0)
    }

    fn grid() -> Vec<[f64; 2]> {
        let mut v = Vec::new();
        for i in 0..6 {
            for j in 0..4 {
                v.push([100.0 + 300.0 * i as f64 + 7.0 * j as f64, 200.0 + 220.0 * j as f64]);
            }
        }
        v
    }

    fn map_all(h: &Matrix3<f64>, pts: &[[f64; 2]]) -> Vec<[f64; 2]> {
        pts.iter().map(|p| transfer(h, *p).unwrap()).collect()
    }

    fn assert_same_h(a: &Matrix3<f64>, b: &Matrix3<f64>, tol: f64) {
        let (a, b) = (a / a[(2, 2)], b / b[(2, 2)]);
        for p in grid() {
            let (pa, pb) = (transfer(&a, p).unwrap(), transfer(&b, p).unwrap());
            assert!((pa[0] - pb[0]).hypot(pa[1] - pb[1]) < tol, "{p:?}: {pa:?} vs {pb:?}");
        }
    }

    #[test]
    fn four_points_give_the_exact_homography() {
        let src = [[100.0, 200.0], [1800.0, 220.0], [1700.0, 1000.0], [150.0, 950.0]];
        let dst = map_all(&h_true(), &src);
        let h = fit(&src, &dst).unwrap();
        assert!((h - h_true()).norm() < 1e-9 * h_true().norm(), "{h}");
        // The unit square onto a known quadrilateral: H = [[2,0,1],[0,3,2],[0,0,1]] (affine).
        let sq = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        let h = fit(&sq, &[[1.0, 2.0], [3.0, 2.0], [3.0, 5.0], [1.0, 5.0]]).unwrap();
        let want = Matrix3::new(2.0, 0.0, 1.0, 0.0, 3.0, 2.0, 0.0, 0.0, 1.0);
        assert!((h - want).norm() < 1e-12, "{h}");
    }

    #[test]
    fn round_trip_through_a_known_homography_and_its_inverse() {
        let src = grid();
        let dst = map_all(&h_true(), &src);
        let h = fit(&src, &dst).unwrap();
        assert_same_h(&h, &h_true(), 1e-9);
        let back = fit(&dst, &src).unwrap();
        assert_same_h(&(back * h), &Matrix3::identity(), 1e-9);
    }

    #[test]
    fn ransac_recovers_the_homography_from_noise_and_outliers() {
        let src = grid();
        let mut dst = map_all(&h_true(), &src);
        // Deterministic ±5 cm noise on every point, and 6 of 24 points thrown metres away.
        let mut rng = SplitMix64(7);
        for d in dst.iter_mut() {
            d[0] += (rng.uniform() - 0.5) * 0.1;
            d[1] += (rng.uniform() - 0.5) * 0.1;
        }
        let outliers = [1, 5, 9, 14, 18, 23];
        for (k, &i) in outliers.iter().enumerate() {
            dst[i][0] += 8.0 + k as f64;
            dst[i][1] -= 5.0;
        }
        let params = RansacParams { threshold: 0.5, ..Default::default() };
        let fit1 = ransac(&src, &dst, &params).unwrap();
        let want: Vec<bool> = (0..24).map(|i| !outliers.contains(&i)).collect();
        assert_eq!(fit1.inliers, want);
        assert!(fit1.rms_error < 0.05, "{}", fit1.rms_error);
        assert_same_h(&fit1.h, &h_true(), 0.1);
        // Same seed, same answer.
        assert_eq!(ransac(&src, &dst, &params).unwrap(), fit1);
        // Plain least squares is dragged off by the outliers.
        let ls = fit(&src, &dst).unwrap();
        let worst = src
            .iter()
            .map(|p| transfer(&ls, *p).unwrap())
            .zip(map_all(&h_true(), &src))
            .fold(0.0f64, |m, (a, b)| m.max((a[0] - b[0]).hypot(a[1] - b[1])));
        assert!(worst > 1.0, "{worst}");
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let three = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
        assert_eq!(fit(&three, &three), Err(HomographyError::TooFewPoints { found: 3 }));
        assert_eq!(ransac(&three, &three, &RansacParams::default()), Err(HomographyError::TooFewPoints { found: 3 }));
        let four = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        assert_eq!(fit(&four, &three), Err(HomographyError::LengthMismatch { src: 4, dst: 3 }));
        let mut nan = four;
        nan[2][1] = f64::NAN;
        assert_eq!(fit(&nan, &four), Err(HomographyError::NotFinite { index: 2 }));
        // All on one line.
        let line = [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [5.0, 5.0], [9.0, 9.0]];
        assert!(matches!(fit(&line, &four.iter().chain(&four).copied().take(5).collect::<Vec<_>>()),
            Err(HomographyError::Degenerate(m)) if m.contains("source points lie on one line")));
        assert!(matches!(ransac(&four, &[[3.0, 3.0]; 4], &RansacParams::default()),
            Err(HomographyError::Degenerate(m)) if m.contains("coincide")));
        // Three of four on one line: no unique homography.
        let three_on_a_line = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0]];
        assert!(matches!(fit(&three_on_a_line, &four), Err(HomographyError::Degenerate(_))));
        // Many points, but every 4-sample has three on one line (nine on a line, one off it).
        let mut fan: Vec<[f64; 2]> = (0..9).map(|i| [100.0 * i as f64, 50.0]).collect();
        fan.push([300.0, 400.0]);
        let r = ransac(&fan, &map_all(&h_true(), &fan), &RansacParams::default());
        assert!(matches!(&r, Err(HomographyError::Degenerate(m)) if m.contains("general position")), "{r:?}");
    }

    #[test]
    fn rows_round_trip() {
        let h = h_true();
        assert_eq!(from_rows(&to_rows(&h)), h);
        assert_eq!(to_rows(&h)[0], [0.08, 0.01, -60.0]);
    }
}
