"""TunnelServer.reload() and drain(): configuration changes without dropping tunnels, and a
graceful stop that lets open streams finish."""

from __future__ import annotations

import os
import socket
import threading
import time

import zlayer_tunnel as zt
from tunnel_support import (
    TIMEOUT,
    TunnelTestCase,
    connect,
    echo_through,
    server_config,
    wait_closed,
    wait_until,
)

OTHER = "other-token"


def refuses_connections(port: int) -> bool:
    """True when a connection to 127.0.0.1:port is refused or closed at once."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            return wait_closed(sock, 0.2)
    except OSError:
        return True


class ReloadTest(TunnelTestCase):
    server_config = server_config(tokens=[{"token": "s3cret"}, {"token": OTHER}])

    def test_a_removed_token_is_revoked_and_the_others_keep_their_tunnels(self) -> None:
        echo = self.echo_server()
        kept, kept_events = self.new_agent(echo.port)
        gone, gone_events = self.new_agent(None, token=OTHER)
        kept.start()
        gone.start()
        port = self.public_port(kept_events)
        self.assertIsNotNone(gone_events.wait("authenticated"))
        with connect(port) as held:
            held.sendall(b"before")
            self.assertEqual(held.recv(6), b"before")

            report = self.server.reload(server_config())
            self.assertEqual(report["tokens"], 1)
            self.assertEqual(report["revoked"], 1)
            self.assertEqual(report["needs_restart"], [])
            ended = gone_events.wait("disconnected")
            self.assertIsNotNone(ended, f"saw {gone_events.names()}")
            self.assertIn("token revoked", str(ended))

            # The connection open across the reload carries on, and new ones are served.
            held.sendall(b"after")
            self.assertEqual(held.recv(5), b"after")
        payload = os.urandom(200_000)
        self.assertEqual(echo_through(port, payload), payload)
        self.assertEqual(kept.status()["state"], "connected")
        self.assertIsNone(kept_events.wait("disconnected", timeout=0))

    def test_a_bad_configuration_names_the_field_and_changes_nothing(self) -> None:
        echo = self.echo_server()
        agent, events = self.new_agent(echo.port, token=OTHER)
        agent.start()
        port = self.public_port(events)
        with self.assertRaises(zt.ConfigError) as caught:
            self.server.reload(server_config(tokens=[{"token": "s3cret"}], max_connections=0))
        self.assertIn("max_connections", str(caught.exception))
        with self.assertRaises(zt.ConfigError):
            self.server.reload("{not json")
        # The token the refused configuration would have removed still works.
        self.assertEqual(echo_through(port, b"still here"), b"still here")
        self.assertEqual(len(self.server.status()["tunnels"]), 1)

    def test_none_applies_the_last_configuration_again(self) -> None:
        report = self.server.reload()
        self.assertEqual(report["tokens"], 2)
        self.assertEqual(report["revoked"], 0)
        self.assertFalse(report["tls_reloaded"])

    def test_fields_bound_to_sockets_are_reported_not_applied(self) -> None:
        report = self.server.reload(
            server_config(tokens=[{"token": "s3cret"}, {"token": OTHER}], public_bind="127.0.0.2")
        )
        self.assertEqual(report["needs_restart"], ["public_bind"])
        self.assertEqual(report["revoked"], 0)


class DrainTest(TunnelTestCase):
    def _open_tunnel(self) -> tuple[int, zt.TunnelAgent, socket.socket]:
        echo = self.echo_server()
        agent, events = self.new_agent(echo.port)
        agent.start()
        port = self.public_port(events)
        held = connect(port)
        self.addCleanup(held.close)
        held.sendall(b"before")
        self.assertEqual(held.recv(6), b"before")
        return port, agent, held

    def _drain_in_background(self, grace: float) -> tuple[threading.Thread, list[BaseException]]:
        failures: list[BaseException] = []

        def drain() -> None:
            try:
                self.server.drain(grace)
            except BaseException as e:  # noqa: BLE001 - reported on the test thread
                failures.append(e)

        thread = threading.Thread(target=drain, name="drainer")
        thread.start()
        self.addCleanup(thread.join, TIMEOUT)
        return thread, failures

    def test_open_streams_finish_while_nothing_new_is_taken(self) -> None:
        port, agent, held = self._open_tunnel()
        thread, failures = self._drain_in_background(60.0)
        self.assertTrue(wait_until(lambda: "zlt_server_draining 1" in self.server.metrics()))
        self.assertTrue(wait_until(lambda: refuses_connections(port)),
                        "the public port still takes connections during the drain")
        payload = os.urandom(300_000)
        held.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = held.recv(65536)
            self.assertTrue(chunk, "the open stream ended during the drain")
            got += chunk
        self.assertEqual(got, payload)
        self.assertTrue(thread.is_alive(), "drain returned while a stream was open")

        closed = time.monotonic()
        held.close()
        thread.join(TIMEOUT)
        self.assertFalse(thread.is_alive(), "drain did not return after the last stream ended")
        self.assertEqual(failures, [])
        self.assertLess(time.monotonic() - closed, TIMEOUT)
        self.assertTrue(wait_until(lambda: agent.status()["state"] != "connected"))
        with self.assertRaises(zt.ShutdownError):
            self.server.reload()

    def test_the_grace_period_ends_what_is_still_open(self) -> None:
        _, _, held = self._open_tunnel()
        started = time.monotonic()
        thread, failures = self._drain_in_background(0.2)
        thread.join(TIMEOUT)
        self.assertFalse(thread.is_alive())
        self.assertEqual(failures, [])
        self.assertLess(time.monotonic() - started, TIMEOUT)
        self.assertTrue(wait_closed(held), "a stream outlived the grace period")

    def test_a_negative_grace_is_refused(self) -> None:
        with self.assertRaises(zt.InvalidArgumentError):
            self.server.drain(-1)
        with self.assertRaises(TypeError):
            self.server.drain("30s")  # type: ignore[arg-type]
        self.assertEqual(self.server.reload()["revoked"], 0)  # still serving
