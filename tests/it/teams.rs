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
