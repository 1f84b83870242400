//! Reloading a running server's configuration and draining it, from Rust: a removed token
//! disconnects its session, a bad configuration changes nothing, and a drain lets open streams
//! finish (or ends them when the grace is over) before the server stops.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Echo, Events, TIMEOUT, TOKEN};
use zlayer_tunnel::json::{Value, quote};
use zlayer_tunnel::{Agent, ErrorCode, Runtime, Server};

/// A server configuration like `common::SERVER_CONFIG` accepting `tokens`, with `extra`
/// settings (`,"key":value...`) after them.
fn server_config(tokens: &[&str], extra: &str) -> String {
    let tokens: Vec<String> = tokens
        .iter()
        .map(|t| format!(r#"{{"token":{}}}"#, quote(t)))
        .collect();
    format!(
        r#"{{"listen":"127.0.0.1:0","public_bind":"127.0.0.1","data_port_range":[0,0],
            "tokens":[{}]{extra}}}"#,
        tokens.join(",")
    )
}

/// A server from `config` listening on 127.0.0.1 (kernel-chosen port), with its events.
fn start_server(rt: &Runtime, config: &str) -> (Server, u16, Events) {
    let mut server = Server::new(rt, config).expect("Server::new");
    let (handler, events) = common::events();
    server.on_event(handler).expect("on_event");
    let port = server.listen(Some("127.0.0.1"), 0).expect("listen");
    (server, port, events)
}

/// A started agent with `token` and no services, with its events.
fn start_plain_agent(rt: &Runtime, control_port: u16, token: &str) -> (Agent, Events) {
    let mut agent =
        Agent::new(rt, &common::agent_config(control_port, None, token)).expect("Agent::new");
    let (handler, events) = common::events();
    agent.on_event(handler).expect("on_event");
    agent.start().expect("start");
    (agent, events)
}

/// Polls `check` until it holds; panics with `what` after TIMEOUT.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !check() {
        assert!(Instant::now() < deadline, "{what} (waited {TIMEOUT:?})");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn server_status(server: &Server) -> Value {
    Value::parse(&server.status().unwrap()).unwrap()
}

fn agent_state(agent: &Agent) -> String {
    let status = Value::parse(&agent.status().unwrap()).unwrap();
    status["state"].as_str().unwrap_or_default().to_owned()
}

/// Whether a connection to `port` on 127.0.0.1 is refused now.
fn refused(port: u16) -> bool {
    match TcpStream::connect(("127.0.0.1", port)) {
        Ok(_) => false,
        Err(e) => e.kind() == ErrorKind::ConnectionRefused,
    }
}

/// A connection through the public port `port`, with one echo round trip done.
fn open_stream(port: u16) -> TcpStream {
    let mut stream = common::connect(port);
    round_trip(&mut stream, b"before");
    stream
}

fn round_trip(stream: &mut TcpStream, payload: &[u8]) {
    stream.write_all(payload).unwrap();
    let mut back = vec![0u8; payload.len()];
    stream.read_exact(&mut back).unwrap();
    assert_eq!(back, payload);
}

#[test]
fn reload_revokes_a_removed_token_and_a_bad_configuration_changes_nothing() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (server, control_port, server_events) =
        start_server(&rt, &server_config(&[TOKEN, "other"], ""));
    let (kept, kept_events) = common::start_agent(&rt, control_port, &echo);
    let port = common::public_port(&kept_events);
    let (_revoked, revoked_events) = start_plain_agent(&rt, control_port, "other");
    revoked_events.wait("authenticated");
    eventually("two tunnels on the server", || {
        server_status(&server)["tunnel_count"].as_u64() == Some(2)
    });
    server_events.drain();

    // "other" is no longer configured: its session goes, the other one stays.
    let report = server.reload(Some(common::SERVER_CONFIG)).unwrap();
    assert_eq!(report.revoked, 1, "{report:?}");
    assert_eq!(report.tokens, 1, "{report:?}");
    assert_eq!(report.reconnected, 0, "{report:?}");
    assert!(!report.tls_reloaded, "{report:?}");
    assert!(report.needs_restart.is_empty(), "{report:?}");
    let gone = revoked_events.wait("disconnected");
    assert!(gone.json().contains("token revoked"), "{}", gone.json());
    server_events.wait("tunnel_disconnected");
    eventually("one tunnel left on the server", || {
        server_status(&server)["tunnel_count"].as_u64() == Some(1)
    });
    assert_eq!(common::echo_through(port, b"still here"), b"still here");

    // An invalid setting: refused with the field named, and nothing of it applied (the token
    // list it carries would have revoked the remaining agent and admitted "fresh").
    let err = server
        .reload(Some(&server_config(&["fresh"], r#","max_connections":0"#)))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Config, "{err}");
    assert!(err.message().contains("max_connections"), "{err}");
    assert_eq!(common::echo_through(port, b"untouched"), b"untouched");
    assert_eq!(agent_state(&kept), "connected");
    assert_eq!(server_status(&server)["tunnel_count"].as_u64(), Some(1));
    let (_fresh, fresh_events) = start_plain_agent(&rt, control_port, "fresh");
    fresh_events.wait("auth_failed");
    assert!(
        !kept_events
            .drain()
            .iter()
            .any(|e| e.name() == "disconnected"),
        "the agent whose token is still configured was disconnected"
    );

    // A bad JSON text is refused the same way.
    let err = server.reload(Some("{")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Config, "{err}");
    assert_eq!(
        server.reload(Some("{\0}")).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );

    // The last configuration applied is still the one that revoked "other".
    let report = server.reload(None).unwrap();
    assert_eq!((report.tokens, report.revoked), (1, 0), "{report:?}");
    assert_eq!(common::echo_through(port, b"once more"), b"once more");
    assert!(
        !kept_events
            .drain()
            .iter()
            .any(|e| e.name() == "disconnected"),
        "the agent whose token is still configured was disconnected"
    );
}

#[test]
fn reload_without_a_configuration_applies_the_last_one_again() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (server, control_port, _server_events) = common::start_server(&rt);
    let (agent, events) = common::start_agent(&rt, control_port, &echo);
    let port = common::public_port(&events);

    // The configuration given to Server::new.
    let report = server.reload(None).unwrap();
    assert_eq!(report.tokens, 1, "{report:?}");
    assert_eq!((report.revoked, report.reconnected), (0, 0), "{report:?}");
    assert!(!report.tls_reloaded, "{report:?}");
    assert!(report.needs_restart.is_empty(), "{report:?}");

    // After a reload, the configuration it applied.
    let report = server
        .reload(Some(&server_config(&[TOKEN, "other"], "")))
        .unwrap();
    assert_eq!(report.tokens, 2, "{report:?}");
    let report = server.reload(None).unwrap();
    assert_eq!(report.tokens, 2, "{report:?}");
    let (_other, other_events) = start_plain_agent(&rt, control_port, "other");
    other_events.wait("authenticated");

    assert_eq!(common::echo_through(port, b"unchanged"), b"unchanged");
    assert_eq!(agent_state(&agent), "connected");
    assert!(!events.drain().iter().any(|e| e.name() == "disconnected"));
}

#[test]
fn fields_bound_to_sockets_wait_for_a_restart() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (server, control_port, _server_events) = common::start_server(&rt);
    let (_agent, events) = common::start_agent(&rt, control_port, &echo);
    let port = common::public_port(&events);

    let next = common::SERVER_CONFIG.replace(
        r#""public_bind":"127.0.0.1""#,
        r#""public_bind":"127.0.0.2""#,
    );
    assert_ne!(next, common::SERVER_CONFIG);
    let report = server.reload(Some(&next)).unwrap();
    assert_eq!(report.needs_restart, ["public_bind"], "{report:?}");
    // The running value stays: the public port is still on 127.0.0.1.
    assert_eq!(common::echo_through(port, b"same place"), b"same place");
}

/// What every drain test starts from: a server, an agent serving an echo service through it,
/// and the public port. Fields drop in order, the runtime last.
struct OpenTunnel {
    port: u16,
    control_port: u16,
    events: Events,
    _agent: Agent,
    server: Server,
    _server_events: Events,
    _echo: Echo,
    _rt: Runtime,
}

impl OpenTunnel {
    fn start() -> Self {
        common::quiet();
        let echo = Echo::start();
        let rt = Runtime::new().unwrap();
        let (server, control_port, server_events) = common::start_server(&rt);
        let (agent, events) = common::start_agent(&rt, control_port, &echo);
        let port = common::public_port(&events);
        OpenTunnel {
            port,
            control_port,
            events,
            _agent: agent,
            server,
            _server_events: server_events,
            _echo: echo,
            _rt: rt,
        }
    }
}

#[test]
fn drain_ends_streams_still_open_when_the_grace_is_over() {
    let t = OpenTunnel::start();
    let (server, control_port, events, port) = (&t.server, t.control_port, &t.events, t.port);
    let mut held = open_stream(port);

    let began = Instant::now();
    server.drain(Duration::from_secs(2)).unwrap();
    let took = began.elapsed();
    // The stream stayed open, so the whole grace went by (the loop's clock may round a little).
    assert!(
        took >= Duration::from_millis(1750),
        "drain returned after {took:?}"
    );
    assert!(took < TIMEOUT, "drain returned after {took:?}");

    // Stopped: the stream is ended, the ports are closed, the agent is told.
    assert!(common::closed_by_peer(&mut held));
    eventually("the public port closed", || refused(port));
    eventually("the control port closed", || refused(control_port));
    let gone = events.wait("disconnected");
    assert!(gone.json().contains("shutting down"), "{}", gone.json());
    assert_eq!(server.reload(None).unwrap_err().code(), ErrorCode::Shutdown);
    // Draining a stopped server has nothing left to wait for.
    server.drain(Duration::from_secs(60)).unwrap();
}

#[test]
fn drain_returns_when_the_last_stream_ends() {
    let t = OpenTunnel::start();
    let (server, control_port, events, port) = (&t.server, t.control_port, &t.events, t.port);
    let mut held = open_stream(port);

    std::thread::scope(|s| {
        let drainer = s.spawn(|| server.drain(Duration::from_secs(60)));
        // Nothing new is taken, but the open stream carries on.
        eventually("the public port refusing connections", || refused(port));
        let payload = common::pattern(200_000, 7);
        round_trip(&mut held, &payload);
        assert!(
            !drainer.is_finished(),
            "drain returned with a stream still open"
        );
        let closed = Instant::now();
        drop(held);
        drainer.join().unwrap().unwrap();
        let took = closed.elapsed();
        assert!(
            took < TIMEOUT,
            "drain returned {took:?} after the last stream ended"
        );
    });
    eventually("the control port closed", || refused(control_port));
    events.wait("disconnected");
}

#[test]
fn a_drain_without_grace_stops_at_once() {
    let t = OpenTunnel::start();
    let (server, control_port, events, port) = (&t.server, t.control_port, &t.events, t.port);
    let mut held = open_stream(port);

    let began = Instant::now();
    server.drain(Duration::ZERO).unwrap();
    let took = began.elapsed();
    assert!(took < TIMEOUT, "drain returned after {took:?}");
    // The open stream is ended at once, as by stop().
    assert!(common::closed_by_peer(&mut held));
    eventually("the public port closed", || refused(port));
    eventually("the control port closed", || refused(control_port));
    events.wait("disconnected");
    assert_eq!(server.reload(None).unwrap_err().code(), ErrorCode::Shutdown);
}
