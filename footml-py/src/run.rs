//! Running a pipeline from Python: on a thread of its own with the GIL released, while the
//! calling thread watches for signals (Ctrl-C) and cancels the run when one raises.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, bounded};
use footml::pipeline::events::EventSink;
use footml::{CancellationToken, MatchReport, PipelineEvent};
use pyo3::panic::PanicException;
use pyo3::prelude::*;

use crate::errors::to_py_err;

/// How often a waiting thread takes the GIL to check for signals.
pub(crate) const SIGNAL_POLL: Duration = Duration::from_millis(100);

type Outcome = std::thread::Result<footml::Result<MatchReport>>;

/// Runs `job` (which builds and runs a pipeline cancelled by `token`) on a thread of its
/// own and waits for it with the GIL released. A signal (Ctrl-C) cancels the run, waits for
/// it to stop and re-raises the signal's exception; a panic becomes `PanicException`.
pub(crate) fn run_detached(
    py: Python<'_>,
    token: CancellationToken,
    job: impl FnOnce() -> footml::Result<MatchReport> + Send + 'static,
) -> PyResult<MatchReport> {
    let (tx, rx) = bounded::<Outcome>(1);
    let handle = std::thread::Builder::new()
        .name("footml-run".into())
        .spawn(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(job)));
        })
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start the analysis thread: {e}")))?;

    let outcome = match wait(py, &rx) {
        Ok(outcome) => outcome,
        Err(signal) => {
            // Ctrl-C: stop the run (at its next batch; checkpoints written so far stay) and
            // wait for it, so no work goes on behind the caller's back. A second signal
            // stops waiting.
            token.cancel();
            let _ = wait(py, &rx);
            return Err(signal);
        }
    };
    let _ = handle.join();
    match outcome {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(e)) => Err(to_py_err(py, &e)),
        Err(payload) => Err(PanicException::new_err(panic_message(&*payload))),
    }
}

/// Waits for the run's outcome with the GIL released, checking for signals every
/// [`SIGNAL_POLL`]; returns the exception a signal handler raised, if one did.
fn wait(py: Python<'_>, rx: &Receiver<Outcome>) -> PyResult<Outcome> {
    loop {
        match py.detach(|| rx.recv_timeout(SIGNAL_POLL)) {
            Ok(outcome) => return Ok(outcome),
            Err(RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(RecvTimeoutError::Disconnected) => {
                return Ok(Err(Box::new("the analysis thread ended without a result")));
            }
        }
    }
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    footml::error::panic_message(payload).unwrap_or("footml panicked").to_string()
}

/// Delivers events to a Python callable as dicts. It runs on the engine's sink thread,
/// taking the GIL for each call; an exception from the callable goes to
/// `sys.unraisablehook` and is returned as an error, which the engine's circuit breaker
/// counts (and the run goes on).
pub(crate) struct PyCallbackSink {
    pub(crate) callback: Py<PyAny>,
}

impl EventSink for PyCallbackSink {
    fn send(&mut self, event: &PipelineEvent) -> footml::Result<()> {
        let json = serde_json::to_string(event).map_err(|e| footml::Error::permanent(format!("event to JSON: {e}")))?;
        Python::try_attach(|py| {
            let callback = self.callback.bind(py);
            crate::json::loads(py, &json).and_then(|event| callback.call1((event,))).map(drop).map_err(|err| {
                let message = format!("on_event callback raised {err}");
                err.write_unraisable(py, Some(callback));
                footml::Error::permanent(message)
            })
        })
        .unwrap_or_else(|| Err(footml::Error::permanent("the Python interpreter is not available")))
    }

    fn flush(&mut self) -> footml::Result<()> {
        Ok(())
    }
}
