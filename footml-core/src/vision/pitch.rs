//! The pitch markings (Laws of the Game, Law 1) as geometry on the pitch plane, in metres with
//! the origin at the centre spot, x along the length and y along the width (the homography
//! file's convention).
//!
//! Used wherever something must know where the white marks are: the renderer draws them, and
//! the ball tracker drops ball candidates on them (a penalty spot, a line end or two crossing
//! lines look like a small bright blob on grass to a classical detector).

/// Radius of the centre circle and of the penalty arcs, metres.
pub const CIRCLE_RADIUS: f64 = 9.15;
/// Distance of a penalty spot from its goal line, metres.
pub const PENALTY_SPOT_DISTANCE: f64 = 11.0;
/// Depth and half width of a penalty area, metres.
pub const PENALTY_AREA: (f64, f64) = (16.5, 20.16);
/// Depth and half width of a goal area, metres.
pub const GOAL_AREA: (f64, f64) = (5.5, 9.16);
/// Radius of a corner arc, metres.
pub const CORNER_ARC_RADIUS: f64 = 1.0;

/// Every line marking of a `length` × `width` pitch as polylines (arcs as fine polygons: the
/// centre circle's 96-gon is within 5 mm of the circle).
pub fn markings(length: f64, width: f64) -> Vec<Vec<[f64; 2]>> {
    let (hl, hw) = (length / 2.0, width / 2.0);
    let rect = |x0: f64, y0: f64, x1: f64, y1: f64| vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];
    let arc = |c: [f64; 2], r: f64, a0: f64, a1: f64, n: usize| -> Vec<[f64; 2]> {
        (0..=n)
            .map(|i| {
                let a = a0 + (a1 - a0) * i as f64 / n as f64;
                [c[0] + r * a.cos(), c[1] + r * a.sin()]
            })
            .collect()
    };
    let mut m = vec![rect(-hl, -hw, hl, hw), vec![[0.0, -hw], [0.0, hw]]];
    m.push(arc([0.0, 0.0], CIRCLE_RADIUS, 0.0, std::f64::consts::TAU, 96));
    let (pa_d, pa_w) = PENALTY_AREA;
    let (ga_d, ga_w) = GOAL_AREA;
    for s in [-1.0, 1.0] {
        let g = s * hl;
        m.push(vec![[g, -pa_w], [g - s * pa_d, -pa_w], [g - s * pa_d, pa_w], [g, pa_w]]);
        m.push(vec![[g, -ga_w], [g - s * ga_d, -ga_w], [g - s * ga_d, ga_w], [g, ga_w]]);
        // Penalty arc: the part of the circle round the spot outside the area.
        let a = ((pa_d - PENALTY_SPOT_DISTANCE) / CIRCLE_RADIUS).acos();
        let (a0, a1) = if s > 0.0 { (std::f64::consts::PI - a, std::f64::consts::PI + a) } else { (-a, a) };
        m.push(arc([g - s * PENALTY_SPOT_DISTANCE, 0.0], CIRCLE_RADIUS, a0, a1, 24));
        for sy in [-1.0, 1.0] {
            // Corner arcs inside the pitch: from pointing along the goal line inwards (−s, 0)
            // to pointing along the touchline inwards (0, −sy), a quarter turn.
            let a0 = if s > 0.0 { std::f64::consts::PI } else { 0.0 };
            m.push(arc([g, sy * hw], CORNER_ARC_RADIUS, a0, a0 + s * sy * std::f64::consts::FRAC_PI_2, 8));
        }
    }
    m
}

/// The centre spot and the two penalty spots of a pitch `length` metres long.
pub fn spots(length: f64) -> [[f64; 2]; 3] {
    let px = length / 2.0 - PENALTY_SPOT_DISTANCE;
    [[0.0, 0.0], [-px, 0.0], [px, 0.0]]
}

/// Distance in metres from `p` to the nearest marking (the centre line of a line marking, or a
/// spot's centre) of a `length` × `width` pitch.
pub fn distance_to_markings(p: [f64; 2], length: f64, width: f64) -> f64 {
    let mut best = spots(length).iter().map(|s| (p[0] - s[0]).hypot(p[1] - s[1])).fold(f64::INFINITY, f64::min);
    for line in markings(length, width) {
        for w in line.windows(2) {
            best = best.min(segment_distance(p, w[0], w[1]));
        }
    }
    best
}

/// Distance from `p` to the segment `a`–`b`.
fn segment_distance(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    (p[0] - a[0] - t * dx).hypot(p[1] - a[1] - t * dy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_to_hand_placed_points() {
        let d = |x: f64, y: f64| distance_to_markings([x, y], 105.0, 68.0);
        // On the halfway line, the touchline, a penalty spot, the centre spot.
        assert!(d(0.0, 20.0) < 1e-9 && d(10.0, 34.0) < 1e-9 && d(41.5, 0.0) < 1e-9 && d(0.0, 0.0) < 1e-9);
        // Between the centre spot and the circle, 3 m off the halfway line: 3 m (5 m from the
        // spot, 4.15 m from the circle).
        assert!((d(3.0, 4.0) - 3.0).abs() < 1e-9);
        // 2 m outside the centre circle on the x axis: the circle, up to its polygon's sagitta.
        assert!((d(11.15, 0.0) - 2.0).abs() < 0.01, "{}", d(11.15, 0.0));
        // Inside the penalty area, 3 m in front of the goal-area line (x = 47) and 3 m from the
        // spot (x = 41.5) at x = 44.5: both 2.5..3 m away, the goal area line nearer.
        assert!((d(44.5, 0.0) - 2.5).abs() < 1e-9, "{}", d(44.5, 0.0));
        // On the penalty arc: 9.15 m from the spot, outside the area, straight out.
        assert!(d(52.5 - 11.0 - 9.15, 0.0) < 1e-9);
        // Open grass between the centre circle (10.85 m) and the penalty arc (12.35 m).
        assert!((d(20.0, 0.0) - 10.85).abs() < 1e-9, "{}", d(20.0, 0.0));
    }

    #[test]
    fn every_polyline_lies_on_or_inside_the_pitch() {
        for line in markings(105.0, 68.0) {
            for p in line {
                assert!(p[0].abs() <= 52.5 + 1e-9 && p[1].abs() <= 34.0 + 1e-9, "{p:?}");
            }
        }
    }
}
