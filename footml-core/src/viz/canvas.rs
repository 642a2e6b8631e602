//! Drawing helpers shared by the pictures: colours, text, the top-down pitch.

use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, PremultipliedColorU8, Rect, Stroke, Transform};

use super::VizError;

/// Pitch length and width in metres (the report's pitch frame: origin at the centre spot).
pub const PITCH: [f32; 2] = [105.0, 68.0];

/// An opaque sRGB colour.
pub fn rgb(c: [u8; 3]) -> Color {
    Color::from_rgba8(c[0], c[1], c[2], 255)
}

/// A solid paint, anti-aliased.
pub fn paint(c: Color) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(c);
    p.anti_alias = true;
    p
}

/// Grass of the top-down pitch.
pub const GRASS: [u8; 3] = [46, 112, 52];
/// Lighter mowing stripe.
pub const GRASS_STRIPE: [u8; 3] = [54, 124, 60];
/// Pitch lines.
pub const LINE: [u8; 3] = [236, 240, 236];
/// Colour of people without a team (referees, undecided tracks).
pub const NEUTRAL: [u8; 3] = [30, 30, 30];
/// Fallback team colours when the report has none (team 0, team 1).
pub const TEAM_FALLBACK: [[u8; 3]; 2] = [[220, 40, 40], [40, 90, 230]];

/// A new pixmap, or an error for an impossible size.
pub fn pixmap(width: u32, height: u32) -> Result<Pixmap, VizError> {
    Pixmap::new(width, height).ok_or(VizError::Size { width, height })
}

/// Black or white, whichever reads better on `c`.
pub fn text_colour_on(c: [u8; 3]) -> [u8; 3] {
    let luma = 0.299 * c[0] as f32 + 0.587 * c[1] as f32 + 0.114 * c[2] as f32;
    if luma > 140.0 { [0, 0, 0] } else { [255, 255, 255] }
}

/// Width in pixels of `text` drawn at `scale` (8 × scale pixels per character).
pub fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * 8 * scale
}

/// Draws `text` with its top-left corner at (x, y): the public-domain 8×8 bitmap font
/// (font8x8), each font pixel a `scale`×`scale` square. Characters outside ASCII show as `?`.
/// A bitmap font keeps the pictures free of system font files.
pub fn draw_text(pm: &mut Pixmap, text: &str, x: i32, y: i32, scale: u32, colour: [u8; 3]) {
    let s = scale.max(1) as i32;
    let px = PremultipliedColorU8::from_rgba(colour[0], colour[1], colour[2], 255).expect("opaque colour");
    let (w, h) = (pm.width() as i32, pm.height() as i32);
    let pixels = pm.pixels_mut();
    for (i, ch) in text.chars().enumerate() {
        let code = if ch.is_ascii() { ch as usize } else { '?' as usize };
        let glyph = font8x8::legacy::BASIC_LEGACY[code];
        let ox = x + i as i32 * 8 * s;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) == 0 {
                    continue;
                }
                for dy in 0..s {
                    let yy = y + row as i32 * s + dy;
                    if yy < 0 || yy >= h {
                        continue;
                    }
                    for dx in 0..s {
                        let xx = ox + col * s + dx;
                        if xx >= 0 && xx < w {
                            pixels[(yy * w + xx) as usize] = px;
                        }
                    }
                }
            }
        }
    }
}

/// Text on a filled label box (padding `scale` × 2 pixels); returns the box width.
pub fn draw_label(pm: &mut Pixmap, text: &str, x: i32, y: i32, scale: u32, bg: [u8; 3]) -> u32 {
    let pad = 2 * scale as i32;
    let w = text_width(text, scale) as i32 + 2 * pad;
    let h = 8 * scale as i32 + 2 * pad;
    if let Some(r) = Rect::from_xywh(x as f32, y as f32, w as f32, h as f32) {
        pm.fill_rect(r, &paint(rgb(bg)), Transform::identity(), None);
    }
    draw_text(pm, text, x + pad, y + pad, scale, text_colour_on(bg));
    w as u32
}

/// Maps pitch metres to pixels of a top-down pitch picture: `scale` pixels per metre and a
/// `margin` of pixels around the pitch. x grows along the length to the right, y along the
/// width upward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PitchView {
    /// Pixels per metre.
    pub scale: f32,
    /// Pixels around the pitch (room for goals and labels).
    pub margin: f32,
}

impl PitchView {
    /// Picture size for this view, rounded up to even numbers (H.264 in 4:2:0 needs them).
    pub fn size(&self) -> (u32, u32) {
        let even = |x: f32| (x.round() as u32 + 1) & !1;
        (even(PITCH[0] * self.scale + 2.0 * self.margin), even(PITCH[1] * self.scale + 2.0 * self.margin))
    }

    /// Pixel of pitch point (x, y). y grows upward in the picture, so that the touchline at
    /// y = −34 m (the broadcast camera's side) is at the bottom, as a viewer of the match
    /// sees it.
    pub fn px(&self, x: f64, y: f64) -> (f32, f32) {
        (self.margin + (x as f32 + PITCH[0] / 2.0) * self.scale, self.margin + (PITCH[1] / 2.0 - y as f32) * self.scale)
    }

    /// A new picture of this view's size with the pitch drawn on it.
    pub fn pitch_picture(&self) -> Result<Pixmap, VizError> {
        let (w, h) = self.size();
        let mut pm = pixmap(w, h)?;
        self.draw_pitch(&mut pm);
        Ok(pm)
    }

    /// Draws grass (with mowing stripes), all the markings of a 105 × 68 m pitch and the goals.
    pub fn draw_pitch(&self, pm: &mut Pixmap) {
        pm.fill(rgb([34, 84, 40]));
        let stripes = 14;
        let sw = PITCH[0] / stripes as f32;
        for i in 0..stripes {
            let (x0, y0) = self.px((-PITCH[0] / 2.0 + i as f32 * sw) as f64, PITCH[1] as f64 / 2.0);
            let c = if i % 2 == 0 { GRASS } else { GRASS_STRIPE };
            if let Some(r) = Rect::from_xywh(x0, y0, sw * self.scale + 0.5, PITCH[1] * self.scale) {
                pm.fill_rect(r, &paint(rgb(c)), Transform::identity(), None);
            }
        }
        let (hl, hw) = (PITCH[0] as f64 / 2.0, PITCH[1] as f64 / 2.0);
        let mut pb = PathBuilder::new();
        let rect = |pb: &mut PathBuilder, x0: f64, y0: f64, x1: f64, y1: f64| {
            let (a, b) = (self.px(x0, y0), self.px(x1, y1));
            pb.move_to(a.0, a.1);
            pb.line_to(b.0, a.1);
            pb.line_to(b.0, b.1);
            pb.line_to(a.0, b.1);
            pb.close();
        };
        rect(&mut pb, -hl, -hw, hl, hw);
        for side in [-1.0, 1.0] {
            // Penalty area 16.5 m deep, 40.32 m wide; goal area 5.5 m deep, 18.32 m wide.
            rect(&mut pb, side * hl, -20.16, side * (hl - 16.5), 20.16);
            rect(&mut pb, side * hl, -9.16, side * (hl - 5.5), 9.16);
        }
        let (t0, t1) = (self.px(0.0, -hw), self.px(0.0, hw));
        pb.move_to(t0.0, t0.1);
        pb.line_to(t1.0, t1.1);
        let (cx, cy) = self.px(0.0, 0.0);
        pb.push_circle(cx, cy, 9.15 * self.scale);
        // Penalty arcs: the part of the 9.15 m circle round the spot (11 m) outside the area.
        for side in [-1.0f64, 1.0] {
            let spot = side * (hl - 11.0);
            let half = (5.5f64 / 9.15).acos(); // the arc meets the area line 16.5 m out
            let n = 24;
            for k in 0..=n {
                let a = -half + 2.0 * half * k as f64 / n as f64;
                let (x, y) = (spot - side * 9.15 * a.cos(), 9.15 * a.sin());
                let p = self.px(x, y);
                if k == 0 { pb.move_to(p.0, p.1) } else { pb.line_to(p.0, p.1) }
            }
        }
        if let Some(path) = pb.finish() {
            let stroke = Stroke { width: (0.12 * self.scale).max(2.0), ..Stroke::default() };
            pm.stroke_path(&path, &paint(rgb(LINE)), &stroke, Transform::identity(), None);
        }
        let mut spots = PathBuilder::new();
        for x in [0.0, -(hl - 11.0), hl - 11.0] {
            let p = self.px(x, 0.0);
            spots.push_circle(p.0, p.1, (0.25 * self.scale).max(1.5));
        }
        if let Some(path) = spots.finish() {
            pm.fill_path(&path, &paint(rgb(LINE)), FillRule::Winding, Transform::identity(), None);
        }
        // Goals: 7.32 m wide, drawn 1.5 m deep behind the line.
        let mut goals = PathBuilder::new();
        for side in [-1.0, 1.0] {
            let (a, b) = (self.px(side * hl, 3.66), self.px(side * (hl + 1.5), -3.66));
            if let Some(r) = Rect::from_ltrb(a.0.min(b.0), a.1, a.0.max(b.0), b.1) {
                goals.push_rect(r);
            }
        }
        if let Some(path) = goals.finish() {
            let stroke = Stroke { width: (0.12 * self.scale).max(2.0), ..Stroke::default() };
            pm.stroke_path(&path, &paint(rgb(LINE)), &stroke, Transform::identity(), None);
        }
    }

    /// A filled disc with a dark outline at pitch point (x, y), radius in pixels.
    pub fn dot(&self, pm: &mut Pixmap, x: f64, y: f64, radius: f32, fill: [u8; 3]) {
        let (u, v) = self.px(x, y);
        disc(pm, u, v, radius, fill, Some([15, 15, 15]));
    }
}

/// A filled disc at pixel (u, v), with an optional 1.5 px outline.
pub fn disc(pm: &mut Pixmap, u: f32, v: f32, radius: f32, fill: [u8; 3], outline: Option<[u8; 3]>) {
    let Some(path) = PathBuilder::from_circle(u, v, radius) else { return };
    pm.fill_path(&path, &paint(rgb(fill)), FillRule::Winding, Transform::identity(), None);
    if let Some(o) = outline {
        let stroke = Stroke { width: 1.5, ..Stroke::default() };
        pm.stroke_path(&path, &paint(rgb(o)), &stroke, Transform::identity(), None);
    }
}

/// Writes a pixmap as PNG, atomically (readers never see a partial file).
pub fn save_png(pm: &Pixmap, path: &std::path::Path) -> Result<(), VizError> {
    let bytes = pm.encode_png().map_err(|e| VizError::Png { path: path.to_path_buf(), message: e.to_string() })?;
    crate::report::write_atomic(path, &bytes)
        .map_err(|e| VizError::Write { path: path.to_path_buf(), message: e.to_string() })
}
