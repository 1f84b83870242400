//! Rust binding of zlayer-tunnel: expose local TCP/UDP services through a tunnel server.
//!
//! A [`Server`] accepts agents on a WebSocket control endpoint and opens a public port for each
//! service they register; an [`Agent`] connects to a server, registers local services and
//! carries the connections that arrive on their public ports. An [`Access`] gives on-demand
//! access: local ports whose connections reach a service on the server's side, with a token the
//! server issued as a grant ([`Server::grant_access`]). A [`NodeManager`] runs one node's side
//! of node-to-node tunnels. All live on a [`Runtime`], an event loop on its own thread.
//!
//! This crate is a thin layer over the library's C interface (`zlayer_tunnel.h`, raw in
//! [`sys`]): configurations go in as JSON text (the schema of the configuration files), events
//! and status snapshots come back as JSON, readable with the small [`json`] module.
//!
//! # Example
//!
//! A server and an agent in one process, exposing a local echo service:
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use zlayer_tunnel::{Agent, Runtime, Server};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A local service: echoes one connection.
//! let local = TcpListener::bind("127.0.0.1:0")?;
//! let local_port = local.local_addr()?.port();
//! std::thread::spawn(move || {
//!     let (mut s, _) = local.accept().unwrap();
//!     std::io::copy(&mut s.try_clone().unwrap(), &mut s).unwrap();
//! });
//!
//! let rt = Runtime::new()?;
//! let server = Server::new(&rt, r#"{"listen":"127.0.0.1:0","public_bind":"127.0.0.1",
//!     "data_port_range":[0,0],"tokens":[{"token":"s3cret"}]}"#)?;
//! let control_port = server.listen(None, -1)?;
//!
//! let mut agent = Agent::new(&rt, &format!(
//!     r#"{{"server_url":"ws://127.0.0.1:{control_port}/tunnel/v1","token":"s3cret",
//!         "services":[{{"name":"echo","local_port":{local_port}}}]}}"#))?;
//! let (tx, rx) = mpsc::channel();
//! agent.on_event(move |ev| {
//!     if let Some(port) = ev.get("public_port").and_then(|p| p.as_u64()) {
//!         let _ = tx.send(port as u16);
//!     }
//! })?;
//! agent.start()?;
//! let public_port = rx.recv_timeout(Duration::from_secs(10))?;
//!
//! let mut client = TcpStream::connect(("127.0.0.1", public_port))?;
//! client.write_all(b"hello")?;
//! let mut back = [0u8; 5];
//! client.read_exact(&mut back)?;
//! assert_eq!(&back, b"hello");
//! # Ok(())
//! # }
//! ```
//!
//! # Threads and callbacks
//!
//! * Every method may be called from any thread; [`Runtime`], [`Server`] and [`Agent`] are
//!   `Send + Sync`. Each call is carried to the runtime's loop thread and waits for it.
//! * Callbacks (event handlers, token validators, connection deciders) run on the loop thread.
//!   While one runs, nothing else on that runtime makes progress, so they must return quickly:
//!   send what they learn down a channel and do slow work elsewhere. They are `Send + 'static`
//!   closures, and may call back into this crate (for example to read a status).
//! * A panic in a callback never reaches the library: it is caught, reported on standard
//!   error, and the callback answers with its safe default (an agent or connection is
//!   refused, an event is skipped). The runtime keeps working.
//! * A server or agent holds its runtime, so a runtime is never freed under its objects; the
//!   loop thread ends when the last of them is dropped. Dropping a server or agent waits until
//!   it is torn down, after which its callbacks are never called again, and frees them. It
//!   may be dropped anywhere, even inside one of its own callbacks.
//! * Setters that take a callback take `&mut self`; to change callbacks while other threads
//!   use the object, put it behind a lock, and don't hold that lock while calling into the
//!   crate from a callback of the same runtime.

#![warn(missing_docs)]

mod access;
mod agent;
mod callback;
mod error;
mod event;
mod ffi;
pub mod json;
mod node;
mod runtime;
mod server;
#[allow(missing_docs)]
pub mod sys;

use std::ffi::{CStr, c_int};
use std::sync::Mutex;

pub use access::{Access, AccessGrant, AccessSession, Protocol, SessionRequest};
pub use agent::Agent;
pub use error::{Error, ErrorCode, Result};
pub use event::{Event, IncomingConnection, Verdict};
pub use node::NodeManager;
pub use runtime::Runtime;
pub use server::{ReloadReport, Server};

use callback::Retained;
use error::check;
use ffi::{cstring, take_string};

/// The library's version, e.g. `"0.1.0"` (the library this program runs with, which may be
/// newer than [`sys::ZLT_VERSION_STRING`], the one this crate was written for).
pub fn version() -> &'static str {
    // SAFETY: zlt_version returns a NUL-terminated string in static storage, never NULL.
    unsafe { CStr::from_ptr(sys::zlt_version()) }
        .to_str()
        .unwrap_or("unknown")
}

/// The server-side identity of a token: its SHA-256 as 64 lower-case hex digits, the value of
/// `"sha256"` in a server's `"tokens"` list (so that the configuration need not hold the token).
///
/// ```
/// assert_eq!(
///     zlayer_tunnel::hash_token("test")?,
///     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
/// );
/// # Ok::<(), zlayer_tunnel::Error>(())
/// ```
pub fn hash_token(token: &str) -> Result<String> {
    let token = cstring("token", token)?;
    let mut out = std::ptr::null_mut();
    // SAFETY: valid C string and output location.
    check(unsafe { sys::zlt_hash_token(token.as_ptr(), &mut out) })?;
    // SAFETY: on success `out` is a string the library allocated for us.
    Ok(unsafe { take_string(out) })
}

/// A new random token (`"tun_"` and 32 hex digits) from a cryptographic generator.
///
/// ```
/// let token = zlayer_tunnel::new_token()?;
/// assert!(token.starts_with("tun_") && token.len() == 36);
/// # Ok::<(), zlayer_tunnel::Error>(())
/// ```
pub fn new_token() -> Result<String> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid output location.
    check(unsafe { sys::zlt_token_new(&mut out) })?;
    // SAFETY: on success `out` is a string the library allocated for us.
    Ok(unsafe { take_string(out) })
}

/// Sets the process-wide log threshold: `"trace"`, `"debug"`, `"info"` (the default),
/// `"warn"`, `"error"` or `"off"`. Records go to standard error unless a
/// [`set_log_handler`] handler takes them.
///
/// ```
/// zlayer_tunnel::set_log_level("warn")?;
/// assert!(zlayer_tunnel::set_log_level("chatty").is_err());
/// # Ok::<(), zlayer_tunnel::Error>(())
/// ```
pub fn set_log_level(level: &str) -> Result<()> {
    let level = cstring("level", level)?;
    // SAFETY: valid C string.
    check(unsafe { sys::zlt_set_log_level(level.as_ptr()) })
}

/// The severity of a [`LogRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    #[allow(missing_docs)]
    Trace,
    #[allow(missing_docs)]
    Debug,
    #[allow(missing_docs)]
    Info,
    #[allow(missing_docs)]
    Warn,
    /// Also used for levels this crate does not know.
    Error,
}

impl LogLevel {
    fn from_raw(level: c_int) -> Self {
        match level {
            sys::ZLT_LOG_TRACE => Self::Trace,
            sys::ZLT_LOG_DEBUG => Self::Debug,
            sys::ZLT_LOG_INFO => Self::Info,
            sys::ZLT_LOG_WARN => Self::Warn,
            _ => Self::Error,
        }
    }
}

/// One log record, handed to a [`set_log_handler`] handler.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct LogRecord<'a> {
    /// The severity.
    pub level: LogLevel,
    /// The part of the library that logged it, e.g. `"server"`.
    pub component: &'a str,
    /// The text.
    pub message: &'a str,
    /// Structured fields as a JSON object (often `{}`).
    pub fields_json: &'a str,
}

// The current log handler. The lock is held across the C call so that two threads replacing
// the handler cannot free each other's slot while the library still holds it.
static LOG_HANDLER: Mutex<Option<Retained>> = Mutex::new(None);

/// Sends the library's log records (those passing [`set_log_level`]) to `handler` instead of
/// standard error, process-wide. The handler runs on whichever thread logs, one record at a
/// time under the logger's lock: it must be quick and must not call this crate (that would
/// deadlock). A panic in it is caught and the record dropped.
///
/// ```
/// zlayer_tunnel::set_log_handler(|r| eprintln!("[{:?}] {}: {}", r.level, r.component, r.message))?;
/// zlayer_tunnel::clear_log_handler()?;
/// # Ok::<(), zlayer_tunnel::Error>(())
/// ```
pub fn set_log_handler<F>(handler: F) -> Result<()>
where
    F: Fn(&LogRecord<'_>) + Send + Sync + 'static,
{
    let mut current = LOG_HANDLER.lock().unwrap_or_else(|e| e.into_inner());
    let (slot, cb, user) = callback::log_handler(handler);
    // SAFETY: `user` is the slot `cb` expects, kept in LOG_HANDLER until replaced.
    check(unsafe { sys::zlt_set_log_callback(cb, user) })?;
    // Once the call has returned the previous handler is no longer called.
    *current = Some(slot);
    Ok(())
}

/// Sends log records to standard error again.
pub fn clear_log_handler() -> Result<()> {
    let mut current = LOG_HANDLER.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: a NULL callback restores standard error.
    check(unsafe { sys::zlt_set_log_callback(None, std::ptr::null_mut()) })?;
    *current = None;
    Ok(())
}
