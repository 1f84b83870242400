//! Whole tunnels driven from Rust: a server, an agent and a local echo service, with bytes
//! pushed through the public port and checked on the way back.

mod common;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak, mpsc};

use common::{Echo, TIMEOUT};
use zlayer_tunnel::json::Value;
use zlayer_tunnel::{Agent, Runtime};

#[test]
fn megabyte_round_trip() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (server, control_port, server_events) = common::start_server(&rt);
    let (agent, events) = common::start_agent(&rt, control_port, &echo);
    let port = common::public_port(&events);
    // The server saw the tunnel the agent was given.
    let connected = server_events.wait("tunnel_connected");
    let status = Value::parse(&agent.status().unwrap()).unwrap();
    assert!(
        connected.get_str("tunnel").is_some(),
        "{}",
        connected.json()
    );
    assert_eq!(
        connected.get_str("tunnel"),
        status["tunnel_id"].as_str(),
        "{status}"
    );

    assert_eq!(
        common::echo_through(port, b"hello through Rust"),
        b"hello through Rust"
    );
    let payload = common::pattern(1 << 20, 42);
    let back = common::echo_through(port, &payload);
    assert_eq!(back.len(), payload.len());
    assert_eq!(
        common::digest(&back),
        common::digest(&payload),
        "the megabyte came back altered"
    );

    let status = Value::parse(&agent.status().unwrap()).unwrap();
    assert_eq!(status["state"].as_str(), Some("connected"), "{status}");
    assert_eq!(
        status["services"][0]["public_port"].as_u64(),
        Some(u64::from(port)),
        "{status}"
    );
    let server_status = server.status().unwrap();
    assert!(Value::parse(&server_status).unwrap().as_object().is_some());
    assert!(server_status.contains(&port.to_string()), "{server_status}");

    agent.stop().unwrap();
    server_events.wait("tunnel_disconnected");
    agent.stop().unwrap(); // idempotent
}

#[test]
fn several_clients_at_once() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (_server, control_port, _server_events) = common::start_server(&rt);
    let (agent, events) = common::start_agent(&rt, control_port, &echo);
    let port = common::public_port(&events);
    let agent = &agent;
    std::thread::scope(|s| {
        for i in 0..6u64 {
            s.spawn(move || {
                let payload = common::pattern(100_000, i + 1);
                assert_eq!(common::echo_through(port, &payload), payload);
                // Calls from several threads at once.
                agent.status().unwrap();
            });
        }
    });
    assert_eq!(echo.accepted(), 6);
}

#[test]
fn server_on_a_socket_the_host_accepted() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let mut server = zlayer_tunnel::Server::new(&rt, common::SERVER_CONFIG).unwrap();
    let (handler, server_events) = common::events();
    server.on_event(handler).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host_port = listener.local_addr().unwrap().port();
    let (agent, events) = std::thread::scope(|s| {
        let server = &server;
        let acceptor = s.spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            server.accept(stream)
        });
        let started = common::start_agent(&rt, host_port, &echo);
        acceptor.join().unwrap().expect("accept");
        started
    });
    let port = common::public_port(&events);
    server_events.wait("tunnel_connected");
    assert_eq!(common::echo_through(port, b"adopted"), b"adopted");
    drop(agent);
}

#[test]
fn calls_from_inside_an_event_handler() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (server, control_port, _server_events) = common::start_server(&rt);
    let server = Arc::new(server);

    // The handler reaches its own agent through a Weak (a strong one would be a cycle).
    let me: Arc<OnceLock<Weak<Agent>>> = Arc::new(OnceLock::new());
    let (tx, rx) = mpsc::channel();
    let inside = Arc::new(AtomicBool::new(false));
    let mut agent = Agent::new(
        &rt,
        &common::agent_config(control_port, Some(echo.port), common::TOKEN),
    )
    .unwrap();
    {
        let me = me.clone();
        let server = Arc::downgrade(&server);
        let mut restarted = false;
        agent
            .on_event(move |ev| {
                // A re-entered FnMut would alias itself: the binding must queue instead.
                assert!(!inside.swap(true, Ordering::SeqCst), "handler re-entered");
                let agent = me.get().and_then(Weak::upgrade);
                let mut note = String::new();
                if let (Some(agent), "service_registered") = (&agent, ev.name()) {
                    let status = Value::parse(&agent.status().unwrap()).unwrap();
                    note = status["state"].as_str().unwrap_or("?").to_owned();
                    let server = server.upgrade().unwrap();
                    assert!(server.status().unwrap().starts_with('{'));
                    if !restarted {
                        restarted = true;
                        // Inline calls that report events of this same handler.
                        agent.stop().unwrap();
                        agent.start().unwrap();
                    }
                }
                let _ = tx.send((
                    ev.name().to_owned(),
                    ev.get_str("state").map(str::to_owned),
                    note,
                ));
                inside.store(false, Ordering::SeqCst);
            })
            .unwrap();
    }
    let agent = Arc::new(agent);
    me.set(Arc::downgrade(&agent)).unwrap();
    agent.start().unwrap();

    let mut registered = Vec::new();
    let mut states = Vec::new();
    while registered.len() < 2 {
        let (name, state, note) = rx.recv_timeout(TIMEOUT).expect("events stopped");
        match name.as_str() {
            "service_registered" => registered.push(note),
            "state" => states.push(state.unwrap()),
            _ => {}
        }
    }
    // The status read inside the handler, both times.
    assert_eq!(registered, ["connected", "connected"]);
    // The stop and start made inside the handler were reported, after it returned.
    assert!(
        states.iter().filter(|s| *s == "connected").count() >= 2,
        "{states:?}"
    );
    assert!(states.iter().any(|s| s == "disconnected"), "{states:?}");
    let port = u16::try_from(
        Value::parse(&agent.status().unwrap()).unwrap()["services"][0]["public_port"]
            .as_u64()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        common::echo_through(port, b"after the restart"),
        b"after the restart"
    );
}
