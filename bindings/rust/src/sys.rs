//! Raw declarations of the C interface, `zlayer_tunnel.h`, one to one.
//!
//! Everything here is `unsafe` to call and follows the header's rules on ownership, threads
//! and errors; the rest of this crate is the safe layer built on it. Use these only to reach
//! something the safe layer does not cover.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_longlong, c_void};
use std::marker::{PhantomData, PhantomPinned};

// ---- Version ----

pub const ZLT_VERSION_MAJOR: c_int = 0;
pub const ZLT_VERSION_MINOR: c_int = 3;
pub const ZLT_VERSION_PATCH: c_int = 0;
pub const ZLT_VERSION_STRING: &str = "0.3.0";
/// `0x00MMmmpp`, for comparisons.
pub const ZLT_VERSION_NUMBER: c_int =
    (ZLT_VERSION_MAJOR << 16) | (ZLT_VERSION_MINOR << 8) | ZLT_VERSION_PATCH;

// ---- Result codes ----

pub const ZLT_OK: c_int = 0;
pub const ZLT_EPROTOCOL: c_int = -1;
pub const ZLT_EAUTH: c_int = -2;
pub const ZLT_ECONNECTION: c_int = -3;
pub const ZLT_EREGISTRY: c_int = -4;
pub const ZLT_ECONFIG: c_int = -5;
pub const ZLT_ETIMEOUT: c_int = -6;
pub const ZLT_ESHUTDOWN: c_int = -7;
pub const ZLT_EINVAL: c_int = -8;
pub const ZLT_ENOTFOUND: c_int = -9;
pub const ZLT_EEXISTS: c_int = -10;
pub const ZLT_ELIMIT: c_int = -11;
pub const ZLT_EIO: c_int = -12;
pub const ZLT_EINTERNAL: c_int = -13;
pub const ZLT_ENOMEM: c_int = -14;
pub const ZLT_ECLOSED: c_int = -15;

// ---- Log levels ----

pub const ZLT_LOG_TRACE: c_int = 0;
pub const ZLT_LOG_DEBUG: c_int = 1;
pub const ZLT_LOG_INFO: c_int = 2;
pub const ZLT_LOG_WARN: c_int = 3;
pub const ZLT_LOG_ERROR: c_int = 4;

// ---- Types ----

// Opaque handles: zero-sized, neither constructible nor movable from Rust, and (through the
// raw-pointer marker) neither Send nor Sync by themselves.
macro_rules! opaque {
    ($($name:ident),*) => {$(
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}
opaque!(
    zlt_runtime,
    zlt_registry,
    zlt_agent,
    zlt_access,
    zlt_node_manager,
    zlt_token_verdict
);

/// An event; both strings are valid only during the callback.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zlt_event {
    pub name: *const c_char,
    pub json: *const c_char,
}

pub type zlt_event_cb = Option<unsafe extern "C" fn(user: *mut c_void, ev: *const zlt_event)>;

pub type zlt_token_validator_cb = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        token: *const c_char,
        token_hash: *const c_char,
        verdict: *mut zlt_token_verdict,
    ) -> c_int,
>;

pub type zlt_connection_cb = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        service_id: *const c_char,
        connection_id: *const c_char,
        client_addr: *const c_char,
    ) -> c_int,
>;

/// The size of the buffer an overlay resolver writes an address into, NUL included.
pub const ZLT_OVERLAY_ADDRESS_MAX: usize = 256;

pub type zlt_overlay_resolver_cb = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        node: *const c_char,
        address_out: *mut c_char,
        address_size: usize,
    ) -> c_int,
>;

pub type zlt_log_cb = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        level: c_int,
        component: *const c_char,
        message: *const c_char,
        fields_json: *const c_char,
    ),
>;

// Linking is set up by build.rs (pkg-config), not by a #[link] attribute, so that the library
// is found wherever PKG_CONFIG_PATH says.
unsafe extern "C" {
    // ---- Library ----
    pub fn zlt_version() -> *const c_char;
    pub fn zlt_strerror(code: c_int) -> *const c_char;
    pub fn zlt_last_error() -> *const c_char;
    pub fn zlt_free(ptr: *mut c_void);
    pub fn zlt_hash_token(token: *const c_char, out_hex: *mut *mut c_char) -> c_int;
    pub fn zlt_token_new(out: *mut *mut c_char) -> c_int;
    pub fn zlt_set_log_level(level: *const c_char) -> c_int;
    pub fn zlt_set_log_callback(cb: zlt_log_cb, user: *mut c_void) -> c_int;

    // ---- Runtime ----
    pub fn zlt_runtime_new(out: *mut *mut zlt_runtime) -> c_int;
    pub fn zlt_runtime_free(rt: *mut zlt_runtime) -> c_int;

    // ---- Registry (server side) ----
    pub fn zlt_registry_new(
        rt: *mut zlt_runtime,
        config_json: *const c_char,
        out: *mut *mut zlt_registry,
    ) -> c_int;
    pub fn zlt_registry_listen(
        reg: *mut zlt_registry,
        host: *const c_char,
        port: c_int,
        bound_port_out: *mut c_int,
    ) -> c_int;
    pub fn zlt_registry_accept(reg: *mut zlt_registry, fd: c_int) -> c_int;
    pub fn zlt_registry_set_token_validator(
        reg: *mut zlt_registry,
        cb: zlt_token_validator_cb,
        user: *mut c_void,
    ) -> c_int;
    pub fn zlt_verdict_set_reason(verdict: *mut zlt_token_verdict, reason: *const c_char) -> c_int;
    pub fn zlt_verdict_set_grant(
        verdict: *mut zlt_token_verdict,
        grant_json: *const c_char,
    ) -> c_int;
    pub fn zlt_registry_on_event(
        reg: *mut zlt_registry,
        cb: zlt_event_cb,
        user: *mut c_void,
    ) -> c_int;
    pub fn zlt_registry_status(reg: *mut zlt_registry, json_out: *mut *mut c_char) -> c_int;
    pub fn zlt_registry_metrics(reg: *mut zlt_registry, text_out: *mut *mut c_char) -> c_int;
    pub fn zlt_registry_grant_access(
        reg: *mut zlt_registry,
        request_json: *const c_char,
        json_out: *mut *mut c_char,
    ) -> c_int;
    pub fn zlt_registry_revoke_access(reg: *mut zlt_registry, grant_id: *const c_char) -> c_int;
    pub fn zlt_registry_list_grants(reg: *mut zlt_registry, json_out: *mut *mut c_char) -> c_int;
    pub fn zlt_registry_stop(reg: *mut zlt_registry) -> c_int;
    pub fn zlt_registry_reload(
        reg: *mut zlt_registry,
        config_json: *const c_char,
        report_json_out: *mut *mut c_char,
    ) -> c_int;
    pub fn zlt_registry_drain(reg: *mut zlt_registry, grace_ms: c_longlong) -> c_int;
    pub fn zlt_registry_free(reg: *mut zlt_registry);

    // ---- Agent (client side) ----
    pub fn zlt_agent_new(
        rt: *mut zlt_runtime,
        config_json: *const c_char,
        out: *mut *mut zlt_agent,
    ) -> c_int;
    pub fn zlt_agent_on_event(agent: *mut zlt_agent, cb: zlt_event_cb, user: *mut c_void) -> c_int;
    pub fn zlt_agent_on_connection(
        agent: *mut zlt_agent,
        cb: zlt_connection_cb,
        user: *mut c_void,
    ) -> c_int;
    pub fn zlt_agent_start(agent: *mut zlt_agent) -> c_int;
    pub fn zlt_agent_stop(agent: *mut zlt_agent) -> c_int;
    pub fn zlt_agent_status(agent: *mut zlt_agent, json_out: *mut *mut c_char) -> c_int;
    pub fn zlt_agent_metrics(agent: *mut zlt_agent, text_out: *mut *mut c_char) -> c_int;
    pub fn zlt_agent_free(agent: *mut zlt_agent);

    // ---- Access (on-demand access, since 0.2) ----
    pub fn zlt_access_new(
        rt: *mut zlt_runtime,
        config_json: *const c_char,
        out: *mut *mut zlt_access,
    ) -> c_int;
    pub fn zlt_access_on_event(
        access: *mut zlt_access,
        cb: zlt_event_cb,
        user: *mut c_void,
    ) -> c_int;
    pub fn zlt_access_start_session(
        access: *mut zlt_access,
        request_json: *const c_char,
        json_out: *mut *mut c_char,
    ) -> c_int;
    pub fn zlt_access_stop_session(access: *mut zlt_access, session_id: *const c_char) -> c_int;
    pub fn zlt_access_list(access: *mut zlt_access, json_out: *mut *mut c_char) -> c_int;
    pub fn zlt_access_metrics(access: *mut zlt_access, text_out: *mut *mut c_char) -> c_int;
    pub fn zlt_access_free(access: *mut zlt_access);

    // ---- Node tunnels (node-to-node, since 0.3) ----
    pub fn zlt_node_manager_new(
        rt: *mut zlt_runtime,
        node_config_json: *const c_char,
        out: *mut *mut zlt_node_manager,
    ) -> c_int;
    pub fn zlt_node_manager_on_event(
        mgr: *mut zlt_node_manager,
        cb: zlt_event_cb,
        user: *mut c_void,
    ) -> c_int;
    pub fn zlt_node_manager_set_overlay_resolver(
        mgr: *mut zlt_node_manager,
        cb: zlt_overlay_resolver_cb,
        user: *mut c_void,
    ) -> c_int;
    pub fn zlt_node_manager_add_tunnel(
        mgr: *mut zlt_node_manager,
        tunnel_json: *const c_char,
    ) -> c_int;
    pub fn zlt_node_manager_remove_tunnel(mgr: *mut zlt_node_manager, name: *const c_char)
    -> c_int;
    pub fn zlt_node_manager_start(mgr: *mut zlt_node_manager) -> c_int;
    pub fn zlt_node_manager_stop(mgr: *mut zlt_node_manager) -> c_int;
    pub fn zlt_node_manager_metrics(
        mgr: *mut zlt_node_manager,
        text_out: *mut *mut c_char,
    ) -> c_int;
    pub fn zlt_node_manager_status(mgr: *mut zlt_node_manager, json_out: *mut *mut c_char)
    -> c_int;
    pub fn zlt_node_manager_free(mgr: *mut zlt_node_manager);
}
