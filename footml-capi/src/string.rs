//! Strings across the boundary: C strings in, footml-allocated strings out.

use std::ffi::{CStr, CString, c_char};

use crate::result::footml_result;

/// Frees a string that footml returned through an out-parameter (a report, an error
/// message). Passing NULL does nothing.
///
/// # Safety
///
/// `s` must be NULL or a pointer footml returned as an owned string, not freed before.
/// Static strings (from `footml_version`, `footml_result_message`) must not be passed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn footml_string_free(s: *mut c_char) {
    crate::panic::boundary(|| {
        if !s.is_null() {
            // SAFETY: the caller passes a pointer made by `CString::into_raw` in this crate.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// A C string for `s`; an interior NUL (which no JSON or message of footml contains) is
/// replaced so that the text is never silently cut.
pub(crate) fn to_c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| CString::new(s.replace('\0', "\u{FFFD}")).expect("NULs replaced"))
}

/// The `&str` behind a C string argument.
///
/// # Safety
///
/// `p` must be NULL or point to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, (footml_result, String)> {
    if p.is_null() {
        return Err((footml_result::FOOTML_ERR_NULL_POINTER, format!("`{name}` is NULL")));
    }
    // SAFETY: non-null, and NUL-terminated and alive by the caller's contract.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|e| (footml_result::FOOTML_ERR_INVALID_UTF8, format!("`{name}` is not valid UTF-8: {e}")))
}

/// Sets a constructor's out-pointers to NULL (each may be NULL itself).
///
/// # Safety
///
/// Each pointer must be NULL or writable.
pub(crate) unsafe fn clear_out<T>(object_out: *mut *mut T, error_out: *mut *mut c_char) {
    // SAFETY: NULL or writable by the caller's contract.
    unsafe {
        if !object_out.is_null() {
            *object_out = std::ptr::null_mut();
        }
        if !error_out.is_null() {
            *error_out = std::ptr::null_mut();
        }
    }
}

/// Hands a constructor's outcome to C: the object through `object_out`, or the message
/// through `error_out` (when not NULL); returns the code.
///
/// # Safety
///
/// `object_out` must be writable when `outcome` is `Ok` (constructors check it first);
/// `error_out` must be NULL or writable.
pub(crate) unsafe fn finish_new<T>(
    outcome: Result<*mut T, crate::error::Failure>,
    object_out: *mut *mut T,
    error_out: *mut *mut c_char,
) -> footml_result {
    match outcome {
        Ok(object) => {
            // SAFETY: checked non-NULL by the constructor; writable by the caller's contract.
            unsafe { *object_out = object };
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
}
