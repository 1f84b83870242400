//! On-demand access from Rust: the server grants access to an internal echo service that an
//! agent exposes, and an `Access` reaches it through a local port with the granted token.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::{Echo, Events, TOKEN};
use zlayer_tunnel::{Access, Agent, ErrorCode, Runtime, Server, SessionRequest};

/// An agent exposing `echo` as the internal service "echo", registered.
fn expose_internal_echo(rt: &Runtime, control_port: u16, echo: &Echo) -> (Agent, Events) {
    let config = format!(
        r#"{{"server_url":"ws://127.0.0.1:{control_port}/tunnel/v1","token":"{TOKEN}",
            "reconnect_interval":"100ms",
            "services":[{{"name":"echo","local_port":{},"internal":true}}]}}"#,
        echo.port
    );
    let mut agent = Agent::new(rt, &config).expect("Agent::new");
    let (handler, events) = common::events();
    agent.on_event(handler).unwrap();
    agent.start().unwrap();
    let registered = events.wait("service_registered");
    assert!(
        registered
            .get("public_port")
            .is_none_or(|p| p.is_null() || p.as_u64() == Some(0)),
        "an internal service got a public port: {}",
        registered.json()
    );
    (agent, events)
}

fn access(rt: &Runtime, control_port: u16, token: &str, extra: &str) -> (Access, Events) {
    let config = format!(
        r#"{{"server_url":"ws://127.0.0.1:{control_port}/tunnel/v1","token":{},
            "reconnect_interval":"100ms"{extra}}}"#,
        zlayer_tunnel::json::quote(token)
    );
    let mut access = Access::new(rt, &config).expect("Access::new");
    let (handler, events) = common::events();
    access.on_event(handler).unwrap();
    (access, events)
}

#[test]
fn granted_token_reaches_an_internal_service_until_revoked() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (server, control_port, _server_events) = common::start_server(&rt);
    let (_agent, _agent_events) = expose_internal_echo(&rt, control_port, &echo);

    let grant = server
        .grant_access(&["service:echo"], Duration::from_secs(600), Some("alice"))
        .unwrap();
    assert_eq!(grant.name, "alice");
    assert_eq!(grant.targets, ["service:echo"]);
    let token = grant.token.clone().expect("the token is returned once");
    assert!(token.starts_with("tun_"), "{grant:?}");
    let listed = server.list_grants().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].grant_id, grant.grant_id);
    assert_eq!(listed[0].token, None);

    let (access, events) = access(&rt, control_port, &token, "");
    let session = access
        .start_session(&SessionRequest::new("service:echo").ttl(Duration::from_secs(600)))
        .unwrap();
    assert!(session.local_port > 0, "{session:?}");
    assert_eq!(
        session.local_addr,
        format!("127.0.0.1:{}", session.local_port)
    );
    assert!(session.expires_at.is_some());
    events.wait("authenticated");

    assert_eq!(
        common::echo_through(session.local_port, b"hello from Rust"),
        b"hello from Rust"
    );
    let payload = common::pattern(300_000, 5);
    assert_eq!(
        common::digest(&common::echo_through(session.local_port, &payload)),
        common::digest(&payload)
    );
    assert!(echo.accepted() >= 2);
    let sessions = access.sessions().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id, session.id);
    assert!(sessions[0].connections_total >= 2, "{sessions:?}");

    // A connection open while the grant is revoked is closed with the session.
    let mut held = common::connect(session.local_port);
    held.write_all(b"ping").unwrap();
    let mut back = [0u8; 4];
    held.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");

    server.revoke_access(&grant.grant_id).unwrap();
    let fatal = events.wait("fatal");
    assert!(
        fatal.get_str("reason").unwrap_or("").contains("revoked"),
        "{}",
        fatal.json()
    );
    assert!(common::closed_by_peer(&mut held));
    assert!(access.sessions().unwrap().is_empty());
    let err = access
        .start_session(&SessionRequest::new("service:echo"))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Shutdown, "{err}");
    assert_eq!(
        server.revoke_access(&grant.grant_id).unwrap_err().code(),
        ErrorCode::NotFound
    );
    assert!(server.list_grants().unwrap().is_empty());
}

#[test]
fn stop_session_and_expiry() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (server, control_port, _server_events) = common::start_server(&rt);
    let (_agent, _agent_events) = expose_internal_echo(&rt, control_port, &echo);
    let grant = server
        .grant_access(&["service:*"], Duration::from_secs(600), None)
        .unwrap();
    let (access, events) = access(
        &rt,
        control_port,
        grant.token.as_deref().unwrap(),
        r#","default_ttl":"1h""#,
    );
    let kept = access
        .start_session(&SessionRequest::new("service:echo"))
        .unwrap();
    assert!(kept.expires_at.is_some(), "the default TTL applies");
    let brief = access
        .start_session(&SessionRequest::new("service:echo").ttl(Duration::from_millis(200)))
        .unwrap();
    let expired = events.wait("session_expired");
    assert_eq!(
        expired
            .get("session")
            .and_then(|s| s.get("id"))
            .and_then(|i| i.as_str()),
        Some(brief.id.as_str())
    );
    let ids: Vec<String> = access
        .sessions()
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, std::slice::from_ref(&kept.id));

    access.stop_session(&kept.id).unwrap();
    let stopped = events.wait("session_stopped");
    assert_eq!(
        stopped
            .get("session")
            .and_then(|s| s.get("id"))
            .and_then(|i| i.as_str()),
        Some(kept.id.as_str())
    );
    assert!(access.sessions().unwrap().is_empty());
    assert_eq!(
        access.stop_session(&kept.id).unwrap_err().code(),
        ErrorCode::NotFound
    );
}

#[test]
fn errors() {
    common::quiet();
    let rt = Runtime::new().unwrap();
    let server = Server::new(&rt, common::SERVER_CONFIG).unwrap();
    let control_port = server.listen(Some("127.0.0.1"), 0).unwrap();

    let err = server
        .grant_access(&["service:echo"], Duration::ZERO, None)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.message().contains("ttl"), "{err}");
    let err = server
        .grant_access(&["nonsense"], Duration::from_secs(60), None)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.message().contains("targets[0]"), "{err}");
    assert_eq!(
        server
            .grant_access(&[], Duration::from_secs(60), None)
            .unwrap_err()
            .code(),
        ErrorCode::Config
    );
    assert_eq!(
        server.revoke_access("not-a-uuid").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        server
            .revoke_access("00000000-0000-4000-8000-000000000000")
            .unwrap_err()
            .code(),
        ErrorCode::NotFound
    );

    let url = format!("ws://127.0.0.1:{control_port}/tunnel/v1");
    let err = Access::new(&rt, &format!(r#"{{"server_url":"{url}"}}"#)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.message().contains("token"), "{err}");
    let err = Access::new(
        &rt,
        &format!(
            r#"{{"server_url":"{url}","token":"t","services":[{{"name":"a","local_port":1}}]}}"#
        ),
    )
    .unwrap_err();
    assert!(err.message().contains("services"), "{err}");
    let err = Access::new(
        &rt,
        &format!(r#"{{"server_url":"{url}","token":"t","default_ttl":"0s"}}"#),
    )
    .unwrap_err();
    assert!(err.message().contains("default_ttl"), "{err}");

    let (access, _events) = access(&rt, control_port, "tun_unknown", "");
    let err = access
        .start_session(&SessionRequest::new("service:echo").ttl(Duration::ZERO))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.message().contains("ttl must be > 0"), "{err}");
    let err = access
        .start_session(&SessionRequest::new("nonsense"))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.message().contains("invalid target"), "{err}");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    assert_eq!(
        access
            .start_session(&SessionRequest::new("service:echo").local_port(port))
            .unwrap_err()
            .code(),
        ErrorCode::Connection
    );
    assert_eq!(
        access.stop_session("x").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert!(access.sessions().unwrap().is_empty());
}
