//! The server side of a tunnel.

use std::ffi::{c_int, c_longlong};
use std::fmt;
use std::net::TcpStream;
use std::os::fd::IntoRawFd;
use std::ptr::NonNull;
use std::time::Duration;

use crate::access::{AccessGrant, duration_text, unreadable};
use crate::callback::{self, Retained};
use crate::error::{Result, check};
use crate::event::{Event, Verdict};
use crate::ffi::{cstring, take_string};
use crate::json::{Value, quote};
use crate::runtime::Runtime;
use crate::sys;

/// What [`Server::reload`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReloadReport {
    /// How many tokens are configured after the reload.
    pub tokens: u64,
    /// Sessions disconnected because their token is no longer configured
    /// (`fatal: token revoked`).
    pub revoked: u64,
    /// Sessions disconnected to register again because their token no longer allows a
    /// service they hold.
    pub reconnected: u64,
    /// Whether the TLS certificate and key were read again (new handshakes use them).
    pub tls_reloaded: bool,
    /// Fields bound to sockets (`"listen"`, `"public_bind"`, `"data_port_range"`, ...) whose
    /// new value waits for a restart; their running value was kept.
    pub needs_restart: Vec<String>,
}

impl ReloadReport {
    fn parse(text: &str) -> Result<Self> {
        let v = Value::parse(text).map_err(|_| unreadable("reload report", text))?;
        if v.as_object().is_none() {
            return Err(unreadable("reload report", text));
        }
        let count = |key: &str| v[key].as_u64().unwrap_or(0);
        Ok(Self {
            tokens: count("tokens"),
            revoked: count("revoked"),
            reconnected: count("reconnected"),
            tls_reloaded: v["tls_reloaded"].as_bool().unwrap_or(false),
            needs_restart: v["needs_restart"]
                .as_array()
                .unwrap_or_default()
                .iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect(),
        })
    }
}

// The longest grace `drain` passes on: the library waits for the grace plus a margin on a
// nanosecond clock, which a larger value would overflow.
const MAX_DRAIN_GRACE_MS: u128 = 1 << 40;

/// The server side of a tunnel (a `zlt_registry`): the token policy, the WebSocket control
/// endpoint agents connect to, the registry of tunnels and services, and the public ports.
///
/// Methods may be called from any thread (`Server` is `Send + Sync`); each call is carried to
/// the runtime's loop thread and waits for it there. Dropping the server stops it (agents are
/// told it is shutting down) and waits until it is torn down; after that none of its callbacks
/// runs again.
///
/// ```no_run
/// use zlayer_tunnel::{Runtime, Server};
///
/// let rt = Runtime::new()?;
/// let mut server = Server::new(
///     &rt,
///     r#"{"listen":"127.0.0.1:3679","public_bind":"127.0.0.1","tokens":[{"token":"s3cret"}]}"#,
/// )?;
/// server.on_event(|ev| println!("server: {}", ev.json()))?;
/// let port = server.listen(None, -1)?; // the configured address
/// println!("agents connect to ws://127.0.0.1:{port}/tunnel/v1");
/// # Ok::<(), zlayer_tunnel::Error>(())
/// ```
pub struct Server {
    raw: NonNull<sys::zlt_registry>,
    // Dropped after `raw` has been freed (Drop::drop runs before the fields are dropped).
    event_handler: Option<Retained>,
    validator: Option<Retained>,
    runtime: Runtime,
}

// SAFETY: every function of the C interface may be called from any thread; the callback slots
// are only ever touched by the library's loop thread and dropped through `&mut self`.
unsafe impl Send for Server {}
unsafe impl Sync for Server {}

impl Server {
    /// Creates the server side on `runtime` from a server configuration (JSON, the schema of
    /// the configuration file; `"{}"` gives the defaults: listen `0.0.0.0:3679`, public ports
    /// 30000-31000, no tokens). Nothing listens until [`listen`](Self::listen) or
    /// [`accept`](Self::accept).
    ///
    /// Errors: [`Config`](crate::ErrorCode::Config) for bad JSON or a bad setting (the
    /// message names the field), [`Shutdown`](crate::ErrorCode::Shutdown).
    pub fn new(runtime: &Runtime, config_json: &str) -> Result<Self> {
        let config = cstring("config_json", config_json)?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: live runtime, valid C string, valid output location.
        check(unsafe { sys::zlt_registry_new(runtime.as_raw(), config.as_ptr(), &mut raw) })?;
        Ok(Self {
            raw: NonNull::new(raw).expect("zlt_registry_new succeeded with a NULL registry"),
            event_handler: None,
            validator: None,
            runtime: runtime.clone(),
        })
    }

    /// Listens for agents on `host:port` and returns the port bound. `None` means the host of
    /// the configuration's `"listen"`; port `-1` means its port, `0` lets the kernel choose.
    /// May be called several times to listen on several addresses.
    ///
    /// Errors: [`Connection`](crate::ErrorCode::Connection) (address in use, bad host),
    /// [`InvalidArgument`](crate::ErrorCode::InvalidArgument) (port outside -1..=65535),
    /// [`Shutdown`](crate::ErrorCode::Shutdown) (stopped).
    pub fn listen(&self, host: Option<&str>, port: i32) -> Result<u16> {
        let host = host.map(|h| cstring("host", h)).transpose()?;
        let host_ptr = host.as_ref().map_or(std::ptr::null(), |h| h.as_ptr());
        let mut bound: c_int = 0;
        // SAFETY: live registry, NULL or a valid C string, valid output location.
        check(unsafe { sys::zlt_registry_listen(self.raw.as_ptr(), host_ptr, port, &mut bound) })?;
        Ok(u16::try_from(bound).expect("the library reported a port outside 0..=65535"))
    }

    /// Serves a TCP connection the host has already accepted, for hosts that own their
    /// listening socket. The stream belongs to the library whatever the outcome: on failure it
    /// has already been closed when this returns.
    pub fn accept(&self, stream: TcpStream) -> Result<()> {
        let fd = stream.into_raw_fd();
        // SAFETY: live registry; the descriptor is open and its ownership passes to the library
        // (into_raw_fd gave it up on our side).
        check(unsafe { sys::zlt_registry_accept(self.raw.as_ptr(), fd) })
    }

    /// Decides with `validator` which agents may open a tunnel, instead of the configured
    /// token list. It receives the token as the agent sent it and its SHA-256 (lower-case hex,
    /// see [`hash_token`](crate::hash_token)) and runs on the loop thread while the agent
    /// waits, so it must be quick. Replaces any previous validator. A panic refuses the agent.
    ///
    /// ```no_run
    /// # let rt = zlayer_tunnel::Runtime::new()?;
    /// # let mut server = zlayer_tunnel::Server::new(&rt, "{}")?;
    /// use zlayer_tunnel::Verdict;
    /// server.set_token_validator(|token, _sha256| match token {
    ///     "team-a" => Verdict::Grant(r#"{"name":"team-a","allowed_ports":[30000,30010]}"#.into()),
    ///     "ops" => Verdict::Accept,
    ///     _ => Verdict::Reject("unknown team".into()),
    /// })?;
    /// # Ok::<(), zlayer_tunnel::Error>(())
    /// ```
    pub fn set_token_validator<F>(&mut self, validator: F) -> Result<()>
    where
        F: FnMut(&str, &str) -> Verdict + Send + 'static,
    {
        let (slot, cb, user) = callback::token_validator(validator);
        // SAFETY: live registry; `user` is the slot `cb` expects, kept until replaced or freed.
        check(unsafe { sys::zlt_registry_set_token_validator(self.raw.as_ptr(), cb, user) })?;
        self.validator = Some(slot); // the previous one is no longer called: drop it
        Ok(())
    }

    /// Goes back to the configured token list. Refused
    /// ([`InvalidArgument`](crate::ErrorCode::InvalidArgument)) from inside the validator.
    pub fn clear_token_validator(&mut self) -> Result<()> {
        // SAFETY: live registry; NULL callback and user are allowed.
        check(unsafe {
            sys::zlt_registry_set_token_validator(self.raw.as_ptr(), None, std::ptr::null_mut())
        })?;
        self.validator = None;
        Ok(())
    }

    /// Reports the server's events to `handler`, on the loop thread: `tunnel_connected`,
    /// `tunnel_disconnected`, `service_registered`, `service_unregistered`. Replaces any
    /// previous handler. The handler must return quickly (hand slow work to another thread);
    /// it may call back into this crate.
    pub fn on_event<F>(&mut self, handler: F) -> Result<()>
    where
        F: FnMut(&Event) + Send + 'static,
    {
        let (slot, cb, user) = callback::event_handler(handler);
        // SAFETY: live registry; `user` is the slot `cb` expects, kept until replaced or freed.
        check(unsafe { sys::zlt_registry_on_event(self.raw.as_ptr(), cb, user) })?;
        self.event_handler = Some(slot);
        Ok(())
    }

    /// Stops reporting events.
    pub fn clear_on_event(&mut self) -> Result<()> {
        // SAFETY: live registry; NULL callback and user are allowed.
        check(unsafe {
            sys::zlt_registry_on_event(self.raw.as_ptr(), None, std::ptr::null_mut())
        })?;
        self.event_handler = None;
        Ok(())
    }

    /// The Prometheus text exposition (format 0.0.4): what the `--metrics` listener serves
    /// on GET /metrics.
    pub fn metrics(&self) -> Result<String> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live handle, valid output location.
        check(unsafe { sys::zlt_registry_metrics(self.raw.as_ptr(), &mut out) })?;
        // SAFETY: on success `out` is a string the library allocated for us.
        Ok(unsafe { take_string(out) })
    }

    /// A snapshot of the server (tunnels, services, traffic) as JSON text; read it with
    /// [`json::Value::parse`](crate::json::Value::parse).
    pub fn status(&self) -> Result<String> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live registry, valid output location.
        check(unsafe { sys::zlt_registry_status(self.raw.as_ptr(), &mut out) })?;
        // SAFETY: on success `out` is a string the library allocated for us.
        Ok(unsafe { take_string(out) })
    }

    /// Issues an access grant: a fresh token that may open only `targets` (`service:NAME`,
    /// `HOST:PORT` or `CIDR:PORT`, with `*` segments) and expires after `ttl` (capped at the
    /// configuration's `max_access_ttl`; see `expires_at`). `name` is shown in logs, events
    /// and status (`None` picks one). The token, for an [`Access`](crate::Access), is returned
    /// this once: the server keeps only its hash. A session using it is disconnected when the
    /// grant expires or is revoked.
    ///
    /// Errors: [`Config`](crate::ErrorCode::Config) (no target, an invalid target, a zero
    /// TTL; the message names the field), [`Shutdown`](crate::ErrorCode::Shutdown).
    pub fn grant_access(
        &self,
        targets: &[&str],
        ttl: Duration,
        name: Option<&str>,
    ) -> Result<AccessGrant> {
        let targets: Vec<String> = targets.iter().map(|t| quote(t)).collect();
        let mut request = format!(
            r#"{{"targets":[{}],"ttl":"{}""#,
            targets.join(","),
            duration_text(ttl)
        );
        if let Some(name) = name {
            request.push_str(&format!(r#","name":{}"#, quote(name)));
        }
        request.push('}');
        let request = cstring("request", &request)?;
        let mut out = std::ptr::null_mut();
        // SAFETY: live registry, valid C string, valid output location.
        check(unsafe {
            sys::zlt_registry_grant_access(self.raw.as_ptr(), request.as_ptr(), &mut out)
        })?;
        // SAFETY: on success `out` is a string the library allocated for us.
        AccessGrant::parse(&unsafe { take_string(out) })
    }

    /// Revokes a grant: its token is refused from now on, and a session using it is
    /// disconnected at once (`fatal: token revoked`).
    ///
    /// Errors: [`NotFound`](crate::ErrorCode::NotFound) (not a grant in force),
    /// [`InvalidArgument`](crate::ErrorCode::InvalidArgument) (not a UUID).
    pub fn revoke_access(&self, grant_id: &str) -> Result<()> {
        let id = cstring("grant_id", grant_id)?;
        // SAFETY: live registry, valid C string.
        check(unsafe { sys::zlt_registry_revoke_access(self.raw.as_ptr(), id.as_ptr()) })
    }

    /// The grants in force, without their tokens.
    pub fn list_grants(&self) -> Result<Vec<AccessGrant>> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live registry, valid output location.
        check(unsafe { sys::zlt_registry_list_grants(self.raw.as_ptr(), &mut out) })?;
        // SAFETY: on success `out` is a string the library allocated for us.
        AccessGrant::parse_list(&unsafe { take_string(out) })
    }

    /// Stops serving: every agent is told the server is shutting down, listeners and public
    /// ports are closed. Idempotent; a stopped server cannot be restarted.
    pub fn stop(&self) -> Result<()> {
        // SAFETY: live registry.
        check(unsafe { sys::zlt_registry_stop(self.raw.as_ptr()) })
    }

    /// Applies a new server configuration (JSON, as for [`new`](Self::new)) without dropping
    /// anything it still allows: tokens (a session whose token is gone is disconnected with
    /// `fatal: token revoked`), allow lists, limits (for what is opened from now on), the
    /// admin token, and the TLS certificate and key, read again from their files (new
    /// handshakes use them; live sessions keep theirs). Fields bound to sockets (`"listen"`,
    /// `"public_bind"`, `"data_port_range"`, plain vs TLS, ...) keep their running values;
    /// [`ReloadReport::needs_restart`] names them. `None` applies the last configuration
    /// again, certificate files re-read (a certificate rotation).
    ///
    /// Errors: [`Config`](crate::ErrorCode::Config) for bad JSON, an invalid setting or a
    /// certificate that does not load (the message names the field; nothing changed),
    /// [`Shutdown`](crate::ErrorCode::Shutdown) (stopped).
    pub fn reload(&self, config_json: Option<&str>) -> Result<ReloadReport> {
        let config = config_json.map(|c| cstring("config_json", c)).transpose()?;
        let config_ptr = config.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        let mut out = std::ptr::null_mut();
        // SAFETY: live registry, NULL or a valid C string, valid output location.
        check(unsafe { sys::zlt_registry_reload(self.raw.as_ptr(), config_ptr, &mut out) })?;
        // SAFETY: on success `out` is a string the library allocated for us.
        ReloadReport::parse(&unsafe { take_string(out) })
    }

    /// Stops gracefully: from now on no new agent sessions, public connections,
    /// registrations or opens are taken; open streams carry on until they end or `grace` has
    /// passed (counted in whole milliseconds, rounded up, at most 2^40 ms: about 35 years),
    /// then the server stops as [`stop`](Self::stop) does. A zero grace stops at once, ending
    /// the open streams. Returns once the server has stopped (at once if it already had);
    /// called from a callback on the loop thread it only begins the drain. A drain already
    /// running is shortened to the smaller grace. A stopped server cannot be restarted.
    ///
    /// Errors: [`Shutdown`](crate::ErrorCode::Shutdown) (the runtime was freed).
    pub fn drain(&self, grace: Duration) -> Result<()> {
        let ms = grace.as_nanos().div_ceil(1_000_000).min(MAX_DRAIN_GRACE_MS);
        let ms = c_longlong::try_from(ms).expect("the capped grace fits in a long long");
        // SAFETY: live registry; the grace is not negative.
        check(unsafe { sys::zlt_registry_drain(self.raw.as_ptr(), ms) })
    }

    /// The runtime this server lives on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The C handle, for use with [`sys`](crate::sys). It stays valid while `self` lives.
    pub fn as_raw(&self) -> *mut sys::zlt_registry {
        self.raw.as_ptr()
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("raw", &self.raw)
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: the handle is live and freed only here. Once this returns no callback of the
        // server runs again (or, inside a callback, it is silenced at once), so the slots can
        // go; the runtime handle is released last.
        unsafe { sys::zlt_registry_free(self.raw.as_ptr()) };
    }
}
