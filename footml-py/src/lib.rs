//! footml Python bindings: the `footml._footml` extension module, re-exported by the
//! `footml` package (python/footml/__init__.py).
//!
//! Glue only: configs cross as JSON, errors map onto a Python exception hierarchy
//! (`src/errors.rs`), runs happen with the GIL released on a thread of their own so that
//! Ctrl-C cancels them (`src/run.rs`), reports stay Rust-owned with NumPy views of their
//! tables (`src/report.rs`), Python objects become stages (`src/stages.rs`). Every behaviour
//! is in footml-core. (The modules are private: the crate's API is the Python module, so
//! these are file names, not links.)

#![warn(missing_docs)]

mod errors;
mod json;
mod live;
mod pipeline;
mod report;
mod run;
mod stages;

use footml::Pipeline;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::Value;

use crate::errors::to_py_err;
use crate::pipeline::{PyPipeline, config_object};
use crate::report::PyReport;

/// Analyses a match and returns its `Report`.
///
/// `source` is a video path, or (as in earlier versions) the whole config: a dict or a JSON
/// string. `config` is the pipeline configuration (a dict or a JSON string; unknown keys are
/// a `ConfigError`). `on_event`, when given, is called with each pipeline event (a dict with
/// a `"type"` key) from another thread; an exception it raises is reported through
/// `sys.unraisablehook` and never fails the run.
///
/// The GIL is released while the pipeline runs. Ctrl-C (or any exception a signal handler
/// raises) cancels the run and is re-raised once the pipeline has stopped.
#[pyfunction]
#[pyo3(signature = (source, config = None, on_event = None))]
fn analyze(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    config: Option<&Bound<'_, PyAny>>,
    on_event: Option<Bound<'_, PyAny>>,
) -> PyResult<PyReport> {
    if let Some(cb) = &on_event
        && !cb.is_callable()
    {
        return Err(PyTypeError::new_err(format!("on_event must be callable, found {}", cb.get_type().name()?)));
    }
    let is_config = source.is_instance_of::<PyDict>()
        || source.cast::<PyString>().is_ok_and(|s| s.to_cow().is_ok_and(|t| t.trim_start().starts_with('{')));
    let mut map = if is_config {
        if config.is_some_and(|c| !c.is_none()) {
            return Err(PyTypeError::new_err("give the config once: as `source` or as `config`, not both"));
        }
        config_object(py, Some(source))?
    } else {
        let path: std::path::PathBuf = source.extract().map_err(|_| {
            let found = source.get_type().name().map(|n| n.to_string()).unwrap_or_default();
            PyTypeError::new_err(format!("source must be a video path or a config (dict or JSON str), found {found}"))
        })?;
        let mut map = config_object(py, config)?;
        map.insert("video_path".into(), Value::String(path.to_string_lossy().into_owned()));
        map
    };
    let text = Value::Object(std::mem::take(&mut map)).to_string();
    let config = footml::PipelineConfig::from_json(&text).map_err(|e| to_py_err(py, &e.into()))?;
    // Opening the input (probing a video, scanning a detections file) is Rust work too.
    let builder = py.detach(|| Pipeline::builder_from_config(&config)).map_err(|e| to_py_err(py, &e))?;
    let pipeline = PyPipeline::new(builder);
    if let Some(cb) = on_event {
        pipeline.add_callback(py, cb.unbind())?;
    }
    pipeline.run_report(py)
}

/// The `footml._footml` module.
#[pymodule]
fn _footml(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", footml::VERSION)?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_class::<PyReport>()?;
    m.add_class::<live::PyLiveSession>()?;
    m.add_class::<live::PyFrameResult>()?;
    m.add_class::<PyPipeline>()?;
    m.add_class::<pipeline::PyPipelineBuilder>()?;
    m.add_class::<pipeline::EventIterator>()?;
    errors::register(m)?;
    Ok(())
}
