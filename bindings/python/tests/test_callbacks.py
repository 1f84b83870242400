"""Python callbacks on the loop thread: token validator, connection filter, event handlers,
and what happens when they misbehave."""

from __future__ import annotations

import re
import threading
import unittest
from typing import Any

import zlayer_tunnel as zt
from tunnel_support import (
    Events,
    TunnelTestCase,
    catch_logs,
    connect,
    echo_through,
    wait_closed,
)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class TokenValidatorTest(TunnelTestCase):
    def test_accepts_with_a_grant(self) -> None:
        echo = self.echo_server()
        seen: list[tuple[str, str]] = []

        def validator(token: str, token_hash: str) -> dict[str, Any]:
            seen.append((token, token_hash))
            return {"name": "from-python", "allowed_ports": [1024, 65535]}

        self.server.set_token_validator(validator)
        # Unknown to the configured list: only the validator admits it.
        agent, events = self.new_agent(echo.port, token="python-token")
        agent.start()
        port = self.public_port(events)
        self.assertEqual(echo_through(port, b"validated"), b"validated")
        self.assertEqual(seen, [("python-token", zt.hash_token("python-token"))])
        connected = self.server_events.wait("tunnel_connected")
        assert connected is not None
        self.assertEqual(connected["name"], "from-python")

    def test_refuses_with_a_reason(self) -> None:
        self.server.set_token_validator(lambda token, token_hash: "go away, said Python")
        agent, events = self.new_agent(None)
        agent.start()
        failed = events.wait("auth_failed")
        self.assertIsNotNone(failed, f"saw {events.names()}")
        assert failed is not None
        self.assertIn("go away, said Python", failed["reason"])

        # Without the validator the configured token list applies again.
        self.server.set_token_validator(None)
        self.assertIsNotNone(events.wait("authenticated"))

    def test_false_refuses_with_the_generic_reason(self) -> None:
        self.server.set_token_validator(lambda token, token_hash: False)
        agent, events = self.new_agent(None)
        agent.start()
        failed = events.wait("auth_failed")
        assert failed is not None
        self.assertIn("invalid tunnel token", failed["reason"])

    def test_an_exception_refuses_and_is_logged(self) -> None:
        def validator(token: str, token_hash: str) -> bool:
            raise RuntimeError("validator exploded")

        self.server.set_token_validator(validator)
        with catch_logs() as logs:
            agent, events = self.new_agent(None)
            agent.start()
            failed = events.wait("auth_failed")
            record = logs.wait_for("exception in the token validator")
        self.assertIsNotNone(failed)
        assert failed is not None and record is not None
        # The agent learns nothing of the host's failure.
        self.assertNotIn("exploded", failed["reason"])
        assert record.exc_info is not None
        self.assertIn("validator exploded", str(record.exc_info[1]))

    def test_an_invalid_grant_refuses(self) -> None:
        self.server.set_token_validator(lambda t, h: {"allowed_ports": [5, "x"]})
        with catch_logs() as logs:
            agent, events = self.new_agent(None)
            agent.start()
            self.assertIsNotNone(events.wait("auth_failed"))
            record = logs.wait_for("invalid grant")
        assert record is not None
        self.assertIn("grant.allowed_ports", record.getMessage())

    def test_cannot_be_removed_from_inside_itself(self) -> None:
        outcome: list[BaseException | None] = []

        def validator(token: str, token_hash: str) -> bool:
            try:
                self.server.set_token_validator(None)
                outcome.append(None)
            except zt.TunnelError as e:
                outcome.append(e)
            return True

        self.server.set_token_validator(validator)
        agent, events = self.new_agent(None, token="any")
        agent.start()
        self.assertIsNotNone(events.wait("authenticated"))
        self.assertEqual(len(outcome), 1)
        self.assertIsInstance(outcome[0], zt.InvalidArgumentError)


class ConnectionFilterTest(TunnelTestCase):
    def test_refused_connection_is_closed(self) -> None:
        echo = self.echo_server()
        decisions: list[tuple[str, str, str]] = []
        decided = threading.Event()

        def refuse(service_id: str, connection_id: str, client_addr: str) -> bool:
            decisions.append((service_id, connection_id, client_addr))
            decided.set()
            return False

        agent, events = self.new_agent(echo.port)
        agent.on_connection(refuse)
        agent.start()
        port = self.public_port(events)

        with connect(port) as client:
            client.sendall(b"let me in")
            self.assertTrue(wait_closed(client), "the refused client was not disconnected")
        self.assertTrue(decided.wait(5))
        self.assertEqual(echo.accepted, 0)
        self.assertEqual(len(decisions), 1)
        service_id, connection_id, client_addr = decisions[0]
        self.assertRegex(service_id, UUID)
        self.assertRegex(connection_id, UUID)
        self.assertTrue(client_addr.startswith("127.0.0.1:"), client_addr)
        self.assertEqual(service_id, agent.status()["services"][0]["service_id"])

        # Back to the default: everything is accepted.
        agent.on_connection(None)
        self.assertEqual(echo_through(port, b"now accepted"), b"now accepted")

    def test_an_exception_refuses_and_is_logged(self) -> None:
        echo = self.echo_server()

        def explode(service_id: str, connection_id: str, client_addr: str) -> bool:
            raise ValueError("filter exploded")

        agent, events = self.new_agent(echo.port)
        agent.on_connection(explode)
        agent.start()
        port = self.public_port(events)
        with catch_logs() as logs:
            try:
                with connect(port) as client:
                    client.sendall(b"x")
                    self.assertTrue(wait_closed(client))
            except ConnectionResetError:
                # Refused (and reset) before this thread was back from connect() or sendall().
                pass
            self.assertIsNotNone(logs.wait_for("exception in the connection filter"))
        self.assertEqual(echo.accepted, 0)


class EventHandlerTest(TunnelTestCase):
    def test_an_exception_is_logged_and_the_loop_goes_on(self) -> None:
        echo = self.echo_server()
        events = Events()

        def handler(event: dict[str, Any]) -> None:
            events(event)
            raise RuntimeError(f"handler exploded on {event['event']}")

        with catch_logs() as logs:
            agent, _ = self.new_agent(echo.port, events=Events())
            agent.on_event(handler)
            agent.start()
            port = self.public_port(events)
            record = logs.wait_for("exception in a TunnelAgent event handler")
        assert record is not None and record.exc_info is not None
        self.assertIn("handler exploded", str(record.exc_info[1]))
        # Everything still works: the loop survived every raising handler.
        self.assertEqual(echo_through(port, b"still alive"), b"still alive")
        self.assertEqual(agent.status()["state"], "connected")

    def test_calls_back_into_the_library_from_a_handler(self) -> None:
        echo = self.echo_server()
        inside: dict[str, Any] = {}

        def hook(event: dict[str, Any]) -> None:
            if event["event"] == "service_registered":
                inside["agent"] = agent.status()["state"]
                inside["server"] = self.server.status()["service_count"]
                inside["thread"] = threading.current_thread().name

        agent, events = self.new_agent(echo.port, events=Events(hook))
        agent.start()
        self.public_port(events)
        self.assertEqual(inside["agent"], "connected")
        self.assertEqual(inside["server"], 1)
        # Callbacks do not run on a Python thread of ours.
        self.assertNotEqual(inside["thread"], threading.current_thread().name)

    def test_replacing_and_removing_the_handler(self) -> None:
        first, second = Events(), Events()
        agent, _ = self.new_agent(None, events=first)
        agent.on_event(second)
        agent.start()
        self.assertIsNotNone(second.wait("authenticated"))
        self.assertEqual(first.names(), [])
        agent.on_event(None)
        agent.stop()
        agent.start()
        self.assertIsNotNone(self.server_events.wait("tunnel_connected", count=2))
        self.assertEqual(second.names().count("authenticated"), 1)

    def test_closing_an_agent_from_its_own_handler(self) -> None:
        echo = self.echo_server()
        closed = threading.Event()
        after: list[str] = []

        def hook(event: dict[str, Any]) -> None:
            if closed.is_set():
                after.append(event["event"])
            elif event["event"] == "service_registered":
                agent.close()
                closed.set()

        agent, events = self.new_agent(echo.port, events=Events(hook))
        agent.start()
        self.assertTrue(closed.wait(10))
        self.assertTrue(agent.closed)
        # Destroyed once the handler returned: the server sees the tunnel go.
        self.assertIsNotNone(self.server_events.wait("tunnel_disconnected"))
        self.assertEqual(after, [])
        with self.assertRaises(zt.ShutdownError):
            agent.status()

    def test_runtime_cannot_be_closed_from_its_own_callback(self) -> None:
        outcome: list[BaseException] = []

        def hook(event: dict[str, Any]) -> None:
            if event["event"] == "authenticated":
                try:
                    self.runtime.close()
                except zt.TunnelError as e:
                    outcome.append(e)

        agent, events = self.new_agent(None, events=Events(hook))
        agent.start()
        self.assertIsNotNone(events.wait("authenticated"))
        self.assertEqual(len(outcome), 1)
        self.assertIsInstance(outcome[0], zt.InvalidArgumentError)
        self.assertFalse(self.runtime.closed)
        self.assertEqual(agent.status()["state"], "connected")

    def test_server_events(self) -> None:
        echo = self.echo_server()
        agent, events = self.new_agent(echo.port)
        agent.start()
        port = self.public_port(events)
        registered = self.server_events.wait("service_registered")
        assert registered is not None
        self.assertEqual(registered["service"]["assigned_port"], port)
        self.assertEqual(registered["service"]["name"], "echo")
        agent.close()
        gone = self.server_events.wait("tunnel_disconnected")
        assert gone is not None
        self.assertEqual(self.server.status()["service_count"], 0)


if __name__ == "__main__":
    unittest.main()
