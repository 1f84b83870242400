//! Node-to-node tunnels.

use std::fmt;
use std::ptr::NonNull;

use crate::callback::{self, Retained};
use crate::error::{Error, ErrorCode, Result, check};
use crate::event::Event;
use crate::ffi::{cstring, take_string};
use crate::json::Value;
use crate::runtime::Runtime;
use crate::sys;

/// One node's side of node-to-node tunnels (a `zlt_node_manager`).
///
/// A tunnel whose `from` is this node is outbound: an agent registers this node's service
/// (`local_port`) with the destination node's tunnel server, through the overlay network or
/// directly (`routing_mode`, `direct_url`, `overlay_url`). A tunnel whose `to` is this node is
/// inbound: the node's `server` accepts its token and, for an internal tunnel, listens on
/// `remote_port` so that connections there reach the source's service.
///
/// Methods may be called from any thread (`NodeManager` is `Send + Sync`). Dropping it stops
/// every tunnel and the server and waits until they are torn down.
///
/// ```no_run
/// use zlayer_tunnel::{NodeManager, Runtime};
///
/// let rt = Runtime::new()?;
/// let mut node = NodeManager::new(
///     &rt,
///     r#"{"node_name":"node-a","tunnels":[{"name":"db","from":"node-a","to":"node-b",
///         "local_port":5432,"remote_port":15432,"token":"tok-db",
///         "direct_url":"ws://10.1.0.2:3680/tunnel/v1"}]}"#,
/// )?;
/// node.on_event(|ev| println!("{}", ev.json()))?;
/// node.set_overlay_resolver(|node| (node == "node-b").then(|| "100.64.0.2".to_owned()))?;
/// node.start()?;
/// # Ok::<(), zlayer_tunnel::Error>(())
/// ```
pub struct NodeManager {
    raw: NonNull<sys::zlt_node_manager>,
    // Dropped after `raw` has been freed (Drop::drop runs before the fields are dropped).
    event_handler: Option<Retained>,
    resolver: Option<Retained>,
    runtime: Runtime,
}

// SAFETY: every function of the C interface may be called from any thread; the callback slots
// are only ever touched by the library's loop thread and dropped through `&mut self`.
unsafe impl Send for NodeManager {}
unsafe impl Sync for NodeManager {}

impl NodeManager {
    /// Creates a node manager on `runtime` from a node configuration (JSON, the schema of the
    /// `zlt node --config` file): `node_name` (required), `server` (with `listen`; only on a
    /// node that accepts tunnels), `tunnels`, and the outbound agents' settings
    /// (`reconnect_interval`, `connect_timeout`, ...). Nothing connects or listens until
    /// [`start`](Self::start).
    ///
    /// Errors: [`Config`](ErrorCode::Config) (the message names the field),
    /// [`Shutdown`](ErrorCode::Shutdown).
    pub fn new(runtime: &Runtime, config_json: &str) -> Result<Self> {
        let config = cstring("config_json", config_json)?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: live runtime, valid C string, valid output location.
        check(unsafe { sys::zlt_node_manager_new(runtime.as_raw(), config.as_ptr(), &mut raw) })?;
        Ok(Self {
            raw: NonNull::new(raw).expect("zlt_node_manager_new succeeded with a NULL manager"),
            event_handler: None,
            resolver: None,
            runtime: runtime.clone(),
        })
    }

    /// Reports events to `handler`, on the loop thread: `tunnel_state` (with `tunnel`,
    /// `state`: `pending`, `connecting`, `connected`, `disconnected` or `failed`, `direction`
    /// and, when it failed or went down, `reason`) and `route` (with `tunnel`, `route`:
    /// `overlay` or `direct`, `url` and, for a fallback, `reason`). Events arrive shortly after
    /// the change, never from inside the manager's own processing, so the handler may call
    /// any method of this manager. Replaces any previous handler; it must return quickly.
    pub fn on_event<F>(&mut self, handler: F) -> Result<()>
    where
        F: FnMut(&Event) + Send + 'static,
    {
        let (slot, cb, user) = callback::event_handler(handler);
        // SAFETY: live object; `user` is the slot `cb` expects, kept until replaced or freed.
        check(unsafe { sys::zlt_node_manager_on_event(self.raw.as_ptr(), cb, user) })?;
        self.event_handler = Some(slot);
        Ok(())
    }

    /// Stops reporting events.
    pub fn clear_on_event(&mut self) -> Result<()> {
        // SAFETY: live object; NULL callback and user are allowed.
        check(unsafe {
            sys::zlt_node_manager_on_event(self.raw.as_ptr(), None, std::ptr::null_mut())
        })?;
        self.event_handler = None;
        Ok(())
    }

    /// Lets `resolve(node_name)` give a node's overlay address (an IP literal or a host name),
    /// or `None` when the node is unreachable through the overlay. An outbound tunnel without
    /// `overlay_url` asks whenever it picks a route, and uses its `direct_url` with the host
    /// replaced by the answer. It runs on the loop thread: it must be quick and must not call
    /// methods of this manager (they fail with [`InvalidArgument`](ErrorCode::InvalidArgument)
    /// there). A panic counts as `None`. Replaces any previous resolver.
    pub fn set_overlay_resolver<F>(&mut self, resolve: F) -> Result<()>
    where
        F: FnMut(&str) -> Option<String> + Send + 'static,
    {
        let (slot, cb, user) = callback::overlay_resolver(resolve);
        // SAFETY: live object; `user` is the slot `cb` expects, kept until replaced or freed.
        check(unsafe { sys::zlt_node_manager_set_overlay_resolver(self.raw.as_ptr(), cb, user) })?;
        self.resolver = Some(slot);
        Ok(())
    }

    /// Removes the overlay resolver: tunnels use their configured URLs only.
    pub fn clear_overlay_resolver(&mut self) -> Result<()> {
        // SAFETY: live object; NULL callback and user are allowed.
        check(unsafe {
            sys::zlt_node_manager_set_overlay_resolver(
                self.raw.as_ptr(),
                None,
                std::ptr::null_mut(),
            )
        })?;
        self.resolver = None;
        Ok(())
    }

    /// Adds a tunnel (JSON, one element of the configuration's `tunnels`). On a started
    /// manager it starts at once; progress is reported through events.
    ///
    /// Errors: [`Config`](ErrorCode::Config) (a missing or invalid field, named in the
    /// message), [`Exists`](ErrorCode::Exists).
    pub fn add_tunnel(&self, tunnel_json: &str) -> Result<()> {
        let tunnel = cstring("tunnel_json", tunnel_json)?;
        // SAFETY: live object, valid C string.
        check(unsafe { sys::zlt_node_manager_add_tunnel(self.raw.as_ptr(), tunnel.as_ptr()) })
    }

    /// Removes a tunnel: its agent stops (outbound), or its listener is closed and its
    /// source's session ended (inbound).
    ///
    /// Errors: [`NotFound`](ErrorCode::NotFound).
    pub fn remove_tunnel(&self, name: &str) -> Result<()> {
        let name = cstring("name", name)?;
        // SAFETY: live object, valid C string.
        check(unsafe { sys::zlt_node_manager_remove_tunnel(self.raw.as_ptr(), name.as_ptr()) })
    }

    /// Starts the node: its server listens (if configured), inbound listeners are bound and
    /// outbound tunnels connect (and reconnect with backoff). Idempotent; a stopped manager
    /// may be started again.
    ///
    /// Errors: [`Connection`](ErrorCode::Connection) (the server cannot listen).
    pub fn start(&self) -> Result<()> {
        // SAFETY: live object.
        check(unsafe { sys::zlt_node_manager_start(self.raw.as_ptr()) })
    }

    /// Stops every tunnel and the server; the tunnels are kept for [`start`](Self::start).
    /// Idempotent.
    pub fn stop(&self) -> Result<()> {
        // SAFETY: live object.
        check(unsafe { sys::zlt_node_manager_stop(self.raw.as_ptr()) })
    }

    /// The Prometheus text exposition (format 0.0.4): what the `--metrics` listener serves
    /// on GET /metrics.
    pub fn metrics(&self) -> Result<String> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live handle, valid output location.
        check(unsafe { sys::zlt_node_manager_metrics(self.raw.as_ptr(), &mut out) })?;
        // SAFETY: on success `out` is a string the library allocated for us.
        Ok(unsafe { take_string(out) })
    }

    /// A snapshot: `node_name`, `running`, `server` (`{"listen": [...], "sessions": n}` or
    /// null) and `tunnels` (state, direction, route, traffic, `listen` of internal inbound
    /// tunnels, ...).
    pub fn status(&self) -> Result<Value> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live object, valid output location.
        check(unsafe { sys::zlt_node_manager_status(self.raw.as_ptr(), &mut out) })?;
        // SAFETY: on success `out` is a string the library allocated for us.
        let json = unsafe { take_string(out) };
        Value::parse(&json)
            .map_err(|_| Error::new(ErrorCode::Internal, format!("unreadable status: {json}")))
    }

    /// The port the node's server listens on, once started (`None` without a server).
    pub fn server_port(&self) -> Result<Option<u16>> {
        let status = self.status()?;
        Ok(status["server"]["listen"]
            .as_array()
            .and_then(|l| l.first())
            .and_then(Value::as_str)
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok()))
    }

    /// The runtime this manager lives on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The C handle, for use with [`sys`](crate::sys). It stays valid while `self` lives.
    pub fn as_raw(&self) -> *mut sys::zlt_node_manager {
        self.raw.as_ptr()
    }
}

impl fmt::Debug for NodeManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeManager")
            .field("raw", &self.raw)
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl Drop for NodeManager {
    fn drop(&mut self) {
        // SAFETY: the handle is live and freed only here. Once this returns neither callback
        // runs again (or, inside a callback, the manager is silenced at once), so the slots can
        // go; the runtime handle is released last.
        unsafe { sys::zlt_node_manager_free(self.raw.as_ptr()) };
    }
}
