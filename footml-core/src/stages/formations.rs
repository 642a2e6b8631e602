//! Formation analysis: per team and window, the outfield shape as a formation string
//! (e.g. `"4-3-3"`) with a confidence.
//!
//! [`FormationAnalysis`] (match stage, `"formation_analysis"`) cuts the match into windows
//! (`window_minutes` long, or one per possession phase of at least `min_phase_s` when
//! `windowing = "possession_phases"`, which needs event detection) and, for each team:
//!
//! 1. finds the attack direction over the window: the team attacks away from its goalkeeper
//!    (the track with the goalkeeper role), or, without one, toward the other team's
//!    centroid (without either the window is skipped rather than guessed);
//! 2. in `samples_per_second` frames per second of the window, takes the pitch positions
//!    (feet through the homography) of the team's outfield players seen in that frame, at
//!    least `min_outfield_players` of them (broadcast video shows part of the pitch); when
//!    the team has no goalkeeper track and eleven are seen, the deepest is left out as the
//!    goalkeeper (a frame with more than ten left is not read); positions are rotated so
//!    that the team attacks toward +x. Player identities are not needed, so tracker id
//!    switches and fragmented tracks do not matter;
//! 3. normalises scale in each frame: centred on their mean and divided per axis by their
//!    standard deviation, so a compact and a stretched 4-4-2 look alike;
//! 4. assigns the players to the slots of every template ([`TEMPLATES`]: 4-4-2, 4-3-3,
//!    4-2-3-1, 3-5-2, 5-3-2, 4-1-4-1, 3-4-3, 4-5-1, 5-4-1, 4-4-1-1, 3-4-2-1) with the
//!    Hungarian solver ([`crate::vision::assignment`]) on squared distances; with fewer than
//!    ten players the template is renormalised over the slots they took and assigned again;
//! 5. averages each template's cost (mean squared distance) over the sampled frames —
//!    averaging over the window is what makes the shape stable under detection noise — and
//!    picks the template with the lowest (the *fit cost*). The confidence is
//!    `exp(−cost / FIT_SCALE) · p`, where `p = exp(−cost/T) / Σ exp(−costᵢ/T)` over all
//!    templates (`T` = [`MARGIN_TEMPERATURE`]): high only when the shape fits well *and*
//!    clearly better than the runner-up.
//!
//! Teams are never guessed: without a [`crate::analysis::TeamAssignment`] no formation is
//! reported. Writes `MatchData.formations`.

use std::collections::BTreeMap;

use nalgebra::DMatrix;

use crate::analysis::{FormationWindow, Role};
use crate::config::{ConfigError, FormationAnalysisConfig, FormationWindowing};
use crate::pipeline::stage::{Artifact, MatchStage, Stage, StageContext};
use crate::report::apply_homography;
use crate::stages::events::EventDetection;
use crate::types::MatchData;
use crate::vision::assignment::linear_assignment;
use crate::{Error, Result};

/// Checks a [`FormationAnalysisConfig`]; errors name the key as in the pipeline config.
pub(crate) fn validate_config(cfg: &FormationAnalysisConfig) -> std::result::Result<(), ConfigError> {
    const SECTION: &str = "stage_configs.formation_analysis";
    if !(cfg.window_minutes.is_finite() && cfg.window_minutes > 0.0) {
        return Err(ConfigError::invalid(SECTION, "window_minutes", "a positive number", cfg.window_minutes));
    }
    if !(cfg.min_phase_s.is_finite() && cfg.min_phase_s >= 0.0) {
        return Err(ConfigError::invalid(SECTION, "min_phase_s", "a number ≥ 0", cfg.min_phase_s));
    }
    if !(cfg.samples_per_second.is_finite() && cfg.samples_per_second > 0.0) {
        return Err(ConfigError::invalid(SECTION, "samples_per_second", "a positive number", cfg.samples_per_second));
    }
    if !(3..=10).contains(&cfg.min_outfield_players) {
        return Err(ConfigError::invalid(SECTION, "min_outfield_players", "3 to 10", cfg.min_outfield_players));
    }
    if !cfg.pitch_size_m.iter().all(|x| x.is_finite() && *x > 0.0) {
        return Err(ConfigError::invalid(SECTION, "pitch_size_m", "positive [length, width]", cfg.pitch_size_m));
    }
    Ok(())
}

/// A formation template: its name and the ten outfield slots as `(depth, width)` in metres,
/// depth from the back line forward (only the shape matters: fits are scale-normalised).
pub type Template = (&'static str, &'static [[f64; 2]]);

/// The formations recognised, lines listed from the own goal forward.
pub const TEMPLATES: &[Template] = &[
    (
        "4-4-2",
        &[
            BACK4[0],
            BACK4[1],
            BACK4[2],
            BACK4[3],
            [15., -24.],
            [15., -8.],
            [15., 8.],
            [15., 24.],
            [30., -6.],
            [30., 6.],
        ],
    ),
    (
        "4-3-3",
        &[
            BACK4[0],
            BACK4[1],
            BACK4[2],
            BACK4[3],
            [14., -14.],
            [14., 0.],
            [14., 14.],
            [28., -22.],
            [28., 0.],
            [28., 22.],
        ],
    ),
    (
        "4-2-3-1",
        &[BACK4[0], BACK4[1], BACK4[2], BACK4[3], [10., -8.], [10., 8.], [20., -20.], [20., 0.], [20., 20.], [30., 0.]],
    ),
    (
        "3-5-2",
        &[
            [0., -16.],
            [0., 0.],
            [0., 16.],
            [14., -28.],
            [14., -14.],
            [14., 0.],
            [14., 14.],
            [14., 28.],
            [30., -6.],
            [30., 6.],
        ],
    ),
    (
        "5-3-2",
        &[
            [0., -28.],
            [0., -14.],
            [0., 0.],
            [0., 14.],
            [0., 28.],
            [14., -14.],
            [14., 0.],
            [14., 14.],
            [30., -6.],
            [30., 6.],
        ],
    ),
    (
        "4-1-4-1",
        &[BACK4[0], BACK4[1], BACK4[2], BACK4[3], [8., 0.], [17., -24.], [17., -8.], [17., 8.], [17., 24.], [30., 0.]],
    ),
    (
        "3-4-3",
        &[
            [0., -16.],
            [0., 0.],
            [0., 16.],
            [14., -24.],
            [14., -8.],
            [14., 8.],
            [14., 24.],
            [28., -22.],
            [28., 0.],
            [28., 22.],
        ],
    ),
    (
        "4-5-1",
        &[
            BACK4[0],
            BACK4[1],
            BACK4[2],
            BACK4[3],
            [15., -28.],
            [15., -14.],
            [15., 0.],
            [15., 14.],
            [15., 28.],
            [30., 0.],
        ],
    ),
    (
        "5-4-1",
        &[
            [0., -28.],
            [0., -14.],
            [0., 0.],
            [0., 14.],
            [0., 28.],
            [15., -24.],
            [15., -8.],
            [15., 8.],
            [15., 24.],
            [30., 0.],
        ],
    ),
    (
        "4-4-1-1",
        &[BACK4[0], BACK4[1], BACK4[2], BACK4[3], [13., -24.], [13., -8.], [13., 8.], [13., 24.], [22., 0.], [30., 0.]],
    ),
    (
        "3-4-2-1",
        &[
            [0., -16.],
            [0., 0.],
            [0., 16.],
            [12., -24.],
            [12., -8.],
            [12., 8.],
            [12., 24.],
            [22., -10.],
            [22., 10.],
            [30., 0.],
        ],
    ),
];

/// A back four.
const BACK4: [[f64; 2]; 4] = [[0., -24.], [0., -8.], [0., 8.], [0., 24.]];

/// Fit cost (mean squared distance in normalised units) at which the fit factor of the
/// confidence is 1/e.
pub const FIT_SCALE: f64 = 0.5;
/// Temperature of the softmax over templates' costs: cost differences well above it make
/// the best template clearly better than the runner-up.
pub const MARGIN_TEMPERATURE: f64 = 0.02;

/// How well a set of outfield positions matches the templates.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeFit {
    /// Best template, e.g. `"4-3-3"`.
    pub formation: &'static str,
    /// Confidence in `[0, 1]` (see the [module docs](self)).
    pub confidence: f64,
    /// Mean squared distance to the best template's slots, normalised units.
    pub cost: f64,
    /// The second best template and its cost.
    pub runner_up: (&'static str, f64),
}

/// Centres points on their mean and divides each axis by its standard deviation.
fn normalise(points: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let n = points.len() as f64;
    let mean = [0, 1].map(|a| points.iter().map(|p| p[a]).sum::<f64>() / n);
    let std = [0, 1].map(|a| {
        let v = points.iter().map(|p| (p[a] - mean[a]).powi(2)).sum::<f64>() / n;
        if v > 1e-12 { v.sqrt() } else { 1.0 }
    });
    points.iter().map(|p| [(p[0] - mean[0]) / std[0], (p[1] - mean[1]) / std[1]]).collect()
}

/// Mean squared distance of the optimal assignment of `players` (normalised) to `slots`,
/// and the slots taken.
fn assign(players: &[[f64; 2]], slots: &[[f64; 2]]) -> (f64, Vec<usize>) {
    let cost = DMatrix::from_fn(players.len(), slots.len(), |i, j| {
        (players[i][0] - slots[j][0]).powi(2) + (players[i][1] - slots[j][1]).powi(2)
    });
    let a = linear_assignment(&cost, f64::INFINITY);
    (a.total_cost(&cost) / players.len() as f64, a.matches.iter().map(|&(_, j)| j).collect())
}

/// The fit cost of every template (in [`TEMPLATES`] order) for outfield positions (3 to 10,
/// the team attacking toward +x). `None` for fewer than 3 or more than 10 points, or
/// non-finite ones.
pub fn template_costs(points: &[[f64; 2]]) -> Option<Vec<f64>> {
    if !(3..=10).contains(&points.len()) || points.iter().flatten().any(|x| !x.is_finite()) {
        return None;
    }
    let players = normalise(points);
    Some(
        TEMPLATES
            .iter()
            .map(|(_, slots)| {
                let (cost, taken) = assign(&players, &normalise(slots));
                if players.len() < slots.len() {
                    // Renormalise the template over the slots the players took (a partial
                    // view has its own mean and spread), and assign again.
                    let sub: Vec<[f64; 2]> = taken.iter().map(|&j| slots[j]).collect();
                    cost.min(assign(&players, &normalise(&sub)).0)
                } else {
                    cost
                }
            })
            .collect(),
    )
}

/// The best template for per-template costs (in [`TEMPLATES`] order), with its confidence.
fn best_fit(costs: &[f64]) -> ShapeFit {
    let mut ranked: Vec<(&'static str, f64)> = TEMPLATES.iter().zip(costs).map(|(t, c)| (t.0, *c)).collect();
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (best, cost) = ranked[0];
    let z: f64 = ranked.iter().map(|c| (-(c.1 - cost) / MARGIN_TEMPERATURE).exp()).sum();
    let confidence = (-cost / FIT_SCALE).exp() / z;
    ShapeFit { formation: best, confidence, cost, runner_up: ranked[1] }
}

/// Fits outfield positions (3 to 10 of them, the team attacking toward +x) to every
/// template. `None` for fewer than 3 or more than 10 points, or non-finite ones.
pub fn fit_shape(points: &[[f64; 2]]) -> Option<ShapeFit> {
    template_costs(points).map(|c| best_fit(&c))
}

/// One team in one window: summed outfield and goalkeeper positions (for the attack
/// direction) and the summed template costs of its sampled frames.
#[derive(Default)]
struct TeamWindow {
    outfield: ([f64; 2], usize),
    keeper: ([f64; 2], usize),
    costs: Vec<f64>,
    fitted: usize,
}

/// The formation analysis match stage (see the [module docs](self)).
#[derive(Debug, Clone, Default)]
pub struct FormationAnalysis {
    cfg: FormationAnalysisConfig,
}

impl FormationAnalysis {
    /// The artifact provided (`MatchData.formations`).
    pub const ARTIFACT: &'static str = "formations";

    /// A stage with these settings.
    pub fn new(cfg: &FormationAnalysisConfig) -> Result<Self> {
        validate_config(cfg)?;
        Ok(FormationAnalysis { cfg: cfg.clone() })
    }

    /// Windows as `[start, end)` positions in `data.frames`.
    fn windows(&self, data: &MatchData) -> Result<Vec<(usize, usize)>> {
        let n = data.frames.len();
        let fps = data.video.fps;
        Ok(match self.cfg.windowing {
            FormationWindowing::Minutes => {
                let w = ((self.cfg.window_minutes * 60.0 * fps).round() as usize).max(1);
                (0..n).step_by(w).map(|s| (s, (s + w).min(n))).collect()
            }
            FormationWindowing::PossessionPhases => {
                if data.possession.len() != n {
                    return Err(Error::permanent(format!(
                        "formation analysis by possession phases needs possession for every frame ({n}), found {} \
                         (run event detection first)",
                        data.possession.len()
                    )));
                }
                let min = (self.cfg.min_phase_s * fps).round() as usize;
                let team = data.phase_teams();
                let mut out = Vec::new();
                let mut start = 0;
                for i in 1..=n {
                    if i == n || team[i] != team[start] {
                        if team[start].is_some() && i - start >= min.max(1) {
                            out.push((start, i));
                        }
                        start = i;
                    }
                }
                out
            }
        })
    }

    /// Formations of every team and window.
    pub fn analyse(&self, data: &MatchData) -> Result<Vec<FormationWindow>> {
        let fps = data.video.fps;
        if !(fps.is_finite() && fps > 0.0) {
            return Err(Error::permanent(format!("formation analysis needs a positive frame rate, found {fps}")));
        }
        let Some(teams) = &data.teams else { return Ok(Vec::new()) };
        let has_keeper: std::collections::BTreeSet<u32> =
            teams.tracks.iter().filter(|t| t.role == Role::Goalkeeper).filter_map(|t| t.team).collect();
        let step = ((fps / self.cfg.samples_per_second).round() as usize).max(1);
        let mut out = Vec::new();
        for (start, end) in self.windows(data)? {
            // Per frame: (team, role, position) of every classified person seen.
            let people = |rec: &crate::FrameRecord| -> Vec<(u32, Role, [f64; 2])> {
                let Some(h) = &rec.homography else { return Vec::new() };
                rec.tracks
                    .iter()
                    .flatten()
                    .filter_map(|t| {
                        let entry = teams.track(t.track_id)?;
                        let (u, v) = t.bbox.foot();
                        let p = apply_homography(h, u as f64, v as f64)?;
                        (p[0].is_finite() && p[1].is_finite()).then_some((entry.team?, entry.role, p))
                    })
                    .collect()
            };
            let mut by_team: BTreeMap<u32, TeamWindow> = BTreeMap::new();
            // Pass 1: where each team's outfield and goalkeeper are on average.
            for rec in data.frames[start..end].iter().step_by(step) {
                for (team, role, p) in people(rec) {
                    let w = by_team.entry(team).or_default();
                    let acc = match role {
                        Role::Goalkeeper => &mut w.keeper,
                        Role::Referee => continue,
                        Role::Player | Role::Unknown => &mut w.outfield,
                    };
                    acc.0 = [acc.0[0] + p[0], acc.0[1] + p[1]];
                    acc.1 += 1;
                }
            }
            let mean_x = |acc: &([f64; 2], usize)| (acc.1 > 0).then(|| acc.0[0] / acc.1 as f64);
            let signs: BTreeMap<u32, f64> = by_team
                .iter()
                .filter_map(|(&team, w)| {
                    let own = mean_x(&w.outfield)?;
                    let sign = if let Some(gk) = mean_x(&w.keeper) {
                        -gk.signum()
                    } else {
                        let other = by_team.iter().find(|(t, _)| **t != team).and_then(|(_, o)| mean_x(&o.outfield))?;
                        (other - own).signum()
                    };
                    (sign != 0.0).then_some((team, sign))
                })
                .collect();
            // Pass 2: each sampled frame's shape, per team.
            for rec in data.frames[start..end].iter().step_by(step) {
                let seen = people(rec);
                for (&team, &sign) in &signs {
                    // Attack toward +x (a half-turn keeps left and right).
                    let mut players: Vec<[f64; 2]> = seen
                        .iter()
                        .filter(|(t, role, _)| *t == team && matches!(role, Role::Player | Role::Unknown))
                        .map(|(_, _, p)| [sign * p[0], sign * p[1]])
                        .collect();
                    if players.len() > 10 && !has_keeper.contains(&team) {
                        // Without a goalkeeper track, the deepest of eleven is the goalkeeper.
                        let deepest = (0..players.len()).min_by(|&a, &b| players[a][0].total_cmp(&players[b][0]));
                        players.remove(deepest.expect("not empty"));
                    }
                    // More than ten (false or duplicate tracks): which ones is unknown, so the
                    // frame is not read.
                    if players.len() > 10 {
                        continue;
                    }
                    if players.len() < self.cfg.min_outfield_players {
                        continue;
                    }
                    let Some(costs) = template_costs(&players) else { continue };
                    let w = by_team.get_mut(&team).expect("team seen in pass 1");
                    if w.costs.is_empty() {
                        w.costs = vec![0.0; costs.len()];
                    }
                    w.costs.iter_mut().zip(&costs).for_each(|(a, c)| *a += c);
                    w.fitted += 1;
                }
            }
            for (&team, w) in &by_team {
                if w.fitted == 0 {
                    continue;
                }
                let mean: Vec<f64> = w.costs.iter().map(|c| c / w.fitted as f64).collect();
                let fit = best_fit(&mean);
                out.push(FormationWindow {
                    team,
                    from_frame: data.frames[start].index,
                    to_frame: data.frames[end - 1].index,
                    formation: fit.formation.to_string(),
                    confidence: fit.confidence,
                    attack_direction: signs.get(&team).map(|s| *s as i8),
                });
            }
        }
        Ok(out)
    }
}

impl Stage for FormationAnalysis {
    fn name(&self) -> &str {
        "formation_analysis"
    }

    fn requires(&self) -> Vec<Artifact> {
        let mut v = vec![Artifact::PLAYER_TRACKS, Artifact::HOMOGRAPHY];
        if self.cfg.windowing == FormationWindowing::PossessionPhases {
            v.push(Artifact::custom(EventDetection::ARTIFACT));
        }
        v
    }

    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::custom(Self::ARTIFACT)]
    }

    fn after(&self) -> Vec<Artifact> {
        vec![Artifact::TEAMS]
    }
}

impl MatchStage for FormationAnalysis {
    fn run(&mut self, data: &mut MatchData, ctx: &StageContext) -> Result<()> {
        if ctx.is_cancelled() {
            return Err(Error::Cancelled);
        }
        data.formations = self.analyse(data)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{FPS, pitch_frame, user_match};
    use crate::vision::particle::SplitMix64;

    fn slots(name: &str) -> Vec<[f64; 2]> {
        TEMPLATES.iter().find(|t| t.0 == name).unwrap().1.to_vec()
    }

    /// A template as a team would stand: stretched to `depth` × `width` metres, shifted, with
    /// Gaussian noise of `sigma` metres on each player.
    fn on_pitch(name: &str, depth: f64, width: f64, at: [f64; 2], sigma: f64, rng: &mut SplitMix64) -> Vec<[f64; 2]> {
        slots(name)
            .iter()
            .map(|s| {
                [at[0] + s[0] / 30.0 * depth + sigma * rng.normal(), at[1] + s[1] / 56.0 * width + sigma * rng.normal()]
            })
            .collect()
    }

    #[test]
    fn every_template_is_recognised_at_any_scale() {
        let mut rng = SplitMix64(1);
        for (name, _) in TEMPLATES {
            for (depth, width, at) in [(30.0, 56.0, [0.0, 0.0]), (18.0, 40.0, [-20.0, 5.0]), (40.0, 60.0, [10.0, -3.0])]
            {
                let fit = fit_shape(&on_pitch(name, depth, width, at, 0.0, &mut rng)).unwrap();
                assert_eq!(fit.formation, *name, "{fit:?}");
                assert!(fit.cost < 1e-9, "{fit:?}");
                assert!(fit.confidence > 0.5, "{name}: {fit:?}");
            }
        }
    }

    #[test]
    fn shapes_survive_noise() {
        // Players' mean positions over a window with 3 m of noise each, in a block of 30 × 50 m
        // (lines 10–15 m apart): the right formation in most draws (measured: 38 to 50 of 50
        // per template, 4-4-1-1 the weakest, being between 4-4-2 and 4-5-1), and the
        // confidence falls with the noise.
        let mut report = Vec::new();
        let mut total = 0;
        for (name, _) in TEMPLATES {
            let mut rng = SplitMix64(7);
            let (mut right, mut conf_right) = (0, 0.0);
            for _ in 0..50 {
                let fit = fit_shape(&on_pitch(name, 30.0, 50.0, [-10.0, 0.0], 3.0, &mut rng)).unwrap();
                if fit.formation == *name {
                    right += 1;
                    conf_right += fit.confidence;
                }
            }
            report.push(format!("{name}: {right}/50 mean confidence {:.2}", conf_right / right.max(1) as f64));
            assert!(right >= 35, "{report:?}");
            total += right;
        }
        eprintln!("{report:#?}");
        assert!(total >= 500, "{total} of 550: {report:?}");
        let mut rng = SplitMix64(3);
        let clean = fit_shape(&on_pitch("4-4-2", 30.0, 50.0, [0.0, 0.0], 0.0, &mut rng)).unwrap();
        let noisy = fit_shape(&on_pitch("4-4-2", 30.0, 50.0, [0.0, 0.0], 3.0, &mut rng)).unwrap();
        assert!(noisy.confidence < clean.confidence, "{clean:?} {noisy:?}");
    }

    /// `n` frames of two teams: team 0 (tracks 1–10, goalkeeper 11 at x = −50) in `home`,
    /// attacking +x; team 1 (tracks 21–30, goalkeeper 31 at x = +50, left out with
    /// `away_keeper = false`) in `away`, attacking −x. Each player jitters by 2 m per frame
    /// (detection noise); a referee (40) stands in the middle.
    fn match_data(n: usize, home: &str, away: &str, away_keeper: bool) -> MatchData {
        let mut rng = SplitMix64(11);
        let mut people: Vec<(u64, [f64; 2], Option<u32>, Role)> = Vec::new();
        for (k, p) in on_pitch(home, 30.0, 50.0, [-25.0, 0.0], 0.0, &mut rng).into_iter().enumerate() {
            people.push((k as u64 + 1, p, Some(0), Role::Player));
        }
        people.push((11, [-50.0, 0.0], Some(0), Role::Goalkeeper));
        for (k, p) in on_pitch(away, 30.0, 50.0, [-20.0, 0.0], 0.0, &mut rng).into_iter().enumerate() {
            // Attacking −x: the half-turn of a shape attacking +x.
            people.push((k as u64 + 21, [-p[0], -p[1]], Some(1), Role::Player));
        }
        if away_keeper {
            people.push((31, [50.0, 0.0], Some(1), Role::Goalkeeper));
        }
        people.push((40, [0.0, 0.0], None, Role::Referee));
        let frames = (0..n)
            .map(|i| {
                // 2 m of detection noise per axis.
                let seen =
                    people.iter().map(|(id, p, _, _)| (*id, [p[0] + 2.0 * rng.normal(), p[1] + 2.0 * rng.normal()]));
                pitch_frame(100 + i as u64, i as f64 / FPS, seen, None)
            })
            .collect();
        user_match(frames, Some(people.iter().map(|(id, _, team, role)| (*id, *team, *role))))
    }

    fn stage(cfg: FormationAnalysisConfig) -> FormationAnalysis {
        FormationAnalysis::new(&cfg).unwrap()
    }

    #[test]
    fn windows_of_minutes_per_team() {
        // 0.1 min = 150 frames: windows 100–249 and 250–349 (the last one shorter).
        let mut data = match_data(250, "4-4-2", "4-3-3", true);
        let mut st = stage(FormationAnalysisConfig { window_minutes: 0.1, ..Default::default() });
        assert_eq!(st.name(), "formation_analysis");
        let ctx = StageContext::standalone("formation_analysis", data.video.clone());
        st.run(&mut data, &ctx).unwrap();
        let got: Vec<_> =
            data.formations.iter().map(|f| (f.team, f.from_frame, f.to_frame, f.formation.as_str())).collect();
        assert_eq!(
            got,
            vec![(0, 100, 249, "4-4-2"), (1, 100, 249, "4-3-3"), (0, 250, 349, "4-4-2"), (1, 250, 349, "4-3-3")]
        );
        assert!(data.formations.iter().all(|f| f.confidence > 0.5 && f.confidence <= 1.0), "{:?}", data.formations);
        // Team 0 attacks away from its goalkeeper at x = −50, team 1 the other way.
        let dirs: Vec<_> = data.formations.iter().map(|f| (f.team, f.attack_direction)).collect();
        assert_eq!(dirs, vec![(0, Some(1)), (1, Some(-1)), (0, Some(1)), (1, Some(-1))]);
    }

    #[test]
    fn without_a_goalkeeper_the_direction_comes_from_the_other_team() {
        let data = match_data(50, "3-5-2", "5-3-2", false);
        let got = stage(FormationAnalysisConfig::default()).analyse(&data).unwrap();
        let names: Vec<_> = got.iter().map(|f| (f.team, f.formation.as_str(), f.attack_direction)).collect();
        assert_eq!(names, vec![(0, "3-5-2", Some(1)), (1, "5-3-2", Some(-1))]);
    }

    #[test]
    fn windows_by_possession_phase() {
        // Frames 100–349: team 0's phase for frames 100–199, none for 200–209 (the ball out),
        // team 1's for 210–249 (1.6 s, shorter than min_phase_s = 2 s: skipped), team 0's for
        // 250–349.
        let mut data = match_data(250, "4-2-3-1", "4-4-2", true);
        data.possession = vec![crate::analysis::Possession::default(); 250];
        let phase = |team, from_frame, to_frame| crate::analysis::PossessionPhase { team, from_frame, to_frame };
        data.possession_phases = vec![phase(0, 100, 199), phase(1, 210, 249), phase(0, 250, 349)];
        let cfg = FormationAnalysisConfig {
            windowing: FormationWindowing::PossessionPhases,
            min_phase_s: 2.0,
            ..Default::default()
        };
        let st = stage(cfg);
        assert!(st.requires().contains(&Artifact::custom(EventDetection::ARTIFACT)));
        let got: Vec<_> = st
            .analyse(&data)
            .unwrap()
            .iter()
            .map(|f| (f.team, f.from_frame, f.to_frame, f.formation.clone()))
            .collect();
        let w = |t, a, b, f: &str| (t, a, b, f.to_string());
        assert_eq!(
            got,
            vec![
                w(0, 100, 199, "4-2-3-1"),
                w(1, 100, 199, "4-4-2"),
                w(0, 250, 349, "4-2-3-1"),
                w(1, 250, 349, "4-4-2")
            ]
        );
        // Phases need possession for every frame.
        data.possession.truncate(10);
        assert_eq!(st.analyse(&data).unwrap_err().kind(), crate::ErrorKind::Stage);
    }

    #[test]
    fn no_teams_no_formations_and_bad_config_is_an_error() {
        let mut data = match_data(20, "4-4-2", "4-4-2", true);
        data.teams = None;
        assert!(stage(FormationAnalysisConfig::default()).analyse(&data).unwrap().is_empty());
        // Too few players seen: nothing rather than a guess.
        let mut data = match_data(20, "4-4-2", "4-4-2", true);
        for rec in &mut data.frames {
            rec.tracks.as_mut().unwrap().retain(|t| t.track_id > 3);
        }
        let got = stage(FormationAnalysisConfig::default()).analyse(&data).unwrap();
        assert_eq!(got.iter().map(|f| f.team).collect::<Vec<_>>(), vec![1]);
        for cfg in [
            FormationAnalysisConfig { window_minutes: 0.0, ..Default::default() },
            FormationAnalysisConfig { samples_per_second: 0.0, ..Default::default() },
            FormationAnalysisConfig { min_outfield_players: 11, ..Default::default() },
        ] {
            let e = FormationAnalysis::new(&cfg).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config);
            assert!(e.to_string().contains("stage_configs.formation_analysis."), "{e}");
        }
    }

    #[test]
    fn fit_rejects_bad_input() {
        assert!(fit_shape(&[[0.0, 0.0], [1.0, 1.0]]).is_none());
        assert!(fit_shape(&[[0.0, 0.0]; 11]).is_none());
        assert!(fit_shape(&[[0.0, 0.0], [1.0, f64::NAN], [2.0, 2.0]]).is_none());
    }
}
