//! Failures inside exported functions: a result code and a message, and the last message
//! kept per object for `footml_<object>_last_error`.

use std::ffi::{CString, c_char};
use std::sync::Mutex;

use crate::result::footml_result;
use crate::string::to_c_string;

/// A failed call: its code and a one-line description.
pub(crate) type Failure = (footml_result, String);

/// The failure for a core error.
pub(crate) fn fail(e: footml::Error) -> Failure {
    (footml_result::from_error(&e), e.to_string())
}

/// The failure for a required pointer argument that is NULL.
pub(crate) fn null(name: &str) -> Failure {
    (footml_result::FOOTML_ERR_NULL_POINTER, format!("`{name}` is NULL"))
}

/// The failure for an argument outside what the function accepts.
pub(crate) fn invalid(message: String) -> Failure {
    (footml_result::FOOTML_ERR_INVALID_ARGUMENT, message)
}

/// Checks that a required pointer argument is not NULL.
pub(crate) fn non_null<T>(p: *const T, name: &str) -> Result<(), Failure> {
    if p.is_null() { Err(null(name)) } else { Ok(()) }
}

/// The message of the last failed call on one object. Behind a mutex because another
/// thread may ask for it (or cancel) while a call runs.
#[derive(Default)]
pub(crate) struct LastError(Mutex<Option<CString>>);

impl LastError {
    /// Records the outcome of a call (a success clears nothing: the last *error* stays
    /// readable) and returns its code.
    pub(crate) fn record(&self, outcome: Result<(), Failure>) -> footml_result {
        match outcome {
            Ok(()) => footml_result::FOOTML_OK,
            Err((code, message)) => {
                *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(to_c_string(&message));
                code
            }
        }
    }

    /// The last message, or NULL. The pointer stays valid until the next failing call on the
    /// object or until the object is freed.
    pub(crate) fn as_ptr(&self) -> *const c_char {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
    }
}
