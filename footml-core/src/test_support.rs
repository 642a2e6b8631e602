//! Builders of synthetic match data for the crate's unit tests, so that every stage's tests
//! build frames the same way: a camera looking straight down at 10 px per metre ([`H`]),
//! people as small boxes standing on pitch points, the ball at a pitch point or lost, and
//! teams given by the user.

use crate::analysis::{Role, TeamAssignment, TrackTeam};
use crate::types::{BBox, BallObservation, FrameRecord, MatchData, TrackedBox, VideoInfo};

/// Frame rate of the synthetic matches.
pub(crate) const FPS: f64 = 25.0;

/// 10 px per metre, pitch origin at pixel (600, 400).
pub(crate) const H: [[f64; 3]; 3] = [[0.1, 0.0, -60.0], [0.0, 0.1, -40.0], [0.0, 0.0, 1.0]];

/// The pixel of pitch point `p` under [`H`].
pub(crate) fn px(p: [f64; 2]) -> (f32, f32) {
    (((p[0] + 60.0) * 10.0) as f32, ((p[1] + 40.0) * 10.0) as f32)
}

/// A 10 × 20 px box of a person standing at pitch point `p` (feet at the bottom centre).
pub(crate) fn person_at(track_id: u64, p: [f64; 2]) -> TrackedBox {
    let (u, v) = px(p);
    TrackedBox { track_id, bbox: BBox::new(u - 5.0, v - 20.0, 10.0, 20.0), score: 0.9 }
}

/// The ball tracked at pitch point `p`, or lost when there is none.
pub(crate) fn ball_at(p: Option<[f64; 2]>) -> BallObservation {
    p.map_or_else(BallObservation::lost, |p| {
        let (x, y) = px(p);
        BallObservation::tracked(x, y, 0.9)
    })
}

/// A frame calibrated by [`H`] with `people` (track id, pitch point) and, when given, the ball.
pub(crate) fn pitch_frame(
    index: u64,
    time_s: f64,
    people: impl IntoIterator<Item = (u64, [f64; 2])>,
    ball: Option<BallObservation>,
) -> FrameRecord {
    FrameRecord {
        index,
        time_s,
        tracks: Some(people.into_iter().map(|(id, p)| person_at(id, p)).collect()),
        ball,
        homography: Some(H),
        ..Default::default()
    }
}

/// A match at [`FPS`] of `frames`, with the teams the user gave (track id, team, role).
pub(crate) fn user_match(
    frames: Vec<FrameRecord>,
    teams: Option<impl IntoIterator<Item = (u64, Option<u32>, Role)>>,
) -> MatchData {
    let teams = teams
        .map(|t| TeamAssignment::from_tracks(t.into_iter().map(|(id, team, role)| TrackTeam::user(id, team, role))));
    MatchData { video: VideoInfo { fps: FPS, ..Default::default() }, frames, teams, ..Default::default() }
}
