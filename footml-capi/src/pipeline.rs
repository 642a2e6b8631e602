//! A pipeline object: made from JSON config, run with an event callback, cancellable from
//! another thread.

use std::ffi::{c_char, c_void};
use std::sync::{Arc, Mutex};

use footml::pipeline::events::{EventSink, PipelineEvent};
use footml::{CancellationToken, Pipeline, PipelineBuilder, PipelineConfig};

use crate::error::{Failure, LastError, fail, non_null};
use crate::report::footml_report;
use crate::result::footml_result;
use crate::string::{str_arg, to_c_string};

/// Receives each pipeline event as one line of JSON (the `events.jsonl` layout), with the
/// `userdata` given to `footml_pipeline_run`. Called on a footml thread, never two calls at
/// once for one run, and never after `footml_pipeline_run` has returned; `event_json` is
/// valid during the call only. A slow callback delays only the events, not the analysis.
/// It may call `footml_pipeline_cancel`/`footml_live_cancel` and the `_last_error`
/// functions; any other call on the object it reports on (run, push, finish, free) from
/// inside the callback deadlocks.
#[allow(non_camel_case_types)]
pub type footml_event_callback = Option<unsafe extern "C" fn(event_json: *const c_char, userdata: *mut c_void)>;

/// A pipeline built from a configuration, ready to run once (opaque). Made by
/// `footml_pipeline_new`, freed with `footml_pipeline_free`.
#[allow(non_camel_case_types)]
pub struct footml_pipeline {
    builder: Mutex<Option<PipelineBuilder>>,
    cancel: CancellationToken,
    last_error: LastError,
}

/// The caller's `userdata`, handed to the sink thread.
pub(crate) struct UserData(pub(crate) *mut c_void);
// SAFETY: footml never dereferences it; the caller hands it over for callbacks made on a
// footml thread, which is what `footml_event_callback` documents.
unsafe impl Send for UserData {}

/// An event sink calling the C callback. `open` is cleared under its lock ([`close_gate`])
/// when the run returns, so no callback can start (or still be running) after that.
pub(crate) struct CallbackSink {
    pub(crate) callback: unsafe extern "C" fn(*const c_char, *mut c_void),
    pub(crate) userdata: UserData,
    pub(crate) open: Arc<Mutex<bool>>,
}

/// Stops a [`CallbackSink`] for good, waiting for a callback in progress to return.
pub(crate) fn close_gate(open: &Mutex<bool>) {
    *open.lock().unwrap_or_else(|e| e.into_inner()) = false;
}

impl EventSink for CallbackSink {
    fn send(&mut self, event: &PipelineEvent) -> footml::Result<()> {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if *open {
            let json = serde_json::to_string(event).map_err(|e| footml::Error::permanent(e.to_string()))?;
            let json = to_c_string(&json);
            // SAFETY: a valid C callback by the caller's contract; `json` outlives the call.
            unsafe { (self.callback)(json.as_ptr(), self.userdata.0) };
        }
        Ok(())
    }

    fn flush(&mut self) -> footml::Result<()> {
        Ok(())
    }
}

/// Builds the pipeline a configuration describes (the keys of `footml::PipelineConfig` as
/// JSON; unknown keys are errors). Input files are opened here, so a missing one fails now.
/// `*pipeline_out` is set to NULL first and receives the pipeline on success. On failure
/// (no object exists yet to hold the message) `*error_out`, when `error_out` is not NULL,
/// receives it; free it with `footml_string_free`.
///
/// # Safety
///
/// `config_json` must be NULL or NUL-terminated; `pipeline_out` must be NULL or writable;
/// `error_out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_pipeline_new(
    config_json: *const c_char,
    pipeline_out: *mut *mut footml_pipeline,
    error_out: *mut *mut c_char,
) -> footml_result {
    crate::panic::boundary(|| {
        // SAFETY: out-pointers are NULL or writable by the caller's contract.
        unsafe { crate::string::clear_out(pipeline_out, error_out) };
        let outcome = (|| -> Result<*mut footml_pipeline, Failure> {
            non_null(pipeline_out, "pipeline_out")?;
            // SAFETY: NULL or NUL-terminated by the caller's contract, read during this call.
            let json = unsafe { str_arg(config_json, "config_json") }?;
            let config = PipelineConfig::from_json(json).map_err(|e| fail(e.into()))?;
            let cancel = CancellationToken::new();
            let builder = Pipeline::builder_from_config(&config).map_err(fail)?.cancellation_token(cancel.clone());
            let p = footml_pipeline { builder: Mutex::new(Some(builder)), cancel, last_error: LastError::default() };
            Ok(Box::into_raw(Box::new(p)))
        })();
        // SAFETY: out-pointers are NULL or writable by the caller's contract.
        unsafe { crate::string::finish_new(outcome, pipeline_out, error_out) }
    })
}

/// Runs the pipeline to the end on the calling thread; `callback` (may be NULL) receives the
/// events. On success `*report_out` receives the report (free it with `footml_report_free`);
/// it is set to NULL first. A pipeline runs once: a second run is `FOOTML_ERR_CLOSED`.
/// `footml_pipeline_cancel` from another thread makes it return `FOOTML_ERR_CANCELLED`.
/// The message of a failure is `footml_pipeline_last_error(pipeline)`.
///
/// # Safety
///
/// `pipeline` must be NULL or a pipeline from `footml_pipeline_new` not yet freed;
/// `report_out` must be NULL or writable; `callback`, when not NULL, must be safe to call
/// from another thread with `userdata` until this function returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_pipeline_run(
    pipeline: *const footml_pipeline,
    callback: footml_event_callback,
    userdata: *mut c_void,
    report_out: *mut *mut footml_report,
) -> footml_result {
    crate::panic::boundary(|| {
        if pipeline.is_null() {
            return footml_result::FOOTML_ERR_NULL_POINTER;
        }
        // SAFETY: non-NULL and alive by the caller's contract; only shared access is used.
        let p = unsafe { &*pipeline };
        let outcome = (|| {
            non_null(report_out, "report_out")?;
            // SAFETY: non-NULL and writable by the caller's contract.
            unsafe { *report_out = std::ptr::null_mut() };
            let builder = p.builder.lock().unwrap_or_else(|e| e.into_inner()).take();
            let Some(mut builder) = builder else {
                return Err((footml_result::FOOTML_ERR_CLOSED, "this pipeline has already run".to_string()));
            };
            let open = Arc::new(Mutex::new(true));
            if let Some(callback) = callback {
                builder =
                    builder.event_sink(CallbackSink { callback, userdata: UserData(userdata), open: open.clone() });
            }
            let result = builder.build().and_then(Pipeline::run);
            // Late events are dropped rather than delivered after the caller got control back.
            close_gate(&open);
            let report = result.map_err(fail)?;
            // SAFETY: non-NULL and writable by the caller's contract.
            unsafe { *report_out = footml_report::boxed(report) };
            Ok(())
        })();
        p.last_error.record(outcome)
    })
}

/// Asks a running (or not yet started) pipeline to stop; `footml_pipeline_run` then returns
/// `FOOTML_ERR_CANCELLED`. Safe to call from any thread while the pipeline runs.
///
/// # Safety
///
/// `pipeline` must be NULL or a pipeline from `footml_pipeline_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_pipeline_cancel(pipeline: *const footml_pipeline) -> footml_result {
    crate::panic::boundary(|| {
        if pipeline.is_null() {
            return footml_result::FOOTML_ERR_NULL_POINTER;
        }
        // SAFETY: non-NULL and alive by the caller's contract; the token is thread-safe.
        unsafe { &*pipeline }.cancel.cancel();
        footml_result::FOOTML_OK
    })
}

/// The message of the last failed call on `pipeline`, or NULL when none failed (or
/// `pipeline` is NULL). Valid until the next failing call on it or `footml_pipeline_free`.
///
/// # Safety
///
/// `pipeline` must be NULL or a pipeline from `footml_pipeline_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_pipeline_last_error(pipeline: *const footml_pipeline) -> *const c_char {
    crate::panic::boundary(|| {
        if pipeline.is_null() {
            return std::ptr::null();
        }
        // SAFETY: non-NULL and alive by the caller's contract.
        unsafe { &*pipeline }.last_error.as_ptr()
    })
}

/// Frees a pipeline. NULL does nothing. Not while `footml_pipeline_run` runs on it.
///
/// # Safety
///
/// `pipeline` must be NULL or a pipeline from `footml_pipeline_new`, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_pipeline_free(pipeline: *mut footml_pipeline) {
    crate::panic::boundary(|| {
        if !pipeline.is_null() {
            // SAFETY: made by `Box::into_raw` in `footml_pipeline_new`, freed once.
            drop(unsafe { Box::from_raw(pipeline) });
        }
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, CString};
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::process::{Child, Command, Stdio};
    use std::ptr::null_mut;
    use std::time::{Duration, Instant};

    use footml::{CheckpointStore, RedisCheckpointStore};

    use super::*;

    /// A `redis-server` of this test's own (Debian's, installed by scripts/setup.sh), on a
    /// loopback port below the ephemeral range, killed when dropped. (The core's helper lives
    /// in its integration tests, which this crate cannot reach.)
    struct RedisServer {
        child: Child,
        port: u16,
        _dir: tempfile::TempDir,
    }

    impl RedisServer {
        fn start() -> RedisServer {
            // Another test's server may hold a port: try a few, keyed on this process's id.
            for i in 0..8u16 {
                let dir = tempfile::tempdir().unwrap();
                let port = 20_000 + ((std::process::id() as u16).wrapping_mul(7).wrapping_add(i * 997)) % 12_000;
                let child = Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                    .arg("--dir")
                    .arg(dir.path())
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("redis-server (Debian package redis-server, installed by scripts/setup.sh)");
                let mut server = RedisServer { child, port, _dir: dir };
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(10) {
                    if server.child.try_wait().unwrap().is_some() {
                        break; // the port was taken
                    }
                    if server.answers() {
                        return server;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            panic!("redis-server did not start");
        }

        /// Whether this child answers on the port: `INFO server` names its process id (another
        /// test's server on the same port must not pass for it).
        fn answers(&self) -> bool {
            let addr = ([127, 0, 0, 1], self.port).into();
            let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
                return false;
            };
            s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
            if s.write_all(b"INFO server\r\n").is_err() {
                return false;
            }
            let want = format!("process_id:{}\r\n", self.child.id());
            let (mut reply, mut buf) = (Vec::new(), [0u8; 4096]);
            while let Ok(n @ 1..) = s.read(&mut buf) {
                reply.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&reply).contains(&want) {
                    return true;
                }
            }
            false
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}/0", self.port)
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Runs a pipeline of `config` through the C functions: its code, and the message of a
    /// failure.
    fn run_c(config: &str) -> (footml_result, Option<String>) {
        let config = CString::new(config).unwrap();
        let (mut pipeline, mut report) = (null_mut(), null_mut());
        // SAFETY: valid strings and out-pointers; each object is freed once.
        unsafe {
            assert_eq!(footml_pipeline_new(config.as_ptr(), &mut pipeline, null_mut()), footml_result::FOOTML_OK);
            let rc = footml_pipeline_run(pipeline, None, null_mut(), &mut report);
            let error = footml_pipeline_last_error(pipeline);
            let message = (!error.is_null()).then(|| CStr::from_ptr(error).to_string_lossy().into_owned());
            crate::report::footml_report_free(report);
            footml_pipeline_free(pipeline);
            (rc, message)
        }
    }

    /// With another worker holding the pipeline's lock in Redis, a C run of the same pipeline
    /// id is `FOOTML_ERR_BUSY` (not `FOOTML_ERR_CHECKPOINT`), its message naming the id; once the
    /// lock is released the same run succeeds.
    #[test]
    fn a_pipeline_locked_by_another_worker_is_busy() {
        let server = RedisServer::start();
        let dir = tempfile::tempdir().unwrap();
        let det = dir.path().join("det.txt");
        std::fs::write(&det, "1,-1,10,10,20,40,0.9,-1,-1,-1\n2,-1,11,10,20,40,0.9,-1,-1,-1\n").unwrap();
        let config = serde_json::json!({"detections_path": det, "fps": 25, "frame_size": [64, 48],
                                        "pipeline_id": "c-busy", "redis_url": server.url()})
        .to_string();
        // The other worker: the store's own lock, as a running pipeline holds it.
        let store = RedisCheckpointStore::open(&server.url(), None).unwrap();
        let lock = store.lock("c-busy").unwrap().expect("the Redis store has locks");
        let (rc, message) = run_c(&config);
        assert_eq!(rc, footml_result::FOOTML_ERR_BUSY, "{message:?}");
        assert!(
            message.as_deref().is_some_and(|m| m.contains("`c-busy`") && m.contains("another worker")),
            "{message:?}"
        );
        lock.release().unwrap();
        assert_eq!(run_c(&config), (footml_result::FOOTML_OK, None));
    }
}
