//! The stage traits: what a source, a streaming stage and a match stage are.

use std::borrow::Cow;
use std::fmt;

use crate::pipeline::cancel::CancellationToken;
use crate::pipeline::events::EventHub;
use crate::types::{FrameBatch, FrameItem, MatchData, VideoInfo};
use crate::{PipelineEvent, Result};

/// The name of a typed artifact that a stage requires or provides.
///
/// Built-in artifacts are the constants below and live in typed fields of
/// [`crate::FrameRecord`]; user stages may name their own (stored in `extra`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Artifact(Cow<'static, str>);

impl Artifact {
    /// Decoded pixels ([`crate::FrameItem::image`]).
    pub const FRAMES: Artifact = Artifact(Cow::Borrowed("frames"));
    /// Player detections ([`crate::FrameRecord::players`]).
    pub const PLAYER_DETECTIONS: Artifact = Artifact(Cow::Borrowed("player_detections"));
    /// Ball candidates ([`crate::FrameRecord::ball_candidates`]).
    pub const BALL_CANDIDATES: Artifact = Artifact(Cow::Borrowed("ball_candidates"));
    /// Per-frame image → pitch homography ([`crate::FrameRecord::homography`]).
    pub const HOMOGRAPHY: Artifact = Artifact(Cow::Borrowed("homography"));
    /// Tracked players ([`crate::FrameRecord::tracks`]).
    pub const PLAYER_TRACKS: Artifact = Artifact(Cow::Borrowed("player_tracks"));
    /// The tracked ball ([`crate::FrameRecord::ball`]).
    pub const BALL: Artifact = Artifact(Cow::Borrowed("ball"));
    /// Teams of player detections given by the user ([`crate::FrameRecord::player_teams`]).
    pub const PLAYER_TEAMS: Artifact = Artifact(Cow::Borrowed("player_teams"));
    /// Kit colour of each player detection ([`crate::FrameRecord::player_appearance`]), for
    /// re-identification by the player tracker.
    pub const PLAYER_APPEARANCE: Artifact = Artifact(Cow::Borrowed("player_appearance"));
    /// Kit colour of each tracked person ([`crate::FrameRecord::kit`]), from team features.
    pub const KIT_COLOURS: Artifact = Artifact(Cow::Borrowed("kit_colours"));
    /// The team of each track ([`crate::MatchData::teams`]), from team classification.
    pub const TEAMS: Artifact = Artifact(Cow::Borrowed("teams"));

    /// An artifact of a user stage.
    pub fn custom(name: impl Into<String>) -> Self {
        Artifact(Cow::Owned(name.into()))
    }

    /// The artifact's name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What every stage says about itself. The builder uses it to order stages and to check that
/// every required artifact is provided by an earlier stage or the source.
pub trait Stage: Send {
    /// A unique, stable name (used in events, checkpoints and the report).
    fn name(&self) -> &str;
    /// Artifacts this stage reads.
    fn requires(&self) -> Vec<Artifact>;
    /// Artifacts this stage writes.
    fn provides(&self) -> Vec<Artifact>;
    /// Artifacts this stage reads when the pipeline has them: when a stage provides one,
    /// this stage runs after it; when none does, this stage runs without it (e.g. event
    /// detection uses teams when team classification runs, and reports no teams otherwise).
    fn after(&self) -> Vec<Artifact> {
        Vec::new()
    }
    /// What identifies this stage's behaviour besides its name (a version, a model's hash),
    /// for checkpoints: a pipeline whose id is derived (not given) mixes every stage's name
    /// and identity into it, so a run with another version of a stage never resumes the
    /// checkpoints of this one. Give one for a stage whose output can change under the same
    /// name. Built-in stages return `""`: their settings are in the config the id is
    /// derived from.
    fn identity(&self) -> String {
        String::new()
    }
}

/// A stage that sees every frame, in order, in batches, on its own thread.
///
/// A stage that keeps state across frames (a tracker) must save and restore it so that a
/// resumed run continues exactly where the checkpoint was taken. A stateless stage returns
/// an empty state and ignores it on restore.
pub trait StreamStage: Stage {
    /// Processes one batch in place. A transient error is retried on the same input by the
    /// stage's retry policy, so a stage should change its state only once it can no longer
    /// fail.
    fn process(&mut self, batch: &mut FrameBatch, ctx: &StageContext) -> Result<()>;

    /// Serialises the stage's state after the last processed batch.
    fn save_state(&self) -> Result<Vec<u8>>;

    /// Restores a state written by [`StreamStage::save_state`].
    fn load_state(&mut self, state: &[u8]) -> Result<()>;
}

/// A stage that runs once after the stream, on the records of the whole match.
pub trait MatchStage: Stage {
    /// Reads and extends the match data.
    fn run(&mut self, data: &mut MatchData, ctx: &StageContext) -> Result<()>;
}

/// Where frames come from: a decoder or a file of detections.
pub trait FrameSource: Send {
    /// A short name for events and the report (e.g. `"video_decoding"`).
    fn name(&self) -> &str;
    /// What the source knows about its input before reading it.
    fn info(&self) -> VideoInfo;
    /// Artifacts each frame carries when it leaves the source.
    fn provides(&self) -> Vec<Artifact>;
    /// Positions the source so that the next frame returned has index `frame` (used when
    /// resuming). Frames before it must not be returned.
    fn seek(&mut self, frame: u64) -> Result<()>;
    /// The next frame, or `None` at the end of the input.
    fn next_frame(&mut self) -> Result<Option<FrameItem>>;
    /// Frames the input should have had but that could not be read (corrupt packets).
    fn frames_lost(&self) -> u64 {
        0
    }
    /// Extra output files the source wrote (e.g. extracted audio), for the report.
    fn side_outputs(&self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
}

/// Checks that every frame of `batch` carries an input (`has`), before a stage changes any
/// state, so a missing artifact (a bug in how the pipeline was put together) fails cleanly:
/// "`stage`: frame N has no `what` (the `artifact` artifact is missing)".
pub fn require_in_batch(
    batch: &FrameBatch,
    stage: &str,
    what: &str,
    artifact: &Artifact,
    has: impl Fn(&crate::FrameRecord) -> bool,
) -> Result<()> {
    match batch.items.iter().find(|i| !has(&i.record)) {
        Some(item) => Err(crate::Error::permanent(format!(
            "{stage}: frame {} has no {what} (the `{artifact}` artifact is missing)",
            item.record.index
        ))),
        None => Ok(()),
    }
}

/// The pixels of every frame of `batch`, in order, or the error "`stage`: frame N has no
/// pixels (the `frames` artifact is missing)" when a frame has none, before a stage does any
/// work.
pub fn require_pixels(batch: &FrameBatch, stage: &str) -> Result<Vec<std::sync::Arc<crate::RgbFrame>>> {
    batch
        .items
        .iter()
        .map(|item| {
            item.image.clone().ok_or_else(|| {
                crate::Error::permanent(format!(
                    "{stage}: frame {} has no pixels (the `{}` artifact is missing)",
                    item.record.index,
                    Artifact::FRAMES
                ))
            })
        })
        .collect()
}

/// What a stage may use while it runs.
#[derive(Clone)]
pub struct StageContext {
    pub(crate) pipeline_id: String,
    pub(crate) stage: String,
    pub(crate) cancel: CancellationToken,
    pub(crate) events: EventHub,
    pub(crate) info: VideoInfo,
}

impl StageContext {
    /// The id of the running pipeline.
    pub fn pipeline_id(&self) -> &str {
        &self.pipeline_id
    }
    /// The name of the running stage.
    pub fn stage(&self) -> &str {
        &self.stage
    }
    /// What is known about the input.
    pub fn video(&self) -> &VideoInfo {
        &self.info
    }
    /// Whether the run was cancelled; long stages should check it and return
    /// [`crate::Error::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
    /// Sends an event to the pipeline's sinks (never blocks).
    pub fn emit(&self, event: PipelineEvent) {
        self.events.emit(event);
    }
    /// A context for a stage outside a pipeline run (tests, benches, embedding one stage).
    pub fn standalone(stage: &str, info: VideoInfo) -> Self {
        StageContext {
            pipeline_id: "standalone".into(),
            stage: stage.into(),
            cancel: CancellationToken::new(),
            events: EventHub::disabled(),
            info,
        }
    }
}
