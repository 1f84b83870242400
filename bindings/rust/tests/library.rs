//! What needs no runtime: version, tokens, log level, errors.

use zlayer_tunnel::{Agent, Error, ErrorCode, Runtime, Server, sys};

#[test]
fn version_matches_the_header() {
    assert_eq!(zlayer_tunnel::version(), sys::ZLT_VERSION_STRING);
    assert_eq!(
        zlayer_tunnel::version(),
        format!(
            "{}.{}.{}",
            sys::ZLT_VERSION_MAJOR,
            sys::ZLT_VERSION_MINOR,
            sys::ZLT_VERSION_PATCH
        )
    );
    assert_eq!(sys::ZLT_VERSION_NUMBER, 0x00_03_00);
}

#[test]
fn hash_token_vector() {
    assert_eq!(
        zlayer_tunnel::hash_token("test").unwrap(),
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
    // The empty token is a token like any other.
    assert_eq!(
        zlayer_tunnel::hash_token("").unwrap(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn new_tokens_are_random() {
    let a = zlayer_tunnel::new_token().unwrap();
    let b = zlayer_tunnel::new_token().unwrap();
    for t in [&a, &b] {
        assert!(t.starts_with("tun_"), "{t}");
        assert_eq!(t.len(), 36, "{t}");
        assert!(t[4..].bytes().all(|c| c.is_ascii_hexdigit()), "{t}");
    }
    assert_ne!(a, b);
}

#[test]
fn log_level_names() {
    for level in ["trace", "debug", "info", "warn", "error", "off"] {
        zlayer_tunnel::set_log_level(level).unwrap();
    }
    zlayer_tunnel::set_log_level("error").unwrap();
    let err = zlayer_tunnel::set_log_level("chatty").unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.message().contains("unknown level 'chatty'"), "{err}");
}

#[test]
fn errors_carry_the_library_text() {
    let err = zlayer_tunnel::set_log_level("loud").unwrap_err();
    let shown = err.to_string();
    // "<description of the code>: <the library's message>"
    assert!(shown.starts_with("invalid argument: "), "{shown}");
    assert!(shown.contains("zlt_set_log_level"), "{shown}");
    assert!(shown.contains("'loud'"), "{shown}");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err.clone());
    assert_eq!(boxed.to_string(), shown);
    assert_eq!(
        Error::new(ErrorCode::Timeout, "").to_string(),
        "operation timed out"
    );
}

#[test]
fn nul_bytes_are_refused_before_reaching_the_library() {
    let err = zlayer_tunnel::hash_token("ab\0cd").unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert_eq!(err.message(), "token contains a NUL byte at offset 2");
    let rt = Runtime::new().unwrap();
    let err = Server::new(&rt, "{\0}").unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.message().starts_with("config_json"), "{err}");
    let server = Server::new(&rt, r#"{"listen":"127.0.0.1:0","tokens":[{"token":"t"}]}"#).unwrap();
    assert_eq!(
        server.listen(Some("127.0.0.1\0"), 0).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn every_code_round_trips() {
    let mut seen = Vec::new();
    for raw in -15..=-1 {
        let code = ErrorCode::from_raw(raw);
        assert!(!matches!(code, ErrorCode::Other(_)), "{raw}");
        assert_eq!(code.as_raw(), raw);
        assert_ne!(code.description(), "unknown error", "{raw}");
        assert!(!seen.contains(&code.description()), "{raw}");
        seen.push(code.description());
    }
    assert_eq!(ErrorCode::from_raw(-5), ErrorCode::Config);
    assert_eq!(ErrorCode::from_raw(-99), ErrorCode::Other(-99));
    assert_eq!(ErrorCode::Other(-99).description(), "unknown error");
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Runtime>();
    check::<Server>();
    check::<Agent>();
    check::<Error>();
}
