//! Bad configurations and arguments: the error's code and the library's message, which names
//! the field.

mod common;

use zlayer_tunnel::{Agent, ErrorCode, Runtime, Server};

fn server_error(rt: &Runtime, config: &str) -> zlayer_tunnel::Error {
    Server::new(rt, config).expect_err(config)
}

fn agent_error(rt: &Runtime, config: &str) -> zlayer_tunnel::Error {
    Agent::new(rt, config).expect_err(config)
}

#[test]
fn bad_server_configurations_name_the_field() {
    common::quiet();
    let rt = Runtime::new().unwrap();

    let err = server_error(&rt, "{");
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.message().contains("invalid JSON"), "{err}");

    let err = server_error(&rt, r#"{"listen":5}"#);
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.message().contains("listen"), "{err}");
    assert!(
        err.to_string().starts_with("invalid configuration: "),
        "{err}"
    );

    let err = server_error(&rt, r#"{"bogus":true}"#);
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.message().contains("unknown key 'bogus'"), "{err}");

    let err = server_error(&rt, r#"{"tokens":[{"token":7}]}"#);
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.message().contains("tokens[0]"), "{err}");
}

#[test]
fn bad_agent_configurations_name_the_field() {
    common::quiet();
    let rt = Runtime::new().unwrap();

    let err = agent_error(&rt, "{}");
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.message().contains("server_url"), "{err}");

    let err = agent_error(
        &rt,
        r#"{"server_url":"ws://127.0.0.1:1/tunnel/v1","token":"t",
            "services":[{"name":"a","local_port":"x"}]}"#,
    );
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.message().contains("services[0].local_port"), "{err}");

    let err = agent_error(&rt, r#"{"server_url":"http://x","token":"t"}"#);
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.message().contains("server_url"), "{err}");
}

#[test]
fn listen_errors() {
    common::quiet();
    let rt = Runtime::new().unwrap();
    let server = Server::new(&rt, common::SERVER_CONFIG).unwrap();

    let err = server.listen(Some("127.0.0.1"), 70000).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.message().contains("70000"), "{err}");

    // A port that is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = i32::from(taken.local_addr().unwrap().port());
    let err = server.listen(Some("127.0.0.1"), port).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Connection, "{err}");
    assert!(!err.message().is_empty());

    // The configured address ("127.0.0.1:0": the kernel picks the port).
    let bound = server.listen(None, -1).unwrap();
    assert!(bound > 0);
    std::net::TcpStream::connect(("127.0.0.1", bound)).expect("the listener accepts");

    server.stop().unwrap();
    server.stop().unwrap(); // idempotent
    let err = server.listen(Some("127.0.0.1"), 0).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Shutdown, "{err}");
}

#[test]
fn accept_after_stop_closes_the_stream() {
    common::quiet();
    let rt = Runtime::new().unwrap();
    let server = Server::new(&rt, common::SERVER_CONFIG).unwrap();
    server.stop().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ours.set_read_timeout(Some(common::TIMEOUT)).unwrap();
    let (theirs, _) = listener.accept().unwrap();
    let err = server.accept(theirs).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Shutdown, "{err}");
    // The library closed the stream it was given, even though it refused it.
    assert!(common::closed_by_peer(&mut ours));
}
