//! Pipeline events and the sinks that receive them.
//!
//! Each sink runs on its own thread behind a bounded queue: emitting an event never blocks
//! the analysis. When a sink's queue is full the event is dropped for that sink and counted;
//! a sink that keeps failing (or panicking) is switched off for a cool-down period by a
//! circuit breaker, its events counted as dropped meanwhile.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Something that happened in a pipeline run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineEvent {
    /// The run.
    pub pipeline_id: String,
    /// The stage, for stage events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// When, in seconds since the Unix epoch.
    pub timestamp: f64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The kinds of [`PipelineEvent`], serialised with a `"type"` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A stage began (or resumed).
    StageStarted {
        /// First frame the stage will see (non-zero when resuming).
        from_frame: u64,
    },
    /// A stage made progress.
    StageProgress {
        /// Frames processed so far (including frames restored from checkpoints).
        frames_done: u64,
        /// Frames expected in all, when known.
        frames_total: Option<u64>,
        /// Frames per second over this run.
        fps: f64,
        /// Estimated seconds left, when the total is known.
        eta_s: Option<f64>,
    },
    /// A stage finished.
    StageCompleted {
        /// Frames the stage processed in this run.
        frames: u64,
        /// Seconds the stage ran.
        duration_s: f64,
    },
    /// A stage failed for good.
    StageFailed {
        /// The error.
        error: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A stage hit a transient error and will try again.
    StageRetrying {
        /// The attempt that is about to start (2 for the first retry).
        attempt: u32,
        /// Wait before it, in milliseconds.
        delay_ms: u64,
        /// The error that caused the retry.
        error: String,
    },
    /// A checkpoint was written.
    CheckpointSaved {
        /// Chunk number.
        chunk: u64,
        /// Frames covered by checkpoints so far.
        frames_done: u64,
    },
    /// Something went wrong that did not stop the run (a corrupt checkpoint skipped, a
    /// checkpoint that could not be written).
    Warning {
        /// What happened.
        message: String,
    },
    /// The run finished.
    PipelineCompleted {
        /// Frames in the report.
        frames: u64,
        /// Seconds the run took.
        duration_s: f64,
    },
    /// The run failed.
    PipelineFailed {
        /// The error.
        error: String,
    },
}

impl PipelineEvent {
    /// An event stamped with the current time.
    pub fn now(pipeline_id: &str, stage: Option<&str>, kind: EventKind) -> Self {
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        PipelineEvent { pipeline_id: pipeline_id.to_string(), stage: stage.map(str::to_string), timestamp, kind }
    }

    /// The snake_case name of the event kind (the `"type"` field of its JSON).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            EventKind::StageStarted { .. } => "stage_started",
            EventKind::StageProgress { .. } => "stage_progress",
            EventKind::StageCompleted { .. } => "stage_completed",
            EventKind::StageFailed { .. } => "stage_failed",
            EventKind::StageRetrying { .. } => "stage_retrying",
            EventKind::CheckpointSaved { .. } => "checkpoint_saved",
            EventKind::Warning { .. } => "warning",
            EventKind::PipelineCompleted { .. } => "pipeline_completed",
            EventKind::PipelineFailed { .. } => "pipeline_failed",
        }
    }
}

/// Receives pipeline events. Each sink gets its own thread, so `send` may block or be slow
/// without slowing the analysis; errors and panics are contained by a circuit breaker.
pub trait EventSink: Send {
    /// Delivers one event.
    fn send(&mut self, event: &PipelineEvent) -> Result<()>;
    /// Called when the run ends, so buffered output can be written.
    fn flush(&mut self) -> Result<()>;
}

/// Forwards events into a crossbeam channel (never blocks: a full channel is a failed send).
pub struct ChannelSink(pub Sender<PipelineEvent>);

impl EventSink for ChannelSink {
    fn send(&mut self, event: &PipelineEvent) -> Result<()> {
        self.0.try_send(event.clone()).map_err(|e| match e {
            TrySendError::Full(_) => Error::transient("event channel is full"),
            TrySendError::Disconnected(_) => Error::permanent("event channel receiver was dropped"),
        })
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Calls a closure for each event.
pub struct FnSink<F>(pub F);

impl<F: FnMut(&PipelineEvent) + Send> EventSink for FnSink<F> {
    fn send(&mut self, event: &PipelineEvent) -> Result<()> {
        (self.0)(event);
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Appends events as JSON Lines to a file, one flushed line per event so that a killed
/// process leaves a readable file.
pub struct JsonLinesSink {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonLinesSink {
    /// Creates (or appends to) the file.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::options().create(true).append(true).open(&path).map_err(|e| Error::io(&path, e))?;
        Ok(JsonLinesSink { path, out: BufWriter::new(file) })
    }
}

impl EventSink for JsonLinesSink {
    fn send(&mut self, event: &PipelineEvent) -> Result<()> {
        let line = serde_json::to_string(event).map_err(|e| Error::permanent(format!("event to JSON: {e}")))?;
        writeln!(self.out, "{line}").and_then(|_| self.out.flush()).map_err(|e| Error::io(&self.path, e))
    }
    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))
    }
}

/// Logs events through `tracing` (progress at debug level, warnings and failures at warn
/// and error, the rest at info).
pub struct TracingSink;

impl EventSink for TracingSink {
    fn send(&mut self, e: &PipelineEvent) -> Result<()> {
        let stage = e.stage.as_deref().unwrap_or("-");
        match &e.kind {
            EventKind::StageProgress { .. } => {
                tracing::debug!(pipeline = %e.pipeline_id, stage, event = ?e.kind, "progress")
            }
            EventKind::Warning { message } => {
                tracing::warn!(pipeline = %e.pipeline_id, stage, "{message}")
            }
            EventKind::StageFailed { error, .. } | EventKind::PipelineFailed { error } => {
                tracing::error!(pipeline = %e.pipeline_id, stage, "{error}")
            }
            kind => {
                tracing::info!(pipeline = %e.pipeline_id, stage, event = ?kind, "{}", e.type_name())
            }
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Consecutive failures that open a sink's circuit breaker.
const BREAKER_THRESHOLD: u32 = 5;
/// How long an open breaker keeps a sink switched off.
const BREAKER_COOLDOWN: Duration = Duration::from_secs(5);
/// Events queued per sink before new ones are dropped.
const SINK_QUEUE: usize = 1024;

struct SinkWorker {
    tx: Option<Sender<PipelineEvent>>,
    handle: Option<JoinHandle<()>>,
    done: Receiver<()>,
}

struct HubInner {
    workers: std::sync::Mutex<Vec<SinkWorker>>,
    senders: Vec<Sender<PipelineEvent>>,
    dropped: Arc<AtomicU64>,
}

/// Fans events out to the sinks of a run. Cheap to clone.
#[derive(Clone)]
pub struct EventHub(Option<Arc<HubInner>>);

impl EventHub {
    /// A hub with no sinks: events are discarded.
    pub fn disabled() -> Self {
        EventHub(None)
    }

    /// Starts one worker thread per sink.
    pub fn start(sinks: Vec<Box<dyn EventSink>>) -> Self {
        if sinks.is_empty() {
            return Self::disabled();
        }
        let dropped = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        let mut senders = Vec::new();
        for (i, sink) in sinks.into_iter().enumerate() {
            let (tx, rx) = bounded::<PipelineEvent>(SINK_QUEUE);
            let (done_tx, done) = bounded::<()>(1);
            let dropped = dropped.clone();
            let handle = std::thread::Builder::new()
                .name(format!("footml-sink-{i}"))
                .spawn(move || {
                    run_sink(sink, rx, &dropped);
                    let _ = done_tx.send(());
                })
                .ok();
            senders.push(tx.clone());
            workers.push(SinkWorker { tx: Some(tx), handle, done });
        }
        EventHub(Some(Arc::new(HubInner { workers: std::sync::Mutex::new(workers), senders, dropped })))
    }

    /// Queues an event for every sink; never blocks.
    pub fn emit(&self, event: PipelineEvent) {
        let Some(inner) = &self.0 else { return };
        for tx in &inner.senders {
            if tx.try_send(event.clone()).is_err() {
                inner.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Events that did not reach a sink (queue full, sink failing or switched off).
    pub fn dropped(&self) -> u64 {
        self.0.as_ref().map_or(0, |i| i.dropped.load(Ordering::Relaxed))
    }

    /// Stops accepting events and waits up to `grace` for the sinks to deliver what is
    /// queued. A sink still busy after that is left to finish on its own thread.
    pub fn close(&self, grace: Duration) {
        let Some(inner) = &self.0 else { return };
        let Ok(mut workers) = inner.workers.lock() else {
            return;
        };
        for w in workers.iter_mut() {
            w.tx.take();
        }
        let deadline = Instant::now() + grace;
        for w in workers.iter_mut() {
            // The hub's `senders` clones keep the channel open; workers exit once the hub
            // (and every clone of it) is dropped, or here on the done signal.
            let left = deadline.saturating_duration_since(Instant::now());
            if w.done.recv_timeout(left).is_ok()
                && let Some(h) = w.handle.take()
            {
                let _ = h.join();
            }
        }
    }
}

impl Drop for HubInner {
    fn drop(&mut self) {
        // Dropping `senders` disconnects the queues; workers flush and exit on their own.
        self.senders.clear();
    }
}

fn run_sink(mut sink: Box<dyn EventSink>, rx: Receiver<PipelineEvent>, dropped: &AtomicU64) {
    let mut failures = 0u32;
    let mut open_until: Option<Instant> = None;
    let mut last_flush = Instant::now();
    loop {
        // Wake up now and then so a terminal event can be flushed promptly even when the
        // queue stays open.
        let event = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(e) => e,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if last_flush.elapsed() > Duration::from_millis(500) {
                    let _ = catch_unwind(AssertUnwindSafe(|| sink.flush()));
                    last_flush = Instant::now();
                }
                continue;
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        let terminal = matches!(event.kind, EventKind::PipelineCompleted { .. } | EventKind::PipelineFailed { .. });
        if let Some(t) = open_until {
            if Instant::now() < t {
                dropped.fetch_add(1, Ordering::Relaxed);
                if terminal {
                    // Nothing more will come: stop now rather than keep the run waiting.
                    break;
                }
                continue;
            }
            open_until = None;
        }
        let ok = matches!(catch_unwind(AssertUnwindSafe(|| sink.send(&event))), Ok(Ok(())));
        if ok {
            failures = 0;
        } else {
            dropped.fetch_add(1, Ordering::Relaxed);
            failures += 1;
            if failures >= BREAKER_THRESHOLD {
                open_until = Some(Instant::now() + BREAKER_COOLDOWN);
                failures = 0;
            }
        }
        if terminal {
            // The run is over: nothing more will come.
            break;
        }
    }
    let _ = catch_unwind(AssertUnwindSafe(|| sink.flush()));
}
