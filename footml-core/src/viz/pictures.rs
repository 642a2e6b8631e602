//! The still pictures: heatmaps, the radar snapshot and formation diagrams.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tiny_skia::{FilterQuality, Pixmap, PixmapPaint, Transform};

use super::VizError;
use super::canvas::{self, PitchView, TEAM_FALLBACK};
use crate::analysis::Role;
use crate::report::{Heatmap, MatchReport};

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Pixels per metre of the top-down pictures (10 gives a 1130 × 760 picture).
    pub pitch_scale: f32,
    /// Heatmap PNGs per player and per team.
    pub heatmaps: bool,
    /// The radar snapshot (`radar.png`) and, with the `sim` feature, `radar.mp4`.
    pub radar: bool,
    /// The radar video as well (one picture per frame: costs a few ms per frame).
    pub radar_video: bool,
    /// Formation diagrams per window.
    pub formations: bool,
    /// The analysed video, for `annotated.mp4` (needs the `sim` feature).
    pub video: Option<PathBuf>,
    /// Frames of ball trail in the annotated video.
    pub trail_frames: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            pitch_scale: 10.0,
            heatmaps: true,
            radar: true,
            radar_video: true,
            formations: true,
            video: None,
            trail_frames: 12,
        }
    }
}

/// The files written, by kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    /// Every file written, in the order written.
    pub files: Vec<PathBuf>,
}

/// Colours and roles of the report's tracks.
pub(crate) struct Palette {
    teams: BTreeMap<u32, [u8; 3]>,
    track_team: BTreeMap<u64, (Option<u32>, Option<Role>)>,
}

/// Referees wear this on the pictures.
const REFEREE: [u8; 3] = [250, 214, 40];
/// Tracks without a team (never guessed).
const NO_TEAM: [u8; 3] = [170, 170, 170];
/// The ball.
pub(crate) const BALL: [u8; 3] = [255, 255, 255];

impl Palette {
    pub(crate) fn new(report: &MatchReport) -> Self {
        let teams =
            report.teams.iter().map(|t| (t.id, t.colour.unwrap_or(TEAM_FALLBACK[(t.id % 2) as usize]))).collect();
        let track_team = report.tracks.iter().map(|t| (t.track_id, (t.team, t.role))).collect();
        Palette { teams, track_team }
    }

    /// Colour of a team.
    pub(crate) fn team(&self, team: u32) -> [u8; 3] {
        self.teams.get(&team).copied().unwrap_or(TEAM_FALLBACK[(team % 2) as usize])
    }

    /// Colour of a track: its team's, yellow for referees, grey when unknown.
    pub(crate) fn track(&self, track_id: u64) -> [u8; 3] {
        match self.track_team.get(&track_id) {
            Some((Some(t), _)) => self.team(*t),
            Some((None, Some(Role::Referee))) => REFEREE,
            _ => NO_TEAM,
        }
    }

    /// Whether a track is a goalkeeper (drawn with a ring).
    pub(crate) fn is_goalkeeper(&self, track_id: u64) -> bool {
        matches!(self.track_team.get(&track_id), Some((_, Some(Role::Goalkeeper))))
    }
}

/// Per frame: each track's pitch position; the ball's.
pub(crate) struct PitchFrames {
    pub(crate) players: BTreeMap<u64, Vec<(u64, [f64; 2])>>,
    pub(crate) ball: BTreeMap<u64, [f64; 2]>,
}

impl PitchFrames {
    pub(crate) fn new(report: &MatchReport) -> Self {
        let mut players: BTreeMap<u64, Vec<(u64, [f64; 2])>> = BTreeMap::new();
        for t in &report.tracks {
            for f in &t.frames {
                if let Some(p) = f.pitch {
                    players.entry(f.frame).or_default().push((t.track_id, p));
                }
            }
        }
        let ball = report.ball.iter().filter_map(|b| Some((b.frame, b.pitch?))).collect();
        PitchFrames { players, ball }
    }
}

/// The report's frame rate (25 when the report does not say).
pub(crate) fn report_fps(report: &MatchReport) -> f64 {
    if report.video.fps.is_finite() && report.video.fps > 0.0 { report.video.fps } else { 25.0 }
}

/// Formats seconds as `mm:ss`.
pub(crate) fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{:02}:{:02}", s / 60, s % 60)
}

/// The possession banner's text and team at `frame`: the team of the possession phase the
/// frame is in (what the report's possession % counts: the team keeps the ball through passes,
/// loose balls and brief challenges), with the player on the ball when there is one. Reports
/// without phases (written before they existed) fall back to the per-frame ball owner's team.
/// `None` outside any possession (before the first control, ball out of play) and when event
/// detection did not run.
pub(crate) fn possession_banner(report: &MatchReport, frame: u64) -> Option<(String, u32)> {
    let team = if report.possession_phases.is_empty() {
        report.possession.get(frame as usize).copied().flatten()
    } else {
        let phases = &report.possession_phases;
        let k = phases.partition_point(|p| p.to_frame < frame);
        phases.get(k).filter(|p| p.from_frame <= frame).map(|p| p.team)
    }?;
    let owner = report.ball_owner.get(frame as usize).copied().flatten();
    // Only the holders' player: a challenger's brief touch inside the phase is not shown as
    // the team's ball.
    let on_ball = owner.filter(|id| report.tracks.iter().any(|t| t.track_id == *id && t.team == Some(team)));
    Some(match on_ball {
        Some(id) => (format!("Team {team} in possession, {id} on the ball"), team),
        None => (format!("Team {team} in possession"), team),
    })
}

/// Draws every picture of `report` that `options` asks for into `out_dir`.
///
/// # Errors
///
/// [`VizError::Report`] when nothing in the report has pitch coordinates (the pictures are
/// top-down: calibrate the pitch first) — unless only the annotated video is asked for;
/// [`VizError::Write`] / [`VizError::Png`] when a file cannot be written; [`VizError::Video`]
/// when the annotated video cannot be made.
pub fn render_report(report: &MatchReport, out_dir: &Path, options: &RenderOptions) -> Result<Rendered, VizError> {
    if !(options.pitch_scale.is_finite() && options.pitch_scale >= 1.0 && options.pitch_scale <= 100.0) {
        return Err(VizError::Report(format!(
            "pitch_scale must be 1..=100 pixels per metre, found {}",
            options.pitch_scale
        )));
    }
    let view = PitchView { scale: options.pitch_scale, margin: 3.0 * options.pitch_scale };
    let palette = Palette::new(report);
    let frames = PitchFrames::new(report);
    let mut out = Rendered::default();
    let top_down = options.heatmaps || options.radar || options.formations;
    if top_down && frames.players.is_empty() && frames.ball.is_empty() {
        return Err(VizError::Report(
            "the report has no pitch coordinates (no calibrated frame): give a homography or a keypoint model".into(),
        ));
    }
    if options.heatmaps {
        heatmaps(report, &view, &palette, out_dir, &mut out)?;
    }
    if options.radar
        && let Some((&frame, _)) = frames.players.iter().max_by_key(|(f, v)| (v.len(), std::cmp::Reverse(**f)))
    {
        let pm = radar_frame(report, &view, &palette, &frames, frame, None)?;
        let path = out_dir.join("radar.png");
        canvas::save_png(&pm, &path)?;
        out.files.push(path);
    }
    #[cfg(feature = "sim")]
    if options.radar && options.radar_video {
        out.files.push(super::video::radar_video(report, &view, &palette, &frames, out_dir)?);
    }
    if options.formations {
        formations(report, &view, &palette, out_dir, &mut out)?;
    }
    #[cfg(feature = "sim")]
    if let Some(video) = &options.video {
        out.files.push(super::video::annotated_video(report, video, &palette, options.trail_frames, out_dir)?);
    }
    #[cfg(not(feature = "sim"))]
    if options.video.is_some() {
        return Err(VizError::Video("the annotated video needs footml built with the `sim` feature".into()));
    }
    Ok(out)
}

/// Heat colour for a share `t` in 0..=1 of the busiest cell: transparent → yellow → red.
fn heat(t: f32) -> [u8; 4] {
    let t = t.clamp(0.0, 1.0);
    if t <= 0.0 {
        return [0, 0, 0, 0];
    }
    let (r, g, b) = if t < 0.5 {
        let k = t / 0.5;
        (255.0, 255.0 - 20.0 * k, 90.0 * (1.0 - k))
    } else {
        let k = (t - 0.5) / 0.5;
        (255.0 - 45.0 * k, 235.0 - 200.0 * k, 0.0)
    };
    let a = (90.0 + 150.0 * t).min(235.0);
    [r as u8, g as u8, b as u8, a as u8]
}

/// The heatmap grid over a top-down pitch, smoothly interpolated between cell centres.
pub(crate) fn heatmap_picture(view: &PitchView, grid: &Heatmap, title: &str) -> Result<Pixmap, VizError> {
    let mut pm = view.pitch_picture()?;
    let max = grid.counts.iter().copied().max().unwrap_or(0);
    if max > 0 && grid.cols > 0 && grid.rows > 0 {
        // One texel per cell, stretched over the pitch with bicubic filtering. Texture rows run
        // top-down in the picture, which draws y upward: texture row 0 is the grid's last row.
        let mut cells = canvas::pixmap(grid.cols, grid.rows)?;
        let cols = grid.cols as usize;
        for (i, px) in cells.pixels_mut().iter_mut().enumerate() {
            let (row, col) = (grid.rows as usize - 1 - i / cols, i % cols);
            let c = heat(grid.counts.get(row * cols + col).copied().unwrap_or(0) as f32 / max as f32);
            *px = tiny_skia::ColorU8::from_rgba(c[0], c[1], c[2], c[3]).premultiply();
        }
        let (x0, y0) = view.px(-52.5, 34.0);
        let sx = grid.cell_m[0] as f32 * view.scale;
        let sy = grid.cell_m[1] as f32 * view.scale;
        let paint = PixmapPaint { quality: FilterQuality::Bicubic, ..PixmapPaint::default() };
        pm.draw_pixmap(0, 0, cells.as_ref(), &paint, Transform::from_row(sx, 0.0, 0.0, sy, x0, y0), None);
    }
    canvas::draw_label(&mut pm, title, 8, 8, 2, [20, 20, 20]);
    Ok(pm)
}

fn heatmaps(
    report: &MatchReport,
    view: &PitchView,
    palette: &Palette,
    out_dir: &Path,
    out: &mut Rendered,
) -> Result<(), VizError> {
    let dir = out_dir.join("heatmaps");
    let mut team_sum: BTreeMap<u32, Heatmap> = BTreeMap::new();
    let team_of: BTreeMap<u64, u32> = report.tracks.iter().filter_map(|t| Some((t.track_id, t.team?))).collect();
    for p in &report.metrics.players {
        if p.heatmap.counts.iter().all(|&c| c == 0) {
            continue;
        }
        let title = format!("Player {}  {:.0} m  max {:.1} km/h", p.track_id, p.distance_m, p.max_speed_kmh);
        let pm = heatmap_picture(view, &p.heatmap, &title)?;
        let path = dir.join(format!("player_{}.png", p.track_id));
        canvas::save_png(&pm, &path)?;
        out.files.push(path);
        if let Some(&team) = team_of.get(&p.track_id) {
            let sum = team_sum
                .entry(team)
                .or_insert_with(|| Heatmap { counts: vec![0; p.heatmap.counts.len()], ..p.heatmap.clone() });
            if sum.counts.len() == p.heatmap.counts.len() {
                for (s, c) in sum.counts.iter_mut().zip(&p.heatmap.counts) {
                    *s += c;
                }
            }
        }
    }
    for (team, grid) in &team_sum {
        let mut pm = heatmap_picture(view, grid, &format!("Team {team}"))?;
        // A swatch of the team's colour beside the title.
        let swatch_x = 8 + canvas::text_width(&format!("Team {team}"), 2) as i32 + 16;
        canvas::draw_label(&mut pm, "  ", swatch_x, 8, 2, palette.team(*team));
        let path = dir.join(format!("team_{team}.png"));
        canvas::save_png(&pm, &path)?;
        out.files.push(path);
    }
    Ok(())
}

/// The top-down picture of one frame: players as discs in their colours with their ids, the
/// ball, a banner with the time and the team in possession ([`possession_banner`]).
pub(crate) fn radar_frame(
    report: &MatchReport,
    view: &PitchView,
    palette: &Palette,
    frames: &PitchFrames,
    frame: u64,
    background: Option<&Pixmap>,
) -> Result<Pixmap, VizError> {
    let mut pm = match background {
        Some(b) => b.clone(),
        None => view.pitch_picture()?,
    };
    let r = (0.9 * view.scale).max(4.0);
    for &(id, p) in frames.players.get(&frame).map(Vec::as_slice).unwrap_or_default() {
        let colour = palette.track(id);
        view.dot(&mut pm, p[0], p[1], r, colour);
        if palette.is_goalkeeper(id) {
            let (u, v) = view.px(p[0], p[1]);
            canvas::disc(&mut pm, u, v, r * 0.45, [255, 255, 255], None);
        }
        let (u, v) = view.px(p[0], p[1]);
        let text = id.to_string();
        let tw = canvas::text_width(&text, 1) as f32;
        canvas::draw_text(&mut pm, &text, (u - tw / 2.0) as i32, (v + r + 2.0) as i32, 1, [255, 255, 255]);
    }
    if let Some(b) = frames.ball.get(&frame) {
        view.dot(&mut pm, b[0], b[1], (0.45 * view.scale).max(3.0), BALL);
    }
    let fps = report_fps(report);
    let x = canvas::draw_label(&mut pm, &clock(frame as f64 / fps), 8, 8, 2, [20, 20, 20]) as i32 + 16;
    if let Some((text, team)) = possession_banner(report, frame) {
        canvas::draw_label(&mut pm, &text, x, 8, 2, palette.team(team));
    }
    Ok(pm)
}

fn formations(
    report: &MatchReport,
    view: &PitchView,
    palette: &Palette,
    out_dir: &Path,
    out: &mut Rendered,
) -> Result<(), VizError> {
    let fps = report_fps(report);
    for win in &report.formations {
        // Mean position of each of the team's tracks seen in at least a quarter of the window.
        let span = (win.to_frame.saturating_sub(win.from_frame) + 1) as usize;
        let mut dots: Vec<(u64, [f64; 2])> = Vec::new();
        for t in report.tracks.iter().filter(|t| t.team == Some(win.team)) {
            let pts: Vec<[f64; 2]> = t
                .frames
                .iter()
                .filter(|f| (win.from_frame..=win.to_frame).contains(&f.frame))
                .filter_map(|f| f.pitch)
                .collect();
            if pts.is_empty() || pts.len() * 4 < span {
                continue;
            }
            let n = pts.len() as f64;
            dots.push((
                t.track_id,
                [pts.iter().map(|p| p[0]).sum::<f64>() / n, pts.iter().map(|p| p[1]).sum::<f64>() / n],
            ));
        }
        let mut pm = view.pitch_picture()?;
        let colour = palette.team(win.team);
        let r = (1.3 * view.scale).max(6.0);
        for (id, p) in &dots {
            view.dot(&mut pm, p[0], p[1], r, colour);
            let (u, v) = view.px(p[0], p[1]);
            let text = id.to_string();
            let tw = canvas::text_width(&text, 1) as f32;
            canvas::draw_text(
                &mut pm,
                &text,
                (u - tw / 2.0) as i32,
                (v - 4.0) as i32,
                1,
                canvas::text_colour_on(colour),
            );
        }
        let title = format!(
            "Team {}  {}  ({:.0}%)  {}-{}",
            win.team,
            win.formation,
            100.0 * win.confidence,
            clock(win.from_frame as f64 / fps),
            clock((win.to_frame + 1) as f64 / fps)
        );
        canvas::draw_label(&mut pm, &title, 8, 8, 2, colour);
        // The formation reads from the team's own goal forward: say which goal that is.
        if let Some(dir) = win.attack_direction {
            let text = if dir > 0 { "attacking -->" } else { "<-- attacking" };
            let (w, h) = view.size();
            let tw = canvas::text_width(text, 2) as i32 + 8;
            let x = if dir > 0 { w as i32 - tw - 8 } else { 8 };
            canvas::draw_label(&mut pm, text, x, h as i32 - 28, 2, colour);
        }
        let path = out_dir.join("formations").join(format!("team{}_{}-{}.png", win.team, win.from_frame, win.to_frame));
        canvas::save_png(&pm, &path)?;
        out.files.push(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{FormationWindow, PossessionPhase, Team};
    use crate::report::{Metrics, PlayerMetrics, TrackFrame, TrackReport};

    const RED: [u8; 3] = [200, 20, 20];

    fn pixel(pm: &Pixmap, u: f32, v: f32) -> [u8; 3] {
        let c = pm.pixel(u as u32, v as u32).expect("inside").demultiply();
        [c.red(), c.green(), c.blue()]
    }

    fn close(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
        a.iter().zip(b).all(|(x, y)| (*x as i32 - y as i32).abs() <= tol)
    }

    fn track(id: u64, team: Option<u32>, frames: &[(u64, [f64; 2])]) -> TrackReport {
        TrackReport {
            track_id: id,
            team,
            role: Some(Role::Player),
            frames: frames
                .iter()
                .map(|&(frame, p)| TrackFrame { frame, bbox: [0.0, 0.0, 10.0, 20.0], score: 1.0, pitch: Some(p) })
                .collect(),
        }
    }

    fn report() -> MatchReport {
        let mut r: MatchReport = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "footml_version": "t", "pipeline_id": "p", "model_version": null,
            "video": {"path": "v", "fps": 25.0, "width": 1920, "height": 1080, "duration_s": null,
                      "frame_count": null, "codec": "x"},
            "frames_lost": 0, "stages": [], "tracks": [], "ball": [], "teams": [], "possession": [],
            "events": [], "formations": [], "metrics": {"players": [], "teams": []}, "outputs": {},
            "extra": {}, "events_dropped": 0
        }))
        .unwrap();
        r.teams = vec![Team { id: 0, colour: Some(RED), track_ids: vec![7] }];
        r.tracks =
            vec![track(7, Some(0), &[(0, [10.0, 5.0]), (1, [10.5, 5.0])]), track(8, None, &[(0, [-30.0, -20.0])])];
        r
    }

    const VIEW: PitchView = PitchView { scale: 10.0, margin: 30.0 };

    #[test]
    fn pitch_lines_sit_where_the_markings_are() {
        let (w, h) = VIEW.size();
        assert_eq!((w, h), (1110, 740));
        let mut pm = canvas::pixmap(w, h).unwrap();
        VIEW.draw_pitch(&mut pm);
        // Halfway line at x = 0, away from the centre circle.
        let (u, v) = VIEW.px(0.0, -25.0);
        assert!(close(pixel(&pm, u, v), canvas::LINE, 40), "{:?}", pixel(&pm, u, v));
        // Penalty-area line 16.5 m in front of the goal line.
        let (u, v) = VIEW.px(-36.0, 15.0);
        assert!(close(pixel(&pm, u, v), canvas::LINE, 40));
        // Inside the area, away from lines: grass.
        let (u, v) = VIEW.px(-45.0, 12.0);
        let g = pixel(&pm, u, v);
        assert!(g[1] > g[0] + 40 && g[1] > g[2] + 40, "{g:?}");
    }

    #[test]
    fn radar_draws_players_in_team_colours_where_they_are() {
        let r = report();
        let pm = radar_frame(&r, &VIEW, &Palette::new(&r), &PitchFrames::new(&r), 0, None).unwrap();
        let (u, v) = VIEW.px(10.0, 5.0);
        assert!(close(pixel(&pm, u - 4.0, v - 4.0), RED, 10), "{:?}", pixel(&pm, u - 4.0, v - 4.0));
        // A track without a team is grey, never a guessed team colour.
        let (u, v) = VIEW.px(-30.0, -20.0);
        assert!(close(pixel(&pm, u - 4.0, v - 4.0), NO_TEAM, 10));
    }

    #[test]
    fn the_banner_shows_the_possession_phase() {
        let mut r = report();
        // Per frame: track 7 (team 0) has the ball, it is loose (nobody), track 8 (no team)
        // touches it; team 0's phase covers frames 0–2 and nothing covers frame 3.
        r.possession = vec![Some(0), None, None, None];
        r.ball_owner = vec![Some(7), None, Some(8), None];
        r.possession_phases = vec![PossessionPhase { team: 0, from_frame: 0, to_frame: 2 }];
        let banners: Vec<_> = (0..4).map(|f| possession_banner(&r, f)).collect();
        let team0 = |s: &str| Some((s.to_string(), 0));
        assert_eq!(
            banners,
            [
                team0("Team 0 in possession, 7 on the ball"),
                team0("Team 0 in possession"),
                team0("Team 0 in possession"),
                None
            ]
        );
        // On the radar, the label beside the clock is in team 0's colour in the loose frame.
        let pm = radar_frame(&r, &VIEW, &Palette::new(&r), &PitchFrames::new(&r), 1, None).unwrap();
        let x = 8.0 + canvas::text_width("00:00", 2) as f32 + 8.0 + 16.0 + 1.0;
        assert!(close(pixel(&pm, x, 9.0), RED, 10), "{:?}", pixel(&pm, x, 9.0));
        // A report without phases (written before them) shows the ball owner's team per frame.
        r.possession_phases.clear();
        assert_eq!(possession_banner(&r, 0), team0("Team 0 in possession, 7 on the ball"));
        assert_eq!(possession_banner(&r, 1), None);
    }

    #[test]
    fn heatmap_is_hot_where_the_player_was() {
        let mut r = report();
        let (cols, rows) = (21u32, 14u32);
        let mut counts = vec![0u32; (cols * rows) as usize];
        // Cell (col 15, row 3): x 22.5..27.5, y -19..-14.
        counts[(3 * cols + 15) as usize] = 100;
        r.metrics = Metrics {
            players: vec![PlayerMetrics {
                track_id: 7,
                distance_m: 1.0,
                time_s: 1.0,
                avg_speed_kmh: 1.0,
                max_speed_kmh: 1.0,
                sprints: 0,
                glitch_steps: 0,
                heatmap: Heatmap { cols, rows, cell_m: [5.0, 68.0 / 14.0], counts },
            }],
            teams: vec![],
        };
        let dir = tempfile::tempdir().unwrap();
        let opts = RenderOptions { radar: false, formations: false, ..Default::default() };
        let out = render_report(&r, dir.path(), &opts).unwrap();
        let names: Vec<String> =
            out.files.iter().map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string()).collect();
        assert_eq!(names, ["heatmaps/player_7.png", "heatmaps/team_0.png"]);
        let pm = Pixmap::load_png(&out.files[0]).unwrap();
        let (u, v) = VIEW.px(25.0, -16.5);
        let hot = pixel(&pm, u, v);
        assert!(hot[0] > hot[1] + 60 && hot[0] > hot[2] + 60, "{hot:?}");
        let (u, v) = VIEW.px(-25.0, 16.5);
        let cold = pixel(&pm, u, v);
        assert!(cold[1] > cold[0] + 40, "{cold:?}");
    }

    #[test]
    fn formation_diagram_per_window() {
        let mut r = report();
        r.formations = vec![FormationWindow {
            team: 0,
            from_frame: 0,
            to_frame: 1,
            formation: "4-3-3".into(),
            confidence: 0.8,
            attack_direction: Some(-1),
        }];
        let dir = tempfile::tempdir().unwrap();
        let opts = RenderOptions { radar: false, heatmaps: false, ..Default::default() };
        let out = render_report(&r, dir.path(), &opts).unwrap();
        assert_eq!(out.files, [dir.path().join("formations/team0_0-1.png")]);
        let pm = Pixmap::load_png(&out.files[0]).unwrap();
        // Mean position of track 7 over the window: (10.25, 5); the disc's rim is team red.
        let (u, v) = VIEW.px(10.25, 5.0);
        assert!(close(pixel(&pm, u + 9.0, v), RED, 10), "{:?}", pixel(&pm, u + 9.0, v));
        // Attacking toward −x: the label sits bottom left, in the team's colour (its padding).
        let (_, h) = VIEW.size();
        assert!(close(pixel(&pm, 9.0, h as f32 - 27.0), RED, 10), "{:?}", pixel(&pm, 9.0, h as f32 - 27.0));
        assert!(!close(pixel(&pm, 1000.0, h as f32 - 27.0), RED, 60));
    }

    #[test]
    fn reports_without_pitch_coordinates_are_refused() {
        let mut r = report();
        for t in &mut r.tracks {
            for f in &mut t.frames {
                f.pitch = None;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let e = render_report(&r, dir.path(), &RenderOptions::default()).unwrap_err();
        assert!(matches!(e, VizError::Report(_)), "{e}");
        let e = render_report(&report(), dir.path(), &RenderOptions { pitch_scale: 0.0, ..Default::default() });
        assert!(matches!(e, Err(VizError::Report(_))));
    }

    #[test]
    fn text_is_drawn_with_the_bitmap_font() {
        let mut pm = canvas::pixmap(40, 10).unwrap();
        canvas::draw_text(&mut pm, "1", 0, 0, 1, [255, 255, 255]);
        // '1' in font8x8: row 0 is 0x0C (columns 2 and 3 set).
        assert_eq!(pixel(&pm, 2.0, 0.0), [255, 255, 255]);
        assert_eq!(pixel(&pm, 0.0, 0.0), [0, 0, 0]);
        assert_eq!(canvas::text_width("12", 3), 48);
    }
}
