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
