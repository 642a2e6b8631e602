//! Result codes and the mapping of [`footml::Error`] onto them.

use std::ffi::{CStr, c_char};

use footml::{Error, ErrorKind};

/// What a footml function returns. `FOOTML_OK` is 0; every other value is an error.
/// Values are stable: codes are only ever added, never renumbered.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum footml_result {
    /// Success.
    FOOTML_OK = 0,
    /// A required pointer argument was NULL.
    FOOTML_ERR_NULL_POINTER = 1,
    /// A string argument was not valid UTF-8.
    FOOTML_ERR_INVALID_UTF8 = 2,
    /// The configuration is invalid: not JSON, an unknown key, a bad value, no input.
    FOOTML_ERR_CONFIG = 3,
    /// An input file (video, detections) does not exist.
    FOOTML_ERR_NOT_FOUND = 4,
    /// An input file exists but could not be read as what it should be (a video FFmpeg
    /// cannot decode, a malformed detections or homography file).
    FOOTML_ERR_INPUT = 5,
    /// The checkpoint store failed.
    FOOTML_ERR_CHECKPOINT = 6,
    /// A pipeline stage failed.
    FOOTML_ERR_STAGE = 7,
    /// The run was cancelled.
    FOOTML_ERR_CANCELLED = 8,
    /// footml panicked (a bug): the panic was caught at the C boundary or in a stage.
    FOOTML_ERR_PANIC = 9,
    /// A file could not be read or written.
    FOOTML_ERR_IO = 10,
    /// An error this version of the C API does not classify more precisely.
    FOOTML_ERR_OTHER = 11,
    /// An argument is outside what the function accepts: a pushed frame's size, stride,
    /// buffer length or timestamp, a detection without area, an unknown enum value, or a
    /// push of a kind the live session does not take.
    FOOTML_ERR_INVALID_ARGUMENT = 12,
    /// The object has ended and takes no more calls of this kind: a pipeline that already
    /// ran, a live session that finished, failed or was cancelled.
    FOOTML_ERR_CLOSED = 13,
    /// Another worker is running the same pipeline id now (it holds the shared checkpoint
    /// store's lock). Transient: retry later, once that run has ended. Not a broken store
    /// (that is `FOOTML_ERR_CHECKPOINT`).
    FOOTML_ERR_BUSY = 14,
}

impl footml_result {
    /// The code for a core error. A stage that failed after its retries is classified by
    /// the error that made it fail (a missing file is `NOT_FOUND` wherever it surfaced).
    pub(crate) fn from_error(e: &Error) -> Self {
        use footml_result::*;
        match e.kind() {
            ErrorKind::Config => FOOTML_ERR_CONFIG,
            ErrorKind::NotFound => FOOTML_ERR_NOT_FOUND,
            ErrorKind::InvalidVideo | ErrorKind::InvalidDetections => FOOTML_ERR_INPUT,
            ErrorKind::Checkpoint => FOOTML_ERR_CHECKPOINT,
            ErrorKind::Busy => FOOTML_ERR_BUSY,
            ErrorKind::Io => FOOTML_ERR_IO,
            ErrorKind::Stage => FOOTML_ERR_STAGE,
            ErrorKind::Panicked => FOOTML_ERR_PANIC,
            ErrorKind::Cancelled => FOOTML_ERR_CANCELLED,
            ErrorKind::InvalidInput => FOOTML_ERR_INVALID_ARGUMENT,
            ErrorKind::Closed => FOOTML_ERR_CLOSED,
            _ => FOOTML_ERR_OTHER,
        }
    }

    fn from_code(code: u32) -> Option<Self> {
        use footml_result::*;
        Some(match code {
            0 => FOOTML_OK,
            1 => FOOTML_ERR_NULL_POINTER,
            2 => FOOTML_ERR_INVALID_UTF8,
            3 => FOOTML_ERR_CONFIG,
            4 => FOOTML_ERR_NOT_FOUND,
            5 => FOOTML_ERR_INPUT,
            6 => FOOTML_ERR_CHECKPOINT,
            7 => FOOTML_ERR_STAGE,
            8 => FOOTML_ERR_CANCELLED,
            9 => FOOTML_ERR_PANIC,
            10 => FOOTML_ERR_IO,
            11 => FOOTML_ERR_OTHER,
            12 => FOOTML_ERR_INVALID_ARGUMENT,
            13 => FOOTML_ERR_CLOSED,
            14 => FOOTML_ERR_BUSY,
            _ => return None,
        })
    }

    fn message(self) -> &'static CStr {
        use footml_result::*;
        match self {
            FOOTML_OK => c"success",
            FOOTML_ERR_NULL_POINTER => c"a required pointer argument was NULL",
            FOOTML_ERR_INVALID_UTF8 => c"a string argument was not valid UTF-8",
            FOOTML_ERR_CONFIG => c"invalid configuration",
            FOOTML_ERR_NOT_FOUND => c"input file not found",
            FOOTML_ERR_INPUT => c"input file could not be read",
            FOOTML_ERR_CHECKPOINT => c"checkpoint store failed",
            FOOTML_ERR_STAGE => c"a pipeline stage failed",
            FOOTML_ERR_CANCELLED => c"the run was cancelled",
            FOOTML_ERR_PANIC => c"footml panicked (a bug; please report it)",
            FOOTML_ERR_IO => c"a file could not be read or written",
            FOOTML_ERR_OTHER => c"footml failed",
            FOOTML_ERR_INVALID_ARGUMENT => c"an argument is invalid",
            FOOTML_ERR_CLOSED => c"the object has ended and takes no more calls",
            FOOTML_ERR_BUSY => c"another worker is running this pipeline; retry later",
        }
    }
}

/// A static, NUL-terminated description of a `footml_result` code (do not free). Any
/// value may be passed: an unknown one gives "unknown footml_result code".
#[unsafe(no_mangle)]
pub extern "C" fn footml_result_message(result: u32) -> *const c_char {
    crate::panic::boundary(|| {
        footml_result::from_code(result).map_or(c"unknown footml_result code", footml_result::message).as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_has_a_message() {
        for code in 0..=14 {
            let r = footml_result::from_code(code).unwrap();
            assert_eq!(r as u32, code);
            assert!(!r.message().is_empty());
        }
        assert_eq!(footml_result::from_code(15), None);
    }

    #[test]
    fn errors_are_classified_through_stage_failures() {
        let missing = Error::Detections(footml::stages::detections_file::DetectionsError::NotFound("x.txt".into()));
        assert_eq!(footml_result::from_error(&missing), footml_result::FOOTML_ERR_NOT_FOUND);
        let wrapped = Error::StageFailed { stage: "s".into(), attempts: 3, source: Box::new(missing) };
        assert_eq!(footml_result::from_error(&wrapped), footml_result::FOOTML_ERR_NOT_FOUND);
        let stage = Error::StageFailed { stage: "s".into(), attempts: 1, source: Box::new(Error::permanent("x")) };
        assert_eq!(footml_result::from_error(&stage), footml_result::FOOTML_ERR_STAGE);
        assert_eq!(footml_result::from_error(&Error::Cancelled), footml_result::FOOTML_ERR_CANCELLED);
    }

    /// A run refused because another worker holds the pipeline's lock is `FOOTML_ERR_BUSY`,
    /// also when it surfaced as a stage failure; a broken store stays `FOOTML_ERR_CHECKPOINT`.
    #[test]
    fn a_held_lock_is_busy_not_a_checkpoint_failure() {
        use footml::pipeline::checkpoint::CheckpointError;
        let locked = || Error::Checkpoint(CheckpointError::Locked { pipeline_id: "match-7".into() });
        assert_eq!(footml_result::from_error(&locked()), footml_result::FOOTML_ERR_BUSY);
        let wrapped = Error::StageFailed { stage: "s".into(), attempts: 5, source: Box::new(locked()) };
        assert_eq!(footml_result::from_error(&wrapped), footml_result::FOOTML_ERR_BUSY);
        let down = Error::Checkpoint(CheckpointError::Backend("connection refused".into()));
        assert_eq!(footml_result::from_error(&down), footml_result::FOOTML_ERR_CHECKPOINT);
        assert_eq!(footml_result::FOOTML_ERR_BUSY as u32, 14);
        // SAFETY: a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr(footml_result_message(14)) };
        assert_eq!(text, c"another worker is running this pipeline; retry later");
    }
}
