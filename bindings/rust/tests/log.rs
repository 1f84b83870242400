//! The process-wide log handler (a test binary of its own, as the handler is process-wide).

mod common;

use std::sync::{Arc, Mutex};

use zlayer_tunnel::{LogLevel, Runtime, Server};

#[test]
fn records_reach_the_handler_and_panics_stay_inside() {
    zlayer_tunnel::set_log_level("info").unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    zlayer_tunnel::set_log_handler(move |r| {
        record
            .lock()
            .unwrap()
            .push((r.level, r.component.to_owned(), r.message.to_owned()));
    })
    .unwrap();

    // No tokens: the server warns that every agent will be refused.
    let rt = Runtime::new().unwrap();
    drop(Server::new(&rt, r#"{"listen":"127.0.0.1:0"}"#).unwrap());
    let warned = seen
        .lock()
        .unwrap()
        .iter()
        .any(|(level, component, message)| {
            *level == LogLevel::Warn
                && component == "server"
                && message.contains("no tokens configured")
        });
    assert!(warned, "{:?}", seen.lock().unwrap());

    // A panicking handler loses the record, nothing more.
    common::hide_deliberate_panics();
    zlayer_tunnel::set_log_handler(|_| panic!("deliberate panic in a log handler")).unwrap();
    drop(Server::new(&rt, r#"{"listen":"127.0.0.1:0"}"#).unwrap());

    zlayer_tunnel::clear_log_handler().unwrap();
    let before = seen.lock().unwrap().len();
    zlayer_tunnel::set_log_level("off").unwrap();
    drop(Server::new(&rt, r#"{"listen":"127.0.0.1:0"}"#).unwrap());
    assert_eq!(seen.lock().unwrap().len(), before);
}
