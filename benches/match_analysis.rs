//! Event detection and formation analysis throughput: frames per second on one core.
//!
//! The scene is synthetic but shaped like a match on the pitch: two teams of ten outfield
//! players (4-4-2 and 4-3-3 around moving team centres, each player wandering about his
//! slot) plus goalkeepers and a referee, and a ball that is carried by one player for
//! 1–3 s and then passed (12–20 m/s) to another, 5 minutes at 25 fps, calibrated frames.
//!
//! ```text
//! cargo bench -p footml-core --bench match_analysis
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use footml::analysis::{MatchEventKind, Role, TeamAssignment, TrackTeam};
use footml::config::{EventDetectionConfig, FormationAnalysisConfig};
use footml::stages::events::EventDetection;
use footml::stages::formations::{FormationAnalysis, TEMPLATES};
use footml::{BBox, BallObservation, FrameRecord, MatchData, TrackedBox, VideoInfo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FPS: f64 = 25.0;
const FRAMES: usize = 5 * 60 * 25;
/// 10 px per metre, pitch origin at pixel (600, 400).
const H: [[f64; 3]; 3] = [[0.1, 0.0, -60.0], [0.0, 0.1, -40.0], [0.0, 0.0, 1.0]];

fn px(p: [f64; 2]) -> (f32, f32) {
    (((p[0] + 60.0) * 10.0) as f32, ((p[1] + 40.0) * 10.0) as f32)
}

fn scene() -> MatchData {
    let mut rng = StdRng::seed_from_u64(7);
    let slots = |name: &str| TEMPLATES.iter().find(|t| t.0 == name).unwrap().1;
    // (track, team, role, slot relative to the team centre, attack sign)
    let mut people: Vec<(u64, Option<u32>, Role, [f64; 2])> = Vec::new();
    for (k, s) in slots("4-4-2").iter().enumerate() {
        people.push((k as u64 + 1, Some(0), Role::Player, [s[0] - 15.0, s[1] * 0.8]));
    }
    for (k, s) in slots("4-3-3").iter().enumerate() {
        people.push((k as u64 + 21, Some(1), Role::Player, [15.0 - s[0], -s[1] * 0.8]));
    }
    people.push((11, Some(0), Role::Goalkeeper, [0.0; 2]));
    people.push((31, Some(1), Role::Goalkeeper, [0.0; 2]));
    people.push((40, None, Role::Referee, [0.0; 2]));
    let outfield: Vec<usize> = (0..20).collect();
    let mut wander = vec![[0.0f64; 2]; people.len()];
    // A pass in flight: from, to, first frame, frames.
    type Flight = ([f64; 2], [f64; 2], usize, usize);
    let (mut holder, mut hold_left, mut flight): (usize, usize, Option<Flight>) = (0, 40, None);
    let mut frames = Vec::with_capacity(FRAMES);
    for i in 0..FRAMES {
        // Team centres drift slowly up and down the pitch.
        let t = i as f64 / FPS;
        let centre = [-10.0 + 12.0 * (t / 40.0).sin(), 6.0 * (t / 25.0).cos()];
        let mut positions = Vec::with_capacity(people.len());
        for (k, (_, team, role, slot)) in people.iter().enumerate() {
            for w in &mut wander[k] {
                *w = (*w + rng.random_range(-0.15..0.15)).clamp(-4.0, 4.0);
            }
            let p = match role {
                Role::Goalkeeper => [if *team == Some(0) { -50.0 } else { 50.0 }, 0.0],
                Role::Referee => [centre[0], centre[1] - 5.0],
                _ => [centre[0] + slot[0], centre[1] + slot[1]],
            };
            positions.push([p[0] + wander[k][0], p[1] + wander[k][1]]);
        }
        // The ball: at the holder's feet, then a pass to another outfield player.
        let ball = match flight {
            Some((from, to, start, len)) => {
                let a = (i - start) as f64 / len as f64;
                if a >= 1.0 {
                    flight = None;
                    hold_left = rng.random_range(25..75);
                    to
                } else {
                    [from[0] + a * (to[0] - from[0]), from[1] + a * (to[1] - from[1])]
                }
            }
            None => {
                let p = positions[holder];
                let b = [p[0] + 0.5, p[1]];
                if hold_left == 0 {
                    let next = outfield[rng.random_range(0..outfield.len())];
                    if next != holder {
                        let target = positions[next];
                        let d = (target[0] - b[0]).hypot(target[1] - b[1]);
                        let len = ((d / rng.random_range(12.0..20.0)) * FPS).ceil().max(2.0) as usize;
                        flight = Some((b, [target[0] + 0.5, target[1]], i, len));
                        holder = next;
                    }
                } else {
                    hold_left -= 1;
                }
                b
            }
        };
        let (bx, by) = px(ball);
        frames.push(FrameRecord {
            index: i as u64,
            time_s: t,
            tracks: Some(
                people
                    .iter()
                    .zip(&positions)
                    .map(|((id, ..), p)| {
                        let (u, v) = px(*p);
                        TrackedBox { track_id: *id, bbox: BBox::new(u - 5.0, v - 20.0, 10.0, 20.0), score: 0.9 }
                    })
                    .collect(),
            ),
            ball: Some(BallObservation::tracked(bx, by, 0.9)),
            homography: Some(H),
            ..Default::default()
        });
    }
    let teams =
        TeamAssignment::from_tracks(people.iter().map(|(id, team, role, _)| TrackTeam::user(*id, *team, *role)));
    MatchData { video: VideoInfo { fps: FPS, ..Default::default() }, frames, teams: Some(teams), ..Default::default() }
}

fn bench(c: &mut Criterion) {
    let data = scene();
    let events = EventDetection::new(&EventDetectionConfig::default()).unwrap();
    let formations = FormationAnalysis::new(&FormationAnalysisConfig::default()).unwrap();
    // The scene must be a real one: passes found, both shapes read.
    let (_, ev) = events.detect(&data).unwrap();
    let count = |k| ev.iter().filter(|e| e.kind == k).count();
    let (passes, interceptions) = (count(MatchEventKind::Pass), count(MatchEventKind::Interception));
    eprintln!("{passes} passes, {interceptions} interceptions, {} events", ev.len());
    assert!(passes >= 20 && interceptions >= 20, "{passes} passes, {interceptions} interceptions");
    let shapes = formations.analyse(&data).unwrap();
    assert!(shapes.iter().any(|f| f.team == 0 && f.formation == "4-4-2"), "{shapes:?}");
    assert!(shapes.iter().any(|f| f.team == 1 && f.formation == "4-3-3"), "{shapes:?}");
    let mut g = c.benchmark_group("match_analysis");
    g.throughput(Throughput::Elements(FRAMES as u64));
    g.sample_size(10);
    g.bench_function("event_detection_23_people", |b| b.iter(|| black_box(events.detect(black_box(&data)).unwrap())));
    g.bench_function("formation_analysis_5min_windows", |b| {
        b.iter(|| black_box(formations.analyse(black_box(&data)).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
