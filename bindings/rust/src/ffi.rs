//! Strings across the C boundary.

use std::borrow::Cow;
use std::ffi::{CStr, CString, c_char, c_void};

use crate::error::{Error, ErrorCode, Result};
use crate::sys;

/// `s` as a C string; `what` names the argument if it holds a NUL byte (C would cut it there).
pub(crate) fn cstring(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|e| {
        Error::new(
            ErrorCode::InvalidArgument,
            format!("{what} contains a NUL byte at offset {}", e.nul_position()),
        )
    })
}

/// Copies a string the library allocated and releases it with `zlt_free`.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string returned through a `char**` output of this
/// library, not yet freed, and not used afterwards.
pub(crate) unsafe fn take_string(ptr: *mut c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: per this function's contract the string is valid and NUL-terminated.
    let text = unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: allocated by the library, released exactly once, here.
    unsafe { sys::zlt_free(ptr.cast::<c_void>()) };
    text
}

/// A string handed to a callback; NULL reads as "".
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn borrow_str<'a>(ptr: *const c_char) -> Cow<'a, str> {
    if ptr.is_null() {
        Cow::Borrowed("")
    } else {
        // SAFETY: per this function's contract.
        unsafe { CStr::from_ptr(ptr) }.to_string_lossy()
    }
}
