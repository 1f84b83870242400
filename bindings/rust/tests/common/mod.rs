//! What the integration tests share: a loopback echo service, event collection through
//! channels, and configurations. Only 127.0.0.1 and kernel-chosen ports are used.
#![allow(dead_code)] // each test file uses a different part

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use zlayer_tunnel::{Agent, Event, Runtime, Server};

pub const TOKEN: &str = "s3cret";
pub const SERVER_CONFIG: &str = r#"{"listen":"127.0.0.1:0","public_bind":"127.0.0.1","data_port_range":[0,0],"tokens":[{"token":"s3cret"}]}"#;
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The library's records (refused agents are warnings) would bury the test output.
pub fn quiet() {
    // ZLT_LOG_LEVEL=debug (or info, ...) shows the library's logs while debugging a test.
    let level = std::env::var("ZLT_LOG_LEVEL").unwrap_or_else(|_| "error".to_string());
    zlayer_tunnel::set_log_level(&level).expect("set_log_level");
}

/// Keeps the panics the tests cause on purpose (their message starts with "deliberate panic")
/// from printing a backtrace; the binding's own one-line report still shows.
pub fn hide_deliberate_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            if !message.starts_with("deliberate panic") {
                default(info);
            }
        }));
    });
}

/// An agent configuration with one "echo" service (when `local_port` is given) and quick
/// reconnects.
pub fn agent_config(control_port: u16, local_port: Option<u16>, token: &str) -> String {
    let services = match local_port {
        Some(p) => format!(r#"[{{"name":"echo","local_port":{p}}}]"#),
        None => "[]".to_owned(),
    };
    format!(
        r#"{{"server_url":"ws://127.0.0.1:{control_port}/tunnel/v1","token":{},
            "reconnect_interval":"100ms","max_reconnect_interval":"1s","services":{services}}}"#,
        zlayer_tunnel::json::quote(token)
    )
}

/// A local TCP service that echoes every connection until end-of-file.
pub struct Echo {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Echo {
    pub fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo service");
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        // Detached: the listener lives as long as the test process.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut reader = stream.try_clone().expect("clone echo stream");
                    let _ = std::io::copy(&mut reader, &mut stream);
                    let _ = stream.shutdown(Shutdown::Write);
                });
            }
        });
        Echo { port, accepted }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Events received on the loop thread, read by the test thread.
pub struct Events {
    rx: Receiver<Event>,
}

/// A handler that forwards every event to the returned `Events`.
pub fn events() -> (impl FnMut(&Event) + Send + 'static, Events) {
    let (tx, rx): (Sender<Event>, _) = mpsc::channel();
    (move |ev: &Event| drop(tx.send(ev.clone())), Events { rx })
}

impl Events {
    /// The next event that satisfies `pred` (earlier ones are skipped), or None after TIMEOUT.
    pub fn wait_for(&self, mut pred: impl FnMut(&Event) -> bool) -> Option<Event> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.rx.recv_timeout(left) {
                Ok(ev) if pred(&ev) => return Some(ev),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// The next event named `name`; panics after TIMEOUT.
    pub fn wait(&self, name: &str) -> Event {
        self.wait_for(|ev| ev.name() == name)
            .unwrap_or_else(|| panic!("no {name:?} event within {TIMEOUT:?}"))
    }

    /// Whatever has arrived so far, without waiting.
    pub fn drain(&self) -> Vec<Event> {
        self.rx.try_iter().collect()
    }
}

/// The public port from an agent's service_registered event.
pub fn public_port(events: &Events) -> u16 {
    let ev = events.wait("service_registered");
    ev.get("public_port")
        .and_then(|p| p.as_u64())
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or_else(|| panic!("no public_port in {}", ev.json()))
}

/// A server on `rt` listening on 127.0.0.1 (kernel-chosen port), reporting to `Events`.
pub fn start_server(rt: &Runtime) -> (Server, u16, Events) {
    let mut server = Server::new(rt, SERVER_CONFIG).expect("Server::new");
    let (handler, events) = events();
    server.on_event(handler).expect("on_event");
    let port = server.listen(Some("127.0.0.1"), 0).expect("listen");
    assert!(port > 0);
    (server, port, events)
}

/// An agent exposing `echo` through `control_port`, started, with its events.
pub fn start_agent(rt: &Runtime, control_port: u16, echo: &Echo) -> (Agent, Events) {
    let mut agent =
        Agent::new(rt, &agent_config(control_port, Some(echo.port), TOKEN)).expect("Agent::new");
    let (handler, events) = events();
    agent.on_event(handler).expect("on_event");
    agent.start().expect("start");
    (agent, events)
}

pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the public port");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// Sends `payload` through the public port and returns what came back. Writing and reading
/// run at once, so a payload larger than every buffer on the way cannot stall.
pub fn echo_through(port: u16, payload: &[u8]) -> Vec<u8> {
    let mut stream = connect(port);
    let mut writer = stream.try_clone().unwrap();
    let out = payload.to_vec();
    let sender = std::thread::spawn(move || writer.write_all(&out));
    let mut back = vec![0u8; payload.len()];
    stream.read_exact(&mut back).expect("read the echo back");
    sender.join().unwrap().expect("write the payload");
    back
}

/// Whether the peer closed `stream` (end-of-file or reset) within TIMEOUT.
pub fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                return matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe);
            }
        }
    }
}

/// Deterministic bytes that are not a short repeating pattern.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn digest(bytes: &[u8]) -> u64 {
    use std::hash::{DefaultHasher, Hasher};
    let mut h = DefaultHasher::new();
    h.write(bytes);
    h.finish()
}
