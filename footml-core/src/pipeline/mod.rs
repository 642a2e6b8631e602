//! The pipeline engine: builder, graph validation, streaming executor, match stages,
//! checkpoints and resume.

pub mod cancel;
pub mod checkpoint;
pub mod events;
mod executor;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis_store;
pub mod retry;
pub mod stage;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::Result;
use crate::config::PipelineConfig;
use crate::pipeline::cancel::CancellationToken;
use crate::pipeline::checkpoint::{CheckpointStore, FsCheckpointStore};
use crate::pipeline::events::EventSink;
use crate::pipeline::retry::RetryPolicy;
use crate::pipeline::stage::{Artifact, FrameSource, MatchStage, Stage, StreamStage};
use crate::report::MatchReport;
use crate::stages::detections_file::{DetectionsArraySource, DetectionsFileSource};
use crate::stages::pitch_calibration::PitchCalibration;
use crate::stages::player_tracking::PlayerTracker;

/// Errors in the shape of a pipeline, found by [`PipelineBuilder::build`].
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum BuildError {
    /// No source was given.
    #[error("the pipeline has no source: add a video or a detections file")]
    NoSource,
    /// A stage requires an artifact that no source or stage provides.
    #[error("stage `{stage}` requires `{artifact}`, which no source or stage provides")]
    MissingInput {
        /// The stage.
        stage: String,
        /// The artifact.
        artifact: String,
    },
    /// Stages depend on each other in a circle.
    #[error(
        "stage `{stage}` requires `{artifact}`, which is provided only by stages that depend on `{stage}` (a cycle)"
    )]
    Cycle {
        /// A stage on the cycle.
        stage: String,
        /// The artifact it waits for.
        artifact: String,
    },
    /// Two stages have the same name.
    #[error("two stages are named `{0}`; stage names must be unique")]
    DuplicateStage(String),
    /// Two stages provide the same artifact.
    #[error("`{artifact}` is provided by both `{first}` and `{second}`")]
    DuplicateProvider {
        /// The artifact.
        artifact: String,
        /// The first provider.
        first: String,
        /// The second provider.
        second: String,
    },
    /// The config asks for something this build cannot do.
    #[error("{0}")]
    Unsupported(String),
}

/// What the frames of a source carry, which decides the standard stages
/// ([`Pipeline::standard_stages`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceInput {
    /// Pixels: players come from the detection model (when one is configured), ball
    /// candidates from the classical ball detector.
    Pixels,
    /// Player detections, and ball candidates when `ball_candidates`.
    Detections {
        /// The frames carry ball candidates.
        ball_candidates: bool,
        /// The frames carry teams the user gave per detection.
        user_teams: bool,
    },
}

/// Builds a [`Pipeline`]: a source, streaming stages, match stages and the run's settings.
///
/// ```
/// use footml::{Pipeline, MemoryCheckpointStore};
/// use footml::stages::detections_file::DetectionsFileSource;
/// use footml::stages::player_tracking::PlayerTracker;
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("d.txt");
/// # std::fs::write(&path, "1,-1,10,10,20,40,0.9,-1,-1,-1\n")?;
/// let pipeline = Pipeline::builder()
///     .source(DetectionsFileSource::open(&path, None, 25.0, [1920, 1080])?)
///     .stream_stage(PlayerTracker::new(&Default::default())?)
///     .checkpoint_store(MemoryCheckpointStore::new())
///     .build()?;
/// let report = pipeline.run()?;
/// assert_eq!(report.video.frame_count, Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PipelineBuilder {
    pipeline_id: Option<String>,
    /// When `pipeline_id` was derived from a config: how many streaming and match stages the
    /// builder had then. Stages added later (user stages, Python stages) are mixed into the
    /// id at `build()`, so another set of them never resumes this run's checkpoints.
    derived_after: Option<(usize, usize)>,
    source: Option<Box<dyn FrameSource>>,
    stream: Vec<Box<dyn StreamStage>>,
    matches: Vec<Box<dyn MatchStage>>,
    store: Option<Arc<dyn CheckpointStore>>,
    sinks: Vec<Box<dyn EventSink>>,
    retry: RetryPolicy,
    stage_retry: BTreeMap<String, RetryPolicy>,
    cancel: CancellationToken,
    batch_size: usize,
    channel_capacity: usize,
    checkpoint_interval: u64,
    resume: bool,
    keep_checkpoints: bool,
    pace: Option<f64>,
    model_version: Option<String>,
    sink_grace: Duration,
    output_dir: Option<std::path::PathBuf>,
    report_tables: crate::config::ReportTables,
    record_tap: Option<crossbeam_channel::Sender<crate::types::FrameRecord>>,
}

impl Default for PipelineBuilder {
    fn default() -> Self {
        PipelineBuilder {
            pipeline_id: None,
            derived_after: None,
            source: None,
            stream: Vec::new(),
            matches: Vec::new(),
            store: None,
            sinks: Vec::new(),
            retry: RetryPolicy::default(),
            stage_retry: BTreeMap::new(),
            cancel: CancellationToken::new(),
            batch_size: 8,
            channel_capacity: 4,
            checkpoint_interval: 250,
            resume: true,
            keep_checkpoints: false,
            pace: None,
            model_version: None,
            sink_grace: Duration::from_secs(2),
            output_dir: None,
            report_tables: crate::config::ReportTables::Inline,
            record_tap: None,
        }
    }
}

impl PipelineBuilder {
    /// The run's id (checkpoints are keyed by it), used as given. Derived from the source and
    /// the stages (names and [`Stage::identity`]) when not given.
    pub fn pipeline_id(mut self, id: impl Into<String>) -> Self {
        self.pipeline_id = Some(id.into());
        self.derived_after = None;
        self
    }

    /// An id derived from a config and its inputs: stages added after this are mixed in at
    /// `build()`.
    pub(crate) fn derived_pipeline_id(mut self, id: String) -> Self {
        self.pipeline_id = Some(id);
        self.derived_after = Some((self.stream.len(), self.matches.len()));
        self
    }
    /// Where frames come from.
    pub fn source(mut self, source: impl FrameSource + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
    /// Where frames come from (boxed).
    pub fn boxed_source(mut self, source: Box<dyn FrameSource>) -> Self {
        self.source = Some(source);
        self
    }
    /// Adds a streaming stage. Stages run in the order their inputs allow, ties in the
    /// order added.
    pub fn stream_stage(mut self, stage: impl StreamStage + 'static) -> Self {
        self.stream.push(Box::new(stage));
        self
    }
    /// Adds a boxed streaming stage.
    pub fn boxed_stream_stage(mut self, stage: Box<dyn StreamStage>) -> Self {
        self.stream.push(stage);
        self
    }
    /// Adds a match stage (runs after the stream).
    pub fn match_stage(mut self, stage: impl MatchStage + 'static) -> Self {
        self.matches.push(Box::new(stage));
        self
    }
    /// Adds a boxed match stage.
    pub fn boxed_match_stage(mut self, stage: Box<dyn MatchStage>) -> Self {
        self.matches.push(stage);
        self
    }
    /// Keeps checkpoints in `store`.
    pub fn checkpoint_store(mut self, store: impl CheckpointStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }
    /// Keeps checkpoints in a shared store.
    pub fn shared_checkpoint_store(mut self, store: Arc<dyn CheckpointStore>) -> Self {
        self.store = Some(store);
        self
    }
    /// Frames per checkpoint chunk (default 250).
    pub fn checkpoint_interval(mut self, frames: u64) -> Self {
        self.checkpoint_interval = frames;
        self
    }
    /// Whether to continue from checkpoints of an earlier run with the same id (default
    /// true). When false, earlier checkpoints of this id are deleted first.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }
    /// Keep checkpoints after a successful run (default false: they are deleted once the
    /// report exists).
    pub fn keep_checkpoints(mut self, keep: bool) -> Self {
        self.keep_checkpoints = keep;
        self
    }
    /// Adds an event sink.
    pub fn event_sink(mut self, sink: impl EventSink + 'static) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }
    /// Adds a boxed event sink.
    pub fn boxed_event_sink(mut self, sink: Box<dyn EventSink>) -> Self {
        self.sinks.push(sink);
        self
    }
    /// How long the end of a run waits for sinks to deliver queued events (default 2 s).
    pub fn sink_grace(mut self, grace: Duration) -> Self {
        self.sink_grace = grace;
        self
    }
    /// The retry policy of every stage without its own.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
    /// The retry policy of one stage (by name; the source's name works too).
    pub fn stage_retry_policy(mut self, stage: impl Into<String>, policy: RetryPolicy) -> Self {
        self.stage_retry.insert(stage.into(), policy);
        self
    }
    /// A token another thread can use to cancel the run.
    pub fn cancellation_token(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }
    /// Frames per batch (default 8).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// Batches buffered between two streaming stages (default 4).
    pub fn channel_capacity(mut self, n: usize) -> Self {
        self.channel_capacity = n;
        self
    }
    /// Reads the source no faster than `speed` × its frame rate (1.0 = real time, like
    /// `ffmpeg -re`): for simulating a live feed.
    pub fn pace(mut self, speed: f64) -> Self {
        self.pace = Some(speed);
        self
    }
    /// Writes `report.json` and `tracks.txt` (MOTChallenge) into `dir` when the run ends,
    /// before checkpoints are deleted, so finished work is on disk before its checkpoints go.
    pub fn output_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.output_dir = Some(dir.into());
        self
    }
    /// Where the `report.json` written into the output dir keeps its per-frame tables:
    /// inside it (the default) or in Parquet files beside it ([`MatchReport::write`]).
    pub fn report_tables(mut self, tables: crate::config::ReportTables) -> Self {
        self.report_tables = tables;
        self
    }
    /// Model version label for the report.
    pub fn model_version(mut self, v: impl Into<String>) -> Self {
        self.model_version = Some(v.into());
        self
    }

    /// Sends a copy of every frame's finished record (after the last streaming stage) to
    /// `tap` as soon as it leaves the stream: how a live session returns each frame's result.
    pub(crate) fn record_tap(mut self, tap: crossbeam_channel::Sender<crate::types::FrameRecord>) -> Self {
        self.record_tap = Some(tap);
        self
    }

    /// The token that cancels the pipeline this builder builds.
    /// Whether a stage of this name was added.
    pub(crate) fn has_stage(&self, name: &str) -> bool {
        self.stream.iter().any(|s| s.name() == name) || self.matches.iter().any(|s| s.name() == name)
    }

    pub(crate) fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Checks the graph and orders the stages.
    pub fn build(self) -> Result<Pipeline> {
        let source = self.source.ok_or(BuildError::NoSource)?;
        if self.batch_size == 0 || self.channel_capacity == 0 || self.checkpoint_interval == 0 {
            return Err(BuildError::Unsupported(
                "batch_size, channel_capacity and checkpoint_interval must be at least 1".into(),
            )
            .into());
        }
        if let Some(p) = self.pace
            && !(p.is_finite() && p > 0.0)
        {
            return Err(BuildError::Unsupported(format!("pace must be a positive number, found {p}")).into());
        }
        let mut names = BTreeSet::from([source.name().to_string()]);
        let mut providers: BTreeMap<Artifact, String> =
            source.provides().into_iter().map(|a| (a, source.name().to_string())).collect();
        let all_stages =
            self.stream.iter().map(|s| s as &dyn Stage2).chain(self.matches.iter().map(|s| s as &dyn Stage2));
        for s in all_stages {
            if !names.insert(s.stage_name().to_string()) {
                return Err(BuildError::DuplicateStage(s.stage_name().to_string()).into());
            }
            for a in s.stage_provides() {
                if let Some(first) = providers.insert(a.clone(), s.stage_name().to_string()) {
                    return Err(BuildError::DuplicateProvider {
                        artifact: a.to_string(),
                        first,
                        second: s.stage_name().to_string(),
                    }
                    .into());
                }
            }
        }
        // The stages added after a config-derived id, in the order they were added.
        let added = self.derived_after.map(|(n_stream, n_match)| {
            stage_identities(
                &self.stream[n_stream.min(self.stream.len())..],
                &self.matches[n_match.min(self.matches.len())..],
            )
        });
        let mut available: BTreeSet<Artifact> = source.provides().into_iter().collect();
        let stream = order_stages(self.stream, &mut available, &providers)?;
        let matches = order_stages(self.matches, &mut available, &providers)?;
        let pipeline_id = match (self.pipeline_id, added) {
            (Some(id), None) => id,
            (Some(id), Some(added)) if added.is_empty() => id,
            (Some(id), Some(added)) => format!("fm-{:016x}", fnv1a(format!("{id}{added}").as_bytes())),
            (None, _) => {
                let info = source.info();
                let key = format!("{}|{}|{:?}|{}x{}", info.path, info.fps, info.frame_count, info.width, info.height);
                format!("fm-{:016x}", fnv1a(format!("{key}{}", stage_identities(&stream, &matches)).as_bytes()))
            }
        };
        Ok(Pipeline {
            pipeline_id,
            source,
            stream,
            matches,
            store: self.store,
            sinks: self.sinks,
            retry: self.retry,
            stage_retry: self.stage_retry,
            cancel: self.cancel,
            batch_size: self.batch_size,
            channel_capacity: self.channel_capacity,
            checkpoint_interval: self.checkpoint_interval,
            resume: self.resume,
            keep_checkpoints: self.keep_checkpoints,
            pace: self.pace,
            model_version: self.model_version,
            sink_grace: self.sink_grace,
            output_dir: self.output_dir,
            report_tables: self.report_tables,
            record_tap: self.record_tap,
        })
    }
}

/// Object-safe view of either kind of boxed stage, for validation.
trait Stage2 {
    fn stage_name(&self) -> &str;
    fn stage_requires(&self) -> Vec<Artifact>;
    fn stage_provides(&self) -> Vec<Artifact>;
    fn stage_after(&self) -> Vec<Artifact>;
}

impl<S: Stage + ?Sized> Stage2 for Box<S> {
    fn stage_name(&self) -> &str {
        self.name()
    }
    fn stage_requires(&self) -> Vec<Artifact> {
        self.requires()
    }
    fn stage_provides(&self) -> Vec<Artifact> {
        self.provides()
    }
    fn stage_after(&self) -> Vec<Artifact> {
        self.after()
    }
}

/// Orders stages so each comes after the providers of its inputs, required or optional
/// ([`Stage::after`]) (Kahn's algorithm, ties broken by insertion order).
fn order_stages<S: Stage2>(
    mut pending: Vec<S>,
    available: &mut BTreeSet<Artifact>,
    providers: &BTreeMap<Artifact, String>,
) -> Result<Vec<S>> {
    // An optional input blocks a stage only while some stage will still provide it.
    let waits_for = |s: &S, available: &BTreeSet<Artifact>| {
        s.stage_requires()
            .into_iter()
            .find(|a| !available.contains(a))
            .or_else(|| s.stage_after().into_iter().find(|a| !available.contains(a) && providers.contains_key(a)))
    };
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        match pending.iter().position(|s| waits_for(s, available).is_none()) {
            Some(i) => {
                let s = pending.remove(i);
                available.extend(s.stage_provides());
                ordered.push(s);
            }
            None => {
                let s = &pending[0];
                let artifact = waits_for(s, available).expect("blocked stage");
                let stage = s.stage_name().to_string();
                return Err(if providers.contains_key(&artifact) {
                    BuildError::Cycle { stage, artifact: artifact.to_string() }
                } else {
                    BuildError::MissingInput { stage, artifact: artifact.to_string() }
                }
                .into());
            }
        }
    }
    Ok(ordered)
}

/// `|name` (and `:identity` when a stage has one) of each stage, in the order added.
fn stage_identities(stream: &[Box<dyn StreamStage>], matches: &[Box<dyn MatchStage>]) -> String {
    let stages =
        stream.iter().map(|s| (s.name(), s.identity())).chain(matches.iter().map(|s| (s.name(), s.identity())));
    let mut key = String::new();
    for (name, identity) in stages {
        key.push('|');
        key.push_str(name);
        if !identity.is_empty() {
            key.push(':');
            key.push_str(&identity);
        }
    }
    key
}

/// 64-bit FNV-1a: a stable hash (unlike `DefaultHasher`, which may change between Rust
/// releases) for ids that must survive restarts.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

/// A validated pipeline, ready to run once.
pub struct Pipeline {
    pipeline_id: String,
    source: Box<dyn FrameSource>,
    stream: Vec<Box<dyn StreamStage>>,
    matches: Vec<Box<dyn MatchStage>>,
    store: Option<Arc<dyn CheckpointStore>>,
    sinks: Vec<Box<dyn EventSink>>,
    retry: RetryPolicy,
    stage_retry: BTreeMap<String, RetryPolicy>,
    cancel: CancellationToken,
    batch_size: usize,
    channel_capacity: usize,
    checkpoint_interval: u64,
    resume: bool,
    keep_checkpoints: bool,
    pace: Option<f64>,
    model_version: Option<String>,
    sink_grace: Duration,
    output_dir: Option<std::path::PathBuf>,
    report_tables: crate::config::ReportTables,
    record_tap: Option<crossbeam_channel::Sender<crate::types::FrameRecord>>,
}

impl Pipeline {
    /// A builder.
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::default()
    }

    /// The run's id.
    pub fn id(&self) -> &str {
        &self.pipeline_id
    }

    /// Names of the source and stages in the order they run.
    pub fn stage_names(&self) -> Vec<String> {
        std::iter::once(self.source.name().to_string())
            .chain(self.stream.iter().map(|s| s.name().to_string()))
            .chain(self.matches.iter().map(|s| s.name().to_string()))
            .collect()
    }

    /// A token that cancels this run.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The standard pipeline for a config: a builder with the source, stages, checkpoint
    /// store and settings the config describes. Add sinks or stages, then `build()`.
    pub fn builder_from_config(config: &PipelineConfig) -> Result<PipelineBuilder> {
        config.validate()?;
        let b = Pipeline::builder();
        let (b, input, input_identity) = if let Some(video) = &config.video_path {
            #[cfg(feature = "video")]
            {
                let vd = &config.stage_configs.video_decoding;
                let src = crate::stages::video_decoding::VideoSource::open(video, vd, config.output_dir.as_deref())?;
                (b.source(src), SourceInput::Pixels, file_identity(video))
            }
            #[cfg(not(feature = "video"))]
            {
                let _ = (video, b);
                return Err(
                    BuildError::Unsupported("video input needs footml built with the `video` feature".into()).into()
                );
            }
        } else if let Some(dets) = &config.detections_path {
            let (fps, size) = (config.fps.expect("validated"), config.frame_size.expect("validated"));
            let src = DetectionsFileSource::open(dets, config.ball_detections_path.as_deref(), fps, size)?;
            let mut identity = file_identity(dets);
            if let Some(ball) = &config.ball_detections_path {
                identity.push_str(&file_identity(ball));
            }
            let input = SourceInput::Detections {
                ball_candidates: config.ball_detections_path.is_some(),
                user_teams: src.has_teams(),
            };
            (b.source(src), input, identity)
        } else {
            return Err(BuildError::NoSource.into());
        };
        Self::standard_stages(b, config, input, input_identity, false)
    }

    /// The standard pipeline for detections held in memory ([`DetectionsArraySource`], e.g.
    /// NumPy arrays from Python): the stages, settings and checkpoint store `config` gives a
    /// detections input. `config` must not name a video or detections file; the source
    /// carries the frame rate and size.
    pub fn builder_from_detections(config: &PipelineConfig, source: DetectionsArraySource) -> Result<PipelineBuilder> {
        config.validate()?;
        if config.video_path.is_some() || config.detections_path.is_some() {
            return Err(crate::config::ConfigError::invalid(
                "",
                "video_path/detections_path",
                "neither, when detections come from arrays",
                config.video_path.as_ref().or(config.detections_path.as_ref()),
            )
            .into());
        }
        let input = SourceInput::Detections { ball_candidates: source.has_ball(), user_teams: false };
        let identity = source.fingerprint();
        Self::standard_stages(Pipeline::builder().source(source), config, input, identity, false)
    }

    /// Adds to `b` (which has its source) the run settings, the standard stages for what the
    /// source's frames carry, the checkpoint store and the pipeline id of `config`. File mode
    /// and live sessions ([`crate::live::LiveSession`]) share it, so both run the same
    /// stages with the same settings. `input_identity` names the input for the derived id;
    /// `live` says whether the source is a live session's (only then do the `live` keys of
    /// `config` count in that id).
    pub(crate) fn standard_stages(
        mut b: PipelineBuilder,
        config: &PipelineConfig,
        input: SourceInput,
        mut input_identity: String,
        live: bool,
    ) -> Result<PipelineBuilder> {
        // Relative model paths are looked up in model_cache_dir first.
        let config = &*config.with_model_files();
        // The library named by the config is loaded before any model (detection or pitch
        // keypoints) would load the one the search finds.
        #[cfg(feature = "onnx")]
        if let Some(lib) = &config.onnxruntime_path {
            crate::stages::player_detection::load_onnxruntime(Some(lib))?;
        }
        b = b
            .batch_size(config.batch_size)
            .channel_capacity(config.channel_capacity)
            .checkpoint_interval(config.checkpoint_interval_frames)
            .retry_policy(RetryPolicy::from(&config.retry));
        if let Some(dir) = &config.output_dir {
            b = b.output_dir(dir.clone()).report_tables(config.report_tables);
        }
        if let Some(v) = &config.model_version {
            b = b.model_version(v.clone());
        }
        let tracking_possible;
        // Whether the stream will carry ball candidates (then the ball is tracked and smoothed).
        let ball_candidates;
        match input {
            SourceInput::Pixels => {
                // With a detection model, players are detected and tracked; without one, a
                // video is decoded (metadata, audio, frame count) but not tracked.
                let pd = &config.stage_configs.player_detection;
                // Players from a detections file (another detector's boxes) instead of a model.
                let players_file = match &config.detections_path {
                    Some(path) => {
                        input_identity.push_str(&file_identity(path));
                        let stage = crate::stages::detections_file::PlayerDetectionsFile::open(path)?;
                        b = b.stream_stage(stage);
                        true
                    }
                    None => false,
                };
                tracking_possible = pd.model_path.is_some() || players_file;
                // The model's ball class (`ball_class_ids`) replaces the classical detector.
                let model_ball = pd.model_path.is_some() && !pd.ball_class_ids.is_empty();
                if let Some(model) = &pd.model_path {
                    #[cfg(feature = "onnx")]
                    {
                        let exec = crate::stages::player_detection::ExecutionOptions::from_config(config);
                        b = b.stream_stage(crate::stages::player_detection::PlayerDetector::with_execution(pd, &exec)?);
                        input_identity.push_str(&file_identity(model));
                    }
                    #[cfg(not(feature = "onnx"))]
                    {
                        return Err(BuildError::Unsupported(format!(
                            "player detection with model {} needs footml built with the `onnx` feature",
                            model.display()
                        ))
                        .into());
                    }
                }
                if !model_ball {
                    // No ball model: classical candidates from the pixels, after the player
                    // detector when there is one so that candidates on bodies are dropped.
                    // With a detection stride the frames in between have no player boxes, so
                    // the classical detector cannot require them on every frame (it still
                    // uses them where they are, and runs after the detector, added first).
                    let bd = crate::stages::ball_detection::BallDetector::new(
                        &config.stage_configs.ball_tracking,
                        &config.stage_configs.ball_detection,
                    )?;
                    b = b
                        .stream_stage(bd.with_players(players_file || (tracking_possible && pd.detection_stride <= 1)));
                }
                ball_candidates = true;
            }
            SourceInput::Detections { ball_candidates: ball, .. } => {
                ball_candidates = ball;
                tracking_possible = true;
            }
        }
        if ball_candidates {
            b = b
                .stream_stage(crate::stages::ball_tracking::BallTracker::new(&config.stage_configs.ball_tracking)?)
                .match_stage(crate::stages::ball_tracking::BallSmoothing::new());
        }
        // Calibration before tracking, so that the tracker can use pitch positions.
        let calibrated = match PitchCalibration::from_config(config)? {
            Some(stage) => {
                let pc = &config.stage_configs.pitch_calibration;
                let files = [&config.homography_path, &pc.homography_path, &pc.keypoint_model];
                for path in files.into_iter().flatten() {
                    input_identity.push_str(&file_identity(path));
                }
                b = b.stream_stage(stage);
                true
            }
            None => false,
        };
        if tracking_possible {
            let pt = &config.stage_configs.player_tracking;
            b = b.stream_stage(PlayerTracker::new(pt)?);
            if matches!(input, SourceInput::Pixels) && calibrated && pt.reid_gate_m > 0.0 && pt.reid_kit_gate > 0.0 {
                // Each detection's kit colour, for re-identification on the pitch (which needs
                // homographies); the tracker runs after it (`Stage::after`).
                let min_pixels = config.stage_configs.team_classification.min_pixels;
                b = b.stream_stage(crate::stages::teams::PlayerAppearance::new(min_pixels));
            }
            // The model's goalkeeper and referee classes set roles whatever gives the teams.
            let class_roles = crate::stages::teams::ClassRoles::from_config(&config.stage_configs.player_detection);
            if matches!(input, SourceInput::Pixels) {
                // Kit colours while the pixels are there; teams once the match is complete.
                let tc = &config.stage_configs.team_classification;
                b = b
                    .stream_stage(crate::stages::teams::TeamFeatures::new())
                    .match_stage(crate::stages::teams::TeamClassification::new(tc)?.with_class_roles(class_roles));
            } else if matches!(input, SourceInput::Detections { user_teams: true, .. }) {
                // No pixels: teams only as the user gave them, never guessed.
                b = b.match_stage(crate::stages::teams::UserTeams::new().with_class_roles(class_roles));
            }
            if calibrated {
                // Event detection and formation analysis run after team classification
                // (`Stage::after(teams)`) when a stage provides teams, without teams otherwise.
                let sc = &config.stage_configs;
                if ball_candidates {
                    b = b.match_stage(crate::stages::events::EventDetection::new(&sc.event_detection)?);
                }
                b = b
                    .match_stage(crate::stages::formations::FormationAnalysis::new(&sc.formation_analysis)?)
                    .match_stage(crate::stages::metrics::PhysicalMetrics::new(&sc.metrics)?);
            }
        }
        if config.checkpoint_enabled {
            if let Some(url) = &config.redis_url {
                b = b.shared_checkpoint_store(redis_store(url, config.checkpoint_ttl_seconds)?);
            } else if let Some(dir) = &config.checkpoint_dir {
                b = b.checkpoint_store(FsCheckpointStore::new(dir));
            }
        }
        let id = match &config.pipeline_id {
            Some(id) => id.clone(),
            None => {
                // Same inputs + same analysis settings = same id, so a rerun finds its own
                // checkpoints; a changed config starts afresh.
                // Settings that change how the work is run but not its result stay out.
                let mut settings = config.clone();
                settings.checkpoint_dir = None;
                settings.output_dir = None;
                settings.report_tables = crate::config::ReportTables::Inline;
                settings.log_level = None;
                settings.checkpoint_enabled = true;
                settings.checkpoint_interval_frames = 0;
                settings.checkpoint_ttl_seconds = None;
                settings.batch_size = 0;
                settings.channel_capacity = 0;
                settings.retry = Default::default();
                settings.redis_url = None;
                if !live {
                    // A file run never reads the `live` keys: changing one must not stop it
                    // from resuming its checkpoints. A live session's work depends on them.
                    settings.live = Default::default();
                }
                let json = serde_json::to_string(&settings).expect("config serialises");
                format!("fm-{:016x}", fnv1a(format!("{json}|{input_identity}").as_bytes()))
            }
        };
        Ok(if config.pipeline_id.is_some() { b.pipeline_id(id) } else { b.derived_pipeline_id(id) })
    }

    /// The standard pipeline for a config (see [`Pipeline::builder_from_config`]).
    pub fn from_config(config: &PipelineConfig) -> Result<Pipeline> {
        Self::builder_from_config(config)?.build()
    }

    /// Runs the pipeline to the end and returns the report. On error, checkpoints written
    /// so far are kept, so a new pipeline with the same id resumes from them.
    pub fn run(self) -> Result<MatchReport> {
        executor::run(self)
    }
}

/// The Redis checkpoint store `redis_url` names (it replaces the filesystem store: workers on
/// other machines must see the checkpoints).
#[cfg(feature = "redis")]
fn redis_store(url: &str, ttl_seconds: Option<u64>) -> Result<Arc<dyn CheckpointStore>> {
    let ttl = ttl_seconds.map(Duration::from_secs);
    Ok(Arc::new(redis_store::RedisCheckpointStore::open(url, ttl)?))
}

/// Without the `redis` feature a Redis URL is an error, never ignored: the run would keep its
/// checkpoints where no other worker finds them.
#[cfg(not(feature = "redis"))]
fn redis_store(url: &str, _ttl_seconds: Option<u64>) -> Result<Arc<dyn CheckpointStore>> {
    let _ = url;
    Err(BuildError::Unsupported(
        "redis_url (REDIS_URL) is set, but this footml was built without the Redis checkpoint store: \
         build it with `--features redis` (the `cli` feature and the Python package include it), \
         or unset redis_url"
            .into(),
    )
    .into())
}

/// Path, size and modification time of a file: enough to notice that an input changed.
fn file_identity(path: &std::path::Path) -> String {
    let meta = std::fs::metadata(path).ok();
    let len = meta.as_ref().map(|m| m.len()).unwrap_or(0);
    let mtime = meta
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}:{len}:{mtime};", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `live` keys count in the derived id of a live session (its stages read them: with
    /// another `live.user_teams` it runs other stages), never in a file run's.
    #[test]
    fn live_keys_count_in_the_id_of_live_sessions_only() {
        let id = |json: &str, live: bool| {
            let config = PipelineConfig::from_json(json).unwrap();
            let input = SourceInput::Detections { ball_candidates: false, user_teams: false };
            Pipeline::standard_stages(Pipeline::builder(), &config, input, "same input".into(), live)
                .unwrap()
                .pipeline_id
                .unwrap()
        };
        let plain = r#"{"fps": 25, "frame_size": [64, 48]}"#;
        let other = r#"{"fps": 25, "frame_size": [64, 48], "live": {"teams": {"min_tracks": 9}}}"#;
        assert_ne!(id(plain, true), id(other, true));
        assert_eq!(id(plain, false), id(other, false));
        // With no `live` keys both kinds hash the same settings.
        assert_eq!(id(plain, true), id(plain, false));
    }

    /// Built without the Redis store, a Redis URL is a config error that says how to get it,
    /// never a run whose checkpoints silently stay on this machine (scripts/test.sh runs this
    /// in a `--no-default-features` build).
    #[cfg(not(feature = "redis"))]
    #[test]
    fn redis_url_without_the_feature_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let dets = dir.path().join("d.txt");
        std::fs::write(&dets, "1,-1,10,10,20,40,0.9,-1,-1,-1\n").unwrap();
        let config = PipelineConfig {
            detections_path: Some(dets),
            fps: Some(25.0),
            frame_size: Some([1920, 1080]),
            redis_url: Some("redis://127.0.0.1:6379/0".into()),
            ..Default::default()
        };
        let e = Pipeline::builder_from_config(&config).err().unwrap();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(e.to_string().contains("--features redis"), "{e}");
        // Without checkpoints the URL has nothing to do.
        let config = PipelineConfig { checkpoint_enabled: false, ..config };
        assert!(Pipeline::builder_from_config(&config).is_ok());
    }
}
