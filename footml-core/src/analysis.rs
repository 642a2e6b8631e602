//! Match-level artifacts shared by the match stages and the report: team assignment,
//! possession, match events and formations.
//!
//! These are the contracts between stages: team classification writes
//! [`TeamAssignment`], event detection reads it and writes [`Possession`] and
//! [`MatchEvent`]s, formation analysis writes [`FormationWindow`]s, and
//! [`crate::MatchReport`] reports all of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a tracked person is on the pitch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Outfield player.
    #[default]
    Player,
    /// Goalkeeper (kit differs from the team's; assigned to a team by position).
    Goalkeeper,
    /// Referee or assistant referee (belongs to no team).
    Referee,
    /// Could not be decided (too few samples, kit matches nobody).
    Unknown,
}

/// Where a track's team came from: teams are never guessed and presented as facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamSource {
    /// Clustered from kit colours in the video.
    #[default]
    KitColour,
    /// Given by the user (e.g. a team column in a detections file).
    User,
}

/// The team of one track, decided once for the whole track (one vote per track), so a team
/// never flickers within a track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackTeam {
    /// Player track id.
    pub track_id: u64,
    /// Team id (0 or 1), `None` for referees and undecided tracks.
    pub team: Option<u32>,
    /// Role.
    pub role: Role,
    /// Share of the track's votes that agree with the decision, 0..=1.
    pub confidence: f32,
    /// How the team was decided.
    pub source: TeamSource,
}

impl TrackTeam {
    /// A team (and role) the user gave for a track: full confidence, [`TeamSource::User`].
    pub fn user(track_id: u64, team: Option<u32>, role: Role) -> Self {
        TrackTeam { track_id, team, role, confidence: 1.0, source: TeamSource::User }
    }
}

/// One team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    /// Team id (0 or 1).
    pub id: u32,
    /// Representative kit colour (sRGB), when decided from video.
    pub colour: Option<[u8; 3]>,
    /// Tracks of this team (players and goalkeepers), ascending.
    pub track_ids: Vec<u64>,
}

/// Result of team classification.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TeamAssignment {
    /// The two teams (fewer when not enough tracks were seen).
    pub teams: Vec<Team>,
    /// Per track, ascending by track id.
    pub tracks: Vec<TrackTeam>,
}

impl TeamAssignment {
    /// An assignment from per-track entries (e.g. teams a user knows): tracks sorted by id,
    /// and each team listing its tracks.
    pub fn from_tracks(tracks: impl IntoIterator<Item = TrackTeam>) -> Self {
        let mut tracks: Vec<TrackTeam> = tracks.into_iter().collect();
        tracks.sort_by_key(|t| t.track_id);
        let mut teams: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        for t in &tracks {
            if let Some(team) = t.team {
                teams.entry(team).or_default().push(t.track_id);
            }
        }
        let teams = teams.into_iter().map(|(id, track_ids)| Team { id, colour: None, track_ids }).collect();
        TeamAssignment { teams, tracks }
    }

    /// The entry of a track, if it was classified.
    pub fn track(&self, track_id: u64) -> Option<&TrackTeam> {
        self.tracks.binary_search_by_key(&track_id, |t| t.track_id).ok().map(|i| &self.tracks[i])
    }

    /// The team of a track (`None` for referees, undecided and unknown tracks).
    pub fn team_of(&self, track_id: u64) -> Option<u32> {
        self.track(track_id).and_then(|t| t.team)
    }
}

/// Who has the ball in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Possession {
    /// Team in possession (kept through short contests by hysteresis), `None` when nobody
    /// has the ball (loose, out of play, unknown).
    pub team: Option<u32>,
    /// Player track controlling the ball, when one is close enough.
    pub track_id: Option<u64>,
}

/// One team's possession phase: the team keeps the ball through passes, loose balls and
/// brief contests, until the other team has controlled it for a sustained time or the ball
/// goes out of play (see [`crate::stages::events`]). This is what data providers call the
/// team in possession; [`Possession`] is the per-frame view of who has the ball.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PossessionPhase {
    /// Team id.
    pub team: u32,
    /// First frame of the phase (the frame index, as in [`MatchEvent::frame`]).
    pub from_frame: u64,
    /// Last frame of the phase (inclusive).
    pub to_frame: u64,
}

/// Kind of a match event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchEventKind {
    /// A pass between two players of the same team.
    Pass,
    /// A pass that did not reach a team mate.
    PassFailed,
    /// The other team won the ball from a pass.
    Interception,
    /// Possession changed teams other than by interception.
    Turnover,
    /// A fast ball struck toward a goal.
    Shot,
    /// The ball left the pitch.
    OutOfPlay,
}

/// One event of the match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchEvent {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: MatchEventKind,
    /// Frame index (from 0) where it started.
    pub frame: u64,
    /// Time of that frame in seconds.
    pub time_s: f64,
    /// Team that acted (passer, shooter, team that lost the ball out of play).
    pub team: Option<u32>,
    /// Acting player track.
    pub from_track: Option<u64>,
    /// Receiving player track (passes, interceptions).
    pub to_track: Option<u64>,
    /// Where it happened on the pitch, metres.
    pub pitch: Option<[f64; 2]>,
    /// Event-specific numbers (e.g. `ball_speed_kmh`, `end_frame`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, f64>,
}

/// A team's shape over one window of the match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormationWindow {
    /// Team id.
    pub team: u32,
    /// First frame of the window.
    pub from_frame: u64,
    /// Last frame of the window (inclusive).
    pub to_frame: u64,
    /// Outfield shape from the own goal forward, e.g. `"4-3-3"`.
    pub formation: String,
    /// How well the shape fits, 0..=1.
    pub confidence: f64,
    /// Which way the team attacked in the window, as the shape was read: `1` toward +x, `-1`
    /// toward −x (away from its goalkeeper, or toward the other team without one). Absent in
    /// reports written before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack_direction: Option<i8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_from_tracks_sorts_and_groups() {
        let entry = TrackTeam::user;
        let a = TeamAssignment::from_tracks([
            entry(7, Some(1), Role::Player),
            entry(2, Some(0), Role::Goalkeeper),
            entry(5, None, Role::Referee),
            entry(3, Some(1), Role::Player),
        ]);
        assert_eq!(a.tracks.iter().map(|t| t.track_id).collect::<Vec<_>>(), vec![2, 3, 5, 7]);
        let teams: Vec<(u32, Vec<u64>)> = a.teams.iter().map(|t| (t.id, t.track_ids.clone())).collect();
        assert_eq!(teams, vec![(0, vec![2]), (1, vec![3, 7])]);
        assert_eq!((a.team_of(7), a.team_of(5), a.team_of(9)), (Some(1), None, None));
    }
}
