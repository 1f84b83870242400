"""On-demand access from Python: the server grants access to an internal echo service that an
agent exposes, and an AccessClient reaches it through a local port with the granted token."""

from __future__ import annotations

import datetime
import os
import socket
import unittest
from typing import Any

import zlayer_tunnel as zt
from test_metrics import value as metric
from tunnel_support import (TOKEN, Events, TunnelTestCase, connect, echo_through, wait_closed,
                            wait_until)


class AccessTest(TunnelTestCase):
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.control_port}/tunnel/v1"

    def expose_internal_echo(self) -> None:
        echo = self.echo_server()
        agent = zt.TunnelAgent(
            self.runtime,
            {
                "server_url": self.url(),
                "token": TOKEN,
                "reconnect_interval": "100ms",
                "services": [{"name": "echo", "local_port": echo.port, "internal": True}],
            },
        )
        self.addCleanup(agent.close)
        events = Events()
        agent.on_event(events)
        agent.start()
        registered = events.wait("service_registered")
        self.assertIsNotNone(registered, f"not registered; saw {events.names()}")
        assert registered is not None
        self.assertIsNone(registered.get("public_port"))  # internal: no public port

    def access_client(
        self, token: str, events: Events | None = None, **settings: Any
    ) -> tuple[zt.AccessClient, Events]:
        config = {"server_url": self.url(), "token": token, **settings}
        access = zt.AccessClient(self.runtime, config)
        self.addCleanup(access.close)
        events = events if events is not None else Events()
        access.on_event(events)
        return access, events

    def test_granted_token_reaches_an_internal_service_until_revoked(self) -> None:
        self.expose_internal_echo()
        grant = self.server.grant_access(["service:echo"], ttl="10m", name="alice")
        self.assertEqual(grant["name"], "alice")
        self.assertEqual(grant["targets"], ["service:echo"])
        self.assertTrue(grant["token"].startswith("tun_"))
        listed = self.server.list_grants()
        self.assertEqual([g["grant_id"] for g in listed], [grant["grant_id"]])
        self.assertNotIn("token", listed[0])

        with zt.AccessClient(self.runtime, {"server_url": self.url(), "token": grant["token"]}) \
                as access:
            events = Events()
            access.on_event(events)
            session = access.start_session("service:echo", ttl=datetime.timedelta(minutes=10))
            port = session["local_port"]
            self.assertGreater(port, 0)
            self.assertEqual(session["local_addr"], f"127.0.0.1:{port}")
            self.assertIsNotNone(session["expires_at"])
            self.assertIsNotNone(events.wait("authenticated"), f"saw {events.names()}")

            self.assertEqual(echo_through(port, b"hello from Python"), b"hello from Python")
            payload = os.urandom(256 * 1024)
            self.assertEqual(echo_through(port, payload), payload)
            sessions = access.list()
            self.assertEqual([s["id"] for s in sessions], [session["id"]])
            self.assertGreaterEqual(sessions[0]["connections_total"], 2)
            text = access.metrics()
            moved = float(len(payload) + len(b"hello from Python"))
            self.assertTrue(wait_until(lambda: metric(
                access.metrics(), "zlt_access_bytes_total", target="service:echo",
                direction="out") == moved), access.metrics())
            self.assertEqual(metric(text, "zlt_access_sessions"), 1.0)
            self.assertEqual(metric(text, "zlt_agent_connected"), 1.0)

            # A connection open while the grant is revoked is closed with the session.
            with connect(port) as held:
                held.sendall(b"ping")
                self.assertEqual(held.recv(4), b"ping")
                self.server.revoke_access(grant["grant_id"])
                fatal = events.wait("fatal")
                self.assertIsNotNone(fatal, f"saw {events.names()}")
                assert fatal is not None
                self.assertIn("revoked", fatal["reason"])
                self.assertTrue(wait_closed(held))
            self.assertEqual(access.list(), [])
            with self.assertRaises(zt.ShutdownError):
                access.start_session("service:echo")
        self.assertTrue(access.closed)
        self.assertEqual(self.server.list_grants(), [])
        with self.assertRaises(zt.NotFoundError):
            self.server.revoke_access(grant["grant_id"])

    def test_stop_session_and_expiry(self) -> None:
        self.expose_internal_echo()
        grant = self.server.grant_access("service:*", ttl=600)
        access, events = self.access_client(grant["token"], default_ttl="1h")
        kept = access.start_session("service:echo")
        self.assertIsNotNone(kept["expires_at"])  # the default TTL
        brief = access.start_session("service:echo", ttl=0.2)
        self.assertIsNotNone(events.wait("authenticated"))
        self.assertEqual(echo_through(brief["local_port"], b"quick"), b"quick")

        expired = events.wait("session_expired")
        self.assertIsNotNone(expired)
        assert expired is not None
        self.assertEqual(expired["session"]["id"], brief["id"])
        self.assertEqual([s["id"] for s in access.list()], [kept["id"]])

        access.stop_session(kept["id"])
        stopped = events.wait("session_stopped")
        self.assertIsNotNone(stopped)
        assert stopped is not None
        self.assertEqual(stopped["session"]["id"], kept["id"])
        self.assertEqual(access.list(), [])
        with self.assertRaises(zt.NotFoundError):
            access.stop_session(kept["id"])

    def test_errors(self) -> None:
        with self.assertRaises(zt.ConfigError) as e:
            self.server.grant_access(["service:echo"], ttl=0)
        self.assertIn("ttl", e.exception.message)
        with self.assertRaises(zt.ConfigError) as e:
            self.server.grant_access(["nonsense"], ttl="1m")
        self.assertIn("targets[0]", e.exception.message)
        with self.assertRaises(zt.ConfigError):
            self.server.grant_access([], ttl="1m")
        with self.assertRaises(TypeError):
            self.server.grant_access(["service:echo"], ttl=True)
        with self.assertRaises(zt.InvalidArgumentError):
            self.server.revoke_access("not-a-uuid")
        with self.assertRaises(zt.NotFoundError):
            self.server.revoke_access("00000000-0000-4000-8000-000000000000")
        self.assertEqual(self.server.list_grants(), [])

        with self.assertRaises(zt.ConfigError) as e:
            zt.AccessClient(self.runtime, {"server_url": self.url()})
        self.assertIn("token", e.exception.message)
        with self.assertRaises(zt.ConfigError) as e:
            zt.AccessClient(self.runtime, {"server_url": self.url(), "token": "t",
                                           "services": [{"name": "a", "local_port": 1}]})
        self.assertIn("services", e.exception.message)
        with self.assertRaises(zt.ConfigError) as e:
            zt.AccessClient(self.runtime, {"server_url": self.url(), "token": "t",
                                           "default_ttl": "0s"})
        self.assertIn("default_ttl", e.exception.message)

        access, _ = self.access_client("tun_unknown")
        with self.assertRaises(zt.InvalidArgumentError) as e:
            access.start_session("service:echo", ttl=0)
        self.assertIn("ttl must be > 0", e.exception.message)
        with self.assertRaises(zt.InvalidArgumentError) as e:
            access.start_session("nonsense")
        self.assertIn("invalid target", e.exception.message)
        with self.assertRaises(zt.ConfigError):
            access.start_session("service:echo", protocol="sctp")
        with self.assertRaises(zt.InvalidArgumentError):
            access.stop_session("x")
        with self.assertRaises(zt.NotFoundError):
            access.stop_session("00000000-0000-4000-8000-000000000000")
        with socket.create_server(("127.0.0.1", 0)) as taken:
            with self.assertRaises(zt.TunnelConnectionError):
                access.start_session("service:echo", local_port=taken.getsockname()[1])
        self.assertEqual(access.list(), [])
        access.close()
        with self.assertRaises(zt.ShutdownError):
            access.list()

    def test_closing_the_runtime_closes_access(self) -> None:
        access, _ = self.access_client("tun_unknown")
        session = access.start_session("service:echo")
        self.runtime.close()
        self.assertTrue(access.closed)
        with self.assertRaises(zt.ShutdownError):
            access.list()
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", session["local_port"]), timeout=1).close()


if __name__ == "__main__":
    unittest.main()
