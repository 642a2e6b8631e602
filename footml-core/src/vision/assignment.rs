//! Optimal linear assignment on a rectangular cost matrix, with a cost threshold.
//!
//! Tracking associates tracks (rows) with detections (columns). A greedy "best pair first"
//! association can lose a good match to a slightly better one and then be forced into a bad
//! one; the optimal assignment cannot. The solver is the Hungarian algorithm with potentials
//! (Kuhn–Munkres as shortest augmenting paths, as in Jonker–Volgenant), `O(n² m)` for
//! `n ≤ m`, which on tracking matrices (mostly one clear candidate per row) runs in close to
//! `O(n m)`.
//!
//! # The threshold
//!
//! A pair may only be matched when its cost is finite and at most `threshold`. Among all
//! such partial matchings the solver returns one that maximises `Σ (threshold − cost)` over
//! the matched pairs: it is what `lap.lapjv(cost, extend_cost=True, cost_limit=threshold)`
//! (the call ByteTrack uses) computes, where leaving a row or a column unmatched costs
//! `threshold / 2`. It is solved exactly by clipping every cost at `threshold`, solving the
//! full rectangular problem and dropping the pairs at the clip value: a full matching's
//! clipped cost is `n · threshold − Σ (threshold − cost)` over its admissible pairs.
//!
//! With `threshold = +∞` every finite pair is admissible and the result is a minimum-cost
//! matching of `min(rows, cols)` pairs (as many as the finite entries allow).

use nalgebra::DMatrix;

/// What [`linear_assignment`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// Matched `(row, column)` pairs, sorted by row.
    pub matches: Vec<(usize, usize)>,
    /// Rows left unmatched, ascending.
    pub unmatched_rows: Vec<usize>,
    /// Columns left unmatched, ascending.
    pub unmatched_cols: Vec<usize>,
}

impl Assignment {
    /// Sum of the costs of the matched pairs.
    pub fn total_cost(&self, cost: &DMatrix<f64>) -> f64 {
        self.matches.iter().map(|&(i, j)| cost[(i, j)]).sum()
    }
}

/// Solves [`linear_assignment`] problems, keeping its work buffers between calls so that a
/// tracker solving a few small problems per frame does not allocate for each.
#[derive(Debug, Clone, Default)]
pub struct LinearAssignment {
    rows: Vec<usize>,
    cols: Vec<usize>,
    col_seen: Vec<bool>,
    /// Reduced problem, row-major, `n × m` with `n ≤ m`.
    a: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    /// `p[j]`: the row (from 1) assigned to column `j` (from 1); `p[0]` is the row being added.
    p: Vec<usize>,
    way: Vec<usize>,
    minv: Vec<f64>,
    used: Vec<bool>,
}

fn admissible(c: f64, threshold: f64) -> bool {
    c.is_finite() && c <= threshold
}

impl LinearAssignment {
    /// A solver with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Solves one problem: see [`linear_assignment`].
    pub fn solve(&mut self, cost: &DMatrix<f64>, threshold: f64) -> Assignment {
        let (nrows, ncols) = cost.shape();
        // Rows and columns without any admissible entry can never be matched; leaving them
        // out shrinks the problem (tracks far from every detection are common).
        self.rows.clear();
        self.cols.clear();
        self.col_seen.clear();
        self.col_seen.resize(ncols, false);
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for i in 0..nrows {
            let mut any = false;
            for j in 0..ncols {
                let c = cost[(i, j)];
                if admissible(c, threshold) {
                    any = true;
                    self.col_seen[j] = true;
                    lo = lo.min(c);
                    hi = hi.max(c);
                }
            }
            if any {
                self.rows.push(i);
            }
        }
        self.cols.extend((0..ncols).filter(|&j| self.col_seen[j]));

        let mut row_match = vec![usize::MAX; nrows];
        if !self.rows.is_empty() {
            let transpose = self.rows.len() > self.cols.len();
            let (n, m) =
                if transpose { (self.cols.len(), self.rows.len()) } else { (self.rows.len(), self.cols.len()) };
            // The value given to inadmissible entries. With a finite threshold it is the
            // threshold itself (see the module docs). With an infinite one it must exceed the
            // cost of any matching that avoids one more inadmissible entry.
            let clip = if threshold.is_finite() { threshold } else { hi + (hi - lo) * n as f64 + 1.0 };
            self.a.clear();
            self.a.reserve(n * m);
            for r in 0..n {
                for c in 0..m {
                    let (i, j) = if transpose { (self.rows[c], self.cols[r]) } else { (self.rows[r], self.cols[c]) };
                    let x = cost[(i, j)];
                    self.a.push(if admissible(x, threshold) { x } else { clip });
                }
            }
            self.hungarian(n, m);
            for j in 1..=m {
                let r = self.p[j];
                if r == 0 {
                    continue;
                }
                let (i, jj) =
                    if transpose { (self.rows[j - 1], self.cols[r - 1]) } else { (self.rows[r - 1], self.cols[j - 1]) };
                if admissible(cost[(i, jj)], threshold) {
                    row_match[i] = jj;
                }
            }
        }

        let mut out = Assignment::default();
        let mut col_matched = vec![false; ncols];
        for (i, &j) in row_match.iter().enumerate() {
            if j == usize::MAX {
                out.unmatched_rows.push(i);
            } else {
                out.matches.push((i, j));
                col_matched[j] = true;
            }
        }
        out.unmatched_cols.extend((0..ncols).filter(|&j| !col_matched[j]));
        out
    }

    /// Minimum-cost assignment of every one of `n` rows to distinct columns of `self.a`
    /// (`n × m`, `n ≤ m`, all finite); leaves the column → row map (both from 1) in `self.p`.
    fn hungarian(&mut self, n: usize, m: usize) {
        let a = &self.a;
        self.u.clear();
        self.u.resize(n + 1, 0.0);
        self.v.clear();
        self.v.resize(m + 1, 0.0);
        self.p.clear();
        self.p.resize(m + 1, 0);
        self.way.clear();
        self.way.resize(m + 1, 0);
        let (u, v, p, way) = (&mut self.u, &mut self.v, &mut self.p, &mut self.way);
        for i in 1..=n {
            // Grow a shortest-path tree from row i until it reaches a free column, then
            // augment along it. Column 0 is the virtual root holding row i.
            p[0] = i;
            let mut j0 = 0;
            self.minv.clear();
            self.minv.resize(m + 1, f64::INFINITY);
            self.used.clear();
            self.used.resize(m + 1, false);
            loop {
                self.used[j0] = true;
                let i0 = p[j0];
                let row = &a[(i0 - 1) * m..i0 * m];
                let mut delta = f64::INFINITY;
                let mut j1 = 0;
                for j in 1..=m {
                    if !self.used[j] {
                        let cur = row[j - 1] - u[i0] - v[j];
                        if cur < self.minv[j] {
                            self.minv[j] = cur;
                            way[j] = j0;
                        }
                        if self.minv[j] < delta {
                            delta = self.minv[j];
                            j1 = j;
                        }
                    }
                }
                for j in 0..=m {
                    if self.used[j] {
                        u[p[j]] += delta;
                        v[j] -= delta;
                    } else {
                        self.minv[j] -= delta;
                    }
                }
                j0 = j1;
                if p[j0] == 0 {
                    break;
                }
            }
            loop {
                let j1 = way[j0];
                p[j0] = p[j1];
                j0 = j1;
                if j0 == 0 {
                    break;
                }
            }
        }
    }
}

/// Optimal assignment of rows to columns of `cost`: pairs are matched only when their cost is
/// finite and at most `threshold`, and the matching maximises `Σ (threshold − cost)` over the
/// matched pairs (see the [module docs](self)). `f64::INFINITY` as threshold asks for a
/// full minimum-cost matching. NaN and infinite costs are never matched.
///
/// Deterministic: the same matrix always gives the same result.
///
/// ```
/// use footml::vision::linear_assignment;
/// use nalgebra::DMatrix;
/// // Greedy would take (0, 0) at cost 0.1 and leave row 1 with 0.9;
/// // the optimum is (0, 1) + (1, 0) = 0.4.
/// let cost = DMatrix::from_row_slice(2, 2, &[0.1, 0.2,
///                                            0.2, 0.9]);
/// let a = linear_assignment(&cost, 0.8);
/// assert_eq!(a.matches, vec![(0, 1), (1, 0)]);
/// ```
pub fn linear_assignment(cost: &DMatrix<f64>, threshold: f64) -> Assignment {
    LinearAssignment::new().solve(cost, threshold)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Best `Σ (threshold − cost)` over all partial matchings with admissible pairs.
    fn brute_force_gain(cost: &DMatrix<f64>, threshold: f64) -> f64 {
        fn rec(cost: &DMatrix<f64>, t: f64, i: usize, used: &mut Vec<bool>) -> f64 {
            if i == cost.nrows() {
                return 0.0;
            }
            let mut best = rec(cost, t, i + 1, used);
            for j in 0..cost.ncols() {
                if !used[j] && admissible(cost[(i, j)], t) {
                    used[j] = true;
                    best = best.max(t - cost[(i, j)] + rec(cost, t, i + 1, used));
                    used[j] = false;
                }
            }
            best
        }
        rec(cost, threshold, 0, &mut vec![false; cost.ncols()])
    }

    /// Minimum cost over all matchings of `min(rows, cols)` pairs.
    fn brute_force_full(cost: &DMatrix<f64>) -> f64 {
        fn rec(cost: &DMatrix<f64>, i: usize, left: usize, used: &mut Vec<bool>) -> f64 {
            if left == 0 {
                return 0.0;
            }
            if cost.nrows() - i < left {
                return f64::INFINITY;
            }
            // Row i either takes a column or (when rows outnumber the pairs needed) none.
            let mut best = rec(cost, i + 1, left, used);
            for j in 0..cost.ncols() {
                if !used[j] {
                    used[j] = true;
                    best = best.min(cost[(i, j)] + rec(cost, i + 1, left - 1, used));
                    used[j] = false;
                }
            }
            best
        }
        let k = cost.nrows().min(cost.ncols());
        rec(cost, 0, k, &mut vec![false; cost.ncols()])
    }

    fn check_consistent(a: &Assignment, cost: &DMatrix<f64>, threshold: f64) {
        let (n, m) = cost.shape();
        let mut rows = vec![0; n];
        let mut cols = vec![0; m];
        for &(i, j) in &a.matches {
            rows[i] += 1;
            cols[j] += 1;
            assert!(admissible(cost[(i, j)], threshold), "matched an inadmissible pair ({i}, {j})");
        }
        for &i in &a.unmatched_rows {
            rows[i] += 1;
        }
        for &j in &a.unmatched_cols {
            cols[j] += 1;
        }
        assert!(rows.iter().all(|&c| c == 1), "every row exactly once: {a:?}");
        assert!(cols.iter().all(|&c| c == 1), "every column exactly once: {a:?}");
        assert!(a.matches.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(a.unmatched_rows.windows(2).all(|w| w[0] < w[1]));
        assert!(a.unmatched_cols.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn matches_brute_force_with_threshold() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut solver = LinearAssignment::new();
        for case in 0..3000 {
            let n = rng.random_range(0..=5);
            let m = rng.random_range(0..=5);
            let threshold = [0.3, 0.6, 0.8, 1.0][case % 4];
            // Quantised costs make ties common, which is where solvers go wrong.
            let quantised = case % 3 == 0;
            let cost = DMatrix::from_fn(n, m, |_, _| {
                let x: f64 = rng.random();
                if quantised { (x * 5.0).floor() / 5.0 } else { x }
            });
            let a = solver.solve(&cost, threshold);
            check_consistent(&a, &cost, threshold);
            let gain: f64 = a.matches.iter().map(|&(i, j)| threshold - cost[(i, j)]).sum();
            let best = brute_force_gain(&cost, threshold);
            assert!((gain - best).abs() < 1e-9, "case {case}: gain {gain} != optimum {best}\n{cost}\n{a:?}");
        }
    }

    #[test]
    fn matches_brute_force_without_threshold() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut solver = LinearAssignment::new();
        for case in 0..2000 {
            let n = rng.random_range(1..=6);
            let m = rng.random_range(1..=6);
            let cost = DMatrix::from_fn(n, m, |_, _| rng.random_range(-10.0..10.0));
            let a = solver.solve(&cost, f64::INFINITY);
            check_consistent(&a, &cost, f64::INFINITY);
            assert_eq!(a.matches.len(), n.min(m));
            let best = brute_force_full(&cost);
            assert!(
                (a.total_cost(&cost) - best).abs() < 1e-9,
                "case {case}: {} != {best}\n{cost}",
                a.total_cost(&cost)
            );
        }
    }

    #[test]
    fn not_greedy() {
        let cost = DMatrix::from_row_slice(2, 2, &[0.1, 0.2, 0.2, 0.9]);
        assert_eq!(linear_assignment(&cost, 1.0).matches, vec![(0, 1), (1, 0)]);
        // Below 0.9 the diagonal is not admissible, and two matches (gain 0.4 + 0.4) still
        // beat the single cheapest pair (gain 0.5).
        let a = linear_assignment(&cost, 0.6);
        assert_eq!(a.matches, vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn threshold_leaves_pairs_unmatched() {
        let cost = DMatrix::from_row_slice(2, 3, &[0.9, 0.95, 0.1, 0.85, 0.99, 0.97]);
        let a = linear_assignment(&cost, 0.8);
        assert_eq!(a.matches, vec![(0, 2)]);
        assert_eq!(a.unmatched_rows, vec![1]);
        assert_eq!(a.unmatched_cols, vec![0, 1]);
    }

    #[test]
    fn non_finite_costs_are_never_matched() {
        let cost = DMatrix::from_row_slice(2, 2, &[f64::NAN, 1.0, f64::INFINITY, f64::NAN]);
        let a = linear_assignment(&cost, f64::INFINITY);
        assert_eq!(a.matches, vec![(0, 1)]);
        assert_eq!(a.unmatched_rows, vec![1]);
        assert_eq!(a.unmatched_cols, vec![0]);
        let a = linear_assignment(&cost, f64::NAN);
        assert!(a.matches.is_empty());
    }

    #[test]
    fn infinite_threshold_maximises_matches_first() {
        // Row 0 prefers column 0, but then row 1 (which can only use column 0) would be left
        // out; a full matching needs (0, 1) + (1, 0).
        let cost = DMatrix::from_row_slice(2, 2, &[0.0, 100.0, 1.0, f64::INFINITY]);
        assert_eq!(linear_assignment(&cost, f64::INFINITY).matches, vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn empty_and_degenerate_shapes() {
        let a = linear_assignment(&DMatrix::zeros(0, 3), 0.5);
        assert_eq!(a, Assignment { matches: vec![], unmatched_rows: vec![], unmatched_cols: vec![0, 1, 2] });
        let a = linear_assignment(&DMatrix::zeros(2, 0), 0.5);
        assert_eq!(a.unmatched_rows, vec![0, 1]);
        let a = linear_assignment(&DMatrix::from_element(3, 1, 0.2), 0.5);
        assert_eq!(a.matches, vec![(0, 0)]);
        assert_eq!(a.unmatched_rows, vec![1, 2]);
    }

    #[test]
    fn deterministic() {
        let mut rng = StdRng::seed_from_u64(3);
        let cost = DMatrix::from_fn(20, 25, |_, _| (rng.random::<f64>() * 4.0).floor() / 4.0);
        let first = linear_assignment(&cost, 0.7);
        let mut solver = LinearAssignment::new();
        for _ in 0..5 {
            assert_eq!(solver.solve(&cost, 0.7), first);
        }
    }
}
