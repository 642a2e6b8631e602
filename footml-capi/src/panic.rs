//! The panic boundary around every exported function: unwinding into C is undefined
//! behaviour, so a panic is caught and turned into a return value.

use std::any::Any;
use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::result::footml_result;

/// What an exported function returns when its body panicked.
pub(crate) trait OnPanic {
    fn on_panic() -> Self;
}

impl OnPanic for footml_result {
    fn on_panic() -> Self {
        footml_result::FOOTML_ERR_PANIC
    }
}

impl OnPanic for () {
    fn on_panic() -> Self {}
}

impl OnPanic for *const c_char {
    fn on_panic() -> Self {
        std::ptr::null()
    }
}

/// Runs `f`, returning [`OnPanic::on_panic`] if it panics.
pub(crate) fn boundary<R: OnPanic>(f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| R::on_panic())
}

/// The text of a panic payload (`panic!` with a message gives a `&str` or a `String`).
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> String {
    footml::error::panic_message(payload).unwrap_or("panic with a non-string payload").to_string()
}
