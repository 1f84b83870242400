//! Node-to-node tunnels from Rust: two `NodeManager`s on loopback, each on its own runtime as
//! two processes would be. Node "b" runs the server side; node "a" has an outbound internal
//! tunnel toward it, so that b's inbound listener reaches an echo service next to a.

mod common;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{Echo, Events};
use zlayer_tunnel::{ErrorCode, NodeManager, Runtime};

const TOKEN: &str = "tok-db-5f1e";

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tunnel(echo: &Echo, remote_port: u16, extra: &str) -> String {
    format!(
        r#"{{"name":"db","from":"node-a","to":"node-b","local_port":{},"remote_port":{remote_port},
            "expose":"internal","token":"{TOKEN}"{extra}}}"#,
        echo.port
    )
}

fn is_state(ev: &zlayer_tunnel::Event, state: &str) -> bool {
    ev.name() == "tunnel_state"
        && ev.get_str("tunnel") == Some("db")
        && ev.get_str("state") == Some(state)
}

fn wait_state(events: &Events, state: &str) -> zlayer_tunnel::Event {
    events
        .wait_for(|ev| is_state(ev, state))
        .unwrap_or_else(|| panic!("no tunnel_state {state:?} event"))
}

struct TwoNodes {
    // Managers before runtimes: each manager holds its runtime anyway.
    a: NodeManager,
    a_events: Events,
    b: NodeManager,
    b_events: Events,
    control_port: u16,
    remote_port: u16,
}

fn start_two_nodes(echo: &Echo) -> TwoNodes {
    let remote_port = free_port();
    let rt_b = Runtime::new().unwrap();
    let mut b = NodeManager::new(
        &rt_b,
        &format!(
            r#"{{"node_name":"node-b","server":{{"listen":"127.0.0.1:0","public_bind":"127.0.0.1",
                "data_port_range":[0,0]}},"tunnels":[{}]}}"#,
            tunnel(echo, remote_port, "")
        ),
    )
    .expect("node b");
    let (handler, b_events) = common::events();
    b.on_event(handler).unwrap();
    b.start().unwrap();
    let control_port = b.server_port().unwrap().expect("node b listens");

    let rt_a = Runtime::new().unwrap();
    let mut a = NodeManager::new(
        &rt_a,
        r#"{"node_name":"node-a","reconnect_interval":"50ms","max_reconnect_interval":"200ms",
            "connect_timeout":"2s"}"#,
    )
    .expect("node a");
    let (handler, a_events) = common::events();
    a.on_event(handler).unwrap();
    a.start().unwrap();
    TwoNodes {
        a,
        a_events,
        b,
        b_events,
        control_port,
        remote_port,
    }
}

#[test]
fn internal_tunnel_carries_bytes_through_the_overlay_route() {
    common::quiet();
    let echo = Echo::start();
    let mut n = start_two_nodes(&echo);
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&asked);
    n.a.set_overlay_resolver(move |node| {
        seen.lock().unwrap().push(node.to_owned());
        (node == "node-b").then(|| "127.0.0.1".to_owned())
    })
    .unwrap();
    let url = format!("ws://127.0.0.1:{}/tunnel/v1", n.control_port);
    n.a.add_tunnel(&tunnel(
        &echo,
        n.remote_port,
        &format!(r#","direct_url":"{url}""#),
    ))
    .unwrap();

    let first = n
        .a_events
        .wait_for(|ev| ev.name() == "route")
        .expect("a route event");
    assert_eq!(first.get_str("route"), Some("overlay"), "{}", first.json());
    assert_eq!(first.get_str("url"), Some(url.as_str()));
    let connecting = n
        .a_events
        .wait_for(|ev| ev.name() == "tunnel_state")
        .expect("a state event");
    assert_eq!(connecting.get_str("state"), Some("connecting"));
    wait_state(&n.a_events, "connected");
    wait_state(&n.b_events, "connected");
    assert_eq!(
        asked.lock().unwrap().first().map(String::as_str),
        Some("node-b")
    );

    // b's inbound listener reaches the echo service next to a.
    let payload = common::pattern(1 << 20, 5);
    let back = common::echo_through(n.remote_port, &payload);
    assert_eq!(common::digest(&back), common::digest(&payload));

    let status = n.a.status().unwrap();
    assert_eq!(status["node_name"].as_str(), Some("node-a"));
    assert!(status["server"].is_null());
    let t = &status["tunnels"][0];
    assert_eq!(t["state"].as_str(), Some("connected"), "{status:?}");
    assert_eq!(t["direction"].as_str(), Some("outbound"));
    assert_eq!(t["route"].as_str(), Some("overlay"));
    let inbound = n.b.status().unwrap();
    assert_eq!(
        inbound["tunnels"][0]["listen"].as_str(),
        Some(format!("127.0.0.1:{}", n.remote_port).as_str())
    );

    // Removing the tunnel on a ends it on b.
    n.a.remove_tunnel("db").unwrap();
    wait_state(&n.b_events, "disconnected");
    assert_eq!(
        n.a.remove_tunnel("db").unwrap_err().code(),
        ErrorCode::NotFound
    );
    n.a.clear_overlay_resolver().unwrap();
}

#[test]
fn stop_and_start_again() {
    common::quiet();
    let echo = Echo::start();
    let n = start_two_nodes(&echo);
    let url = format!("ws://127.0.0.1:{}/tunnel/v1", n.control_port);
    n.a.add_tunnel(&tunnel(
        &echo,
        n.remote_port,
        &format!(r#","routing_mode":"directonly","direct_url":"{url}""#),
    ))
    .unwrap();
    wait_state(&n.a_events, "connected");
    n.a.stop().unwrap();
    let down = wait_state(&n.a_events, "disconnected");
    assert_eq!(down.get_str("reason"), Some("node shutting down"));
    assert_eq!(n.a.status().unwrap()["running"].as_bool(), Some(false));
    n.a.start().unwrap();
    wait_state(&n.a_events, "connected");
    wait_state(&n.b_events, "connected");
    wait_state(&n.b_events, "disconnected"); // the first session's end, then ...
    wait_state(&n.b_events, "connected"); // ... the second one
    assert_eq!(common::echo_through(n.remote_port, b"again"), b"again");
}

#[test]
fn errors() {
    common::quiet();
    let rt = Runtime::new().unwrap();
    let err = NodeManager::new(&rt, "{}").unwrap_err();
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.message().contains("node_name"), "{err}");
    assert_eq!(
        NodeManager::new(&rt, "{").unwrap_err().code(),
        ErrorCode::Config
    );
    let node = NodeManager::new(&rt, r#"{"node_name":"node-a"}"#).unwrap();
    assert_eq!(
        node.add_tunnel(r#"{"name":"x"}"#).unwrap_err().code(),
        ErrorCode::Config
    );
    let t = r#"{"name":"db","from":"node-a","to":"node-b","local_port":1,"remote_port":0,
                "direct_url":"ws://127.0.0.1:1/tunnel/v1"}"#;
    node.add_tunnel(t).unwrap();
    assert_eq!(node.add_tunnel(t).unwrap_err().code(), ErrorCode::Exists);
    assert_eq!(
        node.remove_tunnel("nope").unwrap_err().code(),
        ErrorCode::NotFound
    );
    assert_eq!(
        node.add_tunnel("a\0b").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}
