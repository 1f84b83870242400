//! What callbacks receive and return: events, token verdicts, incoming connections.

use crate::json::Value;

/// An event reported by a [`Server`](crate::Server) or an [`Agent`](crate::Agent).
///
/// The library hands events over as JSON; an `Event` keeps that text and its parsed form, so
/// fields can be read without further parsing:
///
/// ```
/// # use zlayer_tunnel::Event;
/// fn public_port(ev: &Event) -> Option<u16> {
///     if ev.name() != "service_registered" {
///         return None;
///     }
///     ev.get("public_port")?.as_u64()?.try_into().ok()
/// }
/// ```
///
/// Server events: `tunnel_connected`, `tunnel_disconnected`, `service_registered`,
/// `service_unregistered`. Agent events: `state` (with `state`), `authenticated`,
/// `auth_failed` (with `reason`), `service_registered` (with `name` and `public_port`),
/// `service_failed`, `incoming_connection`, `disconnected`, `error`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    name: String,
    json: String,
    value: Value,
}

impl Event {
    /// An event from its name and JSON text (what the library delivers). Text that is not JSON
    /// gives a `Null` value; the library always sends an object.
    pub fn new(name: impl Into<String>, json: impl Into<String>) -> Self {
        let json = json.into();
        let value = Value::parse(&json).unwrap_or(Value::Null);
        Self {
            name: name.into(),
            json,
            value,
        }
    }

    /// The kind of event (its `"event"` field), e.g. `"service_registered"`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole event as JSON text, e.g.
    /// `{"event":"service_registered","name":"web","public_port":30001,...}`.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The whole event, parsed.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// A field of the event, e.g. `ev.get("reason")`.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.value.get(field)
    }

    /// A string field, e.g. `ev.get_str("state")`.
    pub fn get_str(&self, field: &str) -> Option<&str> {
        self.get(field).and_then(Value::as_str)
    }
}

/// A token validator's answer (see [`Server::set_token_validator`](crate::Server::set_token_validator)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Admit the agent with the default grant: any public port, no targets to open.
    Accept,
    /// Admit the agent with a grant, as JSON:
    /// `{"name": "team-a", "allowed_ports": [30000, 30010], "allow": ["service:db"]}`
    /// (every field optional). A grant the library refuses refuses the agent (reason
    /// `invalid grant: ...`) rather than falling back to the wider default.
    Grant(String),
    /// Refuse the agent. It is told `Authentication error: <reason>` and reports an
    /// `auth_failed` event; an empty reason gives the library's `invalid tunnel token`.
    Reject(String),
}

/// A connection that arrived on a public port, before the agent dials the local service (see
/// [`Agent::on_connection`](crate::Agent::on_connection)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncomingConnection<'a> {
    /// The service's id (canonical UUID text).
    pub service_id: &'a str,
    /// This connection's id (canonical UUID text).
    pub connection_id: &'a str,
    /// The public client, as `"HOST:PORT"`.
    pub client_addr: &'a str,
}
