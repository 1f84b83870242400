//! Errors: a code mirroring the C `ZLT_E*` values and the library's own message.

use std::ffi::{CStr, c_int};
use std::fmt;

use crate::sys;

/// What kind of failure an [`Error`] is; mirrors the C `ZLT_E*` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Malformed or unexpected data from a peer (`ZLT_EPROTOCOL`).
    Protocol,
    /// Authentication refused (`ZLT_EAUTH`).
    Auth,
    /// Socket, TLS, DNS or WebSocket failure, e.g. an address in use (`ZLT_ECONNECTION`).
    Connection,
    /// Tunnel, service or port bookkeeping, e.g. a port taken (`ZLT_EREGISTRY`).
    Registry,
    /// Invalid configuration or JSON argument; the message names the field (`ZLT_ECONFIG`).
    Config,
    /// An operation ran out of time (`ZLT_ETIMEOUT`).
    Timeout,
    /// The object or its runtime is stopping, stopped or freed (`ZLT_ESHUTDOWN`).
    Shutdown,
    /// Invalid argument (`ZLT_EINVAL`); also used for strings with an interior NUL byte.
    InvalidArgument,
    /// No such object (`ZLT_ENOTFOUND`).
    NotFound,
    /// Already exists (`ZLT_EEXISTS`).
    Exists,
    /// A configured limit was reached (`ZLT_ELIMIT`).
    Limit,
    /// Local file I/O (`ZLT_EIO`).
    Io,
    /// A bug in the library (`ZLT_EINTERNAL`).
    Internal,
    /// Out of memory (`ZLT_ENOMEM`).
    NoMemory,
    /// The object was freed by another thread before this call ran (`ZLT_ECLOSED`).
    Closed,
    /// A code this version of the binding does not know (from a newer library).
    Other(i32),
}

impl ErrorCode {
    /// The code for a C result value (which must not be `ZLT_OK`).
    pub fn from_raw(code: c_int) -> Self {
        match code {
            sys::ZLT_EPROTOCOL => Self::Protocol,
            sys::ZLT_EAUTH => Self::Auth,
            sys::ZLT_ECONNECTION => Self::Connection,
            sys::ZLT_EREGISTRY => Self::Registry,
            sys::ZLT_ECONFIG => Self::Config,
            sys::ZLT_ETIMEOUT => Self::Timeout,
            sys::ZLT_ESHUTDOWN => Self::Shutdown,
            sys::ZLT_EINVAL => Self::InvalidArgument,
            sys::ZLT_ENOTFOUND => Self::NotFound,
            sys::ZLT_EEXISTS => Self::Exists,
            sys::ZLT_ELIMIT => Self::Limit,
            sys::ZLT_EIO => Self::Io,
            sys::ZLT_EINTERNAL => Self::Internal,
            sys::ZLT_ENOMEM => Self::NoMemory,
            sys::ZLT_ECLOSED => Self::Closed,
            other => Self::Other(other),
        }
    }

    /// The C result value, e.g. `-5` for [`ErrorCode::Config`].
    pub fn as_raw(self) -> c_int {
        match self {
            Self::Protocol => sys::ZLT_EPROTOCOL,
            Self::Auth => sys::ZLT_EAUTH,
            Self::Connection => sys::ZLT_ECONNECTION,
            Self::Registry => sys::ZLT_EREGISTRY,
            Self::Config => sys::ZLT_ECONFIG,
            Self::Timeout => sys::ZLT_ETIMEOUT,
            Self::Shutdown => sys::ZLT_ESHUTDOWN,
            Self::InvalidArgument => sys::ZLT_EINVAL,
            Self::NotFound => sys::ZLT_ENOTFOUND,
            Self::Exists => sys::ZLT_EEXISTS,
            Self::Limit => sys::ZLT_ELIMIT,
            Self::Io => sys::ZLT_EIO,
            Self::Internal => sys::ZLT_EINTERNAL,
            Self::NoMemory => sys::ZLT_ENOMEM,
            Self::Closed => sys::ZLT_ECLOSED,
            Self::Other(code) => code,
        }
    }

    /// The library's short English description, e.g. `"invalid configuration"`.
    pub fn description(self) -> &'static str {
        // SAFETY: zlt_strerror accepts any value and returns a NUL-terminated string in static
        // storage, never NULL.
        let text = unsafe { CStr::from_ptr(sys::zlt_strerror(self.as_raw())) };
        text.to_str().unwrap_or("unknown error")
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A failed call: its [`ErrorCode`] and the library's message (from `zlt_last_error()`), which
/// names the offending argument or configuration field where there is one.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = zlayer_tunnel::Runtime::new()?;
/// let err = zlayer_tunnel::Server::new(&rt, r#"{"listen": 5}"#).unwrap_err();
/// assert_eq!(err.code(), zlayer_tunnel::ErrorCode::Config);
/// assert!(err.message().contains("listen"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    message: String,
}

impl Error {
    /// An error with the given code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The kind of failure.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The library's message (without the code's description).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error of the C call that just returned `code` on this thread.
    pub(crate) fn last(code: c_int) -> Self {
        // SAFETY: zlt_last_error never returns NULL; the string is valid until the next failing
        // call on this thread, and it is copied before anything else is called.
        let message = unsafe { CStr::from_ptr(sys::zlt_last_error()) }
            .to_string_lossy()
            .into_owned();
        Self::new(ErrorCode::from_raw(code), message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for Error {}

/// The result of every fallible call in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a C result into a `Result`, picking up the message on failure. Must be called on the
/// thread that made the call, right after it.
pub(crate) fn check(rc: c_int) -> Result<()> {
    if rc == sys::ZLT_OK {
        Ok(())
    } else {
        Err(Error::last(rc))
    }
}
