//! The sample-match renderer: real tracking data drawn through a known camera into a
//! broadcast-like H.264 clip, with its exact ground truth.
//!
//! No real match video can be shipped with footml, but real tracking data can: the renderer
//! turns a [tracking CSV](tracking) (every person's and the ball's pitch position per frame —
//! the bundled one is the SkillCorner match in the `kloppy` wheel) into a video a detector can
//! be run on, and writes what the video shows, so every stage of the pipeline can be scored:
//!
//! | file | content |
//! |---|---|
//! | `video.mp4` | H.264 (libx264, yuv420p), the tracking's frame rate |
//! | `gt.txt` | MOTChallenge GT `frame,id,x,y,w,h,1,1,visibility`: the extent of each drawn figure, clipped to the image; visibility = the fraction of the box inside the image and not covered by nearer people |
//! | `ball_gt.txt` | `frame,x_px,y_px,x_m,y_m,z_m,r_px`: the ball's centre in the image and on the pitch, its radius in pixels (frames where the centre is in the image) |
//! | `homography.json` | DESIGN.md per-frame homography file: `{"frames": [{"frame": 1, "image_to_pitch": [[...]]}, ...]}` |
//! | `teams.json` | every id's team, role and kit colours |
//! | `meta.json` | the source, the frame range, the camera, the kits, the file formats |
//!
//! Frames are numbered from 1 in every file; output frame 1 is tracking frame `start_frame`.
//!
//! **Camera** ([`camera`]): a pinhole broadcast main camera on the halfway line behind the near
//! touchline that pans and tilts after the smoothed ball and zooms slightly with its distance
//! ([`CameraMode::Broadcast`]), or a fixed wide camera that sees the whole pitch
//! ([`CameraMode::Static`]). The ground plane maps to the image through the exact homography
//! written per frame.
//!
//! **Scene** ([`draw`]): grass with mowing stripes, every pitch line, goals with nets,
//! advertising boards, a crowd; people as articulated figures of 1.8 m (head with hair, torso in
//! the shirt colour, shorts, socks, boots, arms and legs swinging with a run cycle whose phase
//! advances with the distance run and whose amplitude grows with speed), facing where they run
//! (or the ball when standing), with soft shadows; two teams' kits, distinct goalkeeper kits and
//! black-clad referees ([`draw::kit`]); the ball with its shadow. People and the ball are drawn
//! far to near, so the nearer occlude the farther.
//!
//! ```no_run
//! use footml::sim::{RenderConfig, render};
//! let cfg = RenderConfig::new("tests/fixtures/skillcorner/tracking.csv", "out/render").frames(100);
//! let summary = render(&cfg)?;
//! println!("{} frames, {} person boxes", summary.frames, summary.person_boxes);
//! # Ok::<(), footml::Error>(())
//! ```

pub mod camera;
pub mod draw;
pub mod encode;
pub mod photo;
pub mod tracking;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use camera::{Camera, CameraMode};
use draw::{Figure, Painter, Pose};
use tracking::Tracking;

/// Errors of the renderer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The tracking CSV does not exist.
    #[error("tracking file not found: {0}")]
    TrackingNotFound(PathBuf),
    /// The tracking CSV is malformed (`line` 0: the file as a whole).
    #[error("{}:{line}: {message}", path.display())]
    BadTracking {
        /// The file.
        path: PathBuf,
        /// The line (from 1), 0 for the file as a whole.
        line: usize,
        /// What was expected and what was found.
        message: String,
    },
    /// No frame of the tracking CSV falls in the requested range.
    #[error("{}: no frame in the requested range (from {first}{})", path.display(), last.map_or(String::new(), |l| format!(" to {l}")))]
    EmptyRange {
        /// First requested frame.
        first: u64,
        /// Last requested frame.
        last: Option<u64>,
        /// The file.
        path: PathBuf,
    },
    /// A render setting is invalid.
    #[error("invalid render setting {0}")]
    InvalidConfig(String),
    /// Encoding the video failed.
    #[error("{}: {message}", path.display())]
    Encode {
        /// The video file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// x264 presets, fastest first.
pub const X264_PRESETS: [&str; 10] =
    ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"];

/// What to render and where.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderConfig {
    /// The tracking CSV.
    pub tracking: PathBuf,
    /// Output directory (created if missing).
    pub out_dir: PathBuf,
    /// First tracking frame to render (≥ 1).
    pub start_frame: u64,
    /// Number of frames to render; `None`: to the end of the file.
    pub frames: Option<u64>,
    /// Frame size `[width, height]`, even numbers (yuv420p), 64..=8192 × 64..=4320.
    pub size: [u32; 2],
    /// How the camera moves.
    pub camera: CameraMode,
    /// x264 preset (see [`X264_PRESETS`]).
    pub preset: String,
    /// x264 constant rate factor, 0..=51 (lower: better quality, bigger file).
    pub crf: u8,
}

impl RenderConfig {
    /// Renders all of `tracking` into `out_dir` at 1920×1080 through the broadcast camera,
    /// x264 `veryfast`, CRF 20.
    pub fn new(tracking: impl Into<PathBuf>, out_dir: impl Into<PathBuf>) -> Self {
        RenderConfig {
            tracking: tracking.into(),
            out_dir: out_dir.into(),
            start_frame: 1,
            frames: None,
            size: [1920, 1080],
            camera: CameraMode::Broadcast,
            preset: "veryfast".into(),
            crf: 20,
        }
    }

    /// Sets the number of frames.
    pub fn frames(mut self, n: u64) -> Self {
        self.frames = Some(n);
        self
    }

    /// Checks every setting.
    ///
    /// # Errors
    ///
    /// [`SimError::InvalidConfig`] naming the setting, what is expected and what was found.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::InvalidConfig(m));
        let [w, h] = self.size;
        if !(64..=8192).contains(&w) || !(64..=4320).contains(&h) || w % 2 == 1 || h % 2 == 1 {
            return bad(format!("size: expected even WIDTHxHEIGHT within 64..=8192 x 64..=4320, found {w}x{h}"));
        }
        if self.start_frame == 0 {
            return bad("start_frame: expected a frame number ≥ 1, found 0".into());
        }
        if self.frames == Some(0) {
            return bad("frames: expected ≥ 1, found 0".into());
        }
        if !X264_PRESETS.contains(&self.preset.as_str()) {
            return bad(format!("preset: expected one of {}, found `{}`", X264_PRESETS.join(", "), self.preset));
        }
        if self.crf > 51 {
            return bad(format!("crf: expected 0..=51, found {}", self.crf));
        }
        Ok(())
    }
}

/// What [`render`] wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RenderSummary {
    /// Frames rendered.
    pub frames: u64,
    /// Frame rate, frames per second.
    pub fps: f64,
    /// Person boxes in `gt.txt`.
    pub person_boxes: u64,
    /// Frames with the ball in `ball_gt.txt`.
    pub ball_frames: u64,
    /// The video file.
    pub video: PathBuf,
}

/// Per-person motion over the loaded window: pose inputs per frame.
struct Motion {
    /// For each loaded frame, the poses of the people present (without the kit).
    poses: Vec<Vec<Pose>>,
    /// Ball spin angle per frame (radians), from the distance it rolled.
    ball_spin: Vec<f64>,
}

/// Half-width of the window over which speed and heading are measured, seconds: long enough
/// to average out the data's 10 fps sampling steps, short enough to follow a sprint.
const VELOCITY_HALF_WINDOW_S: f64 = 0.2;

fn motion(tracking: &Tracking) -> Motion {
    let n = tracking.frames.len();
    let mut tracks: BTreeMap<u32, Vec<Option<[f64; 2]>>> = BTreeMap::new();
    let mut phases: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for (i, f) in tracking.frames.iter().enumerate() {
        for p in &f.people {
            tracks.entry(p.id).or_insert_with(|| vec![None; n])[i] = Some([p.x, p.y]);
            phases.entry(p.id).or_insert_with(|| vec![0.0; n])[i] = p.phase;
        }
    }
    let k = ((VELOCITY_HALF_WINDOW_S * tracking.fps).round() as usize).max(1);
    let mut poses = vec![Vec::new(); n];
    for (&id, track) in &tracks {
        let ident = tracking.identities[&id];
        for i in 0..n {
            let Some(pos) = track[i] else { continue };
            let (a, b) = (i.saturating_sub(k), (i + k).min(n - 1));
            let a = (a..=i).find(|&j| track[j].is_some()).expect("i itself");
            let b = (i..=b).rev().find(|&j| track[j].is_some()).expect("i itself");
            let (pa, pb) = (track[a].expect("found"), track[b].expect("found"));
            let dt = (b - a) as f64 / tracking.fps;
            let vel = if dt > 0.0 { [(pb[0] - pa[0]) / dt, (pb[1] - pa[1]) / dt] } else { [0.0, 0.0] };
            let speed = vel[0].hypot(vel[1]);
            // Face where you run; when slowing to a stand, turn towards the ball. A function of
            // the data around the frame only, so any frame range renders the same.
            let run = ((speed - 0.3) / 0.9).clamp(0.0, 1.0);
            let to_ball = tracking.frames[i]
                .ball
                .map(|[bx, by, _]| [bx - pos[0], by - pos[1]])
                .filter(|d| d[0].hypot(d[1]) > 0.3)
                .map_or([0.0, 0.0], |d| [d[0] / d[0].hypot(d[1]), d[1] / d[0].hypot(d[1])]);
            let v = if speed > 1e-6 { [vel[0] / speed, vel[1] / speed] } else { [0.0, 0.0] };
            let mut facing = [run * v[0] + (1.0 - run) * to_ball[0], run * v[1] + (1.0 - run) * to_ball[1]];
            let m = facing[0].hypot(facing[1]);
            facing = if m > 1e-3 {
                [facing[0] / m, facing[1] / m]
            } else if ident.team == tracking::Team::Away {
                [-1.0, 0.0]
            } else {
                [1.0, 0.0]
            };
            let phase = phases[&id][i];
            poses[i].push(Pose { id, pos, facing, speed, phase, kit: draw::kit(ident.team, ident.role) });
        }
    }
    let mut spin = 0.0;
    let ball_spin = std::iter::once(0.0)
        .chain(tracking.frames.windows(2).map(|w| {
            if let (Some(a), Some(b)) = (w[0].ball, w[1].ball) {
                spin += (b[0] - a[0]).hypot(b[1] - a[1]) / draw::BALL_R;
            }
            spin
        }))
        .collect();
    Motion { poses, ball_spin }
}

/// A person's ground-truth box in one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GtBox {
    /// The person's id.
    pub id: u32,
    /// `[x, y, w, h]`, pixels, clipped to the image.
    pub bbox: [f64; 4],
    /// Fraction of the unclipped box inside the image and not covered by nearer people.
    pub visibility: f64,
}

/// Clipped boxes with visibilities from unclipped figure extents sorted far to near.
fn gt_boxes(extents: &[(u32, [f64; 4])], width: u32, height: u32) -> Vec<GtBox> {
    const GRID: usize = 10;
    let (w, h) = (f64::from(width), f64::from(height));
    let mut out = Vec::new();
    for (i, &(id, [x0, y0, x1, y1])) in extents.iter().enumerate() {
        let (cx0, cy0, cx1, cy1) = (x0.max(0.0), y0.max(0.0), x1.min(w), y1.min(h));
        if cx1 - cx0 < 1.0 || cy1 - cy0 < 1.0 {
            continue;
        }
        // Visible sample points of a GRID × GRID lattice over the box.
        let mut seen = 0;
        for a in 0..GRID {
            for b in 0..GRID {
                let px = x0 + (x1 - x0) * (a as f64 + 0.5) / GRID as f64;
                let py = y0 + (y1 - y0) * (b as f64 + 0.5) / GRID as f64;
                let inside = (0.0..w).contains(&px) && (0.0..h).contains(&py);
                let covered =
                    extents[i + 1..].iter().any(|(_, e)| (e[0]..e[2]).contains(&px) && (e[1]..e[3]).contains(&py));
                seen += usize::from(inside && !covered);
            }
        }
        out.push(GtBox { id, bbox: [cx0, cy0, cx1 - cx0, cy1 - cy0], visibility: seen as f64 / (GRID * GRID) as f64 });
    }
    out.sort_by_key(|b| b.id);
    out
}

/// Frames of context read before and after the requested range, so that the camera's ball
/// smoothing and the players' speeds are the same whichever range is rendered.
fn context_frames(fps_guess: f64) -> u64 {
    (3.0 * camera::FOLLOW_SIGMA_S * fps_guess).ceil() as u64 + 2
}

/// Renders the clip and its ground truth into `cfg.out_dir` (see the [module docs](self)).
///
/// # Errors
///
/// [`SimError`] (wrapped in [`crate::Error::Sim`]): invalid settings, a missing or malformed
/// tracking file, an empty frame range, encoding or writing failures.
pub fn render(cfg: &RenderConfig) -> crate::Result<RenderSummary> {
    cfg.validate()?;
    let [width, height] = cfg.size;
    // Context frames assume ≤ 60 fps; more only shortens the context, never breaks the render.
    let margin = context_frames(60.0);
    let last = cfg.frames.map(|n| cfg.start_frame + n - 1);
    let data = Tracking::read(&cfg.tracking, cfg.start_frame.saturating_sub(margin).max(1), last.map(|l| l + margin))?;
    let wanted: Vec<usize> = (0..data.frames.len())
        .filter(|&i| data.frames[i].frame >= cfg.start_frame && last.is_none_or(|l| data.frames[i].frame <= l))
        .collect();
    if wanted.is_empty() {
        return Err(SimError::EmptyRange { first: cfg.start_frame, last, path: cfg.tracking.clone() }.into());
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| crate::Error::from(SimError::Io { path: path.clone(), source: e })
    };
    std::fs::create_dir_all(&cfg.out_dir).map_err(io(&cfg.out_dir))?;
    let cams = camera::camera_path(cfg.camera, &data, width, height);
    let motion = motion(&data);
    let video = cfg.out_dir.join("video.mp4");
    let mut writer = encode::H264Writer::create(&video, width, height, data.fps, &cfg.preset, cfg.crf)?;
    let mut painter = Painter::new(width, height).expect("size validated");
    let (mut gt, mut ball_gt) = (String::new(), String::new());
    let mut homographies = Vec::with_capacity(wanted.len());
    let (mut person_boxes, mut ball_frames) = (0u64, 0u64);
    for (out_index, &i) in wanted.iter().enumerate() {
        let frame_no = out_index as u64 + 1;
        let cam = &cams[i];
        let ball = data.frames[i].ball;
        painter.background(cam);
        painter.lines(cam);
        painter.boards(cam);
        painter.shadows(cam, &motion.poses[i], ball);
        painter.goals(cam);
        let mut figures: Vec<(u32, Figure)> =
            motion.poses[i].iter().filter_map(|p| draw::figure(p, cam).map(|f| (p.id, f))).collect();
        figures.sort_by(|a, b| b.1.depth.total_cmp(&a.1.depth));
        let ball_img = ball.and_then(|b| draw::ball_image(cam, b).map(|img| (b, img)));
        let mut ball_drawn = false;
        let mut extents = Vec::with_capacity(figures.len());
        for (id, fig) in &figures {
            if let Some((b, (_, _, depth))) = ball_img
                && !ball_drawn
                && depth > fig.depth
            {
                painter.draw_ball(cam, b, motion.ball_spin[i]);
                ball_drawn = true;
            }
            painter.draw_figure(cam, fig);
            if let Some(e) = fig.bounds(cam) {
                extents.push((*id, e));
            }
        }
        if let Some((b, _)) = ball_img
            && !ball_drawn
        {
            painter.draw_ball(cam, b, motion.ball_spin[i]);
        }
        writer.write(painter.pixmap.data())?;
        for g in gt_boxes(&extents, width, height) {
            let [x, y, w, h] = g.bbox;
            gt.push_str(&format!("{frame_no},{},{x:.2},{y:.2},{w:.2},{h:.2},1,1,{:.2}\n", g.id, g.visibility));
            person_boxes += 1;
        }
        if let Some((b, (uv, r, _))) = ball_img
            && (0.0..f64::from(width)).contains(&uv[0])
            && (0.0..f64::from(height)).contains(&uv[1])
        {
            ball_gt.push_str(&format!(
                "{frame_no},{:.2},{:.2},{:.3},{:.3},{:.3},{r:.2}\n",
                uv[0], uv[1], b[0], b[1], b[2]
            ));
            ball_frames += 1;
        }
        let m = cam.image_to_pitch();
        let rows: Vec<[f64; 3]> = (0..3).map(|r| [m[(r, 0)], m[(r, 1)], m[(r, 2)]]).collect();
        homographies.push(serde_json::json!({"frame": frame_no, "image_to_pitch": rows}));
    }
    writer.finish()?;
    let write = |name: &str, text: &str| -> crate::Result<()> {
        let path = cfg.out_dir.join(name);
        let mut f = std::fs::File::create(&path).map_err(io(&path))?;
        f.write_all(text.as_bytes()).map_err(io(&path))
    };
    write("gt.txt", &gt)?;
    write("ball_gt.txt", &ball_gt)?;
    let json = |v: serde_json::Value| serde_json::to_string_pretty(&v).expect("JSON values serialise") + "\n";
    write(
        "homography.json",
        &json(serde_json::json!({"pitch_length": draw::PITCH_L, "pitch_width": draw::PITCH_W, "frames": homographies})),
    )?;
    let ids: BTreeMap<String, serde_json::Value> = data
        .identities
        .iter()
        .map(|(id, ident)| {
            (
                id.to_string(),
                serde_json::json!({"team": ident.team, "role": ident.role, "kit": draw::kit(ident.team, ident.role)}),
            )
        })
        .collect();
    write("teams.json", &json(serde_json::json!({"ids": ids})))?;
    let first = &cams[wanted[0]];
    let hfovs: Vec<f64> = wanted.iter().map(|&i| cams[i].hfov_deg()).collect();
    let meta = serde_json::json!({
        "generator": format!("footml {} render", crate::VERSION),
        "tracking": cfg.tracking.display().to_string(),
        "tracking_frames": [data.frames[wanted[0]].frame, data.frames[*wanted.last().expect("non-empty")].frame],
        "frame_numbering": "output frame 1 is tracking frame tracking_frames[0]; frames from 1 in every file",
        "fps": data.fps,
        "frame_count": wanted.len(),
        "frame_size": [width, height],
        "encoding": {"codec": "h264 (libx264)", "pix_fmt": "yuv420p", "preset": cfg.preset, "crf": cfg.crf},
        "camera": {
            "mode": cfg.camera,
            "model": "pinhole, no distortion, square pixels, principal point at the image centre, no roll",
            "position_m": [first.position.x, first.position.y, first.position.z],
            "hfov_deg_range": [hfovs.iter().copied().fold(f64::INFINITY, f64::min), hfovs.iter().copied().fold(0.0, f64::max)],
            "follow": "broadcast: aims at the ball's ground position smoothed by a Gaussian (sigma 1 s), x clamped to ±36 m, 0.6 y clamped to ±14 m; focal length ∝ (target distance)^0.6",
        },
        "person_model": "1.8 m articulated figure; gt box = extent of the drawn figure (strokes and head included), clipped to the image",
        "files": {
            "video.mp4": "H.264 video",
            "gt.txt": "frame,id,x,y,w,h,1,1,visibility (MOTChallenge GT)",
            "ball_gt.txt": "frame,x_px,y_px,x_m,y_m,z_m,r_px (frames with the ball centre in the image)",
            "homography.json": "per-frame image_to_pitch (DESIGN.md homography file)",
            "teams.json": "id -> team, role, kit colours",
        },
        "data_licence": "the bundled tracking.csv: SkillCorner sample data shipped in kloppy's tests (kloppy, BSD-3-Clause, https://github.com/PySport/kloppy)",
    });
    write("meta.json", &json(meta))?;
    Ok(RenderSummary { frames: wanted.len() as u64, fps: data.fps, person_boxes, ball_frames, video })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_counts_image_and_nearer_people() {
        // Far box first; the near box covers its right half; a third box is half outside.
        let e = [(1, [0.0, 0.0, 10.0, 10.0]), (2, [5.0, 0.0, 15.0, 10.0]), (3, [95.0, 0.0, 105.0, 10.0])];
        let g = gt_boxes(&e, 100, 100);
        assert_eq!(g.len(), 3);
        assert!((g[0].visibility - 0.5).abs() < 1e-9);
        assert_eq!(g[1].visibility, 1.0);
        assert_eq!(g[2].bbox, [95.0, 0.0, 5.0, 10.0]);
        assert!((g[2].visibility - 0.5).abs() < 1e-9);
    }

    #[test]
    fn bad_settings_are_rejected() {
        let base = RenderConfig::new("t.csv", "out");
        for (cfg, want) in [
            (RenderConfig { size: [641, 480], ..base.clone() }, "size"),
            (RenderConfig { size: [32, 480], ..base.clone() }, "size"),
            (RenderConfig { start_frame: 0, ..base.clone() }, "start_frame"),
            (base.clone().frames(0), "frames"),
            (RenderConfig { preset: "quick".into(), ..base.clone() }, "preset"),
            (RenderConfig { crf: 52, ..base.clone() }, "crf"),
        ] {
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        base.validate().unwrap();
    }
}
