"""Whole tunnels driven from Python: server, agent and local service in this process."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import unittest

import zlayer_tunnel as zt
from tunnel_support import TIMEOUT, Events, TunnelTestCase, echo_through


class EndToEndTest(TunnelTestCase):
    def test_bytes_through_the_tunnel_and_back(self) -> None:
        echo = self.echo_server()
        agent, events = self.new_agent(echo.port)
        agent.start()
        port = self.public_port(events)
        self.assertIsNotNone(self.server_events.wait("tunnel_connected"))

        self.assertEqual(echo_through(port, b"hello from Python"), b"hello from Python")
        payload = os.urandom(1 << 20)
        back = echo_through(port, payload)
        self.assertEqual(len(back), len(payload))
        self.assertEqual(hashlib.sha256(back).hexdigest(), hashlib.sha256(payload).hexdigest())

        status = agent.status()
        self.assertEqual(status["state"], "connected")
        self.assertEqual(status["services"][0]["public_port"], port)
        self.assertEqual(status["services"][0]["name"], "echo")
        self.assertGreaterEqual(status["traffic"]["bytes_in"], len(payload))

        server_status = self.server.status()
        self.assertEqual(server_status["tunnel_count"], 1)
        self.assertEqual(server_status["tunnels"][0]["services"][0]["assigned_port"], port)
        self.assertEqual(server_status["listen"], [f"127.0.0.1:{self.control_port}"])

        agent.stop()
        self.assertIsNotNone(self.server_events.wait("tunnel_disconnected"))
        agent.stop()  # idempotent
        self.assertEqual(self.server.status()["tunnel_count"], 0)

    def test_agent_restarts_after_stop(self) -> None:
        agent, events = self.new_agent(None)
        for round_ in range(1, 4):
            agent.start()
            self.assertIsNotNone(events.wait("authenticated", count=round_), f"round {round_}")
            agent.stop()

    def test_server_accepts_sockets_the_host_accepted(self) -> None:
        echo = self.echo_server()
        with socket.create_server(("127.0.0.1", 0)) as listener:
            host_port = listener.getsockname()[1]
            failures: list[BaseException] = []

            def acceptor() -> None:
                try:
                    listener.settimeout(TIMEOUT)
                    conn, _ = listener.accept()
                    self.server.accept(conn)  # ownership passes: conn is detached
                    if conn.fileno() != -1:
                        raise AssertionError("the socket was not detached")
                except BaseException as e:  # noqa: BLE001 - reported on the test thread
                    failures.append(e)

            thread = threading.Thread(target=acceptor, name="acceptor")
            thread.start()
            agent = zt.TunnelAgent(
                self.runtime,
                {"server_url": f"ws://127.0.0.1:{host_port}/tunnel/v1", "token": "s3cret",
                 "services": [{"name": "echo", "local_port": echo.port}]},
            )
            self.addCleanup(agent.close)
            events = Events()
            agent.on_event(events)
            agent.start()
            port = self.public_port(events)
            thread.join(TIMEOUT)
            self.assertEqual(failures, [])
            self.assertEqual(echo_through(port, b"adopted"), b"adopted")

    def test_accept_takes_the_descriptor_even_on_failure(self) -> None:
        ours, theirs = socket.socketpair()
        with ours:
            self.server.stop()
            with self.assertRaises(zt.ShutdownError):
                self.server.accept(theirs.detach())
            ours.settimeout(TIMEOUT)
            self.assertEqual(ours.recv(1), b"")  # the library closed its end

        ours, theirs = socket.socketpair()
        with ours:
            self.server.close()
            with self.assertRaises(zt.ShutdownError):
                self.server.accept(theirs)
            self.assertEqual(theirs.fileno(), -1)
            ours.settimeout(TIMEOUT)
            self.assertEqual(ours.recv(1), b"")


if __name__ == "__main__":
    unittest.main()
