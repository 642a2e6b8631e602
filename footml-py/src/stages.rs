//! Stages written in Python: an object with `name`, `requires`, `provides` and either
//! `process(records)` (a streaming stage) or `run(match)` (a match stage), wrapped so that it
//! implements the core `StreamStage` / `MatchStage` traits. An optional `version` (a str)
//! and the object's class make the stage's `identity`, part of a derived pipeline id, so a
//! run with another stage (or another version of it) never resumes this run's checkpoints.
//!
//! The GIL is taken only inside each call. Records cross as dicts (the JSON form of
//! `FrameRecord` / `MatchData`); the stage edits them in place or returns new ones. An
//! exception becomes a stage error carrying the Python traceback.

use footml::pipeline::stage::Stage;
use footml::types::{FrameBatch, FrameRecord, MatchData};
use footml::{Artifact, MatchStage, StageContext, StreamStage};
use pyo3::exceptions::{PyConnectionError, PyTimeoutError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::json;

/// Which trait a Python stage implements.
pub(crate) enum PyStage {
    /// Has `process(records)`.
    Stream(PyStreamStage),
    /// Has `run(match)`.
    Match(PyMatchStage),
}

/// What both kinds hold: the object and what it said about itself when it was added.
struct Common {
    obj: Py<PyAny>,
    name: String,
    requires: Vec<Artifact>,
    provides: Vec<Artifact>,
    /// `module.QualName` of the object's class, and `:version` when it has one.
    identity: String,
}

/// A Python streaming stage.
pub(crate) struct PyStreamStage(Common);
/// A Python match stage.
pub(crate) struct PyMatchStage(Common);

/// Wraps a Python stage object, checking its shape now so that a malformed stage is a
/// `TypeError` when it is added rather than a failure mid-run.
pub(crate) fn from_object(obj: &Bound<'_, PyAny>) -> PyResult<PyStage> {
    let type_name = obj.get_type().name()?.to_string();
    let name: String = obj
        .getattr("name")
        .and_then(|n| n.extract())
        .map_err(|_| PyTypeError::new_err(format!("a stage needs a `name` attribute (a str); {type_name} has none")))?;
    let artifacts = |attr: &str| -> PyResult<Vec<Artifact>> {
        let value = match obj.getattr(attr) {
            Ok(v) => v,
            Err(_) => return Ok(Vec::new()),
        };
        let names: Vec<String> = value.extract().map_err(|_| {
            PyTypeError::new_err(format!("stage `{name}`: `{attr}` must be a list of artifact names (str)"))
        })?;
        Ok(names.into_iter().map(artifact).collect())
    };
    let (requires, provides) = (artifacts("requires")?, artifacts("provides")?);
    let class = obj.get_type();
    let mut identity = format!("{}.{}", class.module()?, class.qualname()?);
    match obj.getattr("version") {
        Ok(v) if !v.is_none() => {
            let version: String = v.extract().map_err(|_| {
                let found = v.get_type().name().map(|n| n.to_string()).unwrap_or_default();
                PyTypeError::new_err(format!("stage `{name}`: `version` must be a str, found {found}"))
            })?;
            identity.push(':');
            identity.push_str(&version);
        }
        _ => {}
    }
    let common = Common { obj: obj.clone().unbind(), name: name.clone(), requires, provides, identity };
    let callable = |m: &str| obj.getattr(m).map(|f| f.is_callable()).unwrap_or(false);
    match (callable("process"), callable("run")) {
        (true, false) => Ok(PyStage::Stream(PyStreamStage(common))),
        (false, true) => Ok(PyStage::Match(PyMatchStage(common))),
        (true, true) => Err(PyTypeError::new_err(format!(
            "stage `{name}` has both `process` (streaming) and `run` (match): give it one"
        ))),
        (false, false) => Err(PyTypeError::new_err(format!(
            "stage `{name}` ({type_name}) needs a `process(records)` method (streaming stage) or a `run(match)` method (match stage)"
        ))),
    }
}

/// A built-in artifact by its name, or a user artifact.
fn artifact(name: String) -> Artifact {
    [
        Artifact::FRAMES,
        Artifact::PLAYER_DETECTIONS,
        Artifact::BALL_CANDIDATES,
        Artifact::HOMOGRAPHY,
        Artifact::PLAYER_TRACKS,
        Artifact::BALL,
    ]
    .into_iter()
    .find(|a| a.name() == name)
    .unwrap_or_else(|| Artifact::custom(name))
}

impl Common {
    /// Calls `method` with the GIL held; a Python exception becomes a stage error with its
    /// traceback. `TimeoutError` and `ConnectionError` (and their subclasses) are transient,
    /// so the stage's retry policy tries the call again: they are Python's own names for a
    /// remote service or device that may answer next time. Any other exception is permanent.
    fn call<T>(&self, f: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyAny>) -> PyResult<T>) -> footml::Result<T> {
        Python::try_attach(|py| {
            f(py, self.obj.bind(py)).map_err(|err| {
                let message = format!("Python stage `{}` raised:\n{}", self.name, traceback(py, &err));
                if err.is_instance_of::<PyTimeoutError>(py) || err.is_instance_of::<PyConnectionError>(py) {
                    footml::Error::transient(message)
                } else {
                    footml::Error::permanent(message)
                }
            })
        })
        .unwrap_or_else(|| Err(footml::Error::permanent("the Python interpreter is not available")))
    }

    fn save_state(&self) -> footml::Result<Vec<u8>> {
        self.call(|_, obj| match obj.getattr("save_state") {
            Ok(f) => Ok(f.call0()?.cast::<PyBytes>()?.as_bytes().to_vec()),
            Err(_) => Ok(Vec::new()),
        })
    }

    fn load_state(&mut self, state: &[u8]) -> footml::Result<()> {
        self.call(|py, obj| match obj.getattr("load_state") {
            Ok(f) => f.call1((PyBytes::new(py, state),)).map(drop),
            Err(_) => Ok(()),
        })
    }
}

/// The exception with its traceback, as Python prints it.
fn traceback(py: Python<'_>, err: &PyErr) -> String {
    let formatted = py.import("traceback").and_then(|tb| {
        let lines = tb.call_method1("format_exception", (err.get_type(py), err.value(py), err.traceback(py)))?;
        let lines: Vec<String> = lines.extract()?;
        Ok(lines.concat())
    });
    formatted.unwrap_or_else(|_| err.to_string()).trim_end().to_string()
}

fn to_python<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| PyTypeError::new_err(e.to_string()))?;
    json::loads(py, &text)
}

fn from_python<T: serde::de::DeserializeOwned>(value: &Bound<'_, PyAny>, what: &str) -> PyResult<T> {
    let text = json::dumps(value)?;
    serde_json::from_str(&text).map_err(|e| PyTypeError::new_err(format!("{what}: {e}")))
}

macro_rules! stage_impl {
    ($t:ty) => {
        impl Stage for $t {
            fn name(&self) -> &str {
                &self.0.name
            }
            fn requires(&self) -> Vec<Artifact> {
                self.0.requires.clone()
            }
            fn provides(&self) -> Vec<Artifact> {
                self.0.provides.clone()
            }
            fn identity(&self) -> String {
                self.0.identity.clone()
            }
        }
    };
}
stage_impl!(PyStreamStage);
stage_impl!(PyMatchStage);

impl StreamStage for PyStreamStage {
    fn process(&mut self, batch: &mut FrameBatch, _ctx: &StageContext) -> footml::Result<()> {
        let records: Vec<&FrameRecord> = batch.records().collect();
        let updated: Vec<FrameRecord> = self.0.call(|py, obj| {
            let list = to_python(py, &records)?;
            let returned = obj.call_method1("process", (&list,))?;
            let out = if returned.is_none() { list } else { returned };
            from_python(&out, "the records a stage returns must be frame records")
        })?;
        if updated.len() != batch.items.len()
            || updated.iter().zip(&batch.items).any(|(u, i)| u.index != i.record.index)
        {
            return Err(footml::Error::permanent(format!(
                "Python stage `{}` must return the batch's {} records in order (same `index` values), found {}",
                self.0.name,
                batch.items.len(),
                updated.len()
            )));
        }
        for (item, record) in batch.items.iter_mut().zip(updated) {
            item.record = record;
        }
        Ok(())
    }

    fn save_state(&self) -> footml::Result<Vec<u8>> {
        self.0.save_state()
    }

    fn load_state(&mut self, state: &[u8]) -> footml::Result<()> {
        self.0.load_state(state)
    }
}

impl MatchStage for PyMatchStage {
    fn run(&mut self, data: &mut MatchData, _ctx: &StageContext) -> footml::Result<()> {
        let updated: MatchData = self.0.call(|py, obj| {
            let dict = to_python(py, &*data)?;
            let returned = obj.call_method1("run", (&dict,))?;
            let out = if returned.is_none() { dict } else { returned };
            from_python(&out, "the match a stage returns must be match data")
        })?;
        *data = updated;
        Ok(())
    }
}
