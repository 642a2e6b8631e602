//! One-call analysis: config JSON in, report JSON out.

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use footml::{Pipeline, PipelineConfig};

use crate::result::footml_result;
use crate::string::{str_arg, to_c_string};

/// Runs the pipeline a configuration describes to the end, on the calling thread.
///
/// `config_json` is the pipeline configuration as JSON (the keys of
/// `footml::PipelineConfig`; unknown keys are errors). On success `*report_json_out`
/// receives the match report as JSON. On failure `*error_out` (when `error_out` is not NULL)
/// receives a one-line description of what went wrong. Both are set to NULL first, and
/// whatever they receive is freed with `footml_string_free`.
///
/// Returns `FOOTML_OK`, or the code of the failure: `FOOTML_ERR_NULL_POINTER` when
/// `config_json` or `report_json_out` is NULL, `FOOTML_ERR_INVALID_UTF8`,
/// `FOOTML_ERR_CONFIG`, `FOOTML_ERR_NOT_FOUND` for a missing input file, and so on.
///
/// # Safety
///
/// `config_json` must be NULL or a NUL-terminated string; `report_json_out` and
/// `error_out` must each be NULL or point to writable `char *` storage.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_analyze_json(
    config_json: *const c_char,
    report_json_out: *mut *mut c_char,
    error_out: *mut *mut c_char,
) -> footml_result {
    crate::panic::boundary(|| {
        // SAFETY: each out-pointer is NULL or writable by the caller's contract.
        unsafe {
            if !error_out.is_null() {
                *error_out = std::ptr::null_mut();
            }
            if !report_json_out.is_null() {
                *report_json_out = std::ptr::null_mut();
            }
        }
        let outcome = if report_json_out.is_null() {
            Err((footml_result::FOOTML_ERR_NULL_POINTER, "`report_json_out` is NULL".to_string()))
        } else {
            catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: `config_json` is NULL or NUL-terminated by the caller's contract, and
                // is only read during this call.
                analyze(unsafe { str_arg(config_json, "config_json") }?)
            }))
            .unwrap_or_else(|p| {
                let message = format!("footml panicked: {}", crate::panic::payload_message(&*p));
                Err((footml_result::FOOTML_ERR_PANIC, message))
            })
        };
        match outcome {
            Ok(report) => {
                // SAFETY: checked non-NULL above; writable by the caller's contract.
                unsafe { *report_json_out = to_c_string(&report).into_raw() };
                footml_result::FOOTML_OK
            }
            Err((code, message)) => {
                if !error_out.is_null() {
                    // SAFETY: non-NULL and writable by the caller's contract.
                    unsafe { *error_out = to_c_string(&message).into_raw() };
                }
                code
            }
        }
    })
}

fn analyze(config_json: &str) -> Result<String, (footml_result, String)> {
    let fail = |e: footml::Error| (footml_result::from_error(&e), e.to_string());
    let config = PipelineConfig::from_json(config_json).map_err(|e| fail(e.into()))?;
    let report = Pipeline::from_config(&config).and_then(Pipeline::run).map_err(fail)?;
    serde_json::to_string(&report).map_err(|e| (footml_result::FOOTML_ERR_OTHER, format!("report to JSON: {e}")))
}
