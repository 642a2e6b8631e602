//! footml Python bindings: the `footml._footml` extension module, re-exported by the
//! `footml` package (python/footml/__init__.py).
//!
//! Glue only: configs and reports cross as JSON, errors map onto a Python exception
//! hierarchy ([`errors`]), runs happen with the GIL released on a thread of their own so
//! that Ctrl-C cancels them ([`run`]). Every behaviour is in footml-core.

mod errors;
mod json;
mod run;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// Analyses a match and returns the report as a dict.
///
/// `config` is the pipeline configuration: a dict, or a JSON string (unknown keys are a
/// `ConfigError`). `on_event`, when given, is called with each pipeline event (a dict with
/// a `"type"` key: `stage_started`, `stage_progress`, ...) from another thread; an exception
/// it raises is reported through `sys.unraisablehook` and never fails the run.
///
/// The GIL is released while the pipeline runs. Ctrl-C (or any exception a signal handler
/// raises) cancels the run and is re-raised once the pipeline has stopped.
#[pyfunction]
#[pyo3(signature = (config, *, on_event = None))]
fn analyze(py: Python<'_>, config: &Bound<'_, PyAny>, on_event: Option<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    let config_json = config_to_json(config)?;
    if let Some(cb) = &on_event
        && !cb.is_callable()
    {
        return Err(PyTypeError::new_err(format!("on_event must be callable, found {}", cb.get_type().name()?)));
    }
    let report_json = run::analyze(py, config_json, on_event.map(Bound::unbind))?;
    json::loads(py, &report_json).map(Bound::unbind)
}

/// The config as JSON text: a str is taken as JSON; a dict is serialised (`os.PathLike`
/// values become their paths).
fn config_to_json(config: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = config.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if let Ok(d) = config.cast::<PyDict>() {
        return json::dumps(d.as_any());
    }
    Err(PyTypeError::new_err(format!("config must be a dict or a JSON string, found {}", config.get_type().name()?)))
}

/// The `footml._footml` module.
#[pymodule]
fn _footml(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", footml::VERSION)?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    errors::register(m)?;
    Ok(())
}
