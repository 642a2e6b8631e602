//! Event detection: possession per frame, passes, interceptions, turnovers, shots and ball
//! out of play, from the ball and the players on the pitch.
//!
//! [`EventDetection`] (match stage, `"event_detection"`) maps each track's feet point and the
//! ball's centre through the frame's homography onto the pitch (the ball's position is its
//! ground position only while it is near the ground: a ball in the air lands behind itself),
//! then works in five passes:
//!
//! 1. **Out of play**: the ball beyond a line by more than `out_margin_m` for
//!    `out_min_frames` consecutive frames, or gone (no position) for `lost_out_frames` frames
//!    after a last position within `lost_near_line_m` of a line. The ball stays out until it
//!    is seen inside the lines again; nobody controls it meanwhile.
//! 2. **Control spells**: a player *controls* the ball in a frame when it is within
//!    `control_radius_m` of his feet and moves with him: the ball's velocity differs from his
//!    by at most `max_control_speed_mps` over the `velocity_window_frames` before or after
//!    the frame (before: he still had it as it left; after: it stays with him as he receives
//!    it; a ball running past him is fast both ways). The nearest controlling player is the
//!    frame's *candidate*. Hysteresis keeps brief contests from flipping possession:
//!    a candidate becomes the owner only after `min_control_frames` consecutive frames (his
//!    spell then starts at the first of them); an owner keeps the ball while it is within
//!    `control_radius_m + release_margin_m` and moving with him, and loses it after
//!    `min_control_frames` frames without; his spell ends at the last frame he had it (the
//!    *release*). Frames without a ball position, or without the owner's track, change
//!    nothing. Referees (from the [`TeamAssignment`]) never own the ball.
//! 3. **Possession per frame**: during a spell, its player and team; after a release, the
//!    team keeps possession (no player) while its ball is in flight or loose, for up to
//!    `max_loose_s`, until the ball goes out, or until another spell starts.
//! 4. **Team possession phases** (a second hysteresis level, over the spells): the team of
//!    the first spell has possession, and keeps it through passes, loose balls and the other
//!    team's brief control until the other team's spells since its last one add up to
//!    `phase_min_control_s`; the phase then changes at the first of those spells. A ball out
//!    of play ends the phase and the next spell starts one; with `phases_through_out_of_play`
//!    the phase goes on while the ball is out and the first control after it (a restart,
//!    which nobody contests) changes it at once when it is the other team's. This is a data provider's "team in
//!    possession" (SkillCorner's label is the team of the last player it named in possession,
//!    see `tests/it/events.rs`), where the per-frame possession above says who has the ball.
//! 5. **Events**, from each release to what happened next. A spell of the team out of
//!    possession that does not win the phase (a challenge, a block, a touch the holders win
//!    back) is a *contest*: it gives no pass, interception or turnover, and the holders' ball
//!    goes on from the spell before it to the spell after it (when it stayed in play: a
//!    challenger who clears it out or away failed his pass, not the holder), so
//!    interceptions and turnovers follow the changes of possession phase in open play (on
//!    SkillCorner's whole match this cut the turnovers reported from 332 to 202 and raised
//!    their precision against the ball-owner labels from 0.37 to 0.62, see
//!    benches/README.md). Below, a holder's "next spell" is the next one that is not a
//!    contest; whether the ball went out or stayed loose is judged up to the very next spell:
//!    * a **shot** when the ball, within `velocity_window_frames` of the release, is at least
//!      `shot_min_speed_mps` fast on a line through the goal mouth (± `goal_mouth_margin_m`)
//!      of the goal whose half it is in, at most `max_shot_distance_m` away (shots with no
//!      spell before them, e.g. first-time shots, are credited to the nearest player within
//!      the release radius, or nobody);
//!    * else, when the ball goes out or stays loose longer than `max_loose_s` after travelling
//!      at least `min_pass_distance_m`: a **failed pass**; and when a loose ball (never out)
//!      is then won by the other team, also a **turnover** at their first control;
//!    * else, when the next spell is the same player's, or a track that starts where his
//!      ended just after it (a tracker id switch), nothing;
//!    * else, when the next spell is a team mate's: a **pass** (completed);
//!    * else, when it is an opponent's: an **interception** if the ball travelled at least
//!      `min_pass_distance_m` from the release, a **turnover** (tackle, lost touch) if not;
//!    * **out of play** at the first frame the ball is out (or gone), credited to the team of
//!      the last player who had it.
//!
//! Teams are never guessed: without a [`TeamAssignment`] (or for a track it leaves
//! undecided) possession carries the player's track but no team, and passes, interceptions
//! and turnovers, which need to know whose team mate is whose, are not reported. Shots,
//! failed passes and balls out are (with `team: None`).
//!
//! Event fields: `frame`/`time_s`: the release for passes, failed passes and shots, the
//! winning frame for interceptions and turnovers, the first out frame for out of play;
//! `team`: the passer's or shooter's team, the *winning* team for interceptions and
//! turnovers, the team that lost the ball out of play; `from_track`/`to_track`: passer and
//! receiver (winner); `pitch`: the ball at that frame. `details`: `end_frame` (where the
//! ball arrived), `distance_m` (how far it travelled), `ball_speed_kmh` (peak speed within
//! the velocity window after the release), and for shots `goal_distance_m` and `on_target`
//! (1 when the line crosses between the posts); for out of play, `goal_line` (1) or
//! touchline (0) and `lost` (1 when the ball disappeared near the line).
//!
//! Writes `MatchData.possession` (one entry per frame), `MatchData.possession_phases` and
//! `MatchData.events`.

use std::collections::HashMap;

use crate::analysis::{MatchEvent, MatchEventKind, Possession, PossessionPhase, Role, TeamAssignment};
use crate::config::{ConfigError, EventDetectionConfig};
use crate::pipeline::stage::{Artifact, MatchStage, Stage, StageContext};
use crate::report::apply_homography;
use crate::types::{FrameRecord, MatchData};
use crate::{Error, Result};

/// Checks an [`EventDetectionConfig`]; errors name the key as in the pipeline config.
pub(crate) fn validate_config(cfg: &EventDetectionConfig) -> std::result::Result<(), ConfigError> {
    const SECTION: &str = "stage_configs.event_detection";
    let positive = |key: &str, x: f64| {
        if x.is_finite() && x > 0.0 { Ok(()) } else { Err(ConfigError::invalid(SECTION, key, "a positive number", x)) }
    };
    let non_negative = |key: &str, x: f64| {
        if x.is_finite() && x >= 0.0 { Ok(()) } else { Err(ConfigError::invalid(SECTION, key, "a number ≥ 0", x)) }
    };
    if !cfg.pitch_size_m.iter().all(|x| x.is_finite() && *x > 0.0) {
        return Err(ConfigError::invalid(SECTION, "pitch_size_m", "positive [length, width]", cfg.pitch_size_m));
    }
    positive("control_radius_m", cfg.control_radius_m)?;
    non_negative("release_margin_m", cfg.release_margin_m)?;
    positive("max_control_speed_mps", cfg.max_control_speed_mps)?;
    non_negative("max_loose_s", cfg.max_loose_s)?;
    non_negative("phase_min_control_s", cfg.phase_min_control_s)?;
    non_negative("min_pass_distance_m", cfg.min_pass_distance_m)?;
    positive("shot_min_speed_mps", cfg.shot_min_speed_mps)?;
    positive("max_shot_distance_m", cfg.max_shot_distance_m)?;
    positive("goal_width_m", cfg.goal_width_m)?;
    non_negative("goal_mouth_margin_m", cfg.goal_mouth_margin_m)?;
    non_negative("out_margin_m", cfg.out_margin_m)?;
    non_negative("lost_near_line_m", cfg.lost_near_line_m)?;
    for (key, v) in [
        ("min_control_frames", cfg.min_control_frames),
        ("velocity_window_frames", cfg.velocity_window_frames),
        ("out_min_frames", cfg.out_min_frames),
        ("lost_out_frames", cfg.lost_out_frames),
    ] {
        if v == 0 {
            return Err(ConfigError::invalid(SECTION, key, "at least 1", v));
        }
    }
    Ok(())
}

/// The event detection match stage (see the [module docs](self)).
#[derive(Debug, Clone, Default)]
pub struct EventDetection {
    cfg: EventDetectionConfig,
}

type P2 = [f64; 2];

fn dist(a: P2, b: P2) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// A player seen in one frame.
#[derive(Debug, Clone, Copy)]
struct Seen {
    track: u64,
    pos: P2,
}

/// Positions of one track, dense from its first frame (`None` where unseen).
#[derive(Debug, Default)]
struct Path {
    first: usize,
    pos: Vec<Option<P2>>,
}

impl Path {
    fn at(&self, i: usize) -> Option<P2> {
        i.checked_sub(self.first).and_then(|k| self.pos.get(k).copied().flatten())
    }
}

/// Per-frame values indexed by frame position, of which the frames before `base` may have
/// been dropped ([`Scene::forget_before`]: live mode keeps only what later frames still read).
#[derive(Debug)]
struct Frames<T> {
    base: usize,
    items: std::collections::VecDeque<T>,
}

impl<T> Frames<T> {
    fn new() -> Self {
        Frames { base: 0, items: Default::default() }
    }

    /// Frames so far, dropped ones included.
    fn len(&self) -> usize {
        self.base + self.items.len()
    }

    fn push(&mut self, value: T) {
        self.items.push_back(value);
    }

    fn forget_before(&mut self, base: usize) {
        let n = base.saturating_sub(self.base).min(self.items.len());
        self.items.drain(..n);
        self.base += n;
    }
}

impl<T> std::ops::Index<usize> for Frames<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        &self.items[i - self.base]
    }
}

/// The match on the pitch: ball and players per frame (by position in `MatchData.frames`).
#[derive(Debug)]
struct Scene {
    ball: Frames<Option<P2>>,
    players: Frames<Vec<Seen>>,
    paths: HashMap<u64, Path>,
    dt: f64,
}

impl Scene {
    fn new(fps: f64) -> Self {
        Scene { ball: Frames::new(), players: Frames::new(), paths: HashMap::new(), dt: 1.0 / fps }
    }

    /// Drops the frames before `base` (no later lookup reaches them), and tracks last seen
    /// before it.
    fn forget_before(&mut self, base: usize) {
        self.ball.forget_before(base);
        self.players.forget_before(base);
        self.paths.retain(|_, p| {
            let n = base.saturating_sub(p.first).min(p.pos.len());
            p.pos.drain(..n);
            p.first += n;
            !p.pos.is_empty()
        });
    }

    /// Adds the next frame of the match: the ball and the players (referees left out) on the
    /// pitch, where the frame is calibrated.
    fn push(&mut self, rec: &FrameRecord, teams: Option<&TeamAssignment>) {
        let i = self.ball.len();
        let mut ball = None;
        let mut players = Vec::new();
        if let Some(h) = &rec.homography {
            if let Some(b) = rec.ball.filter(|b| b.has_position()) {
                ball = apply_homography(h, b.x as f64, b.y as f64).filter(|p| p[0].is_finite() && p[1].is_finite());
            }
            for t in rec.tracks.iter().flatten() {
                if teams.and_then(|a| a.track(t.track_id)).is_some_and(|e| e.role == Role::Referee) {
                    continue;
                }
                let (u, v) = t.bbox.foot();
                let Some(pos) = apply_homography(h, u as f64, v as f64) else { continue };
                if !(pos[0].is_finite() && pos[1].is_finite()) {
                    continue;
                }
                players.push(Seen { track: t.track_id, pos });
                let path = self.paths.entry(t.track_id).or_insert_with(|| Path { first: i, pos: Vec::new() });
                path.pos.resize(i - path.first, None);
                path.pos.push(Some(pos));
            }
        }
        self.ball.push(ball);
        self.players.push(players);
    }
}

/// Velocity from the positions at `i` and `i ± k` (`dir` = −1: before, +1: after, 0: centred
/// over `i − k ..= i + k`), using the farthest frames with a position within the window.
fn velocity(at: impl Fn(usize) -> Option<P2>, n: usize, i: usize, k: usize, dir: i32, dt: f64) -> Option<P2> {
    let lo = if dir <= 0 { i.saturating_sub(k) } else { i };
    let hi = if dir >= 0 { (i + k).min(n.saturating_sub(1)) } else { i };
    let a = (lo..=hi).find_map(|j| at(j).map(|p| (j, p)))?;
    let b = (lo..=hi).rev().find_map(|j| at(j).map(|p| (j, p)))?;
    if b.0 <= a.0 {
        return None;
    }
    let t = (b.0 - a.0) as f64 * dt;
    Some([(b.1[0] - a.1[0]) / t, (b.1[1] - a.1[1]) / t])
}

/// Longest gap (frames) between the end of a track and the start of another that can still
/// be the same player under a new id (the tracker keeps a lost track 30 frames by default).
const MAX_SWITCH_GAP_FRAMES: usize = 30;
/// Fastest a player runs, m/s.
const MAX_PLAYER_SPEED_MPS: f64 = 10.0;

/// One player's uninterrupted control of the ball.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spell {
    track: u64,
    team: Option<u32>,
    /// First frame (position in `MatchData.frames`).
    start: usize,
    /// Last frame he had the ball (the release), inclusive.
    end: usize,
}

/// The ball out of play from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
struct OutSpan {
    start: usize,
    end: usize,
    /// Where the ball went out (its last position when it was lost).
    pos: P2,
    goal_line: bool,
    lost: bool,
}

/// Everything event detection finds in a match (see [`EventDetection::analyse`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventAnalysis {
    /// Possession per frame, parallel to `MatchData.frames`: the ball owner and his team.
    pub possession: Vec<Possession>,
    /// Team possession phases in frame order.
    pub phases: Vec<PossessionPhase>,
    /// Events in frame order.
    pub events: Vec<MatchEvent>,
}

impl Spell {
    /// Possession at frame `i` (at or after the spell's start, before the next spell's):
    /// his while he has the ball, then his team's while the ball is loose, for up to `loose`
    /// frames, unless `stopped` (the ball went out since the release).
    fn held(&self, i: usize, loose: usize, stopped: bool) -> Possession {
        if i <= self.end {
            Possession { team: self.team, track_id: Some(self.track) }
        } else if !stopped && i <= self.end + loose {
            Possession { team: self.team, track_id: None }
        } else {
            Possession::default()
        }
    }
}

/// `max_loose_s` in frames.
fn loose_frames(cfg: &EventDetectionConfig, fps: f64) -> usize {
    (cfg.max_loose_s * fps).round() as usize
}

/// The out-of-play pass (1. in the [module docs](self)) one frame at a time, so that file
/// mode and live mode ([`LivePossession`]) share it. A run of frames becomes an out span only
/// once it is long enough (`out_min_frames` beyond a line, `lost_out_frames` gone), and then
/// from its first frame: the answer for a frame can change up to that many frames later.
#[derive(Debug, Clone, Default)]
struct OutScan {
    /// The ball is out since this span's start; its `end` is not known yet.
    open: Option<OutSpan>,
    /// Frames beyond a line, not yet enough: (first frame, ball there, frames so far).
    beyond: Option<(usize, P2, usize)>,
    /// Frames without a ball after one with: (first frame, last position, frames so far,
    /// whether that position was near a line with the ball heading out).
    gone: Option<(usize, P2, usize, bool)>,
}

impl OutScan {
    /// Takes frame `i` (the frames before it were stepped in order) and returns the span that
    /// ended there (the ball seen inside the lines again).
    fn step(&mut self, det: &EventDetection, s: &Scene, i: usize) -> Option<OutSpan> {
        let ball = s.ball[i];
        if let Some(open) = self.open {
            if ball.is_some_and(|q| det.inside(q)) {
                self.open = None;
                return Some(OutSpan { end: i, ..open });
            }
            return None;
        }
        let span =
            |start, pos, lost| OutSpan { start, end: usize::MAX, pos, goal_line: det.nearest_is_goal_line(pos), lost };
        match ball {
            Some(p) if det.beyond(p) => {
                self.gone = None;
                let run = self.beyond.get_or_insert((i, p, 0));
                run.2 += 1;
                if run.2 >= det.cfg.out_min_frames as usize {
                    self.open = Some(span(run.0, run.1, false));
                    self.beyond = None;
                }
            }
            Some(_) => (self.beyond, self.gone) = (None, None),
            None => {
                self.beyond = None;
                if self.gone.is_none()
                    && let Some(last) = i.checked_sub(1).and_then(|j| s.ball[j])
                {
                    // Gone near a line, heading out (when the direction is known).
                    let [l, w] = det.cfg.pitch_size_m;
                    let near = (l / 2.0 - last[0].abs()).min(w / 2.0 - last[1].abs()) <= det.cfg.lost_near_line_m;
                    let k = det.cfg.velocity_window_frames as usize;
                    let heading_out = velocity(|j| s.ball[j], s.ball.len(), i - 1, k, -1, s.dt).is_none_or(|v| {
                        if det.nearest_is_goal_line(last) { v[0] * last[0] > 0.0 } else { v[1] * last[1] > 0.0 }
                    });
                    self.gone = Some((i, last, 0, near && heading_out));
                }
                if let Some(gone) = &mut self.gone {
                    gone.2 += 1;
                    if gone.3 && gone.2 >= det.cfg.lost_out_frames as usize {
                        self.open = Some(span(gone.0, gone.1, true));
                        self.gone = None;
                    }
                }
            }
        }
        None
    }
}

/// The control-spell hysteresis (2. in the [module docs](self)) one frame at a time, shared
/// by file mode and live mode ([`LivePossession`]).
#[derive(Debug, Clone, Default)]
struct Hysteresis {
    /// The owner: (track, start, last frame in control, frames out of control since).
    owner: Option<(u64, usize, usize, usize)>,
    /// A candidate not yet confirmed: (track, first frame, consecutive frames).
    pending: Option<(u64, usize, usize)>,
}

impl Hysteresis {
    /// Takes frame `i` (`out`: the ball is out of play there) and appends the spells that
    /// ended with it.
    fn step(
        &mut self,
        det: &EventDetection,
        s: &Scene,
        i: usize,
        out: bool,
        teams: Option<&TeamAssignment>,
        spells: &mut Vec<Spell>,
    ) {
        let team = |track: u64| teams.and_then(|a| a.team_of(track));
        let min = det.cfg.min_control_frames as usize;
        if out {
            if let Some((track, start, last, _)) = self.owner.take() {
                spells.push(Spell { track, team: team(track), start, end: last });
            }
            self.pending = None;
            return;
        }
        if s.ball[i].is_none() {
            return;
        }
        if let Some((track, start, last, away)) = self.owner.as_mut()
            && s.paths.get(track).and_then(|p| p.at(i)).is_some()
        {
            let keep_radius = det.cfg.control_radius_m + det.cfg.release_margin_m;
            if det.controls(s, *track, i, keep_radius).is_some() {
                *last = i;
                *away = 0;
            } else {
                *away += 1;
                if *away >= min {
                    spells.push(Spell { track: *track, team: team(*track), start: *start, end: *last });
                    self.owner = None;
                }
            }
        }
        let candidate = s.players[i]
            .iter()
            .filter_map(|p| det.controls(s, p.track, i, det.cfg.control_radius_m).map(|d| (d, p.track)))
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, t)| t);
        match candidate {
            Some(c) if self.owner.map(|o| o.0) != Some(c) => {
                let (first, count) = match self.pending {
                    Some((t, first, count)) if t == c => (first, count + 1),
                    _ => (i, 1),
                };
                if count >= min {
                    if let Some((track, start, last, _)) = self.owner {
                        spells.push(Spell { track, team: team(track), start, end: last.min(first - 1) });
                    }
                    self.owner = Some((c, first, i, 0));
                    self.pending = None;
                } else {
                    self.pending = Some((c, first, count));
                }
            }
            _ => self.pending = None,
        }
    }

    /// The owner's spell as it stands (to his last frame in control).
    fn open_spell(&self, teams: Option<&TeamAssignment>) -> Option<Spell> {
        self.owner.map(|(track, start, last, _)| Spell {
            track,
            team: teams.and_then(|a| a.team_of(track)),
            start,
            end: last,
        })
    }
}

/// How many old frames [`LivePossession`] lets pile up before it drops them: memory stays
/// bounded by this plus the look-back, whatever the match length.
const FORGET_EVERY: usize = 32;

/// Possession frame by frame as the frames arrive, for live sessions: the possession of the
/// newest frame that [`EventDetection`] would give on the match so far.
///
/// Event detection looks ahead (the ball's velocity over the next `velocity_window_frames`,
/// `out_min_frames`/`lost_out_frames` before a ball is out from the first of them,
/// `min_control_frames` before a new owner has the ball from the first of them), so the
/// file run's possession of a frame, which sees the whole match, can differ from what was
/// known when the frame arrived. [`LivePossession::push`] gives exactly the latter:
/// `detect(frames[..=i]).0[i]`. It runs the same out scan and hysteresis as the stage on each
/// frame once they are settled (no later frame changes their inputs) and replays only the
/// unsettled last `max(velocity_window_frames, out_min_frames, lost_out_frames)` frames per
/// push, so a push costs the same whatever the match length; it keeps only the frames later
/// lookups still reach (the look-back of the velocity window), so neither does its memory.
#[derive(Debug)]
pub struct LivePossession {
    det: EventDetection,
    teams: Option<TeamAssignment>,
    loose: usize,
    lag: usize,
    scene: Scene,
    out: OutScan,
    /// Whether the ball is out at each frame from `settled` on, as far as is known.
    out_flags: std::collections::VecDeque<bool>,
    /// First frame whose hysteresis step may still change.
    settled: usize,
    /// The last frame before `settled` with the ball out.
    last_out: Option<usize>,
    /// The hysteresis after the frames before `settled`.
    hysteresis: Hysteresis,
    /// The last spell that ended before `settled`.
    last_spell: Option<Spell>,
}

impl LivePossession {
    /// An estimator with the event detection settings `cfg`, for a feed of `fps` frames per
    /// second; `teams` (when known) gives possession a team, as in the stage.
    pub fn new(cfg: &EventDetectionConfig, fps: f64, teams: Option<TeamAssignment>) -> Result<Self> {
        if !(fps.is_finite() && fps > 0.0) {
            return Err(Error::permanent(format!("possession needs a positive frame rate, found {fps}")));
        }
        let det = EventDetection::new(cfg)?;
        let lag = [cfg.velocity_window_frames, cfg.out_min_frames, cfg.lost_out_frames].into_iter().max().unwrap_or(0);
        Ok(LivePossession {
            loose: loose_frames(cfg, fps),
            lag: lag as usize,
            det,
            teams,
            scene: Scene::new(fps),
            out: OutScan::default(),
            out_flags: Default::default(),
            settled: 0,
            last_out: None,
            hysteresis: Hysteresis::default(),
            last_spell: None,
        })
    }

    /// Takes the next frame's record (tracks, ball and homography, as the streaming stages
    /// give them) and returns its possession.
    pub fn push(&mut self, rec: &FrameRecord) -> Possession {
        let (det, s, teams) = (&self.det, &mut self.scene, self.teams.as_ref());
        let i = s.ball.len();
        s.push(rec, teams);
        let was_open = self.out.open.is_some();
        self.out.step(det, s, i);
        self.out_flags.push_back(false);
        if let Some(open) = self.out.open {
            // A new span is out from its first frame, which is never a settled one (the lag
            // covers the run that makes it).
            let from = if was_open { i } else { open.start };
            for f in from..=i {
                self.out_flags[f - self.settled] = true;
            }
        }
        let mut ended = Vec::new();
        while self.settled + self.lag <= i {
            let out = self.out_flags.pop_front().expect("a flag per unsettled frame");
            if out {
                self.last_out = Some(self.settled);
            }
            self.hysteresis.step(det, s, self.settled, out, teams, &mut ended);
            self.last_spell = ended.pop().or(self.last_spell);
            ended.clear();
            self.settled += 1;
        }
        // Lookups reach `velocity_window_frames` (+1 for the out scan's previous frame) before
        // the first unsettled frame; drop what is older now and then, not on every push.
        let keep_from = self.settled.saturating_sub(self.det.cfg.velocity_window_frames as usize + 1);
        if keep_from >= self.scene.ball.base + FORGET_EVERY {
            self.scene.forget_before(keep_from);
        }
        let (det, s, teams) = (&self.det, &self.scene, self.teams.as_ref());
        // The frames after `settled` as the match so far has them, on a copy.
        let (mut hysteresis, mut last_spell, mut last_out) = (self.hysteresis.clone(), self.last_spell, self.last_out);
        for (f, &out) in (self.settled..=i).zip(&self.out_flags) {
            if out {
                last_out = Some(f);
            }
            hysteresis.step(det, s, f, out, teams, &mut ended);
            last_spell = ended.pop().or(last_spell);
            ended.clear();
        }
        match hysteresis.open_spell(teams).or(last_spell) {
            // The team as the latest assignment has it (teams given by `set_teams` may have
            // changed since the spell began); with fixed teams this is the spell's own.
            Some(sp) => Spell { team: teams.and_then(|a| a.team_of(sp.track)), ..sp }.held(
                i,
                self.loose,
                last_out.is_some_and(|o| o > sp.end),
            ),
            None => Possession::default(),
        }
    }

    /// Replaces the teams from the next push on: a live session's provisional teams
    /// ([`crate::stages::teams::LiveTeams`]) as they are decided and refitted. A frame's team
    /// is then the team its player in control has in the latest assignment; who controls the
    /// ball does not depend on teams (except that referees, once known, are no candidates).
    pub fn set_teams(&mut self, teams: Option<TeamAssignment>) {
        self.teams = teams;
    }
}

impl EventDetection {
    /// The stage's name.
    pub const NAME: &'static str = "event_detection";

    /// The artifact provided (`MatchData.possession` and `MatchData.events`).
    pub const ARTIFACT: &'static str = "events";

    /// A stage with these settings.
    pub fn new(cfg: &EventDetectionConfig) -> Result<Self> {
        validate_config(cfg)?;
        Ok(EventDetection { cfg: cfg.clone() })
    }

    /// Possession per frame (parallel to `data.frames`) and the events, in frame order.
    /// Reads `data.teams` when present; changes nothing in `data`.
    pub fn detect(&self, data: &MatchData) -> Result<(Vec<Possession>, Vec<MatchEvent>)> {
        let a = self.analyse(data)?;
        Ok((a.possession, a.events))
    }

    /// Possession per frame, team possession phases and events. Reads `data.teams` when
    /// present; changes nothing in `data`.
    pub fn analyse(&self, data: &MatchData) -> Result<EventAnalysis> {
        let fps = data.video.fps;
        if !(fps.is_finite() && fps > 0.0) {
            return Err(Error::permanent(format!("event detection needs a positive frame rate, found {fps}")));
        }
        let scene = self.scene(data);
        let outs = self.out_spans(&scene);
        let spells = self.spells(&scene, &outs, data.teams.as_ref());
        let possession = self.possession(scene.ball.len(), fps, &spells, &outs);
        let phases = self.phases(fps, &spells, &outs, scene.ball.len());
        let events = self.events(data, &scene, &spells, &outs, &phases, fps);
        let phases = phases
            .into_iter()
            .map(|(team, from, to)| PossessionPhase {
                team,
                from_frame: data.frames[from].index,
                to_frame: data.frames[to].index,
            })
            .collect();
        Ok(EventAnalysis { possession, phases, events })
    }

    fn scene(&self, data: &MatchData) -> Scene {
        let mut scene = Scene::new(data.video.fps);
        for rec in &data.frames {
            scene.push(rec, data.teams.as_ref());
        }
        scene
    }

    /// Beyond a line by more than the margin.
    fn beyond(&self, p: P2) -> bool {
        let [l, w] = self.cfg.pitch_size_m;
        p[0].abs() > l / 2.0 + self.cfg.out_margin_m || p[1].abs() > w / 2.0 + self.cfg.out_margin_m
    }

    fn inside(&self, p: P2) -> bool {
        let [l, w] = self.cfg.pitch_size_m;
        p[0].abs() <= l / 2.0 && p[1].abs() <= w / 2.0
    }

    /// Whether the nearest line to `p` is a goal line (else a touchline).
    fn nearest_is_goal_line(&self, p: P2) -> bool {
        let [l, w] = self.cfg.pitch_size_m;
        l / 2.0 - p[0].abs() < w / 2.0 - p[1].abs()
    }

    fn out_spans(&self, s: &Scene) -> Vec<OutSpan> {
        let n = s.ball.len();
        let mut scan = OutScan::default();
        let mut spans: Vec<OutSpan> = (0..n).filter_map(|i| scan.step(self, s, i)).collect();
        spans.extend(scan.open.map(|o| OutSpan { end: n, ..o }));
        spans
    }

    /// Whether `track` controls the ball at frame `i` within `radius`: close enough and the
    /// ball moving with him just before or just after.
    fn controls(&self, s: &Scene, track: u64, i: usize, radius: f64) -> Option<f64> {
        let n = s.ball.len();
        let path = s.paths.get(&track)?;
        let p = path.at(i)?;
        let b = s.ball[i]?;
        let d = dist(p, b);
        if d > radius {
            return None;
        }
        let k = self.cfg.velocity_window_frames as usize;
        let with_him = [-1, 1].into_iter().any(|dir| {
            let vb = velocity(|j| s.ball[j], n, i, k, dir, s.dt);
            let vp = velocity(|j| path.at(j), n, i, k, dir, s.dt);
            match (vb, vp) {
                (Some(vb), Some(vp)) => dist(vb, vp) <= self.cfg.max_control_speed_mps,
                // Not measurable on this side (start or end of a track or of the ball).
                _ => vb.is_none(),
            }
        });
        with_him.then_some(d)
    }

    fn spells(&self, s: &Scene, outs: &[OutSpan], teams: Option<&TeamAssignment>) -> Vec<Spell> {
        let mut is_out = vec![false; s.ball.len()];
        for o in outs {
            is_out[o.start..o.end].iter_mut().for_each(|x| *x = true);
        }
        let mut spells = Vec::new();
        let mut hysteresis = Hysteresis::default();
        for (i, &out) in is_out.iter().enumerate() {
            hysteresis.step(self, s, i, out, teams, &mut spells);
        }
        spells.extend(hysteresis.open_spell(teams));
        spells
    }

    fn possession(&self, n: usize, fps: f64, spells: &[Spell], outs: &[OutSpan]) -> Vec<Possession> {
        let mut out = vec![Possession::default(); n];
        let loose = loose_frames(&self.cfg, fps);
        for (k, sp) in spells.iter().enumerate() {
            let next = spells.get(k + 1).map_or(n, |t| t.start);
            let out_at = outs.iter().find(|o| o.start > sp.end).map_or(n, |o| o.start);
            for (i, p) in out.iter_mut().enumerate().take(next).skip(sp.start) {
                *p = sp.held(i, loose, i >= out_at);
            }
        }
        out
    }

    /// Team possession phases (4. in the [module docs](self)) as (team, first frame, last
    /// frame), positions in `MatchData.frames`.
    fn phases(&self, fps: f64, spells: &[Spell], outs: &[OutSpan], n: usize) -> Vec<(u32, usize, usize)> {
        let min = (self.cfg.phase_min_control_s * fps).round() as usize;
        let mut phases = Vec::new();
        // The team in possession and the first frame of its phase.
        let mut open: Option<(u32, usize)> = None;
        // The other team's control since the holder's last: (team, first frame, frames).
        let mut challenger: Option<(u32, usize, usize)> = None;
        let through = self.cfg.phases_through_out_of_play;
        let mut outs = outs.iter().peekable();
        // The ball went out since the last spell: the next control is a restart (a throw-in,
        // a goal kick), which nobody contests, so it needs no sustained control.
        let mut restart = false;
        for sp in spells {
            // A spell of a track without a team neither holds nor challenges.
            let Some(team) = sp.team else { continue };
            while let Some(o) = outs.next_if(|o| o.start <= sp.start) {
                restart = true;
                challenger = None;
                if !through
                    && let Some((holder, from)) = open.take()
                    && o.start > from
                {
                    phases.push((holder, from, o.start - 1));
                }
            }
            match open {
                None => open = Some((team, sp.start)),
                Some((holder, _)) if holder == team => challenger = None,
                Some((holder, from)) => {
                    let frames = sp.end + 1 - sp.start;
                    let c = match challenger {
                        Some((t, first, so_far)) if t == team => (t, first, so_far + frames),
                        _ => (team, sp.start, frames),
                    };
                    if (restart || c.2 >= min) && c.1 > from {
                        phases.push((holder, from, c.1 - 1));
                        open = Some((team, c.1));
                        challenger = None;
                    } else {
                        challenger = Some(c);
                    }
                }
            }
            restart = false;
        }
        if let Some((holder, from)) = open {
            let end = if through { n } else { outs.find(|o| o.start > from).map_or(n, |o| o.start) };
            phases.push((holder, from, end - 1));
        }
        phases
    }

    /// Whether the ball at frame `i` flies at goal: `(speed m/s, on target)` when its centred
    /// velocity is shot-fast on a line through the (widened) goal mouth of the goal whose half
    /// it is in, within the shot distance.
    fn at_goal(&self, s: &Scene, i: usize) -> Option<(f64, bool)> {
        let n = s.ball.len();
        let k = self.cfg.velocity_window_frames as usize;
        let p = s.ball[i]?;
        let v = velocity(|q| s.ball[q], n, i, k, 0, s.dt)?;
        let speed = v[0].hypot(v[1]);
        if speed < self.cfg.shot_min_speed_mps || v[0] == 0.0 {
            return None;
        }
        let goal_x = self.cfg.pitch_size_m[0] / 2.0 * v[0].signum();
        if p[0] * goal_x < 0.0 || dist(p, [goal_x, 0.0]) > self.cfg.max_shot_distance_m {
            return None;
        }
        let y = p[1] + v[1] * (goal_x - p[0]) / v[0];
        let half = self.cfg.goal_width_m / 2.0;
        (y.abs() <= half + self.cfg.goal_mouth_margin_m).then_some((speed, y.abs() <= half))
    }

    /// Peak ball speed (m/s) within the velocity window after frame `i`.
    fn kick_speed(&self, s: &Scene, i: usize) -> Option<f64> {
        let n = s.ball.len();
        let k = self.cfg.velocity_window_frames as usize;
        (i..(i + k + 1).min(n))
            .filter_map(|j| velocity(|q| s.ball[q], n, j, k, 0, s.dt))
            .map(|v| v[0].hypot(v[1]))
            .reduce(f64::max)
    }

    /// Whether track `b` is track `a` under a new id (a tracker id switch): `b` is first seen
    /// after `a` was last seen, within [`MAX_SWITCH_GAP_FRAMES`], where a player could have
    /// got from `a`'s last position (at most [`MAX_PLAYER_SPEED_MPS`] plus 1 m of noise).
    /// The ball passing between them is then no pass.
    fn continues(s: &Scene, a: u64, b: u64) -> bool {
        let (Some(pa), Some(pb)) = (s.paths.get(&a), s.paths.get(&b)) else { return false };
        let last_a = pa.first + pa.pos.len() - 1;
        if pb.first <= last_a || pb.first - last_a > MAX_SWITCH_GAP_FRAMES {
            return false;
        }
        let (Some(p), Some(q)) = (pa.at(last_a), pb.at(pb.first)) else { return false };
        dist(p, q) <= 1.0 + MAX_PLAYER_SPEED_MPS * (pb.first - last_a) as f64 * s.dt
    }

    /// Farthest the ball got from its position at `from` over frames `from..to`.
    fn travel(&self, s: &Scene, from: usize, to: usize) -> f64 {
        let Some(b0) = s.ball[from] else { return 0.0 };
        (from..to).filter_map(|j| s.ball[j]).map(|b| dist(b, b0)).fold(0.0, f64::max)
    }

    fn events(
        &self,
        data: &MatchData,
        s: &Scene,
        spells: &[Spell],
        outs: &[OutSpan],
        phases: &[(u32, usize, usize)],
        fps: f64,
    ) -> Vec<MatchEvent> {
        let n = s.ball.len();
        // A spell of the team out of possession that did not win the phase is a contest
        // (a challenge, a block, a touch the holders win back): the ball goes on from the
        // spell before it to the spell after it.
        let contest: Vec<bool> = spells
            .iter()
            .map(|sp| {
                let phase = phases.iter().find(|p| p.1 <= sp.start && sp.start <= p.2);
                matches!((phase, sp.team), (Some(p), Some(t)) if p.0 != t)
            })
            .collect();
        let loose = loose_frames(&self.cfg, fps);
        let k = self.cfg.velocity_window_frames as usize;
        let event =
            |kind, i: usize, team, from_track, to_track, pitch: Option<P2>, details: &[(&str, f64)]| MatchEvent {
                kind,
                frame: data.frames[i].index,
                time_s: data.frames[i].time_s,
                team,
                from_track,
                to_track,
                pitch,
                details: details.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            };
        let mut events = Vec::new();
        // Shots: runs of frames with the ball flying at goal. A run starting within the
        // velocity window of a release is that player's shot (at the release); any other is
        // credited to the nearest player at its start, if one is close.
        let mut shot_release = vec![false; spells.len()];
        let goal = self.cfg.pitch_size_m[0] / 2.0;
        let mut i = 0;
        while i < n {
            let Some(first) = self.at_goal(s, i) else {
                i += 1;
                continue;
            };
            let start = i;
            let (mut speed, mut on_target) = first;
            i += 1;
            while i < n
                && let Some((v, on)) = self.at_goal(s, i)
            {
                if v > speed {
                    (speed, on_target) = (v, on);
                }
                i += 1;
            }
            let released = spells.iter().position(|sp| sp.end + 1 + k >= start && start + k >= sp.end);
            let (at, team, shooter) = match released {
                Some(idx) => {
                    shot_release[idx] = true;
                    (spells[idx].end, spells[idx].team, Some(spells[idx].track))
                }
                None => {
                    let b = s.ball[start].expect("at_goal needs a position");
                    let shooter = s.players[start]
                        .iter()
                        .map(|p| (dist(p.pos, b), p.track))
                        .filter(|(d, _)| *d <= self.cfg.control_radius_m + self.cfg.release_margin_m)
                        .min_by(|a, b| a.0.total_cmp(&b.0))
                        .map(|(_, t)| t);
                    (start, shooter.and_then(|t| data.teams.as_ref().and_then(|a| a.team_of(t))), shooter)
                }
            };
            let Some(b) = s.ball[at].or(s.ball[start]) else { continue };
            let goal_distance = dist(b, [goal * b[0].signum(), 0.0]);
            let details = [
                ("ball_speed_kmh", speed * 3.6),
                ("goal_distance_m", goal_distance),
                ("on_target", on_target as u8 as f64),
            ];
            events.push(event(MatchEventKind::Shot, at, team, shooter, None, Some(b), &details));
        }
        // The ball out of play between spell `j`'s release and the next spell, if it went out.
        let out_after = |j: usize| {
            let next = spells.get(j + 1);
            outs.iter().find(|o| o.start > spells[j].end && next.is_none_or(|t| o.start < t.start))
        };
        // Whether the ball was loose longer than `max_loose_s` after spell `j`.
        let loose_after = |j: usize| {
            let r = spells[j].end;
            spells.get(j + 1).map_or(r + 1 + loose < n, |t| t.start > r + 1 + loose)
        };
        // What happened after each release.
        for (idx, sp) in spells.iter().enumerate() {
            if shot_release[idx] {
                continue;
            }
            let r = sp.end;
            let next = spells.get(idx + 1);
            let out = out_after(idx);
            let gap_end = out.map(|o| o.start).or(next.map(|t| t.start)).unwrap_or(n);
            let travel = self.travel(s, r, gap_end);
            let speed = self.kick_speed(s, r).unwrap_or(0.0) * 3.6;
            let base = [("ball_speed_kmh", speed), ("distance_m", travel)];
            if out.is_some() || loose_after(idx) {
                if travel >= self.cfg.min_pass_distance_m {
                    let end = [base[0], base[1], ("end_frame", data.frames[gap_end.min(n - 1)].index as f64)];
                    events.push(event(MatchEventKind::PassFailed, r, sp.team, Some(sp.track), None, s.ball[r], &end));
                }
                // A loose ball the other team then wins (in play all along) still changes
                // possession: a turnover at their first control.
                if let (None, Some(t), false, false) = (out, next, contest[idx], contest.get(idx + 1) == Some(&true))
                    && let (Some(a), Some(b)) = (sp.team, t.team)
                    && a != b
                {
                    let details = [base[0], base[1], ("pass_frame", data.frames[r].index as f64)];
                    let winner = Some(t.track);
                    events.push(event(
                        MatchEventKind::Turnover,
                        t.start,
                        Some(b),
                        Some(sp.track),
                        winner,
                        s.ball[t.start],
                        &details,
                    ));
                }
                continue;
            }
            if contest[idx] {
                continue;
            }
            // Past the other team's contests (challenges the holders won back) to the next
            // spell that counts, as long as the ball stayed in play all the way.
            let Some(k) = (idx + 1..spells.len()).find(|&k| !contest[k]) else { continue };
            if (idx + 1..k).any(|j| out_after(j).is_some() || loose_after(j)) {
                continue;
            }
            let t = &spells[k];
            let travel = if k == idx + 1 { travel } else { self.travel(s, r, t.start) };
            let base = [base[0], ("distance_m", travel)];
            if t.track == sp.track || Self::continues(s, sp.track, t.track) {
                continue;
            }
            let (Some(a), Some(b)) = (sp.team, t.team) else { continue };
            let details = [base[0], base[1], ("end_frame", data.frames[t.start].index as f64)];
            if a == b {
                events.push(event(
                    MatchEventKind::Pass,
                    r,
                    Some(a),
                    Some(sp.track),
                    Some(t.track),
                    s.ball[r],
                    &details,
                ));
            } else {
                let kind = if travel >= self.cfg.min_pass_distance_m {
                    MatchEventKind::Interception
                } else {
                    MatchEventKind::Turnover
                };
                let details = [details[0], details[1], ("pass_frame", data.frames[r].index as f64)];
                events.push(event(kind, t.start, Some(b), Some(sp.track), Some(t.track), s.ball[t.start], &details));
            }
        }
        // Balls out of play, credited to the last player who had the ball before.
        for (k, o) in outs.iter().enumerate() {
            let prev_out = if k > 0 { outs[k - 1].end } else { 0 };
            let last = spells.iter().rev().find(|sp| sp.end < o.start && sp.start >= prev_out);
            let details = [("goal_line", o.goal_line as u8 as f64), ("lost", o.lost as u8 as f64)];
            events.push(event(
                MatchEventKind::OutOfPlay,
                o.start,
                last.and_then(|sp| sp.team),
                last.map(|sp| sp.track),
                None,
                Some(o.pos),
                &details,
            ));
        }
        events.sort_by_key(|e| e.frame);
        events
    }
}

impl Stage for EventDetection {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::PLAYER_TRACKS, Artifact::BALL, Artifact::HOMOGRAPHY]
    }

    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::custom(Self::ARTIFACT)]
    }

    fn after(&self) -> Vec<Artifact> {
        vec![Artifact::TEAMS]
    }
}

impl MatchStage for EventDetection {
    fn run(&mut self, data: &mut MatchData, ctx: &StageContext) -> Result<()> {
        if ctx.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let a = self.analyse(data)?;
        data.possession = a.possession;
        data.possession_phases = a.phases;
        data.events = a.events;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{FPS, ball_at, pitch_frame, user_match};

    /// A path through keyframes `(frame, position)`, linear in between, absent outside.
    fn path(keys: &[(usize, P2)]) -> impl Fn(usize) -> Option<P2> + use<> {
        let keys = keys.to_vec();
        move |f| {
            let (last, first) = (keys[keys.len() - 1], keys[0]);
            if f < first.0 || f > last.0 {
                return None;
            }
            let w = keys.windows(2).find(|w| w[0].0 <= f && f <= w[1].0).unwrap_or(&keys[..1]);
            let (a, b) = (w[0], *w.last().unwrap());
            let t = if b.0 == a.0 { 0.0 } else { (f - a.0) as f64 / (b.0 - a.0) as f64 };
            Some([a.1[0] + t * (b.1[0] - a.1[0]), a.1[1] + t * (b.1[1] - a.1[1])])
        }
    }

    type Mover = Box<dyn Fn(usize) -> Option<P2>>;

    /// A match of `n` frames: players `(track, team, role, path)` and the ball.
    fn scene(n: usize, players: Vec<(u64, Option<u32>, Role, Mover)>, ball: Mover, with_teams: bool) -> MatchData {
        let frames = (0..n)
            .map(|i| {
                let people = players.iter().filter_map(|(id, _, _, p)| Some((*id, p(i)?)));
                pitch_frame(i as u64, i as f64 / FPS, people, Some(ball_at(ball(i))))
            })
            .collect();
        user_match(frames, with_teams.then(|| players.iter().map(|(id, team, role, _)| (*id, *team, *role))))
    }

    fn still(p: P2) -> Mover {
        Box::new(move |_| Some(p))
    }

    /// Player 1 of team 0 standing at the origin and player 2 of team 1 at `(x, 0)`.
    fn duel(x: f64) -> Vec<(u64, Option<u32>, Role, Mover)> {
        vec![(1, Some(0), Role::Player, still([0.0, 0.0])), (2, Some(1), Role::Player, still([x, 0.0]))]
    }

    /// The settings the expected values below are derived with: radius 2 m (keep 3 m), 6 m/s,
    /// 3 frames of hysteresis, a 3-frame velocity window, 3 s of loose ball, shots ≥ 15 m/s
    /// within 35 m, out beyond 1 m for 3 frames or lost for 12 within 2 m of a line.
    fn config() -> EventDetectionConfig {
        EventDetectionConfig { control_radius_m: 2.0, max_control_speed_mps: 6.0, ..Default::default() }
    }

    fn run(data: &mut MatchData) -> (Vec<Possession>, Vec<MatchEvent>) {
        let mut st = EventDetection::new(&config()).unwrap();
        assert_eq!(st.name(), "event_detection");
        st.run(data, &StageContext::standalone("event_detection", data.video.clone())).unwrap();
        assert_eq!(data.possession.len(), data.frames.len());
        // Every event carries its frame's time and where on the pitch it happened.
        for e in &data.events {
            assert_eq!(e.time_s, data.frames[e.frame as usize].time_s, "{e:?}");
            assert!(e.pitch.is_some(), "{e:?}");
        }
        (data.possession.clone(), data.events.clone())
    }

    /// Kind, frame, team, from and to track.
    type Brief = (MatchEventKind, u64, Option<u32>, Option<u64>, Option<u64>);

    fn kinds(events: &[MatchEvent]) -> Vec<Brief> {
        events.iter().map(|e| (e.kind, e.frame, e.team, e.from_track, e.to_track)).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-3
    }

    /// Player 1 at (0, 0) with the ball at (0.5, 0) until frame 24, then a 15 m/s pass along x
    /// (0.6 m per frame) reaching (15.5, 0) at frame 49, next to player 2 at (16, 0).
    ///
    /// With [`config`] (radius 2 m, keep 3 m, 6 m/s, 3 frames, window 3 frames): player 1
    /// still has the ball at frame 25 (over frames 22..25 it moved 0.6 m, 5 m/s), not at 26
    /// (1.2 m: 10 m/s behind, 15 m/s ahead), so the release is frame 25; player 2 controls it
    /// from frame 48 (1.1 m away, moving 0.6 m over 48..51: 5 m/s), not 47 (10 m/s ahead).
    fn pass(receiver_team: u32, with_teams: bool) -> MatchData {
        let players: Vec<(u64, Option<u32>, Role, Mover)> = vec![
            (1, Some(0), Role::Player, still([0.0, 0.0])),
            (2, Some(receiver_team), Role::Player, still([16.0, 0.0])),
            (3, Some(1), Role::Player, still([0.0, 20.0])),
            (9, None, Role::Referee, still([8.0, 0.5])),
        ];
        let ball = path(&[(0, [0.5, 0.0]), (24, [0.5, 0.0]), (49, [15.5, 0.0]), (99, [15.5, 0.0])]);
        scene(100, players, Box::new(ball), with_teams)
    }

    #[test]
    fn a_pass_between_team_mates() {
        let (pos, events) = run(&mut pass(0, true));
        for (i, p) in pos.iter().enumerate() {
            let expected = match i {
                0..=25 => Possession { team: Some(0), track_id: Some(1) },
                26..=47 => Possession { team: Some(0), track_id: None },
                _ => Possession { team: Some(0), track_id: Some(2) },
            };
            assert_eq!(*p, expected, "frame {i}");
        }
        assert_eq!(kinds(&events), vec![(MatchEventKind::Pass, 25, Some(0), Some(1), Some(2))]);
        // The team keeps its phase through the pass.
        let mut data = pass(0, true);
        run(&mut data);
        assert_eq!(data.possession_phases, vec![PossessionPhase { team: 0, from_frame: 0, to_frame: 99 }]);
        let e = &events[0];
        assert!(close(e.time_s, 1.0));
        let p = e.pitch.unwrap();
        assert!(close(p[0], 1.1) && close(p[1], 0.0), "{p:?}");
        assert_eq!(e.details["end_frame"], 48.0);
        // From the release (1.1 m) to the farthest point before player 2 had it (14.3 m).
        assert!(close(e.details["distance_m"], 13.2), "{:?}", e.details);
        assert!(close(e.details["ball_speed_kmh"], 54.0), "{:?}", e.details);
    }

    #[test]
    fn an_interception() {
        let (pos, events) = run(&mut pass(1, true));
        assert_eq!(kinds(&events), vec![(MatchEventKind::Interception, 48, Some(1), Some(1), Some(2))]);
        assert_eq!(events[0].details["pass_frame"], 25.0);
        assert_eq!(pos[47], Possession { team: Some(0), track_id: None });
        assert_eq!(pos[48], Possession { team: Some(1), track_id: Some(2) });
        // Player 2 controls it from frame 48 to the end (52 frames ≥ 1 s): the phase changes
        // where he got it; the pass in flight (26..=47) stays in team 0's phase.
        let mut data = pass(1, true);
        run(&mut data);
        let phase = |team, from_frame, to_frame| PossessionPhase { team, from_frame, to_frame };
        assert_eq!(data.possession_phases, vec![phase(0, 0, 47), phase(1, 48, 99)]);
        let per_frame: Vec<_> = (0..100).map(|i| Some(u32::from(i >= 48))).collect();
        assert_eq!(data.phase_teams(), per_frame);
    }

    /// Spells of `(track, team, first, last)` for [`EventDetection::phases`].
    fn spells(s: &[(u64, Option<u32>, usize, usize)]) -> Vec<Spell> {
        s.iter().map(|&(track, team, start, end)| Spell { track, team, start, end }).collect()
    }

    #[test]
    fn phases_switch_on_sustained_control_only() {
        // 1 s at 25 fps = 25 frames of the other team's control.
        let det = EventDetection::new(&EventDetectionConfig { phase_min_control_s: 1.0, ..config() }).unwrap();
        let out = |start, end| OutSpan { start, end, pos: [0.0, 40.0], goal_line: false, lost: false };
        // Team 0 from frame 10; team 1 touches it for 10 frames (a contest), team 0 again;
        // team 1 controls 15 + 12 frames with a loose ball between (27 ≥ 25: its phase from
        // frame 100; a track with no team in between does nothing); team 0 wins it back for
        // 25 frames from 150; the ball goes out at 200; team 0 starts again at 230, and the
        // clip ends at 299.
        let sp = spells(&[
            (1, Some(0), 10, 40),
            (2, Some(1), 41, 50),
            (1, Some(0), 51, 80),
            (3, Some(1), 100, 114),
            (4, None, 115, 120),
            (2, Some(1), 130, 141),
            (1, Some(0), 150, 174),
            (5, Some(0), 230, 240),
        ]);
        let outs = [out(200, 220)];
        assert_eq!(det.phases(25.0, &sp, &outs, 300), vec![(0, 10, 99), (1, 100, 149), (0, 150, 199), (0, 230, 299)]);
        // 24 frames of control is not enough.
        let mut short = sp.clone();
        short[5].end = 138;
        assert_eq!(det.phases(25.0, &short, &outs, 300), vec![(0, 10, 199), (0, 230, 299)]);
        // A touch by the holder between the two challenges restarts the count.
        let mut interrupted = sp.clone();
        interrupted.insert(5, Spell { track: 1, team: Some(0), start: 122, end: 123 });
        assert_eq!(det.phases(25.0, &interrupted, &outs, 300), vec![(0, 10, 199), (0, 230, 299)]);
        // Through out of play the phase goes on while the ball is out, and the other team's
        // restart (a 6-frame throw-in at 230) takes it over at once: nobody contests a restart.
        let through = EventDetectionConfig { phase_min_control_s: 1.0, phases_through_out_of_play: true, ..config() };
        let through = EventDetection::new(&through).unwrap();
        let mut restart = sp.clone();
        restart[7] = Spell { track: 6, team: Some(1), start: 230, end: 235 };
        let expected = vec![(0, 10, 99), (1, 100, 149), (0, 150, 229), (1, 230, 299)];
        assert_eq!(through.phases(25.0, &restart, &outs, 300), expected);
        assert_eq!(
            det.phases(25.0, &restart, &outs, 300),
            vec![(0, 10, 99), (1, 100, 149), (0, 150, 199), (1, 230, 299)]
        );
        // The holder's own restart keeps it.
        assert_eq!(through.phases(25.0, &sp, &outs, 300), vec![(0, 10, 99), (1, 100, 149), (0, 150, 299)]);
        // With 0 s every control spell of the other team switches; an out with no spell after
        // it ends the last phase.
        let det = EventDetection::new(&EventDetectionConfig { phase_min_control_s: 0.0, ..config() }).unwrap();
        assert_eq!(det.phases(25.0, &sp[..3], &[out(90, 300)], 300), vec![(0, 10, 40), (1, 41, 50), (0, 51, 89)]);
        assert!(det.phases(25.0, &[], &outs, 300).is_empty());
    }

    #[test]
    fn without_teams_possession_has_players_but_no_team_and_no_pass_is_guessed() {
        let (pos, events) = run(&mut pass(0, false));
        assert_eq!(pos[10], Possession { team: None, track_id: Some(1) });
        assert_eq!(pos[60], Possession { team: None, track_id: Some(2) });
        assert!(pos.iter().all(|p| p.team.is_none()));
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn a_tackle_is_a_turnover_and_a_brief_contest_is_not() {
        // Player 2 (other team) stands at (1.3, 0). Frames 30–31: the ball pokes to (1.0, 0),
        // nearer to him, for 2 frames (< 3): nothing changes. From frame 60 it rolls to
        // (1.2, 0) over 10 frames (0.07 m per frame): he is nearer from frame 63 (0.71 m
        // from player 1, 0.59 m from him) and takes it after 3 frames, from frame 63 on.
        let players = duel(1.3);
        let ball = move |f: usize| match f {
            30 | 31 => Some([1.0, 0.0]),
            _ => path(&[(0, [0.5, 0.0]), (60, [0.5, 0.0]), (70, [1.2, 0.0]), (99, [1.2, 0.0])])(f),
        };
        let (pos, events) = run(&mut scene(100, players, Box::new(ball), true));
        assert_eq!(kinds(&events), vec![(MatchEventKind::Turnover, 63, Some(1), Some(1), Some(2))]);
        assert!(pos[..63].iter().all(|p| *p == Possession { team: Some(0), track_id: Some(1) }), "{pos:?}");
        assert!(pos[63..].iter().all(|p| *p == Possession { team: Some(1), track_id: Some(2) }), "{pos:?}");
    }

    #[test]
    fn a_challenge_the_holders_win_back_is_a_pass_through_it() {
        // The tackle above, but player 2 holds the ball only from frame 63 to 81 (19 frames,
        // under the 25 of `phase_min_control_s`) before it runs on at 0.6 m per frame to
        // player 3 of team 0 at (16.1, 0), who controls it from frame 103 (frame 102: 1.7 m
        // away but 10 m/s faster over the next 3 frames). Team 0 never lost the phase, so
        // this is no turnover either way: the ball went from player 1 (release 62) to 3.
        let players: Vec<(u64, Option<u32>, Role, Mover)> = vec![
            (1, Some(0), Role::Player, still([0.0, 0.0])),
            (2, Some(1), Role::Player, still([1.3, 0.0])),
            (3, Some(0), Role::Player, still([16.1, 0.0])),
        ];
        let ball = path(&[(0, [0.5, 0.0]), (60, [0.5, 0.0]), (70, [1.2, 0.0]), (80, [1.2, 0.0]), (104, [15.6, 0.0])]);
        let ball = move |f: usize| ball(f.min(104));
        let mut data = scene(150, players, Box::new(ball), true);
        let (pos, events) = run(&mut data);
        assert_eq!(kinds(&events), vec![(MatchEventKind::Pass, 62, Some(0), Some(1), Some(3))]);
        assert_eq!(events[0].details["end_frame"], 103.0);
        assert_eq!(data.possession_phases, vec![PossessionPhase { team: 0, from_frame: 0, to_frame: 149 }]);
        // Per frame, player 2 still had the ball in between.
        assert_eq!((pos[63].track_id, pos[81].track_id, pos[103].track_id), (Some(2), Some(2), Some(3)));
    }

    #[test]
    fn a_challenger_who_clears_the_ball_out_failed_his_pass_not_the_holder() {
        // The tackle: player 2 has the ball from frame 63 to 80 (18 frames, a contest), then
        // kicks it 2 m per frame over the touchline (beyond y = 35 from frame 98). His is the
        // failed pass and the ball out; player 1, whose ball he took, gets no event.
        let players = duel(1.3);
        let ball = path(&[(0, [0.5, 0.0]), (60, [0.5, 0.0]), (70, [1.2, 0.0]), (80, [1.2, 0.0]), (100, [1.2, 40.0])]);
        let ball = move |f: usize| ball(f.min(100));
        let mut data = scene(130, players, Box::new(ball), true);
        let (_, events) = run(&mut data);
        assert_eq!(
            kinds(&events),
            vec![
                (MatchEventKind::PassFailed, 80, Some(1), Some(2), None),
                (MatchEventKind::OutOfPlay, 98, Some(1), Some(2), None)
            ]
        );
        assert_eq!(data.possession_phases, vec![PossessionPhase { team: 0, from_frame: 0, to_frame: 97 }]);
    }

    #[test]
    fn a_loose_ball_the_other_team_wins_is_a_failed_pass_and_a_turnover() {
        // Player 1's pass of `pass` (release 25) stops at (15.5, 0) with nobody there, lies
        // loose past the 3 s (75 frames), and from frame 129 rolls 0.4 m per frame to (19.5, 0)
        // next to player 2 of team 1 at (20, 0), who controls it from frame 138 (at 137 it
        // is still 6.7 m/s faster than him over the next 3 frames).
        let players = duel(20.0);
        let ball =
            path(&[(0, [0.5, 0.0]), (24, [0.5, 0.0]), (49, [15.5, 0.0]), (129, [15.5, 0.0]), (139, [19.5, 0.0])]);
        let ball = move |f: usize| ball(f.min(139));
        let mut data = scene(200, players, Box::new(ball), true);
        let (_, events) = run(&mut data);
        assert_eq!(
            kinds(&events),
            vec![
                (MatchEventKind::PassFailed, 25, Some(0), Some(1), None),
                (MatchEventKind::Turnover, 138, Some(1), Some(1), Some(2))
            ]
        );
        assert_eq!(events[1].details["pass_frame"], 25.0);
        let phase = |team, from_frame, to_frame| PossessionPhase { team, from_frame, to_frame };
        assert_eq!(data.possession_phases, vec![phase(0, 0, 137), phase(1, 138, 199)]);
    }

    #[test]
    fn a_shot_into_the_goal_then_out_of_play() {
        // Player 1 at (35, 5), ball at (35.3, 5) until frame 19, then (1, −0.25) m per frame
        // (25.8 m/s) to (55.3, 0) at frame 39: it crosses x = 52.5 at y = 0.75 (between the
        // posts) and is beyond the goal line by more than 1 m from frame 38 (x = 54.3).
        let players: Vec<(u64, Option<u32>, Role, Mover)> =
            vec![(1, Some(0), Role::Player, still([35.0, 5.0])), (2, Some(1), Role::Goalkeeper, still([51.0, -2.0]))];
        let ball = path(&[(0, [35.3, 5.0]), (19, [35.3, 5.0]), (39, [55.3, 0.0]), (59, [55.3, 0.0])]);
        let mut data = scene(60, players, Box::new(ball), true);
        let (pos, events) = run(&mut data);
        // Team 0's phase ends where the ball goes out.
        let per_frame: Vec<_> = (0..60).map(|i| (i < 38).then_some(0)).collect();
        assert_eq!(data.phase_teams(), per_frame);
        assert_eq!(
            kinds(&events),
            vec![
                (MatchEventKind::Shot, 19, Some(0), Some(1), None),
                (MatchEventKind::OutOfPlay, 38, Some(0), Some(1), None)
            ]
        );
        let shot = &events[0].details;
        assert!(close(shot["ball_speed_kmh"], 1.0f64.hypot(0.25) * 25.0 * 3.6), "{shot:?}");
        assert!(close(shot["goal_distance_m"], 17.2f64.hypot(5.0)), "{shot:?}");
        assert_eq!(shot["on_target"], 1.0);
        let out = &events[1];
        assert_eq!((out.details["goal_line"], out.details["lost"]), (1.0, 0.0));
        let p = out.pitch.unwrap();
        assert!(close(p[0], 54.3) && close(p[1], 0.25), "{p:?}");
        // Possession: player 1 to the release, his team while the ball flies, nobody once out.
        assert_eq!(pos[19], Possession { team: Some(0), track_id: Some(1) });
        assert_eq!(pos[37], Possession { team: Some(0), track_id: None });
        assert!(pos[38..].iter().all(|p| *p == Possession::default()));
    }

    #[test]
    fn a_pass_over_the_touchline_fails_and_goes_out() {
        // Player 1 at (0, 28) with the ball at (0, 28.5) until frame 20, then a pass to (6, 40)
        // over 20 frames (0.3, 0.575) m per frame; beyond y = 35 from frame 32 (y = 35.4).
        let players: Vec<(u64, Option<u32>, Role, Mover)> =
            vec![(1, Some(0), Role::Player, still([0.0, 28.0])), (2, Some(1), Role::Player, still([-10.0, 10.0]))];
        let ball = path(&[(0, [0.0, 28.5]), (20, [0.0, 28.5]), (40, [6.0, 40.0]), (79, [6.0, 40.0])]);
        let (_, events) = run(&mut scene(80, players, Box::new(ball), true));
        // The release is frame 21: over frames 18..21 the ball moved 0.65 m (5.4 m/s, still
        // his), over 19..22 1.3 m (10.8 m/s).
        assert_eq!(
            kinds(&events),
            vec![
                (MatchEventKind::PassFailed, 21, Some(0), Some(1), None),
                (MatchEventKind::OutOfPlay, 32, Some(0), Some(1), None)
            ]
        );
        assert_eq!(events[0].details["end_frame"], 32.0);
        assert_eq!(events[1].details["goal_line"], 0.0);
    }

    #[test]
    fn a_ball_lost_near_a_line_is_out() {
        // The ball rolls from player 1 toward the far touchline and disappears at y = 33.5
        // (frame 30) for the rest of the clip.
        let players: Vec<(u64, Option<u32>, Role, Mover)> = vec![(1, Some(1), Role::Player, still([10.0, 20.0]))];
        let ball = move |f: usize| {
            if f < 30 { path(&[(0, [10.0, 20.5]), (10, [10.0, 20.5]), (29, [10.0, 33.5])])(f) } else { None }
        };
        let (pos, events) = run(&mut scene(60, players, Box::new(ball), true));
        let out: Vec<_> = events.iter().filter(|e| e.kind == MatchEventKind::OutOfPlay).collect();
        assert_eq!(out.len(), 1, "{events:?}");
        assert_eq!((out[0].frame, out[0].team, out[0].from_track), (30, Some(1), Some(1)));
        assert_eq!((out[0].details["goal_line"], out[0].details["lost"]), (0.0, 1.0));
        assert!(pos[30..].iter().all(|p| p.team.is_none()));
    }

    #[test]
    fn a_new_track_id_for_the_same_player_is_no_pass() {
        // Player 1 holds the ball at (0.5, 0) until his track ends at frame 40; the tracker
        // picks him up again as track 5 from frame 44, 0.2 m away, still with the ball.
        let players: Vec<(u64, Option<u32>, Role, Mover)> = vec![
            (1, Some(0), Role::Player, Box::new(|f| (f <= 40).then_some([0.0, 0.0]))),
            (5, Some(0), Role::Player, Box::new(|f| (f >= 44).then_some([0.2, 0.0]))),
        ];
        let (pos, events) = run(&mut scene(80, players, still([0.5, 0.0]), true));
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(pos[40], Possession { team: Some(0), track_id: Some(1) });
        assert_eq!(pos[50], Possession { team: Some(0), track_id: Some(5) });
        // A different player 15 m away taking over after the same gap is a pass.
        let players: Vec<(u64, Option<u32>, Role, Mover)> = vec![
            (1, Some(0), Role::Player, Box::new(|f| (f <= 40).then_some([0.0, 0.0]))),
            (5, Some(0), Role::Player, Box::new(|f| (f >= 44).then_some([15.0, 0.0]))),
        ];
        let ball = path(&[(0, [0.5, 0.0]), (40, [0.5, 0.0]), (60, [14.5, 0.0]), (79, [14.5, 0.0])]);
        let (_, events) = run(&mut scene(80, players, Box::new(ball), true));
        assert_eq!(events.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![MatchEventKind::Pass]);
    }

    /// Live possession of each frame is what the stage gives on the frames up to it, in
    /// every scene above (passes, tackle, shot, balls out over a line and lost near one, an
    /// id switch) and after a long stretch equals the whole match's.
    #[test]
    fn live_possession_is_the_stage_on_the_match_so_far() {
        let with = |receiver| pass(receiver, true);
        let mut scenes = vec![with(0), with(1), pass(0, false)];
        let players: Vec<(u64, Option<u32>, Role, Mover)> =
            vec![(1, Some(0), Role::Player, still([0.0, 28.0])), (2, Some(1), Role::Player, still([-10.0, 10.0]))];
        let ball = path(&[(0, [0.0, 28.5]), (20, [0.0, 28.5]), (40, [6.0, 40.0]), (79, [6.0, 40.0])]);
        scenes.push(scene(80, players, Box::new(ball), true));
        let players: Vec<(u64, Option<u32>, Role, Mover)> = vec![(1, Some(1), Role::Player, still([10.0, 20.0]))];
        let lost = move |f: usize| {
            if f < 30 { path(&[(0, [10.0, 20.5]), (10, [10.0, 20.5]), (29, [10.0, 33.5])])(f) } else { None }
        };
        scenes.push(scene(60, players, Box::new(lost), true));
        let players: Vec<(u64, Option<u32>, Role, Mover)> =
            vec![(1, Some(0), Role::Player, still([35.0, 5.0])), (2, Some(1), Role::Goalkeeper, still([51.0, -2.0]))];
        let shot = path(&[(0, [35.3, 5.0]), (19, [35.3, 5.0]), (39, [55.3, 0.0]), (59, [55.3, 0.0])]);
        scenes.push(scene(60, players, Box::new(shot), true));
        let stage = EventDetection::new(&config()).unwrap();
        for (k, data) in scenes.iter().enumerate() {
            let mut live = LivePossession::new(&config(), FPS, data.teams.clone()).unwrap();
            let whole = stage.detect(data).unwrap().0;
            for (i, rec) in data.frames.iter().enumerate() {
                let got = live.push(rec);
                let prefix = MatchData { frames: data.frames[..=i].to_vec(), ..data.clone() };
                assert_eq!(got, stage.detect(&prefix).unwrap().0[i], "scene {k}, frame {i}");
            }
            // Old frames are dropped as it goes (the scenes are 60-100 frames long).
            let k_window = config().velocity_window_frames as usize;
            assert!(live.scene.ball.base > 0 && live.scene.players.base == live.scene.ball.base);
            assert!(live.scene.ball.items.len() <= FORGET_EVERY + live.lag + k_window + 1, "scene {k}");
            assert!(live.scene.paths.values().all(|p| p.first >= live.scene.ball.base));
            // In the pass, from when player 1 has had the ball for the hysteresis (3 frames)
            // to the release (25), and once player 2 has it for 3 frames with a still ball
            // ahead (48 + 3 + the 3-frame window), live and the whole match agree.
            if k == 0 {
                let mut live = LivePossession::new(&config(), FPS, data.teams.clone()).unwrap();
                let got: Vec<_> = data.frames.iter().map(|r| live.push(r)).collect();
                for i in (2..=22).chain(54..100) {
                    assert_eq!(got[i], whole[i], "frame {i}");
                }
                assert_eq!(got[..2], [Possession::default(); 2]);
            }
        }
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let mut data = pass(0, true);
        data.video.fps = 0.0;
        let e = EventDetection::new(&EventDetectionConfig::default()).unwrap().detect(&data).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Stage);
        for cfg in [
            EventDetectionConfig { control_radius_m: 0.0, ..Default::default() },
            EventDetectionConfig { min_control_frames: 0, ..Default::default() },
            EventDetectionConfig { pitch_size_m: [105.0, f64::NAN], ..Default::default() },
            EventDetectionConfig { max_loose_s: -1.0, ..Default::default() },
            EventDetectionConfig { phase_min_control_s: f64::INFINITY, ..Default::default() },
        ] {
            let e = EventDetection::new(&cfg).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{e}");
            assert!(e.to_string().contains("stage_configs.event_detection."), "{e}");
        }
    }
}
