//! sRGB ↔ CIELAB (D65) and colour distances.
//!
//! Kit colours are compared in CIELAB because its Euclidean distance (CIE76 ΔE) follows how
//! different two colours look far better than RGB does: a shaded red shirt stays closer to a
//! lit red shirt than to a dark grey one, which RGB distance gets wrong.

/// sRGB (0–255 per channel) to linear RGB in `[0, 1]`, one entry per 8-bit value.
fn srgb_to_linear_table() -> &'static [f32; 256] {
    static TABLE: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            let c = i as f32 / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        })
    })
}

/// D65 reference white.
const WHITE: [f32; 3] = [0.950_47, 1.0, 1.088_83];

fn lab_f(t: f32) -> f32 {
    const D: f32 = 6.0 / 29.0;
    if t > D * D * D { t.cbrt() } else { t / (3.0 * D * D) + 4.0 / 29.0 }
}

fn lab_f_inv(t: f32) -> f32 {
    const D: f32 = 6.0 / 29.0;
    if t > D { t * t * t } else { 3.0 * D * D * (t - 4.0 / 29.0) }
}

/// CIELAB `[L*, a*, b*]` (D65) of an sRGB colour.
pub fn srgb_to_lab([r, g, b]: [u8; 3]) -> [f32; 3] {
    let lin = srgb_to_linear_table();
    let (r, g, b) = (lin[r as usize], lin[g as usize], lin[b as usize]);
    let x = 0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b;
    let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * b;
    let z = 0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * b;
    let (fx, fy, fz) = (lab_f(x / WHITE[0]), lab_f(y / WHITE[1]), lab_f(z / WHITE[2]));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// The sRGB colour (clamped to the gamut) of a CIELAB colour.
pub fn lab_to_srgb([l, a, b]: [f32; 3]) -> [u8; 3] {
    let fy = (l + 16.0) / 116.0;
    let (fx, fz) = (fy + a / 500.0, fy - b / 200.0);
    let (x, y, z) = (lab_f_inv(fx) * WHITE[0], lab_f_inv(fy) * WHITE[1], lab_f_inv(fz) * WHITE[2]);
    let r = 3.240_454_2 * x - 1.537_138_5 * y - 0.498_531_4 * z;
    let g = -0.969_266 * x + 1.876_010_8 * y + 0.041_556 * z;
    let bl = 0.055_643_4 * x - 0.204_025_9 * y + 1.057_225_2 * z;
    let enc = |c: f32| {
        let c = c.clamp(0.0, 1.0);
        let s = if c <= 0.003_130_8 { 12.92 * c } else { 1.055 * c.powf(1.0 / 2.4) - 0.055 };
        (s * 255.0).round().clamp(0.0, 255.0) as u8
    };
    [enc(r), enc(g), enc(bl)]
}

/// CIE76 colour difference ΔE*ab: the Euclidean distance in CIELAB.
pub fn delta_e(p: [f32; 3], q: [f32; 3]) -> f32 {
    ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
}

/// Lightness at which [`shade_normalised`] leaves a colour's chroma unchanged.
const SHADE_REF_L: f32 = 50.0;
/// Weight of lightness in [`shade_normalised`] coordinates.
const SHADE_L_WEIGHT: f32 = 0.5;

/// CIELAB coordinates in which shading moves a colour little: a* and b* rescaled to the
/// reference lightness 50 (by `(50 + 16) / (L* + 16)`) and L* halved.
///
/// Shade scales linear RGB by a factor `s`; on the cube-root branch of CIELAB this scales
/// `L* + 16`, `a*` and `b*` all by `s^(1/3)`, so the rescaled a*, b* stay the same (a red
/// shirt in the shadow of the stand keeps its chroma) and only lightness moves, which the
/// halved weight tolerates. Black and white kits, which differ only in lightness, stay apart.
pub fn shade_normalised([l, a, b]: [f32; 3]) -> [f32; 3] {
    let k = (SHADE_REF_L + 16.0) / (l.max(0.0) + 16.0);
    [SHADE_L_WEIGHT * l, a * k, b * k]
}

/// The CIELAB colour of [`shade_normalised`] coordinates (its inverse).
pub fn from_shade_normalised([l, a, b]: [f32; 3]) -> [f32; 3] {
    let l = l / SHADE_L_WEIGHT;
    let k = (l.max(0.0) + 16.0) / (SHADE_REF_L + 16.0);
    [l, a * k, b * k]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values() {
        // Published CIELAB (D65) values of the sRGB primaries and of white/black.
        let close = |p: [f32; 3], q: [f32; 3]| delta_e(p, q) < 0.05;
        assert!(close(srgb_to_lab([255, 255, 255]), [100.0, 0.0, 0.0]), "{:?}", srgb_to_lab([255, 255, 255]));
        assert!(close(srgb_to_lab([0, 0, 0]), [0.0, 0.0, 0.0]));
        assert!(close(srgb_to_lab([255, 0, 0]), [53.2408, 80.0925, 67.2032]), "{:?}", srgb_to_lab([255, 0, 0]));
        assert!(close(srgb_to_lab([0, 255, 0]), [87.7347, -86.1827, 83.1793]), "{:?}", srgb_to_lab([0, 255, 0]));
        assert!(close(srgb_to_lab([0, 0, 255]), [32.2970, 79.1875, -107.8602]), "{:?}", srgb_to_lab([0, 0, 255]));
    }

    #[test]
    fn round_trip_is_exact_on_8_bit_colours() {
        for r in (0..=255).step_by(15) {
            for g in (0..=255).step_by(15) {
                for b in (0..=255).step_by(15) {
                    let c = [r as u8, g as u8, b as u8];
                    assert_eq!(lab_to_srgb(srgb_to_lab(c)), c);
                }
            }
        }
        assert_eq!(delta_e([50.0, 3.0, 4.0], [50.0, 0.0, 0.0]), 5.0);
    }

    #[test]
    fn shading_moves_normalised_colours_little() {
        // A saturated red and yellow, lit and at 40 % light (linear RGB × 0.4).
        let shade = |c: [u8; 3]| {
            let lin = srgb_to_linear_table();
            let enc = |v: f32| {
                let s = if v <= 0.003_130_8 { 12.92 * v } else { 1.055 * v.powf(1.0 / 2.4) - 0.055 };
                (s * 255.0).round() as u8
            };
            c.map(|v| enc(0.4 * lin[v as usize]))
        };
        for c in [[210, 25, 40], [250, 215, 20]] {
            let (lit, dark) = (srgb_to_lab(c), srgb_to_lab(shade(c)));
            let (p, q) = (shade_normalised(lit), shade_normalised(dark));
            // In CIELAB the shade is a large difference; normalised, mostly the halved
            // lightness step remains.
            assert!(delta_e(lit, dark) > 20.0, "{lit:?} {dark:?}");
            assert!(delta_e(p, q) < 0.5 * (lit[0] - dark[0]) + 3.0, "{p:?} {q:?}");
            let back = from_shade_normalised(p);
            assert!(delta_e(back, lit) < 1e-3, "{back:?} {lit:?}");
        }
        // Black and white stay far apart.
        let (black, white) = (shade_normalised(srgb_to_lab([20, 20, 22])), shade_normalised(srgb_to_lab([245; 3])));
        assert!(delta_e(black, white) > 40.0);
    }
}
