//! The exception hierarchy, mirroring `footml::Error`, and the mapping onto it.
//!
//! ```text
//! FootmlError(Exception)
//! ├── ConfigError(FootmlError, ValueError)          Error::Config, Error::Build
//! ├── InputNotFoundError(FootmlError, FileNotFoundError)   a missing video or detections file
//! ├── DetectionsError(FootmlError, ValueError)      Error::Detections
//! ├── VideoError(FootmlError)                       Error::Video
//! ├── CheckpointError(FootmlError)                  Error::Checkpoint
//! │   └── PipelineBusyError(CheckpointError)        CheckpointError::Locked (ErrorKind::Busy): another worker
//! │                                                  runs the same pipeline id now; transient, retry later
//! ├── FileError(FootmlError, OSError)               Error::Io: a file could not be read or written
//! ├── StageError(FootmlError)                       Error::Stage, StageFailed, Panicked
//! ├── CancelledError(FootmlError)                   Error::Cancelled
//! ├── ArrayError(FootmlError, ValueError)           a NumPy argument of the wrong type, dtype or shape
//! ├── ReportError(FootmlError, ValueError)          `Report.from_json` text / a `Report.read` file that is not a
//! │                                                  report, or a table it names that is not that table
//! ├── InvalidInputError(FootmlError, ValueError)    a pushed live frame of the wrong size, stride or timestamp
//! └── UsageError(FootmlError, RuntimeError)         a call in the wrong state (run twice, events() after run(),
//!                                                    a closed live session)
//! ```
//! A stage that failed after its retries raises the class of the error that made it fail
//! (a missing file is an `InputNotFoundError` wherever it surfaced). Errors with no class
//! of their own (variants added later) raise `FootmlError`.

use footml::{Error, ErrorKind};
use pyo3::exceptions::{PyException, PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The exception classes, in the order they are created (bases first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Footml,
    Config,
    InputNotFound,
    Detections,
    Video,
    Checkpoint,
    Stage,
    Cancelled,
    Array,
    Report,
    Usage,
    InvalidInput,
    File,
    Busy,
}

impl Kind {
    const ALL: [Kind; 14] = [
        Kind::Footml,
        Kind::Config,
        Kind::InputNotFound,
        Kind::Detections,
        Kind::Video,
        Kind::Checkpoint,
        Kind::Stage,
        Kind::Cancelled,
        Kind::Array,
        Kind::Report,
        Kind::Usage,
        Kind::InvalidInput,
        Kind::File,
        // After its base, `Checkpoint`: classes are made in this order.
        Kind::Busy,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Footml => "FootmlError",
            Kind::Config => "ConfigError",
            Kind::InputNotFound => "InputNotFoundError",
            Kind::Detections => "DetectionsError",
            Kind::Video => "VideoError",
            Kind::Checkpoint => "CheckpointError",
            Kind::Stage => "StageError",
            Kind::Cancelled => "CancelledError",
            Kind::Array => "ArrayError",
            Kind::Report => "ReportError",
            Kind::Usage => "UsageError",
            Kind::InvalidInput => "InvalidInputError",
            Kind::File => "FileError",
            Kind::Busy => "PipelineBusyError",
        }
    }

    fn doc(self) -> &'static str {
        match self {
            Kind::Footml => "Base class of every error footml raises.",
            Kind::Config => "The configuration is invalid: not JSON, an unknown key, a bad value, no input.",
            Kind::InputNotFound => "An input file (video, detections) does not exist.",
            Kind::Detections => "A detections or homography file could not be parsed.",
            Kind::Video => "A video could not be opened or decoded.",
            Kind::Checkpoint => "The checkpoint store failed.",
            Kind::Stage => "A pipeline stage failed (or panicked).",
            Kind::Cancelled => "The run was cancelled.",
            Kind::Array => "A NumPy argument has the wrong type, dtype, number of dimensions or shape.",
            Kind::Report => {
                "Text given to Report.from_json, or a file given to Report.read, is not a footml report (or a \
                 table file it names is not that table)."
            }
            Kind::Usage => {
                "A call made in the wrong state (a pipeline run twice, events() after run(), a closed session)."
            }
            Kind::InvalidInput => "A pushed live frame has the wrong size, stride or timestamp.",
            Kind::File => "A file could not be read or written (an output directory, a report file).",
            Kind::Busy => {
                "Another worker is running the same pipeline id now (it holds the Redis checkpoint store's lock). \
                 Transient: retry later, once that run ends or its lock expires. A CheckpointError, so handlers of \
                 store failures still catch it, but not a broken store."
            }
        }
    }

    /// The class of a core error.
    pub(crate) fn of(e: &Error) -> Kind {
        match e.kind() {
            ErrorKind::Config => Kind::Config,
            ErrorKind::NotFound => Kind::InputNotFound,
            ErrorKind::InvalidDetections => Kind::Detections,
            ErrorKind::InvalidVideo => Kind::Video,
            ErrorKind::Checkpoint => Kind::Checkpoint,
            ErrorKind::Busy => Kind::Busy,
            ErrorKind::Stage | ErrorKind::Panicked => Kind::Stage,
            ErrorKind::Cancelled => Kind::Cancelled,
            ErrorKind::InvalidInput => Kind::InvalidInput,
            ErrorKind::Closed => Kind::Usage,
            ErrorKind::Io => Kind::File,
            _ => Kind::Footml,
        }
    }
}

/// The created classes, indexed like [`Kind::ALL`].
static CLASSES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Vec<Py<PyType>>> {
    CLASSES.get_or_try_init(py, || {
        let mut made: Vec<Py<PyType>> = Vec::with_capacity(Kind::ALL.len());
        for kind in Kind::ALL {
            let footml = || made[Kind::Footml as usize].bind(py).clone();
            let bases = match kind {
                Kind::Footml => vec![py.get_type::<PyException>()],
                Kind::Config | Kind::Detections | Kind::Array | Kind::Report | Kind::InvalidInput => {
                    vec![footml(), py.get_type::<PyValueError>()]
                }
                Kind::Usage => vec![footml(), py.get_type::<PyRuntimeError>()],
                Kind::InputNotFound => vec![footml(), py.get_type::<PyFileNotFoundError>()],
                Kind::File => vec![footml(), py.get_type::<PyOSError>()],
                // A held lock is a condition of the shared checkpoint store: `except
                // CheckpointError` written before this class existed still catches it.
                Kind::Busy => vec![made[Kind::Checkpoint as usize].bind(py).clone()],
                _ => vec![footml()],
            };
            // `type(name, bases, namespace)`, as a `class` statement would: several bases,
            // which `PyErr::new_type` cannot express. The module is the package that
            // re-exports them, so tracebacks read `footml.ConfigError` and pickling works.
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "footml")?;
            namespace.set_item("__doc__", kind.doc())?;
            let class = py.get_type::<PyType>().call1((kind.name(), PyTuple::new(py, bases)?, namespace))?;
            made.push(class.cast_into::<PyType>()?.unbind());
        }
        Ok(made)
    })
}

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for (kind, class) in Kind::ALL.iter().zip(classes(m.py())?) {
        m.add(kind.name(), class.bind(m.py()))?;
    }
    Ok(())
}

/// The Python exception for a core error.
pub(crate) fn to_py_err(py: Python<'_>, e: &Error) -> PyErr {
    match classes(py) {
        Ok(classes) => PyErr::from_type(classes[Kind::of(e) as usize].bind(py).clone(), e.to_string()),
        Err(err) => err,
    }
}

/// An exception of class `kind` with `message` (for errors found in the binding itself).
pub(crate) fn new_err(py: Python<'_>, kind: Kind, message: impl Into<String>) -> PyErr {
    match classes(py) {
        Ok(classes) => PyErr::from_type(classes[kind as usize].bind(py).clone(), message.into()),
        Err(err) => err,
    }
}
