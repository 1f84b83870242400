//! The host's callbacks: token validators, connection decisions, and panics inside them.

mod common;

use std::sync::{Arc, Mutex, mpsc};

use common::{Echo, TIMEOUT};
use zlayer_tunnel::{Agent, Runtime, Verdict};

fn new_agent(
    rt: &Runtime,
    control_port: u16,
    local_port: Option<u16>,
    token: &str,
) -> (Agent, common::Events) {
    let mut agent = Agent::new(rt, &common::agent_config(control_port, local_port, token)).unwrap();
    let (handler, events) = common::events();
    agent.on_event(handler).unwrap();
    (agent, events)
}

#[test]
fn validator_admits_with_a_grant() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (mut server, control_port, server_events) = common::start_server(&rt);
    let (tx, rx) = mpsc::channel();
    server
        .set_token_validator(move |token, hash| {
            let _ = tx.send((token.to_owned(), hash.to_owned()));
            // The configured list knows nothing of this token: only the validator admits it.
            if token == "host-token" {
                Verdict::Grant(r#"{"name":"from-host","allowed_ports":[1024,65535]}"#.to_owned())
            } else {
                Verdict::Reject(String::new())
            }
        })
        .unwrap();
    let (agent, events) = new_agent(&rt, control_port, Some(echo.port), "host-token");
    agent.start().unwrap();
    let port = common::public_port(&events);
    assert_eq!(common::echo_through(port, b"validated"), b"validated");

    let (token, hash) = rx.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(token, "host-token");
    assert_eq!(hash, zlayer_tunnel::hash_token("host-token").unwrap());
    let connected = server_events.wait("tunnel_connected");
    assert_eq!(
        connected.get_str("name"),
        Some("from-host"),
        "{}",
        connected.json()
    );
}

#[test]
fn validator_refuses_with_a_reason() {
    common::quiet();
    let rt = Runtime::new().unwrap();
    let (mut server, control_port, _server_events) = common::start_server(&rt);
    let (tx, rx) = mpsc::channel();
    server
        .set_token_validator(move |token, _| {
            let _ = tx.send(token.to_owned());
            Verdict::Reject("go away, said the host".to_owned())
        })
        .unwrap();
    let (agent, events) = new_agent(&rt, control_port, None, common::TOKEN);
    agent.start().unwrap();
    let failed = events.wait("auth_failed");
    let reason = failed.get_str("reason").unwrap_or_default();
    assert!(
        reason.contains("go away, said the host"),
        "{}",
        failed.json()
    );
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), common::TOKEN);

    // Without the validator the configured token list applies again.
    server.clear_token_validator().unwrap();
    events.wait("authenticated");
}

#[test]
fn an_invalid_grant_refuses_rather_than_widening() {
    common::quiet();
    let rt = Runtime::new().unwrap();
    let (mut server, control_port, _server_events) = common::start_server(&rt);
    server
        .set_token_validator(|_, _| Verdict::Grant(r#"{"allowed_ports":[5,"x"]}"#.to_owned()))
        .unwrap();
    let (agent, events) = new_agent(&rt, control_port, None, common::TOKEN);
    agent.start().unwrap();
    let failed = events.wait("auth_failed");
    let reason = failed.get_str("reason").unwrap_or_default();
    assert!(reason.contains("invalid grant"), "{}", failed.json());
    assert!(reason.contains("allowed_ports"), "{}", failed.json());
}

#[test]
fn connection_handler_refuses_then_accepts() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (_server, control_port, _server_events) = common::start_server(&rt);
    let (mut agent, events) = new_agent(&rt, control_port, Some(echo.port), common::TOKEN);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    agent
        .on_connection(move |conn| {
            record.lock().unwrap().push((
                conn.service_id.to_owned(),
                conn.connection_id.to_owned(),
                conn.client_addr.to_owned(),
            ));
            false
        })
        .unwrap();
    agent.start().unwrap();
    let port = common::public_port(&events);

    let mut client = common::connect(port);
    // The refusal resets the connection, possibly before this write: a reset here is the
    // refusal arriving early, not a failure.
    let written = std::io::Write::write_all(&mut client, b"let me in");
    assert!(
        written.is_err() || common::closed_by_peer(&mut client),
        "the refused client was not closed"
    );
    assert_eq!(echo.accepted(), 0, "the local service was dialed anyway");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let (service, connection, addr) = &seen[0];
        assert_eq!(service.len(), 36, "{service}");
        assert_eq!(connection.len(), 36, "{connection}");
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    }

    // Back to the default: everything is accepted.
    agent.clear_on_connection().unwrap();
    assert_eq!(common::echo_through(port, b"now accepted"), b"now accepted");
    assert_eq!(echo.accepted(), 1);
}

#[test]
fn a_panicking_event_handler_is_contained() {
    common::hide_deliberate_panics();
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (_server, control_port, _server_events) = common::start_server(&rt);
    let mut agent = Agent::new(
        &rt,
        &common::agent_config(control_port, Some(echo.port), common::TOKEN),
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    agent
        .on_event(move |ev| {
            if ev.name() == "state" {
                panic!("deliberate panic in an event handler ({})", ev.json());
            }
            let _ = tx.send(ev.clone());
        })
        .unwrap();
    agent.start().unwrap();
    // Events after the panics still arrive, and the tunnel works.
    let registered = loop {
        let ev = rx.recv_timeout(TIMEOUT).expect("no events after the panic");
        assert_ne!(ev.name(), "state");
        if ev.name() == "service_registered" {
            break ev;
        }
    };
    let port = registered
        .get("public_port")
        .and_then(|p| p.as_u64())
        .unwrap() as u16;
    assert_eq!(common::echo_through(port, b"still alive"), b"still alive");
}

#[test]
fn a_panicking_validator_refuses() {
    common::hide_deliberate_panics();
    common::quiet();
    let rt = Runtime::new().unwrap();
    let (mut server, control_port, _server_events) = common::start_server(&rt);
    server
        .set_token_validator(|_, _| panic!("deliberate panic in a token validator"))
        .unwrap();
    let (agent, events) = new_agent(&rt, control_port, None, common::TOKEN);
    agent.start().unwrap();
    let failed = events.wait("auth_failed");
    let reason = failed.get_str("reason").unwrap_or_default();
    assert!(
        reason.contains("the token validator failed"),
        "{}",
        failed.json()
    );
    // The server is still fine.
    assert!(server.status().unwrap().starts_with('{'));
}

#[test]
fn a_panicking_connection_handler_refuses() {
    common::hide_deliberate_panics();
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (_server, control_port, _server_events) = common::start_server(&rt);
    let (mut agent, events) = new_agent(&rt, control_port, Some(echo.port), common::TOKEN);
    agent
        .on_connection(|_| panic!("deliberate panic in a connection handler"))
        .unwrap();
    agent.start().unwrap();
    let port = common::public_port(&events);
    let mut client = common::connect(port);
    assert!(common::closed_by_peer(&mut client));
    assert_eq!(echo.accepted(), 0);
}
