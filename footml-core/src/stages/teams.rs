//! Team classification: kit colours in the video → two teams, goalkeepers and referees.
//!
//! Two stages, so that pixels can be dropped early:
//!
//! * [`TeamFeatures`] (stream stage `"team_features"`, needs pixels and player tracks): for
//!   every tracked box, the **torso** (rows 17–45 % of the box height, below the head and above
//!   the shorts; the middle half of its width, away from swinging arms), subsampled to at most
//!   [`MAX_TORSO_PIXELS`] pixels (boxes cut by an edge of the image are skipped: the cut
//!   box no longer locates the torso). Grass pixels are masked by the frame's own grass model
//!   (hue peak and saturation floor learned from the frame, [`GrassModel`]), and so are pixels
//!   inside the box of a nearer person (whose box reaches lower in the image), who would
//!   otherwise lend their kit. The rest are converted to CIELAB and summarised by their
//!   per-channel **median**: skin of a bare arm, hair, a dark shadow fold or a stray grass
//!   blade are minorities and do not move it. The result is a [`KitSample`] per track in
//!   [`crate::FrameRecord::kit`] (checkpointed; a few µs per box).
//! * [`TeamClassification`] (match stage `"team_classification"`), on the samples of the
//!   whole match:
//!   1. each track with at least `min_samples` samples of at least `min_pixels` pixels gets
//!      its kit colour (per-channel median of its samples) and a weight (its sample count);
//!      the others are `unknown`. Colours are compared in shade-normalised CIELAB
//!      ([`shade_normalised`]: chroma rescaled to a common lightness, lightness at half
//!      weight), so a shirt in the shadow of the stand stays close to the same shirt in sun;
//!   2. **two team kits** are fitted to the tracks' colours by weighted **trimmed k-means**
//!      (k = 2; k-means++ seeding from a fixed seed, 8 restarts, the lowest trimmed cost
//!      kept): each iteration leaves out the `trim` share of the weight farthest from its
//!      kit, so the few referees and goalkeepers never pull a team's colour; the kits are then
//!      refitted to the tracks within `outlier_distance` of them;
//!   3. **one vote per track**: each sample votes for the nearer team kit, or for *outlier*
//!      when it is more than `outlier_distance` ΔE from both; the track takes the majority,
//!      once for the whole track, so its team never flickers; its confidence is the share of
//!      agreeing votes;
//!   4. **outliers** are goalkeepers or referees, told apart by where they stand. With a
//!      homography: a goalkeeper stays near a goal (median |x| ≥ `goalkeeper_min_abs_x_m`),
//!      and belongs to the team whose outfield players, in the frames he is seen, are on his
//!      side (nearer him on average: a team defends the goal its keeper guards). Without a
//!      homography: a goalkeeper is the last person along the image's x axis in most of his
//!      frames, and his team is the one whose players' mean image x is nearer him. The other
//!      outliers are referees (no team).
//!
//! A detection model that tells goalkeepers and referees apart (`player_detection.
//! goalkeeper_class_ids`, `referee_class_ids`) overrides step 4's roles: see [`ClassRoles`]
//! (whole-match classification, and the live provisional teams of [`LiveTeams`] by the same
//! votes, [`ClassRoleVotes`]).
//!
//! Without pixels (detections input) teams come only from the user: [`UserTeams`] (match
//! stage `"user_teams"`) gives each track the majority of the teams given to its detections
//! (a detections file's team column, see [`crate::stages::detections_file`]), with the roles
//! of the detections' classes as above.
//!
//! Team 0 is the team with the darker kit (lower L*), so the same match gives the same ids.
//! When the two fitted kits are closer than `outlier_distance`, the teams cannot be told
//! apart and every track stays `unknown`: no team is guessed.

use std::collections::BTreeMap;

use crate::analysis::{Role, Team, TeamAssignment, TeamSource, TrackTeam};
use crate::config::{ConfigError, LiveTeamsConfig, PlayerDetectionConfig, TeamClassificationConfig};
use crate::pipeline::stage::{
    Artifact, MatchStage, Stage, StageContext, StreamStage, require_in_batch, require_pixels,
};
use crate::report::apply_homography;
use crate::stages::ball_detection::GrassModel;
use crate::types::{BBox, FrameBatch, FrameRecord, KitSample, MatchData, RgbFrame};
use crate::vision::colour::{delta_e, from_shade_normalised, lab_to_srgb, shade_normalised, srgb_to_lab};
use crate::vision::particle::SplitMix64;
use crate::{Error, Result};

/// Most torso pixels a kit sample looks at (the torso is subsampled on a grid beyond this).
pub const MAX_TORSO_PIXELS: u32 = 256;
/// Torso rows, as fractions of the box height from its top.
const TORSO_ROWS: (f32, f32) = (0.17, 0.45);
/// Torso columns, as fractions of the box width from its left.
const TORSO_COLS: (f32, f32) = (0.25, 0.75);
/// Seed of the k-means++ restarts (fixed, so a match always gives the same teams).
const SEED: u64 = 0x7EA3_5EED;
/// k-means++ restarts; the lowest trimmed cost is kept.
const RESTARTS: u64 = 8;

/// Checks a [`TeamClassificationConfig`]; errors name the key as in the pipeline config.
pub(crate) fn validate_config(cfg: &TeamClassificationConfig) -> std::result::Result<(), ConfigError> {
    const SECTION: &str = "stage_configs.team_classification";
    if cfg.min_samples == 0 {
        return Err(ConfigError::invalid(SECTION, "min_samples", "at least 1", 0));
    }
    if !(cfg.outlier_distance.is_finite() && cfg.outlier_distance > 0.0) {
        return Err(ConfigError::invalid(SECTION, "outlier_distance", "a positive ΔE", cfg.outlier_distance));
    }
    if !(0.0..0.5).contains(&cfg.trim) {
        return Err(ConfigError::invalid(SECTION, "trim", "a fraction in [0, 0.5)", cfg.trim));
    }
    if !(cfg.goalkeeper_min_abs_x_m.is_finite() && cfg.goalkeeper_min_abs_x_m >= 0.0) {
        return Err(ConfigError::invalid(
            SECTION,
            "goalkeeper_min_abs_x_m",
            "a distance ≥ 0",
            cfg.goalkeeper_min_abs_x_m,
        ));
    }
    Ok(())
}

/// Checks a [`LiveTeamsConfig`] (`live.teams`) against the team classification settings it
/// works with; errors name the key as in the pipeline config.
pub(crate) fn validate_live_config(
    cfg: &LiveTeamsConfig,
    tc: &TeamClassificationConfig,
) -> std::result::Result<(), ConfigError> {
    const SECTION: &str = "live.teams";
    if cfg.min_tracks < 2 {
        return Err(ConfigError::invalid(SECTION, "min_tracks", "at least 2 (two teams)", cfg.min_tracks));
    }
    if cfg.refit_interval_frames == 0 {
        return Err(ConfigError::invalid(SECTION, "refit_interval_frames", "at least 1", 0));
    }
    if cfg.max_samples_per_track < tc.min_samples {
        return Err(ConfigError::invalid(
            SECTION,
            "max_samples_per_track",
            &format!("at least stage_configs.team_classification.min_samples ({})", tc.min_samples),
            cfg.max_samples_per_track,
        ));
    }
    if cfg.forget_after_frames == 0 {
        return Err(ConfigError::invalid(SECTION, "forget_after_frames", "at least 1", 0));
    }
    Ok(())
}

/// Stream stage `"team_features"`: the kit colour of every tracked person in every frame.
#[derive(Debug, Default)]
pub struct TeamFeatures {
    /// Per-channel buffers reused across boxes (no allocation per box).
    buf: [Vec<f32>; 3],
}

impl TeamFeatures {
    /// A new stage (stateless across frames).
    pub fn new() -> Self {
        Self::default()
    }

    /// The kit sample of the person in `bbox`: median CIELAB of the torso's pixels that are
    /// neither grass (by `grass`, when the frame has a grass model) nor inside one of
    /// `nearer` (boxes of people in front). `None` when no pixel is left, or when the box
    /// touches an edge of the image (cut off there, its torso is not where it should be).
    pub fn sample(
        &mut self,
        frame: &RgbFrame,
        grass: Option<&GrassModel>,
        bbox: &BBox,
        nearer: &[BBox],
    ) -> Option<([f32; 3], u32)> {
        // A box cut by an edge of the image no longer spans the whole person: its torso rows
        // or columns are unknown (measuring them would measure the head, shorts or an arm).
        let (fw, fh) = (frame.width as f32, frame.height as f32);
        if bbox.x < 1.0 || bbox.y < 1.0 || bbox.x + bbox.w > fw - 1.0 || bbox.y + bbox.h > fh - 1.0 {
            return None;
        }
        let x0 = (bbox.x + TORSO_COLS.0 * bbox.w).max(0.0);
        let x1 = (bbox.x + TORSO_COLS.1 * bbox.w).min(frame.width as f32);
        let y0 = (bbox.y + TORSO_ROWS.0 * bbox.h).max(0.0);
        let y1 = (bbox.y + TORSO_ROWS.1 * bbox.h).min(frame.height as f32);
        if !(x1 - x0 >= 1.0 && y1 - y0 >= 1.0) {
            return None;
        }
        let (x0, x1, y0, y1) = (x0 as u32, x1 as u32, y0 as u32, y1 as u32);
        let area = (x1 - x0).max(1) * (y1 - y0).max(1);
        let step = ((area as f32 / MAX_TORSO_PIXELS as f32).sqrt().ceil() as u32).max(1);
        // Only the nearer boxes that reach into the torso can hide it.
        let torso = BBox::new(x0 as f32, y0 as f32, (x1 - x0) as f32, (y1 - y0) as f32);
        let hiding: Vec<&BBox> = nearer.iter().filter(|o| o.iou(&torso) > 0.0).collect();
        for b in &mut self.buf {
            b.clear();
        }
        // Rows and columns from the middle of each step cell.
        for y in (y0 + step / 2..y1).step_by(step as usize) {
            for x in (x0 + step / 2..x1).step_by(step as usize) {
                let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                if hiding.iter().any(|o| fx >= o.x && fx < o.x + o.w && fy >= o.y && fy < o.y + o.h) {
                    continue;
                }
                let rgb = frame.pixel(x, y);
                if grass.is_some_and(|g| g.is_grass(rgb)) {
                    continue;
                }
                let lab = srgb_to_lab(rgb);
                for (b, v) in self.buf.iter_mut().zip(lab) {
                    b.push(v);
                }
            }
        }
        let n = self.buf[0].len();
        if n == 0 {
            return None;
        }
        let lab = [median(&mut self.buf[0]), median(&mut self.buf[1]), median(&mut self.buf[2])];
        Some((lab, n as u32))
    }
}

/// A torso's kit colour (median CIELAB) and the pixels it was taken over.
pub type TorsoSample = ([f32; 3], u32);

impl TeamFeatures {
    /// The kit sample of every box of one frame (`None` where [`Self::sample`] gives none), each
    /// with the boxes reaching lower in the image (nearer people) masked; `None` for the whole
    /// frame when it shows no dominant grass (a close-up, a replay transition: its colours are
    /// not kits on grass). Shared by [`TeamFeatures`] (tracked boxes) and [`PlayerAppearance`]
    /// (detections), so that both measure a kit the same way.
    pub fn frame_samples(&mut self, image: &RgbFrame, boxes: &[BBox]) -> Option<Vec<Option<TorsoSample>>> {
        let grass = GrassModel::for_frame(image)?;
        Some(self.samples_on_grass(image, &grass, boxes))
    }

    /// As [`Self::frame_samples`], with the frame's grass model already learned (by
    /// [`GrassModel::for_frame`], e.g. through [`crate::FrameItem::grass`]).
    pub fn samples_on_grass(
        &mut self,
        image: &RgbFrame,
        grass: &GrassModel,
        boxes: &[BBox],
    ) -> Vec<Option<TorsoSample>> {
        let mut nearer = Vec::new();
        boxes
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let bottom = b.y + b.h;
                nearer.clear();
                nearer.extend(boxes.iter().enumerate().filter(|&(j, o)| j != i && o.y + o.h > bottom).map(|(_, o)| *o));
                self.sample(image, Some(grass), b, &nearer)
            })
            .collect()
    }
}

/// The median of `v` (the upper one for even lengths); `v` must not be empty. Reorders `v`.
fn median(v: &mut [f32]) -> f32 {
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f32::total_cmp).1
}

impl Stage for TeamFeatures {
    fn name(&self) -> &str {
        "team_features"
    }

    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::FRAMES, Artifact::PLAYER_TRACKS]
    }

    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::KIT_COLOURS]
    }
}

impl StreamStage for TeamFeatures {
    fn process(&mut self, batch: &mut FrameBatch, _ctx: &StageContext) -> Result<()> {
        let images = require_pixels(batch, self.name())?;
        require_in_batch(batch, "team_features", "player tracks", &Artifact::PLAYER_TRACKS, |r| r.tracks.is_some())?;
        for (item, image) in batch.items.iter_mut().zip(images) {
            let grass = item.grass();
            let tracks = item.record.tracks.as_deref().unwrap_or_default();
            let boxes: Vec<BBox> = tracks.iter().map(|t| t.bbox).collect();
            // A frame with no dominant grass is no view of the pitch: no samples.
            let samples = grass.map(|g| self.samples_on_grass(&image, &g, &boxes)).unwrap_or_default();
            let kit = tracks
                .iter()
                .zip(samples)
                .filter_map(|(t, s)| s.map(|(lab, pixels)| KitSample { track_id: t.track_id, lab, pixels }))
                .collect();
            item.record.kit = Some(kit);
        }
        Ok(())
    }

    fn save_state(&self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    fn load_state(&mut self, _state: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// Stream stage `"player_appearance"`: the kit colour of every player *detection*
/// ([`crate::FrameRecord::player_appearance`]), measured as [`TeamFeatures`] measures a
/// track's, before tracking, so that the player tracker can tell players apart by kit when it
/// re-identifies one who comes back into view ([`crate::stages::player_tracking`]). Samples
/// of fewer than `min_pixels` pixels (team classification's setting) are left out: a
/// mostly hidden torso says little. Frames without detections (skipped by the detector) get
/// none.
#[derive(Debug, Default)]
pub struct PlayerAppearance {
    features: TeamFeatures,
    min_pixels: u32,
}

impl PlayerAppearance {
    /// A stage keeping samples of at least `min_pixels` torso pixels.
    pub fn new(min_pixels: u32) -> Self {
        PlayerAppearance { features: TeamFeatures::new(), min_pixels }
    }
}

impl Stage for PlayerAppearance {
    fn name(&self) -> &str {
        "player_appearance"
    }

    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::FRAMES, Artifact::PLAYER_DETECTIONS]
    }

    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::PLAYER_APPEARANCE]
    }
}

impl StreamStage for PlayerAppearance {
    fn process(&mut self, batch: &mut FrameBatch, _ctx: &StageContext) -> Result<()> {
        let images = require_pixels(batch, self.name())?;
        for (item, image) in batch.items.iter_mut().zip(images) {
            let grass = if item.record.players.is_some() { item.grass() } else { None };
            let Some(players) = item.record.players.as_deref() else {
                item.record.player_appearance = None;
                continue;
            };
            let boxes: Vec<BBox> = players.iter().map(|d| d.bbox).collect();
            let looks = match grass.map(|g| self.features.samples_on_grass(&image, &g, &boxes)) {
                Some(samples) => {
                    samples.into_iter().map(|s| s.and_then(|(lab, n)| (n >= self.min_pixels).then_some(lab))).collect()
                }
                None => vec![None; players.len()],
            };
            item.record.player_appearance = Some(looks);
        }
        Ok(())
    }

    fn save_state(&self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    fn load_state(&mut self, _state: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// Match stage `"team_classification"`: two teams, goalkeepers and referees from the kit
/// samples of [`TeamFeatures`] (see the module docs).
#[derive(Debug, Clone)]
pub struct TeamClassification {
    cfg: TeamClassificationConfig,
    /// The detection model's goalkeeper and referee classes (see [`ClassRoles`]).
    class_roles: ClassRoles,
}

/// Roles from the detection model's classes (`player_detection.goalkeeper_class_ids` and
/// `referee_class_ids`), for models that tell goalkeepers and referees apart. In every frame a
/// track votes with the class of the detection it was updated with (best IoU ≥ 0.5, as
/// [`UserTeams`] matches them); a track with most of its votes on goalkeeper classes is a
/// goalkeeper (keeping the team its kit or side gave it), on referee classes a referee (no
/// team). The model's word wins over the kit colours: it saw the whole person.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassRoles {
    /// Goalkeeper class ids.
    pub goalkeeper: Vec<u32>,
    /// Referee class ids.
    pub referee: Vec<u32>,
}

impl ClassRoles {
    /// The roles of `pd`'s `goalkeeper_class_ids` and `referee_class_ids`.
    pub fn from_config(pd: &PlayerDetectionConfig) -> Self {
        ClassRoles { goalkeeper: pd.goalkeeper_class_ids.clone(), referee: pd.referee_class_ids.clone() }
    }

    /// Whether no class gives a role (then [`ClassRoles::apply`] changes nothing).
    pub fn is_empty(&self) -> bool {
        self.goalkeeper.is_empty() && self.referee.is_empty()
    }

    /// `assignment` with the roles the model's classes give the tracks of `data`.
    pub fn apply(&self, assignment: TeamAssignment, data: &MatchData) -> TeamAssignment {
        if self.is_empty() {
            return assignment;
        }
        let mut votes = ClassRoleVotes::default();
        data.frames.iter().for_each(|rec| votes.add(self, rec));
        votes.apply(assignment)
    }
}

/// The votes behind [`ClassRoles`], frame by frame: what the live provisional teams
/// ([`LiveTeams`]) and a live detections session keep, so that a track gets the role of its
/// detections' classes as soon as they say so, by the same rule as the match stages at the
/// end (the live roles and the report's agree).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassRoleVotes {
    /// Per track: [goalkeeper, referee, other] votes.
    votes: BTreeMap<u64, [usize; 3]>,
}

impl ClassRoleVotes {
    /// Counts one frame's votes: each track votes with the class of the detection it was
    /// updated with (best IoU ≥ 0.5).
    pub fn add(&mut self, roles: &ClassRoles, rec: &FrameRecord) {
        if roles.is_empty() {
            return;
        }
        let dets = rec.players.as_deref().unwrap_or_default();
        for t in rec.tracks.iter().flatten() {
            let best = dets
                .iter()
                .map(|d| (d.bbox.iou(&t.bbox), d.class_id))
                .filter(|(iou, _)| *iou >= 0.5)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, class)) = best {
                let k = if roles.goalkeeper.contains(&class) {
                    0
                } else if roles.referee.contains(&class) {
                    1
                } else {
                    2
                };
                self.votes.entry(t.track_id).or_default()[k] += 1;
            }
        }
    }

    /// The role the votes give a track: [`Role::Goalkeeper`] or [`Role::Referee`] for a
    /// majority of its votes on those classes, `None` otherwise (no votes, or mostly players).
    pub fn role(&self, track_id: u64) -> Option<Role> {
        let v = self.votes.get(&track_id)?;
        let total: usize = v.iter().sum();
        if 2 * v[0] > total {
            Some(Role::Goalkeeper)
        } else if 2 * v[1] > total {
            Some(Role::Referee)
        } else {
            None
        }
    }

    /// `assignment` with the roles of the votes: a goalkeeper keeps the team it was given, a
    /// referee has none (and leaves its team's list). A track that the votes give a role but
    /// `assignment` does not list (not decided yet) is added, without a team, so that it shows
    /// with its role from its first votes.
    pub fn apply(&self, mut assignment: TeamAssignment) -> TeamAssignment {
        let mut added = Vec::new();
        for &id in self.votes.keys() {
            let Some(role) = self.role(id) else { continue };
            match assignment.tracks.binary_search_by_key(&id, |t| t.track_id) {
                Ok(i) => {
                    let t = &mut assignment.tracks[i];
                    t.role = role;
                    if role == Role::Referee {
                        t.team = None;
                    }
                }
                Err(_) => added.push(TrackTeam { role, ..unknown(id) }),
            }
        }
        if !added.is_empty() {
            assignment.tracks.extend(added);
            assignment.tracks.sort_by_key(|t| t.track_id);
        }
        // Referees leave their team's list. `tracks` is sorted by id: a binary search per
        // member keeps this O(T log T) — a live session calls it on every push with every
        // track it has seen (thousands over a match), where a scan per member was O(T²).
        let tracks = &assignment.tracks;
        for team in &mut assignment.teams {
            team.track_ids.retain(|&id| {
                tracks.binary_search_by_key(&id, |t| t.track_id).is_ok_and(|i| tracks[i].team == Some(team.id))
            });
        }
        assignment
    }

    /// Forgets the votes of the tracks `keep` says no to (tracks gone from a live feed).
    pub fn retain(&mut self, mut keep: impl FnMut(u64) -> bool) {
        self.votes.retain(|&id, _| keep(id));
    }
}

/// What a sample says about its track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Vote {
    Team(usize),
    Outlier,
}

/// Where a person stood in one frame: image feet point and, when calibrated, pitch position.
#[derive(Debug, Clone, Copy)]
struct Place {
    frame: usize,
    u: f64,
    pitch: Option<[f64; 2]>,
}

/// What team classification decides on: each track's kit samples (shade-normalised CIELAB,
/// those of at least `min_pixels` pixels; their order does not matter) and where it stood in
/// each frame (`Place::frame` in `0..n_frames`).
#[derive(Debug, Default)]
struct Evidence {
    samples: BTreeMap<u64, Vec<[f32; 3]>>,
    places: BTreeMap<u64, Vec<Place>>,
    n_frames: usize,
}

/// The places of the tracked people of one frame, numbered `frame`.
fn places(frame: usize, rec: &FrameRecord) -> impl Iterator<Item = (u64, Place)> + '_ {
    rec.tracks.iter().flatten().map(move |t| {
        let (u, v) = t.bbox.foot();
        let pitch = rec.homography.as_ref().and_then(|h| apply_homography(h, u as f64, v as f64));
        (t.track_id, Place { frame, u: u as f64, pitch })
    })
}

/// A track without a team or role.
fn unknown(track_id: u64) -> TrackTeam {
    TrackTeam { track_id, team: None, role: Role::Unknown, confidence: 0.0, source: TeamSource::KitColour }
}

/// `assignment` with each team's colour from `kits` (team `i` wears `kits[i]`); both teams are
/// reported when their kits were found, even if one has no track (left).
fn with_kit_colours(mut assignment: TeamAssignment, kits: [[f32; 3]; 2]) -> TeamAssignment {
    for (id, kit) in kits.iter().enumerate() {
        let colour = Some(lab_to_srgb(from_shade_normalised(*kit)));
        match assignment.teams.iter_mut().find(|t| t.id == id as u32) {
            Some(team) => team.colour = colour,
            None => assignment.teams.push(Team { id: id as u32, colour, track_ids: Vec::new() }),
        }
    }
    assignment.teams.sort_by_key(|t| t.id);
    assignment
}

impl TeamClassification {
    /// A stage with the given settings (checked).
    pub fn new(cfg: &TeamClassificationConfig) -> Result<Self> {
        validate_config(cfg)?;
        Ok(TeamClassification { cfg: cfg.clone(), class_roles: ClassRoles::default() })
    }

    /// The stage with roles from the detection model's classes ([`ClassRoles`]).
    pub fn with_class_roles(mut self, roles: ClassRoles) -> Self {
        self.class_roles = roles;
        self
    }

    /// Classifies the tracks of `data` (the stage's work, without the pipeline around it).
    pub fn classify(&self, data: &MatchData) -> TeamAssignment {
        self.class_roles.apply(self.classify_by_kit(data), data)
    }

    /// Steps 1–4 of the module docs: teams and roles from kit colours and places.
    fn classify_by_kit(&self, data: &MatchData) -> TeamAssignment {
        let mut ev = Evidence { n_frames: data.frames.len(), ..Default::default() };
        for (i, rec) in data.frames.iter().enumerate() {
            for (id, place) in places(i, rec) {
                ev.places.entry(id).or_default().push(place);
            }
            for s in rec.kit.iter().flatten() {
                if s.pixels >= self.cfg.min_pixels {
                    ev.samples.entry(s.track_id).or_default().push(shade_normalised(s.lab));
                }
            }
        }
        match self.fit_kits(&ev) {
            Some(mut kits) => {
                kits.sort_by(|a, b| a[0].total_cmp(&b[0]));
                self.assign(&ev, kits)
            }
            None => self.undecided(&ev),
        }
    }

    /// Every track of `ev` without a team: the teams cannot be told apart.
    fn undecided(&self, ev: &Evidence) -> TeamAssignment {
        TeamAssignment::from_tracks(ev.places.keys().map(|&id| unknown(id)))
    }

    /// Steps 1–2 of the [module docs](self): the two team kits (shade-normalised CIELAB, in
    /// no particular order) fitted to the colours of the tracks with at least `min_samples`
    /// samples; `None` when there are fewer than two such tracks or the kits are closer than
    /// `outlier_distance` (one kit: the teams cannot be told apart).
    fn fit_kits(&self, ev: &Evidence) -> Option<[[f32; 3]; 2]> {
        let cfg = &self.cfg;
        // Track colours (per-channel median of the samples), weighted by sample count.
        let points: Vec<WeightedLab> = ev
            .samples
            .values()
            .filter(|s| s.len() >= cfg.min_samples as usize)
            .map(|s| {
                let mut ch: [Vec<f32>; 3] = std::array::from_fn(|c| s.iter().map(|l| l[c]).collect());
                ([median(&mut ch[0]), median(&mut ch[1]), median(&mut ch[2])], s.len() as f64)
            })
            .collect();
        trimmed_two_means(&points, cfg.trim as f64)
            .map(|k| refit(&points, k, cfg.outlier_distance))
            .filter(|k| delta_e(k[0], k[1]) >= cfg.outlier_distance)
    }

    /// Steps 3–4 of the [module docs](self) with the team kits `kits` (team `i` wears
    /// `kits[i]`): one vote per track with enough samples, outliers placed as goalkeepers or
    /// referees, the others `unknown`.
    fn assign(&self, ev: &Evidence, kits: [[f32; 3]; 2]) -> TeamAssignment {
        let cfg = &self.cfg;
        let vote = |lab: [f32; 3]| {
            let d = [delta_e(lab, kits[0]), delta_e(lab, kits[1])];
            let near = usize::from(d[1] < d[0]);
            if d[near] > cfg.outlier_distance { Vote::Outlier } else { Vote::Team(near) }
        };
        // One decision per track: the majority of its samples' votes.
        let mut decided: BTreeMap<u64, (Vote, f32)> = BTreeMap::new();
        for (&id, samples) in &ev.samples {
            if samples.len() < cfg.min_samples as usize {
                continue;
            }
            let mut counts: BTreeMap<Vote, usize> = BTreeMap::new();
            for &lab in samples {
                *counts.entry(vote(lab)).or_default() += 1;
            }
            let total: usize = counts.values().sum();
            let (&best, &n) = counts.iter().max_by_key(|&(v, &n)| (n, std::cmp::Reverse(*v))).expect("samples");
            decided.insert(id, (best, n as f32 / total as f32));
        }
        // Outfield players of each team visible in each frame, for the outliers' sides.
        let n_frames = ev.n_frames;
        let mut team_sides: [Vec<Vec<Place>>; 2] = [vec![Vec::new(); n_frames], vec![Vec::new(); n_frames]];
        for (id, (v, _)) in &decided {
            if let Vote::Team(t) = v {
                for p in ev.places.get(id).into_iter().flatten() {
                    team_sides[*t][p.frame].push(*p);
                }
            }
        }
        let mut entries = Vec::with_capacity(ev.places.len());
        for (&id, track_places) in &ev.places {
            let Some(&(v, confidence)) = decided.get(&id) else {
                entries.push(unknown(id));
                continue;
            };
            let entry = match v {
                Vote::Team(t) => TrackTeam {
                    track_id: id,
                    team: Some(t as u32),
                    role: Role::Player,
                    confidence,
                    source: TeamSource::KitColour,
                },
                Vote::Outlier => match self.goalkeeper_team(track_places, &team_sides, &ev.places) {
                    Some((team, share)) => TrackTeam {
                        track_id: id,
                        team,
                        role: Role::Goalkeeper,
                        confidence: share,
                        source: TeamSource::KitColour,
                    },
                    None => TrackTeam {
                        track_id: id,
                        team: None,
                        role: Role::Referee,
                        confidence,
                        source: TeamSource::KitColour,
                    },
                },
            };
            entries.push(entry);
        }
        with_kit_colours(TeamAssignment::from_tracks(entries), kits)
    }

    /// Whether an outlier track is a goalkeeper and, if so, his team (`None` when no outfield
    /// player was seen with him) with the share of agreeing frames; `None` for a referee.
    fn goalkeeper_team(
        &self,
        track: &[Place],
        sides: &[Vec<Vec<Place>>; 2],
        all: &BTreeMap<u64, Vec<Place>>,
    ) -> Option<(Option<u32>, f32)> {
        let on_pitch: Vec<[f64; 2]> = track.iter().filter_map(|p| p.pitch).collect();
        let use_pitch = on_pitch.len() * 2 > track.len();
        let coord = |p: &Place| if use_pitch { p.pitch.map(|q| q[0]) } else { Some(p.u) };
        if use_pitch {
            let mut xs: Vec<f64> = on_pitch.iter().map(|p| p[0].abs()).collect();
            let mid = xs.len() / 2;
            if *xs.select_nth_unstable_by(mid, f64::total_cmp).1 < self.cfg.goalkeeper_min_abs_x_m {
                return None;
            }
        } else {
            // Image only: the keeper is the last person along x in most frames he is seen in.
            let mut by_frame: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
            for p in all.values().flatten() {
                by_frame.entry(p.frame).or_default().push(p.u);
            }
            let extreme = track
                .iter()
                .filter(|p| {
                    let others = &by_frame[&p.frame];
                    // Four people at least (him included), so that "last" means something.
                    others.len() >= 4 && (others.iter().all(|&u| u >= p.u) || others.iter().all(|&u| u <= p.u))
                })
                .count();
            if extreme * 2 <= track.len() {
                return None;
            }
        }
        let mut votes = [0usize; 2];
        for p in track {
            let Some(x) = coord(p) else { continue };
            let mean = |t: usize| {
                let xs: Vec<f64> = sides[t][p.frame].iter().filter_map(&coord).collect();
                (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
            };
            if let (Some(a), Some(b)) = (mean(0), mean(1)) {
                votes[usize::from((b - x).abs() < (a - x).abs())] += 1;
            }
        }
        let total = votes[0] + votes[1];
        if total == 0 {
            return Some((None, 0.0));
        }
        let team = usize::from(votes[1] > votes[0]);
        Some((Some(team as u32), votes[team] as f32 / total as f32))
    }
}

/// A colour with its weight (the samples behind it).
type WeightedLab = ([f32; 3], f64);

/// Two centres for weighted points by trimmed k-means (k-means++ seeding, [`RESTARTS`]
/// restarts from a fixed seed): each Lloyd step fits the centres to the points nearest them
/// after leaving out the `trim` share of the weight farthest from its centre. `None` for
/// fewer than two points.
fn trimmed_two_means(points: &[([f32; 3], f64)], trim: f64) -> Option<[[f32; 3]; 2]> {
    if points.len() < 2 {
        return None;
    }
    let total: f64 = points.iter().map(|p| p.1).sum();
    let keep = (1.0 - trim) * total;
    let mut best: Option<(f64, [[f32; 3]; 2])> = None;
    for restart in 0..RESTARTS {
        let mut rng = SplitMix64(SEED ^ restart.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let pick = |rng: &mut SplitMix64, w: &dyn Fn(&WeightedLab) -> f64| {
            let sum: f64 = points.iter().map(w).sum();
            let mut r = rng.uniform() * sum;
            for p in points {
                r -= w(p);
                if r < 0.0 {
                    return p.0;
                }
            }
            points[points.len() - 1].0
        };
        let first = pick(&mut rng, &|p| p.1);
        let second = pick(&mut rng, &|p| p.1 * f64::from(delta_e(p.0, first)).powi(2));
        let mut centres = [first, second];
        let mut cost = f64::INFINITY;
        for _ in 0..50 {
            let mut near: Vec<(f64, usize, usize)> = points
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let d = [delta_e(p.0, centres[0]), delta_e(p.0, centres[1])];
                    let c = usize::from(d[1] < d[0]);
                    (f64::from(d[c]), c, i)
                })
                .collect();
            near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)));
            let (mut sums, mut weights, mut kept, mut new_cost) = ([[0f64; 3]; 2], [0f64; 2], 0.0, 0.0);
            for &(d, c, i) in &near {
                if kept >= keep {
                    break;
                }
                let (lab, w) = points[i];
                for k in 0..3 {
                    sums[c][k] += w * f64::from(lab[k]);
                }
                weights[c] += w;
                kept += w;
                new_cost += w * d * d;
            }
            for c in 0..2 {
                if weights[c] > 0.0 {
                    centres[c] = std::array::from_fn(|k| (sums[c][k] / weights[c]) as f32);
                }
            }
            if new_cost >= cost - 1e-9 {
                break;
            }
            cost = new_cost;
        }
        if best.as_ref().is_none_or(|b| cost < b.0) {
            best = Some((cost, centres));
        }
    }
    best.map(|b| b.1)
}

/// Refits two kits to the points within `radius` of them (weighted means, a few rounds):
/// trimming leaves out a fixed share of the weight, which may keep an outlier or drop a
/// player; the kits' own inliers are what the teams wear.
fn refit(points: &[([f32; 3], f64)], mut kits: [[f32; 3]; 2], radius: f32) -> [[f32; 3]; 2] {
    for _ in 0..3 {
        let (mut sums, mut weights) = ([[0f64; 3]; 2], [0f64; 2]);
        for &(lab, w) in points {
            let d = [delta_e(lab, kits[0]), delta_e(lab, kits[1])];
            let c = usize::from(d[1] < d[0]);
            if d[c] <= radius {
                for k in 0..3 {
                    sums[c][k] += w * f64::from(lab[k]);
                }
                weights[c] += w;
            }
        }
        for c in 0..2 {
            if weights[c] > 0.0 {
                kits[c] = std::array::from_fn(|k| (sums[c][k] / weights[c]) as f32);
            }
        }
    }
    kits
}

impl Stage for TeamClassification {
    fn name(&self) -> &str {
        "team_classification"
    }

    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::PLAYER_TRACKS, Artifact::KIT_COLOURS]
    }

    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::TEAMS]
    }
}

impl MatchStage for TeamClassification {
    fn run(&mut self, data: &mut MatchData, ctx: &StageContext) -> Result<()> {
        if ctx.is_cancelled() {
            return Err(Error::Cancelled);
        }
        data.teams = Some(self.classify(data));
        Ok(())
    }
}

/// Match stage `"user_teams"`: each track's team from the teams the user gave its
/// detections (a detections file's team column, `FrameRecord::player_teams`). In every frame,
/// the track votes with the team of the detection it was updated with (best IoU ≥ 0.5); the
/// track takes the majority, once for the whole track, with the share of agreeing votes as
/// its confidence. Tracks whose detections carry no team stay `unknown`: nothing is guessed
/// from the other tracks.
///
/// Detections whose class the model calls goalkeeper or referee ([`ClassRoles`],
/// `player_detection.goalkeeper_class_ids` / `referee_class_ids`) give their tracks that role
/// as in [`TeamClassification`]: a referee has no team, whatever team the user gave.
#[derive(Debug, Clone, Default)]
pub struct UserTeams {
    class_roles: ClassRoles,
}

impl UserTeams {
    /// The stage.
    pub fn new() -> Self {
        UserTeams::default()
    }

    /// The stage with roles from the detections' classes ([`ClassRoles`]).
    pub fn with_class_roles(mut self, roles: ClassRoles) -> Self {
        self.class_roles = roles;
        self
    }

    /// The tracks' teams from the user's per-detection teams in `data`.
    pub fn assign(&self, data: &MatchData) -> TeamAssignment {
        let mut votes = UserTeamVotes::default();
        data.frames.iter().for_each(|rec| votes.add(rec));
        self.class_roles.apply(votes.assignment(), data)
    }
}

/// The votes behind [`UserTeams`], frame by frame: what a live session keeps to give each
/// track the user's team as soon as its detections carry one
/// ([`crate::live::LiveFrame::Detections`] `player_teams`), by the same rule as the match
/// stage at the end, so the live teams and the report's agree.
#[derive(Debug, Clone, Default)]
pub struct UserTeamVotes {
    /// Per track, the frames its detection was given team 0 and team 1 (a track without a
    /// team on any of its detections is still listed, to be reported `unknown`).
    votes: BTreeMap<u64, [usize; 2]>,
}

impl UserTeamVotes {
    /// Counts one frame's votes: each track votes with the team of the detection it was
    /// updated with (best IoU ≥ 0.5), when the user gave that detection a team.
    pub fn add(&mut self, rec: &FrameRecord) {
        let dets = rec.players.as_deref().unwrap_or_default();
        let teams = rec.player_teams.as_deref().unwrap_or_default();
        for t in rec.tracks.iter().flatten() {
            let v = self.votes.entry(t.track_id).or_default();
            let best = dets
                .iter()
                .zip(teams)
                .map(|(d, team)| (d.bbox.iou(&t.bbox), *team))
                .filter(|(iou, _)| *iou >= 0.5)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, Some(team))) = best
                && team < 2
            {
                v[team as usize] += 1;
            }
        }
    }

    /// Each track's majority team so far, with the share of agreeing votes as confidence.
    pub fn assignment(&self) -> TeamAssignment {
        TeamAssignment::from_tracks(self.votes.iter().map(|(&track_id, v)| {
            let total = v[0] + v[1];
            let team = usize::from(v[1] > v[0]);
            TrackTeam {
                track_id,
                team: (total > 0).then_some(team as u32),
                role: if total > 0 { Role::Player } else { Role::Unknown },
                confidence: if total > 0 { v[team] as f32 / total as f32 } else { 0.0 },
                source: TeamSource::User,
            }
        }))
    }
}

impl Stage for UserTeams {
    fn name(&self) -> &str {
        "user_teams"
    }

    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::PLAYER_TRACKS, Artifact::PLAYER_DETECTIONS, Artifact::PLAYER_TEAMS]
    }

    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::TEAMS]
    }
}

impl MatchStage for UserTeams {
    fn run(&mut self, data: &mut MatchData, ctx: &StageContext) -> Result<()> {
        if ctx.is_cancelled() {
            return Err(Error::Cancelled);
        }
        data.teams = Some(self.assign(data));
        Ok(())
    }
}

/// Provisional teams while a live feed runs ([`crate::live::LiveSession`], `live.teams`):
/// [`TeamClassification`] on the frames pushed so far, kept up to date.
///
/// Each pushed frame's kit samples ([`crate::FrameRecord::kit`], from [`TeamFeatures`]) are
/// added to their track's. After the **warm-up** — `min_tracks` tracks with `min_samples`
/// samples each — the two team kits are fitted and the tracks decided exactly as the match
/// stage does (the same code: trimmed k-means, one majority vote per track, outliers placed as
/// goalkeepers or referees); team 0 is then the darker kit, as in the match stage. The kits are
/// **refitted** every `refit_interval_frames` frames, and the new kits are matched to the
/// previous ones (the pairing with the smaller total ΔE), so a team keeps its id through
/// refits even when the light changes which kit is darker. Between refits the decisions stay:
/// a track that reaches `min_samples` is voted against the current kits, the others keep
/// theirs. A track is decided, and at a refit a decided track changes, only when at least two
/// thirds of its votes agree: its team does not flicker when its torso is hidden or shaded
/// for a while, and a split vote leaves it `unknown` until its samples agree.
///
/// Memory is bounded whatever the match length: at most `max_samples_per_track` samples per
/// track (the newest), tracks unseen for `forget_after_frames` frames are forgotten, and only
/// that many frames of positions (for goalkeepers) are kept.
///
/// The whole-match vote of [`TeamClassification`] at the end sees every sample (and later
/// frames): it can differ from the provisional one, and is the one the report gives.
#[derive(Debug)]
pub struct LiveTeams {
    stage: TeamClassification,
    cfg: LiveTeamsConfig,
    /// Per track: its newest samples, a ring of at most `max_samples_per_track` (the vote and
    /// the median do not depend on the order).
    samples: BTreeMap<u64, Vec<[f32; 3]>>,
    /// Per track: samples taken in all (the ring's next slot) and the last frame seen.
    seen: BTreeMap<u64, (u64, u64)>,
    /// Places of the last `forget_after_frames` frames, `Place::frame` the frame's number.
    frames: std::collections::VecDeque<Vec<(u64, Place)>>,
    /// The team kits, once fitted (team `i` wears `kits[i]`).
    kits: Option<[[f32; 3]; 2]>,
    /// The decisions by kit colour (and place, for goalkeepers).
    kit: TeamAssignment,
    /// The detection model's goalkeeper and referee classes, and the tracks' votes so far.
    class_roles: ClassRoles,
    class_votes: ClassRoleVotes,
    /// What the session shows: `kit` with the roles of the class votes.
    assignment: TeamAssignment,
    /// Frames pushed.
    pushed: u64,
    /// The frame at which the kits are next fitted (once warmed up).
    next_fit: u64,
    /// The frame whose push first fitted the kits.
    warmed_up_at: Option<u64>,
}

impl LiveTeams {
    /// Provisional classification with the match stage's settings `tc` and the live ones
    /// `cfg` (both checked).
    pub fn new(tc: &TeamClassificationConfig, cfg: &LiveTeamsConfig) -> Result<Self> {
        validate_live_config(cfg, tc)?;
        Ok(LiveTeams {
            stage: TeamClassification::new(tc)?,
            cfg: cfg.clone(),
            samples: BTreeMap::new(),
            seen: BTreeMap::new(),
            frames: Default::default(),
            kits: None,
            kit: TeamAssignment::default(),
            class_roles: ClassRoles::default(),
            class_votes: ClassRoleVotes::default(),
            assignment: TeamAssignment::default(),
            pushed: 0,
            next_fit: 0,
            warmed_up_at: None,
        })
    }

    /// Provisional classification whose tracks take the roles of their detections' classes
    /// ([`ClassRoles`], by the rule of [`TeamClassification::with_class_roles`]): a track
    /// whose detections are mostly of a referee class is a referee (no team) from its first
    /// such frames, whatever its kit says, a goalkeeper class a goalkeeper.
    pub fn with_class_roles(mut self, roles: ClassRoles) -> Self {
        self.class_roles = roles;
        self
    }

    /// Takes the next frame's record (tracks, kit samples, and the player detections for the
    /// class roles) and returns whether the assignment changed.
    pub fn push(&mut self, rec: &FrameRecord) -> bool {
        let kit_changed = self.push_kits(rec);
        self.class_votes.add(&self.class_roles, rec);
        let seen = &self.seen;
        self.class_votes.retain(|id| seen.contains_key(&id));
        if self.class_roles.is_empty() {
            // Nothing to apply: the kit decisions are what is shown.
            if kit_changed {
                self.assignment = self.kit.clone();
            }
            return kit_changed;
        }
        let shown = self.class_votes.apply(self.kit.clone());
        let changed = shown != self.assignment;
        self.assignment = shown;
        changed
    }

    /// The kit-colour part of [`Self::push`]: returns whether the kit decisions changed.
    fn push_kits(&mut self, rec: &FrameRecord) -> bool {
        let frame = self.pushed;
        self.pushed += 1;
        let window = self.cfg.forget_after_frames as u64;
        self.frames.push_back(places(frame as usize, rec).collect());
        if self.frames.len() as u64 > window {
            self.frames.pop_front();
        }
        for t in rec.tracks.iter().flatten() {
            self.seen.entry(t.track_id).or_default().1 = frame;
        }
        let (cap, min_samples) = (self.cfg.max_samples_per_track as usize, self.stage.cfg.min_samples as usize);
        let mut newly_eligible = false;
        for s in rec.kit.iter().flatten() {
            if s.pixels < self.stage.cfg.min_pixels {
                continue;
            }
            let (taken, last) = self.seen.entry(s.track_id).or_default();
            *last = frame;
            let ring = self.samples.entry(s.track_id).or_default();
            let lab = shade_normalised(s.lab);
            if ring.len() < cap {
                ring.push(lab);
            } else {
                ring[(*taken % cap as u64) as usize] = lab;
            }
            *taken += 1;
            newly_eligible |= *taken == min_samples as u64;
        }
        // Tracks gone for the whole window: their samples and team go.
        if let Some(cutoff) = frame.checked_sub(window) {
            let samples = &mut self.samples;
            self.seen.retain(|id, (_, last)| {
                let keep = *last > cutoff;
                if !keep {
                    samples.remove(id);
                }
                keep
            });
        }
        if frame >= self.next_fit {
            return self.fit(frame);
        }
        match self.kits {
            // A track just decidable: voted against the current kits, the others kept.
            Some(kits) if newly_eligible => {
                let fresh = self.decide(kits);
                self.merge(fresh, kits, |_| false)
            }
            _ => false,
        }
    }

    /// Takes the decisions of `fresh` for the tracks not decided yet when their kit votes agree
    /// clearly (at least [`DECIDE_SHARE`]; a split vote leaves the track `unknown` for now),
    /// and for decided ones where `revise` says so; the other decided tracks keep theirs.
    fn merge(&mut self, fresh: TeamAssignment, kits: [[f32; 3]; 2], revise: impl Fn(&TrackTeam) -> bool) -> bool {
        let entries = fresh.tracks.into_iter().map(|t| {
            match self.kit.track(t.track_id).filter(|old| old.role != Role::Unknown) {
                Some(old) if !revise(&t) => old.clone(),
                // A goalkeeper's confidence is the share of frames placing him, not of kit votes.
                None if t.role != Role::Goalkeeper && t.confidence < DECIDE_SHARE => unknown(t.track_id),
                _ => t,
            }
        });
        let merged = with_kit_colours(TeamAssignment::from_tracks(entries), kits);
        let changed = merged != self.kit;
        self.kit = merged;
        changed
    }

    /// Fits the kits (when enough tracks have enough samples) and decides every track.
    fn fit(&mut self, frame: u64) -> bool {
        let min_samples = self.stage.cfg.min_samples as usize;
        let eligible = self.samples.values().filter(|s| s.len() >= min_samples).count();
        if self.kits.is_none() && eligible < self.cfg.min_tracks as usize {
            // Still warming up: try again with the next frame's samples.
            return false;
        }
        self.next_fit = frame + self.cfg.refit_interval_frames as u64;
        let ev = self.evidence();
        let fitted = self.stage.fit_kits(&ev);
        self.samples = ev.samples;
        let kits = match (fitted, self.kits) {
            (Some(new), Some(old)) => match_kits(old, new),
            (Some(mut new), None) => {
                // The first fit names the teams as the match stage does: team 0 darker.
                new.sort_by(|a, b| a[0].total_cmp(&b[0]));
                self.warmed_up_at = Some(frame);
                new
            }
            // The kits cannot be told apart (now): keep the last ones, if any.
            (None, Some(old)) => old,
            (None, None) => return false,
        };
        self.kits = Some(kits);
        let fresh = self.decide(kits);
        // A decided track changes its team or role only on a clear majority of its samples
        // (or, for a goalkeeper, of the frames placing him): a track whose torso was hidden
        // or shaded for a while splits its votes, and its team must not flicker for that.
        self.merge(fresh, kits, |t| t.confidence >= DECIDE_SHARE)
    }

    /// Every track decided with the kits `kits`.
    fn decide(&mut self, kits: [[f32; 3]; 2]) -> TeamAssignment {
        let ev = self.evidence();
        let assignment = self.stage.assign(&ev, kits);
        self.samples = ev.samples;
        assignment
    }

    /// The samples (moved out, to be put back) and the window's places as the match stage's
    /// evidence, frames numbered from the window's first.
    fn evidence(&mut self) -> Evidence {
        let first = self.pushed - self.frames.len() as u64;
        let mut places: BTreeMap<u64, Vec<Place>> = BTreeMap::new();
        for row in &self.frames {
            for &(id, p) in row {
                places.entry(id).or_default().push(Place { frame: p.frame - first as usize, ..p });
            }
        }
        Evidence { samples: std::mem::take(&mut self.samples), places, n_frames: self.frames.len() }
    }

    /// The provisional assignment of the tracks seen in the last `forget_after_frames` frames
    /// when it was last decided (empty during the warm-up; a track with fewer than
    /// `min_samples` samples is `unknown` or absent), with the roles of the detections'
    /// classes ([`Self::with_class_roles`]; such tracks are listed from their first votes).
    pub fn assignment(&self) -> &TeamAssignment {
        &self.assignment
    }

    /// The index (from 0, in pushes) of the frame whose push first fitted the team kits:
    /// the end of the warm-up; `None` while warming up.
    pub fn warmed_up_at(&self) -> Option<u64> {
        self.warmed_up_at
    }

    /// Tracks and kit samples held now (bounded by `forget_after_frames` and
    /// `max_samples_per_track`).
    pub fn held(&self) -> (usize, usize) {
        (self.seen.len(), self.samples.values().map(Vec::len).sum())
    }
}

/// The share of agreeing votes a decision of [`LiveTeams`] needs, first or revised (a clear
/// majority, not a split): early samples of a partly hidden torso split a track's votes, and
/// `unknown` for a few more frames is better than a wrong team shown live.
const DECIDE_SHARE: f32 = 2.0 / 3.0;

/// `new` kits in the order of `old`: the pairing with the smaller total ΔE, so that a team
/// keeps its id when its kit is refitted.
fn match_kits(old: [[f32; 3]; 2], new: [[f32; 3]; 2]) -> [[f32; 3]; 2] {
    let same = delta_e(old[0], new[0]) + delta_e(old[1], new[1]);
    let swapped = delta_e(old[0], new[1]) + delta_e(old[1], new[0]);
    if swapped < same { [new[1], new[0]] } else { new }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn model_classes_set_goalkeeper_and_referee_roles() {
        use crate::types::{Detection, FrameRecord, TrackedBox};
        let b = |x: f32| BBox::new(x, 100.0, 20.0, 50.0);
        // Tracks 1..=4 at x = 100, 200, 300, 400; their detections' classes per frame:
        // 1 mostly goalkeeper (1), 2 referee (3), 3 player (2), 4 half goalkeeper (no majority).
        let classes: [[u32; 4]; 4] = [[1, 1, 1, 2], [3, 3, 3, 3], [2, 2, 2, 2], [1, 1, 2, 2]];
        let frames: Vec<FrameRecord> = (0..4)
            .map(|f| FrameRecord {
                index: f as u64,
                players: Some(
                    (0..4)
                        .map(|t| Detection { bbox: b(100.0 * (t + 1) as f32), score: 0.9, class_id: classes[t][f] })
                        // A referee-class detection beside track 3 (IoU < 0.5): no vote.
                        .chain([Detection { bbox: b(312.0), score: 0.9, class_id: 3 }])
                        .collect(),
                ),
                tracks: Some(
                    (0..4u64)
                        .map(|t| TrackedBox { track_id: t + 1, bbox: b(100.0 * (t + 1) as f32), score: 0.9 })
                        .collect(),
                ),
                ..Default::default()
            })
            .collect();
        let data = MatchData { frames, ..Default::default() };
        let by_kit = TeamAssignment::from_tracks([
            TrackTeam::user(1, Some(0), Role::Player),
            TrackTeam::user(2, Some(0), Role::Player),
            TrackTeam::user(3, Some(1), Role::Player),
            TrackTeam::user(4, Some(1), Role::Player),
        ]);
        // No classes configured: nothing changes.
        assert_eq!(ClassRoles::default().apply(by_kit.clone(), &data), by_kit);
        let roles = ClassRoles { goalkeeper: vec![1], referee: vec![3] };
        let out = roles.apply(by_kit, &data);
        let got: Vec<(Option<u32>, Role)> = out.tracks.iter().map(|t| (t.team, t.role)).collect();
        assert_eq!(
            got,
            vec![(Some(0), Role::Goalkeeper), (None, Role::Referee), (Some(1), Role::Player), (Some(1), Role::Player)]
        );
        assert_eq!(out.teams.iter().map(|t| t.track_ids.clone()).collect::<Vec<_>>(), vec![vec![1], vec![3, 4]]);
    }
    use crate::types::{FrameItem, FrameRecord, TrackedBox, VideoInfo};

    const W: u32 = 640;
    const H: u32 = 360;
    const RED: [u8; 3] = [210, 25, 40];
    const YELLOW: [u8; 3] = [250, 215, 20];
    const PURPLE: [u8; 3] = [120, 60, 170];
    const GREY: [u8; 3] = [95, 100, 120];
    const BLACK: [u8; 3] = [20, 20, 22];
    const SKIN: [u8; 3] = [224, 172, 130];

    /// A pitch-like frame: mown grass stripes with a little noise.
    fn grass_frame(seed: u64) -> RgbFrame {
        let mut rng = SplitMix64(seed);
        let mut data = Vec::with_capacity((W * H * 3) as usize);
        for _y in 0..H {
            for x in 0..W {
                let base: [i32; 3] = if (x / 40) % 2 == 0 { [58, 132, 56] } else { [66, 148, 62] };
                for c in base {
                    data.push((c + (rng.uniform() * 10.0) as i32 - 5).clamp(0, 255) as u8);
                }
            }
        }
        RgbFrame { width: W, height: H, stride: (W * 3) as usize, data }
    }

    fn fill(img: &mut RgbFrame, x0: f32, y0: f32, x1: f32, y1: f32, c: [u8; 3], shade: f32) {
        for y in y0.max(0.0) as u32..(y1.min(H as f32) as u32) {
            for x in x0.max(0.0) as u32..(x1.min(W as f32) as u32) {
                let i = y as usize * img.stride + x as usize * 3;
                for (px, ck) in img.data[i..i + 3].iter_mut().zip(c) {
                    *px = (ck as f32 * shade).min(255.0) as u8;
                }
            }
        }
    }

    /// A figure in `bbox`: head (skin), shirt with bare arms at its sides, shorts, legs. The
    /// shirt's lower third is in shadow (darker), as a body shades itself.
    fn figure(img: &mut RgbFrame, b: &BBox, shirt: [u8; 3]) {
        let (x, y, w, h) = (b.x, b.y, b.w, b.h);
        fill(img, x + 0.35 * w, y, x + 0.65 * w, y + 0.14 * h, SKIN, 1.0);
        fill(img, x + 0.15 * w, y + 0.14 * h, x + 0.85 * w, y + 0.36 * h, shirt, 1.0);
        fill(img, x + 0.15 * w, y + 0.36 * h, x + 0.85 * w, y + 0.5 * h, shirt, 0.7);
        fill(img, x, y + 0.16 * h, x + 0.15 * w, y + 0.45 * h, SKIN, 1.0);
        fill(img, x + 0.85 * w, y + 0.16 * h, x + w, y + 0.45 * h, SKIN, 1.0);
        fill(img, x + 0.2 * w, y + 0.5 * h, x + 0.8 * w, y + 0.68 * h, [245, 245, 245], 1.0);
        fill(img, x + 0.25 * w, y + 0.68 * h, x + 0.45 * w, y + h, SKIN, 0.9);
        fill(img, x + 0.55 * w, y + 0.68 * h, x + 0.75 * w, y + h, SKIN, 0.9);
    }

    /// `(track id, kit, feet u, feet v, frames seen)` of the synthetic scene: red team (1–5)
    /// on the left half, yellow team (6–10) on the right, a purple goalkeeper (11) near the
    /// left goal, a grey goalkeeper (12) near the right one, a black referee (13) in the
    /// middle, and a red player (14) seen in only 3 frames.
    fn people() -> Vec<(u64, [u8; 3], f32, f32, usize)> {
        let mut v = Vec::new();
        for i in 0..5 {
            v.push((1 + i, RED, 80.0 + 45.0 * i as f32, 120.0 + 40.0 * i as f32, 10));
            v.push((6 + i, YELLOW, 380.0 + 45.0 * i as f32, 110.0 + 45.0 * i as f32, 10));
        }
        v.push((11, PURPLE, 20.0, 200.0, 10));
        v.push((12, GREY, 620.0, 190.0, 10));
        v.push((13, BLACK, 320.0, 330.0, 10));
        v.push((14, RED, 250.0, 250.0, 3));
        v
    }

    /// Pixel (u, v) → pitch metres: the whole 105 × 68 m pitch fills the frame.
    fn homography() -> [[f64; 3]; 3] {
        let (sx, sy) = (105.0 / W as f64, 68.0 / H as f64);
        [[sx, 0.0, -52.5], [0.0, sy, -34.0], [0.0, 0.0, 1.0]]
    }

    /// The scene's frames, through [`TeamFeatures`], as match data.
    fn scene(calibrated: bool) -> MatchData {
        let mut items = Vec::new();
        for f in 0..10u64 {
            let mut img = grass_frame(f);
            let mut tracks = Vec::new();
            // Far people first, so nearer ones are drawn over them.
            let mut ps = people();
            ps.sort_by(|a, b| a.3.total_cmp(&b.3));
            for (id, kit, u, v, seen) in ps {
                if f as usize >= seen {
                    continue;
                }
                let h = 40.0 + v / 10.0;
                let bbox = BBox::new(u - 0.2 * h + f as f32, v - h, 0.4 * h, h);
                figure(&mut img, &bbox, kit);
                tracks.push(TrackedBox { track_id: id, bbox, score: 0.9 });
            }
            let record = FrameRecord {
                index: f,
                tracks: Some(tracks),
                homography: calibrated.then(homography),
                ..Default::default()
            };
            items.push(FrameItem::new(record, Some(Arc::new(img))));
        }
        let mut batch = FrameBatch { items, ..Default::default() };
        let ctx = StageContext::standalone("team_features", VideoInfo::default());
        TeamFeatures::new().process(&mut batch, &ctx).unwrap();
        let frames = batch.items.into_iter().map(|i| i.record).collect();
        MatchData {
            video: VideoInfo { fps: 25.0, width: W, height: H, ..Default::default() },
            frames,
            ..Default::default()
        }
    }

    fn expected(id: u64) -> (Option<u32>, Role) {
        match id {
            1..=5 => (Some(0), Role::Player),
            6..=10 => (Some(1), Role::Player),
            11 => (Some(0), Role::Goalkeeper),
            12 => (Some(1), Role::Goalkeeper),
            13 => (None, Role::Referee),
            _ => (None, Role::Unknown),
        }
    }

    fn check(a: &TeamAssignment) {
        assert_eq!(a.tracks.len(), 14);
        for t in &a.tracks {
            assert_eq!((t.team, t.role), expected(t.track_id), "track {}: {t:?}", t.track_id);
            assert_eq!(t.source, TeamSource::KitColour);
            if t.role != Role::Unknown {
                assert_eq!(t.confidence, 1.0, "track {}", t.track_id);
            }
        }
        let teams: Vec<(u32, Vec<u64>)> = a.teams.iter().map(|t| (t.id, t.track_ids.clone())).collect();
        assert_eq!(teams, vec![(0, vec![1, 2, 3, 4, 5, 11]), (1, vec![6, 7, 8, 9, 10, 12])]);
        // The team colours are the lit shirts' (the median is over lit and shaded pixels, and
        // more of the torso is lit).
        let c0 = srgb_to_lab(a.teams[0].colour.unwrap());
        let c1 = srgb_to_lab(a.teams[1].colour.unwrap());
        assert!(delta_e(c0, srgb_to_lab(RED)) < 3.0, "{:?}", a.teams[0].colour);
        assert!(delta_e(c1, srgb_to_lab(YELLOW)) < 3.0, "{:?}", a.teams[1].colour);
    }

    #[test]
    fn two_teams_goalkeepers_by_pitch_side_and_a_referee() {
        let data = scene(true);
        let stage = TeamClassification::new(&Default::default()).unwrap();
        check(&stage.classify(&data));
    }

    #[test]
    fn without_a_homography_goalkeepers_are_placed_by_image_position() {
        let data = scene(false);
        let stage = TeamClassification::new(&Default::default()).unwrap();
        check(&stage.classify(&data));
    }

    #[test]
    fn kit_samples_ignore_grass_arms_and_nearer_people() {
        let mut img = grass_frame(1);
        let back = BBox::new(100.0, 100.0, 24.0, 60.0);
        figure(&mut img, &back, RED);
        let mut f = TeamFeatures::new();
        let grass = GrassModel::estimate(&img, 4).unwrap();
        let (lab, n) = f.sample(&img, Some(&grass), &back, &[]).unwrap();
        assert!(delta_e(lab, srgb_to_lab(RED)) < 1.0, "{lab:?}");
        assert!(n > 50 && n <= MAX_TORSO_PIXELS, "{n}");
        // A yellow player in front covers most of the torso: his pixels are masked, the
        // visible part of the red shirt is measured.
        let front = BBox::new(108.0, 106.0, 24.0, 60.0);
        figure(&mut img, &front, YELLOW);
        let (lab, n) = f.sample(&img, Some(&grass), &back, &[front]).unwrap();
        assert!(delta_e(lab, srgb_to_lab(RED)) < 1.0, "{lab:?} {n}");
        let (unmasked, _) = f.sample(&img, Some(&grass), &back, &[]).unwrap();
        assert!(delta_e(unmasked, srgb_to_lab(RED)) > 15.0, "{unmasked:?}");
        // A box on bare grass has nothing to measure; one outside the frame neither.
        assert_eq!(f.sample(&img, Some(&grass), &BBox::new(400.0, 200.0, 24.0, 60.0), &[]), None);
        assert_eq!(f.sample(&img, Some(&grass), &BBox::new(700.0, 10.0, 24.0, 60.0), &[]), None);
        // A box cut by the top of the image (head out of view) is not measured, nor one cut by
        // the bottom (only head and shoulders in view).
        let cut = BBox::new(300.0, 0.0, 24.0, 40.0);
        figure(&mut img, &BBox::new(300.0, -20.0, 24.0, 60.0), RED);
        assert_eq!(f.sample(&img, Some(&grass), &cut, &[]), None);
        figure(&mut img, &BBox::new(500.0, 330.0, 24.0, 60.0), RED);
        assert_eq!(f.sample(&img, Some(&grass), &BBox::new(500.0, 330.0, 24.0, 30.0), &[]), None);
    }

    #[test]
    fn one_kit_or_no_samples_give_no_teams() {
        let stage = TeamClassification::new(&Default::default()).unwrap();
        // Everybody in red: no second team to tell apart, so nobody gets a team.
        let mut data = scene(true);
        for rec in &mut data.frames {
            for s in rec.kit.iter_mut().flatten() {
                s.lab = srgb_to_lab(RED);
            }
        }
        let a = stage.classify(&data);
        assert!(a.teams.is_empty());
        assert!(a.tracks.iter().all(|t| t.team.is_none() && t.role == Role::Unknown), "{a:?}");
        // No samples at all.
        for rec in &mut data.frames {
            rec.kit = Some(Vec::new());
        }
        let a = stage.classify(&data);
        assert_eq!(a.tracks.len(), 14);
        assert!(a.tracks.iter().all(|t| t.role == Role::Unknown));
    }

    #[test]
    fn missing_inputs_and_bad_config_are_errors() {
        let ctx = StageContext::standalone("team_features", VideoInfo::default());
        let no_pixels = FrameItem::new(FrameRecord { tracks: Some(vec![]), ..Default::default() }, None);
        let mut batch = FrameBatch { items: vec![no_pixels], ..Default::default() };
        let e = TeamFeatures::new().process(&mut batch, &ctx).unwrap_err();
        assert!(e.to_string().contains("has no pixels"), "{e}");
        let no_tracks = FrameItem::new(FrameRecord::default(), Some(Arc::new(grass_frame(0))));
        let mut batch = FrameBatch { items: vec![no_tracks], ..Default::default() };
        let e = TeamFeatures::new().process(&mut batch, &ctx).unwrap_err();
        assert!(e.to_string().contains("player_tracks"), "{e}");

        let bad = [
            (r#"{"min_samples": 0}"#, "min_samples"),
            (r#"{"outlier_distance": -1}"#, "outlier_distance"),
            (r#"{"trim": 0.5}"#, "trim"),
            (r#"{"goalkeeper_min_abs_x_m": -3}"#, "goalkeeper_min_abs_x_m"),
        ];
        for (json, key) in bad {
            let cfg = format!(r#"{{"stage_configs": {{"team_classification": {json}}}}}"#);
            let e = crate::PipelineConfig::from_json_with_env(&cfg, |_| None).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Invalid { key: k, .. } if *k == format!("stage_configs.team_classification.{key}")),
                "{e}"
            );
            let tc: TeamClassificationConfig = serde_json::from_str(json).unwrap();
            assert!(TeamClassification::new(&tc).is_err());
        }
        let e = crate::PipelineConfig::from_json_with_env(
            r#"{"stage_configs": {"team_classification": {"outlier_dist": 3}}}"#,
            |_| None,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "unknown config key `stage_configs.team_classification.outlier_dist`");
    }

    #[test]
    fn player_appearance_measures_each_detection_like_team_features() {
        use crate::types::Detection;
        let mut img = grass_frame(2);
        let back = BBox::new(100.0, 100.0, 24.0, 60.0);
        let front = BBox::new(108.0, 106.0, 24.0, 60.0);
        let alone = BBox::new(300.0, 150.0, 24.0, 60.0);
        figure(&mut img, &back, RED);
        figure(&mut img, &front, YELLOW);
        figure(&mut img, &alone, PURPLE);
        // Cut by the top of the image: no colour.
        let cut = BBox::new(500.0, 0.0, 24.0, 40.0);
        figure(&mut img, &BBox::new(500.0, -20.0, 24.0, 60.0), RED);
        let img = Arc::new(img);
        let dets: Vec<Detection> =
            [back, front, alone, cut].iter().map(|&bbox| Detection { bbox, score: 0.9, class_id: 0 }).collect();
        let item = |index, players: Option<Vec<Detection>>, image: Option<Arc<RgbFrame>>| {
            FrameItem::new(FrameRecord { index, players, ..Default::default() }, image)
        };
        let mut batch = FrameBatch {
            items: vec![item(0, Some(dets.clone()), Some(img.clone())), item(1, None, Some(img.clone()))],
            ..Default::default()
        };
        let mut stage = PlayerAppearance::new(8);
        assert_eq!(
            (stage.name(), stage.requires(), stage.provides()),
            (
                "player_appearance",
                vec![Artifact::FRAMES, Artifact::PLAYER_DETECTIONS],
                vec![Artifact::PLAYER_APPEARANCE]
            )
        );
        let ctx = StageContext::standalone("player_appearance", VideoInfo::default());
        stage.process(&mut batch, &ctx).unwrap();
        let looks = batch.items[0].record.player_appearance.clone().unwrap();
        assert_eq!(looks.len(), 4);
        // The back player's torso is half hidden by the nearer yellow one: masked, still red.
        for (got, want) in looks.iter().zip([Some(RED), Some(YELLOW), Some(PURPLE), None]) {
            match (got, want) {
                (Some(lab), Some(rgb)) => assert!(delta_e(*lab, srgb_to_lab(rgb)) < 1.0, "{lab:?} vs {rgb:?}"),
                (None, None) => {}
                _ => panic!("{looks:?}"),
            }
        }
        // The same values as team features gives tracks with these boxes.
        let mut f = TeamFeatures::new();
        let same = f.frame_samples(&img, &[back, front, alone, cut]).unwrap();
        assert_eq!(same.iter().map(|s| s.map(|x| x.0)).collect::<Vec<_>>(), looks);
        // A frame the detector skipped has no appearance; a high `min_pixels` drops samples.
        assert_eq!(batch.items[1].record.player_appearance, None);
        let mut strict = PlayerAppearance::new(100_000);
        let mut batch = FrameBatch { items: vec![item(0, Some(dets), Some(img))], ..Default::default() };
        strict.process(&mut batch, &ctx).unwrap();
        assert_eq!(batch.items[0].record.player_appearance, Some(vec![None; 4]));
        // No pixels: an error naming the stage.
        let mut batch = FrameBatch { items: vec![item(0, Some(vec![]), None)], ..Default::default() };
        let e = stage.process(&mut batch, &ctx).unwrap_err();
        assert!(e.to_string().contains("player_appearance: frame 0 has no pixels"), "{e}");
    }

    /// A frame of hand-made kit samples: `(track id, CIELAB kit, feet u)` per person.
    fn kit_frame(index: u64, people: &[(u64, [f32; 3], f32)]) -> FrameRecord {
        let tracks = people
            .iter()
            .map(|&(track_id, _, u)| TrackedBox { track_id, bbox: BBox::new(u - 10.0, 100.0, 20.0, 50.0), score: 0.9 })
            .collect();
        let kit = people.iter().map(|&(track_id, lab, _)| KitSample { track_id, lab, pixels: 100 }).collect();
        FrameRecord { index, tracks: Some(tracks), kit: Some(kit), ..Default::default() }
    }

    fn live_config(min_tracks: u32, refit: u32, max_samples: u32, forget: u32) -> LiveTeamsConfig {
        LiveTeamsConfig {
            enabled: true,
            min_tracks,
            refit_interval_frames: refit,
            max_samples_per_track: max_samples,
            forget_after_frames: forget,
        }
    }

    /// Two teams whose kits change with the light over the match — red darker than blue at
    /// first, lighter at the end — and a referee: the warm-up ends as soon as enough tracks
    /// have `min_samples` samples, red is team 0 (darker at the first fit) in every frame
    /// after, through refits that would name the teams the other way round if they sorted the
    /// kits by lightness as the match stage does, and the referee has no team.
    #[test]
    fn live_teams_keep_their_labels_through_refits() {
        let mut live = LiveTeams::new(&Default::default(), &live_config(8, 5, 5, 50)).unwrap();
        let mut rng = SplitMix64(7);
        let frames = 200u64;
        for f in 0..frames {
            let t = f as f32 / frames as f32;
            let mut noise = || (rng.uniform() as f32 - 0.5) * 4.0;
            let mut people = Vec::new();
            for i in 0..5u64 {
                people.push((
                    1 + i,
                    [35.0 + 30.0 * t + noise(), 55.0 + noise(), 40.0 + noise()],
                    50.0 + 40.0 * i as f32,
                ));
                people.push((
                    6 + i,
                    [65.0 - 30.0 * t + noise(), -5.0 + noise(), -45.0 + noise()],
                    330.0 + 40.0 * i as f32,
                ));
            }
            people.push((11, [15.0 + noise(), noise(), noise()], 300.0));
            let changed = live.push(&kit_frame(f, &people));
            let a = live.assignment();
            if f < 4 {
                // Fewer than `min_samples` (5) samples per track: still warming up.
                assert!(!changed && a.tracks.is_empty() && live.warmed_up_at().is_none(), "frame {f}: {a:?}");
                continue;
            }
            assert_eq!(live.warmed_up_at(), Some(4));
            for id in 1..=11 {
                let want = match id {
                    1..=5 => (Some(0), Role::Player),
                    6..=10 => (Some(1), Role::Player),
                    _ => (None, Role::Referee),
                };
                let got = a.track(id).map(|t| (t.team, t.role));
                assert_eq!(got, Some(want), "frame {f}, track {id}");
            }
        }
        // The light has turned the order round: red (team 0) is now the lighter kit, which a
        // fresh fit sorted by lightness would call team 1.
        let colour = |team: usize| srgb_to_lab(live.assignment().teams[team].colour.unwrap());
        assert!(colour(0)[0] > colour(1)[0] + 10.0, "{:?} {:?}", colour(0), colour(1));
        assert!(colour(0)[1] > 30.0 && colour(1)[2] < -20.0, "red and blue: {:?} {:?}", colour(0), colour(1));
        // Label matching alone: the pairing with the smaller total distance.
        let (red, blue) = ([30.0, 60.0, 40.0], [25.0, 0.0, -50.0]);
        assert_eq!(match_kits([red, blue], [blue, red]), [red, blue]);
        assert_eq!(match_kits([red, blue], [red, blue]), [red, blue]);
    }

    /// The model's classes set roles live as at the end: a referee in a kit like team 0's,
    /// detected as the referee class, is a referee without a team from his first frame (the
    /// kits alone make him team 0), a goalkeeper-class track is a goalkeeper keeping the team
    /// of his kit, the others are as without classes; and the match stage on the same frames
    /// ends with the same teams and roles.
    #[test]
    fn live_teams_take_roles_from_the_models_classes() {
        use crate::types::Detection;
        let (red, blue) = ([40.0, 55.0, 40.0], [50.0, -5.0, -45.0]);
        // Tracks 1–4 red, 5–8 blue, 9 the referee (red-ish kit, class 3), 10 the goalkeeper
        // (blue kit, class 1); the others class 2 (player).
        let people: Vec<(u64, [f32; 3], f32)> = (1..=10u64)
            .map(|id| {
                let lab = match id {
                    1..=4 | 9 => red,
                    _ => blue,
                };
                (id, lab, 40.0 * id as f32)
            })
            .collect();
        let frames: Vec<FrameRecord> = (0..12u64)
            .map(|f| {
                let mut rec = kit_frame(f, &people);
                let class = |id: u64| match id {
                    9 => 3,
                    10 => 1,
                    _ => 2,
                };
                rec.players = Some(
                    rec.tracks
                        .iter()
                        .flatten()
                        .map(|t| Detection { bbox: t.bbox, score: 0.9, class_id: class(t.track_id) })
                        .collect(),
                );
                rec
            })
            .collect();
        let roles = ClassRoles { goalkeeper: vec![1], referee: vec![3] };
        let mut plain = LiveTeams::new(&Default::default(), &live_config(8, 5, 20, 50)).unwrap();
        let mut live =
            LiveTeams::new(&Default::default(), &live_config(8, 5, 20, 50)).unwrap().with_class_roles(roles.clone());
        for rec in &frames {
            plain.push(rec);
            let changed = live.push(rec);
            let f = rec.index;
            let (a, p) = (live.assignment(), plain.assignment());
            // Listed with their roles from the first frame, before the kits are fitted.
            assert_eq!(changed, f == 0 || f == 4, "frame {f}");
            let got = |a: &TeamAssignment, id| a.track(id).map(|t| (t.team, t.role));
            assert_eq!(got(a, 9), Some((None, Role::Referee)), "frame {f}");
            let keeper_team = if f < 4 { None } else { Some(1) };
            assert_eq!(got(a, 10), Some((keeper_team, Role::Goalkeeper)), "frame {f}");
            for id in 1..=8 {
                assert_eq!(got(a, id), got(p, id), "frame {f}, track {id}");
            }
            if f >= 4 {
                // The kits alone: the referee is in team 0, the keeper a player of team 1.
                assert_eq!((got(p, 9), got(p, 10)), (Some((Some(0), Role::Player)), Some((Some(1), Role::Player))));
                assert_eq!(
                    a.teams.iter().map(|t| t.track_ids.clone()).collect::<Vec<_>>(),
                    [vec![1, 2, 3, 4], vec![5, 6, 7, 8, 10]]
                );
            }
        }
        // The match stage on the same frames gives what the live session showed last.
        let data = MatchData { frames, ..Default::default() };
        let end = TeamClassification::new(&Default::default()).unwrap().with_class_roles(roles).classify(&data);
        let pairs = |a: &TeamAssignment| a.tracks.iter().map(|t| (t.track_id, t.team, t.role)).collect::<Vec<_>>();
        assert_eq!(pairs(&end), pairs(live.assignment()));
    }

    /// A track decidable between refits is voted against the current kits at once while the
    /// others keep their decisions; tracks gone for `forget_after_frames` are forgotten, and a
    /// track keeps at most `max_samples_per_track` samples.
    #[test]
    fn live_teams_decide_new_tracks_at_once_and_stay_bounded() {
        let (red, blue) = ([40.0, 55.0, 40.0], [50.0, -5.0, -45.0]);
        let team = |first: u64, lab: [f32; 3], u0: f32| (0..4u64).map(move |i| (first + i, lab, u0 + 40.0 * i as f32));
        let mut live = LiveTeams::new(&Default::default(), &live_config(8, 1000, 20, 30)).unwrap();
        let base: Vec<_> = team(1, red, 50.0).chain(team(5, blue, 330.0)).collect();
        for f in 0..10 {
            live.push(&kit_frame(f, &base));
        }
        assert_eq!(live.warmed_up_at(), Some(4));
        // A new blue player: not decided for 4 frames, team 1 from his 5th sample on, with no
        // refit due (every 1000 frames).
        let mut with_new = base.clone();
        with_new.push((20, blue, 600.0));
        for f in 10..15 {
            let changed = live.push(&kit_frame(f, &with_new));
            let got = live.assignment().track(20).map(|t| t.team);
            assert_eq!((changed, got), if f < 14 { (false, None) } else { (true, Some(Some(1))) }, "frame {f}");
        }
        // Everybody but the new player leaves; 30 frames later the others are forgotten, and
        // no track holds more than 20 samples.
        for f in 15..60 {
            live.push(&kit_frame(f, &with_new[8..]));
            assert!(live.held().1 <= 20 * live.held().0, "{:?}", live.held());
        }
        assert_eq!(live.held(), (1, 20));
        // A track whose samples split between the red kit and no kit at all (half its torso
        // hidden, say) is not decided: unknown rather than a guess.
        for f in 60..66 {
            let lab = if f % 2 == 0 { red } else { [12.0, 0.0, 0.0] };
            live.push(&kit_frame(f, &[with_new[8], (30, lab, 200.0)]));
        }
        let split = live.assignment().track(30).unwrap();
        assert_eq!((split.team, split.role), (None, Role::Unknown), "{split:?}");
        assert_eq!(live.assignment().team_of(20), Some(1));
        // Bad live settings are typed errors naming the key.
        for (cfg, key) in [
            (live_config(1, 5, 20, 30), "live.teams.min_tracks"),
            (live_config(8, 0, 20, 30), "live.teams.refit_interval_frames"),
            (live_config(8, 5, 4, 30), "live.teams.max_samples_per_track"),
            (live_config(8, 5, 20, 0), "live.teams.forget_after_frames"),
        ] {
            let e = LiveTeams::new(&Default::default(), &cfg).unwrap_err();
            assert!(matches!(&e, Error::Config(ConfigError::Invalid { key: k, .. }) if k == key), "{e}");
        }
    }
}
