//! Physical metrics: distance, average and maximum speed, sprints and a heatmap per player.
//!
//! [`PhysicalMetrics`] (match stage, `"metrics"`) takes each track's feet point (bottom centre
//! of the raw detection the track was updated with in that frame — best IoU ≥ 0.5 among the
//! frame's player detections — or of the track's box when there is none) through the frame's
//! homography onto the pitch, and smooths the path before measuring it, so that detection
//! noise does not inflate the distance. Raw detections rather than the tracker's
//! Kalman-filtered boxes, because the filtered box's error is correlated from frame to frame
//! and survives smoothing as distance:
//!
//! 1. **Segments**: a track's frames are split where it was unseen for more than
//!    `max_gap_frames` (the gap counts neither in distance nor in time), and where a raw step
//!    is faster than `max_speed_mps` beyond what the positions' noise explains (a tracking
//!    glitch such as an id jumping to another player: counted in `glitch_steps`).
//! 2. **Smoothing**: per segment and axis, a constant-velocity Kalman filter (white
//!    acceleration of `accel_std_mps2`) and a Rauch–Tung–Striebel smoother. Each position's
//!    noise is the feet point's pixel noise (`foot_noise_box_heights` × box height) pushed
//!    through the homography's Jacobian, so far players (a pixel spans more metres) are
//!    smoothed more than near ones. Bridged gaps are filled by the smoother.
//! 3. **Measures**: distance = length of the smoothed path (steps faster than
//!    `max_speed_mps` left out and counted as glitches); time on pitch = spans of the
//!    segments; average speed = distance / time; maximum speed = largest displacement over
//!    `max_speed_window_s` divided by that window; a sprint = a run of the smoothed speed above
//!    `sprint_speed_kmh` lasting at least `sprint_min_duration_s`, counted at its onset;
//!    heatmap = frames per cell of a grid over the pitch.
//!
//! **Team metrics** ([`crate::report::Metrics::teams`]), when team classification ran
//! (`MatchData.teams`): per team, the sum of its players' and goalkeepers' distances, and
//! `possession_pct` — the share of the frames in a team's possession phase that are this
//! team's (a team keeps the ball through passes and loose balls, as data providers count
//! possession) — from `MatchData.possession_phases` when event detection ran (`None`
//! otherwise).
//! Without teams the list stays empty rather than guessed.
//!
//! The result is stored as JSON in `MatchData.extra["metrics"]` and shown typed in the
//! report's `metrics`.

use std::collections::BTreeMap;

use crate::config::{ConfigError, MetricsConfig};
use crate::pipeline::stage::{Artifact, MatchStage, Stage, StageContext};
use crate::report::{Heatmap, Metrics, PlayerMetrics, TeamMetrics, apply_homography};
use crate::types::MatchData;
use crate::{Error, Result};

/// Checks a [`MetricsConfig`]; errors name the key as in the pipeline config.
pub(crate) fn validate_config(cfg: &MetricsConfig) -> std::result::Result<(), ConfigError> {
    const SECTION: &str = "stage_configs.metrics";
    let positive = |key: &str, x: f64| {
        if x.is_finite() && x > 0.0 { Ok(()) } else { Err(ConfigError::invalid(SECTION, key, "a positive number", x)) }
    };
    positive("accel_std_mps2", cfg.accel_std_mps2)?;
    positive("foot_noise_box_heights", cfg.foot_noise_box_heights)?;
    positive("max_speed_mps", cfg.max_speed_mps)?;
    positive("max_speed_window_s", cfg.max_speed_window_s)?;
    positive("sprint_speed_kmh", cfg.sprint_speed_kmh)?;
    positive("sprint_min_duration_s", cfg.sprint_min_duration_s)?;
    if cfg.heatmap_cells[0] == 0 || cfg.heatmap_cells[1] == 0 {
        return Err(ConfigError::invalid(SECTION, "heatmap_cells", "[cols, rows] ≥ 1", cfg.heatmap_cells));
    }
    if !cfg.pitch_size_m.iter().all(|x| x.is_finite() && *x > 0.0) {
        return Err(ConfigError::invalid(SECTION, "pitch_size_m", "positive [length, width]", cfg.pitch_size_m));
    }
    Ok(())
}

/// One position of a track on the pitch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PitchSample {
    /// Frame index.
    pub frame: u64,
    /// Position in metres.
    pub pos: [f64; 2],
    /// Noise variance of the position per axis, m².
    pub var: [f64; 2],
}

/// The metrics match stage (see the [module docs](self)).
#[derive(Debug, Clone, Default)]
pub struct PhysicalMetrics {
    cfg: MetricsConfig,
}

/// Smallest position noise (m) the smoother assumes.
const MIN_NOISE_M: f64 = 0.01;
/// Initial velocity standard deviation (m/s) of a segment.
const INITIAL_VELOCITY_STD: f64 = 4.0;

impl PhysicalMetrics {
    /// The artifact provided (and the key of `MatchData.extra` holding the metrics).
    pub const ARTIFACT: &'static str = "metrics";

    /// A stage with these settings.
    pub fn new(cfg: &MetricsConfig) -> Result<Self> {
        validate_config(cfg)?;
        Ok(PhysicalMetrics { cfg: cfg.clone() })
    }

    /// The pitch position of a box's feet point and its noise variance, through `h`.
    pub fn feet_sample(&self, h: &[[f64; 3]; 3], frame: u64, bbox: &crate::BBox) -> Option<PitchSample> {
        let (u, v) = bbox.foot();
        let (u, v) = (u as f64, v as f64);
        let p = apply_homography(h, u, v)?;
        let pu = apply_homography(h, u + 1.0, v)?;
        let pv = apply_homography(h, u, v + 1.0)?;
        let sigma_px = self.cfg.foot_noise_box_heights * bbox.h.max(1.0) as f64;
        let var = |k: usize| {
            let (ju, jv) = (pu[k] - p[k], pv[k] - p[k]);
            (sigma_px * sigma_px * (ju * ju + jv * jv)).max(MIN_NOISE_M * MIN_NOISE_M)
        };
        let var = [var(0), var(1)];
        (p[0].is_finite() && p[1].is_finite()).then_some(PitchSample { frame, pos: p, var })
    }

    /// Metrics of one track from its samples (sorted by frame) at `fps` frames per second.
    pub fn player_metrics(&self, track_id: u64, samples: &[PitchSample], fps: f64) -> PlayerMetrics {
        let cfg = &self.cfg;
        let dt = 1.0 / fps;
        let [cols, rows] = cfg.heatmap_cells;
        let cell_m = [cfg.pitch_size_m[0] / cols as f64, cfg.pitch_size_m[1] / rows as f64];
        let mut m = PlayerMetrics {
            track_id,
            distance_m: 0.0,
            time_s: 0.0,
            avg_speed_kmh: 0.0,
            max_speed_kmh: 0.0,
            sprints: 0,
            glitch_steps: 0,
            heatmap: Heatmap { cols, rows, cell_m, counts: vec![0; (cols * rows) as usize] },
        };
        let window = ((cfg.max_speed_window_s * fps).round() as usize).max(1);
        let sprint_mps = cfg.sprint_speed_kmh / 3.6;
        let sprint_frames = (cfg.sprint_min_duration_s * fps - 1e-6).ceil().max(1.0) as usize;
        let mut max_speed: f64 = 0.0;
        for seg in self.segments(samples, fps, &mut m.glitch_steps) {
            let (pos, vel) = self.smooth(seg, dt);
            // Distance and time.
            m.time_s += (pos.len() - 1) as f64 * dt;
            for w in pos.windows(2) {
                let d = dist(w[0], w[1]);
                if d > cfg.max_speed_mps * dt {
                    m.glitch_steps += 1;
                } else {
                    m.distance_m += d;
                }
            }
            // Maximum speed over the window.
            for i in window..pos.len() {
                let s = dist(pos[i - window], pos[i]) / (window as f64 * dt);
                if s <= cfg.max_speed_mps {
                    max_speed = max_speed.max(s);
                }
            }
            // Sprints: runs of the smoothed speed above the threshold.
            let mut run = 0usize;
            for v in vel.iter().map(|v| v[0].hypot(v[1])).chain(std::iter::once(0.0)) {
                if v > sprint_mps {
                    run += 1;
                } else {
                    if run >= sprint_frames {
                        m.sprints += 1;
                    }
                    run = 0;
                }
            }
            // Heatmap.
            for p in &pos {
                let col = cell_index(p[0] + cfg.pitch_size_m[0] / 2.0, cell_m[0], cols);
                let row = cell_index(p[1] + cfg.pitch_size_m[1] / 2.0, cell_m[1], rows);
                m.heatmap.counts[(row * cols + col) as usize] += 1;
            }
        }
        m.max_speed_kmh = max_speed * 3.6;
        if m.time_s > 0.0 {
            m.avg_speed_kmh = m.distance_m / m.time_s * 3.6;
        }
        m
    }

    /// Splits a track's samples at long gaps and at impossible raw jumps (counted).
    fn segments<'a>(&self, samples: &'a [PitchSample], fps: f64, glitches: &mut u32) -> Vec<&'a [PitchSample]> {
        let mut out = Vec::new();
        let mut start = 0;
        for i in 1..=samples.len() {
            let split = i == samples.len() || {
                let (a, b) = (&samples[i - 1], &samples[i]);
                let frames = b.frame.saturating_sub(a.frame).max(1);
                let gap = frames - 1 > self.cfg.max_gap_frames as u64;
                // Allow 4 standard deviations of the two positions' noise on top of the
                // fastest possible run.
                let noise = 4.0 * (a.var[0] + a.var[1] + b.var[0] + b.var[1]).sqrt();
                let jump = !gap && dist(a.pos, b.pos) > self.cfg.max_speed_mps * frames as f64 / fps + noise;
                if jump {
                    *glitches += 1;
                }
                gap || jump
            };
            if split {
                out.push(&samples[start..i]);
                start = i;
            }
        }
        out
    }

    /// Kalman + RTS smoothing of one segment, per axis; returns the position and velocity of
    /// every frame from the first to the last sample (gaps filled).
    fn smooth(&self, seg: &[PitchSample], dt: f64) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
        let first = seg[0].frame;
        let n = (seg[seg.len() - 1].frame - first) as usize + 1;
        let mut z: Vec<Option<([f64; 2], [f64; 2])>> = vec![None; n];
        for s in seg {
            z[(s.frame - first) as usize] = Some((s.pos, s.var));
        }
        let (mut pos, mut vel) = (vec![[0.0; 2]; n], vec![[0.0; 2]; n]);
        for axis in 0..2 {
            let meas: Vec<Option<(f64, f64)>> = z.iter().map(|m| m.map(|(p, v)| (p[axis], v[axis]))).collect();
            let states = smooth_axis(&meas, dt, self.cfg.accel_std_mps2);
            for (t, s) in states.iter().enumerate() {
                pos[t][axis] = s[0];
                vel[t][axis] = s[1];
            }
        }
        (pos, vel)
    }
}

/// The detection a track box was updated with this frame (best IoU ≥ 0.5), else the box.
///
/// A tracker reports its Kalman-filtered box, whose error is correlated from frame to frame:
/// it wanders slowly and survives the metrics smoother as extra distance (on the far side a
/// pixel is most of a metre). Raw detections carry independent noise, which the smoother
/// averages out.
fn measured_box(track: &crate::BBox, dets: &[crate::Detection]) -> crate::BBox {
    dets.iter()
        .map(|d| (d.bbox.iou(track), d.bbox))
        .filter(|(iou, _)| *iou >= 0.5)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(*track, |(_, b)| b)
}

/// Cell of coordinate `x` (from the pitch edge) in a row of `n` cells of size `size`, clamped.
fn cell_index(x: f64, size: f64, n: u32) -> u32 {
    ((x / size).floor().max(0.0) as u32).min(n - 1)
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

type V2 = [f64; 2];
type M2 = [[f64; 2]; 2];

/// Constant-velocity Kalman filter and RTS smoother on one axis; `meas[0]` must be `Some`.
/// Returns `[position, velocity]` per step.
fn smooth_axis(meas: &[Option<(f64, f64)>], dt: f64, accel_std: f64) -> Vec<V2> {
    let q = accel_std * accel_std;
    let qm: M2 = [[q * dt.powi(4) / 4.0, q * dt.powi(3) / 2.0], [q * dt.powi(3) / 2.0, q * dt * dt]];
    let (z0, r0) = meas[0].expect("a segment starts with a sample");
    let mut x: V2 = [z0, 0.0];
    let mut p: M2 = [[r0, 0.0], [0.0, INITIAL_VELOCITY_STD * INITIAL_VELOCITY_STD]];
    let (mut xp, mut pp, mut xf, mut pf) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (t, m) in meas.iter().enumerate() {
        if t > 0 {
            // x = F x, P = F P Fᵀ + Q with F = [[1, dt], [0, 1]].
            x = [x[0] + dt * x[1], x[1]];
            let p00 = p[0][0] + dt * (p[1][0] + p[0][1]) + dt * dt * p[1][1];
            let p01 = p[0][1] + dt * p[1][1];
            let p10 = p[1][0] + dt * p[1][1];
            p = [[p00 + qm[0][0], p01 + qm[0][1]], [p10 + qm[1][0], p[1][1] + qm[1][1]]];
        }
        xp.push(x);
        pp.push(p);
        if let (Some((z, r)), true) = (m, t > 0) {
            let s = p[0][0] + r;
            let k = [p[0][0] / s, p[1][0] / s];
            let y = z - x[0];
            x = [x[0] + k[0] * y, x[1] + k[1] * y];
            p = [
                [(1.0 - k[0]) * p[0][0], (1.0 - k[0]) * p[0][1]],
                [p[1][0] - k[1] * p[0][0], p[1][1] - k[1] * p[0][1]],
            ];
        }
        xf.push(x);
        pf.push(p);
    }
    // RTS: C = Pf Fᵀ Pp⁻¹; xs = xf + C (xs' − xp').
    let n = meas.len();
    let mut xs = xf.clone();
    for t in (0..n.saturating_sub(1)).rev() {
        let pf_t = pf[t];
        // Pf Fᵀ
        let a: M2 = [[pf_t[0][0] + dt * pf_t[0][1], pf_t[0][1]], [pf_t[1][0] + dt * pf_t[1][1], pf_t[1][1]]];
        let b = pp[t + 1];
        let det = b[0][0] * b[1][1] - b[0][1] * b[1][0];
        if det.abs() < 1e-300 {
            continue;
        }
        let inv: M2 = [[b[1][1] / det, -b[0][1] / det], [-b[1][0] / det, b[0][0] / det]];
        let c: M2 = [
            [a[0][0] * inv[0][0] + a[0][1] * inv[1][0], a[0][0] * inv[0][1] + a[0][1] * inv[1][1]],
            [a[1][0] * inv[0][0] + a[1][1] * inv[1][0], a[1][0] * inv[0][1] + a[1][1] * inv[1][1]],
        ];
        let d = [xs[t + 1][0] - xp[t + 1][0], xs[t + 1][1] - xp[t + 1][1]];
        xs[t] = [xf[t][0] + c[0][0] * d[0] + c[0][1] * d[1], xf[t][1] + c[1][0] * d[0] + c[1][1] * d[1]];
    }
    xs
}

impl Stage for PhysicalMetrics {
    fn name(&self) -> &str {
        "metrics"
    }

    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::PLAYER_TRACKS, Artifact::HOMOGRAPHY]
    }

    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::custom(Self::ARTIFACT)]
    }

    fn after(&self) -> Vec<Artifact> {
        // Team totals need teams, and possession shares need event detection's possession.
        vec![Artifact::TEAMS, Artifact::custom(crate::stages::events::EventDetection::ARTIFACT)]
    }
}

/// Per-team distance and possession share (see the module docs); empty without teams.
fn team_metrics(data: &MatchData, players: &[PlayerMetrics]) -> Vec<TeamMetrics> {
    let Some(assignment) = &data.teams else { return Vec::new() };
    let phase_teams = data.phase_teams();
    let possessed = phase_teams.iter().filter(|t| t.is_some()).count();
    assignment
        .teams
        .iter()
        .map(|team| {
            let distance_m =
                players.iter().filter(|p| assignment.team_of(p.track_id) == Some(team.id)).map(|p| p.distance_m).sum();
            let own = phase_teams.iter().filter(|t| **t == Some(team.id)).count();
            let possession_pct = (possessed > 0).then(|| 100.0 * own as f64 / possessed as f64);
            TeamMetrics { team: team.id, possession_pct, distance_m }
        })
        .collect()
}

impl MatchStage for PhysicalMetrics {
    fn run(&mut self, data: &mut MatchData, ctx: &StageContext) -> Result<()> {
        let fps = data.video.fps;
        if !(fps.is_finite() && fps > 0.0) {
            return Err(Error::permanent(format!("metrics need a positive frame rate, found {fps}")));
        }
        let mut tracks: BTreeMap<u64, Vec<PitchSample>> = BTreeMap::new();
        for rec in &data.frames {
            let Some(h) = &rec.homography else { continue };
            let dets = rec.players.as_deref().unwrap_or_default();
            for t in rec.tracks.iter().flatten() {
                if let Some(s) = self.feet_sample(h, rec.index, &measured_box(&t.bbox, dets)) {
                    tracks.entry(t.track_id).or_default().push(s);
                }
            }
        }
        let mut players = Vec::with_capacity(tracks.len());
        for (id, mut samples) in tracks {
            if ctx.is_cancelled() {
                return Err(Error::Cancelled);
            }
            samples.sort_by_key(|s| s.frame);
            samples.dedup_by_key(|s| s.frame);
            players.push(self.player_metrics(id, &samples, fps));
        }
        let teams = team_metrics(data, &players);
        let metrics = Metrics { players, teams };
        let json = serde_json::to_value(&metrics).map_err(|e| Error::permanent(format!("metrics to JSON: {e}")))?;
        data.extra.insert(Self::ARTIFACT.to_string(), json);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{BBox, FrameRecord, TrackedBox, VideoInfo};
    use crate::vision::particle::SplitMix64;

    const FPS: f64 = 25.0;

    fn stage() -> PhysicalMetrics {
        PhysicalMetrics::new(&MetricsConfig::default()).unwrap()
    }

    /// Samples of a path given as position per frame, with a noise of `sigma` metres.
    fn samples(path: impl Fn(f64) -> [f64; 2], frames: u64, sigma: f64, seed: u64) -> Vec<PitchSample> {
        let mut rng = SplitMix64(seed);
        (0..frames)
            .map(|f| {
                let p = path(f as f64 / FPS);
                PitchSample {
                    frame: f,
                    pos: [p[0] + sigma * rng.normal(), p[1] + sigma * rng.normal()],
                    var: [(sigma * sigma).max(1e-4); 2],
                }
            })
            .collect()
    }

    /// A run along x at `speed` m/s for `secs` s, standing 2 s before and after.
    fn run(speed: f64, secs: f64) -> impl Fn(f64) -> [f64; 2] {
        move |t: f64| [-20.0 + speed * (t - 2.0).clamp(0.0, secs), 5.0]
    }

    #[test]
    fn straight_run_at_5_mps() {
        // 20 m in 4 s: 101 frames, 100 steps of 0.2 m.
        let s = samples(|t| [-10.0 + 5.0 * t, 3.0], 101, 0.0, 1);
        let m = stage().player_metrics(7, &s, FPS);
        assert_eq!(m.track_id, 7);
        assert!((m.distance_m - 20.0).abs() < 0.05, "{}", m.distance_m);
        assert!((m.time_s - 4.0).abs() < 1e-9);
        assert!((m.avg_speed_kmh - 18.0).abs() < 0.05, "{}", m.avg_speed_kmh);
        assert!((m.max_speed_kmh - 18.0).abs() < 0.1, "{}", m.max_speed_kmh);
        assert_eq!((m.sprints, m.glitch_steps), (0, 0));
    }

    #[test]
    fn sprint_needs_one_second_above_25_kmh() {
        let v = 30.0 / 3.6;
        let long = stage().player_metrics(1, &samples(run(v, 1.5), 200, 0.0, 2), FPS);
        assert_eq!(long.sprints, 1);
        // The instant start and stop (infinite acceleration) make the smoother overshoot a
        // little at both ends.
        assert!((long.distance_m - v * 1.5).abs() < 0.3, "{}", long.distance_m);
        assert!(long.max_speed_kmh > 28.0 && long.max_speed_kmh < 30.5, "{}", long.max_speed_kmh);
        let short = stage().player_metrics(1, &samples(run(v, 0.9), 200, 0.0, 3), FPS);
        assert_eq!(short.sprints, 0);
        // Two separate 1.5 s sprints.
        let two = |t: f64| [run(v, 1.5)(t)[0] + run(v, 1.5)((t - 4.0).max(0.0))[0] + 20.0, 0.0];
        assert_eq!(stage().player_metrics(1, &samples(two, 300, 0.0, 4), FPS).sprints, 2);
    }

    #[test]
    fn jitter_of_a_standing_player_is_smoothed_away() {
        let sigma = 0.3;
        let s = samples(|_| [0.0, 0.0], 250, sigma, 5);
        let raw: f64 = s.windows(2).map(|w| dist(w[0].pos, w[1].pos)).sum();
        let m = stage().player_metrics(1, &s, FPS);
        eprintln!("raw {raw:.2} m, smoothed {:.2} m", m.distance_m);
        assert!(raw > 80.0);
        assert!(m.distance_m < 0.05 * raw, "{} m of {raw} m raw", m.distance_m);
        assert!(m.max_speed_kmh < 3.0, "{}", m.max_speed_kmh);
        assert_eq!(m.sprints, 0);
    }

    #[test]
    fn gaps_split_and_glitches_are_left_out() {
        let mut s = samples(|t| [5.0 * t, 0.0], 50, 0.0, 6);
        // 20 frames unseen (more than max_gap_frames = 12): the 4 m covered meanwhile is
        // not counted, and the time does not run.
        s.extend(samples(|t| [5.0 * t, 0.0], 120, 0.0, 6).into_iter().skip(70));
        let m = stage().player_metrics(1, &s, FPS);
        assert!((m.distance_m - 5.0 * (49.0 + 49.0) / FPS).abs() < 0.05, "{}", m.distance_m);
        assert!((m.time_s - 98.0 / FPS).abs() < 1e-9);
        assert_eq!(m.glitch_steps, 0);
        // A 30 m jump in one frame (an id switch) is a glitch, not distance.
        let mut s = samples(|t| [5.0 * t, 0.0], 100, 0.0, 7);
        for p in &mut s[50..] {
            p.pos[1] += 30.0;
        }
        let m = stage().player_metrics(1, &s, FPS);
        assert_eq!(m.glitch_steps, 1);
        assert!((m.distance_m - 98.0 * 0.2).abs() < 0.05, "{}", m.distance_m);
    }

    #[test]
    fn heatmap_counts_frames_in_cells() {
        // Standing at (10, -20) for 50 frames, then at far beyond the corner for 30.
        let mut s = samples(|_| [10.0, -20.0], 50, 0.0, 8);
        s.extend(samples(|_| [80.0, 50.0], 30, 0.0, 8).into_iter().map(|mut p| {
            p.frame += 100;
            p
        }));
        let m = stage().player_metrics(1, &s, FPS);
        let h = &m.heatmap;
        assert_eq!((h.cols, h.rows, h.cell_m), (21, 14, [5.0, 68.0 / 14.0]));
        assert_eq!(h.counts.iter().sum::<u32>(), 80);
        // x = 10 → col (10 + 52.5) / 5 = 12; y = −20 → row (−20 + 34) / 4.857 = 2.
        assert_eq!(h.counts[2 * 21 + 12], 50);
        assert_eq!(h.counts[13 * 21 + 20], 30);
    }

    #[test]
    fn stage_maps_feet_through_the_homography_and_fills_the_report() {
        // 10 px per metre, pitch origin at pixel (960, 540).
        let h = [[0.1, 0.0, -96.0], [0.0, 0.1, -54.0], [0.0, 0.0, 1.0]];
        let frames = (0..101u64)
            .map(|i| {
                // Feet at pixel (960 + 2 i, 540): 0.2 m per frame along x.
                let bbox = BBox::new(960.0 + 2.0 * i as f32 - 5.0, 520.0, 10.0, 20.0);
                FrameRecord {
                    index: i,
                    time_s: i as f64 / FPS,
                    tracks: Some(vec![TrackedBox { track_id: 3, bbox, score: 0.9 }]),
                    homography: Some(h),
                    ..Default::default()
                }
            })
            .collect();
        let mut data = MatchData { video: VideoInfo { fps: FPS, ..Default::default() }, frames, ..Default::default() };
        let mut st = stage();
        assert_eq!(st.name(), "metrics");
        let ctx = StageContext::standalone("metrics", data.video.clone());
        st.run(&mut data, &ctx).unwrap();
        let report = crate::MatchReport::from_match(&data, "p", None, vec![], 0, BTreeMap::new());
        assert!(report.extra.is_empty());
        assert!(report.metrics.teams.is_empty());
        let [p] = report.metrics.players.as_slice() else { panic!("{:?}", report.metrics) };
        assert_eq!(p.track_id, 3);
        assert!((p.distance_m - 20.0).abs() < 0.05, "{}", p.distance_m);
        assert!((p.avg_speed_kmh - 18.0).abs() < 0.05, "{}", p.avg_speed_kmh);
        assert_eq!(p.heatmap.counts.iter().sum::<u32>(), 101);
    }

    #[test]
    fn team_totals_and_possession_shares() {
        use crate::analysis::{PossessionPhase, Role, TeamAssignment, TrackTeam};
        // Three tracks running along x at 0.1, 0.2 and 0.3 m per frame for 100 frames: team 0
        // is tracks 1 (player) and 2 (goalkeeper), team 1 track 3; track 4 is a referee.
        let h = [[0.1, 0.0, -96.0], [0.0, 0.1, -54.0], [0.0, 0.0, 1.0]];
        let frames = (0..101u64)
            .map(|i| {
                let t = |id: u64, px_per_frame: f32| {
                    let bbox = BBox::new(200.0 + px_per_frame * i as f32, 100.0 * id as f32, 10.0, 20.0);
                    TrackedBox { track_id: id, bbox, score: 0.9 }
                };
                FrameRecord {
                    index: i,
                    tracks: Some(vec![t(1, 1.0), t(2, 2.0), t(3, 3.0), t(4, 1.0)]),
                    homography: Some(h),
                    ..Default::default()
                }
            })
            .collect();
        let entry = TrackTeam::user;
        let teams = TeamAssignment::from_tracks([
            entry(1, Some(0), Role::Player),
            entry(2, Some(0), Role::Goalkeeper),
            entry(3, Some(1), Role::Player),
            entry(4, None, Role::Referee),
        ]);
        let mut data = MatchData {
            video: VideoInfo { fps: FPS, ..Default::default() },
            frames,
            teams: Some(teams),
            ..Default::default()
        };
        let ctx = StageContext::standalone("metrics", data.video.clone());
        // Without possession (no event detection) the shares stay unknown.
        stage().run(&mut data, &ctx).unwrap();
        let m: Metrics = serde_json::from_value(data.extra["metrics"].clone()).unwrap();
        let d: BTreeMap<u64, f64> = m.players.iter().map(|p| (p.track_id, p.distance_m)).collect();
        assert!((d[&1] - 10.0).abs() < 0.05 && (d[&2] - 20.0).abs() < 0.05 && (d[&3] - 30.0).abs() < 0.05, "{d:?}");
        assert_eq!(m.teams.len(), 2);
        assert_eq!((m.teams[0].team, m.teams[0].distance_m, m.teams[0].possession_pct), (0, d[&1] + d[&2], None));
        assert_eq!((m.teams[1].team, m.teams[1].distance_m, m.teams[1].possession_pct), (1, d[&3], None));
        // 101 frames: team 0's phase for 60, team 1's for 30, 11 out of play → 2/3 and 1/3 of
        // the possessed frames.
        let phase = |team, from_frame, to_frame| PossessionPhase { team, from_frame, to_frame };
        data.possession_phases = vec![phase(0, 0, 59), phase(1, 60, 89)];
        stage().run(&mut data, &ctx).unwrap();
        let m: Metrics = serde_json::from_value(data.extra["metrics"].clone()).unwrap();
        assert_eq!(m.teams[0].possession_pct, Some(100.0 * 60.0 / 90.0));
        assert_eq!(m.teams[1].possession_pct, Some(100.0 * 30.0 / 90.0));
    }

    #[test]
    fn config_is_validated() {
        let cfg = MetricsConfig { heatmap_cells: [0, 14], ..Default::default() };
        assert!(PhysicalMetrics::new(&cfg).is_err());
        let cfg = MetricsConfig { accel_std_mps2: 0.0, ..Default::default() };
        assert!(PhysicalMetrics::new(&cfg).is_err());
    }
}
