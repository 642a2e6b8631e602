//! Ball detection without a ball model: classical candidates found in the pixels.
//!
//! [`BallDetector`] (streaming, `"ball_detection"`) turns each frame into ball candidates
//! ([`Artifact::BALL_CANDIDATES`]) for the ball tracker, in five steps:
//!
//! 1. **Grass model, per frame.** A hue histogram of a sparse grid of pixels (saturated and
//!    not too dark ones) is smoothed and its highest peak in the green range is taken as the
//!    grass; the hue interval around the peak (down to 5 % of its height) and a saturation
//!    floor (40 % of the grass pixels' median) define grass. Lighting, grass kind and mowing
//!    stripes differ between grounds and change during a match, so nothing is fixed in
//!    advance. A frame with less than [`MIN_GRASS_FRACTION`] grass is not a view of the
//!    pitch and gets no candidates. The model is turned into a 32×32×32 RGB lookup table so
//!    that classifying a pixel costs one load.
//! 2. **Bright, non-grass pixels** on a grid subsampled by `step = ⌊min_ball_radius / 2.5⌋`
//!    (at least 1, at most 4; a ball of the smallest radius still covers ~20 grid points):
//!    pixels that are not grass and whose luma is at least `min_contrast` above the grass
//!    median.
//! 3. **Connected components** (8-connected) of those pixels whose extent fits the radius
//!    range. Players, crowd, advertising and long lines make components far larger than a
//!    ball, and noise makes specks far smaller: both go at this step.
//! 4. **Refinement at full resolution**, around each remaining component: the local grass
//!    luma is measured on a square ring around it (which must be at least
//!    `min_grass_surround` grass: a ball on the pitch is surrounded by grass, a white patch
//!    on a shirt or in the stands is not), and the blob is re-segmented at half its peak
//!    contrast (half-maximum, so blur and anti-aliasing do not change its size) by a flood
//!    fill from its brightest pixel. The centre is the contrast-weighted centroid (exact for
//!    a symmetric blob), the box the blob's extent; so the tracker's radius, half the mean of
//!    width and height, is the blob's. Line markings are rejected by shape: elongation (the
//!    square root of the ratio of the second-moment eigenvalues) above [`max_elongation`],
//!    or a fill (pixels / box area) below [`MIN_FILL_RATIO`] of a pixel disc's ([`disc_fill`]).
//!    Blobs whose mean saturation is above `max_saturation` (kits, skin, boards) are dropped.
//! 5. **Score** in `[0, 1]`, the product of a contrast term (peak contrast / [`FULL_CONTRAST`]),
//!    a roundness term, a fill term, a surround term (the ring's grass fraction, full from
//!    80 % up), a colour term (full up to [`WHITE_SATURATION`], down to 0.2 for a pure
//!    colour) and — when player boxes are
//!    known — a size term comparing the radius with the ball radius expected from the height
//!    of the nearest player (a 0.22 m ball next to a ~1.8 m player). The best
//!    `max_candidates` are kept.
//!
//! When the frame's record carries player detections (or tracks), candidates whose centre
//! lies in the upper three quarters of a player box (head, shirt, shorts) are dropped; the
//! feet are kept, since that is where the ball usually is. [`BallDetector::with_players`]
//! makes the stage require [`Artifact::PLAYER_DETECTIONS`] so that it runs after the player
//! detector.
//!
//! Coordinates are pixels with the origin at the top-left corner of the frame, pixel `(i, j)`
//! covering `[i, i + 1) × [j, j + 1)` (its centre is `(i + 0.5, j + 0.5)`).
//!
//! The stage is stateless: each frame is judged alone, so resuming needs no state.

use crate::config::{BallDetectionConfig, BallTrackingConfig};
use crate::pipeline::stage::{Artifact, Stage, StageContext, StreamStage, require_in_batch, require_pixels};
use crate::types::{BBox, Detection, FrameBatch, FrameRecord, RgbFrame};
use crate::{Error, Result};

/// The name of the stage.
pub const STAGE_NAME: &str = "ball_detection";

/// Least share of the sampled pixels that must be grass for the frame to count as a view
/// of the pitch.
pub const MIN_GRASS_FRACTION: f32 = 0.2;
/// Largest accepted elongation (√(λ₁/λ₂) of the blob's second moments; 1 for a disc) of a
/// blob at least [`SMALL_BLOB`] pixels across; see [`max_elongation`] for smaller ones.
pub const MAX_ELONGATION: f32 = 1.5;
/// Width (pixels) under which a blob's shape is measured less reliably.
pub const SMALL_BLOB: f32 = 10.0;
/// Smallest accepted fill, as a share of the fill of a pixel disc of the same width
/// ([`disc_fill`]): crossing lines and arcs fill their box far less than a ball.
pub const MIN_FILL_RATIO: f32 = 0.75;
/// Peak contrast (luma levels above the surrounding grass) that earns the full contrast term.
pub const FULL_CONTRAST: f32 = 100.0;
/// Mean saturation up to which a blob counts as white (H.264's 4:2:0 chroma tints the rim of a
/// white ball with the grass around it).
pub const WHITE_SATURATION: f32 = 0.2;
/// Ball radius as a share of a player's box height (0.11 m over ~1.8 m).
pub const BALL_RADIUS_PER_PLAYER_HEIGHT: f32 = 0.061;

/// Green hue range (degrees) in which the grass peak is looked for.
const GRASS_HUE_RANGE: (usize, usize) = (40, 200);
/// Pixels below this saturation (0–255) or value do not vote in the hue histogram.
const HIST_MIN_SAT: u8 = 40;
const MIN_VALUE: u8 = 20;
/// Largest half-width (degrees) of the grass hue interval.
const MAX_HUE_SPREAD: usize = 35;
/// Spread (in ln units) of the size term around the expected radius.
const SIZE_LN_STD: f32 = 0.5;

/// What was learned about the grass of one frame.
#[derive(Clone, PartialEq)]
pub struct GrassModel {
    /// Grass hue interval, degrees (`lo ≤ hi`).
    pub hue: (u16, u16),
    /// Least saturation (0–255) of a grass pixel.
    pub min_sat: u8,
    /// Median luma of the grass pixels.
    pub luma: u8,
    /// Share of the sampled pixels that are grass.
    pub fraction: f32,
    /// Grass flag for each 5-bit-per-channel RGB cell (`r >> 3 << 10 | g >> 3 << 5 | b >> 3`).
    lut: Vec<bool>,
}

impl std::fmt::Debug for GrassModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The lookup table is derived from the other fields: left out.
        f.debug_struct("GrassModel")
            .field("hue", &self.hue)
            .field("min_sat", &self.min_sat)
            .field("luma", &self.luma)
            .field("fraction", &self.fraction)
            .finish_non_exhaustive()
    }
}

impl GrassModel {
    /// Learns the grass of `frame` from about 20,000 pixels (a grid at least 4 pixels apart),
    /// plenty for a hue histogram whatever the frame size; `None` when the frame has no
    /// dominant green. The one sampling every stage uses, so that a model learned by one stage
    /// serves the others ([`crate::FrameItem::grass`]).
    pub fn for_frame(frame: &RgbFrame) -> Option<GrassModel> {
        let every = ((frame.width as f64 * frame.height as f64 / 20_000.0).sqrt() as u32).max(4);
        Self::estimate(frame, every)
    }

    /// Learns the grass of `frame` from a grid of pixels `every` pixels apart; `None` when the
    /// frame has no dominant green (not a view of the pitch).
    pub fn estimate(frame: &RgbFrame, every: u32) -> Option<GrassModel> {
        let every = every.max(1);
        let mut hist = [0u32; 180];
        let mut samples: Vec<(u16, u8, u8)> = Vec::new();
        let mut total = 0usize;
        for y in (every / 2..frame.height).step_by(every as usize) {
            for x in (every / 2..frame.width).step_by(every as usize) {
                total += 1;
                let [r, g, b] = frame.pixel(x, y);
                let (h, s, v) = hsv(r, g, b);
                if let Some(h) = h
                    && s >= HIST_MIN_SAT
                    && v >= MIN_VALUE
                {
                    hist[h as usize / 2] += 1;
                    samples.push((h, s, luma(r, g, b)));
                }
            }
        }
        if total == 0 {
            return None;
        }
        // Circular smoothing over ±2 bins (±4°) so that a flat-topped peak has one maximum.
        let smooth: Vec<u32> = (0..180).map(|i| (0..5).map(|k| hist[(i + 180 + k - 2) % 180]).sum()).collect();
        let (lo_bin, hi_bin) = (GRASS_HUE_RANGE.0 / 2, GRASS_HUE_RANGE.1 / 2);
        let peak = (lo_bin..=hi_bin).max_by_key(|&i| (smooth[i], std::cmp::Reverse(i)))?;
        if smooth[peak] == 0 {
            return None;
        }
        let floor = smooth[peak] / 20;
        let (mut lo, mut hi) = (peak, peak);
        while lo > 0 && peak - (lo - 1) <= MAX_HUE_SPREAD / 2 && smooth[lo - 1] > floor {
            lo -= 1;
        }
        while hi < 179 && (hi + 1) - peak <= MAX_HUE_SPREAD / 2 && smooth[hi + 1] > floor {
            hi += 1;
        }
        let hue = ((lo * 2) as u16, (hi * 2 + 1) as u16);
        let mut in_range: Vec<(u8, u8)> =
            samples.iter().filter(|s| (hue.0..=hue.1).contains(&s.0)).map(|s| (s.1, s.2)).collect();
        if in_range.is_empty() {
            return None;
        }
        let mid = in_range.len() / 2;
        let median_sat = *in_range.select_nth_unstable_by_key(mid, |s| s.0).1;
        let min_sat = ((median_sat.0 as f32 * 0.4) as u8).max(HIST_MIN_SAT / 2);
        // Pixels under HIST_MIN_SAT did not vote, but can still be grass: count with the
        // final rule.
        let grass: Vec<u8> = in_range.iter().filter(|s| s.0 >= min_sat).map(|s| s.1).collect();
        let fraction = grass.len() as f32 / total as f32;
        if fraction < MIN_GRASS_FRACTION {
            return None;
        }
        let mut lumas = grass;
        let mid = lumas.len() / 2;
        let luma_median = *lumas.select_nth_unstable(mid).1;
        let mut model = GrassModel { hue, min_sat, luma: luma_median, fraction, lut: Vec::new() };
        model.lut = (0..32 * 32 * 32u32)
            .map(|i| {
                let c = |q: u32| ((q & 31) << 3 | 4) as u8;
                model.is_grass_exact(c(i >> 10), c(i >> 5), c(i))
            })
            .collect();
        Some(model)
    }

    /// Whether a colour is grass, by the model's rule (without the lookup table).
    fn is_grass_exact(&self, r: u8, g: u8, b: u8) -> bool {
        let (h, s, v) = hsv(r, g, b);
        h.is_some_and(|h| (self.hue.0..=self.hue.1).contains(&h)) && s >= self.min_sat && v >= MIN_VALUE
    }

    /// Whether a colour is grass (lookup table, 5 bits per channel).
    #[inline]
    pub fn is_grass(&self, [r, g, b]: [u8; 3]) -> bool {
        self.lut[((r as usize >> 3) << 10) | ((g as usize >> 3) << 5) | (b as usize >> 3)]
    }
}

/// Hue (degrees, `None` for greys), saturation and value (0–255) of an RGB colour.
fn hsv(r: u8, g: u8, b: u8) -> (Option<u16>, u8, u8) {
    let (r, g, b) = (r as i32, g as i32, b as i32);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    if d == 0 {
        return (None, 0, max as u8);
    }
    let sat = (d * 255 / max) as u8;
    let h = if max == r {
        (60 * (g - b) / d + 360) % 360
    } else if max == g {
        60 * (b - r) / d + 120
    } else {
        60 * (r - g) / d + 240
    };
    (Some(h as u16), sat, max as u8)
}

/// Rec. 601 luma, 0–255.
#[inline]
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((77 * r as u32 + 150 * g as u32 + 29 * b as u32) >> 8) as u8
}

#[inline]
fn luma_px(p: [u8; 3]) -> u8 {
    luma(p[0], p[1], p[2])
}

/// A ball candidate with the measurements behind its score (for tuning and tests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BallCandidate {
    /// Centre, pixels.
    pub x: f32,
    /// Centre, pixels.
    pub y: f32,
    /// Width and height of the blob, pixels.
    pub size: (f32, f32),
    /// Peak luma above the surrounding grass.
    pub contrast: f32,
    /// √(λ₁/λ₂) of the blob's second moments.
    pub elongation: f32,
    /// Blob pixels / box area.
    pub fill: f32,
    /// Share of grass on the ring around the blob.
    pub surround: f32,
    /// Mean HSV saturation of the blob's pixels, 0 (white, grey) to 1 (pure colour).
    pub saturation: f32,
    /// The score in `[0, 1]`.
    pub score: f32,
}

impl BallCandidate {
    /// As a detection for the ball tracker: the blob's box centred on its centroid.
    pub fn detection(&self) -> Detection {
        let (w, h) = self.size;
        Detection { bbox: BBox::new(self.x - w / 2.0, self.y - h / 2.0, w, h), score: self.score, class_id: 0 }
    }

    /// The radius the tracker will see (half the mean of width and height).
    pub fn radius(&self) -> f32 {
        (self.size.0 + self.size.1) / 4.0
    }
}

/// A connected component of the subsampled mask.
#[derive(Debug, Clone, Copy)]
struct Component {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

/// Mask classes on the subsampled grid.
const OTHER: u8 = 0;
const BRIGHT: u8 = 1;
const SEEN: u8 = 2;

/// The classical ball candidate stage (see the [module docs](self)): requires
/// [`Artifact::FRAMES`] (and [`Artifact::PLAYER_DETECTIONS`] after
/// [`BallDetector::with_players`]), provides [`Artifact::BALL_CANDIDATES`].
#[derive(Debug, Clone)]
pub struct BallDetector {
    min_r: f32,
    max_r: f32,
    cfg: BallDetectionConfig,
    step: u32,
    require_players: bool,
    mask: Vec<u8>,
    stack: Vec<u32>,
    local: Vec<u8>,
}

impl BallDetector {
    /// A detector for balls of `ball.min_ball_radius..=ball.max_ball_radius` pixels; fails
    /// with a config error when the range or the settings are invalid.
    pub fn new(ball: &BallTrackingConfig, cfg: &BallDetectionConfig) -> Result<Self> {
        crate::stages::ball_tracking::validate_radius_range(ball)?;
        let (min_r, max_r) = (ball.min_ball_radius, ball.max_ball_radius);
        crate::config::validate_ball_detection(cfg)?;
        Ok(BallDetector {
            min_r,
            max_r,
            cfg: cfg.clone(),
            step: ((min_r / 2.5) as u32).clamp(1, 4),
            require_players: false,
            mask: Vec::new(),
            stack: Vec::new(),
            local: Vec::new(),
        })
    }

    /// Makes the stage require player detections, so that it runs after the player detector
    /// and always suppresses candidates on players.
    pub fn with_players(mut self, require: bool) -> Self {
        self.require_players = require;
        self
    }

    /// The subsampling step of the first pass.
    pub fn step(&self) -> u32 {
        self.step
    }

    /// The candidates of one frame, best first. `players` are boxes of people in the frame
    /// (detections or tracks), used to suppress candidates on bodies and to score sizes.
    pub fn detect(&mut self, frame: &RgbFrame, players: &[BBox]) -> Vec<BallCandidate> {
        match GrassModel::for_frame(frame) {
            Some(grass) => self.detect_on_grass(frame, &grass, players),
            None => Vec::new(),
        }
    }

    /// As [`BallDetector::detect`], with the frame's grass model already learned (by
    /// [`GrassModel::for_frame`], e.g. through [`crate::FrameItem::grass`]).
    pub fn detect_on_grass(&mut self, frame: &RgbFrame, grass: &GrassModel, players: &[BBox]) -> Vec<BallCandidate> {
        let comps = self.components(frame, grass);
        let mut out: Vec<BallCandidate> = comps.iter().filter_map(|c| self.refine(frame, grass, c, players)).collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.truncate(self.cfg.max_candidates);
        out
    }

    /// Step 2 and 3: components of bright non-grass grid points small enough to be a ball.
    fn components(&mut self, frame: &RgbFrame, grass: &GrassModel) -> Vec<Component> {
        let s = self.step;
        let (gw, gh) = (frame.width / s, frame.height / s);
        let n = gw as usize * gh as usize;
        self.mask.clear();
        self.mask.resize(n, OTHER);
        let threshold = grass.luma as f32 + self.cfg.min_contrast;
        let off = s / 2;
        for gy in 0..gh {
            let row = &frame.data[(gy * s + off) as usize * frame.stride..];
            let m = &mut self.mask[gy as usize * gw as usize..(gy as usize + 1) * gw as usize];
            for (gx, m) in m.iter_mut().enumerate() {
                let i = (gx as u32 * s + off) as usize * 3;
                let p = [row[i], row[i + 1], row[i + 2]];
                if luma_px(p) as f32 >= threshold && !grass.is_grass(p) {
                    *m = BRIGHT;
                }
            }
        }
        // Largest extent, in grid points, a ball blob may have (with a grid point of slack
        // for where the grid falls).
        let max_extent = (2.0 * self.max_r / s as f32).ceil() as u32 + 2;
        // Smallest: half the smallest ball's diameter (the half-maximum blob found in the
        // refinement may be larger than what the global threshold kept). Specks of noise, in
        // the stands mostly, go here rather than in the costlier refinement.
        let min_extent = (self.min_r / s as f32).floor() as u32;
        let mut comps = Vec::new();
        for start in 0..n {
            if self.mask[start] != BRIGHT {
                continue;
            }
            self.mask[start] = SEEN;
            self.stack.clear();
            self.stack.push(start as u32);
            let (sx, sy) = (start as u32 % gw, start as u32 / gw);
            let mut c = Component { x0: sx, y0: sy, x1: sx, y1: sy };
            while let Some(i) = self.stack.pop() {
                let (x, y) = (i % gw, i / gw);
                c.x0 = c.x0.min(x);
                c.x1 = c.x1.max(x);
                c.y0 = c.y0.min(y);
                c.y1 = c.y1.max(y);
                for ny in y.saturating_sub(1)..=(y + 1).min(gh - 1) {
                    for nx in x.saturating_sub(1)..=(x + 1).min(gw - 1) {
                        let j = (ny * gw + nx) as usize;
                        if self.mask[j] == BRIGHT {
                            self.mask[j] = SEEN;
                            self.stack.push(j as u32);
                        }
                    }
                }
            }
            let (ex, ey) = (c.x1 - c.x0 + 1, c.y1 - c.y0 + 1);
            if ex <= max_extent && ey <= max_extent && ex.max(ey) >= min_extent {
                comps.push(c);
            }
        }
        comps
    }

    /// Step 4 and 5 for one component, at full resolution.
    fn refine(
        &mut self,
        frame: &RgbFrame,
        grass: &GrassModel,
        c: &Component,
        players: &[BBox],
    ) -> Option<BallCandidate> {
        let s = self.step as i64;
        let (fw, fh) = (frame.width as i64, frame.height as i64);
        // The component's full-resolution extent (each grid point stands for an s×s block).
        let (bx0, by0) = (c.x0 as i64 * s, c.y0 as i64 * s);
        let (bx1, by1) = ((c.x1 as i64 + 1) * s - 1, (c.y1 as i64 + 1) * s - 1);
        let (cx, cy) = ((bx0 + bx1) / 2, (by0 + by1) / 2);
        let r_guess = ((bx1 - bx0 + 1) + (by1 - by0 + 1)) as f32 / 4.0;
        // Ring half-side: well outside the blob, close enough to measure the grass it lies on.
        let d = (1.6 * r_guess + 2.0).ceil() as i64;
        let (mut ring_n, mut ring_grass, mut ring_luma) = (0u32, 0u32, 0u64);
        let mut visit_ring = |x: i64, y: i64| {
            if x >= 0 && y >= 0 && x < fw && y < fh {
                ring_n += 1;
                let p = frame.pixel(x as u32, y as u32);
                if grass.is_grass(p) {
                    ring_grass += 1;
                    ring_luma += luma_px(p) as u64;
                }
            }
        };
        for k in -d..=d {
            visit_ring(cx + k, cy - d);
            visit_ring(cx + k, cy + d);
        }
        for k in -d + 1..d {
            visit_ring(cx - d, cy + k);
            visit_ring(cx + d, cy + k);
        }
        let ring_total = (8 * d) as u32;
        // A blob mostly outside the frame cannot be measured.
        if ring_grass == 0 || ring_n * 2 < ring_total {
            return None;
        }
        let surround = ring_grass as f32 / ring_n as f32;
        if surround < self.cfg.min_grass_surround {
            return None;
        }
        let grass_luma = ring_luma as f32 / ring_grass as f32;

        // Window strictly inside the ring.
        let (wx0, wy0) = ((cx - d + 1).max(0), (cy - d + 1).max(0));
        let (wx1, wy1) = ((cx + d - 1).min(fw - 1), (cy + d - 1).min(fh - 1));
        let (ww, wh) = ((wx1 - wx0 + 1) as usize, (wy1 - wy0 + 1) as usize);
        let contrast = |x: i64, y: i64| luma_px(frame.pixel(x as u32, y as u32)) as f32 - grass_luma;
        // Seed: the brightest pixel of the component's own extent, inside the window (a
        // component can reach past it when the grid is coarse; the flood fill indexes the
        // window).
        let mut peak = (f32::MIN, 0i64, 0i64);
        for y in by0.max(wy0)..=by1.min(wy1) {
            for x in bx0.max(wx0)..=bx1.min(wx1) {
                let v = contrast(x, y);
                if v > peak.0 {
                    peak = (v, x, y);
                }
            }
        }
        if peak.0 < self.cfg.min_contrast {
            return None;
        }
        let half = peak.0 / 2.0;
        // Flood fill (8-connected) of the pixels at or above half the peak contrast.
        self.local.clear();
        self.local.resize(ww * wh, 0);
        self.stack.clear();
        let at = |x: i64, y: i64| (y - wy0) as usize * ww + (x - wx0) as usize;
        self.local[at(peak.1, peak.2)] = 1;
        self.stack.push(at(peak.1, peak.2) as u32);
        let (mut n, mut sw, mut swx, mut swy) = (0f64, 0f64, 0f64, 0f64);
        let (mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0f64, 0f64, 0f64, 0f64, 0f64);
        let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
        let mut touches = false;
        let mut sat_sum = 0f64;
        while let Some(i) = self.stack.pop() {
            let (x, y) = (wx0 + (i as usize % ww) as i64, wy0 + (i as usize / ww) as i64);
            let w = contrast(x, y) as f64;
            let [r, g, b] = frame.pixel(x as u32, y as u32);
            sat_sum += hsv(r, g, b).1 as f64;
            let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
            n += 1.0;
            sw += w;
            swx += w * px;
            swy += w * py;
            sx += px;
            sy += py;
            sxx += px * px;
            syy += py * py;
            sxy += px * py;
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            // The window edge is inside the frame: touching it means the blob reaches the
            // ring, i.e. it is larger than its component said (joined to a line or body).
            touches |= (x == wx0 && wx0 > 0) || (y == wy0 && wy0 > 0) || (x == wx1 && wx1 < fw - 1);
            touches |= y == wy1 && wy1 < fh - 1;
            for ny in (y - 1).max(wy0)..=(y + 1).min(wy1) {
                for nx in (x - 1).max(wx0)..=(x + 1).min(wx1) {
                    let j = at(nx, ny);
                    if self.local[j] == 0
                        && contrast(nx, ny) >= half
                        && !grass.is_grass(frame.pixel(nx as u32, ny as u32))
                    {
                        self.local[j] = 1;
                        self.stack.push(j as u32);
                    }
                }
            }
        }
        if touches {
            return None;
        }
        let (bw, bh) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
        let radius = (bw + bh) / 4.0;
        if radius < self.min_r || radius > self.max_r {
            return None;
        }
        let (mx, my) = (sx / n, sy / n);
        // Pixel-area variance (1/12) added so that one- or two-pixel-wide blobs are not
        // infinitely elongated.
        let vxx = sxx / n - mx * mx + 1.0 / 12.0;
        let vyy = syy / n - my * my + 1.0 / 12.0;
        let vxy = sxy / n - mx * my;
        let tr = vxx + vyy;
        let disc = ((vxx - vyy).powi(2) / 4.0 + vxy * vxy).sqrt();
        let elongation = ((tr / 2.0 + disc) / (tr / 2.0 - disc).max(1e-9)).sqrt() as f32;
        let fill = n as f32 / (bw * bh);
        let fill_ratio = fill / disc_fill((bw + bh) / 2.0);
        let max_elong = max_elongation((bw + bh) / 2.0);
        if elongation > max_elong || fill_ratio < MIN_FILL_RATIO {
            return None;
        }
        let saturation = (sat_sum / n / 255.0) as f32;
        if saturation > self.cfg.max_saturation {
            return None;
        }
        let (x, y) = ((swx / sw) as f32, (swy / sw) as f32);
        if players.iter().any(|p| on_body(p, x, y)) {
            return None;
        }
        let t_contrast = (peak.0 / FULL_CONTRAST).min(1.0);
        let t_round = 1.0 - 0.5 * (elongation - 1.0) / (max_elong - 1.0);
        let t_fill = (1.0 - (fill_ratio - 1.0).abs()).clamp(0.0, 1.0);
        let t_size = nearest_player(players, x, y).map_or(1.0, |p| {
            let expected = BALL_RADIUS_PER_PLAYER_HEIGHT * p.h;
            let z = (radius / expected).ln() / SIZE_LN_STD;
            (-0.5 * z * z).exp()
        });
        // A ball beside a line or a player's feet has some non-grass on its ring: up to a
        // fifth costs nothing.
        let t_surround = (surround / 0.8).min(1.0);
        // Balls are white with dark panels; skin, kits and boards are coloured.
        let t_colour = 1.0 - 0.8 * ((saturation - WHITE_SATURATION) / (1.0 - WHITE_SATURATION)).clamp(0.0, 1.0);
        let score = (t_contrast * t_round * t_fill * t_surround * t_colour * t_size).clamp(0.0, 1.0);
        Some(BallCandidate { x, y, size: (bw, bh), contrast: peak.0, elongation, fill, surround, saturation, score })
    }
}

/// The largest elongation accepted for a blob `width` pixels across: [`MAX_ELONGATION`] from
/// [`SMALL_BLOB`] up, rising to 2 at 6 pixels and below. A ball a few pixels wide is a
/// handful of pixels whose moments its dark panels and the pixel grid skew (measured on the
/// rendered match at 960×540: elongations up to 1.96 for a ball 5–7 px wide), while lines and
/// limbs that small are no longer told apart by shape anyway.
pub fn max_elongation(width: f32) -> f32 {
    MAX_ELONGATION + 0.5 * ((SMALL_BLOB - width) / 4.0).clamp(0.0, 1.0)
}

/// The share of its box that a disc of pixels `width` wide fills: π/4 for a large disc,
/// less for a small one (a disc of radius R drawn on the pixel grid is 2R + 1 wide, so
/// πR² / (2R + 1)²); at least 0.5 so that blobs of a few pixels are not held to a shape
/// they cannot have.
pub fn disc_fill(width: f32) -> f32 {
    let r = ((width - 1.0) / 2.0).max(0.0);
    (std::f32::consts::PI * r * r / (width * width)).max(0.5)
}

/// Whether (x, y) lies on the upper three quarters of a player box (head to shorts).
fn on_body(p: &BBox, x: f32, y: f32) -> bool {
    x >= p.x && x <= p.x + p.w && y >= p.y && y <= p.y + 0.75 * p.h
}

/// The player box whose feet are nearest to (x, y).
fn nearest_player(players: &[BBox], x: f32, y: f32) -> Option<&BBox> {
    players.iter().filter(|p| p.h > 0.0).min_by(|a, b| {
        let da = (a.foot().0 - x).hypot(a.foot().1 - y);
        let db = (b.foot().0 - x).hypot(b.foot().1 - y);
        da.total_cmp(&db)
    })
}

/// Player boxes a record knows about: detections, else tracks.
fn player_boxes(r: &FrameRecord) -> Vec<BBox> {
    match (&r.players, &r.tracks) {
        (Some(p), _) => p.iter().map(|d| d.bbox).collect(),
        (None, Some(t)) => t.iter().map(|t| t.bbox).collect(),
        (None, None) => Vec::new(),
    }
}

impl Stage for BallDetector {
    fn name(&self) -> &str {
        STAGE_NAME
    }

    fn requires(&self) -> Vec<Artifact> {
        let mut r = vec![Artifact::FRAMES];
        if self.require_players {
            r.push(Artifact::PLAYER_DETECTIONS);
        }
        r
    }

    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::BALL_CANDIDATES]
    }
}

impl StreamStage for BallDetector {
    fn process(&mut self, batch: &mut FrameBatch, ctx: &StageContext) -> Result<()> {
        let images = require_pixels(batch, STAGE_NAME)?;
        if self.require_players {
            require_in_batch(batch, STAGE_NAME, "player detections", &Artifact::PLAYER_DETECTIONS, |r| {
                r.players.is_some()
            })?;
        }
        for (item, image) in batch.items.iter_mut().zip(images) {
            if ctx.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let players = player_boxes(&item.record);
            let found = match item.grass() {
                Some(grass) => self.detect_on_grass(&image, &grass, &players),
                None => Vec::new(),
            };
            item.record.ball_candidates = Some(found.iter().map(BallCandidate::detection).collect());
        }
        Ok(())
    }

    fn save_state(&self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    fn load_state(&mut self, _state: &[u8]) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{FrameItem, FrameRecord, VideoInfo};
    use std::sync::Arc;

    /// Deterministic noise in `-a..=a` from a pixel position.
    fn noise(x: u32, y: u32, c: u32, a: i32) -> i32 {
        let mut h = x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77) ^ c.wrapping_mul(0xC2B2_AE3D);
        h ^= h >> 15;
        h = h.wrapping_mul(0x2C1B_3C6D);
        h ^= h >> 12;
        (h % (2 * a as u32 + 1)) as i32 - a
    }

    struct Canvas(RgbFrame);

    impl Canvas {
        fn new(width: u32, height: u32) -> Self {
            let stride = width as usize * 3 + 7; // padding bytes after each row
            Canvas(RgbFrame { width, height, stride, data: vec![0; stride * height as usize] })
        }
        fn set(&mut self, x: i64, y: i64, rgb: [u8; 3]) {
            if x >= 0 && y >= 0 && x < self.0.width as i64 && y < self.0.height as i64 {
                let i = y as usize * self.0.stride + x as usize * 3;
                self.0.data[i..i + 3].copy_from_slice(&rgb);
            }
        }
        /// Pixels whose centre satisfies `inside`, in colour `rgb`; returns their centroid and
        /// the width of their extent.
        fn fill(&mut self, rgb: [u8; 3], inside: impl Fn(f64, f64) -> bool) -> (f64, f64, f32) {
            let (mut sx, mut sy, mut n) = (0.0, 0.0, 0);
            let (mut x0, mut x1) = (i64::MAX, i64::MIN);
            for y in 0..self.0.height as i64 {
                for x in 0..self.0.width as i64 {
                    let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                    if inside(px, py) {
                        self.set(x, y, rgb);
                        (sx, sy, n) = (sx + px, sy + py, n + 1);
                        (x0, x1) = (x0.min(x), x1.max(x));
                    }
                }
            }
            (sx / n as f64, sy / n as f64, (x1 - x0 + 1) as f32)
        }
        fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, rgb: [u8; 3]) {
            self.fill(rgb, |px, py| px >= x && px < x + w && py >= y && py < y + h);
        }
        fn disc(&mut self, cx: f64, cy: f64, r: f64, rgb: [u8; 3]) -> (f64, f64, f32) {
            self.fill(rgb, |px, py| (px - cx).powi(2) + (py - cy).powi(2) <= r * r)
        }
        /// A line of width `w` from `a` to `b`.
        fn line(&mut self, a: (f64, f64), b: (f64, f64), w: f64, rgb: [u8; 3]) {
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len2 = dx * dx + dy * dy;
            self.fill(rgb, |px, py| {
                let t = (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0);
                (px - a.0 - t * dx).hypot(py - a.1 - t * dy) <= w / 2.0
            });
        }
    }

    const WHITE: [u8; 3] = [235, 235, 235];
    const SHIRT: [u8; 3] = [200, 30, 30];
    const SHORTS: [u8; 3] = [30, 30, 90];
    const SKIN: [u8; 3] = [225, 180, 150];

    /// A player standing with feet at (x, y): head, shirt, shorts, legs. Returns its box
    /// and the centre of its head.
    fn player(c: &mut Canvas, x: f64, y: f64) -> (BBox, (f64, f64)) {
        let top = y - 92.0;
        let head = (x, top + 7.0);
        c.disc(head.0, head.1, 7.0, SKIN);
        c.rect(x - 12.0, top + 14.0, 24.0, 40.0, SHIRT);
        c.rect(x - 12.0, top + 54.0, 24.0, 14.0, SHORTS);
        c.rect(x - 10.0, top + 68.0, 6.0, 24.0, SKIN);
        c.rect(x + 4.0, top + 68.0, 6.0, 24.0, SKIN);
        (BBox::new((x - 12.0) as f32, top as f32, 24.0, 92.0), head)
    }

    struct Scene {
        frame: RgbFrame,
        /// Exact centroids of the drawn balls and their pixel widths.
        balls: Vec<(f64, f64, f32)>,
        players: Vec<BBox>,
        heads: Vec<(f64, f64)>,
    }

    /// A 1280×720 broadcast-like frame: stands and advertising boards at the top, mown grass
    /// stripes with noise, touchline, halfway line, centre circle, a diagonal line in
    /// perspective, three players and white balls of radius 5 (smallest allowed), 9 and 20,
    /// one next to a line (4 px gap) and one on a stripe boundary.
    fn scene() -> Scene {
        let mut c = Canvas::new(1280, 720);
        for y in 0..720u32 {
            for x in 0..1280u32 {
                let base: [i32; 3] = if y < 60 {
                    // Stands: 8×8 blocks of any colour, bright ones included.
                    let b = noise(x / 8, y / 8, 7, 127) + 128;
                    [b, noise(x / 8, y / 8, 8, 127) + 128, noise(x / 8, y / 8, 9, 127) + 128]
                } else if y < 84 {
                    [20, 30, 120] // advertising boards
                } else if (x / 120) % 2 == 0 {
                    [58, 128, 54]
                } else {
                    [70, 145, 62]
                };
                let a = if y >= 84 { 6 } else { 0 };
                let px: Vec<u8> = (0..3).map(|k| (base[k] + noise(x, y, k as u32, a)).clamp(0, 255) as u8).collect();
                c.set(x as i64, y as i64, [px[0], px[1], px[2]]);
            }
        }
        c.rect(0.0, 100.0, 1280.0, 4.0, WHITE); // touchline
        c.rect(638.0, 104.0, 5.0, 616.0, WHITE); // halfway line
        c.fill(WHITE, |x, y| ((x - 640.5).hypot(y - 420.5) - 150.0).abs() <= 2.0); // centre circle
        c.line((100.0, 700.0), (400.0, 120.0), 5.0, WHITE); // a line in perspective
        let mut players = Vec::new();
        let mut heads = Vec::new();
        for (x, y) in [(900.0, 300.0), (300.0, 560.0), (1100.0, 650.0)] {
            let (b, h) = player(&mut c, x, y);
            players.push(b);
            heads.push(h);
        }
        let mut balls = Vec::new();
        for (x, y, r) in [(820.5, 480.5, 5.0), (1000.5, 200.5, 9.0), (480.25, 640.75, 20.0), (652.5, 300.5, 5.0)] {
            // (652.5, 300.5): 4 px right of the halfway line's right edge (643).
            balls.push(c.disc(x, y, r, WHITE));
        }
        // On the boundary of two grass stripes (x = 960).
        balls.push(c.disc(960.5, 560.5, 7.0, WHITE));
        // A disc of radius R around a pixel centre is 2R + 1 pixels wide.
        assert_eq!([balls[0].2, balls[1].2, balls[4].2], [11.0, 19.0, 15.0]);
        Scene { frame: c.0, balls, players, heads }
    }

    /// Irregular bright shapes of every size on grass, for every grid step: whatever the
    /// components look like, refinement stays inside its window (a component reaching past
    /// the window once made the flood fill index out of it: "attempt to add with overflow"
    /// on a rendered broadcast frame), and every candidate lies inside the frame.
    #[test]
    fn irregular_blobs_never_break_refinement() {
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut rand = |n: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        for _ in 0..12 {
            let mut c = Canvas::new(320, 240);
            c.rect(0.0, 0.0, 320.0, 240.0, [60, 132, 58]);
            for _ in 0..40 {
                let (x, y) = (rand(320) as f64, rand(240) as f64);
                match rand(4) {
                    0 => c.rect(x, y, 1.0 + rand(30) as f64, 1.0 + rand(30) as f64, WHITE),
                    // Long thin marks: their extent reaches past the refinement window.
                    1 => c.rect(x, y, 20.0 + rand(80) as f64, 1.0 + rand(3) as f64, WHITE),
                    2 => {
                        c.disc(x, y, 1.0 + rand(12) as f64, WHITE);
                    }
                    _ => c.line((x, y), (x + rand(40) as f64, y + rand(40) as f64), 1.0 + rand(4) as f64, WHITE),
                }
            }
            for (min_r, max_r) in [(1.0, 6.0), (2.0, 10.0), (5.0, 50.0), (8.0, 30.0), (10.0, 50.0)] {
                let tracking =
                    BallTrackingConfig { min_ball_radius: min_r, max_ball_radius: max_r, ..Default::default() };
                let mut d = BallDetector::new(&tracking, &BallDetectionConfig::default()).unwrap();
                for cand in d.detect(&c.0, &[]) {
                    assert!((0.0..320.0).contains(&cand.x) && (0.0..240.0).contains(&cand.y), "{cand:?}");
                }
            }
        }
    }

    fn detector() -> BallDetector {
        BallDetector::new(&BallTrackingConfig::default(), &BallDetectionConfig::default()).unwrap()
    }

    /// Candidates matched to expected centres (within `tol` px), in expected order; panics
    /// on a miss. Returns the candidates that matched nothing.
    fn match_all<'a>(found: &'a [BallCandidate], expected: &[(f64, f64)], tol: f32) -> Vec<&'a BallCandidate> {
        for e in expected {
            assert!(
                found.iter().any(|c| (c.x - e.0 as f32).hypot(c.y - e.1 as f32) <= tol),
                "no candidate at {e:?}: {found:#?}"
            );
        }
        found.iter().filter(|c| !expected.iter().any(|e| (c.x - e.0 as f32).hypot(c.y - e.1 as f32) <= tol)).collect()
    }

    #[test]
    fn grass_model_follows_the_frame() {
        let s = scene();
        let g = GrassModel::estimate(&s.frame, 8).unwrap();
        // Stripe hues are 114° and 117°; noise widens them a little.
        assert!(g.hue.0 <= 110 && g.hue.1 >= 120 && g.hue.1 - g.hue.0 <= 72, "{g:?}");
        assert!(g.fraction > 0.8, "{g:?}");
        // Stripe lumas are 98 and 113 (Rec. 601), the median is between.
        assert!((98..=113).contains(&g.luma), "median grass luma {}", g.luma);
        assert!(g.is_grass([58, 128, 54]) && g.is_grass([70, 145, 62]));
        assert!(!g.is_grass(WHITE) && !g.is_grass(SHIRT) && !g.is_grass(SKIN) && !g.is_grass([20, 30, 120]));
        // A bluish-green artificial pitch is learned just as well.
        let mut c = Canvas::new(320, 180);
        c.rect(0.0, 0.0, 320.0, 180.0, [40, 140, 120]);
        let g = GrassModel::estimate(&c.0, 4).unwrap();
        assert!(g.is_grass([40, 140, 120]) && !g.is_grass([58, 128, 54]), "{g:?}");
        // No pitch in view: no model.
        c.rect(0.0, 0.0, 320.0, 180.0, [90, 90, 200]);
        assert!(GrassModel::estimate(&c.0, 4).is_none());
    }

    /// A frame's grass model is learned once, by the first stage that asks, and served to the
    /// next; a replaced image gets its own model, and dropping the pixels drops the model.
    #[test]
    fn a_frame_item_learns_its_grass_once() {
        let s = scene();
        let image = Arc::new(s.frame.clone());
        let mut item = FrameItem::new(FrameRecord::default(), Some(image.clone()));
        let first = item.grass().unwrap();
        assert_eq!(*first, GrassModel::for_frame(&s.frame).unwrap());
        assert!(Arc::ptr_eq(&first, &item.grass().unwrap()), "learned twice");
        // Stages run on clones of the item in other threads: the model goes with it.
        let mut moved = item.clone();
        assert!(Arc::ptr_eq(&first, &moved.grass().unwrap()));
        // A new image (even with the same pixels) is learned afresh; one without grass has none.
        moved.image = Some(Arc::new(s.frame.clone()));
        assert!(!Arc::ptr_eq(&first, &moved.grass().unwrap()));
        let mut c = Canvas::new(320, 180);
        c.rect(0.0, 0.0, 320.0, 180.0, [90, 90, 200]);
        moved.image = Some(Arc::new(c.0));
        assert_eq!(moved.grass(), None);
        item.drop_pixels();
        assert!(item.image.is_none() && item.grass().is_none());
        // The stage finds the same candidates through the shared model as on its own.
        let mut det = detector();
        let mut batch = FrameBatch {
            items: vec![FrameItem::new(FrameRecord::default(), Some(image.clone()))],
            ..Default::default()
        };
        batch.items[0].grass();
        det.process(&mut batch, &StageContext::standalone(STAGE_NAME, VideoInfo::default())).unwrap();
        let own: Vec<Detection> = det.detect(&image, &[]).iter().map(BallCandidate::detection).collect();
        assert_eq!(batch.items[0].record.ball_candidates.as_ref(), Some(&own));
    }

    #[test]
    fn finds_exactly_the_balls_with_players_known() {
        let s = scene();
        let mut d = detector();
        assert_eq!(d.step(), 2);
        let found = d.detect(&s.frame, &s.players);
        let centres: Vec<(f64, f64)> = s.balls.iter().map(|b| (b.0, b.1)).collect();
        let extra = match_all(&found, &centres, 1e-3);
        assert!(extra.is_empty(), "candidates that are not balls: {extra:#?}");
        assert_eq!(found.len(), s.balls.len());
        for (x, y, width) in &s.balls {
            let c = found.iter().find(|c| (c.x - *x as f32).hypot(c.y - *y as f32) <= 1e-3).unwrap();
            // The box is the disc's pixel extent, so the tracker's radius is width / 2.
            assert_eq!(c.size, (*width, *width), "{c:?}");
            assert!(c.elongation < 1.1 && (c.fill / disc_fill(*width) - 1.0).abs() < 0.08, "{c:?}");
            let det = c.detection();
            assert!((det.bbox.x + det.bbox.w / 2.0 - *x as f32).abs() < 1e-3);
        }
        // Symmetric discs drawn around pixel centres: the centroid is the centre itself.
        assert!(found.iter().any(|c| c.x == 820.5 && c.y == 480.5), "{found:#?}");
        // The size term: players here are 92 px tall, so a ball of radius ~5.6 is expected;
        // the radius-20 ball beside them scores far lower than the radius-5 one.
        let score_at = |x: f64| found.iter().find(|c| (c.x - x as f32).abs() < 1.0).unwrap().score;
        assert!(score_at(820.5) > 0.8 && score_at(480.25) < 0.1, "{found:#?}");
        // Without players no size is expected: every ball scores high.
        let alone = d.detect(&s.frame, &[]);
        for b in &s.balls {
            let c = alone.iter().find(|c| (c.x - b.0 as f32).abs() < 1.0).unwrap();
            assert!(c.score > 0.8, "{c:?}");
        }
    }

    #[test]
    fn without_players_heads_are_candidates_and_score_below_balls() {
        let s = scene();
        let found = detector().detect(&s.frame, &[]);
        let mut expected: Vec<(f64, f64)> = s.balls.iter().map(|b| (b.0, b.1)).collect();
        expected.extend(&s.heads);
        // Heads are bright round blobs on grass: a classical detector cannot tell them from
        // a ball without knowing where the players are (the tracker's gating must).
        let extra = match_all(&found, &expected, 1e-3);
        assert!(extra.is_empty(), "{extra:#?}");
        assert_eq!(found.len(), s.balls.len() + s.heads.len());
        // Heads are less contrasted and have shirt below them.
        let head_best = found.iter().filter(|c| s.heads.iter().any(|h| (c.x - h.0 as f32).abs() < 1.0));
        let head_best = head_best.map(|c| c.score).fold(0.0, f32::max);
        let ball_worst = found
            .iter()
            .filter(|c| s.balls.iter().any(|b| (c.x - b.0 as f32).abs() < 1.0))
            .map(|c| c.score)
            .fold(1.0, f32::min);
        assert!(head_best < ball_worst, "heads {head_best} vs balls {ball_worst}");
    }

    #[test]
    fn radius_range_and_candidate_cap_apply() {
        let s = scene();
        // Only the big ball (width 41 → radius 20.5) is in 12..=30.
        let ball = BallTrackingConfig { min_ball_radius: 12.0, max_ball_radius: 30.0, ..Default::default() };
        let mut d = BallDetector::new(&ball, &BallDetectionConfig::default()).unwrap();
        assert_eq!(d.step(), 4);
        let found = d.detect(&s.frame, &s.players);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!((found[0].x - s.balls[2].0 as f32).abs() < 1e-3 && (found[0].y - s.balls[2].1 as f32).abs() < 1e-3);
        // The cap keeps the best.
        let cfg = BallDetectionConfig { max_candidates: 2, ..Default::default() };
        let all = detector().detect(&s.frame, &[]);
        let capped = BallDetector::new(&BallTrackingConfig::default(), &cfg).unwrap().detect(&s.frame, &[]);
        assert_eq!(capped, all[..2].to_vec());
    }

    #[test]
    fn lines_alone_give_no_candidates() {
        let mut c = Canvas::new(640, 360);
        c.rect(0.0, 0.0, 640.0, 360.0, [60, 130, 55]);
        c.rect(0.0, 50.0, 640.0, 4.0, WHITE);
        c.line((20.0, 340.0), (300.0, 60.0), 6.0, WHITE);
        c.fill(WHITE, |x, y| ((x - 450.0).hypot(y - 220.0) - 80.0).abs() <= 2.5);
        // Two lines crossing: an X, round in extent but not filled.
        c.line((500.0, 20.0), (560.0, 80.0), 5.0, WHITE);
        c.line((560.0, 20.0), (500.0, 80.0), 5.0, WHITE);
        // A short stub of a line (dashes of a far line), 3:1.
        c.rect(100.0, 300.0, 24.0, 8.0, WHITE);
        let found = detector().detect(&c.0, &[]);
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn bad_settings_are_config_errors() {
        let ball = BallTrackingConfig { min_ball_radius: 9.0, max_ball_radius: 4.0, ..Default::default() };
        let e = BallDetector::new(&ball, &BallDetectionConfig::default()).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(e.to_string().contains("min_ball_radius"), "{e}");
        let ball = BallTrackingConfig { min_ball_radius: 0.0, ..Default::default() };
        assert_eq!(
            BallDetector::new(&ball, &BallDetectionConfig::default()).unwrap_err().kind(),
            crate::ErrorKind::Config
        );
        let cfg = BallDetectionConfig { min_grass_surround: -0.1, ..Default::default() };
        let e = BallDetector::new(&BallTrackingConfig::default(), &cfg).unwrap_err();
        assert!(e.to_string().contains("stage_configs.ball_detection.min_grass_surround"), "{e}");
    }

    #[test]
    fn stage_writes_candidates_and_uses_the_players_of_the_record() {
        let s = scene();
        let mut d = detector().with_players(true);
        assert_eq!(d.requires(), vec![Artifact::FRAMES, Artifact::PLAYER_DETECTIONS]);
        assert_eq!(d.provides(), vec![Artifact::BALL_CANDIDATES]);
        assert_eq!(detector().requires(), vec![Artifact::FRAMES]);
        let image = Arc::new(s.frame.clone());
        let players: Vec<Detection> =
            s.players.iter().map(|b| Detection { bbox: *b, score: 0.9, class_id: 0 }).collect();
        let item = |i: u64, players: Option<Vec<Detection>>| {
            FrameItem::new(FrameRecord { index: i, players, ..Default::default() }, Some(image.clone()))
        };
        let mut batch = FrameBatch { items: vec![item(0, Some(players.clone()))], ..Default::default() };
        let ctx = StageContext::standalone(STAGE_NAME, VideoInfo::default());
        d.process(&mut batch, &ctx).unwrap();
        let cands = batch.items[0].record.ball_candidates.as_ref().unwrap();
        assert_eq!(cands.len(), s.balls.len(), "{cands:?}");
        assert!(d.save_state().unwrap().is_empty());
        // Players are required: a record without them is an error, and nothing is written.
        let mut batch = FrameBatch { items: vec![item(0, Some(players)), item(1, None)], ..Default::default() };
        let e = d.process(&mut batch, &ctx).unwrap_err();
        assert!(e.to_string().contains("player_detections"), "{e}");
        assert!(batch.items[0].record.ball_candidates.is_none());
        // No pixels: an error too.
        let mut batch = FrameBatch { items: vec![item(0, None)], ..Default::default() };
        batch.items[0].image = None;
        let e = detector().process(&mut batch, &ctx).unwrap_err();
        assert!(e.to_string().contains("frame 0 has no pixels"), "{e}");
    }
}
