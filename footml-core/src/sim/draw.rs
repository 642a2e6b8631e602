//! The rasteriser: grass, lines, goals, boards, people and the ball, antialiased with
//! tiny-skia, in a camera's perspective.
//!
//! Everything is modelled in world metres and projected, so sizes and foreshortening follow
//! the camera exactly. Ground markings are polygons on the ground plane clipped against the
//! camera's near plane before projection; people are articulated figures (head, torso, shorts,
//! arms and legs as round-capped strokes whose width is their metric width at their depth);
//! everything standing is drawn far to near so nearer people occlude farther ones.

use nalgebra::{Vector2, Vector3};
use tiny_skia::{FillRule, LineCap, Paint, PathBuilder, Pixmap, Stroke, Transform};

use super::camera::{Camera, NEAR_M};
use super::tracking::{Role, Team};

/// Pitch length, metres.
pub const PITCH_L: f64 = 105.0;
/// Pitch width, metres.
pub const PITCH_W: f64 = 68.0;
/// Width of the painted lines, metres (Laws of the Game: at most 12 cm).
const LINE_W: f64 = 0.12;
/// Goal: half the inside width, height, depth of the net, post thickness (metres).
const GOAL_HALF_W: f64 = 3.66;
const GOAL_H: f64 = 2.44;
const GOAL_DEPTH: f64 = 2.0;
const POST_W: f64 = 0.12;
/// Ball radius, metres.
pub const BALL_R: f64 = 0.11;
/// Where the advertising boards stand, metres beyond the touchlines / goal lines, and their height.
const BOARD_GAP: f64 = 4.0;
const BOARD_H: f64 = 0.9;
/// The sun: direction the shadows fall (ground plane), and their length per metre of height.
const SHADOW_DIR: [f64; 2] = [0.55, 0.83];
const SHADOW_LEN: f64 = 0.45;

/// An sRGB colour.
pub type Rgb = [u8; 3];

/// The colours a person wears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Kit {
    /// Shirt colour.
    #[serde(serialize_with = "hex")]
    pub shirt: Rgb,
    /// Shorts colour.
    #[serde(serialize_with = "hex")]
    pub shorts: Rgb,
    /// Socks colour.
    #[serde(serialize_with = "hex")]
    pub socks: Rgb,
    /// Long sleeves (goalkeepers).
    pub long_sleeves: bool,
}

fn hex<S: serde::Serializer>(c: &Rgb, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]))
}

/// The kit of a team and role: red/white home, yellow/black away, purple and grey
/// goalkeepers, a black referee — five kits a team classifier must tell apart.
pub fn kit(team: Team, role: Role) -> Kit {
    let k = |shirt, shorts, socks, long_sleeves| Kit { shirt, shorts, socks, long_sleeves };
    match (team, role) {
        (Team::Home, Role::Goalkeeper) => k([120, 60, 170], [60, 30, 90], [120, 60, 170], true),
        (Team::Away, Role::Goalkeeper) => k([95, 100, 120], [60, 62, 75], [95, 100, 120], true),
        (Team::Home, _) => k([210, 25, 40], [245, 245, 245], [210, 25, 40], false),
        (Team::Away, _) => k([250, 215, 20], [25, 25, 25], [250, 215, 20], false),
        (Team::None, _) => k([20, 20, 22], [20, 20, 22], [20, 20, 22], false),
    }
}

const SKIN: [Rgb; 5] = [[241, 194, 160], [224, 172, 130], [198, 134, 90], [141, 85, 54], [92, 56, 38]];
const HAIR: [Rgb; 4] = [[25, 20, 18], [60, 40, 25], [110, 75, 40], [200, 170, 110]];
const BOOTS: Rgb = [15, 15, 15];

/// A person's pose in one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// The person's id (chooses skin tone and hair).
    pub id: u32,
    /// Feet position on the pitch, metres.
    pub pos: [f64; 2],
    /// Unit vector the person faces (ground plane).
    pub facing: [f64; 2],
    /// Ground speed, m/s.
    pub speed: f64,
    /// Run-cycle phase, radians: advances by 2π per stride cycle travelled.
    pub phase: f64,
    /// What they wear.
    pub kit: Kit,
}

/// The cycle length (two steps) of a gait at `speed` m/s, metres: longer strides when faster.
pub fn stride_cycle_m(speed: f64) -> f64 {
    (1.0 + 0.45 * speed).clamp(1.0, 4.5)
}

/// Something drawn with one colour.
enum Prim {
    /// A round-capped segment: end points (world), width in metres.
    Limb(Vector3<f64>, Vector3<f64>, f64, Rgb),
    /// The silhouette (convex hull) of a set of world points.
    Hull(Vec<Vector3<f64>>, Rgb),
    /// A sphere: centre, radius (metres).
    Ball(Vector3<f64>, f64, Rgb),
}

/// The drawn figure of a person: primitives in drawing order.
pub struct Figure {
    prims: Vec<Prim>,
    /// Depth of the feet along the optical axis, metres (for far-to-near order).
    pub depth: f64,
}

fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

fn shade(c: Rgb, k: f64) -> Rgb {
    c.map(|v| (f64::from(v) * k).round().clamp(0.0, 255.0) as u8)
}

/// The articulated figure of `pose` as seen by `cam`, or `None` when it is behind the camera.
pub fn figure(pose: &Pose, cam: &Camera) -> Option<Figure> {
    let p = Vector3::new(pose.pos[0], pose.pos[1], 0.0);
    let depth = cam.to_camera(p).z;
    if depth < NEAR_M + 1.0 {
        return None;
    }
    let d = Vector3::new(pose.facing[0], pose.facing[1], 0.0);
    let l = Vector3::new(-d.y, d.x, 0.0); // left of the facing direction
    let z = Vector3::z();
    let h = hash(pose.id.wrapping_mul(2_654_435_761));
    let skin = SKIN[(h % SKIN.len() as u32) as usize];
    let hair = HAIR[((h >> 8) % HAIR.len() as u32) as usize];
    let kit = pose.kit;
    let s = pose.speed;
    let moving = (s / 1.5).min(1.0); // 0 standing .. 1 running: blends idle into the gait
    let thigh_amp = moving * (0.3 + 0.07 * s).min(0.75);
    let knee_amp = moving * (0.35 + 0.2 * s).min(1.6);
    let arm_amp = moving * (0.25 + 0.06 * s).min(0.7);
    let elbow = 0.25 + moving * (0.35 + 0.12 * s).min(1.3);
    let lean = (0.025 * s).min(0.18); // runners lean forward
    // Left (+l) and right (−l) limbs; the right leg is half a cycle behind the left.
    let leg = |side: f64, ph: f64, hip: Vector3<f64>| {
        // The thigh drives further forward than it pushes back (sprinters lift the knee), so
        // the swing is biased forwards and the leg behind stays near the ground.
        let th = thigh_amp * (0.3 + 0.7 * ph.sin());
        // The knee folds most (heel kick) as the thigh swings through under the body, and the
        // leg is nearly straight while it pushes off behind.
        let kn = 0.12 + knee_amp * (ph + 1.77).sin().max(0.0).powi(2);
        let knee = hip + 0.46 * (th.sin() * d - th.cos() * z) + 0.02 * side * l;
        let ankle = knee + 0.45 * ((th - kn).sin() * d - (th - kn).cos() * z);
        (knee, ankle)
    };
    let hip_z = 0.95;
    let hips = [1.0, -1.0].map(|side| p + 0.1 * side * l + hip_z * z);
    let phases = [pose.phase, pose.phase + std::f64::consts::PI];
    let legs = [leg(1.0, phases[0], hips[0]), leg(-1.0, phases[1], hips[1])];
    // Lower the body until the lower foot touches the ground (so it bobs with the gait), but
    // by no more than a runner's hips drop: at full stride both feet are in the air.
    let lift = (0.08 - legs[0].1.z.min(legs[1].1.z)).max(-0.04 - 0.02 * s.min(3.0));
    let up = lift * z;
    let top = |v: Vector3<f64>| v + up + lean * (v.z - 0.95).max(0.0) * d;
    let shoulder_c = top(p + 1.45 * z);
    let near_is_left = (cam.position - p).dot(&l) > 0.0;
    let mut prims = Vec::with_capacity(24);

    // Limbs as wide as an athlete's (thigh ≈ 17 cm, calf ≈ 15 cm, upper arm ≈ 10 cm): thinner
    // stick limbs were found less often by the default person model (benches/README.md).
    let push_leg = |i: usize, dim: f64, prims: &mut Vec<Prim>| {
        let (knee, ankle) = (legs[i].0 + up, legs[i].1 + up);
        let hip = hips[i] + up;
        let thigh_mid = hip + 0.45 * (knee - hip);
        prims.push(Prim::Limb(thigh_mid, knee, 0.175, shade(skin, dim)));
        prims.push(Prim::Limb(knee, ankle, 0.15, shade(kit.socks, dim)));
        prims.push(Prim::Limb(ankle, ankle + 0.17 * d - 0.03 * z, 0.09, BOOTS));
        prims.push(Prim::Limb(hip, thigh_mid, 0.225, shade(kit.shorts, dim)));
    };
    let arm = |side: f64, ph: f64| {
        let a = -arm_amp * ph.sin();
        let shoulder = shoulder_c + 0.2 * side * l - 0.03 * z;
        let out = 0.12 * side * l;
        let upper = (a.sin() * d - a.cos() * z + out).normalize();
        let el = shoulder + 0.29 * upper;
        let b = a + elbow;
        let fore = (b.sin() * d - b.cos() * z + 0.5 * out).normalize();
        (shoulder, el, el + 0.26 * fore)
    };
    let push_arm = |side: f64, ph: f64, dim: f64, prims: &mut Vec<Prim>| {
        let (sh, el, wr) = arm(side, ph);
        let sleeve_end = if kit.long_sleeves { el } else { sh + 0.5 * (el - sh) };
        prims.push(Prim::Limb(sleeve_end, el, 0.105, shade(if kit.long_sleeves { kit.shirt } else { skin }, dim)));
        let fore_colour = if kit.long_sleeves { kit.shirt } else { skin };
        prims.push(Prim::Limb(el, wr, 0.095, shade(fore_colour, dim)));
        prims.push(Prim::Ball(wr + 0.03 * (wr - el).normalize(), 0.045, shade(skin, dim)));
        prims.push(Prim::Limb(sh, sleeve_end, 0.135, shade(kit.shirt, dim)));
    };
    // Far limbs first (slightly darker: in the body's shade), then the body, then near limbs.
    let (far, near) = if near_is_left { (1usize, 0usize) } else { (0, 1) };
    let side_of = |i: usize| if i == 0 { 1.0 } else { -1.0 };
    // Arms swing against the same-side leg: the left arm follows the right leg's phase.
    push_arm(side_of(far), phases[1 - far], 0.8, &mut prims);
    push_leg(far, 0.85, &mut prims);
    push_leg(near, 1.0, &mut prims);
    let box_pts = |c: Vector3<f64>, half_w: f64, half_d: f64, z0: f64, z1: f64| {
        let mut v = Vec::with_capacity(8);
        for zz in [z0, z1] {
            for sw in [-half_w, half_w] {
                for sd in [-half_d, half_d] {
                    v.push(top(c + sw * l + sd * d + zz * z));
                }
            }
        }
        v
    };
    let base = p + up;
    prims.push(Prim::Hull(box_pts(base, 0.17, 0.12, 0.72, 0.97), kit.shorts));
    // A tapered torso (narrow waist, broad chest, sloping shoulders) rounded at the shoulders
    // by the deltoids: a box-shaped torso read less as a person to the default model (fewer
    // full-frame detections at the same height, benches/README.md).
    let mut torso = box_pts(base, 0.15, 0.1, 0.93, 1.02);
    torso.extend(box_pts(base, 0.2, 0.12, 1.25, 1.38));
    torso.extend(box_pts(base, 0.16, 0.09, 1.38, 1.49));
    prims.push(Prim::Hull(torso, kit.shirt));
    for side in [-1.0, 1.0] {
        prims.push(Prim::Ball(top(p + 1.39 * z + 0.19 * side * l), 0.075, kit.shirt));
    }
    push_arm(side_of(near), phases[1 - near], 1.0, &mut prims);
    let neck = top(p + 1.47 * z);
    prims.push(Prim::Limb(neck, top(p + 1.56 * z), 0.1, shade(skin, 0.9)));
    let head = top(p + 1.66 * z);
    // Hair: the whole head from behind, a cap from the front.
    let facing_cam = (cam.position - p).dot(&d) > 0.0;
    if facing_cam {
        prims.push(Prim::Ball(head + 0.015 * z, 0.105, hair));
        prims.push(Prim::Ball(head - 0.012 * z + 0.02 * d, 0.098, skin));
    } else {
        prims.push(Prim::Ball(head, 0.105, skin));
        prims.push(Prim::Ball(head + 0.012 * z - 0.01 * d, 0.1, hair));
    }
    Some(Figure { prims, depth })
}

/// The pixel-space extent of a primitive list: `[x0, y0, x1, y1]`.
fn prim_bounds(prims: &[Prim], cam: &Camera) -> Option<[f64; 4]> {
    let mut b = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    let mut grow = |p: Vector3<f64>, r_m: f64| -> Option<()> {
        let (uv, depth) = cam.project(p)?;
        let r = r_m * cam.focal_px / depth;
        b = [b[0].min(uv[0] - r), b[1].min(uv[1] - r), b[2].max(uv[0] + r), b[3].max(uv[1] + r)];
        Some(())
    };
    for prim in prims {
        match prim {
            Prim::Limb(a, c, w, _) => {
                grow(*a, w / 2.0)?;
                grow(*c, w / 2.0)?;
            }
            Prim::Hull(pts, _) => {
                for q in pts {
                    grow(*q, 0.0)?;
                }
            }
            Prim::Ball(c, r, _) => grow(*c, *r)?,
        }
    }
    Some(b)
}

impl Figure {
    /// The figure's bounding box in pixels, `[x0, y0, x1, y1]` (unclipped): exactly the
    /// extent of what [`Painter::draw_figure`] paints, before antialiasing.
    pub fn bounds(&self, cam: &Camera) -> Option<[f64; 4]> {
        prim_bounds(&self.prims, cam)
    }
}

/// Paints frames of one size.
pub struct Painter {
    /// The frame being painted (premultiplied RGBA; every pixel opaque).
    pub pixmap: Pixmap,
}

fn paint(c: Rgb, alpha: u8) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color_rgba8(c[0], c[1], c[2], alpha);
    p.anti_alias = true;
    p
}

/// Clips a polygon (camera frame) to depth ≥ [`NEAR_M`] (Sutherland–Hodgman, one plane).
fn clip_near(poly: &[Vector3<f64>]) -> Vec<Vector3<f64>> {
    let mut out = Vec::with_capacity(poly.len() + 2);
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
        let (ina, inb) = (a.z >= NEAR_M, b.z >= NEAR_M);
        if ina {
            out.push(a);
        }
        if ina != inb {
            let t = (NEAR_M - a.z) / (b.z - a.z);
            out.push(a + t * (b - a));
        }
    }
    out
}

impl Painter {
    /// A painter for `width × height` frames, or `None` for a zero size.
    pub fn new(width: u32, height: u32) -> Option<Self> {
        Some(Painter { pixmap: Pixmap::new(width, height)? })
    }

    /// Paints the ground, the stands beyond it and the crowd: every pixel, by casting its ray
    /// onto the ground plane. Mowing stripes run across the pitch every 5.25 m (20 stripes).
    pub fn background(&mut self, cam: &Camera) {
        let (w, h) = (self.pixmap.width() as usize, self.pixmap.height() as usize);
        let rt = cam.rotation.transpose();
        let (cx, cy, f) = (w as f64 / 2.0, h as f64 / 2.0, cam.focal_px);
        let c = cam.position;
        let data = self.pixmap.data_mut();
        for v in 0..h {
            // The ray through (u, v) is rt * ((u − cx)/f, (v − cy)/f, 1): linear in u.
            let d0 = rt * Vector3::new(-cx / f, (v as f64 - cy) / f, 1.0);
            let du = rt * Vector3::new(1.0 / f, 0.0, 0.0);
            for u in 0..w {
                let d = d0 + du * u as f64;
                let rgb = if d.z < -1e-6 {
                    let t = -c.z / d.z;
                    let (x, y) = (c.x + t * d.x, c.y + t * d.y);
                    ground_colour(x, y, u as u32, v as u32)
                } else {
                    crowd_colour(u as u32, v as u32)
                };
                let o = (v * w + u) * 4;
                data[o..o + 3].copy_from_slice(&rgb);
                data[o + 3] = 255;
            }
        }
    }

    /// Fills ground-plane polygons (pitch metres) as one path, so that overlapping pieces of
    /// one marking blend once.
    fn fill_ground(&mut self, cam: &Camera, polys: &[Vec<[f64; 2]>], c: Rgb, alpha: u8) {
        let world: Vec<Vec<Vector3<f64>>> =
            polys.iter().map(|poly| poly.iter().map(|q| Vector3::new(q[0], q[1], 0.0)).collect()).collect();
        self.fill_world(cam, &world, c, alpha);
    }

    /// Fills world polygons as one path, each clipped to the near plane and projected.
    fn fill_world(&mut self, cam: &Camera, polys: &[Vec<Vector3<f64>>], c: Rgb, alpha: u8) {
        let mut pb = PathBuilder::new();
        for poly in polys {
            let pc: Vec<_> = poly.iter().map(|q| cam.to_camera(*q)).collect();
            let clipped = clip_near(&pc);
            if clipped.len() < 3 {
                continue;
            }
            for (i, q) in clipped.iter().enumerate() {
                let [x, y] = cam.pixel(*q);
                if i == 0 {
                    pb.move_to(x as f32, y as f32);
                } else {
                    pb.line_to(x as f32, y as f32);
                }
            }
            pb.close();
        }
        if let Some(path) = pb.finish() {
            self.pixmap.fill_path(&path, &paint(c, alpha), FillRule::Winding, Transform::identity(), None);
        }
    }

    /// The pitch markings (Laws of the Game, 105 × 68 m), white, 12 cm wide.
    pub fn lines(&mut self, cam: &Camera) {
        let mut polys = Vec::new();
        for seg in pitch_markings() {
            for w in seg.windows(2) {
                polys.push(ground_quad(w[0], w[1], LINE_W));
            }
        }
        for spot in crate::vision::pitch::spots(PITCH_L) {
            polys.push(circle_poly(spot, 0.2));
        }
        self.fill_ground(cam, &polys, [238, 240, 236], 235);
    }

    /// Soft shadows of people and the ball on the ground: two nested ellipses, so their edges
    /// fade.
    pub fn shadows(&mut self, cam: &Camera, poses: &[Pose], ball: Option<[f64; 3]>) {
        let dir = Vector2::new(SHADOW_DIR[0], SHADOW_DIR[1]).normalize();
        let mut outer = Vec::new();
        let mut inner = Vec::new();
        for p in poses {
            let len = 1.8 * SHADOW_LEN;
            let c = Vector2::new(p.pos[0], p.pos[1]) + dir * len / 2.0;
            outer.push(ellipse_poly(c, dir, len / 2.0 + 0.15, 0.36));
            inner.push(ellipse_poly(c, dir, len / 2.0 - 0.05, 0.22));
        }
        if let Some([x, y, z]) = ball {
            let c = Vector2::new(x, y) + dir * (z * SHADOW_LEN);
            outer.push(ellipse_poly(c, dir, BALL_R * 1.4, BALL_R * 1.1));
        }
        self.fill_ground(cam, &outer, [10, 30, 5], 55);
        self.fill_ground(cam, &inner, [10, 30, 5], 60);
    }

    /// The goals: net (a translucent grid), posts and crossbar.
    pub fn goals(&mut self, cam: &Camera) {
        for sx in [-1.0, 1.0] {
            let gx = sx * PITCH_L / 2.0;
            let bx = gx + sx * GOAL_DEPTH;
            let net = |y: f64, zz: f64| Vector3::new(bx, y, zz * 0.8);
            let mut strands = Vec::new();
            for i in 0..=12 {
                let y = -GOAL_HALF_W + 2.0 * GOAL_HALF_W * f64::from(i) / 12.0;
                strands.push((Vector3::new(gx, y, GOAL_H), net(y, GOAL_H)));
                strands.push((net(y, GOAL_H), net(y, 0.0)));
            }
            for i in 0..=5 {
                let zz = GOAL_H * f64::from(i) / 5.0;
                strands.push((net(-GOAL_HALF_W, zz), net(GOAL_HALF_W, zz)));
                for sy in [-1.0, 1.0] {
                    strands.push((Vector3::new(gx, sy * GOAL_HALF_W, zz), net(sy * GOAL_HALF_W, zz)));
                }
            }
            for (a, b) in strands {
                self.limb(cam, a, b, 0.03, [230, 230, 230], 110, LineCap::Butt);
            }
            let posts = [
                (Vector3::new(gx, -GOAL_HALF_W, 0.0), Vector3::new(gx, -GOAL_HALF_W, GOAL_H)),
                (Vector3::new(gx, GOAL_HALF_W, 0.0), Vector3::new(gx, GOAL_HALF_W, GOAL_H)),
                (Vector3::new(gx, -GOAL_HALF_W, GOAL_H), Vector3::new(gx, GOAL_HALF_W, GOAL_H)),
            ];
            for (a, b) in posts {
                self.limb(cam, a, b, POST_W, [250, 250, 250], 255, LineCap::Square);
            }
        }
    }

    /// Advertising boards around the pitch: vertical quads in alternating sponsor colours.
    pub fn boards(&mut self, cam: &Camera) {
        const COLOURS: [Rgb; 4] = [[20, 60, 160], [235, 235, 235], [200, 30, 40], [20, 20, 20]];
        let (hx, hy) = (PITCH_L / 2.0 + BOARD_GAP, PITCH_W / 2.0 + BOARD_GAP);
        let mut runs = Vec::new();
        for sy in [-1.0, 1.0] {
            runs.push(([-hx, sy * hy], [hx, sy * hy]));
        }
        for sx in [-1.0, 1.0] {
            runs.push(([sx * hx, -hy], [sx * hx, hy]));
        }
        for (a, b) in runs {
            let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
            let n = (len / 6.0).ceil() as usize;
            for i in 0..n {
                let t0 = i as f64 / n as f64;
                let t1 = (i + 1) as f64 / n as f64;
                let p = |t: f64, zz: f64| Vector3::new(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), zz);
                let quad = vec![p(t0, 0.0), p(t1, 0.0), p(t1, BOARD_H), p(t0, BOARD_H)];
                self.fill_world(cam, &[quad], COLOURS[i % COLOURS.len()], 255);
            }
        }
    }

    /// A world segment of width `w_m` metres (its width at the depth of its midpoint).
    #[allow(clippy::too_many_arguments)]
    fn limb(&mut self, cam: &Camera, a: Vector3<f64>, b: Vector3<f64>, w_m: f64, c: Rgb, alpha: u8, cap: LineCap) {
        let (pa, pb_) = (cam.to_camera(a), cam.to_camera(b));
        if pa.z < NEAR_M || pb_.z < NEAR_M {
            return;
        }
        let depth = (pa.z + pb_.z) / 2.0;
        let width = (w_m * cam.focal_px / depth) as f32;
        let ([x0, y0], [x1, y1]) = (cam.pixel(pa), cam.pixel(pb_));
        let mut pb = PathBuilder::new();
        pb.move_to(x0 as f32, y0 as f32);
        pb.line_to(x1 as f32, y1 as f32);
        if let Some(path) = pb.finish() {
            let stroke = Stroke { width: width.max(0.3), line_cap: cap, ..Default::default() };
            self.pixmap.stroke_path(&path, &paint(c, alpha), &stroke, Transform::identity(), None);
        }
    }

    fn disc(&mut self, cam: &Camera, c: Vector3<f64>, r_m: f64, colour: Rgb) {
        if let Some((uv, depth)) = cam.project(c) {
            let r = (r_m * cam.focal_px / depth) as f32;
            if let Some(path) = PathBuilder::from_circle(uv[0] as f32, uv[1] as f32, r.max(0.4)) {
                self.pixmap.fill_path(&path, &paint(colour, 255), FillRule::Winding, Transform::identity(), None);
            }
        }
    }

    /// Paints a person.
    pub fn draw_figure(&mut self, cam: &Camera, fig: &Figure) {
        // Each part is shaded as a lit cylinder or body: its colour darkened, then a lighter,
        // narrower core shifted towards the light (from the left). Flat cut-outs look less
        // like people to a detector trained on photos.
        for prim in &fig.prims {
            match prim {
                Prim::Limb(a, b, w, c) => {
                    self.limb(cam, *a, *b, *w, shade(*c, 0.72), 255, LineCap::Round);
                    let shift = cam.rotation.row(0).transpose() * (-0.18 * w);
                    self.limb(cam, a + shift, b + shift, 0.5 * w, shade(*c, 1.08), 255, LineCap::Round);
                }
                Prim::Hull(pts, c) => {
                    let px: Vec<[f64; 2]> = pts.iter().filter_map(|q| cam.project(*q)).map(|(uv, _)| uv).collect();
                    let hull = convex_hull(px);
                    self.fill_pixels(&hull, shade(*c, 0.75));
                    // The lit core: the silhouette shrunk towards a point left of its centre.
                    if hull.len() >= 3 {
                        let n = hull.len() as f64;
                        let (mx, my) =
                            (hull.iter().map(|q| q[0]).sum::<f64>() / n, hull.iter().map(|q| q[1]).sum::<f64>() / n);
                        let width = hull.iter().map(|q| q[0]).fold(f64::NEG_INFINITY, f64::max)
                            - hull.iter().map(|q| q[0]).fold(f64::INFINITY, f64::min);
                        let (cx, cy) = (mx - 0.12 * width, my);
                        let core: Vec<[f64; 2]> =
                            hull.iter().map(|q| [cx + 0.72 * (q[0] - cx), cy + 0.85 * (q[1] - cy)]).collect();
                        self.fill_pixels(&core, shade(*c, 1.05));
                    }
                }
                Prim::Ball(c, r, colour) => {
                    self.disc(cam, *c, *r, shade(*colour, 0.8));
                    let shift =
                        cam.rotation.row(0).transpose() * (-0.25 * r) - cam.rotation.row(1).transpose() * (0.2 * r);
                    self.disc(cam, c + shift, 0.65 * r, shade(*colour, 1.05));
                }
            }
        }
    }

    /// Fills a pixel-space polygon.
    fn fill_pixels(&mut self, poly: &[[f64; 2]], c: Rgb) {
        if poly.len() < 3 {
            return;
        }
        let mut pb = PathBuilder::new();
        pb.move_to(poly[0][0] as f32, poly[0][1] as f32);
        for q in &poly[1..] {
            pb.line_to(q[0] as f32, q[1] as f32);
        }
        pb.close();
        if let Some(path) = pb.finish() {
            self.pixmap.fill_path(&path, &paint(c, 255), FillRule::Winding, Transform::identity(), None);
        }
    }

    /// Paints the ball: a white sphere with two dark panels that roll with `spin` (radians).
    pub fn draw_ball(&mut self, cam: &Camera, centre: [f64; 3], spin: f64) {
        let c = Vector3::from(centre);
        self.disc(cam, c, BALL_R, [245, 245, 245]);
        let Some((_, depth)) = cam.project(c) else { return };
        if BALL_R * cam.focal_px / depth < 2.5 {
            return; // panels smaller than a pixel would only grey the ball
        }
        let right = cam.rotation.row(0).transpose();
        let down = cam.rotation.row(1).transpose();
        let towards = -cam.rotation.row(2).transpose();
        for k in [0.0, std::f64::consts::PI] {
            let a = spin + k;
            let off = 0.6 * BALL_R * (a.cos() * right + a.sin() * down) + 0.5 * BALL_R * towards;
            self.disc(cam, c + off, 0.3 * BALL_R, [35, 35, 35]);
        }
    }
}

/// The ball as depth-sortable geometry: its bounds in pixels (a disc of radius `f r / depth`).
pub fn ball_image(cam: &Camera, centre: [f64; 3]) -> Option<([f64; 2], f64, f64)> {
    let (uv, depth) = cam.project(Vector3::from(centre))?;
    Some((uv, BALL_R * cam.focal_px / depth, depth))
}

/// Monotone-chain convex hull of pixel points (counter-clockwise in image axes).
fn convex_hull(mut pts: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    let mut lower: Vec<[f64; 2]> = Vec::new();
    for &p in &pts {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], p) <= 0.0 {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<[f64; 2]> = Vec::new();
    for &p in pts.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], p) <= 0.0 {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

/// All pitch markings as polylines on the ground (metres).
fn pitch_markings() -> Vec<Vec<[f64; 2]>> {
    crate::vision::pitch::markings(PITCH_L, PITCH_W)
}

/// A ground quad of width `w` along the segment `a → b`. Always the same orientation, so a
/// union of quads filled with the non-zero rule has no holes.
fn ground_quad(a: [f64; 2], b: [f64; 2], w: f64) -> Vec<[f64; 2]> {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let n = (dx * dx + dy * dy).sqrt().max(1e-9);
    // Extend by half a width so segments of a polyline overlap at their joints.
    let (ex, ey) = (dx / n * w / 2.0, dy / n * w / 2.0);
    let (nx, ny) = (-ey, ex);
    vec![
        [a[0] - ex + nx, a[1] - ey + ny],
        [b[0] + ex + nx, b[1] + ey + ny],
        [b[0] + ex - nx, b[1] + ey - ny],
        [a[0] - ex - nx, a[1] - ey - ny],
    ]
}

fn circle_poly(c: [f64; 2], r: f64) -> Vec<[f64; 2]> {
    ellipse_poly(Vector2::new(c[0], c[1]), Vector2::new(1.0, 0.0), r, r)
}

fn ellipse_poly(c: Vector2<f64>, axis: Vector2<f64>, ra: f64, rb: f64) -> Vec<[f64; 2]> {
    let perp = Vector2::new(-axis.y, axis.x);
    (0..32)
        .map(|i| {
            let a = std::f64::consts::TAU * f64::from(i) / 32.0;
            let p = c + axis * (ra * a.cos()) + perp * (rb * a.sin());
            [p.x, p.y]
        })
        .collect()
}

/// Grass with mowing stripes and a little texture; beyond the run-off, the stadium floor.
fn ground_colour(x: f64, y: f64, u: u32, v: u32) -> Rgb {
    let (hl, hw) = (PITCH_L / 2.0 + BOARD_GAP, PITCH_W / 2.0 + BOARD_GAP);
    if x.abs() > hl || y.abs() > hw {
        return crowd_colour(u, v);
    }
    let stripe = ((x + PITCH_L / 2.0) / (PITCH_L / 20.0)).floor() as i64;
    let base: [f64; 3] = if stripe.rem_euclid(2) == 0 { [62.0, 128.0, 48.0] } else { [54.0, 112.0, 42.0] };
    // Slow patches (worn and lush grass) plus per-pixel grain.
    let patch = 0.04 * ((x * 0.31).sin() * (y * 0.23).cos());
    let grain = (f64::from(hash(u.wrapping_mul(7919) ^ v.wrapping_mul(104_729)) % 1000) / 1000.0 - 0.5) * 0.07;
    let k = 1.0 + patch + grain;
    base.map(|c| (c * k).round().clamp(0.0, 255.0) as u8)
}

/// The stands: dark rows with a speckle of spectators' colours.
fn crowd_colour(u: u32, v: u32) -> Rgb {
    let cell = hash((u / 3).wrapping_mul(73_856_093) ^ (v / 3).wrapping_mul(19_349_663));
    let k = f64::from(cell % 100) / 100.0;
    let base = [38.0 + 30.0 * k, 36.0 + 22.0 * k, 44.0 + 26.0 * k];
    if cell.is_multiple_of(7) {
        let c = [[170.0, 40.0, 40.0], [200, 200, 200].map(f64::from), [220.0, 190.0, 40.0]][(cell / 7 % 3) as usize];
        return c.map(|x| (x * (0.6 + 0.4 * k)) as u8);
    }
    base.map(|x| x as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bounds [`Figure::bounds`] reports (what gt.txt holds) are the extent of the pixels
    /// the figure paints, to within the antialiasing fringe.
    #[test]
    fn figure_bounds_are_the_painted_extent() {
        let cam = Camera::look_at([0.0, -62.0, 22.0], [0.0, 0.0, 0.0], 1500.0, 640, 360);
        for (i, (pos, speed, facing)) in
            [([0.0, 0.0], 0.0, [1.0, 0.0]), ([5.0, -12.0], 7.0, [0.0, 1.0]), ([-12.0, 20.0], 3.0, [0.6, -0.8])]
                .into_iter()
                .enumerate()
        {
            let pose = Pose {
                id: i as u32 + 1,
                pos,
                facing,
                speed,
                phase: 1.0 + i as f64,
                kit: kit(Team::Home, Role::Player),
            };
            let fig = figure(&pose, &cam).unwrap();
            let mut p = Painter::new(640, 360).unwrap();
            p.pixmap.fill(tiny_skia::Color::from_rgba8(0, 255, 0, 255));
            p.draw_figure(&cam, &fig);
            let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
            for (k, px) in p.pixmap.pixels().iter().enumerate() {
                if (px.red(), px.green(), px.blue()) != (0, 255, 0) {
                    let (x, y) = (k as u32 % 640, k as u32 / 640);
                    (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
                }
            }
            let b = fig.bounds(&cam).unwrap();
            for (got, want) in [(x0, b[0]), (y0, b[1]), (x1, b[2]), (y1, b[3])] {
                assert!((f64::from(got) - want).abs() <= 1.5, "painted {:?} vs bounds {b:?}", (x0, y0, x1, y1));
            }
            // A 1.8 m person: the box is about as tall as the projected 1.8 m.
            let (feet, _) = cam.project(Vector3::new(pos[0], pos[1], 0.0)).unwrap();
            let (head, _) = cam.project(Vector3::new(pos[0], pos[1], 1.8)).unwrap();
            let h = feet[1] - head[1];
            assert!((b[3] - b[1]) > 0.85 * h && (b[3] - b[1]) < 1.15 * h, "{b:?} vs {h}");
            assert!(b[0] < feet[0] && feet[0] < b[2]);
        }
    }

    #[test]
    fn hull_of_a_square_with_an_inner_point() {
        let h = convex_hull(vec![[0.0, 0.0], [2.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 2.0]]);
        assert_eq!(h.len(), 4);
        assert!(!h.contains(&[1.0, 1.0]));
    }

    #[test]
    fn near_plane_clipping_keeps_the_front_part() {
        let poly = [Vector3::new(0.0, 0.0, -1.0), Vector3::new(1.0, 0.0, 3.0), Vector3::new(0.0, 1.0, 3.0)];
        let c = clip_near(&poly);
        assert!(c.iter().all(|p| p.z >= NEAR_M - 1e-12));
        assert_eq!(c.len(), 4);
    }
}
