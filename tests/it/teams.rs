//! Team classification on the rendered SkillCorner clip: ground-truth boxes as tracks, the
//! real team features and classification, scored against the renderer's `teams.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use footml::analysis::{Role, TeamAssignment};
use footml::config::VideoDecodingConfig;
use footml::sim::{RenderConfig, render};
use footml::stages::teams::{TeamClassification, TeamFeatures};
use footml::stages::video_decoding::VideoSource;
use footml::{BBox, FrameBatch, FrameItem, FrameSource, MatchData, StageContext, StreamStage, TrackedBox};

use crate::common::fixture;

/// Renders `frames` frames from tracking frame `start` and classifies the GT tracks.
fn classify_rendered(dir: &Path, start: u64, frames: u64, size: [u32; 2]) -> (TeamAssignment, serde_json::Value) {
    let cfg =
        RenderConfig { start_frame: start, size, ..RenderConfig::new(fixture("tracking.csv"), dir) }.frames(frames);
    render(&cfg).unwrap();
    let mut boxes: BTreeMap<u64, Vec<TrackedBox>> = BTreeMap::new();
    for line in std::fs::read_to_string(dir.join("gt.txt")).unwrap().lines() {
        let c: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
        let bbox = BBox::new(c[2] as f32, c[3] as f32, c[4] as f32, c[5] as f32);
        boxes.entry(c[0] as u64 - 1).or_default().push(TrackedBox { track_id: c[1] as u64, bbox, score: 1.0 });
    }
    let h: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("homography.json")).unwrap()).unwrap();
    let mut src = VideoSource::open(&dir.join("video.mp4"), &VideoDecodingConfig::default(), None).unwrap();
    let info = src.info();
    let mut items = Vec::new();
    while let Some(mut item) = src.next_frame().unwrap() {
        let i = item.record.index;
        item.record.tracks = Some(boxes.remove(&i).unwrap_or_default());
        item.record.homography =
            Some(serde_json::from_value(h["frames"][i as usize]["image_to_pitch"].clone()).unwrap());
        items.push(item);
    }
    assert_eq!(items.len() as u64, frames);
    let ctx = StageContext::standalone("team_features", info.clone());
    let mut features = TeamFeatures::new();
    let mut records = Vec::new();
    for chunk in items.chunks(8) {
        let mut batch = FrameBatch::default();
        batch.items = chunk.to_vec();
        features.process(&mut batch, &ctx).unwrap();
        records.extend(batch.items.into_iter().map(|i: FrameItem| i.record));
    }
    let data = MatchData { video: info, frames: records, ..Default::default() };
    let teams = TeamClassification::new(&Default::default()).unwrap().classify(&data);
    let gt: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("teams.json")).unwrap()).unwrap();
    (teams, gt)
}

/// Per track: whether its team and role match the ground truth, under the better of the two
/// ways of naming the teams.
fn judged(teams: &TeamAssignment, gt: &serde_json::Value) -> BTreeMap<u64, (bool, Role)> {
    let judge = |names: [&str; 2]| -> BTreeMap<u64, (bool, Role)> {
        teams
            .tracks
            .iter()
            .map(|t| {
                let g = &gt["ids"][t.track_id.to_string()];
                let team = t.team.map(|k| names[k as usize]).unwrap_or("none");
                let role = match t.role {
                    Role::Player => "player",
                    Role::Goalkeeper => "goalkeeper",
                    Role::Referee => "referee",
                    Role::Unknown => "unknown",
                };
                (t.track_id, (g["team"] == team && g["role"] == role, t.role))
            })
            .collect()
    };
    let right = |m: &BTreeMap<u64, (bool, Role)>| m.values().filter(|v| v.0).count();
    let (a, b) = (judge(["home", "away"]), judge(["away", "home"]));
    let best = if right(&a) >= right(&b) { a } else { b };
    for (id, (ok, _)) in &best {
        if !ok {
            eprintln!("  track {id}: {:?}, ground truth {}", teams.track(*id), gt["ids"][id.to_string()]);
        }
    }
    best
}

/// Frames in which each GT person is wholly inside the image (a box cut by an edge does not
/// show where the torso is, so the classifier leaves it out).
fn frames_whole(dir: &Path, [w, h]: [u32; 2]) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for line in std::fs::read_to_string(dir.join("gt.txt")).unwrap().lines() {
        let c: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
        let inside =
            c[2] >= 1.0 && c[3] >= 1.0 && c[2] + c[4] <= f64::from(w) - 1.0 && c[3] + c[5] <= f64::from(h) - 1.0;
        *seen.entry(c[1] as u64).or_default() += usize::from(inside);
    }
    seen
}

#[test]
fn rendered_clip_teams_match_ground_truth() {
    // Two stretches of the match: kick-off play with most players in view, and play near the
    // away goal with its goalkeeper (tracking frames 800..). Scored: every person wholly in
    // view in at least 5 frames (`min_samples`); the others must be `unknown` or right, never
    // a wrong team.
    const SIZE: [u32; 2] = [960, 540];
    let (mut right, mut total) = (0, 0);
    let mut roles = BTreeSet::new();
    for start in [200, 800] {
        let dir = tempfile::tempdir().unwrap();
        let (teams, gt) = classify_rendered(dir.path(), start, 40, SIZE);
        let judged = judged(&teams, &gt);
        for (id, n) in frames_whole(dir.path(), SIZE) {
            let (ok, role) = judged[&id];
            if n >= 5 {
                roles.insert(gt["ids"][id.to_string()]["role"].to_string());
                total += 1;
                right += usize::from(ok);
            } else {
                assert!(ok || role == Role::Unknown, "track {id} seen whole in {n} frames: wrong {role:?}");
            }
        }
        eprintln!("frames {start}..: teams {:?}", teams.teams);
    }
    eprintln!("team accuracy {right} of {total} tracks ({:.1} %)", 100.0 * right as f64 / total as f64);
    assert_eq!(roles.len(), 3, "players, a goalkeeper and a referee scored: {roles:?}");
    assert!(total >= 20, "{total} tracks scored");
    assert!(right as f64 >= 0.98 * total as f64, "team accuracy {right} of {total} tracks");
}

/// A players file: three people walking right for 20 frames, 200 px apart, with column 8
/// (the team) from `team(person, frame)`.
fn write_dets(path: &Path, team: impl Fn(usize, u64) -> &'static str) {
    let mut text = String::new();
    for f in 1..=20u64 {
        for p in 0..3usize {
            let x = 100.0 + 200.0 * p as f64 + 3.0 * f as f64;
            text.push_str(&format!("{f},-1,{x},300,30,80,0.9,{},-1,-1\n", team(p, f)));
        }
    }
    std::fs::write(path, text).unwrap();
}

fn run_dets(path: &Path) -> footml::Result<footml::MatchReport> {
    let config = footml::PipelineConfig {
        detections_path: Some(path.to_path_buf()),
        fps: Some(25.0),
        frame_size: Some([1280, 720]),
        checkpoint_enabled: false,
        ..Default::default()
    };
    let pipeline = footml::Pipeline::from_config(&config)?;
    assert!(pipeline.stage_names().iter().any(|s| s == "user_teams"), "{:?}", pipeline.stage_names());
    pipeline.run()
}

#[test]
fn detections_file_team_column_gives_user_teams_by_majority() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dets.txt");
    // Person 0: team 0, except unknown in frames 3-4 and a slip (team 1) in frame 9; person 1:
    // team 1; person 2: never given.
    write_dets(&path, |p, f| match (p, f) {
        (0, 3 | 4) => "-1",
        (0, 9) => "1",
        (0, _) => "0",
        (1, _) => "1",
        _ => "-1",
    });
    let report = run_dets(&path).unwrap();
    assert_eq!(report.tracks.len(), 3);
    let mut by_x: Vec<&footml::report::TrackReport> = report.tracks.iter().collect();
    by_x.sort_by(|a, b| a.frames[0].bbox[0].total_cmp(&b.frames[0].bbox[0]));
    let got: Vec<(Option<u32>, Option<Role>)> = by_x.iter().map(|t| (t.team, t.role)).collect();
    assert_eq!(got, vec![(Some(0), Some(Role::Player)), (Some(1), Some(Role::Player)), (None, Some(Role::Unknown))]);
    // Team ids are the user's, and each team lists its track.
    let teams: Vec<(u32, Vec<u64>)> = report.teams.iter().map(|t| (t.id, t.track_ids.clone())).collect();
    assert_eq!(teams, vec![(0, vec![by_x[0].track_id]), (1, vec![by_x[1].track_id])]);
}

#[test]
fn detections_file_team_column_bad_values_and_plain_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dets.txt");
    write_dets(&path, |p, f| if p == 1 && f == 7 { "2" } else { "0" });
    let e = run_dets(&path).unwrap_err();
    assert!(e.to_string().contains(":20: team (column 8): expected 0, 1 or -1 (unknown), found `2`"), "{e}");
    // An ordinary MOT file (-1 in column 8) carries no teams: no team stage, no teams.
    let config = footml::PipelineConfig {
        detections_path: Some(fixture("det.txt")),
        fps: Some(25.0),
        frame_size: Some([1920, 1080]),
        ..Default::default()
    };
    let names = footml::Pipeline::from_config(&config).unwrap().stage_names();
    assert!(!names.iter().any(|s| s == "user_teams" || s == "team_classification"), "{names:?}");
}

/// Ground-truth tracks, homographies and ball of a rendered clip, as a stream stage: the
/// live session's pipeline then measures kits on the pushed pixels (no detector needed).
struct GtStage {
    boxes: BTreeMap<u64, Vec<TrackedBox>>,
    homographies: Vec<[[f64; 3]; 3]>,
    ball: BTreeMap<u64, crate::common::BallGt>,
}

impl footml::pipeline::stage::Stage for GtStage {
    fn name(&self) -> &str {
        "gt_tracks"
    }

    fn requires(&self) -> Vec<footml::Artifact> {
        vec![footml::Artifact::FRAMES]
    }

    fn provides(&self) -> Vec<footml::Artifact> {
        vec![footml::Artifact::PLAYER_TRACKS]
    }
}

impl StreamStage for GtStage {
    fn process(&mut self, batch: &mut FrameBatch, _ctx: &StageContext) -> footml::Result<()> {
        for item in &mut batch.items {
            let i = item.record.index;
            item.record.tracks = Some(self.boxes.get(&i).cloned().unwrap_or_default());
            item.record.homography = Some(self.homographies[i as usize]);
            item.record.ball =
                self.ball.get(&i).map(|b| footml::BallObservation::tracked(b.px[0] as f32, b.px[1] as f32, 1.0));
        }
        Ok(())
    }

    fn save_state(&self) -> footml::Result<Vec<u8>> {
        Ok(Vec::new())
    }

    fn load_state(&mut self, _state: &[u8]) -> footml::Result<()> {
        Ok(())
    }
}

/// What a live session said about one rendered stretch, scored against ground truth.
#[derive(Default)]
struct LiveScore {
    warm_up: Vec<usize>,
    /// Track-frames after the warm-up: right, decided (not `unknown`), in all.
    right: usize,
    decided: usize,
    scored: usize,
    /// Frames where possession had a player and that player's live team.
    possession_teams: usize,
    /// Times a decided track changed its team or role.
    changes: usize,
    /// Tracks decided both live and by `finish()`: agreeing, in all.
    agree: usize,
    compared: usize,
    roles: BTreeSet<String>,
}

/// Renders `frames` frames from tracking frame `start` and pushes their pixels through a live
/// session whose tracks are the ground-truth boxes, scoring its provisional teams into `score`.
fn live_rendered(start: u64, frames: u64, score: &mut LiveScore) {
    use footml::config::{EventDetectionConfig, LiveTeamsConfig, TeamClassificationConfig};
    use footml::live::{LiveFrame, LiveInput, LiveSession, LiveSpec};

    const SIZE: [u32; 2] = [960, 540];
    let dir = tempfile::tempdir().unwrap();
    let cfg = RenderConfig { start_frame: start, size: SIZE, ..RenderConfig::new(fixture("tracking.csv"), dir.path()) }
        .frames(frames);
    render(&cfg).unwrap();
    let boxes = crate::common::read_gt_boxes(&dir.path().join("gt.txt"))
        .into_iter()
        .map(|(f, v)| (f, v.into_iter().map(|(track_id, bbox)| TrackedBox { track_id, bbox, score: 1.0 }).collect()))
        .collect();
    let h: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("homography.json")).unwrap()).unwrap();
    let homographies = (0..frames)
        .map(|i| serde_json::from_value(h["frames"][i as usize]["image_to_pitch"].clone()).unwrap())
        .collect();
    let ball = crate::common::read_ball_gt(&dir.path().join("ball_gt.txt"));
    let gt: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("teams.json")).unwrap()).unwrap();
    let gt_team = |id: u64| gt["ids"][id.to_string()]["team"].as_str().unwrap().to_string();

    let tc = TeamClassificationConfig::default();
    let builder = footml::Pipeline::builder()
        .stream_stage(GtStage { boxes, homographies, ball })
        .stream_stage(TeamFeatures::new())
        .match_stage(TeamClassification::new(&tc).unwrap());
    let spec = LiveSpec { fps: 25.0, frame_size: SIZE, input: LiveInput::Pixels };
    let mut session = LiveSession::start(builder, spec).unwrap();
    session.estimate_possession(&EventDetectionConfig::default(), None).unwrap();
    // Refits every 10 frames, so that a short clip goes through several.
    let live_cfg = LiveTeamsConfig { refit_interval_frames: 10, ..Default::default() };
    session.classify_teams(&tc, &live_cfg).unwrap();

    let mut src = VideoSource::open(&dir.path().join("video.mp4"), &VideoDecodingConfig::default(), None).unwrap();
    // Per frame: (track, live team, role) of every track, and possession.
    let mut pushed = Vec::new();
    while let Some(item) = src.next_frame().unwrap() {
        let image = item.image.unwrap();
        let r = session.push(LiveFrame::from_rgb(&image, item.record.time_s)).unwrap();
        assert_eq!(r.track_teams().len(), r.tracks().len());
        let teams: Vec<(u64, Option<u32>, Role)> =
            r.track_teams().iter().map(|t| (t.track_id, t.team, t.role)).collect();
        for &(id, team, _) in &teams {
            assert_eq!(r.team_of(id), team);
        }
        pushed.push((teams, r.possession().unwrap()));
    }
    assert_eq!(pushed.len() as u64, frames);
    let warm_up = pushed.iter().position(|(t, _)| t.iter().any(|x| x.2 != Role::Unknown)).expect("warmed up");
    score.warm_up.push(warm_up);

    // The names of team 0 and 1: the first decided track of each names it for the whole clip,
    // so a swap of names after the warm-up counts as wrong teams.
    let mut names: [Option<String>; 2] = [None, None];
    let mut decision: BTreeMap<u64, (Option<u32>, Role)> = BTreeMap::new();
    for (frame, (teams, possession)) in pushed.iter().enumerate().skip(warm_up) {
        for &(id, team, role) in teams {
            score.scored += 1;
            if role == Role::Unknown {
                continue;
            }
            score.decided += 1;
            let want = gt_team(id);
            let got = match team {
                Some(k) => names[k as usize].get_or_insert_with(|| want.clone()).clone(),
                None => "none".to_string(),
            };
            score.right += usize::from(got == want);
            // One vote per track: once decided, a track's team stays (count the changes).
            let last = decision.insert(id, (team, role));
            if last.is_some_and(|l| l != (team, role)) {
                eprintln!("  frame {frame}: track {id} changed from {last:?} to {:?}", (team, role));
                score.changes += 1;
            }
        }
        // Possession's team is its player's live team.
        if let Some(track) = possession.track_id
            && let Some(&(_, team, _)) = teams.iter().find(|t| t.0 == track)
        {
            assert_eq!(possession.team, team, "{possession:?}");
            score.possession_teams += usize::from(team.is_some());
        }
    }
    assert_ne!(names[0], names[1], "{names:?}");

    // The whole-match vote at the end agrees with the provisional decisions.
    let report = session.finish().unwrap();
    for t in &report.tracks {
        if let (Some(&(team, role)), Some(final_role)) = (decision.get(&t.track_id), t.role)
            && final_role != Role::Unknown
        {
            score.compared += 1;
            score.agree += usize::from(team == t.team && role == final_role);
            score.roles.insert(format!("{role:?}"));
            if team != t.team || role != final_role {
                eprintln!("  track {}: live {team:?} {role:?}, finish {:?} {final_role:?}", t.track_id, t.team);
            }
        }
    }
}

/// A live session fed the pixels of the rendered clip (ground-truth boxes as its tracks), on
/// the two stretches `rendered_clip_teams_match_ground_truth` scores: after the warm-up each
/// track's provisional team is its ground-truth team, the names of the teams never swap, a
/// track's team never changes once decided, possession takes the team of its player, and the
/// provisional teams agree with the whole-match vote of `finish()`.
#[test]
fn live_teams_on_the_rendered_clip_match_ground_truth() {
    let mut s = LiveScore::default();
    for start in [200, 800] {
        live_rendered(start, 40, &mut s);
    }
    let accuracy = s.right as f64 / s.decided as f64;
    eprintln!(
        "live teams: warm-up {:?} frames; {} of {} decided track-frames right ({:.1} %), {} of {} track-frames \
         decided; possession with a team in {} frames; live vs finish(): {} of {} tracks agree, roles {:?}",
        s.warm_up,
        s.right,
        s.decided,
        100.0 * accuracy,
        s.decided,
        s.scored,
        s.possession_teams,
        s.agree,
        s.compared,
        s.roles
    );
    assert!(s.warm_up.iter().all(|&w| w <= 10), "warm-up {:?} frames", s.warm_up);
    assert!(accuracy >= 0.98, "{} of {}", s.right, s.decided);
    assert!(s.decided as f64 >= 0.9 * s.scored as f64, "{} of {} decided", s.decided, s.scored);
    assert!(s.possession_teams > 0, "possession never had a team");
    assert_eq!(s.changes, 0, "decided tracks changed their team");
    assert_eq!(s.roles.len(), 3, "players, a goalkeeper and a referee compared: {:?}", s.roles);
    assert!(s.compared >= 20 && s.agree == s.compared, "{} of {}", s.agree, s.compared);
}
