//! `footml.Pipeline`, `footml.PipelineBuilder` and the event iterator.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, bounded};
use footml::pipeline::events::ChannelSink;
use footml::stages::detections_file::DetectionsArraySource;
use footml::{CancellationToken, Pipeline, PipelineBuilder, PipelineConfig, PipelineEvent, RetryPolicy};
use numpy::{PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::{Map, Value};

use crate::errors::{Kind, new_err, to_py_err};
use crate::report::PyReport;
use crate::run::{PyCallbackSink, SIGNAL_POLL, run_detached};
use crate::stages::{self, PyStage};

/// Events buffered for an `events()` iterator; a consumer that falls this far behind loses
/// events (counted in the report's `events_dropped`) rather than slowing the run.
const EVENT_BUFFER: usize = 4096;

/// The config as a JSON object: a str is parsed as JSON; a dict is serialised
/// (`os.PathLike` values become their paths).
pub(crate) fn config_object(py: Python<'_>, config: Option<&Bound<'_, PyAny>>) -> PyResult<Map<String, Value>> {
    let Some(config) = config.filter(|c| !c.is_none()) else {
        return Ok(Map::new());
    };
    let text = if let Ok(s) = config.cast::<PyString>() {
        s.to_cow()?.into_owned()
    } else if let Ok(d) = config.cast::<PyDict>() {
        crate::json::dumps(d.as_any())?
    } else {
        return Err(PyTypeError::new_err(format!(
            "config must be a dict or a JSON string, found {}",
            config.get_type().name()?
        )));
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(to_py_err(
            py,
            &footml::config::ConfigError::Parse {
                path: ".".into(),
                message: format!("expected an object, found {other}"),
            }
            .into(),
        )),
        Err(e) => {
            Err(to_py_err(py, &footml::config::ConfigError::Parse { path: ".".into(), message: e.to_string() }.into()))
        }
    }
}

/// Parses a config object into the core config (unknown keys are `ConfigError`s).
pub(crate) fn parse_config(py: Python<'_>, config: &Map<String, Value>) -> PyResult<PipelineConfig> {
    let text = Value::Object(config.clone()).to_string();
    PipelineConfig::from_json(&text).map_err(|e| to_py_err(py, &e.into()))
}

/// `array` as a NumPy array of `ndim` dimensions whose last one is `last`, or an
/// `ArrayError` naming the argument (`what`) and the `expected` shape.
pub(crate) fn ndarray_of_shape<'a, 'py>(
    py: Python<'py>,
    what: &str,
    array: &'a Bound<'py, PyAny>,
    (ndim, last, expected): (usize, usize, &str),
) -> PyResult<&'a Bound<'py, PyUntypedArray>> {
    let untyped = array.cast::<PyUntypedArray>().map_err(|_| {
        let found = array.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        new_err(py, Kind::Array, format!("{what}: expected a numpy.ndarray of shape {expected}, found {found}"))
    })?;
    if untyped.ndim() != ndim || untyped.shape()[ndim - 1] != last {
        return Err(new_err(
            py,
            Kind::Array,
            format!("{what}: expected shape {expected}, found {:?}", untyped.shape()),
        ));
    }
    Ok(untyped)
}

/// Rows of an `(N, 7)` float array `frame, x, y, w, h, score, class`.
fn detection_rows(py: Python<'_>, what: &str, array: &Bound<'_, PyAny>) -> PyResult<Vec<[f64; 7]>> {
    float_rows(py, what, array, "(N, 7) (frame, x, y, w, h, score, class)")
}

/// Rows of an `(N, C)` float64 or float32 array (`expected` describes it in errors), or an
/// `ArrayError`: the one check of NumPy detections, for the builder and live sessions.
pub(crate) fn float_rows<const C: usize>(
    py: Python<'_>,
    what: &str,
    array: &Bound<'_, PyAny>,
    expected: &str,
) -> PyResult<Vec<[f64; C]>> {
    let untyped = ndarray_of_shape(py, what, array, (2, C, expected))?;
    fn rows<const C: usize, T: numpy::Element + Copy + Into<f64>>(a: PyReadonlyArray2<'_, T>) -> Vec<[f64; C]> {
        a.as_array().rows().into_iter().map(|r| std::array::from_fn(|i| r[i].into())).collect()
    }
    if let Ok(a) = array.extract::<PyReadonlyArray2<'_, f64>>() {
        Ok(rows(a))
    } else if let Ok(a) = array.extract::<PyReadonlyArray2<'_, f32>>() {
        Ok(rows(a))
    } else {
        let dtype = untyped.dtype().to_string();
        Err(new_err(py, Kind::Array, format!("{what}: expected dtype float64 or float32, found {dtype}")))
    }
}

/// A pipeline ready to run once: the standard pipeline of a config, or one put together
/// with `PipelineBuilder`.
#[pyclass(module = "footml", frozen, name = "Pipeline")]
pub(crate) struct PyPipeline {
    builder: Mutex<Option<PipelineBuilder>>,
    token: CancellationToken,
}

impl PyPipeline {
    pub(crate) fn new(builder: PipelineBuilder) -> Self {
        let token = CancellationToken::new();
        PyPipeline { builder: Mutex::new(Some(builder.cancellation_token(token.clone()))), token }
    }

    fn take(&self, py: Python<'_>, what: &str) -> PyResult<PipelineBuilder> {
        self.builder
            .lock()
            .map_err(|_| new_err(py, Kind::Usage, "the pipeline's lock was poisoned"))?
            .take()
            .ok_or_else(|| new_err(py, Kind::Usage, format!("{what}: this pipeline has already been run")))
    }

    /// Runs the pipeline (the GIL released, Ctrl-C cancels) and returns the report.
    pub(crate) fn run_report(&self, py: Python<'_>) -> PyResult<PyReport> {
        let builder = self.take(py, "run()")?;
        let report = run_detached(py, self.token.clone(), move || builder.build()?.run())?;
        Ok(PyReport::new(report))
    }

    /// Adds a Python callable as an event sink (before the run).
    pub(crate) fn add_callback(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        let builder = self.take(py, "on_event")?;
        *self.builder.lock().map_err(|_| new_err(py, Kind::Usage, "poisoned"))? =
            Some(builder.event_sink(PyCallbackSink { callback }));
        Ok(())
    }
}

#[pymethods]
impl PyPipeline {
    /// The standard pipeline of a config (a dict or a JSON string; see DESIGN.md).
    #[staticmethod]
    fn from_config(py: Python<'_>, config: &Bound<'_, PyAny>) -> PyResult<Self> {
        if config.is_none() {
            return Err(PyTypeError::new_err("config must be a dict or a JSON string, found None"));
        }
        let config = parse_config(py, &config_object(py, Some(config))?)?;
        // The GIL is released while the input is opened (a video probed, a detections file scanned).
        let builder = py.detach(|| Pipeline::builder_from_config(&config)).map_err(|e| to_py_err(py, &e))?;
        Ok(PyPipeline::new(builder))
    }

    /// An iterator over the run's events (dicts with a `"type"` key), to be consumed from
    /// another thread while `run()` works; it ends when the run ends. Call it before
    /// `run()`. A consumer that falls far behind loses events (counted in the report's
    /// `events_dropped`) instead of slowing the run.
    fn events(&self, py: Python<'_>) -> PyResult<EventIterator> {
        let builder = self.take(py, "events()")?;
        let (tx, rx) = bounded(EVENT_BUFFER);
        *self.builder.lock().map_err(|_| new_err(py, Kind::Usage, "poisoned"))? =
            Some(builder.event_sink(ChannelSink(tx)));
        Ok(EventIterator { rx })
    }

    /// Runs the pipeline to the end and returns the report. The GIL is released while it
    /// runs; Ctrl-C cancels it. A pipeline runs once.
    fn run(&self, py: Python<'_>) -> PyResult<PyReport> {
        self.run_report(py)
    }

    /// Cancels the run (from any thread): `run()` raises `CancelledError` at the next batch.
    fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether `cancel()` was called.
    #[getter]
    fn cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// The events of one run, in order; ends when the run ends.
#[pyclass(module = "footml", frozen, name = "EventIterator")]
pub(crate) struct EventIterator {
    rx: Receiver<PipelineEvent>,
}

#[pymethods]
impl EventIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        loop {
            match py.detach(|| self.rx.recv_timeout(SIGNAL_POLL)) {
                Ok(event) => {
                    let text = serde_json::to_string(&event)
                        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("event to JSON: {e}")))?;
                    return crate::json::loads(py, &text).map(Some);
                }
                Err(RecvTimeoutError::Timeout) => py.check_signals()?,
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }
}

/// Puts a pipeline together step by step, mirroring Rust's `PipelineBuilder`: a source
/// (video, detections file or NumPy detections), stage settings by name, Python stages,
/// checkpoints (directory, interval, resume, keep), the run's id, batching, retries (for all
/// stages and per stage), real-time pacing and event callbacks (with their grace at the end).
/// Every method returns the builder.
#[pyclass(module = "footml", name = "PipelineBuilder")]
pub(crate) struct PyPipelineBuilder {
    config: Map<String, Value>,
    arrays: Option<ArrayInput>,
    stages: Vec<Py<PyAny>>,
    callbacks: Vec<Py<PyAny>>,
    /// Builder settings that are not config keys: `resume`, `keep_checkpoints`, `pace`,
    /// `sink_grace` and the per-stage retry settings.
    resume: Option<bool>,
    keep_checkpoints: Option<bool>,
    pace: Option<f64>,
    sink_grace: Option<Duration>,
    /// `stage_retry_policy` settings by stage name, as `retry` config objects: laid over the
    /// config's `retry` at `build()`, so they are checked by the same rules.
    stage_retry: BTreeMap<String, Map<String, Value>>,
}

/// Detections from `detections_array`: player rows, ball rows, fps, frame size.
type ArrayInput = (Vec<[f64; 7]>, Option<Vec<[f64; 7]>>, f64, [u32; 2]);

/// The `retry` config keys of the settings given (the rest left out, to keep their values).
fn retry_settings(
    max_attempts: Option<u32>,
    initial_backoff_ms: Option<u64>,
    max_backoff_ms: Option<u64>,
    multiplier: Option<f64>,
    jitter: Option<f64>,
) -> Map<String, Value> {
    let given: [(&str, Option<Value>); 5] = [
        ("max_attempts", max_attempts.map(Value::from)),
        ("initial_backoff_ms", initial_backoff_ms.map(Value::from)),
        ("max_backoff_ms", max_backoff_ms.map(Value::from)),
        ("multiplier", multiplier.map(Value::from)),
        ("jitter", jitter.map(Value::from)),
    ];
    given.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?))).collect()
}

/// One stage's retry policy: its `settings` laid over the config's `retry`, checked by the
/// config's own rules (so a bad value is the same `ConfigError`, naming `retry.<key>`).
fn stage_retry(py: Python<'_>, config: &Map<String, Value>, settings: &Map<String, Value>) -> PyResult<RetryPolicy> {
    let mut retry = match config.get("retry") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    retry.extend(settings.clone());
    let mut config = config.clone();
    config.insert("retry".into(), Value::Object(retry));
    Ok(RetryPolicy::from(&parse_config(py, &config)?.retry))
}

fn path_value(path: PathBuf) -> Value {
    Value::String(path.to_string_lossy().into_owned())
}

#[pymethods]
impl PyPipelineBuilder {
    /// A builder starting from `config` (a dict or JSON string; empty when None).
    #[new]
    #[pyo3(signature = (config = None))]
    fn new(py: Python<'_>, config: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(PyPipelineBuilder {
            config: config_object(py, config)?,
            arrays: None,
            stages: vec![],
            callbacks: vec![],
            resume: None,
            keep_checkpoints: None,
            pace: None,
            sink_grace: None,
            stage_retry: BTreeMap::new(),
        })
    }

    /// Analyses a video file.
    fn video(mut slf: PyRefMut<'_, Self>, path: PathBuf) -> PyRefMut<'_, Self> {
        slf.config.insert("video_path".into(), path_value(path));
        slf
    }

    /// Analyses a MOTChallenge detections file (and ball candidates) of frames of
    /// `frame_size` `(width, height)` pixels at `fps`.
    #[pyo3(signature = (path, *, fps, frame_size, ball = None))]
    fn detections(
        mut slf: PyRefMut<'_, Self>,
        path: PathBuf,
        fps: f64,
        frame_size: (u32, u32),
        ball: Option<PathBuf>,
    ) -> PyRefMut<'_, Self> {
        let c = &mut slf.config;
        c.insert("detections_path".into(), path_value(path));
        c.insert("fps".into(), fps.into());
        c.insert("frame_size".into(), Value::from(vec![frame_size.0, frame_size.1]));
        if let Some(b) = ball {
            c.insert("ball_detections_path".into(), path_value(b));
        }
        slf
    }

    /// Analyses detections held in NumPy arrays: `players` (and `ball` candidates) of shape
    /// `(N, 7)`, float64 or float32, columns `frame, x, y, w, h, score, class` (frames from
    /// 0, pixels, top-left origin). Wrong type, dtype or shape: `ArrayError`; NaN or a bad
    /// row: `DetectionsError` when the pipeline is built.
    #[pyo3(signature = (players, *, fps, frame_size, ball = None))]
    fn detections_array<'py>(
        mut slf: PyRefMut<'py, Self>,
        players: &Bound<'py, PyAny>,
        fps: f64,
        frame_size: (u32, u32),
        ball: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = players.py();
        let p = detection_rows(py, "players", players)?;
        let b = ball.map(|b| detection_rows(py, "ball", b)).transpose()?;
        slf.arrays = Some((p, b, fps, [frame_size.0, frame_size.1]));
        Ok(slf)
    }

    /// Settings of a built-in stage by name (`stage_configs.<name>` of the config, e.g.
    /// `stage("player_tracking", {"min_hits": 3})`), or a Python stage object (an object
    /// with `name`, `requires`, `provides` and `process(records)` or `run(match)`).
    #[pyo3(signature = (stage, config = None))]
    fn stage<'py>(
        mut slf: PyRefMut<'py, Self>,
        stage: &Bound<'py, PyAny>,
        config: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = stage.py();
        if let Ok(name) = stage.cast::<PyString>() {
            let settings = config_object(py, config)?;
            let stage_configs = slf.config.entry("stage_configs").or_insert_with(|| Value::Object(Map::new()));
            match stage_configs {
                Value::Object(m) => {
                    m.insert(name.to_cow()?.into_owned(), Value::Object(settings));
                }
                _ => return Err(PyTypeError::new_err("config key `stage_configs` must be an object")),
            }
        } else {
            if config.is_some_and(|c| !c.is_none()) {
                return Err(PyTypeError::new_err("config is for built-in stages given by name"));
            }
            stages::from_object(stage)?;
            slf.stages.push(stage.clone().unbind());
        }
        Ok(slf)
    }

    /// Keeps checkpoints in `path` (a crashed run resumes from them).
    fn checkpoint_dir(mut slf: PyRefMut<'_, Self>, path: PathBuf) -> PyRefMut<'_, Self> {
        slf.config.insert("checkpoint_dir".into(), path_value(path));
        slf.config.insert("checkpoint_enabled".into(), Value::Bool(true));
        slf
    }

    /// Writes `report.json` and `tracks.txt` into `path` when the run ends.
    fn output_dir(mut slf: PyRefMut<'_, Self>, path: PathBuf) -> PyRefMut<'_, Self> {
        slf.config.insert("output_dir".into(), path_value(path));
        slf
    }

    /// Names the run (`pipeline_id`): checkpoints are kept under it, so a run with the same
    /// id resumes them. Without it the id is derived from the input, stages and settings.
    fn pipeline_id(mut slf: PyRefMut<'_, Self>, pipeline_id: String) -> PyRefMut<'_, Self> {
        slf.config.insert("pipeline_id".into(), Value::String(pipeline_id));
        slf
    }

    /// Frames per batch between streaming stages (at least 1, checked by `build()`).
    fn batch_size(mut slf: PyRefMut<'_, Self>, frames: usize) -> PyRefMut<'_, Self> {
        slf.config.insert("batch_size".into(), frames.into());
        slf
    }

    /// Batches buffered between two streaming stages: the memory bound (at least 1).
    fn channel_capacity(mut slf: PyRefMut<'_, Self>, batches: usize) -> PyRefMut<'_, Self> {
        slf.config.insert("channel_capacity".into(), batches.into());
        slf
    }

    /// Frames per checkpoint chunk (with `checkpoint_dir`): a crash costs at most this many.
    fn checkpoint_interval(mut slf: PyRefMut<'_, Self>, frames: u64) -> PyRefMut<'_, Self> {
        slf.config.insert("checkpoint_interval_frames".into(), frames.into());
        slf
    }

    /// The model version label carried into the report.
    fn model_version(mut slf: PyRefMut<'_, Self>, version: String) -> PyRefMut<'_, Self> {
        slf.config.insert("model_version".into(), Value::String(version));
        slf
    }

    /// How failing stages are retried (only transient failures are): the settings given
    /// replace those of the config, the others keep their values. Bad values are a
    /// `ConfigError` from `build()`.
    #[pyo3(signature = (*, max_attempts = None, initial_backoff_ms = None, max_backoff_ms = None, multiplier = None, jitter = None))]
    fn retry_policy(
        mut slf: PyRefMut<'_, Self>,
        max_attempts: Option<u32>,
        initial_backoff_ms: Option<u64>,
        max_backoff_ms: Option<u64>,
        multiplier: Option<f64>,
        jitter: Option<f64>,
    ) -> PyResult<PyRefMut<'_, Self>> {
        let retry = slf.config.entry("retry").or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(retry) = retry else {
            return Err(PyTypeError::new_err("config key `retry` must be an object"));
        };
        retry.extend(retry_settings(max_attempts, initial_backoff_ms, max_backoff_ms, multiplier, jitter));
        Ok(slf)
    }

    /// The retry policy of one stage, by name (a built-in stage, a Python stage, or the
    /// source, e.g. `"detections_file"`), in place of `retry_policy` for that stage. Settings
    /// not given take the values of the pipeline's retry policy; a second call for the same
    /// stage adds to the first. Bad values are a `ConfigError` from `build()`.
    #[pyo3(signature = (stage, *, max_attempts = None, initial_backoff_ms = None, max_backoff_ms = None, multiplier = None, jitter = None))]
    fn stage_retry_policy(
        mut slf: PyRefMut<'_, Self>,
        stage: String,
        max_attempts: Option<u32>,
        initial_backoff_ms: Option<u64>,
        max_backoff_ms: Option<u64>,
        multiplier: Option<f64>,
        jitter: Option<f64>,
    ) -> PyRefMut<'_, Self> {
        let settings = retry_settings(max_attempts, initial_backoff_ms, max_backoff_ms, multiplier, jitter);
        slf.stage_retry.entry(stage).or_default().extend(settings);
        slf
    }

    /// Reads the input no faster than `speed` times its frame rate (1.0 = real time, like
    /// `ffmpeg -re`): replays a recording as if it were a live feed. `speed` must be a
    /// positive finite number (`ConfigError`).
    fn pace(mut slf: PyRefMut<'_, Self>, speed: f64) -> PyResult<PyRefMut<'_, Self>> {
        if !(speed.is_finite() && speed > 0.0) {
            return Err(new_err(slf.py(), Kind::Config, format!("pace must be a positive number, found {speed}")));
        }
        slf.pace = Some(speed);
        Ok(slf)
    }

    /// How long, in seconds, the end of a run waits for event callbacks to take the events
    /// still queued, `pipeline_completed` included (default 2.0). A callback still busy after
    /// that goes on in its own thread and `run()` returns without it: a slow webhook cannot
    /// hold up the report. `seconds` must be a finite number ≥ 0 (`ConfigError`).
    fn sink_grace(mut slf: PyRefMut<'_, Self>, seconds: f64) -> PyResult<PyRefMut<'_, Self>> {
        let grace = Duration::try_from_secs_f64(seconds).map_err(|_| {
            new_err(slf.py(), Kind::Config, format!("sink_grace must be a number of seconds ≥ 0, found {seconds}"))
        })?;
        slf.sink_grace = Some(grace);
        Ok(slf)
    }

    /// Whether to continue from the checkpoints of an earlier run with the same id (default
    /// True). With False, earlier checkpoints of this id are deleted first.
    fn resume(mut slf: PyRefMut<'_, Self>, resume: bool) -> PyRefMut<'_, Self> {
        slf.resume = Some(resume);
        slf
    }

    /// Keep the checkpoints after a successful run (default False: they are deleted once the
    /// report exists).
    fn keep_checkpoints(mut slf: PyRefMut<'_, Self>, keep: bool) -> PyRefMut<'_, Self> {
        slf.keep_checkpoints = Some(keep);
        slf
    }

    /// Calls `callback(event)` for each pipeline event, from another thread.
    fn on_event<'py>(mut slf: PyRefMut<'py, Self>, callback: &Bound<'py, PyAny>) -> PyResult<PyRefMut<'py, Self>> {
        if !callback.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "on_event must be callable, found {}",
                callback.get_type().name()?
            )));
        }
        slf.callbacks.push(callback.clone().unbind());
        Ok(slf)
    }

    /// Checks the config and opens the inputs; returns the pipeline.
    fn build(&self, py: Python<'_>) -> PyResult<PyPipeline> {
        let config = parse_config(py, &self.config)?;
        // Inputs are opened (and arrays checked) with the GIL released.
        let arrays = &self.arrays;
        let mut builder = py
            .detach(|| match arrays {
                Some((players, ball, fps, size)) => DetectionsArraySource::new(players, ball.as_deref(), *fps, *size)
                    .and_then(|src| Pipeline::builder_from_detections(&config, src)),
                None => Pipeline::builder_from_config(&config),
            })
            .map_err(|e| to_py_err(py, &e))?;
        for stage in &self.stages {
            builder = match stages::from_object(stage.bind(py))? {
                PyStage::Stream(s) => builder.boxed_stream_stage(Box::new(s)),
                PyStage::Match(s) => builder.boxed_match_stage(Box::new(s)),
            };
        }
        for callback in &self.callbacks {
            builder = builder.event_sink(PyCallbackSink { callback: callback.clone_ref(py) });
        }
        if let Some(resume) = self.resume {
            builder = builder.resume(resume);
        }
        if let Some(keep) = self.keep_checkpoints {
            builder = builder.keep_checkpoints(keep);
        }
        if let Some(speed) = self.pace {
            builder = builder.pace(speed);
        }
        if let Some(grace) = self.sink_grace {
            builder = builder.sink_grace(grace);
        }
        for (stage, settings) in &self.stage_retry {
            builder = builder.stage_retry_policy(stage, stage_retry(py, &self.config, settings)?);
        }
        Ok(PyPipeline::new(builder))
    }
}
