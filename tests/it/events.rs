//! Possession on real match data: the SkillCorner fixture's per-frame possession labels
//! (possession.txt: SkillCorner's team in possession, and the player when it names one,
//! exported by scripts/make_fixtures.py) against the event detection stage, on (a) the
//! ground-truth boxes and ball and (b) the simulated detections after tracking, with tracks
//! given teams by IoU with the ground truth (code here, independent of the stages).
//!
//! SkillCorner's label keeps the team through passes and loose balls (a data provider's
//! "team in possession"), and in this 40 s segment the home team has the ball in 945 of
//! 1000 frames (a single 55-frame away spell): "always home" would score 94.5 %. The team
//! accuracy is therefore reported beside that baseline, and the away spell and the player
//! level are scored too: player accuracy = frames where SkillCorner names a player (457) on
//! which ours names the same player.
//!
//! Measured with the default settings:
//!
//! | input | team accuracy | away frames | player accuracy |
//! |---|---|---|---|
//! | ground-truth boxes + ball | 0.812 | 54/55 | 419/457 = 0.917 |
//! | det.txt + ball_det.txt → trackers | 0.756 | 54/55 | 353/457 = 0.772 |
//!
//! Events after tracking against events on the ground truth (no event labels in the data):
//! of the 6 passes of at least 5 m on the ground truth, 4 are found again with the same
//! passer, receiver and release (± 3 frames), and no other long pass is reported.
//!
//! Where the team disagrees: in frames 394–550 SkillCorner says "home" without naming a
//! player while its own positions have away player 17 within 0.4–1.6 m of the ball, carrying
//! it 26 m up the pitch (146 frames that a position-based method cannot call "home"); 587–605
//! and 988–999 are similar shorter runs. After tracking, id switches carry ownership to the
//! wrong gt id (e.g. track 20, mostly gt 15, on player 8 at frame 38).
//!
//! The defaults (control radius 2.5 m, 10 m/s, window 3 frames) were chosen on this data
//! from a sweep of radius 2–3 m, 6–12 m/s, windows 3–5 and 2–10 s of loose ball (ground truth:
//! player accuracy 0.87–0.94; tracked: 0.72–0.79; radius 2 m with 6 m/s gives 0.869 and
//! 0.720 and misses the away spell, a one-touch pass at 8 m/s relative speed). The thresholds
//! sit a little below the measurements so that a regression fails.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use footml::analysis::{Possession, Role, TeamAssignment, TeamSource, TrackTeam};
use footml::config::{BallTrackingConfig, EventDetectionConfig, FormationAnalysisConfig};
use footml::pipeline::stage::Stage;
use footml::stages::events::EventDetection;
use footml::stages::formations::FormationAnalysis;
use footml::{
    Artifact, BBox, BallObservation, BallState, FrameRecord, MatchData, MatchStage, Pipeline, PipelineConfig, Result,
    StageContext, TrackedBox, VideoInfo,
};

use crate::common::fixture;

const FRAMES: usize = 1000;

/// Team accuracy on the ground truth (measured 0.812).
const MIN_GT_TEAM_ACC: f64 = 0.80;
/// Player accuracy on the ground truth (measured 0.917).
const MIN_GT_PLAYER_ACC: f64 = 0.90;
/// Team accuracy after detection noise and tracking (measured 0.756).
const MIN_DET_TEAM_ACC: f64 = 0.74;
/// Player accuracy after detection noise and tracking (measured 0.772).
const MIN_DET_PLAYER_ACC: f64 = 0.75;
/// Share of the 55 away-team frames found, both inputs (measured 54/55 both).
const MIN_AWAY_RECALL: f64 = 0.9;

/// SkillCorner's label per frame (from 0): team (0 home, 1 away) and gt id of the player.
fn labels() -> Vec<(Option<u32>, Option<u64>)> {
    let text = std::fs::read_to_string(fixture("possession.txt")).unwrap();
    let rows: Vec<(Option<u32>, Option<u64>)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let v: Vec<&str> = l.split(',').collect();
            assert_eq!(v[0].parse::<usize>().unwrap(), i + 1, "frames in order from 1");
            let team = match v[1] {
                "home" => Some(0),
                "away" => Some(1),
                "none" => None,
                other => panic!("team {other}"),
            };
            (team, v[2].parse::<u64>().ok())
        })
        .collect();
    assert_eq!(rows.len(), FRAMES);
    rows
}

/// gt id → (team, role) from meta.json.
fn gt_teams() -> BTreeMap<u64, (Option<u32>, Role)> {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("meta.json")).unwrap()).unwrap();
    meta["ids"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, v)| {
            let team = match v["team"].as_str().unwrap() {
                "home" => Some(0),
                "away" => Some(1),
                _ => None,
            };
            let role = match v["role"].as_str().unwrap() {
                "goalkeeper" => Role::Goalkeeper,
                "referee" => Role::Referee,
                _ => Role::Player,
            };
            (id.parse().unwrap(), (team, role))
        })
        .collect()
}

fn assignment(tracks: impl IntoIterator<Item = (u64, Option<u32>, Role)>) -> TeamAssignment {
    TeamAssignment::from_tracks(tracks.into_iter().map(|(track_id, team, role)| TrackTeam {
        track_id,
        team,
        role,
        confidence: 1.0,
        source: TeamSource::User,
    }))
}

fn homography() -> [[f64; 3]; 3] {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("homography.json")).unwrap()).unwrap();
    serde_json::from_value(v["image_to_pitch"].clone()).unwrap()
}

/// gt.txt as frame (from 0) → (gt id, box).
fn gt_boxes() -> BTreeMap<u64, Vec<(u64, BBox)>> {
    let mut out: BTreeMap<u64, Vec<(u64, BBox)>> = BTreeMap::new();
    for line in std::fs::read_to_string(fixture("gt.txt")).unwrap().lines() {
        let f: Vec<f32> = line.split(',').map(|x| x.trim().parse().unwrap()).collect();
        out.entry(f[0] as u64 - 1).or_default().push((f[1] as u64, BBox::new(f[2], f[3], f[4], f[5])));
    }
    out
}

struct Scores {
    team: f64,
    away_recall: f64,
    player: f64,
    baseline: f64,
}

/// Scores possession per frame; `gt_id` maps our track ids to gt ids.
fn score(ours: &[Possession], gt_id: impl Fn(u64) -> Option<u64>) -> Scores {
    let labels = labels();
    assert_eq!(ours.len(), labels.len());
    let team = labels.iter().zip(ours).filter(|(l, o)| l.0.is_some() && l.0 == o.team).count();
    let away: Vec<_> = labels.iter().zip(ours).filter(|(l, _)| l.0 == Some(1)).collect();
    let away_right = away.iter().filter(|(_, o)| o.team == Some(1)).count();
    let named: Vec<_> = labels.iter().zip(ours).filter(|(l, _)| l.1.is_some()).collect();
    let player_right = named.iter().filter(|(l, o)| o.track_id.and_then(&gt_id) == l.1).count();
    let home = labels.iter().filter(|l| l.0 == Some(0)).count();
    let s = Scores {
        team: team as f64 / labels.len() as f64,
        away_recall: away_right as f64 / away.len() as f64,
        player: player_right as f64 / named.len() as f64,
        baseline: home as f64 / labels.len() as f64,
    };
    eprintln!(
        "team accuracy {:.3} (always-home baseline {:.3}); away frames right {away_right}/{} ({:.3}); \
         player accuracy {player_right}/{} ({:.3}); frames with no team {}",
        s.team,
        s.baseline,
        away.len(),
        s.away_recall,
        named.len(),
        s.player,
        ours.iter().filter(|p| p.team.is_none()).count()
    );
    s
}

/// The fixture's ground truth as match data: gt boxes as tracks (gt ids), the ground-truth
/// ball's pixel centre, the homography and the teams of meta.json.
fn ground_truth_match() -> MatchData {
    let h = homography();
    let boxes = gt_boxes();
    let mut ball: BTreeMap<u64, [f32; 2]> = BTreeMap::new();
    for l in std::fs::read_to_string(fixture("ball_gt.txt")).unwrap().lines() {
        let v: Vec<f32> = l.split(',').map(|x| x.trim().parse().unwrap()).collect();
        ball.insert(v[0] as u64 - 1, [v[1], v[2]]);
    }
    let frames = (0..FRAMES as u64)
        .map(|i| FrameRecord {
            index: i,
            time_s: i as f64 / 25.0,
            tracks: Some(
                boxes
                    .get(&i)
                    .into_iter()
                    .flatten()
                    .map(|&(id, bbox)| TrackedBox { track_id: id, bbox, score: 1.0 })
                    .collect(),
            ),
            ball: Some(match ball.get(&i) {
                Some(&[x, y]) => {
                    BallObservation { x, y, state: BallState::Tracked, interpolated: false, score: 1.0, measured: None }
                }
                None => BallObservation {
                    x: 0.0,
                    y: 0.0,
                    state: BallState::Lost,
                    interpolated: false,
                    score: 0.0,
                    measured: None,
                },
            }),
            homography: Some(h),
            ..Default::default()
        })
        .collect();
    let teams = assignment(gt_teams().into_iter().map(|(id, (team, role))| (id, team, role)));
    MatchData { video: VideoInfo { fps: 25.0, ..Default::default() }, frames, teams: Some(teams), ..Default::default() }
}

#[test]
fn possession_on_ground_truth() {
    let data = ground_truth_match();
    let (possession, events) = EventDetection::new(&EventDetectionConfig::default()).unwrap().detect(&data).unwrap();
    let s = score(&possession, Some);
    for e in &events {
        eprintln!(
            "{:?} frame {} team {:?} {:?} → {:?} {:?}",
            e.kind, e.frame, e.team, e.from_track, e.to_track, e.details
        );
    }
    assert!(s.team >= MIN_GT_TEAM_ACC, "team accuracy {}", s.team);
    assert!(s.away_recall >= MIN_AWAY_RECALL, "away frames {}", s.away_recall);
    assert!(s.player >= MIN_GT_PLAYER_ACC, "player accuracy {}", s.player);
}

/// A user match stage standing in for team classification: gives each track the team of
/// the gt ids its boxes overlap (IoU ≥ 0.5) in at least half of its frames, and records the
/// gt id it overlaps in at least half of them (for scoring players).
struct GtTeams(Arc<Mutex<BTreeMap<u64, u64>>>);

impl Stage for GtTeams {
    fn name(&self) -> &str {
        "gt_teams"
    }
    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::PLAYER_TRACKS]
    }
    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::TEAMS]
    }
}

impl MatchStage for GtTeams {
    fn run(&mut self, data: &mut MatchData, _: &StageContext) -> Result<()> {
        let gt = gt_boxes();
        let mut votes: BTreeMap<u64, BTreeMap<u64, usize>> = BTreeMap::new();
        let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
        for rec in &data.frames {
            for t in rec.tracks.iter().flatten() {
                *seen.entry(t.track_id).or_default() += 1;
                let best = gt
                    .get(&rec.index)
                    .into_iter()
                    .flatten()
                    .map(|(id, b)| (*id, b.iou(&t.bbox)))
                    .filter(|(_, iou)| *iou >= 0.5)
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((id, _)) = best {
                    *votes.entry(t.track_id).or_default().entry(id).or_default() += 1;
                }
            }
        }
        let teams = gt_teams();
        let mut map = self.0.lock().unwrap();
        let mut tracks = Vec::new();
        for (track, n) in seen {
            let v = votes.remove(&track).unwrap_or_default();
            // The gt id it overlaps most (for scoring the player), if in at least half of
            // its frames.
            if let Some((&id, &c)) = v.iter().max_by_key(|(_, c)| **c)
                && 2 * c >= n
            {
                map.insert(track, id);
            }
            // Its team: the team of most of its overlaps (a track the tracker carried from
            // one player to another of the same team keeps that team, as a kit-colour vote
            // would give it), if at least half of its frames.
            let mut by_team: BTreeMap<Option<u32>, usize> = BTreeMap::new();
            for (id, c) in &v {
                *by_team.entry(teams[id].0).or_default() += c;
            }
            let main_role = v.iter().max_by_key(|(_, c)| **c).map(|(id, _)| teams[id]);
            match by_team.into_iter().max_by_key(|(_, c)| *c) {
                Some((team, c)) if 2 * c >= n => {
                    // The referee is the only gt id without a team.
                    let role = match main_role {
                        Some((t, role)) if t == team => role,
                        _ => Role::Player,
                    };
                    tracks.push((track, team, role));
                }
                _ => tracks.push((track, None, Role::Unknown)),
            }
        }
        data.teams = Some(assignment(tracks));
        Ok(())
    }
}

/// A user match stage that keeps a copy of the possession (the report has only its team).
struct Capture(Arc<Mutex<Vec<Possession>>>);

impl Stage for Capture {
    fn name(&self) -> &str {
        "capture"
    }
    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::custom(EventDetection::ARTIFACT)]
    }
    fn provides(&self) -> Vec<Artifact> {
        vec![]
    }
}

impl MatchStage for Capture {
    fn run(&mut self, data: &mut MatchData, _: &StageContext) -> Result<()> {
        *self.0.lock().unwrap() = data.possession.clone();
        Ok(())
    }
}

/// The standard pipeline on det.txt + ball_det.txt with [`GtTeams`] as team classification
/// and `extra` formation settings; returns the report, the possession and the track → gt id
/// map.
fn tracked_run(formation: FormationAnalysisConfig) -> (footml::MatchReport, Vec<Possession>, BTreeMap<u64, u64>) {
    let mut config = PipelineConfig {
        detections_path: Some(fixture("det.txt")),
        ball_detections_path: Some(fixture("ball_det.txt")),
        homography_path: Some(fixture("homography.json")),
        fps: Some(25.0),
        frame_size: Some([1920, 1080]),
        ..Default::default()
    };
    // The fixture's ball is 1–2 px in radius (a wide camera 30 m behind the touchline).
    config.stage_configs.ball_tracking =
        BallTrackingConfig { min_ball_radius: 0.5, max_ball_radius: 10.0, ..Default::default() };
    config.stage_configs.formation_analysis = formation;
    let map = Arc::new(Mutex::new(BTreeMap::new()));
    let captured = Arc::new(Mutex::new(Vec::new()));
    // Added after the standard stages: event detection still runs after the teams
    // (`Stage::after`), the capture after event detection.
    let pipeline = Pipeline::builder_from_config(&config)
        .unwrap()
        .match_stage(Capture(captured.clone()))
        .match_stage(GtTeams(map.clone()))
        .build()
        .unwrap();
    let names = pipeline.stage_names();
    let pos = |n: &str| names.iter().position(|s| s == n).unwrap_or_else(|| panic!("{n} in {names:?}"));
    assert!(pos("gt_teams") < pos("event_detection") && pos("event_detection") < pos("capture"), "{names:?}");
    assert!(pos("gt_teams") < pos("formation_analysis"), "{names:?}");
    let report = pipeline.run().unwrap();
    let possession = captured.lock().unwrap().clone();
    assert_eq!(report.possession, possession.iter().map(|p| p.team).collect::<Vec<_>>());
    let map = map.lock().unwrap().clone();
    (report, possession, map)
}

#[test]
fn possession_after_detection_noise_and_tracking() {
    let (report, possession, map) = tracked_run(FormationAnalysisConfig::default());
    let s = score(&possession, |t| map.get(&t).copied());
    for e in &report.events {
        let gt = |t: Option<u64>| t.and_then(|t| map.get(&t).copied());
        eprintln!(
            "{:?} frame {} team {:?} gt {:?} → {:?} (tracks {:?} → {:?}) {:?}",
            e.kind,
            e.frame,
            e.team,
            gt(e.from_track),
            gt(e.to_track),
            e.from_track,
            e.to_track,
            e.details
        );
    }
    assert!(s.team >= MIN_DET_TEAM_ACC, "team accuracy {}", s.team);
    assert!(s.away_recall >= MIN_AWAY_RECALL, "away frames {}", s.away_recall);
    assert!(s.player >= MIN_DET_PLAYER_ACC, "player accuracy {}", s.player);
    // The passes of at least 5 m found on the ground truth are found again after detection
    // noise and tracking: same passer and receiver (gt ids), release within 3 frames.
    // Measured: 4 of the 6 (the 2 lost become interceptions: the tracker's id of the
    // receiver had switched to an opponent's), and all 4 long tracked passes are real.
    let (_, gt_events) =
        EventDetection::new(&EventDetectionConfig::default()).unwrap().detect(&ground_truth_match()).unwrap();
    let long = |e: &&footml::analysis::MatchEvent| {
        e.kind == footml::analysis::MatchEventKind::Pass && e.details["distance_m"] >= 5.0
    };
    let gt_passes: Vec<_> = gt_events.iter().filter(long).collect();
    let tracked: Vec<_> = report.events.iter().filter(long).collect();
    let gt_of = |t: Option<u64>| t.and_then(|t| map.get(&t).copied());
    let same = |g: &footml::analysis::MatchEvent, e: &footml::analysis::MatchEvent| {
        e.frame.abs_diff(g.frame) <= 3 && gt_of(e.from_track) == g.from_track && gt_of(e.to_track) == g.to_track
    };
    let found = gt_passes.iter().filter(|g| tracked.iter().any(|e| same(g, e))).count();
    let real = tracked.iter().filter(|e| gt_passes.iter().any(|g| same(g, e))).count();
    eprintln!("long passes: {} on ground truth, {} tracked, {found} found again", gt_passes.len(), tracked.len());
    assert_eq!(gt_passes.len(), 6);
    assert!(found >= 4, "{found} of {} found", gt_passes.len());
    assert_eq!(real, tracked.len(), "tracked long passes that are not on the ground truth");
}

/// Formation windows as (team, first frame, last frame, formation).
fn shapes(f: &[footml::analysis::FormationWindow]) -> Vec<(u32, u64, u64, String)> {
    f.iter().map(|w| (w.team, w.from_frame, w.to_frame, w.formation.clone())).collect()
}

#[test]
fn formations_on_real_data_are_stable_under_detection_noise() {
    // Two 20 s windows; broadcast tracking shows 7–9 outfield players of a team at a time,
    // so frames with at least 7 are read. Measured: the same four shapes from the ground
    // truth and after detection noise + tracking (home 3-4-2-1 then 4-1-4-1, away 4-1-4-1
    // then 4-3-3), with low confidences (0.14–0.36: a partial view fits several templates
    // almost as well). There is no formation label in the data to score against, so the
    // test is the stability the shape must have: detection noise, misses, false positives
    // and tracker id switches must not change it.
    let cfg = FormationAnalysisConfig { window_minutes: 20.0 / 60.0, min_outfield_players: 7, ..Default::default() };
    let gt = FormationAnalysis::new(&cfg).unwrap().analyse(&ground_truth_match()).unwrap();
    let (report, _, _) = tracked_run(cfg);
    eprintln!("ground truth: {gt:?}");
    eprintln!("tracked: {:?}", report.formations);
    assert_eq!(gt.len(), 4, "both teams in both windows: {gt:?}");
    assert_eq!(shapes(&report.formations), shapes(&gt));
}

#[test]
fn formations_per_possession_phase_follow_the_possession() {
    // Windows cut at possession changes (event detection must run first: the pipeline orders
    // it so); every window lies in one phase of one team, and both teams get a shape in it.
    let cfg = FormationAnalysisConfig {
        windowing: footml::config::FormationWindowing::PossessionPhases,
        min_phase_s: 5.0,
        min_outfield_players: 7,
        ..Default::default()
    };
    let (report, _, _) = tracked_run(cfg);
    let names: Vec<&str> = report.stages.iter().map(|s| s.name.as_str()).collect();
    let at = |n: &str| names.iter().position(|s| *s == n).unwrap();
    assert!(at("event_detection") < at("formation_analysis"), "{names:?}");
    eprintln!("{:?}", report.formations);
    assert!(!report.formations.is_empty());
    for w in &report.formations {
        let phase = &report.possession[w.from_frame as usize..=w.to_frame as usize];
        assert!(phase.iter().all(|t| t.is_some() && *t == phase[0]), "{w:?}");
        assert!(w.to_frame - w.from_frame + 1 >= 125, "{w:?}");
        let teams: Vec<u32> =
            report.formations.iter().filter(|o| o.from_frame == w.from_frame).map(|o| o.team).collect();
        assert_eq!(teams, vec![0, 1], "{w:?}");
    }
}
