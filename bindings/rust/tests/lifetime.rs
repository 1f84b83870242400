//! Drop order: runtimes, servers and agents dropped in any order, from any thread, and inside
//! their own callbacks.

mod common;

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};

use common::{Echo, TIMEOUT};
use zlayer_tunnel::{Agent, Runtime};

/// Sends a message when dropped: shows when the binding frees a closure.
struct DropProbe(Sender<String>, &'static str);

impl Drop for DropProbe {
    fn drop(&mut self) {
        let _ = self.0.send(self.1.to_owned());
    }
}

#[test]
fn the_runtime_handle_may_go_first() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (server, control_port, server_events) = common::start_server(&rt);
    let (agent, events) = common::start_agent(&rt, control_port, &echo);
    drop(rt); // the server and the agent keep the loop running
    let port = common::public_port(&events);
    assert_eq!(
        common::echo_through(port, b"no runtime handle"),
        b"no runtime handle"
    );

    drop(server); // the agent notices the server going away
    events.wait("disconnected");
    server_events.drain();
    drop(agent); // last handle: the loop thread stops here
}

#[test]
fn closures_are_freed_with_their_object() {
    common::quiet();
    let rt = Runtime::new().unwrap();
    let (tx, rx) = mpsc::channel();
    let mut server = zlayer_tunnel::Server::new(&rt, common::SERVER_CONFIG).unwrap();
    let first = DropProbe(tx.clone(), "first");
    server
        .on_event(move |_| {
            let _ = &first;
        })
        .unwrap();
    let second = DropProbe(tx.clone(), "second");
    server
        .on_event(move |_| {
            let _ = &second;
        })
        .unwrap(); // replaces: the first is freed now
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "first");
    let third = DropProbe(tx, "validator");
    server
        .set_token_validator(move |_, _| {
            let _ = &third;
            zlayer_tunnel::Verdict::Accept
        })
        .unwrap();
    assert!(rx.try_recv().is_err());
    drop(server);
    let mut rest: Vec<_> = rx.iter().take(2).collect();
    rest.sort();
    assert_eq!(rest, ["second", "validator"]);
}

#[test]
fn an_agent_dropped_inside_its_own_handler() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (_server, control_port, server_events) = common::start_server(&rt);
    let slot: Arc<Mutex<Option<Agent>>> = Arc::new(Mutex::new(None));
    let mut agent = Agent::new(
        &rt,
        &common::agent_config(control_port, Some(echo.port), common::TOKEN),
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    {
        let slot = slot.clone();
        let probe = DropProbe(tx.clone(), "handler freed");
        agent
            .on_event(move |ev| {
                let _ = probe.0.send("event".to_owned());
                if ev.name() == "service_registered" {
                    let own = slot.lock().unwrap().take();
                    drop(own); // frees this very agent, and this closure, from inside it
                    // Still running, and the closure's state is still there.
                    let _ = probe.0.send("after drop".to_owned());
                }
            })
            .unwrap();
    }
    // Stored before it starts, so the handler always finds it. Holding the lock across start()
    // is fine: the handler takes it only for a later, asynchronous event.
    let mut stored = slot.lock().unwrap();
    stored.insert(agent).start().unwrap();
    drop(stored);
    drop(slot); // the closure holds the only other reference

    loop {
        match rx
            .recv_timeout(TIMEOUT)
            .expect("handler stopped early")
            .as_str()
        {
            "event" => {}
            "after drop" => break,
            other => panic!("unexpected {other}"),
        }
    }
    // The closure went only once it had returned, and nothing was reported after that.
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "handler freed");
    server_events.wait("tunnel_disconnected");
    drop(tx);
    assert!(rx.recv().is_err());
}

#[test]
fn the_last_handle_dropped_inside_a_callback() {
    common::quiet();
    let echo = Echo::start();
    let server_rt = Runtime::new().unwrap();
    let (_server, control_port, server_events) = common::start_server(&server_rt);

    // The agent's runtime has no other handle: dropping the agent inside its own callback
    // must free the runtime too, although the loop thread cannot join itself.
    let agent_rt = Runtime::new().unwrap();
    let slot: Arc<Mutex<Option<Agent>>> = Arc::new(Mutex::new(None));
    let mut agent = Agent::new(
        &agent_rt,
        &common::agent_config(control_port, Some(echo.port), common::TOKEN),
    )
    .unwrap();
    drop(agent_rt);
    let (tx, rx) = mpsc::channel();
    {
        let slot = slot.clone();
        agent
            .on_event(move |ev| {
                if ev.name() == "service_registered" {
                    drop(slot.lock().unwrap().take());
                    let _ = tx.send("dropped");
                }
            })
            .unwrap();
    }
    let mut stored = slot.lock().unwrap();
    stored.insert(agent).start().unwrap();
    drop(stored);
    drop(slot);
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "dropped");
    server_events.wait("tunnel_disconnected");
}

#[test]
fn a_handler_replaced_from_inside_itself() {
    common::quiet();
    let rt = Runtime::new().unwrap();
    let (server, control_port, _server_events) = common::start_server(&rt);
    let agent = Arc::new(Mutex::new(
        Agent::new(
            &rt,
            &common::agent_config(control_port, None, common::TOKEN),
        )
        .unwrap(),
    ));
    let (tx, rx) = mpsc::channel::<String>();
    let weak = Arc::downgrade(&agent);
    let old_tx = tx.clone();
    let probe = DropProbe(tx.clone(), "old:freed");
    agent
        .lock()
        .unwrap()
        .on_event(move |ev| {
            match ev.name() {
                "authenticated" => drop(old_tx.send("old:authenticated".to_owned())),
                // Reported while the test thread waits without holding the lock (the server
                // went away), so taking it here cannot deadlock.
                "disconnected" => {
                    let Some(agent) = weak.upgrade() else { return };
                    let new_tx = old_tx.clone();
                    agent
                        .lock()
                        .unwrap()
                        .on_event(move |ev| drop(new_tx.send(format!("new:{}", ev.name()))))
                        .unwrap();
                    // The old closure (this one) is intact until it returns.
                    let _ = probe.0.send("old:replaced".to_owned());
                }
                _ => {}
            }
        })
        .unwrap();
    agent.lock().unwrap().start().unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "old:authenticated");
    server.stop().unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "old:replaced");
    // Freed once it had returned, and later events go to the new handler.
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), "old:freed");
    let next = rx.recv_timeout(TIMEOUT).unwrap();
    assert!(next.starts_with("new:"), "{next}");
}

#[test]
fn many_objects_dropped_in_mixed_order_from_several_threads() {
    common::quiet();
    let echo = Echo::start();
    let rt = Runtime::new().unwrap();
    let (mut server, control_port, _server_events) = common::start_server(&rt);
    // One tunnel per token and one service per name: each agent has its own of both.
    server
        .set_token_validator(|_, _| zlayer_tunnel::Verdict::Accept)
        .unwrap();
    let mut agents = Vec::new();
    for i in 0..4 {
        let config = common::agent_config(control_port, Some(echo.port), &format!("agent-{i}"))
            .replace(r#""name":"echo""#, &format!(r#""name":"echo-{i}""#));
        let mut agent = Agent::new(&rt, &config).unwrap();
        let (handler, events) = common::events();
        agent.on_event(handler).unwrap();
        agent.start().unwrap();
        agents.push((agent, events));
    }
    for (_, events) in &agents {
        let port = common::public_port(events);
        assert_eq!(common::echo_through(port, b"up"), b"up");
    }
    let server = Arc::new(server);
    std::thread::scope(|s| {
        for (i, (agent, _)) in agents.into_iter().enumerate() {
            let server = server.clone();
            s.spawn(move || {
                if i % 2 == 0 {
                    drop(agent);
                    drop(server);
                } else {
                    drop(server);
                    drop(agent);
                }
            });
        }
    });
    drop(rt);
    drop(server);
}
