//! Pipeline engine behaviour seen from outside: graph validation, streaming, back-pressure,
//! cancellation, retries, events, checkpoints and resume.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use footml::pipeline::BuildError;
use footml::pipeline::events::{ChannelSink, EventKind, EventSink, FnSink};
use footml::pipeline::stage::Stage;
use footml::{
    Artifact, CancellationToken, Error, FrameBatch, FsCheckpointStore, MatchData, MatchStage, MemoryCheckpointStore,
    Pipeline, PipelineEvent, Result, RetryPolicy, StageContext, StreamStage,
};

use crate::common::{CountingSource, Summer, started_from, triangular};

/// A stage that needs and makes whatever it is told; does nothing.
struct Named(&'static str, Vec<&'static str>, Vec<&'static str>);

impl Stage for Named {
    fn name(&self) -> &str {
        self.0
    }
    fn requires(&self) -> Vec<Artifact> {
        self.1.iter().map(|a| Artifact::custom(*a)).collect()
    }
    fn provides(&self) -> Vec<Artifact> {
        self.2.iter().map(|a| Artifact::custom(*a)).collect()
    }
}

impl StreamStage for Named {
    fn process(&mut self, _: &mut FrameBatch, _: &StageContext) -> Result<()> {
        Ok(())
    }
    fn save_state(&self) -> Result<Vec<u8>> {
        Ok(vec![])
    }
    fn load_state(&mut self, _: &[u8]) -> Result<()> {
        Ok(())
    }
}

fn build_err(b: footml::PipelineBuilder) -> BuildError {
    match b.build() {
        Err(Error::Build(e)) => e,
        Err(e) => panic!("expected a build error, got {e}"),
        Ok(_) => panic!("expected a build error"),
    }
}

#[test]
fn build_orders_stages_and_rejects_bad_graphs() {
    // Added out of order: the builder runs `b` (needs a) after `a`.
    let p = Pipeline::builder()
        .source(CountingSource::new(1))
        .stream_stage(Named("b", vec!["a"], vec!["b"]))
        .stream_stage(Named("a", vec!["counter"], vec!["a"]))
        .build()
        .unwrap();
    assert_eq!(p.stage_names(), vec!["counting_source", "a", "b"]);

    let e = build_err(Pipeline::builder().source(CountingSource::new(1)).stream_stage(Named(
        "jersey",
        vec!["crops"],
        vec![],
    )));
    assert_eq!(e, BuildError::MissingInput { stage: "jersey".into(), artifact: "crops".into() });
    assert_eq!(e.to_string(), "stage `jersey` requires `crops`, which no source or stage provides");

    let e = build_err(
        Pipeline::builder()
            .source(CountingSource::new(1))
            .stream_stage(Named("x", vec!["y"], vec!["x"]))
            .stream_stage(Named("y", vec!["x"], vec!["y"])),
    );
    assert_eq!(e, BuildError::Cycle { stage: "x".into(), artifact: "y".into() });

    let e = build_err(
        Pipeline::builder()
            .source(CountingSource::new(1))
            .stream_stage(Named("x", vec![], vec![]))
            .stream_stage(Named("x", vec![], vec![])),
    );
    assert_eq!(e, BuildError::DuplicateStage("x".into()));

    let e = build_err(
        Pipeline::builder()
            .source(CountingSource::new(1))
            .stream_stage(Named("p", vec![], vec!["t"]))
            .stream_stage(Named("q", vec![], vec!["t"])),
    );
    assert!(matches!(e, BuildError::DuplicateProvider { .. }), "{e}");
    assert_eq!(build_err(Pipeline::builder()), BuildError::NoSource);
    assert!(matches!(
        build_err(Pipeline::builder().source(CountingSource::new(1)).batch_size(0)),
        BuildError::Unsupported(_)
    ));
}

#[test]
fn stream_processes_every_frame_in_order_with_bounded_lead() {
    let n = 3000;
    let src = CountingSource::new(n);
    let (consumed, max_lead) = (src.consumed.clone(), src.max_lead.clone());
    let mut summer = Summer::new(consumed);
    // A slow last stage: the source must wait for it instead of reading ahead.
    summer.delay = Duration::from_micros(200);
    let (batch, cap) = (4usize, 2usize);
    let report = Pipeline::builder()
        .source(src)
        .stream_stage(summer)
        .stream_stage(Named("middle", vec!["counter"], vec![]))
        .batch_size(batch)
        .channel_capacity(cap)
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(report.stages.iter().map(|s| s.frames).collect::<Vec<_>>(), vec![n; 3]);
    // Frames in flight are bounded by the channels and the batch each thread holds,
    // whatever the length of the video: memory does not grow with it.
    let bound = ((cap + 1) * 3 * batch) as u64;
    let lead = max_lead.load(Ordering::SeqCst);
    assert!(lead <= bound, "source ran {lead} frames ahead (bound {bound})");
}

#[test]
fn pixels_are_dropped_after_the_last_stage_that_reads_them() {
    struct Pixels(Arc<AtomicU32>, bool);
    impl Stage for Pixels {
        fn name(&self) -> &str {
            if self.1 { "reads_pixels" } else { "after" }
        }
        fn requires(&self) -> Vec<Artifact> {
            if self.1 { vec![Artifact::FRAMES] } else { vec![Artifact::custom("seen")] }
        }
        fn provides(&self) -> Vec<Artifact> {
            if self.1 { vec![Artifact::custom("seen")] } else { vec![] }
        }
    }
    impl StreamStage for Pixels {
        fn process(&mut self, b: &mut FrameBatch, _: &StageContext) -> Result<()> {
            self.0.fetch_add(b.items.iter().filter(|i| i.image.is_some()).count() as u32, Ordering::SeqCst);
            Ok(())
        }
        fn save_state(&self) -> Result<Vec<u8>> {
            Ok(vec![])
        }
        fn load_state(&mut self, _: &[u8]) -> Result<()> {
            Ok(())
        }
    }
    let mut src = CountingSource::new(50);
    src.with_pixels = true;
    let (with, after) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    Pipeline::builder()
        .source(src)
        .stream_stage(Pixels(with.clone(), true))
        .stream_stage(Pixels(after.clone(), false))
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(with.load(Ordering::SeqCst), 50);
    assert_eq!(after.load(Ordering::SeqCst), 0);
}

#[test]
fn cancellation_from_another_thread_stops_the_run() {
    let src = CountingSource::new(1_000_000);
    let mut summer = Summer::new(src.consumed.clone());
    summer.delay = Duration::from_millis(1);
    let token = CancellationToken::new();
    let p = Pipeline::builder().source(src).stream_stage(summer).cancellation_token(token.clone()).build().unwrap();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        token.cancel();
    });
    let r = p.run();
    canceller.join().unwrap();
    assert!(matches!(r, Err(Error::Cancelled)), "{:?}", r.err());
}

/// A stage that misbehaves at one frame.
struct Faulty {
    at: u64,
    mode: &'static str,
    failures_left: Arc<AtomicU32>,
}

impl Stage for Faulty {
    fn name(&self) -> &str {
        "faulty"
    }
    fn requires(&self) -> Vec<Artifact> {
        vec![]
    }
    fn provides(&self) -> Vec<Artifact> {
        vec![]
    }
}

impl StreamStage for Faulty {
    fn process(&mut self, b: &mut FrameBatch, _: &StageContext) -> Result<()> {
        if b.items.iter().any(|i| i.record.index == self.at)
            && self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
        {
            match self.mode {
                "transient" => return Err(Error::transient("device busy")),
                "permanent" => return Err(Error::permanent("bad input")),
                _ => panic!("boom at frame {}", self.at),
            }
        }
        Ok(())
    }
    fn save_state(&self) -> Result<Vec<u8>> {
        Ok(vec![])
    }
    fn load_state(&mut self, _: &[u8]) -> Result<()> {
        Ok(())
    }
}

fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        multiplier: 2.0,
        jitter: 0.5,
    }
}

fn run_faulty(mode: &'static str, failures: u32, attempts: u32) -> (Result<footml::MatchReport>, Vec<PipelineEvent>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let r = Pipeline::builder()
        .source(CountingSource::new(100))
        .stream_stage(Faulty { at: 42, mode, failures_left: Arc::new(AtomicU32::new(failures)) })
        .stage_retry_policy("faulty", fast_retry(attempts))
        .event_sink(ChannelSink(tx))
        .build()
        .unwrap()
        .run();
    (r, rx.try_iter().collect())
}

#[test]
fn transient_errors_are_retried_with_events() {
    let (r, events) = run_faulty("transient", 2, 5);
    let report = r.unwrap();
    let faulty = report.stages.iter().find(|s| s.name == "faulty").unwrap();
    assert_eq!((faulty.attempts, faulty.frames), (3, 100));
    let retries: Vec<u32> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StageRetrying { attempt, error, .. } if error == "device busy" => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(retries, vec![2, 3]);
}

#[test]
fn permanent_errors_exhaustion_and_panics_fail_cleanly() {
    let (r, events) = run_faulty("permanent", 1, 5);
    match r {
        Err(Error::StageFailed { stage, attempts, source }) => {
            assert_eq!((stage.as_str(), attempts, source.to_string().as_str()), ("faulty", 1, "bad input"))
        }
        other => panic!("{:?}", other.err()),
    }
    assert!(events.iter().any(|e| matches!(e.kind, EventKind::StageFailed { attempts: 1, .. })));
    assert!(events.iter().any(|e| matches!(e.kind, EventKind::PipelineFailed { .. })));

    let (r, _) = run_faulty("transient", 100, 3);
    assert!(matches!(r, Err(Error::StageFailed { attempts: 3, .. })), "{:?}", r.err());

    let (r, _) = run_faulty("panic", 1, 3);
    match r {
        Err(Error::Panicked { stage, message }) => {
            assert_eq!(stage, "faulty");
            assert_eq!(message, "boom at frame 42");
        }
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn events_cover_the_run() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let store = MemoryCheckpointStore::new();
    let src = CountingSource::new(100);
    let summer = Summer::new(src.consumed.clone());
    Pipeline::builder()
        .pipeline_id("events-run")
        .source(src)
        .stream_stage(summer)
        .checkpoint_store(store)
        .checkpoint_interval(30)
        .event_sink(FnSink(move |e: &PipelineEvent| seen.lock().unwrap().push(e.clone())))
        .build()
        .unwrap()
        .run()
        .unwrap();
    let events = events.lock().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
    for t in ["stage_started", "stage_progress", "stage_completed", "checkpoint_saved", "pipeline_completed"] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    assert_eq!(types.last(), Some(&"pipeline_completed"));
    let chunks: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::CheckpointSaved { chunk, frames_done } => Some((chunk, frames_done)),
            _ => None,
        })
        .collect();
    assert_eq!(chunks, vec![(0, 30), (1, 60), (2, 90), (3, 100)]);
    assert!(events.iter().all(|e| e.pipeline_id == "events-run" && e.timestamp > 1.6e9));
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["type"], "stage_started");
}

/// Sinks that block forever, fail, or panic.
struct BadSink(&'static str);

impl EventSink for BadSink {
    fn send(&mut self, _: &PipelineEvent) -> Result<()> {
        match self.0 {
            "block" => {
                std::thread::sleep(Duration::from_secs(3600));
                Ok(())
            }
            "fail" => Err(Error::transient("sink down")),
            _ => panic!("sink bug"),
        }
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

#[test]
fn bad_sinks_never_stop_the_analysis() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let src = CountingSource::new(20_000);
    let summer = Summer::new(src.consumed.clone());
    let report = Pipeline::builder()
        .source(src)
        .stream_stage(summer)
        .batch_size(1)
        .event_sink(BadSink("block"))
        .event_sink(BadSink("fail"))
        .event_sink(BadSink("panic"))
        .event_sink(ChannelSink(tx))
        .sink_grace(Duration::from_millis(200))
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(report.stages[1].frames, 20_000);
    // The failing and panicking sinks lose their events; the good sink still got the end.
    assert!(report.events_dropped > 0);
    assert!(rx.try_iter().any(|e| matches!(e.kind, EventKind::PipelineCompleted { .. })));
}

/// A match stage that counts frames into `extra`, and counts its own runs.
struct MatchCount(Arc<AtomicU32>);

impl Stage for MatchCount {
    fn name(&self) -> &str {
        "match_count"
    }
    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::custom("sum")]
    }
    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::custom("total")]
    }
}

impl MatchStage for MatchCount {
    fn run(&mut self, data: &mut MatchData, _: &StageContext) -> Result<()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let last = data.frames.last().map(|r| r.extra["sum"].clone()).unwrap_or_default();
        data.extra.insert("total".into(), last);
        Ok(())
    }
}

fn summing_run(
    store: Arc<dyn footml::CheckpointStore>,
    n: u64,
    fail_at: Option<u64>,
    runs: Arc<AtomicU32>,
) -> (Result<footml::MatchReport>, Vec<PipelineEvent>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let src = CountingSource::new(n);
    let summer = Summer::new(src.consumed.clone());
    let mut b = Pipeline::builder()
        .pipeline_id("resume-test")
        .source(src)
        .stream_stage(summer)
        .match_stage(MatchCount(runs))
        .shared_checkpoint_store(store)
        .checkpoint_interval(64)
        .batch_size(5)
        .keep_checkpoints(true)
        .event_sink(ChannelSink(tx));
    if let Some(at) = fail_at {
        b = b
            .stream_stage(Faulty { at, mode: "permanent", failures_left: Arc::new(AtomicU32::new(1)) })
            .stage_retry_policy("faulty", RetryPolicy::none());
    }
    let r = b.build().unwrap().run();
    (r, rx.try_iter().collect())
}

fn sums(r: &footml::MatchReport) -> serde_json::Value {
    r.extra["total"].clone()
}

#[test]
fn resume_after_a_failure_continues_from_the_last_chunk_and_matches_an_uninterrupted_run() {
    let n = 1000;
    let runs = Arc::new(AtomicU32::new(0));
    let clean_store: Arc<dyn footml::CheckpointStore> = Arc::new(MemoryCheckpointStore::new());
    let (clean, _) = summing_run(clean_store, n, None, runs.clone());
    let clean = clean.unwrap();
    assert_eq!(sums(&clean), serde_json::json!(triangular(n - 1)));

    let store: Arc<dyn footml::CheckpointStore> = Arc::new(MemoryCheckpointStore::new());
    let (r, _) = summing_run(store.clone(), n, Some(700), runs.clone());
    assert!(r.is_err());
    let (resumed, events) = summing_run(store.clone(), n, None, runs.clone());
    let resumed = resumed.unwrap();
    // Chunks of 64 frames: frames 0..640 were checkpointed before the failure at 700.
    let from = started_from(&events, "summer");
    assert_eq!(from, vec![640]);
    assert_eq!(sums(&resumed), sums(&clean));
    assert_eq!(resumed.stages.iter().map(|s| s.frames).collect::<Vec<_>>(), vec![n, n, n]);

    // Everything is checkpointed now: a third run recomputes nothing, not even the match stage.
    let before = runs.load(Ordering::SeqCst);
    let (again, events) = summing_run(store, n, None, runs.clone());
    assert_eq!(sums(&again.unwrap()), sums(&clean));
    assert_eq!(runs.load(Ordering::SeqCst), before);
    assert!(
        !events.iter().any(|e| e.stage.as_deref() == Some("summer") && e.type_name() == "stage_started"),
        "{events:#?}"
    );
}

#[test]
fn a_corrupt_checkpoint_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let fs_store: Arc<dyn footml::CheckpointStore> = Arc::new(FsCheckpointStore::new(dir.path()));
    let runs = Arc::new(AtomicU32::new(0));
    let (r, _) = summing_run(fs_store.clone(), 500, Some(450), runs.clone());
    assert!(r.is_err());
    // Damage chunk 3 (frames 192..256): the run must resume from frame 192.
    let chunk = dir.path().join("resume-test/stream/0000000003.ckpt");
    let mut bytes = std::fs::read(&chunk).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&chunk, bytes).unwrap();
    let (resumed, events) = summing_run(fs_store, 500, None, runs);
    assert_eq!(sums(&resumed.unwrap()), serde_json::json!(triangular(499)));
    assert!(events.iter().any(|e| matches!(&e.kind, EventKind::Warning { message } if message.contains("corrupt"))));
    assert!(events.iter().any(|e| matches!(e.kind, EventKind::StageStarted { from_frame: 192 })));
}

#[test]
fn without_resume_earlier_checkpoints_are_discarded() {
    let store: Arc<dyn footml::CheckpointStore> = Arc::new(MemoryCheckpointStore::new());
    let runs = Arc::new(AtomicU32::new(0));
    let (r, _) = summing_run(store.clone(), 300, Some(200), runs);
    assert!(r.is_err());
    assert!(!store.list("resume-test").unwrap().is_empty());
    let src = CountingSource::new(300);
    let summer = Summer::new(src.consumed.clone());
    let (tx, rx) = crossbeam_channel::unbounded();
    Pipeline::builder()
        .pipeline_id("resume-test")
        .source(src)
        .stream_stage(summer)
        .shared_checkpoint_store(store.clone())
        .resume(false)
        .event_sink(ChannelSink(tx))
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert!(rx.try_iter().any(|e| matches!(e.kind, EventKind::StageStarted { from_frame: 0 })));
    // Success without keep_checkpoints leaves the store clean.
    assert!(store.list("resume-test").unwrap().is_empty());
}

/// A user stage whose output depends on its version: it writes the version into each frame.
struct Versioned(&'static str);

impl Stage for Versioned {
    fn name(&self) -> &str {
        "versioned"
    }
    fn requires(&self) -> Vec<Artifact> {
        vec![Artifact::PLAYER_TRACKS]
    }
    fn provides(&self) -> Vec<Artifact> {
        vec![Artifact::custom("version")]
    }
    fn identity(&self) -> String {
        format!("v{}", self.0)
    }
}

impl StreamStage for Versioned {
    fn process(&mut self, batch: &mut FrameBatch, _: &StageContext) -> Result<()> {
        for item in &mut batch.items {
            item.record.extra.insert("version".into(), self.0.into());
        }
        Ok(())
    }
    fn save_state(&self) -> Result<Vec<u8>> {
        Ok(vec![])
    }
    fn load_state(&mut self, _: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// A config-derived pipeline id covers the user stages added to the standard pipeline (name
/// and identity), so a run with another version of a stage never resumes another's
/// checkpoints, while the same stages resume; an id given in the config is used as given.
#[test]
fn user_stages_are_part_of_the_derived_pipeline_id() {
    let config = |extra: &str| {
        let det = crate::common::fixture("det.txt");
        let json = format!(r#"{{"detections_path": {det:?}, "fps": 25, "frame_size": [1920, 1080]{extra}}}"#);
        footml::PipelineConfig::from_json(&json).unwrap()
    };
    let store: Arc<dyn footml::CheckpointStore> = Arc::new(MemoryCheckpointStore::new());
    let pipeline = |version: Option<&'static str>, extra: &str| {
        let b = Pipeline::builder_from_config(&config(extra)).unwrap().shared_checkpoint_store(store.clone());
        let b = match version {
            Some(v) => b.stream_stage(Versioned(v)),
            None => b,
        };
        b.keep_checkpoints(true).checkpoint_interval(500).build().unwrap()
    };
    let plain = pipeline(None, "").id().to_string();
    let (v1, v2) = (pipeline(Some("1"), "").id().to_string(), pipeline(Some("2"), "").id().to_string());
    assert!(plain != v1 && v1 != v2 && plain != v2, "{plain} {v1} {v2}");
    assert_eq!(pipeline(Some("1"), "").id(), v1);
    // The user's own id is theirs to keep.
    assert_eq!(pipeline(Some("1"), r#", "pipeline_id": "mine""#).id(), "mine");
    assert_eq!(pipeline(None, r#", "pipeline_id": "mine""#).id(), "mine");

    // Version 1 computes and saves its checkpoints.
    assert!(run_versioned(&config(""), &store, "1") > 0);
    assert!(!store.list(&v1).unwrap().is_empty());
    // Version 2 finds none under its id and never reads version 1's: it computes its own.
    assert!(store.list(&v2).unwrap().is_empty());
    assert!(run_versioned(&config(""), &store, "2") > 0);
    // Version 1 again resumes from its complete checkpoints: nothing left to save.
    assert_eq!(run_versioned(&config(""), &store, "1"), 0);
}

/// What streaming stages write per frame (`FrameRecord.extra`) is in the report, one row per
/// frame that has it, and in report.json; frames without it have no row.
#[test]
fn per_frame_artifacts_of_user_stages_reach_the_report() {
    struct EveryThird;
    impl Stage for EveryThird {
        fn name(&self) -> &str {
            "every_third"
        }
        fn requires(&self) -> Vec<Artifact> {
            vec![Artifact::PLAYER_TRACKS]
        }
        fn provides(&self) -> Vec<Artifact> {
            vec![Artifact::custom("ids")]
        }
    }
    impl StreamStage for EveryThird {
        fn process(&mut self, batch: &mut FrameBatch, _: &StageContext) -> Result<()> {
            for item in batch.items.iter_mut().filter(|i| i.record.index % 3 == 0) {
                let ids: Vec<u64> = item.record.tracks.iter().flatten().map(|t| t.track_id).collect();
                item.record.extra.insert("ids".into(), ids.into());
            }
            Ok(())
        }
        fn save_state(&self) -> Result<Vec<u8>> {
            Ok(vec![])
        }
        fn load_state(&mut self, _: &[u8]) -> Result<()> {
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let det = crate::common::fixture("det.txt");
    let json = format!(
        r#"{{"detections_path": {det:?}, "fps": 25, "frame_size": [1920, 1080], "output_dir": {:?}}}"#,
        dir.path()
    );
    let config = footml::PipelineConfig::from_json(&json).unwrap();
    let report = Pipeline::builder_from_config(&config)
        .unwrap()
        .stream_stage(EveryThird)
        .stream_stage(Versioned("7"))
        .build()
        .unwrap()
        .run()
        .unwrap();
    let frames = report.video.frame_count.unwrap();
    let version = &report.frame_extra["version"];
    assert_eq!(version.len() as u64, frames);
    assert!(version.iter().enumerate().all(|(i, r)| r.frame == i as u64 && r.value == "7"));
    // Every third frame: the ids of the tracks the report has in that frame.
    let ids = &report.frame_extra["ids"];
    assert_eq!(ids.iter().map(|r| r.frame).collect::<Vec<_>>(), (0..frames).step_by(3).collect::<Vec<_>>());
    for r in ids {
        let want: Vec<u64> =
            report.tracks.iter().filter(|t| t.frames.iter().any(|f| f.frame == r.frame)).map(|t| t.track_id).collect();
        let mut got: Vec<u64> = serde_json::from_value(r.value.clone()).unwrap();
        got.sort();
        assert_eq!(got, want, "frame {}", r.frame);
    }
    assert!(ids.iter().any(|r| r.value.as_array().is_some_and(|a| a.len() >= 10)));
    let written = footml::MatchReport::read_json(&dir.path().join("report.json")).unwrap();
    assert_eq!(written.frame_extra, report.frame_extra);
    // Without such stages the report has no `frame_extra` key.
    let text = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    assert!(text.contains("\"frame_extra\""));
    let plain = Pipeline::from_config(&config).unwrap().run().unwrap();
    assert!(plain.frame_extra.is_empty());
    assert!(!std::fs::read_to_string(dir.path().join("report.json")).unwrap().contains("frame_extra"));
}

/// Runs the standard pipeline of `config` with `Versioned(version)`, returning how many
/// checkpoints it saved.
fn run_versioned(
    config: &footml::PipelineConfig,
    store: &Arc<dyn footml::CheckpointStore>,
    version: &'static str,
) -> usize {
    let (tx, rx) = crossbeam_channel::unbounded();
    Pipeline::builder_from_config(config)
        .unwrap()
        .shared_checkpoint_store(store.clone())
        .stream_stage(Versioned(version))
        .keep_checkpoints(true)
        .checkpoint_interval(500)
        .event_sink(ChannelSink(tx))
        .build()
        .unwrap()
        .run()
        .unwrap();
    rx.try_iter().filter(|e| matches!(e.kind, EventKind::CheckpointSaved { .. })).count()
}

/// A file run's derived id leaves out the `live` keys (a file run never reads them) but not
/// the file run's own: a run interrupted under one config resumes from its checkpoints
/// under the same config with other live settings, to the report of an uninterrupted run,
/// while a changed tracking setting starts afresh.
#[test]
fn live_keys_stay_out_of_a_file_runs_pipeline_id() {
    let det = crate::common::fixture("det.txt");
    let config = |extra: &str| {
        let json = format!(r#"{{"detections_path": {det:?}, "fps": 25, "frame_size": [1920, 1080]{extra}}}"#);
        footml::PipelineConfig::from_json(&json).unwrap()
    };
    let live = r#", "live": {"input": "detections", "ball_candidates": true, "user_teams": true,
                              "teams": {"enabled": false, "min_tracks": 9, "refit_interval_frames": 3}}"#;
    let tracking = r#", "stage_configs": {"player_tracking": {"high_threshold": 0.45}}"#;
    let id = |extra: &str| Pipeline::from_config(&config(extra)).unwrap().id().to_string();
    assert_eq!(id(live), id(""));
    assert_ne!(id(tracking), id(""));
    assert_ne!(id(&format!("{tracking}{live}")), id(""));
    assert_eq!(id(&format!("{tracking}{live}")), id(tracking));

    // The same user stage in every run (stages added to a config's pipeline are in its id);
    // it fails once at frame 450 in the interrupted run.
    let run = |extra: &str, store: &Arc<dyn footml::CheckpointStore>, fail: u32| {
        let (tx, rx) = crossbeam_channel::unbounded();
        let faulty = Faulty { at: 450, mode: "permanent", failures_left: Arc::new(AtomicU32::new(fail)) };
        let r = Pipeline::builder_from_config(&config(extra))
            .unwrap()
            .shared_checkpoint_store(store.clone())
            .stream_stage(faulty)
            .stage_retry_policy("faulty", RetryPolicy::none())
            .keep_checkpoints(true)
            .checkpoint_interval(100)
            .event_sink(ChannelSink(tx))
            .build()
            .unwrap()
            .run();
        let from = started_from(&rx.try_iter().collect::<Vec<_>>(), "player_tracking");
        (r, from)
    };
    let clean_store: Arc<dyn footml::CheckpointStore> = Arc::new(MemoryCheckpointStore::new());
    let (clean, from) = run("", &clean_store, 0);
    let clean = clean.unwrap();
    assert_eq!(from, [0]);
    let store: Arc<dyn footml::CheckpointStore> = Arc::new(MemoryCheckpointStore::new());
    let (r, _) = run("", &store, 1);
    assert!(r.is_err());
    // Other live settings: resumed after the last complete chunk (frames 0..400), the same
    // tracks as the uninterrupted run.
    let (resumed, from) = run(live, &store, 0);
    assert_eq!(from, [400]);
    let resumed = resumed.unwrap();
    assert_eq!(resumed.pipeline_id, clean.pipeline_id);
    assert_eq!(serde_json::to_value(&resumed.tracks).unwrap(), serde_json::to_value(&clean.tracks).unwrap());
    // Another tracking threshold is another analysis: nothing of the interrupted run is used.
    let (_, from) = run(tracking, &store, 0);
    assert_eq!(from, [0]);
}
