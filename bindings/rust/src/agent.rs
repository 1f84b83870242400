//! The client side of a tunnel.

use std::fmt;
use std::ptr::NonNull;

use crate::callback::{self, Retained};
use crate::error::{Result, check};
use crate::event::{Event, IncomingConnection};
use crate::ffi::{cstring, take_string};
use crate::runtime::Runtime;
use crate::sys;

/// The client side of a tunnel (a `zlt_agent`): connects to a server, registers local
/// services, carries their connections, and reconnects with backoff until stopped.
///
/// Methods may be called from any thread (`Agent` is `Send + Sync`); each call is carried to
/// the runtime's loop thread and waits for it there. Dropping the agent stops it and waits
/// until it is torn down; after that none of its callbacks runs again.
///
/// ```no_run
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use zlayer_tunnel::{Agent, Runtime};
///
/// let rt = Runtime::new()?;
/// let mut agent = Agent::new(
///     &rt,
///     r#"{"server_url":"ws://127.0.0.1:3679/tunnel/v1","token":"s3cret",
///         "services":[{"name":"web","local_port":8080}]}"#,
/// )?;
/// let (tx, rx) = mpsc::channel();
/// agent.on_event(move |ev| {
///     if ev.name() == "service_registered" {
///         let _ = tx.send(ev.get("public_port").and_then(|p| p.as_u64()));
///     }
/// })?;
/// agent.start()?;
/// let port = rx.recv_timeout(Duration::from_secs(10))?;
/// println!("web is public on port {port:?}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Agent {
    raw: NonNull<sys::zlt_agent>,
    // Dropped after `raw` has been freed (Drop::drop runs before the fields are dropped).
    event_handler: Option<Retained>,
    connection_handler: Option<Retained>,
    runtime: Runtime,
}

// SAFETY: every function of the C interface may be called from any thread; the callback slots
// are only ever touched by the library's loop thread and dropped through `&mut self`.
unsafe impl Send for Agent {}
unsafe impl Sync for Agent {}

impl Agent {
    /// Creates an agent on `runtime` from a client configuration (JSON), e.g.
    /// `{"server_url": "ws://127.0.0.1:3679/tunnel/v1", "token": "...",
    /// "services": [{"name": "web", "protocol": "tcp", "local_port": 8080, "remote_port": 0}]}`.
    /// It does not connect until [`start`](Self::start).
    ///
    /// Errors: [`Config`](crate::ErrorCode::Config) (the message names the field; `server_url`
    /// and `token` are required), [`Shutdown`](crate::ErrorCode::Shutdown).
    pub fn new(runtime: &Runtime, config_json: &str) -> Result<Self> {
        let config = cstring("config_json", config_json)?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: live runtime, valid C string, valid output location.
        check(unsafe { sys::zlt_agent_new(runtime.as_raw(), config.as_ptr(), &mut raw) })?;
        Ok(Self {
            raw: NonNull::new(raw).expect("zlt_agent_new succeeded with a NULL agent"),
            event_handler: None,
            connection_handler: None,
            runtime: runtime.clone(),
        })
    }

    /// Reports the agent's events to `handler`, on the loop thread: `state`, `authenticated`,
    /// `auth_failed` (with `reason`), `service_registered` (with `name` and `public_port`),
    /// `service_failed`, `incoming_connection`, `disconnected`, `error`. Replaces any previous
    /// handler. The handler must return quickly; it may call back into this crate (events
    /// that causes, such as a `state` change, follow once it has returned).
    pub fn on_event<F>(&mut self, handler: F) -> Result<()>
    where
        F: FnMut(&Event) + Send + 'static,
    {
        let (slot, cb, user) = callback::event_handler(handler);
        // SAFETY: live agent; `user` is the slot `cb` expects, kept until replaced or freed.
        check(unsafe { sys::zlt_agent_on_event(self.raw.as_ptr(), cb, user) })?;
        self.event_handler = Some(slot); // the previous one is no longer called: drop it
        Ok(())
    }

    /// Stops reporting events.
    pub fn clear_on_event(&mut self) -> Result<()> {
        // SAFETY: live agent; NULL callback and user are allowed.
        check(unsafe { sys::zlt_agent_on_event(self.raw.as_ptr(), None, std::ptr::null_mut()) })?;
        self.event_handler = None;
        Ok(())
    }

    /// Lets `decide` accept (`true`) or refuse (`false`) each connection that arrives on a
    /// public port, before the local service is dialed; a refused client's connection is
    /// closed. Runs on the loop thread; a panic refuses. Replaces any previous decider.
    ///
    /// ```no_run
    /// # let rt = zlayer_tunnel::Runtime::new()?;
    /// # let mut agent = zlayer_tunnel::Agent::new(&rt, "{}")?;
    /// agent.on_connection(|conn| conn.client_addr.starts_with("127.0.0.1:"))?;
    /// # Ok::<(), zlayer_tunnel::Error>(())
    /// ```
    pub fn on_connection<F>(&mut self, decide: F) -> Result<()>
    where
        F: FnMut(&IncomingConnection<'_>) -> bool + Send + 'static,
    {
        let (slot, cb, user) = callback::connection_handler(decide);
        // SAFETY: live agent; `user` is the slot `cb` expects, kept until replaced or freed.
        check(unsafe { sys::zlt_agent_on_connection(self.raw.as_ptr(), cb, user) })?;
        self.connection_handler = Some(slot);
        Ok(())
    }

    /// Accepts every connection again (the default).
    pub fn clear_on_connection(&mut self) -> Result<()> {
        // SAFETY: live agent; NULL callback and user are allowed.
        check(unsafe {
            sys::zlt_agent_on_connection(self.raw.as_ptr(), None, std::ptr::null_mut())
        })?;
        self.connection_handler = None;
        Ok(())
    }

    /// Starts connecting; the agent then reconnects with backoff until stopped. Progress is
    /// reported through events, not through this result. Idempotent.
    pub fn start(&self) -> Result<()> {
        // SAFETY: live agent.
        check(unsafe { sys::zlt_agent_start(self.raw.as_ptr()) })
    }

    /// Says goodbye to the server, closes the session and stops reconnecting. Idempotent;
    /// [`start`](Self::start) connects again.
    pub fn stop(&self) -> Result<()> {
        // SAFETY: live agent.
        check(unsafe { sys::zlt_agent_stop(self.raw.as_ptr()) })
    }

    /// A snapshot of the agent (state, tunnel id, services with their public ports, traffic)
    /// as JSON text; read it with [`json::Value::parse`](crate::json::Value::parse).
    pub fn status(&self) -> Result<String> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live agent, valid output location.
        check(unsafe { sys::zlt_agent_status(self.raw.as_ptr(), &mut out) })?;
        // SAFETY: on success `out` is a string the library allocated for us.
        Ok(unsafe { take_string(out) })
    }

    /// The Prometheus text exposition (format 0.0.4): what the `--metrics` listener serves
    /// on GET /metrics.
    pub fn metrics(&self) -> Result<String> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live handle, valid output location.
        check(unsafe { sys::zlt_agent_metrics(self.raw.as_ptr(), &mut out) })?;
        // SAFETY: on success `out` is a string the library allocated for us.
        Ok(unsafe { take_string(out) })
    }

    /// The runtime this agent lives on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The C handle, for use with [`sys`](crate::sys). It stays valid while `self` lives.
    pub fn as_raw(&self) -> *mut sys::zlt_agent {
        self.raw.as_ptr()
    }
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("raw", &self.raw)
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SAFETY: the handle is live and freed only here. Once this returns no callback of the
        // agent runs again (or, inside a callback, it is silenced at once), so the slots can
        // go; the runtime handle is released last.
        unsafe { sys::zlt_agent_free(self.raw.as_ptr()) };
    }
}
