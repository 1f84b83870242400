//! On-demand access, and the access grants a server issues for it.

use std::fmt;
use std::ptr::NonNull;
use std::time::Duration;

use crate::callback::{self, Retained};
use crate::error::{Error, ErrorCode, Result, check};
use crate::event::Event;
use crate::ffi::{cstring, take_string};
use crate::json::{Value, quote};
use crate::runtime::Runtime;
use crate::sys;

/// A duration as the library reads it, in whole milliseconds rounded up (so that a small
/// positive value does not become zero).
pub(crate) fn duration_text(d: Duration) -> String {
    let ms = d.as_nanos().div_ceil(1_000_000);
    format!("{ms}ms")
}

pub(crate) fn unreadable(what: &str, text: &str) -> Error {
    Error::new(ErrorCode::Internal, format!("unreadable {what}: {text}"))
}

fn string_field(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// An access grant issued by [`Server::grant_access`](crate::Server::grant_access).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessGrant {
    /// The grant's id (canonical UUID text), for
    /// [`revoke_access`](crate::Server::revoke_access).
    pub grant_id: String,
    /// Shown in logs, events and status.
    pub name: String,
    /// What the token may open: `service:NAME`, `HOST:PORT` or `CIDR:PORT`.
    pub targets: Vec<String>,
    /// When it was issued (RFC 3339, UTC).
    pub created_at: String,
    /// When it expires (RFC 3339, UTC).
    pub expires_at: String,
    /// The token an [`Access`] authenticates with. Only `grant_access` returns it; the server
    /// keeps only its hash, so [`list_grants`](crate::Server::list_grants) gives `None`.
    pub token: Option<String>,
}

impl AccessGrant {
    pub(crate) fn from_value(v: &Value) -> Self {
        Self {
            grant_id: string_field(v, "grant_id"),
            name: string_field(v, "name"),
            targets: v["targets"]
                .as_array()
                .unwrap_or_default()
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            created_at: string_field(v, "created_at"),
            expires_at: string_field(v, "expires_at"),
            token: v["token"].as_str().map(str::to_owned),
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self> {
        let v = Value::parse(text).map_err(|_| unreadable("grant", text))?;
        Ok(Self::from_value(&v))
    }

    pub(crate) fn parse_list(text: &str) -> Result<Vec<Self>> {
        let v = Value::parse(text).map_err(|_| unreadable("grant list", text))?;
        let list = v.as_array().ok_or_else(|| unreadable("grant list", text))?;
        Ok(list.iter().map(Self::from_value).collect())
    }
}

/// What an access session carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// TCP connections (the default).
    #[default]
    Tcp,
    /// UDP datagrams.
    Udp,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// A request for an access session (see [`Access::start_session`]).
///
/// ```
/// use std::time::Duration;
/// use zlayer_tunnel::SessionRequest;
/// let request = SessionRequest::new("service:db").ttl(Duration::from_secs(600));
/// assert_eq!(request.target, "service:db");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRequest {
    /// `service:NAME` (a service registered on the server, internal or public) or `HOST:PORT`
    /// (an address the server connects to; `[v6]:PORT` for IPv6).
    pub target: String,
    /// The local port to listen on; 0 lets the kernel choose.
    pub local_port: u16,
    /// How long the session lives; `None`: the configuration's `default_ttl`, else until
    /// stopped. Zero is refused.
    pub ttl: Option<Duration>,
    /// TCP (default) or UDP.
    pub protocol: Protocol,
}

impl SessionRequest {
    /// A TCP session to `target` on a kernel-chosen port with the default TTL.
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            local_port: 0,
            ttl: None,
            protocol: Protocol::Tcp,
        }
    }

    /// Listens on `port` instead of a kernel-chosen one.
    pub fn local_port(mut self, port: u16) -> Self {
        self.local_port = port;
        self
    }

    /// Ends the session after `ttl`.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Carries `protocol` (TCP by default).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    fn to_json(&self) -> String {
        let mut text = format!(
            r#"{{"target":{},"local_port":{},"protocol":"{}""#,
            quote(&self.target),
            self.local_port,
            self.protocol.as_str()
        );
        if let Some(ttl) = self.ttl {
            text.push_str(&format!(r#","ttl":"{}""#, duration_text(ttl)));
        }
        text.push('}');
        text
    }
}

/// A snapshot of one access session.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AccessSession {
    /// The session's id (canonical UUID text), for [`Access::stop_session`].
    pub id: String,
    /// What it reaches, as requested.
    pub target: String,
    /// `HOST:PORT` it listens on.
    pub local_addr: String,
    /// The port it listens on (the kernel's choice when 0 was asked for).
    pub local_port: u16,
    /// `"tcp"` or `"udp"`.
    pub protocol: String,
    /// When it ends by itself (RFC 3339, UTC); `None`: it lives until stopped.
    pub expires_at: Option<String>,
    /// Connections carried now and in all.
    pub connections_active: u64,
    #[allow(missing_docs)]
    pub connections_total: u64,
    /// Bytes from the target to the local side and the other way.
    pub bytes_in: u64,
    #[allow(missing_docs)]
    pub bytes_out: u64,
    /// The whole snapshot as JSON.
    pub json: Value,
}

impl AccessSession {
    fn from_value(v: &Value) -> Self {
        let count = |key: &str| v[key].as_u64().unwrap_or(0);
        Self {
            id: string_field(v, "id"),
            target: string_field(v, "target"),
            local_addr: string_field(v, "local_addr"),
            local_port: v["local_port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(0),
            protocol: string_field(v, "protocol"),
            expires_at: v["expires_at"].as_str().map(str::to_owned),
            connections_active: count("connections_active"),
            connections_total: count("connections_total"),
            bytes_in: count("bytes_in"),
            bytes_out: count("bytes_out"),
            json: v.clone(),
        }
    }
}

/// On-demand access through a tunnel server (a `zlt_access`): each session listens on a local
/// port and carries what arrives there to one target on the server's side, until its TTL runs
/// out, it is stopped, or the server ends access (the grant expired or was revoked: a `fatal`
/// event). The sessions share one connection to the server, made by the first
/// [`start_session`](Self::start_session) and re-established with backoff.
///
/// Methods may be called from any thread (`Access` is `Send + Sync`). Dropping it closes every
/// session, says goodbye to the server and waits until it is torn down.
///
/// ```no_run
/// use std::time::Duration;
/// use zlayer_tunnel::{Access, Runtime, SessionRequest};
///
/// let rt = Runtime::new()?;
/// let access = Access::new(
///     &rt,
///     r#"{"server_url":"wss://tunnel.example.com/tunnel/v1","token":"tun_..."}"#,
/// )?;
/// let session =
///     access.start_session(&SessionRequest::new("service:db").ttl(Duration::from_secs(3600)))?;
/// println!("the database is at 127.0.0.1:{}", session.local_port);
/// # Ok::<(), zlayer_tunnel::Error>(())
/// ```
pub struct Access {
    raw: NonNull<sys::zlt_access>,
    // Dropped after `raw` has been freed (Drop::drop runs before the fields are dropped).
    event_handler: Option<Retained>,
    runtime: Runtime,
}

// SAFETY: every function of the C interface may be called from any thread; the callback slot
// is only ever touched by the library's loop thread and dropped through `&mut self`.
unsafe impl Send for Access {}
unsafe impl Sync for Access {}

impl Access {
    /// Creates an access object on `runtime` from a client configuration (JSON): `server_url`
    /// and `token` (typically the token of a grant) are required; TLS and reconnection
    /// settings apply as for an [`Agent`](crate::Agent), `services` must be absent. Two access
    /// settings may sit next to them: `default_ttl` (the TTL of sessions started without one)
    /// and `local_bind` (the address sessions listen on, `127.0.0.1` by default).
    ///
    /// Errors: [`Config`](ErrorCode::Config) (the message names the field),
    /// [`Shutdown`](ErrorCode::Shutdown).
    pub fn new(runtime: &Runtime, config_json: &str) -> Result<Self> {
        let config = cstring("config_json", config_json)?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: live runtime, valid C string, valid output location.
        check(unsafe { sys::zlt_access_new(runtime.as_raw(), config.as_ptr(), &mut raw) })?;
        Ok(Self {
            raw: NonNull::new(raw).expect("zlt_access_new succeeded with a NULL access object"),
            event_handler: None,
            runtime: runtime.clone(),
        })
    }

    /// Reports events to `handler`, on the loop thread: `session_started`, `session_stopped`,
    /// `session_expired` (with `session` and, when it ended, `reason`); `fatal` (with `reason`,
    /// e.g. `fatal: token revoked`: the server ended access for good, every session is closed
    /// and [`start_session`](Self::start_session) fails with
    /// [`Shutdown`](ErrorCode::Shutdown) from then on); and the connection's own events as an
    /// agent reports them: `state`, `authenticated`, `auth_failed`, `disconnected`, `error`.
    /// Replaces any previous handler; it must return quickly.
    pub fn on_event<F>(&mut self, handler: F) -> Result<()>
    where
        F: FnMut(&Event) + Send + 'static,
    {
        let (slot, cb, user) = callback::event_handler(handler);
        // SAFETY: live object; `user` is the slot `cb` expects, kept until replaced or freed.
        check(unsafe { sys::zlt_access_on_event(self.raw.as_ptr(), cb, user) })?;
        self.event_handler = Some(slot);
        Ok(())
    }

    /// Stops reporting events.
    pub fn clear_on_event(&mut self) -> Result<()> {
        // SAFETY: live object; NULL callback and user are allowed.
        check(unsafe { sys::zlt_access_on_event(self.raw.as_ptr(), None, std::ptr::null_mut()) })?;
        self.event_handler = None;
        Ok(())
    }

    /// Starts a session: binds a local port and carries every connection (or datagram) made
    /// there to the request's target through the server. Connections that arrive before the
    /// server has accepted the token (the `authenticated` event) are closed at once, as are
    /// those the server refuses (a target the token may not reach).
    ///
    /// Errors: [`InvalidArgument`](ErrorCode::InvalidArgument) (a TTL of zero, an invalid
    /// target), [`Connection`](ErrorCode::Connection) (the port cannot be bound),
    /// [`Shutdown`](ErrorCode::Shutdown) (the server ended access).
    pub fn start_session(&self, request: &SessionRequest) -> Result<AccessSession> {
        let text = cstring("request", &request.to_json())?;
        let mut out = std::ptr::null_mut();
        // SAFETY: live object, valid C string, valid output location.
        check(unsafe {
            sys::zlt_access_start_session(self.raw.as_ptr(), text.as_ptr(), &mut out)
        })?;
        // SAFETY: on success `out` is a string the library allocated for us.
        let json = unsafe { take_string(out) };
        let v = Value::parse(&json).map_err(|_| unreadable("session", &json))?;
        Ok(AccessSession::from_value(&v))
    }

    /// Stops a session: closes its listener and every connection it carries.
    ///
    /// Errors: [`NotFound`](ErrorCode::NotFound) (not a live session),
    /// [`InvalidArgument`](ErrorCode::InvalidArgument) (not a UUID).
    pub fn stop_session(&self, session_id: &str) -> Result<()> {
        let id = cstring("session_id", session_id)?;
        // SAFETY: live object, valid C string.
        check(unsafe { sys::zlt_access_stop_session(self.raw.as_ptr(), id.as_ptr()) })
    }

    /// The Prometheus text exposition (format 0.0.4): what the `--metrics` listener serves
    /// on GET /metrics.
    pub fn metrics(&self) -> Result<String> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live handle, valid output location.
        check(unsafe { sys::zlt_access_metrics(self.raw.as_ptr(), &mut out) })?;
        // SAFETY: on success `out` is a string the library allocated for us.
        Ok(unsafe { take_string(out) })
    }

    /// The live sessions, oldest first, with their traffic so far.
    pub fn sessions(&self) -> Result<Vec<AccessSession>> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live object, valid output location.
        check(unsafe { sys::zlt_access_list(self.raw.as_ptr(), &mut out) })?;
        // SAFETY: on success `out` is a string the library allocated for us.
        let json = unsafe { take_string(out) };
        let v = Value::parse(&json).map_err(|_| unreadable("session list", &json))?;
        let list = v
            .as_array()
            .ok_or_else(|| unreadable("session list", &json))?;
        Ok(list.iter().map(AccessSession::from_value).collect())
    }

    /// The runtime this object lives on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The C handle, for use with [`sys`](crate::sys). It stays valid while `self` lives.
    pub fn as_raw(&self) -> *mut sys::zlt_access {
        self.raw.as_ptr()
    }
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("raw", &self.raw)
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl Drop for Access {
    fn drop(&mut self) {
        // SAFETY: the handle is live and freed only here. Once this returns no callback of the
        // object runs again (or, inside a callback, it is silenced at once), so the slot can
        // go; the runtime handle is released last.
        unsafe { sys::zlt_access_free(self.raw.as_ptr()) };
    }
}
