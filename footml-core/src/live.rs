//! Live mode: frames pushed one at a time, each frame's result returned at once, the match
//! stages run when the feed ends.
//!
//! A [`LiveSession`] is a [`Pipeline`] like any other — the same stages, executor,
//! checkpoints and events as file mode — whose source is a channel fed by
//! [`LiveSession::push`]. The stream runs with batches of one frame and
//! [`LiveSession::push`] waits for that frame's record to leave the last streaming stage, so
//! the latency of a push is the time the stages take on one frame plus a few channel hops.
//! [`LiveSession::finish`] ends the feed: the match stages run on the whole match and the
//! [`MatchReport`] comes back, as [`Pipeline::run`] gives it.
//!
//! Pushes carry either pixels ([`LiveFrame::Packed`] RGB/BGR, [`LiveFrame::Yuv420p`]), which
//! are converted once into the engine's [`RgbFrame`] (swscale with the `video` feature), or
//! detections computed elsewhere ([`LiveFrame::Detections`]), which need no model. What a
//! session takes is fixed when it starts ([`LiveInput`]; `live.input` in the config).
//!
//! Each [`FrameResult`] has the frame's tracks, ball, possession and the tracks' teams. The
//! teams are provisional ([`crate::stages::teams::LiveTeams`], `live.teams`): kit colours of
//! the frames so far, clustered as the `team_classification` stage does, from a short warm-up
//! on, with stable team ids; possession takes its team from them. Teams the user knows
//! ([`LiveSession::estimate_possession`]) are used instead, and nothing is guessed without
//! kit colours (detections input). The detection model's goalkeeper and referee classes
//! (`player_detection.goalkeeper_class_ids`, `referee_class_ids`) set the tracks' roles live
//! by the rule the match stages apply at the end ([`LiveSession::set_class_roles`]): a
//! referee-class track never shows a team. [`LiveSession::finish`] gives the whole-match vote.
//!
//! ```
//! use footml::live::{LiveFrame, LiveSession};
//! use footml::{BBox, Detection, PipelineConfig};
//!
//! let config = PipelineConfig::from_json(r#"{"fps": 25, "frame_size": [1920, 1080]}"#)?;
//! let mut session = LiveSession::from_config(&config)?;
//! for i in 0..3 {
//!     let players = [Detection { bbox: BBox::new(100.0 + i as f32, 200.0, 30.0, 80.0), score: 0.9, class_id: 0 }];
//!     let result = session.push(LiveFrame::Detections {
//!         players: &players,
//!         ball_candidates: None,
//!         player_teams: None,
//!         timestamp_s: i as f64 / 25.0,
//!     })?;
//!     assert_eq!(result.index(), i);
//! }
//! let report = session.finish()?;
//! assert_eq!(report.tracks.len(), 1);
//! # Ok::<(), footml::Error>(())
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded, unbounded};

use crate::analysis::{Possession, Role, TeamAssignment, TeamSource, TrackTeam};
use crate::config::{
    ConfigError, EventDetectionConfig, LiveInputKind, LiveTeamsConfig, PipelineConfig, TeamClassificationConfig,
};
use crate::pipeline::SourceInput;
use crate::report::apply_homography;
use crate::stages::events::{EventDetection, LivePossession};
use crate::stages::teams::{ClassRoleVotes, ClassRoles, LiveTeams, UserTeamVotes};
use crate::types::{BallObservation, Detection, FrameItem, FrameRecord, RgbFrame, TrackedBox, VideoInfo};
use crate::{Artifact, CancellationToken, Error, FrameSource, MatchReport, Pipeline, PipelineBuilder, Result};

/// Errors of pushed frames and of the session's state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// The frame's size is not the session's `frame_size`.
    #[error("frame size: expected {}x{} (the session's frame_size), found {}x{}", expected[0], expected[1], found[0], found[1])]
    FrameSize {
        /// The session's `[width, height]`.
        expected: [u32; 2],
        /// The frame's.
        found: [u32; 2],
    },
    /// A row stride is shorter than a row of pixels.
    #[error("{plane} stride: expected at least {min} bytes per row, found {found}")]
    Stride {
        /// Which plane (`"rgb"`, `"bgr"`, `"y"`, `"u"`, `"v"`).
        plane: &'static str,
        /// Bytes in one row of pixels.
        min: usize,
        /// The stride given.
        found: usize,
    },
    /// A buffer is shorter than its stride and height need.
    #[error("{plane} buffer: expected at least {needed} bytes for its stride and height, found {found}")]
    BufferTooSmall {
        /// Which plane.
        plane: &'static str,
        /// `stride × (rows − 1) + row bytes` (saturated on overflow).
        needed: usize,
        /// The buffer's length.
        found: usize,
    },
    /// The push carries something this session does not take.
    #[error("this session takes {expected}, found {found}")]
    WrongInput {
        /// What the session takes.
        expected: &'static str,
        /// What was pushed.
        found: &'static str,
    },
    /// The timestamp is not finite, negative, or not after the previous frame's.
    #[error("timestamp: expected a finite number ≥ 0 after the previous frame's ({previous:?} s), found {found}")]
    Timestamp {
        /// The previous frame's timestamp, if any.
        previous: Option<f64>,
        /// The one given.
        found: f64,
    },
    /// A pushed detection has a non-finite value or a box without area.
    #[error("{what} {index}: {message}")]
    InvalidDetection {
        /// `"player detection"` or `"ball candidate"`.
        what: &'static str,
        /// Its position in the pushed list.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// A detections push whose teams are not one per player detection.
    #[error("player teams: expected one per player detection ({players}), found {teams}")]
    TeamCount {
        /// Player detections pushed.
        players: usize,
        /// Teams pushed.
        teams: usize,
    },
    /// The session has ended (finished, failed or cancelled) and takes no more calls.
    #[error("the live session is closed: {reason}")]
    Closed {
        /// Why it ended.
        reason: String,
    },
}

/// Byte order of a packed 8-bit, 3-channel frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackedFormat {
    /// R, G, B.
    Rgb24,
    /// B, G, R (OpenCV's order).
    Bgr24,
}

/// The colour matrix of YUV samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YuvMatrix {
    /// ITU-R BT.601 (standard definition).
    Bt601,
    /// ITU-R BT.709 (HD broadcast).
    #[default]
    Bt709,
}

/// How YUV samples map onto RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct YuvColor {
    /// The colour matrix.
    pub matrix: YuvMatrix,
    /// Full range (0–255, JPEG) rather than limited range (Y 16–235, chroma 16–240).
    pub full_range: bool,
}

/// One pushed frame. Pixel buffers are borrowed for the call only: they are converted
/// into an owned [`RgbFrame`] before [`LiveSession::push`] returns.
#[derive(Debug, Clone, Copy)]
pub enum LiveFrame<'a> {
    /// Packed RGB24 or BGR24, `stride` bytes per row (the last row may end right after its
    /// last pixel).
    Packed {
        /// Byte order.
        format: PackedFormat,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Bytes per row, at least `3 × width`.
        stride: usize,
        /// The pixels.
        data: &'a [u8],
        /// Presentation time in seconds: finite, ≥ 0 and increasing from frame to frame.
        timestamp_s: f64,
    },
    /// Planar YUV 4:2:0 (I420): a full-size Y plane and U, V planes of
    /// `⌈width/2⌉ × ⌈height/2⌉` samples.
    Yuv420p {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The Y, U and V planes.
        planes: [&'a [u8]; 3],
        /// Bytes per row of each plane.
        strides: [usize; 3],
        /// Colour matrix and range.
        color: YuvColor,
        /// Presentation time in seconds: finite, ≥ 0 and increasing from frame to frame.
        timestamp_s: f64,
    },
    /// Detections made elsewhere, without pixels.
    Detections {
        /// Player boxes in pixels of the session's `frame_size`.
        players: &'a [Detection],
        /// Ball candidates (only for sessions with `live.ball_candidates`; `None` = none
        /// found in this frame).
        ball_candidates: Option<&'a [Detection]>,
        /// The team the user knows for each player detection, parallel to `players`
        /// (`Some(0)`, `Some(1)`, or `None` for unknown), like a detections file's column 8;
        /// `None` when the feed gives no teams. Given teams are the frames' teams
        /// ([`FrameResult::teams`], each track by the majority of its detections' teams, as
        /// [`crate::stages::teams::UserTeams`] decides at the end) and possession's: never
        /// guessed, and a track none of whose detections has a team stays unknown.
        player_teams: Option<&'a [Option<u32>]>,
        /// Presentation time in seconds: finite, ≥ 0 and increasing from frame to frame.
        timestamp_s: f64,
    },
}

impl<'a> LiveFrame<'a> {
    /// An engine RGB frame (e.g. a decoder's, with its padded stride) as a packed RGB push.
    pub fn from_rgb(frame: &'a RgbFrame, timestamp_s: f64) -> Self {
        LiveFrame::Packed {
            format: PackedFormat::Rgb24,
            width: frame.width,
            height: frame.height,
            stride: frame.stride,
            data: &frame.data,
            timestamp_s,
        }
    }

    /// The frame's presentation time in seconds.
    pub fn timestamp_s(&self) -> f64 {
        match *self {
            LiveFrame::Packed { timestamp_s, .. }
            | LiveFrame::Yuv420p { timestamp_s, .. }
            | LiveFrame::Detections { timestamp_s, .. } => timestamp_s,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            LiveFrame::Packed { .. } | LiveFrame::Yuv420p { .. } => "pixels",
            LiveFrame::Detections { .. } => "detections",
        }
    }
}

/// What a session's pushes carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveInput {
    /// Pixels.
    Pixels,
    /// Detections, with ball candidates when `ball_candidates`.
    Detections {
        /// Pushes may carry ball candidates (the ball is tracked).
        ball_candidates: bool,
        /// The report's teams are the ones pushed with the detections (the `user_teams`
        /// stage runs at the end, as for a detections file with a team column).
        user_teams: bool,
    },
}

/// What a live source is: its frame rate, frame size and input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveSpec {
    /// Nominal frames per second (for the report and stages that think in frames).
    pub fps: f64,
    /// `[width, height]` of every pushed frame (and of the pixel space of detections).
    pub frame_size: [u32; 2],
    /// What pushes carry.
    pub input: LiveInput,
}

/// One frame's results, returned by [`LiveSession::push`].
#[derive(Debug, Clone, PartialEq)]
pub struct FrameResult {
    /// Everything the streaming stages produced for the frame.
    pub record: FrameRecord,
    /// Who has the ball, as far as the frames so far tell ([`LivePossession`]); `None` when
    /// the session does not estimate possession (its pipeline has no event detection: no
    /// calibration or no ball). Its team is the provisional one of [`FrameResult::teams`].
    pub possession: Option<Possession>,
    /// The team of each confirmed track, parallel to [`FrameResult::tracks`], as far as the
    /// frames so far tell: the user's teams when given ([`LiveSession::estimate_possession`]),
    /// else the provisional classification of [`LiveTeams`] (`unknown` during its warm-up
    /// and for tracks with too few kit samples); [`LiveSession::finish`] gives the
    /// whole-match vote. `None` when the session knows no teams (no kit colours: detections
    /// input, or `live.teams.enabled` off).
    pub teams: Option<Vec<TrackTeam>>,
}

impl FrameResult {
    /// The frame's index in the session, from 0.
    pub fn index(&self) -> u64 {
        self.record.index
    }

    /// The frame's timestamp as pushed.
    pub fn time_s(&self) -> f64 {
        self.record.time_s
    }

    /// The confirmed player tracks in this frame (empty when the pipeline does not track).
    pub fn tracks(&self) -> &[TrackedBox] {
        self.record.tracks.as_deref().unwrap_or(&[])
    }

    /// The ball, when the pipeline tracks it (its [`crate::BallState`] says whether it was
    /// seen, predicted through an occlusion, or lost).
    pub fn ball(&self) -> Option<&BallObservation> {
        self.record.ball.as_ref()
    }

    /// Who has the ball in this frame (see [`FrameResult::possession`]).
    pub fn possession(&self) -> Option<Possession> {
        self.possession
    }

    /// The team of each confirmed track, parallel to [`FrameResult::tracks`] (empty when the
    /// session knows no teams; see [`FrameResult::teams`]).
    pub fn track_teams(&self) -> &[TrackTeam] {
        self.teams.as_deref().unwrap_or(&[])
    }

    /// The team (0 or 1) of a confirmed track of this frame; `None` for referees, undecided
    /// tracks, tracks not in this frame, and sessions without teams.
    pub fn team_of(&self, track_id: u64) -> Option<u32> {
        self.track_teams().iter().find(|t| t.track_id == track_id).and_then(|t| t.team)
    }

    /// Where a box's feet are on the pitch, in metres, when the frame is calibrated.
    pub fn pitch_position(&self, bbox: &crate::BBox) -> Option<[f64; 2]> {
        let (u, v) = bbox.foot();
        self.record.homography.as_ref().and_then(|h| apply_homography(h, u as f64, v as f64))
    }
}

/// How often a waiting source looks at the cancellation token.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// The pipeline's source in live mode: frames come from [`LiveSession::push`] through a
/// channel.
struct LiveSource {
    info: VideoInfo,
    provides: Vec<Artifact>,
    feed: Receiver<FrameItem>,
    cancel: CancellationToken,
    /// Index of the next frame (after a resume: the first frame not in the checkpoints).
    next: Arc<AtomicU64>,
    /// Tells the session, once, that the engine has decided where the stream starts.
    ready: Option<Sender<()>>,
}

impl FrameSource for LiveSource {
    fn name(&self) -> &str {
        "live_input"
    }

    fn info(&self) -> VideoInfo {
        self.info.clone()
    }

    fn provides(&self) -> Vec<Artifact> {
        self.provides.clone()
    }

    fn seek(&mut self, frame: u64) -> Result<()> {
        // Resuming: the frames before `frame` are in the checkpoints, so the next pushed frame
        // continues from there.
        self.next.store(frame, Ordering::SeqCst);
        Ok(())
    }

    fn next_frame(&mut self) -> Result<Option<FrameItem>> {
        // The executor seeks (when resuming) before it asks for the first frame.
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(());
        }
        loop {
            match self.feed.recv_timeout(CANCEL_POLL) {
                Ok(item) => {
                    self.next.store(item.record.index + 1, Ordering::SeqCst);
                    return Ok(Some(item));
                }
                Err(RecvTimeoutError::Timeout) if self.cancel.is_cancelled() => return Err(Error::Cancelled),
                Err(RecvTimeoutError::Timeout) => {}
                // The session finished the feed.
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }
}

/// A pipeline fed one frame at a time. See the [module docs](self).
///
/// Dropping a session without [`LiveSession::finish`] cancels it; its checkpoints (when a
/// store is configured) stay, so a new session with the same `pipeline_id` resumes after
/// the last complete chunk ([`LiveSession::next_index`] says where).
pub struct LiveSession {
    spec: LiveSpec,
    pipeline_id: String,
    cancel: CancellationToken,
    feed: Option<Sender<FrameItem>>,
    results: Receiver<FrameRecord>,
    ready: Receiver<()>,
    next: Arc<AtomicU64>,
    started: bool,
    engine: Option<JoinHandle<Result<MatchReport>>>,
    /// The report, when the engine finished on its own (a resumed session whose stream was
    /// already complete).
    report: Option<MatchReport>,
    /// Why the session no longer takes calls.
    closed: Option<String>,
    last_timestamp: Option<f64>,
    /// Possession of each pushed frame, when estimated.
    possession: Option<LivePossession>,
    /// Teams the user gave ([`LiveSession::estimate_possession`]): used as they are.
    user_teams: Option<TeamAssignment>,
    /// Teams the user gave per detection ([`LiveFrame::Detections`] `player_teams`): the
    /// votes so far and the assignment they give. Used when no `user_teams` were given.
    detection_teams: Option<(UserTeamVotes, TeamAssignment)>,
    /// Provisional teams from kit colours, when classified and no user teams were given.
    live_teams: Option<LiveTeams>,
    /// The model's goalkeeper and referee classes ([`LiveSession::set_class_roles`]).
    class_roles: ClassRoles,
    /// The class votes of a detections session's tracks (pixel sessions keep theirs in
    /// `live_teams`), applied to the teams given with the detections.
    class_votes: ClassRoleVotes,
    #[cfg(feature = "video")]
    scaler: crate::stages::video_decoding::Scaler,
}

impl std::fmt::Debug for LiveSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSession")
            .field("pipeline_id", &self.pipeline_id)
            .field("spec", &self.spec)
            .field("closed", &self.closed)
            .finish()
    }
}

impl LiveSession {
    /// The standard pipeline for `config` with a live source: the stages file mode would run
    /// for the same input, the config's checkpoint store and settings. Needs `fps` and
    /// `frame_size`; `video_path` and `detections_path` must be absent. Without a
    /// `pipeline_id` the session gets a fresh id (two live feeds with the same config are
    /// different matches); give one to resume from checkpoints after a crash.
    pub fn builder_from_config(config: &PipelineConfig) -> Result<(PipelineBuilder, LiveSpec)> {
        config.validate()?;
        if config.video_path.is_some() || config.detections_path.is_some() {
            return Err(ConfigError::invalid(
                "",
                "video_path/detections_path",
                "neither, for a live session (frames come from push)",
                config.video_path.as_ref().or(config.detections_path.as_ref()),
            )
            .into());
        }
        let (Some(fps), Some(frame_size)) = (config.fps, config.frame_size) else {
            return Err(ConfigError::invalid(
                "",
                "fps/frame_size",
                "both set for a live session",
                (config.fps, config.frame_size),
            )
            .into());
        };
        let has_model = config.stage_configs.player_detection.model_path.is_some();
        let input = match config.live.input {
            LiveInputKind::Pixels => LiveInput::Pixels,
            LiveInputKind::Auto if has_model => LiveInput::Pixels,
            LiveInputKind::Auto | LiveInputKind::Detections => LiveInput::Detections {
                ball_candidates: config.live.ball_candidates,
                user_teams: config.live.user_teams,
            },
        };
        // Pixels give the ball candidates and the teams themselves.
        let pixels_only = [
            (
                "ball_candidates",
                config.live.ball_candidates,
                "false with pixels input (ball candidates then come from the pixels)",
            ),
            ("user_teams", config.live.user_teams, "false with pixels input (teams then come from the kits)"),
        ];
        if input == LiveInput::Pixels
            && let Some((key, _, expected)) = pixels_only.iter().find(|(_, set, _)| *set)
        {
            return Err(ConfigError::invalid("live", key, expected, true).into());
        }
        let source_input = match input {
            LiveInput::Pixels => SourceInput::Pixels,
            LiveInput::Detections { ball_candidates, user_teams } => {
                SourceInput::Detections { ball_candidates, user_teams }
            }
        };
        let identity = if config.pipeline_id.is_some() { String::new() } else { unique_identity() };
        let builder = Pipeline::standard_stages(Pipeline::builder(), config, source_input, identity, true)?;
        Ok((builder, LiveSpec { fps, frame_size, input }))
    }

    /// Starts the standard live pipeline of `config` (see [`LiveSession::builder_from_config`]).
    pub fn from_config(config: &PipelineConfig) -> Result<LiveSession> {
        Self::from_config_with(config, Ok)
    }

    /// Like [`LiveSession::from_config`], letting `customize` add event sinks or stages to the
    /// builder first.
    pub fn from_config_with(
        config: &PipelineConfig,
        customize: impl FnOnce(PipelineBuilder) -> Result<PipelineBuilder>,
    ) -> Result<LiveSession> {
        let (builder, spec) = Self::builder_from_config(config)?;
        let builder = customize(builder)?;
        // Possession per frame wherever the match stages will detect events.
        let with_events = builder.has_stage(EventDetection::NAME);
        // Provisional teams wherever kit colours are measured.
        let with_kits = builder.has_stage("team_features") && config.live.teams.enabled;
        let mut session = Self::start(builder, spec)?;
        session.set_class_roles(ClassRoles::from_config(&config.stage_configs.player_detection))?;
        if with_events {
            session.estimate_possession(&config.stage_configs.event_detection, None)?;
        }
        if with_kits {
            session.classify_teams(&config.stage_configs.team_classification, &config.live.teams)?;
        }
        Ok(session)
    }

    /// Starts a session on any pipeline builder: its source is replaced by the live source
    /// `spec` describes and it runs with batches of one frame. The builder's cancellation
    /// token cancels the session.
    pub fn start(builder: PipelineBuilder, spec: LiveSpec) -> Result<LiveSession> {
        if !(spec.fps.is_finite() && spec.fps > 0.0) {
            // The rate as written (Display), not as Rust spells a float.
            return Err(ConfigError::invalid("", "fps", "a positive number", format_args!("{}", spec.fps)).into());
        }
        if spec.frame_size[0] == 0 || spec.frame_size[1] == 0 {
            return Err(ConfigError::invalid("", "frame_size", "positive width and height", spec.frame_size).into());
        }
        let provides = match spec.input {
            LiveInput::Pixels => vec![Artifact::FRAMES],
            LiveInput::Detections { ball_candidates, user_teams } => {
                let mut provides = vec![Artifact::PLAYER_DETECTIONS];
                if ball_candidates {
                    provides.push(Artifact::BALL_CANDIDATES);
                }
                if user_teams {
                    provides.push(Artifact::PLAYER_TEAMS);
                }
                provides
            }
        };
        // One frame in flight: push waits for each result, so nothing queues up.
        let (feed_tx, feed_rx) = bounded(1);
        let (tap_tx, tap_rx) = unbounded();
        let (ready_tx, ready_rx) = bounded(1);
        let cancel = builder.cancel_token();
        let next = Arc::new(AtomicU64::new(0));
        let source = LiveSource {
            info: VideoInfo {
                path: "live".into(),
                fps: spec.fps,
                width: spec.frame_size[0],
                height: spec.frame_size[1],
                duration_s: None,
                frame_count: None,
                codec: "live".into(),
            },
            provides,
            feed: feed_rx,
            cancel: cancel.clone(),
            next: next.clone(),
            ready: Some(ready_tx),
        };
        let pipeline = builder.source(source).batch_size(1).record_tap(tap_tx).build()?;
        let pipeline_id = pipeline.id().to_string();
        let engine = std::thread::Builder::new()
            .name("footml-live".into())
            .spawn(move || pipeline.run())
            .map_err(|e| Error::permanent(format!("cannot start the live engine thread: {e}")))?;
        Ok(LiveSession {
            spec,
            pipeline_id,
            cancel,
            feed: Some(feed_tx),
            results: tap_rx,
            ready: ready_rx,
            next,
            started: false,
            engine: Some(engine),
            report: None,
            closed: None,
            last_timestamp: None,
            possession: None,
            user_teams: None,
            detection_teams: None,
            live_teams: None,
            class_roles: ClassRoles::default(),
            class_votes: ClassRoleVotes::default(),
            #[cfg(feature = "video")]
            scaler: crate::stages::video_decoding::Scaler::new(),
        })
    }

    /// Estimates possession in each pushed frame from now on ([`FrameResult::possession`])
    /// with these event detection settings. `teams`, when the user knows them, are the
    /// frames' teams ([`FrameResult::teams`]) and give possession a team; nothing is guessed
    /// then (the provisional classification stops). With `None`, the provisional teams of
    /// [`LiveSession::classify_teams`] give possession its team, when classified. Sessions
    /// from [`LiveSession::from_config`] do this already when their pipeline detects events.
    /// After a resume it sees the pushed frames only, not those in the checkpoints.
    pub fn estimate_possession(&mut self, cfg: &EventDetectionConfig, teams: Option<TeamAssignment>) -> Result<()> {
        self.ensure_open()?;
        let mut possession = LivePossession::new(cfg, self.spec.fps, teams.clone())?;
        match teams {
            Some(teams) => {
                self.user_teams = Some(teams);
                self.live_teams = None;
            }
            None => possession.set_teams(self.live_teams.as_ref().map(|t| t.assignment().clone())),
        }
        self.possession = Some(possession);
        Ok(())
    }

    /// Classifies teams provisionally from now on ([`LiveTeams`]: the kit colours of the
    /// frames pushed so far, clustered as `team_classification` does at the end), for
    /// [`FrameResult::teams`] and possession's team; replaces teams given to
    /// [`LiveSession::estimate_possession`]. Needs a pipeline that measures kit colours (the
    /// `team_features` stage); without, every track stays `unknown`. Sessions from
    /// [`LiveSession::from_config`] do this already when their pipeline has that stage and
    /// `live.teams.enabled` is on. After a resume it sees the pushed frames only.
    pub fn classify_teams(&mut self, tc: &TeamClassificationConfig, cfg: &LiveTeamsConfig) -> Result<()> {
        self.ensure_open()?;
        let live = LiveTeams::new(tc, cfg)?.with_class_roles(self.class_roles.clone());
        if let Some(p) = &mut self.possession {
            p.set_teams(Some(live.assignment().clone()));
        }
        self.user_teams = None;
        self.live_teams = Some(live);
        Ok(())
    }

    /// Gives tracks the roles of their detections' classes from now on ([`ClassRoles`]: a
    /// track whose detections are mostly of a referee class is a referee, without a team, one
    /// mostly of a goalkeeper class a goalkeeper), by the rule of the match stages at the end,
    /// for [`FrameResult::teams`] and possession: in the provisional teams of
    /// [`LiveSession::classify_teams`] (call this first) and in the teams pushed with
    /// detections ([`LiveFrame::Detections`] `player_teams`). Teams given to
    /// [`LiveSession::estimate_possession`] are used as they are. Sessions from
    /// [`LiveSession::from_config`] do this already with `player_detection.
    /// goalkeeper_class_ids` and `referee_class_ids`. A detections session without teams
    /// shows none (`FrameResult::teams` is `None`), roles included.
    pub fn set_class_roles(&mut self, roles: ClassRoles) -> Result<()> {
        self.ensure_open()?;
        self.class_roles = roles;
        Ok(())
    }

    /// The run's id (checkpoints are keyed by it).
    pub fn pipeline_id(&self) -> &str {
        &self.pipeline_id
    }

    /// What the session was started with.
    pub fn spec(&self) -> &LiveSpec {
        &self.spec
    }

    /// A token that cancels the session from another thread: a waiting push returns
    /// [`Error::Cancelled`].
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The index the next pushed frame gets: 0, or after a resume the first frame the
    /// checkpoints do not cover (push the feed from that frame on). Waits until the engine
    /// has read its checkpoints.
    pub fn next_index(&mut self) -> Result<u64> {
        self.ensure_open()?;
        if !self.started {
            if self.ready.recv().is_err() {
                return Err(self.engine_ended());
            }
            self.started = true;
        }
        Ok(self.next.load(Ordering::SeqCst))
    }

    /// Pushes one frame and returns its results once every streaming stage has processed it.
    /// A bad frame is an error that leaves the session as it was; a failing stage ends the
    /// session with that stage's error.
    pub fn push(&mut self, frame: LiveFrame<'_>) -> Result<FrameResult> {
        self.ensure_open()?;
        let timestamp_s = frame.timestamp_s();
        if !(timestamp_s.is_finite() && timestamp_s >= 0.0) || self.last_timestamp.is_some_and(|p| timestamp_s <= p) {
            return Err(LiveError::Timestamp { previous: self.last_timestamp, found: timestamp_s }.into());
        }
        let (detections, image) = self.convert(&frame)?;
        let index = self.next_index()?;
        let mut record = FrameRecord { index, time_s: timestamp_s, ..Default::default() };
        if let Some(d) = detections {
            (record.players, record.player_teams, record.ball_candidates) = (Some(d.players), d.teams, d.balls);
        }
        let feed = self.feed.as_ref().expect("open sessions have a feed");
        if feed.send(FrameItem::new(record, image)).is_err() {
            return Err(self.engine_ended());
        }
        let Ok(record) = self.results.recv() else {
            return Err(self.engine_ended());
        };
        if record.index != index {
            // One frame is in flight at a time, so this is a bug, not a user error.
            let e = Error::permanent(format!("live: expected the result of frame {index}, got frame {}", record.index));
            self.close(e.to_string());
            return Err(e);
        }
        self.last_timestamp = Some(timestamp_s);
        if matches!(self.spec.input, LiveInput::Detections { .. }) {
            // Every frame's classes vote, with or without teams, as at the end.
            self.class_votes.add(&self.class_roles, &record);
        }
        if record.player_teams.is_some() {
            // The user's per-detection teams: votes by the rule of the `user_teams` stage.
            self.detection_teams.get_or_insert_with(Default::default).0.add(&record);
        }
        if let Some(votes) = &mut self.detection_teams
            && (record.player_teams.is_some() || !self.class_roles.is_empty())
        {
            // Roles from the classes over the user's teams, as the stage applies them.
            votes.1 = self.class_votes.apply(votes.0.assignment());
            if self.user_teams.is_none()
                && let Some(p) = &mut self.possession
            {
                p.set_teams(Some(votes.1.clone()));
            }
        }
        let from_user = self.user_teams.is_some() || self.detection_teams.is_some();
        let teams = match (&self.user_teams, &self.detection_teams, &mut self.live_teams) {
            (Some(user), _, _) => Some(user),
            (None, Some((_, given)), _) => Some(given),
            (None, None, Some(live)) => {
                if live.push(&record)
                    && let Some(p) = &mut self.possession
                {
                    p.set_teams(Some(live.assignment().clone()));
                }
                Some(live.assignment())
            }
            (None, None, None) => None,
        };
        let teams = teams.map(|a| {
            let source = if from_user { TeamSource::User } else { TeamSource::KitColour };
            let tracks = record.tracks.as_deref().unwrap_or_default();
            tracks
                .iter()
                .map(|t| {
                    a.track(t.track_id).cloned().unwrap_or(TrackTeam {
                        track_id: t.track_id,
                        team: None,
                        role: Role::Unknown,
                        confidence: 0.0,
                        source,
                    })
                })
                .collect()
        });
        let possession = self.possession.as_mut().map(|p| p.push(&record));
        Ok(FrameResult { record, possession, teams })
    }

    /// Ends the feed: the stream closes, the match stages run on the whole match and the
    /// report comes back (and is written to `output_dir` when configured).
    pub fn finish(mut self) -> Result<MatchReport> {
        if let Some(report) = self.report.take() {
            return Ok(report);
        }
        self.ensure_open()?;
        self.feed = None;
        let engine = self.engine.take().expect("open sessions have an engine");
        let outcome = join(engine);
        self.close("the session has finished".into());
        outcome
    }

    /// Cancels the session: the engine stops and later calls return [`LiveError::Closed`].
    pub fn cancel(&mut self) {
        self.cancel.cancel();
        if let Some(engine) = self.engine.take() {
            self.feed = None;
            let _ = join(engine);
        }
        self.close("the session was cancelled".into());
    }

    fn ensure_open(&self) -> Result<()> {
        match &self.closed {
            Some(reason) => Err(LiveError::Closed { reason: reason.clone() }.into()),
            None => Ok(()),
        }
    }

    fn close(&mut self, reason: String) {
        self.feed = None;
        if self.closed.is_none() {
            self.closed = Some(reason);
        }
    }

    /// The engine stopped while the session expected it to run: its error (or, when it
    /// finished on its own, a closed session with the report kept for `finish`).
    fn engine_ended(&mut self) -> Error {
        self.feed = None;
        let outcome = match self.engine.take() {
            Some(engine) => join(engine),
            None => return LiveError::Closed { reason: self.closed.clone().unwrap_or_default() }.into(),
        };
        match outcome {
            Ok(report) => {
                self.report = Some(report);
                let reason = "the stream of this pipeline_id was already complete in the checkpoints; \
                              finish() returns its report";
                self.close(reason.into());
                LiveError::Closed { reason: reason.into() }.into()
            }
            Err(e) => {
                self.close(e.to_string());
                e
            }
        }
    }

    /// Checks a pushed frame against the session and converts it into what the source sends:
    /// detections (with their teams) or pixels.
    fn convert(&mut self, frame: &LiveFrame<'_>) -> Result<(Option<Detections>, Option<Arc<RgbFrame>>)> {
        let expected = self.spec.frame_size;
        let check_size = |width: u32, height: u32| {
            if [width, height] != expected {
                return Err(LiveError::FrameSize { expected, found: [width, height] });
            }
            Ok(())
        };
        match (self.spec.input, frame) {
            (LiveInput::Pixels, &LiveFrame::Packed { format, width, height, stride, data, .. }) => {
                check_size(width, height)?;
                let plane = match format {
                    PackedFormat::Rgb24 => "rgb",
                    PackedFormat::Bgr24 => "bgr",
                };
                check_plane(plane, data, stride, 3 * width as usize, height as usize)?;
                Ok((None, Some(Arc::new(packed_to_rgb(format, width, height, stride, data)))))
            }
            (LiveInput::Pixels, &LiveFrame::Yuv420p { width, height, planes, strides, color, .. }) => {
                check_size(width, height)?;
                let (cw, ch) = (width.div_ceil(2) as usize, height.div_ceil(2) as usize);
                check_plane("y", planes[0], strides[0], width as usize, height as usize)?;
                check_plane("u", planes[1], strides[1], cw, ch)?;
                check_plane("v", planes[2], strides[2], cw, ch)?;
                #[cfg(feature = "video")]
                let rgb = yuv420p_swscale(&mut self.scaler, width, height, planes, strides, color)?;
                #[cfg(not(feature = "video"))]
                let rgb = yuv420p_to_rgb(width, height, planes, strides, color);
                Ok((None, Some(Arc::new(rgb))))
            }
            (
                LiveInput::Detections { ball_candidates: ball, .. },
                &LiveFrame::Detections { players, ball_candidates, player_teams, .. },
            ) => {
                check_detections("player detection", players)?;
                if let Some(teams) = player_teams {
                    check_teams(players.len(), teams)?;
                }
                let balls = match (ball, ball_candidates) {
                    (true, b) => Some(b.unwrap_or(&[])),
                    (false, None) => None,
                    (false, Some(_)) => {
                        return Err(LiveError::WrongInput {
                            expected: "detections without ball candidates (set live.ball_candidates to track the ball)",
                            found: "ball candidates",
                        }
                        .into());
                    }
                };
                if let Some(b) = balls {
                    check_detections("ball candidate", b)?;
                }
                let detections = Detections {
                    players: players.to_vec(),
                    teams: player_teams.map(<[Option<u32>]>::to_vec),
                    balls: balls.map(<[Detection]>::to_vec),
                };
                Ok((Some(detections), None))
            }
            (LiveInput::Pixels, f) => Err(LiveError::WrongInput { expected: "pixels", found: f.kind() }.into()),
            (LiveInput::Detections { .. }, f) => {
                Err(LiveError::WrongInput { expected: "detections", found: f.kind() }.into())
            }
        }
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            // Dropped without finish: stop rather than run the match stages for nobody.
            self.cancel.cancel();
            self.feed = None;
            let _ = join(engine);
        }
    }
}

fn join(engine: JoinHandle<Result<MatchReport>>) -> Result<MatchReport> {
    engine.join().unwrap_or_else(|p| {
        let message = crate::error::panic_message(p.as_ref()).unwrap_or("non-string panic payload").to_string();
        Err(Error::Panicked { stage: "live".into(), message })
    })
}

/// An input identity no other session shares, so that a live session without a
/// `pipeline_id` never resumes another feed's checkpoints.
fn unique_identity() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("live:{}:{nanos}:{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Checks that `data` holds `rows` rows of `row_bytes` bytes, `stride` apart.
fn check_plane(
    plane: &'static str,
    data: &[u8],
    stride: usize,
    row_bytes: usize,
    rows: usize,
) -> Result<(), LiveError> {
    if stride < row_bytes {
        return Err(LiveError::Stride { plane, min: row_bytes, found: stride });
    }
    let needed =
        stride.checked_mul(rows.saturating_sub(1)).and_then(|n| n.checked_add(row_bytes)).unwrap_or(usize::MAX);
    if data.len() < needed {
        return Err(LiveError::BufferTooSmall { plane, needed, found: data.len() });
    }
    Ok(())
}

/// A detections push, checked: what the source puts into the frame's record.
struct Detections {
    players: Vec<Detection>,
    teams: Option<Vec<Option<u32>>>,
    balls: Option<Vec<Detection>>,
}

/// Pushed teams: one per player detection, each 0, 1 or unknown.
fn check_teams(players: usize, teams: &[Option<u32>]) -> Result<(), LiveError> {
    if teams.len() != players {
        return Err(LiveError::TeamCount { players, teams: teams.len() });
    }
    match teams.iter().position(|t| t.is_some_and(|t| t > 1)) {
        Some(index) => Err(LiveError::InvalidDetection {
            what: "player detection",
            index,
            message: format!("team: expected 0, 1 or unknown, found {}", teams[index].unwrap_or_default()),
        }),
        None => Ok(()),
    }
}

fn check_detections(what: &'static str, dets: &[Detection]) -> Result<(), LiveError> {
    for (index, d) in dets.iter().enumerate() {
        let b = d.bbox;
        let message = if ![b.x, b.y, b.w, b.h, d.score].iter().all(|v| v.is_finite()) {
            "expected finite box coordinates and score"
        } else if b.w <= 0.0 || b.h <= 0.0 {
            "expected a positive box width and height"
        } else {
            continue;
        };
        return Err(LiveError::InvalidDetection { what, index, message: format!("{message}, found {d:?}") });
    }
    Ok(())
}

/// Packed RGB/BGR rows into a tightly packed RGB frame.
fn packed_to_rgb(format: PackedFormat, width: u32, height: u32, stride: usize, data: &[u8]) -> RgbFrame {
    let row = 3 * width as usize;
    let mut out = Vec::with_capacity(row * height as usize);
    for y in 0..height as usize {
        let src = &data[y * stride..y * stride + row];
        match format {
            PackedFormat::Rgb24 => out.extend_from_slice(src),
            PackedFormat::Bgr24 => out.extend(src.chunks_exact(3).flat_map(|p| [p[2], p[1], p[0]])),
        }
    }
    RgbFrame { width, height, stride: row, data: out }
}

/// YUV 4:2:0 → RGB24 with swscale, as the video decoder converts frames: the planes are
/// copied into an FFmpeg frame first because swscale's SIMD code reads whole blocks, past
/// the end of rows of a caller's tightly sized buffer.
#[cfg(feature = "video")]
fn yuv420p_swscale(
    scaler: &mut crate::stages::video_decoding::Scaler,
    width: u32,
    height: u32,
    planes: [&[u8]; 3],
    strides: [usize; 3],
    color: YuvColor,
) -> Result<RgbFrame> {
    use ffmpeg_next::util::color::{Range, Space};
    use ffmpeg_next::util::format::Pixel;
    let mut src = ffmpeg_next::frame::Video::new(Pixel::YUV420P, width, height);
    let sizes = [(width as usize, height as usize), (width.div_ceil(2) as usize, height.div_ceil(2) as usize)];
    for (i, plane) in planes.iter().enumerate() {
        let (w, h) = sizes[(i > 0) as usize];
        let dst_stride = src.stride(i);
        let dst = src.data_mut(i);
        for y in 0..h {
            dst[y * dst_stride..y * dst_stride + w].copy_from_slice(&plane[y * strides[i]..y * strides[i] + w]);
        }
    }
    src.set_color_space(match color.matrix {
        YuvMatrix::Bt601 => Space::BT470BG,
        YuvMatrix::Bt709 => Space::BT709,
    });
    src.set_color_range(if color.full_range { Range::JPEG } else { Range::MPEG });
    let stride = crate::stages::video_decoding::rgb_stride(width);
    let mut out = RgbFrame { width, height, stride, data: vec![0; stride * height as usize] };
    scaler.scale(&src, &mut out).map_err(|e| Error::permanent(format!("live YUV conversion: {e}")))?;
    Ok(out)
}

/// YUV 4:2:0 → RGB24 in plain Rust (nearest chroma sample), for builds without FFmpeg.
#[cfg_attr(feature = "video", allow(dead_code))]
fn yuv420p_to_rgb(width: u32, height: u32, planes: [&[u8]; 3], strides: [usize; 3], color: YuvColor) -> RgbFrame {
    let (kr, kb) = match color.matrix {
        YuvMatrix::Bt601 => (0.299f32, 0.114f32),
        YuvMatrix::Bt709 => (0.2126, 0.0722),
    };
    let kg = 1.0 - kr - kb;
    // Luma and chroma scale to full range: limited range spans 219 (Y) and 224 (C) steps.
    let (y_off, y_scale, c_scale) =
        if color.full_range { (0.0, 1.0, 1.0) } else { (16.0, 255.0 / 219.0, 255.0 / 224.0) };
    let (rv, gu, gv, bu) = (2.0 * (1.0 - kr), 2.0 * kb * (1.0 - kb) / kg, 2.0 * kr * (1.0 - kr) / kg, 2.0 * (1.0 - kb));
    let row = 3 * width as usize;
    let mut data = vec![0u8; row * height as usize];
    let clamp = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    for y in 0..height as usize {
        let (yr, ur, vr) = (y * strides[0], (y / 2) * strides[1], (y / 2) * strides[2]);
        for x in 0..width as usize {
            let l = (planes[0][yr + x] as f32 - y_off) * y_scale;
            let u = (planes[1][ur + x / 2] as f32 - 128.0) * c_scale;
            let v = (planes[2][vr + x / 2] as f32 - 128.0) * c_scale;
            let o = y * row + 3 * x;
            data[o] = clamp(l + rv * v);
            data[o + 1] = clamp(l - gu * u - gv * v);
            data[o + 2] = clamp(l + bu * u);
        }
    }
    RgbFrame { width, height, stride: row, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BBox;

    fn det(x: f32) -> Detection {
        Detection { bbox: BBox::new(x, 100.0, 20.0, 50.0), score: 0.9, class_id: 0 }
    }

    fn session(json: &str) -> LiveSession {
        LiveSession::from_config(&PipelineConfig::from_json(json).unwrap()).unwrap()
    }

    fn err_of(r: Result<FrameResult>) -> Error {
        r.expect_err("expected an error")
    }

    #[test]
    fn packed_frames_convert_to_rgb() {
        // 2×2, stride 8 (2 bytes of padding per row), last row unpadded.
        let bgr = [1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12];
        let f = packed_to_rgb(PackedFormat::Bgr24, 2, 2, 8, &bgr);
        assert_eq!(f.data, [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
        assert_eq!(f.pixel(1, 1), [12, 11, 10]);
        let f = packed_to_rgb(PackedFormat::Rgb24, 2, 2, 8, &bgr);
        assert_eq!(f.pixel(0, 1), [7, 8, 9]);
    }

    #[test]
    fn yuv_reference_colours() {
        // Limited range: Y 235 is white, 16 black, whatever the matrix; full range 128 is grey.
        for matrix in [YuvMatrix::Bt601, YuvMatrix::Bt709] {
            for (y, want, full_range) in [(235u8, 255u8, false), (16, 0, false), (128, 128, true)] {
                let color = YuvColor { matrix, full_range };
                let f = yuv420p_to_rgb(2, 2, [&[y; 4], &[128], &[128]], [2, 1, 1], color);
                assert!(f.data.iter().all(|&v| v == want), "{matrix:?} {y}: {:?}", f.data);
            }
        }
        // BT.601 limited-range red (Y 81, U 90, V 240) is (255, 0, 0) up to rounding.
        let red = yuv420p_to_rgb(1, 1, [&[81], &[90], &[240]], [1, 1, 1], YuvColor::default_601());
        let [r, g, b] = red.pixel(0, 0);
        assert!(r >= 253 && g <= 2 && b <= 2, "{:?}", red.pixel(0, 0));
    }

    impl YuvColor {
        fn default_601() -> Self {
            YuvColor { matrix: YuvMatrix::Bt601, full_range: false }
        }
    }

    /// swscale (an independent implementation) and the plain Rust conversion agree on
    /// smooth content, for both matrices and ranges, with odd sizes and padded strides.
    #[cfg(feature = "video")]
    #[test]
    fn swscale_and_plain_conversion_agree() {
        let (w, h) = (37u32, 21u32);
        let (cw, ch) = (19usize, 11usize);
        let strides = [w as usize + 5, cw + 3, cw + 1];
        let mut y = vec![0u8; strides[0] * (h as usize - 1) + w as usize];
        let mut u = vec![0u8; strides[1] * (ch - 1) + cw];
        let mut v = vec![0u8; strides[2] * (ch - 1) + cw];
        for r in 0..h as usize {
            for c in 0..w as usize {
                y[r * strides[0] + c] = (40 + 4 * c + 3 * r) as u8;
            }
        }
        for r in 0..ch {
            for c in 0..cw {
                u[r * strides[1] + c] = (100 + 3 * c) as u8;
                v[r * strides[2] + c] = (90 + 5 * r) as u8;
            }
        }
        let mut scaler = crate::stages::video_decoding::Scaler::new();
        let max_diff = |a: &RgbFrame, b: &RgbFrame| {
            let mut worst = 0;
            for r in 0..h {
                for c in 0..w {
                    for (p, q) in a.pixel(c, r).into_iter().zip(b.pixel(c, r)) {
                        worst = worst.max((p as i32 - q as i32).abs());
                    }
                }
            }
            worst
        };
        for matrix in [YuvMatrix::Bt601, YuvMatrix::Bt709] {
            for full_range in [false, true] {
                let color = YuvColor { matrix, full_range };
                let a = yuv420p_swscale(&mut scaler, w, h, [&y, &u, &v], strides, color).unwrap();
                let b = yuv420p_to_rgb(w, h, [&y, &u, &v], strides, color);
                // swscale works in fixed point with its own rounding: a few levels apart.
                let worst = max_diff(&a, &b);
                assert!(worst <= 5, "{color:?}: max difference {worst}");
                // ... while the other range is clearly different, so the check has teeth.
                let other = YuvColor { matrix, full_range: !full_range };
                let c = yuv420p_to_rgb(w, h, [&y, &u, &v], strides, other);
                assert!(max_diff(&a, &c) > 12, "{color:?} vs {other:?}");
            }
        }
    }

    #[test]
    fn detections_pushes_track_and_keep_order() {
        let mut s = session(r#"{"fps": 25, "frame_size": [640, 480]}"#);
        assert_eq!(s.next_index().unwrap(), 0);
        let mut ids = Vec::new();
        for i in 0..5u64 {
            // The second player appears in frame 1, after the tracker's first frame.
            let all = [det(10.0 + 2.0 * i as f32), det(300.0)];
            let players = if i == 0 { &all[..1] } else { &all[..] };
            let r = s
                .push(LiveFrame::Detections {
                    players,
                    ball_candidates: None,
                    player_teams: None,
                    timestamp_s: i as f64 * 0.04,
                })
                .unwrap();
            assert_eq!((r.index(), r.time_s()), (i, i as f64 * 0.04));
            ids.push(r.tracks().iter().map(|t| t.track_id).collect::<Vec<_>>());
        }
        // The tracker's first frame confirms at once; a later track after min_hits (2)
        // matches; ids stay.
        assert_eq!(ids, [vec![1], vec![1], vec![1, 2], vec![1, 2], vec![1, 2]]);
        let report = s.finish().unwrap();
        assert_eq!(report.tracks.len(), 2);
        assert_eq!(report.video.frame_count, Some(5));
        assert_eq!(report.stages[0].name, "live_input");
    }

    /// Without kit colours a session knows no teams; teams the user gives are the frames'
    /// teams as given (nothing guessed for the others), and later ones replace them.
    #[test]
    fn frame_teams_are_the_users_when_given() {
        use crate::analysis::Role;
        let mut s = session(r#"{"fps": 25, "frame_size": [640, 480]}"#);
        let push = |s: &mut LiveSession, i: u64| {
            let players = [det(10.0 + 2.0 * i as f32), det(300.0)];
            s.push(LiveFrame::Detections {
                players: &players,
                ball_candidates: None,
                player_teams: None,
                timestamp_s: i as f64 * 0.04,
            })
            .unwrap()
        };
        let r = push(&mut s, 0);
        assert_eq!((r.teams.as_deref(), r.team_of(1)), (None, None));
        let user = TeamAssignment::from_tracks([TrackTeam::user(1, Some(1), Role::Player)]);
        s.estimate_possession(&Default::default(), Some(user)).unwrap();
        for i in 1..4 {
            let r = push(&mut s, i);
            let ids: Vec<u64> = r.tracks().iter().map(|t| t.track_id).collect();
            let want: Vec<TrackTeam> = ids
                .iter()
                .map(|&id| match id {
                    1 => TrackTeam::user(1, Some(1), Role::Player),
                    _ => TrackTeam { confidence: 0.0, ..TrackTeam::user(id, None, Role::Unknown) },
                })
                .collect();
            assert_eq!(r.track_teams(), want.as_slice(), "frame {i}");
            assert_eq!((r.team_of(1), r.team_of(2), r.team_of(99)), (Some(1), None, None));
        }
        // Provisional classification replaces the user's teams: no kit colours here, so every
        // track is unknown.
        s.classify_teams(&Default::default(), &Default::default()).unwrap();
        let r = push(&mut s, 4);
        assert!(r.track_teams().len() == 2 && r.track_teams().iter().all(|t| t.role == Role::Unknown), "{r:?}");
        let bad = LiveTeamsConfig { min_tracks: 0, ..Default::default() };
        let e = s.classify_teams(&Default::default(), &bad).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config, "{e}");
        s.finish().unwrap();
    }

    #[test]
    fn detection_teams_give_each_track_the_majority_of_its_detections() {
        use crate::analysis::Role;
        let mut s = session(r#"{"fps": 25, "frame_size": [640, 480]}"#);
        let mut push = |i: u64, teams: Option<&[Option<u32>]>| {
            let players = [det(10.0 + 2.0 * i as f32), det(300.0), det(500.0)];
            s.push(LiveFrame::Detections {
                players: &players,
                ball_candidates: None,
                player_teams: teams,
                timestamp_s: i as f64 * 0.04,
            })
        };
        // Tracks 1, 2, 3 follow the three boxes. Box 0 is always team 1; box 1 team 0 in
        // three frames and team 1 in the third (majority 0: 2/3, then 3/4); box 2 never has one.
        let teams: [[Option<u32>; 3]; 4] =
            [[Some(1), Some(0), None], [Some(1), Some(0), None], [Some(1), Some(1), None], [Some(1), Some(0), None]];
        let want_conf: [[f32; 2]; 4] = [[1.0, 1.0], [1.0, 1.0], [1.0, 2.0 / 3.0], [1.0, 0.75]];
        let want_team = [[1, 0], [1, 0], [1, 0], [1, 0]];
        for (i, frame) in teams.iter().enumerate() {
            let r = push(i as u64, Some(frame)).unwrap();
            let ids: Vec<u64> = r.tracks().iter().map(|t| t.track_id).collect();
            assert_eq!(ids, [1, 2, 3], "frame {i}");
            let user = |id: u64, team: u32, confidence: f32| TrackTeam {
                confidence,
                ..TrackTeam::user(id, Some(team), Role::Player)
            };
            let want = [
                user(1, want_team[i][0], want_conf[i][0]),
                user(2, want_team[i][1], want_conf[i][1]),
                TrackTeam { confidence: 0.0, ..TrackTeam::user(3, None, Role::Unknown) },
            ];
            assert_eq!(r.track_teams(), want.as_slice(), "frame {i}");
            assert_eq!(r.record.player_teams.as_deref(), Some(frame.as_slice()));
        }
        // Teams of the wrong count or value are typed errors; the session goes on.
        let e = push(4, Some(&[Some(1)])).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{e}");
        assert_eq!(e.to_string(), "player teams: expected one per player detection (3), found 1");
        let e = push(4, Some(&[Some(1), Some(2), None])).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{e}");
        assert_eq!(e.to_string(), "player detection 1: team: expected 0, 1 or unknown, found 2");
        // A frame without teams keeps the votes so far.
        let r = push(4, None).unwrap();
        assert_eq!((r.team_of(1), r.team_of(2), r.team_of(3)), (Some(1), Some(0), None));
        s.finish().unwrap();
    }

    #[test]
    fn pushed_teams_reach_the_report_with_live_user_teams() {
        // The three boxes of the test above: box 0 always team 1, box 1 team 0 in two of
        // three frames, box 2 never given one.
        let run = |json: &str| {
            let mut s = session(json);
            let frames: [[Option<u32>; 3]; 3] =
                [[Some(1), Some(0), None], [Some(1), Some(1), None], [Some(1), Some(0), None]];
            for (i, teams) in frames.iter().enumerate() {
                let players = [det(10.0 + 2.0 * i as f32), det(300.0), det(500.0)];
                let r = s
                    .push(LiveFrame::Detections {
                        players: &players,
                        ball_candidates: None,
                        player_teams: Some(teams),
                        timestamp_s: i as f64 * 0.04,
                    })
                    .unwrap();
                assert_eq!((r.team_of(1), r.team_of(2), r.team_of(3)), (Some(1), Some(0), None), "frame {i}");
            }
            s.finish().unwrap()
        };
        let report = run(r#"{"fps": 25, "frame_size": [640, 480], "live": {"user_teams": true}}"#);
        let team_of: Vec<(u64, Option<u32>)> = report.tracks.iter().map(|t| (t.track_id, t.team)).collect();
        assert_eq!(team_of, [(1, Some(1)), (2, Some(0)), (3, None)]);
        let members: Vec<(u32, Vec<u64>)> = report.teams.iter().map(|t| (t.id, t.track_ids.clone())).collect();
        assert_eq!(members, [(0, vec![2]), (1, vec![1])]);
        // Without it the frames still had teams, the report has none (nothing runs at the end).
        let report = run(r#"{"fps": 25, "frame_size": [640, 480]}"#);
        assert!(report.teams.is_empty() && report.tracks.iter().all(|t| t.team.is_none()), "{:?}", report.teams);
        // With pixels the teams come from the kits: asking for user teams is a config error.
        let e = LiveSession::from_config(
            &PipelineConfig::from_json(
                r#"{"fps": 25, "frame_size": [64, 48], "live": {"input": "pixels", "user_teams": true}}"#,
            )
            .unwrap(),
        )
        .expect_err("pixels with user teams");
        assert_eq!(e.kind(), crate::ErrorKind::Config, "{e}");
        assert!(e.to_string().contains("live.user_teams"), "{e}");
    }

    #[test]
    fn bad_pushes_are_typed_errors_that_leave_the_session_usable() {
        let mut s = session(r#"{"fps": 25, "frame_size": [4, 2], "live": {"input": "pixels"}}"#);
        let packed = |width, height, stride, data: &'static [u8], timestamp_s| LiveFrame::Packed {
            format: PackedFormat::Rgb24,
            width,
            height,
            stride,
            data,
            timestamp_s,
        };
        static SHORT: [u8; 23] = [0; 23];
        static FULL: [u8; 24] = [0; 24];
        let cases: Vec<(LiveFrame<'static>, &str)> = vec![
            (packed(5, 2, 15, &FULL, 0.0), "frame size: expected 4x2"),
            (packed(4, 2, 11, &FULL, 0.0), "rgb stride: expected at least 12"),
            (packed(4, 2, 12, &SHORT, 0.0), "rgb buffer: expected at least 24 bytes"),
            (packed(4, 2, 12, &FULL, f64::NAN), "timestamp"),
            (packed(4, 2, 12, &FULL, -1.0), "timestamp"),
            (
                LiveFrame::Yuv420p {
                    width: 4,
                    height: 2,
                    planes: [&FULL, &FULL[..1], &FULL],
                    strides: [4, 2, 2],
                    color: YuvColor::default(),
                    timestamp_s: 0.0,
                },
                "u buffer: expected at least 2 bytes",
            ),
            (
                LiveFrame::Detections { players: &[], ball_candidates: None, player_teams: None, timestamp_s: 0.0 },
                "takes pixels",
            ),
        ];
        for (frame, want) in cases {
            let e = err_of(s.push(frame));
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{e}");
            assert!(e.to_string().contains(want), "{e} does not contain {want}");
        }
        // The session still works, and timestamps must increase.
        let r = s.push(packed(4, 2, 12, &FULL, 0.5)).unwrap();
        assert_eq!(r.index(), 0);
        let e = err_of(s.push(packed(4, 2, 12, &FULL, 0.5)));
        assert!(matches!(e, Error::Live(LiveError::Timestamp { previous: Some(0.5), .. })), "{e}");
        s.finish().unwrap();

        let mut s = session(r#"{"fps": 25, "frame_size": [640, 480]}"#);
        let bad = [Detection { bbox: BBox::new(0.0, 0.0, 0.0, 5.0), score: 0.9, class_id: 0 }];
        let e = err_of(s.push(LiveFrame::Detections {
            players: &bad,
            ball_candidates: None,
            player_teams: None,
            timestamp_s: 0.0,
        }));
        assert!(e.to_string().contains("player detection 0: expected a positive box"), "{e}");
        let nan = [Detection { bbox: BBox::new(f32::NAN, 0.0, 1.0, 5.0), score: 0.9, class_id: 0 }];
        let e = err_of(s.push(LiveFrame::Detections {
            players: &nan,
            ball_candidates: None,
            player_teams: None,
            timestamp_s: 0.0,
        }));
        assert!(e.to_string().contains("finite"), "{e}");
        let e = err_of(s.push(LiveFrame::Detections {
            players: &[],
            ball_candidates: Some(&[]),
            player_teams: None,
            timestamp_s: 0.0,
        }));
        assert!(matches!(e, Error::Live(LiveError::WrongInput { .. })), "{e}");
        let e = err_of(s.push(packed(640, 480, 1920, &FULL, 0.0)));
        assert!(e.to_string().contains("takes detections, found pixels"), "{e}");
    }

    /// The bindings hand sessions to other threads (Python releases the GIL around pushes).
    #[test]
    fn sessions_can_move_between_threads() {
        fn is_send<T: Send>() {}
        is_send::<LiveSession>();
    }

    #[test]
    fn config_errors_name_the_key() {
        for (json, key) in [
            (r#"{"fps": 25}"#, "fps/frame_size"),
            (r#"{"fps": 25, "frame_size": [4, 4], "detections_path": "d.txt"}"#, "video_path/detections_path"),
            (
                r#"{"fps": 25, "frame_size": [4, 4], "live": {"input": "pixels", "ball_candidates": true}}"#,
                "live.ball_candidates",
            ),
        ] {
            let e = LiveSession::from_config(&PipelineConfig::from_json(json).unwrap()).unwrap_err();
            assert!(matches!(&e, Error::Config(ConfigError::Invalid { key: k, .. }) if k == key), "{json}: {e}");
        }
    }

    #[test]
    fn closed_sessions_refuse_calls() {
        let mut s = session(r#"{"fps": 25, "frame_size": [640, 480]}"#);
        s.cancel();
        let e = err_of(s.push(LiveFrame::Detections {
            players: &[],
            ball_candidates: None,
            player_teams: None,
            timestamp_s: 0.0,
        }));
        assert!(matches!(e, Error::Live(LiveError::Closed { .. })), "{e}");
        assert_eq!(e.kind(), crate::ErrorKind::Closed);
        assert!(matches!(s.finish(), Err(Error::Live(LiveError::Closed { .. }))));
        // Cancelling from another thread while the engine waits for a frame ends it.
        let mut s = session(r#"{"fps": 25, "frame_size": [640, 480]}"#);
        s.push(LiveFrame::Detections { players: &[], ball_candidates: None, player_teams: None, timestamp_s: 0.0 })
            .unwrap();
        let token = s.cancellation_token();
        std::thread::spawn(move || token.cancel()).join().unwrap();
        let e = err_of(s.push(LiveFrame::Detections {
            players: &[],
            ball_candidates: None,
            player_teams: None,
            timestamp_s: 1.0,
        }));
        assert!(matches!(e, Error::Cancelled), "{e}");
    }
}
