//! Runs a built pipeline: the stream (a thread per stage, bounded channels, chunked
//! checkpoints), then the match stages, then the report.
//!
//! Checkpoints are consistent snapshots taken without stopping the stream: the source cuts
//! batches at chunk boundaries and marks the batch that closes a chunk; each stage, after
//! processing that batch, adds its state to it; the collector at the end of the stream then
//! holds, in one value, the records of the chunk and the state of every stage exactly after
//! its last frame, and stores them together.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use serde::{Deserialize, Serialize};

use super::Pipeline;
use super::cancel::CancellationToken;
use super::checkpoint::{CheckpointError, CheckpointKey, CheckpointStore, RunLock};
use super::events::{EventHub, EventKind, PipelineEvent};
use super::retry::{RetryPolicy, sleep_unless_cancelled};
use super::stage::{Artifact, FrameSource, MatchStage, StageContext, StreamStage};
use crate::report::{MatchReport, StageReport};
use crate::types::{FrameBatch, FrameRecord, MatchData, VideoInfo};
use crate::{Error, Result};

/// Checkpoint entry of one chunk of the stream.
#[derive(Serialize, Deserialize)]
struct StreamChunk {
    first_frame: u64,
    end_frame: u64,
    records: Vec<FrameRecord>,
    /// State of each streaming stage after `end_frame - 1`.
    states: BTreeMap<String, Vec<u8>>,
    frames_lost: u64,
}

/// Checkpoint entry written once the whole stream is done.
#[derive(Serialize, Deserialize)]
struct StreamEnd {
    frames: u64,
    frames_lost: u64,
    side_outputs: BTreeMap<String, String>,
}

const STREAM: &str = "stream";
const STREAM_END: &str = "stream_end";
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

fn match_key(stage: &str) -> String {
    let safe: String =
        stage.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' }).collect();
    format!("match.{safe}")
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    rmp_serde::to_vec_named(v).map_err(|e| Error::permanent(format!("checkpoint encoding: {e}")))
}

/// Shared, read-only facts of a run, handed to every thread.
struct Run<'a> {
    id: &'a str,
    hub: &'a EventHub,
    cancel: &'a CancellationToken,
    info: &'a VideoInfo,
    store: Option<&'a dyn CheckpointStore>,
    retry: &'a RetryPolicy,
    stage_retry: &'a BTreeMap<String, RetryPolicy>,
}

impl Run<'_> {
    fn emit(&self, stage: Option<&str>, kind: EventKind) {
        self.hub.emit(PipelineEvent::now(self.id, stage, kind));
    }

    fn policy(&self, stage: &str) -> &RetryPolicy {
        self.stage_retry.get(stage).unwrap_or(self.retry)
    }

    fn ctx(&self, stage: &str) -> StageContext {
        StageContext {
            pipeline_id: self.id.to_string(),
            stage: stage.to_string(),
            cancel: self.cancel.clone(),
            events: self.hub.clone(),
            info: self.info.clone(),
        }
    }

    /// Runs `f` under the stage's retry policy, with panics caught and events sent.
    fn attempt<T>(&self, stage: &str, mut f: impl FnMut() -> Result<T>) -> (Result<T>, u32) {
        let (result, attempts) = self.policy(stage).run(
            self.cancel,
            |_| match catch_unwind(AssertUnwindSafe(&mut f)) {
                Ok(r) => r,
                Err(payload) => Err(Error::Panicked { stage: stage.to_string(), message: panic_message(&payload) }),
            },
            |attempt, delay, e| {
                self.emit(
                    Some(stage),
                    EventKind::StageRetrying { attempt, delay_ms: delay.as_millis() as u64, error: e.to_string() },
                )
            },
        );
        let result = result.map_err(|e| match e {
            Error::Cancelled | Error::Panicked { .. } => e,
            e => Error::StageFailed { stage: stage.to_string(), attempts, source: Box::new(e) },
        });
        if let Err(e) = &result
            && !matches!(e, Error::Cancelled)
        {
            self.emit(Some(stage), EventKind::StageFailed { error: e.to_string(), attempts });
        }
        (result, attempts)
    }

    /// Stores an entry, retrying transient failures; a failure is a warning, not a failed run.
    fn save(&self, stage: &str, chunk: u64, bytes: &[u8]) -> bool {
        let Some(store) = self.store else {
            return false;
        };
        let key = CheckpointKey::new(self.id, stage, chunk);
        let (r, _) = self.retry.run(self.cancel, |_| store.put(&key, bytes).map_err(Error::Checkpoint), |_, _, _| {});
        if let Err(e) = r {
            self.emit(Some(stage), EventKind::Warning { message: format!("checkpoint {key} not saved: {e}") });
            return false;
        }
        true
    }

    /// Loads and decodes an entry. A damaged entry is reported as a warning and treated as
    /// absent; an unreachable store is an error.
    fn load<T: for<'de> Deserialize<'de>>(&self, stage: &str, chunk: u64) -> Result<Option<T>> {
        let Some(store) = self.store else {
            return Ok(None);
        };
        let key = CheckpointKey::new(self.id, stage, chunk);
        let bytes = match store.get(&key) {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(e @ CheckpointError::Corrupt { .. }) => {
                self.emit(Some(stage), EventKind::Warning { message: format!("skipping checkpoint: {e}") });
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        match rmp_serde::from_slice(&bytes) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                self.emit(
                    Some(stage),
                    EventKind::Warning { message: format!("skipping checkpoint {key}: cannot decode it ({e})") },
                );
                Ok(None)
            }
        }
    }
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    crate::error::panic_message(payload.as_ref()).unwrap_or("non-string panic payload").to_string()
}

/// Throttled progress reporting for one stage.
struct Progress {
    started: Instant,
    last: Instant,
    base: u64,
    done: u64,
}

impl Progress {
    fn new(base: u64) -> Self {
        let now = Instant::now();
        Progress { started: now, last: now - PROGRESS_EVERY, base, done: 0 }
    }

    fn add(&mut self, run: &Run, stage: &str, frames: u64, force: bool) {
        self.done += frames;
        if !force && self.last.elapsed() < PROGRESS_EVERY {
            return;
        }
        self.last = Instant::now();
        let secs = self.started.elapsed().as_secs_f64();
        let fps = if secs > 0.0 { self.done as f64 / secs } else { 0.0 };
        let frames_done = self.base + self.done;
        let frames_total = run.info.frame_count;
        let eta_s = frames_total.filter(|_| fps > 0.0).map(|t| t.saturating_sub(frames_done) as f64 / fps);
        run.emit(Some(stage), EventKind::StageProgress { frames_done, frames_total, fps, eta_s });
    }
}

struct StageOutcome {
    duration_s: f64,
    attempts: u32,
}

struct SourceOutcome {
    outcome: StageOutcome,
    side_outputs: BTreeMap<String, String>,
}

pub(super) fn run(p: Pipeline) -> Result<MatchReport> {
    let hub = EventHub::start(p.sinks);
    let started = Instant::now();
    let Pipeline {
        pipeline_id,
        source,
        stream,
        matches,
        store,
        retry,
        stage_retry,
        cancel,
        batch_size,
        channel_capacity,
        checkpoint_interval,
        resume,
        keep_checkpoints,
        pace,
        model_version,
        sink_grace,
        output_dir,
        report_tables,
        record_tap,
        ..
    } = p;
    let info = source.info();
    let run = Run {
        id: &pipeline_id,
        hub: &hub,
        cancel: &cancel,
        info: &info,
        store: store.as_deref(),
        retry: &retry,
        stage_retry: &stage_retry,
    };
    let settings = Settings { batch_size, channel_capacity, checkpoint_interval, resume, pace, record_tap };
    // The run's lock in a shared store, held from before the first read of a checkpoint to
    // after the last write or delete, so that two workers never run this pipeline at once.
    let lock = match acquire_lock(&run) {
        Ok(lock) => lock,
        Err(e) => {
            run.emit(None, EventKind::PipelineFailed { error: e.to_string() });
            hub.close(sink_grace);
            return Err(e);
        }
    };
    let result = run_all(&run, source, stream, matches, &settings).and_then(|(data, stages, frames_lost, outputs)| {
        let report = MatchReport::from_match(&data, &pipeline_id, model_version, stages, frames_lost, outputs);
        // The report holds what is kept of the records: free them before writing it, so the
        // match is not in memory twice while the files are written.
        drop(data);
        if let Some(dir) = &output_dir {
            report.write(&dir.join("report.json"), report_tables)?;
            report.write_mot_tracks(&dir.join("tracks.txt"))?;
        }
        Ok(report)
    });
    match &result {
        Ok(report) => {
            if let Some(store) = run.store
                && !keep_checkpoints
            {
                // The report exists (and is on disk when an output dir was given): the
                // checkpoints have served their purpose.
                for key in store.list(&pipeline_id).unwrap_or_default() {
                    let _ = store.delete(&key);
                }
            }
            let frames = report.video.frame_count.unwrap_or(0).max(report_frames(report));
            run.emit(None, EventKind::PipelineCompleted { frames, duration_s: started.elapsed().as_secs_f64() });
        }
        Err(e) => run.emit(None, EventKind::PipelineFailed { error: e.to_string() }),
    }
    if let Some(lock) = lock
        && let Err(e) = lock.release()
    {
        // The lock expires by itself; the run's result stands.
        run.emit(None, EventKind::Warning { message: format!("run lock not released: {e}") });
    }
    hub.close(sink_grace);
    result.map(|mut r| {
        r.events_dropped = hub.dropped();
        r
    })
}

/// Takes the store's lock on the run ([`CheckpointStore::lock`]), retrying a store that
/// cannot be reached under the run's retry policy. A lock held by another worker is returned
/// at once ([`CheckpointError::Locked`]): that run may take hours, and whoever started this
/// one (a task queue) decides when to try again.
fn acquire_lock(run: &Run) -> Result<Option<Box<dyn RunLock>>> {
    let Some(store) = run.store else {
        return Ok(None);
    };
    let mut locked = None;
    let (r, _) = run.retry.run(
        run.cancel,
        |_| match store.lock(run.id) {
            Err(e @ CheckpointError::Locked { .. }) => {
                locked = Some(e);
                Ok(None)
            }
            r => r.map_err(Error::Checkpoint),
        },
        |_, _, _| {},
    );
    match locked {
        Some(e) => Err(e.into()),
        None => r,
    }
}

fn report_frames(r: &MatchReport) -> u64 {
    r.stages.first().map_or(0, |s| s.frames)
}

struct Settings {
    batch_size: usize,
    channel_capacity: usize,
    checkpoint_interval: u64,
    resume: bool,
    pace: Option<f64>,
    record_tap: Option<Sender<FrameRecord>>,
}

type RunOutput = (MatchData, Vec<StageReport>, u64, BTreeMap<String, String>);

fn run_all(
    run: &Run,
    mut source: Box<dyn FrameSource>,
    mut stream: Vec<Box<dyn StreamStage>>,
    mut matches: Vec<Box<dyn MatchStage>>,
    s: &Settings,
) -> Result<RunOutput> {
    // 1. What earlier runs finished.
    let mut frames: Vec<FrameRecord> = Vec::new();
    let mut resume_at = 0u64;
    let mut next_chunk = 0u64;
    let mut states: Option<BTreeMap<String, Vec<u8>>> = None;
    let mut frames_lost = 0u64;
    let mut stream_end: Option<StreamEnd> = None;
    if let Some(store) = run.store {
        if s.resume {
            while let Some(chunk) = run.load::<StreamChunk>(STREAM, next_chunk)? {
                let complete = stream.iter().all(|st| chunk.states.contains_key(st.name()));
                if chunk.first_frame != resume_at || !complete {
                    run.emit(
                        Some(STREAM),
                        EventKind::Warning {
                            message: format!(
                                "checkpoint chunk {next_chunk} does not continue the previous one; resuming before it"
                            ),
                        },
                    );
                    break;
                }
                frames.extend(chunk.records);
                resume_at = chunk.end_frame;
                frames_lost = chunk.frames_lost;
                states = Some(chunk.states);
                next_chunk += 1;
            }
            // Entries after the first gap cannot be trusted to continue from it.
            for key in store.list(run.id)? {
                if key.stage == STREAM && key.chunk >= next_chunk {
                    store.delete(&key)?;
                }
            }
            stream_end = run.load::<StreamEnd>(STREAM_END, 0)?.filter(|e| e.frames == frames.len() as u64);
        } else {
            for key in store.list(run.id)? {
                store.delete(&key)?;
            }
        }
    }

    // 2. The stream.
    let mut reports = Vec::new();
    let side_outputs;
    if let Some(end) = stream_end {
        frames_lost = end.frames_lost;
        side_outputs = end.side_outputs;
        reports.push(stage_report(source.name(), frames.len() as u64, None));
        for st in &stream {
            reports.push(stage_report(st.name(), frames.len() as u64, None));
        }
    } else {
        if let Some(states) = &states {
            for st in stream.iter_mut() {
                st.load_state(&states[st.name()])?;
            }
        }
        if resume_at > 0 {
            source.seek(resume_at)?;
        }
        let (src, outcomes, lost) =
            run_stream(run, source.as_mut(), &mut stream, s, resume_at, next_chunk, frames_lost, &mut frames)?;
        frames_lost = lost;
        side_outputs = src.side_outputs;
        reports.push(stage_report(source.name(), frames.len() as u64, Some(&src.outcome)));
        for (st, o) in stream.iter().zip(&outcomes) {
            reports.push(stage_report(st.name(), frames.len() as u64, Some(o)));
        }
        let end = StreamEnd { frames: frames.len() as u64, frames_lost, side_outputs: side_outputs.clone() };
        run.save(STREAM_END, 0, &encode(&end)?);
    }

    // 3. Match stages, resuming after the last one with a checkpoint.
    let mut data = MatchData { video: run.info.clone(), frames, ..Default::default() };
    // A source that could not know its length up front (a live feed) knows it now.
    if data.video.frame_count.is_none() {
        data.video.frame_count = Some(data.frames.len() as u64);
        if data.video.fps > 0.0 {
            data.video.duration_s = Some(data.frames.len() as f64 / data.video.fps);
        }
    }
    let mut first = 0;
    if s.resume {
        for (i, st) in matches.iter().enumerate().rev() {
            if let Some(saved) = run.load::<MatchData>(&match_key(st.name()), 0)? {
                data = saved;
                first = i + 1;
                break;
            }
        }
    }
    for (i, st) in matches.iter_mut().enumerate() {
        let name = st.name().to_string();
        if i < first {
            reports.push(stage_report(&name, data.frames.len() as u64, None));
            continue;
        }
        if run.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        run.emit(Some(&name), EventKind::StageStarted { from_frame: 0 });
        let t = Instant::now();
        let ctx = run.ctx(&name);
        let retries = run.policy(&name).max_attempts > 1;
        let (r, attempts) = run.attempt(&name, || {
            if retries {
                // Work on a copy so a failed attempt leaves nothing half-done behind.
                let mut copy = data.clone();
                st.run(&mut copy, &ctx).map(|()| Some(copy))
            } else {
                st.run(&mut data, &ctx).map(|()| None)
            }
        });
        if let Some(done) = r? {
            data = done;
        }
        let outcome = StageOutcome { duration_s: t.elapsed().as_secs_f64(), attempts };
        run.emit(
            Some(&name),
            EventKind::StageCompleted { frames: data.frames.len() as u64, duration_s: outcome.duration_s },
        );
        run.save(&match_key(&name), 0, &encode(&data)?);
        reports.push(stage_report(&name, data.frames.len() as u64, Some(&outcome)));
    }
    Ok((data, reports, frames_lost, side_outputs))
}

fn stage_report(name: &str, frames: u64, outcome: Option<&StageOutcome>) -> StageReport {
    StageReport {
        name: name.to_string(),
        status: "completed".into(),
        duration_s: outcome.map_or(0.0, |o| o.duration_s),
        frames,
        attempts: outcome.map_or(1, |o| o.attempts.max(1)),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_stream(
    run: &Run,
    source: &mut dyn FrameSource,
    stream: &mut [Box<dyn StreamStage>],
    s: &Settings,
    resume_at: u64,
    first_chunk: u64,
    lost_before: u64,
    frames: &mut Vec<FrameRecord>,
) -> Result<(SourceOutcome, Vec<StageOutcome>, u64)> {
    let checkpointing = run.store.is_some();
    // Pixels can go as soon as the last stage that reads them is done.
    let last_pixel_user = stream.iter().rposition(|st| st.requires().contains(&Artifact::FRAMES));
    let mut senders: Vec<Sender<FrameBatch>> = Vec::new();
    let mut receivers: Vec<Receiver<FrameBatch>> = Vec::new();
    for _ in 0..=stream.len() {
        let (tx, rx) = bounded(s.channel_capacity);
        senders.push(tx);
        receivers.push(rx);
    }
    let collected = std::thread::scope(|scope| {
        let mut rx_iter = receivers.into_iter();
        let mut tx_iter = senders.into_iter();
        let src_tx = tx_iter.next().expect("one channel per hop");
        let src_handle = std::thread::Builder::new()
            .name("footml-source".into())
            .spawn_scoped(scope, || {
                run_source(run, source, src_tx, s, resume_at, lost_before, checkpointing, last_pixel_user.is_none())
            })
            .map_err(|e| Error::permanent(format!("cannot start the source thread: {e}")));
        let mut handles = Vec::new();
        for (i, st) in stream.iter_mut().enumerate() {
            let rx = rx_iter.next().expect("one channel per hop");
            let tx = tx_iter.next().expect("one channel per hop");
            let drop_pixels = last_pixel_user == Some(i);
            let h = std::thread::Builder::new()
                .name(format!("footml-{}", st.name()))
                .spawn_scoped(scope, move || run_stage(run, st.as_mut(), rx, tx, drop_pixels, resume_at))
                .map_err(|e| Error::permanent(format!("cannot start a stage thread: {e}")));
            handles.push(h);
        }
        let last_rx = rx_iter.next().expect("one channel per hop");
        let collector = collect(run, last_rx, resume_at, first_chunk, frames, s.record_tap.as_ref());
        // Threads end on their own: each stops when its input closes or its output is gone.
        let src = src_handle.and_then(|h| h.join().unwrap_or_else(|p| Err(panicked("source", &p))));
        let stages: Vec<Result<StageOutcome>> = handles
            .into_iter()
            .map(|h| h.and_then(|h| h.join().unwrap_or_else(|p| Err(panicked("stage", &p)))))
            .collect();
        (src, stages, collector)
    });
    let (src, stages, collector) = collected;
    // The first real error in stream order explains the others (closed channels, cancels);
    // it is returned as it was raised, typed.
    let (src, lost) = match src {
        Ok(v) => v,
        Err(e) => return Err(first_error(e, stages.into_iter().filter_map(Result::err))),
    };
    let mut outcomes = Vec::with_capacity(stages.len());
    let mut stages = stages.into_iter();
    while let Some(r) = stages.next() {
        match r {
            Ok(o) => outcomes.push(o),
            Err(e) => return Err(first_error(e, stages.filter_map(Result::err))),
        }
    }
    if run.cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    collector?;
    let stages = outcomes;
    Ok((src, stages, lost))
}

fn panicked(what: &str, p: &Box<dyn std::any::Any + Send>) -> Error {
    Error::Panicked { stage: what.to_string(), message: panic_message(p) }
}

/// `first`, unless it is a cancellation caused by a later, real error.
fn first_error(first: Error, later: impl Iterator<Item = Error>) -> Error {
    if !matches!(first, Error::Cancelled) {
        return first;
    }
    later.into_iter().find(|e| !matches!(e, Error::Cancelled)).unwrap_or(first)
}

#[allow(clippy::too_many_arguments)]
fn run_source(
    run: &Run,
    source: &mut dyn FrameSource,
    tx: Sender<FrameBatch>,
    s: &Settings,
    resume_at: u64,
    lost_before: u64,
    checkpointing: bool,
    drop_pixels: bool,
) -> Result<(SourceOutcome, u64)> {
    let name = source.name().to_string();
    run.emit(Some(&name), EventKind::StageStarted { from_frame: resume_at });
    let started = Instant::now();
    let mut progress = Progress::new(resume_at);
    let mut max_attempts = 1;
    let mut batch = FrameBatch::default();
    let lost = |source: &dyn FrameSource| lost_before + source.frames_lost();
    // The chunk the frames in flight since the last closed chunk belong to. A chunk is
    // closed when the first frame of a later chunk arrives (indices may have gaps where
    // frames were lost), or at the end of the stream.
    let mut open_chunk: Option<u64> = None;
    let close = |batch: &mut FrameBatch, source: &dyn FrameSource| {
        batch.states = Some(BTreeMap::new());
        batch.frames_lost = lost(source);
    };
    loop {
        if run.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let (next, attempts) = run.attempt(&name, || source.next_frame());
        max_attempts = max_attempts.max(attempts);
        let Some(mut item) = next? else { break };
        if let Some(speed) = s.pace {
            let due = (item.record.index.saturating_sub(resume_at)) as f64 / (run.info.fps.max(1e-6) * speed);
            let wait = Duration::from_secs_f64(due).saturating_sub(started.elapsed());
            if !sleep_unless_cancelled(wait, run.cancel) {
                return Err(Error::Cancelled);
            }
        }
        if drop_pixels {
            item.drop_pixels();
        }
        let chunk = item.record.index / s.checkpoint_interval;
        if checkpointing && open_chunk.is_some_and(|c| c != chunk) {
            close(&mut batch, source);
            if !send(&tx, &mut batch, &mut progress, run, &name) {
                return Ok((outcome(started, max_attempts, source), lost(source)));
            }
        }
        open_chunk = Some(chunk);
        batch.items.push(item);
        if batch.items.len() >= s.batch_size && !send(&tx, &mut batch, &mut progress, run, &name) {
            // A later stage stopped; its own result says why.
            return Ok((outcome(started, max_attempts, source), lost(source)));
        }
    }
    if checkpointing && open_chunk.is_some() {
        // The last, partial chunk is checkpointed too (by an empty batch when its frames
        // have already gone downstream).
        close(&mut batch, source);
    }
    if !batch.items.is_empty() || batch.states.is_some() {
        send(&tx, &mut batch, &mut progress, run, &name);
    }
    progress.add(run, &name, 0, true);
    let o = outcome(started, max_attempts, source);
    run.emit(
        Some(&name),
        EventKind::StageCompleted { frames: progress.base + progress.done, duration_s: o.outcome.duration_s },
    );
    Ok((o, lost(source)))
}

/// Sends the batch downstream (leaving an empty one); false when the next stage is gone.
fn send(tx: &Sender<FrameBatch>, batch: &mut FrameBatch, progress: &mut Progress, run: &Run, stage: &str) -> bool {
    let n = batch.items.len() as u64;
    if tx.send(std::mem::take(batch)).is_err() {
        return false;
    }
    progress.add(run, stage, n, false);
    true
}

fn outcome(started: Instant, attempts: u32, source: &dyn FrameSource) -> SourceOutcome {
    let side_outputs = source
        .side_outputs()
        .into_iter()
        .map(|p| {
            let kind = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into());
            (kind, p.display().to_string())
        })
        .collect();
    SourceOutcome { outcome: StageOutcome { duration_s: started.elapsed().as_secs_f64(), attempts }, side_outputs }
}

fn run_stage(
    run: &Run,
    stage: &mut dyn StreamStage,
    rx: Receiver<FrameBatch>,
    tx: Sender<FrameBatch>,
    drop_pixels: bool,
    resume_at: u64,
) -> Result<StageOutcome> {
    let name = stage.name().to_string();
    let ctx = run.ctx(&name);
    run.emit(Some(&name), EventKind::StageStarted { from_frame: resume_at });
    let started = Instant::now();
    let mut progress = Progress::new(resume_at);
    let mut max_attempts = 1;
    let retries = run.policy(&name).max_attempts > 1;
    for mut batch in rx.iter() {
        if run.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let (r, attempts) = run.attempt(&name, || {
            if retries {
                // Each attempt starts from the batch as it arrived.
                let mut copy = batch.clone();
                stage.process(&mut copy, &ctx).map(|()| Some(copy))
            } else {
                stage.process(&mut batch, &ctx).map(|()| None)
            }
        });
        max_attempts = max_attempts.max(attempts);
        if let Some(done) = r? {
            batch = done;
        }
        if let Some(states) = &mut batch.states {
            states.insert(name.clone(), stage.save_state()?);
        }
        if drop_pixels {
            for item in &mut batch.items {
                item.drop_pixels();
            }
        }
        let n = batch.items.len() as u64;
        if tx.send(batch).is_err() {
            break;
        }
        progress.add(run, &name, n, false);
    }
    progress.add(run, &name, 0, true);
    let duration_s = started.elapsed().as_secs_f64();
    run.emit(Some(&name), EventKind::StageCompleted { frames: progress.base + progress.done, duration_s });
    Ok(StageOutcome { duration_s, attempts: max_attempts })
}

/// The end of the stream: keeps each frame's record and checkpoints closed chunks.
fn collect(
    run: &Run,
    rx: Receiver<FrameBatch>,
    resume_at: u64,
    first_chunk: u64,
    frames: &mut Vec<FrameRecord>,
    tap: Option<&Sender<FrameRecord>>,
) -> Result<()> {
    let mut chunk = first_chunk;
    let mut chunk_first = resume_at;
    let mut pending: Vec<FrameRecord> = Vec::new();
    for batch in rx.iter() {
        if run.cancel.is_cancelled() {
            break;
        }
        if let Some(tap) = tap {
            for item in &batch.items {
                // A live session that has gone away no longer wants results; the stream
                // still runs to its end for the report.
                let _ = tap.send(item.record.clone());
            }
        }
        let states = batch.states;
        let frames_lost = batch.frames_lost;
        pending.extend(batch.items.into_iter().map(|i| i.record));
        if let Some(states) = states {
            let end_frame = pending.last().map_or(chunk_first, |r| r.index + 1);
            let entry = StreamChunk { first_frame: chunk_first, end_frame, records: pending, states, frames_lost };
            if run.save(STREAM, chunk, &encode(&entry)?) {
                run.emit(Some(STREAM), EventKind::CheckpointSaved { chunk, frames_done: end_frame });
            }
            pending = entry.records;
            frames.append(&mut pending);
            chunk += 1;
            chunk_first = end_frame;
        }
    }
    frames.append(&mut pending);
    Ok(())
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("id", &self.pipeline_id).field("stages", &self.stage_names()).finish()
    }
}
