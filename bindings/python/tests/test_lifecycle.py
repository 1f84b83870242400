"""Closing, idempotence, the finalizer safety net, and no thread left behind."""

from __future__ import annotations

import gc
import hashlib
import os
import subprocess
import sys
import textwrap
import threading
import unittest
import weakref
from typing import Any

import zlayer_tunnel as zt
from tunnel_support import (
    EchoServer,
    Events,
    agent_config,
    echo_through,
    server_config,
    task_count,
    wait_until,
)


def run_tunnel(payload: bytes) -> bytes:
    """A whole tunnel, from creating the runtime to closing it."""
    echo = EchoServer()
    try:
        with zt.Runtime() as rt:
            server = zt.TunnelServer(rt, server_config())
            control_port = server.listen("127.0.0.1", 0)
            agent = zt.TunnelAgent(rt, agent_config(control_port, echo.port))

            def hook(event: dict[str, Any]) -> None:
                # What logging does for every record; it must not leave a dummy thread behind.
                threading.current_thread()

            events = Events(hook)
            agent.on_event(events)
            agent.start()
            registered = events.wait("service_registered")
            assert registered is not None, events.names()
            return echo_through(registered["public_port"], payload)
            # Closing the runtime closes the agent and the server.
    finally:
        echo.close()


class ThreadsTest(unittest.TestCase):
    def test_no_thread_left_behind(self) -> None:
        python_threads = set(threading.enumerate())
        # Process-wide helpers started on first use (e.g. a resolver thread pool) may outlive
        # a runtime by design; one complete run first leaves only what a runtime owns to count.
        at_start = task_count()
        run_tunnel(b"warm-up")
        # The warm-up's loop thread is joined, but the kernel may list it a moment longer; a
        # helper that stays by design keeps the count up, and the wait just ends.
        wait_until(lambda: task_count() <= at_start, timeout=2)
        tasks = task_count()

        payload = os.urandom(256 * 1024)
        back = run_tunnel(payload)
        self.assertEqual(hashlib.sha256(back).digest(), hashlib.sha256(payload).digest())

        self.assertEqual(set(threading.enumerate()), python_threads)
        # Callbacks ran on the loop thread; no stand-in for it may stay registered.
        self.assertEqual([t.name for t in threading.enumerate() if t.name.startswith("Dummy-")], [])
        # The kernel may still be reaping a thread that Python has already joined.
        self.assertTrue(
            wait_until(lambda: task_count() == tasks, timeout=5),
            f"{task_count()} threads, {tasks} before",
        )

    def test_runtime_thread_is_joined_by_close(self) -> None:
        before = task_count()
        rt = zt.Runtime()
        self.assertEqual(task_count(), before + 1)
        rt.close()
        self.assertTrue(wait_until(lambda: task_count() == before, timeout=5))


class CloseTest(unittest.TestCase):
    def test_close_is_idempotent(self) -> None:
        rt = zt.Runtime()
        server = zt.TunnelServer(rt, server_config())
        agent = zt.TunnelAgent(rt, agent_config(1, None))
        agent.close()
        agent.close()
        server.close()
        server.close()
        rt.close()
        rt.close()
        self.assertTrue(rt.closed and server.closed and agent.closed)

    def test_calls_after_close_raise(self) -> None:
        with zt.Runtime() as rt:
            server = zt.TunnelServer(rt, server_config())
            server.close()
            for call in (server.status, server.stop, lambda: server.listen("127.0.0.1", 0),
                         lambda: server.on_event(print), lambda: server.set_token_validator(None)):
                with self.assertRaises(zt.ShutdownError):
                    call()
        with self.assertRaises(zt.ShutdownError):
            zt.TunnelServer(rt, server_config())
        with self.assertRaises(zt.ShutdownError):
            zt.TunnelAgent(rt, agent_config(1, None))

    def test_closing_the_runtime_closes_its_objects(self) -> None:
        rt = zt.Runtime()
        server = zt.TunnelServer(rt, server_config())
        port = server.listen("127.0.0.1", 0)
        agent = zt.TunnelAgent(rt, agent_config(port, None))
        events = Events()
        agent.on_event(events)
        agent.start()
        self.assertIsNotNone(events.wait("authenticated"))
        rt.close()
        self.assertTrue(agent.closed)
        self.assertTrue(server.closed)
        seen = len(events.names())
        with self.assertRaises(zt.ShutdownError):
            agent.status()
        self.assertEqual(len(events.names()), seen)  # no callback after close

    def test_context_managers(self) -> None:
        with zt.Runtime() as rt:
            with zt.TunnelServer(rt, server_config()) as server:
                self.assertGreater(server.listen("127.0.0.1", 0), 0)
            self.assertTrue(server.closed)
            with zt.TunnelAgent(rt, agent_config(1, None)) as agent:
                self.assertEqual(agent.status()["state"], "disconnected")
            self.assertTrue(agent.closed)
        self.assertTrue(rt.closed)


class FinalizerTest(unittest.TestCase):
    def test_forgotten_objects_are_released(self) -> None:
        before = task_count()
        rt = zt.Runtime()
        server = zt.TunnelServer(rt, server_config())
        port = server.listen("127.0.0.1", 0)
        agent = zt.TunnelAgent(rt, agent_config(port, None))
        events = Events()
        agent.on_event(events)
        agent.start()
        self.assertIsNotNone(events.wait("authenticated"))
        del rt, server, agent
        gc.collect()
        self.assertTrue(wait_until(lambda: task_count() == before, timeout=5))

    def test_reference_cycles_through_callbacks(self) -> None:
        # A handler that holds its own agent makes a cycle only the collector can free.
        before = task_count()
        rt = zt.Runtime()
        server = zt.TunnelServer(rt, server_config())
        port = server.listen("127.0.0.1", 0)
        agent = zt.TunnelAgent(rt, agent_config(port, None))
        authenticated = threading.Event()
        states: list[str] = []

        def handler(event: dict[str, Any], agent: zt.TunnelAgent = agent) -> None:
            states.append(agent.status()["state"])
            if event["event"] == "authenticated":
                authenticated.set()

        agent.on_event(handler)
        agent.start()
        self.assertTrue(authenticated.wait(10))
        server.close()
        del rt, server, agent, handler
        self.assertTrue(wait_until(lambda: gc.collect() >= 0 and task_count() == before, 5))
        self.assertIn("connected", states)

    def test_collected_inside_a_callback(self) -> None:
        # A collection on the loop thread finalizes garbage there; its release must wait
        # until no callback is running (here: until the runtime closes).
        rt = zt.Runtime()
        server = zt.TunnelServer(rt, server_config())
        port = server.listen("127.0.0.1", 0)
        agent = zt.TunnelAgent(rt, agent_config(port, None))
        garbage: list[weakref.ref[zt.TunnelAgent]] = []

        def hook(event: dict[str, Any]) -> None:
            if event["event"] != "authenticated":
                return
            doomed = zt.TunnelAgent(rt, agent_config(port, None))
            doomed.on_event(lambda e, keep=doomed: None)  # a cycle through its handler
            garbage.append(weakref.ref(doomed))
            del doomed
            gc.collect()

        events = Events(hook)
        agent.on_event(events)
        agent.start()
        self.assertIsNotNone(events.wait("authenticated"))
        self.assertEqual(len(garbage), 1)
        rt.close()
        gc.collect()
        self.assertIsNone(garbage[0]())


class InterpreterExitTest(unittest.TestCase):
    def test_exit_with_objects_left_open(self) -> None:
        script = textwrap.dedent(
            f"""
            import sys, threading
            sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
            import zlayer_tunnel as zt
            from tunnel_support import Events, agent_config, server_config

            rt = zt.Runtime()
            server = zt.TunnelServer(rt, server_config())
            port = server.listen("127.0.0.1", 0)
            agent = zt.TunnelAgent(rt, agent_config(port, None))
            events = Events(lambda e: threading.current_thread())
            agent.on_event(events)
            server.on_event(events)
            agent.start()
            assert events.wait("authenticated") is not None
            print("leaving without closing anything", flush=True)
            """
        )
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("leaving without closing anything", out.stdout)
        self.assertEqual(out.stderr, "")


if __name__ == "__main__":
    unittest.main()
