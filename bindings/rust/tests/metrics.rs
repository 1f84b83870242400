//! Metrics through the C ABI: the server's and the agent's Prometheus text count the bytes
//! moved through a real tunnel.

mod common;

use std::time::Instant;

use common::{Echo, TIMEOUT};
use zlayer_tunnel::Runtime;

/// The value of the sample written exactly as `series` ("name{a=\"b\"}").
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn wait_for(what: &str, mut f: impl FnMut() -> (bool, String)) {
    let start = Instant::now();
    loop {
        let (ok, text) = f();
        if ok {
            return;
        }
        assert!(start.elapsed() < TIMEOUT, "{what}; got:\n{text}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn metrics_count_the_bytes_moved() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (server, control_port, _server_events) = common::start_server(&rt);
    let (agent, events) = common::start_agent(&rt, control_port, &echo);
    let port = common::public_port(&events);
    let payload = common::pattern(150_000, 3);
    assert_eq!(common::echo_through(port, &payload).len(), payload.len());
    let want = payload.len() as f64;

    wait_for("server bytes", || {
        let text = server.metrics().unwrap();
        let ok = sample(
            &text,
            r#"zlt_server_bytes_total{service="echo",direction="in"}"#,
        ) == Some(want)
            && sample(
                &text,
                r#"zlt_server_bytes_total{service="echo",direction="out"}"#,
            ) == Some(want);
        (ok, text)
    });
    wait_for("agent bytes", || {
        let text = agent.metrics().unwrap();
        let ok = sample(
            &text,
            r#"zlt_agent_bytes_total{service="echo",direction="in"}"#,
        ) == Some(want)
            && sample(
                &text,
                r#"zlt_agent_bytes_total{service="echo",direction="out"}"#,
            ) == Some(want);
        (ok, text)
    });
    let text = agent.metrics().unwrap();
    assert_eq!(sample(&text, "zlt_agent_connected"), Some(1.0), "{text}");
    assert!(
        text.contains("# TYPE zlt_agent_bytes_total counter"),
        "{text}"
    );
    let server_text = server.metrics().unwrap();
    assert_eq!(
        sample(&server_text, "zlt_server_tunnels"),
        Some(1.0),
        "{server_text}"
    );
    assert!(
        server_text.contains("zlt_build_info{version=\""),
        "{server_text}"
    );
}
