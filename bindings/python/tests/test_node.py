"""Node-to-node tunnels from Python: two NodeManagers on loopback, each on its own runtime as
two processes would be. Node "b" runs the server side; node "a" has an outbound internal
tunnel toward it, so that b's inbound listener reaches an echo service next to a."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import unittest
from typing import Any

import zlayer_tunnel as zt
from test_metrics import value as metric
from tunnel_support import EchoServer, Events, echo_through, wait_closed, wait_until

TOKEN = "tok-db-5f1e"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tunnel_state(name: str, state: str):  # type: ignore[no-untyped-def]
    return lambda e: e.get("tunnel") == name and e.get("state") == state


class NodeTest(unittest.TestCase):
    def setUp(self) -> None:
        self.echo = EchoServer()
        self.addCleanup(self.echo.close)
        # Closed last (cleanups run in reverse), after the managers on them.
        self.rt_a = zt.Runtime()
        self.addCleanup(self.rt_a.close)
        self.rt_b = zt.Runtime()
        self.addCleanup(self.rt_b.close)
        self.remote_port = free_port()

    def tunnel(self, **extra: Any) -> dict[str, Any]:
        return {
            "name": "db",
            "from": "node-a",
            "to": "node-b",
            "local_port": self.echo.port,
            "remote_port": self.remote_port,
            "expose": "internal",
            "token": TOKEN,
            **extra,
        }

    def start_b(self) -> tuple[zt.NodeManager, Events, int]:
        b = zt.NodeManager(
            self.rt_b,
            {
                "node_name": "node-b",
                "server": {
                    "listen": "127.0.0.1:0",
                    "public_bind": "127.0.0.1",
                    "data_port_range": [0, 0],
                },
                "tunnels": [self.tunnel()],
            },
        )
        self.addCleanup(b.close)
        events = Events()
        b.on_event(events)
        b.start()
        port = b.server_port()
        self.assertIsNotNone(port, b.status())
        assert port is not None
        return b, events, port

    def start_a(self) -> tuple[zt.NodeManager, Events]:
        a = zt.NodeManager(
            self.rt_a,
            {
                "node_name": "node-a",
                "reconnect_interval": "50ms",
                "max_reconnect_interval": "200ms",
                "connect_timeout": "2s",
            },
        )
        self.addCleanup(a.close)
        events = Events()
        a.on_event(events)
        a.start()
        return a, events

    def test_internal_tunnel_carries_bytes_through_the_overlay_route(self) -> None:
        b, b_events, control_port = self.start_b()
        a, a_events = self.start_a()
        asked: list[str] = []

        def resolve(node: str) -> str | None:
            asked.append(node)
            return "127.0.0.1" if node == "node-b" else None

        a.set_overlay_resolver(resolve)
        a.add_tunnel(self.tunnel(direct_url=f"ws://127.0.0.1:{control_port}/tunnel/v1"))

        connected = a_events.wait("tunnel_state", tunnel_state("db", "connected"))
        self.assertIsNotNone(connected, f"node a saw {a_events.names()}")
        self.assertIsNotNone(b_events.wait("tunnel_state", tunnel_state("db", "connected")))
        states = [e["state"] for e in a_events._events if e.get("event") == "tunnel_state"]
        self.assertEqual(states[0], "connecting")
        self.assertIn("node-b", asked)
        route = a_events.wait("route")
        assert route is not None
        self.assertEqual(route["route"], "overlay")
        self.assertEqual(route["url"], f"ws://127.0.0.1:{control_port}/tunnel/v1")

        payload = os.urandom(1 << 20)
        back = echo_through(self.remote_port, payload)
        self.assertEqual(hashlib.sha256(back).hexdigest(), hashlib.sha256(payload).hexdigest())

        status = a.status()
        self.assertEqual(status["node_name"], "node-a")
        self.assertTrue(status["running"])
        self.assertIsNone(status["server"])
        (t,) = status["tunnels"]
        self.assertEqual((t["name"], t["from"], t["to"]), ("db", "node-a", "node-b"))
        self.assertEqual((t["state"], t["direction"], t.get("route")),
                         ("connected", "outbound", "overlay"))
        text = a.metrics()
        self.assertEqual(metric(text, "zlt_node_tunnel_state", tunnel="db", state="connected"), 1.0)
        self.assertEqual(metric(text, "zlt_node_tunnel_state", tunnel="db", state="failed"), 0.0)
        self.assertTrue(wait_until(lambda: (metric(
            a.metrics(), "zlt_node_tunnel_bytes_total", tunnel="db", direction="out") or 0)
            >= len(payload)), a.metrics())
        # b has the inbound server: its families follow the node's.
        self.assertIsNotNone(metric(b.metrics(), "zlt_server_tunnels"))
        inbound = b.status()["tunnels"][0]
        self.assertEqual(inbound["direction"], "inbound")
        self.assertEqual(inbound.get("listen"), f"127.0.0.1:{self.remote_port}")

        # Removing the tunnel on a ends it on b, whose listener then refuses connections.
        a.remove_tunnel("db")
        self.assertEqual(a.status()["tunnels"], [])
        self.assertIsNotNone(b_events.wait("tunnel_state", tunnel_state("db", "disconnected")))
        with self.assertRaises(zt.NotFoundError):
            a.remove_tunnel("db")
        try:
            held = socket.create_connection(("127.0.0.1", self.remote_port), timeout=5)
        except OSError:
            pass
        else:
            with held:
                self.assertTrue(wait_closed(held))

    def test_stop_start_and_callbacks_calling_back(self) -> None:
        _, b_events, control_port = self.start_b()
        a, a_events = self.start_a()
        statuses: list[str] = []

        def on_connected(e: dict[str, Any]) -> None:
            if e.get("event") == "tunnel_state" and e.get("state") == "connected":
                statuses.append(a.status()["tunnels"][0]["state"])

        a_events.hook = on_connected
        a.add_tunnel(self.tunnel(routing_mode="directonly",
                                 direct_url=f"ws://127.0.0.1:{control_port}/tunnel/v1"))
        self.assertIsNotNone(a_events.wait("tunnel_state", tunnel_state("db", "connected")))
        a.stop()
        down = a_events.wait("tunnel_state", tunnel_state("db", "disconnected"))
        assert down is not None
        self.assertEqual(down["reason"], "node shutting down")
        self.assertFalse(a.status()["running"])
        a.start()
        self.assertIsNotNone(
            a_events.wait("tunnel_state", tunnel_state("db", "connected"), count=2)
        )
        self.assertIsNotNone(
            b_events.wait("tunnel_state", tunnel_state("db", "connected"), count=2)
        )
        self.assertEqual(statuses, ["connected", "connected"])
        self.assertEqual(echo_through(self.remote_port, b"again"), b"again")

    def test_resolver_errors_count_as_unreachable(self) -> None:
        _, _, control_port = self.start_b()
        a, a_events = self.start_a()
        calls = threading.Event()

        def broken(node: str) -> str | None:
            calls.set()
            raise RuntimeError("no overlay today")

        a.set_overlay_resolver(broken)
        a.add_tunnel(self.tunnel(direct_url=f"ws://127.0.0.1:{control_port}/tunnel/v1"))
        self.assertIsNotNone(a_events.wait("tunnel_state", tunnel_state("db", "connected")))
        self.assertTrue(calls.is_set())
        route = a_events.wait("route")
        assert route is not None
        self.assertEqual(route["route"], "direct")
        a.set_overlay_resolver(None)

    def test_errors(self) -> None:
        with self.assertRaises(zt.ConfigError) as e:
            zt.NodeManager(self.rt_a, {})
        self.assertIn("node_name", e.exception.message)
        with self.assertRaises(zt.ConfigError) as e:
            zt.NodeManager(self.rt_a, "{")
        with self.assertRaises(zt.ConfigError) as e:
            zt.NodeManager(self.rt_a, {"node_name": "node-b", "tunnels": [self.tunnel()]})
        self.assertIn("tunnels[0]", e.exception.message)
        with self.assertRaises(TypeError):
            zt.NodeManager(self.rt_a, 42)  # type: ignore[arg-type]

        with zt.NodeManager(self.rt_a, {"node_name": "node-a"}) as a:
            with self.assertRaises(zt.ConfigError) as e:
                a.add_tunnel({"name": "x"})
            with self.assertRaises(zt.ConfigError) as e:
                a.add_tunnel(self.tunnel(local_port=0, direct_url="ws://127.0.0.1:1/t"))
            self.assertIn("local_port", e.exception.message)
            a.add_tunnel(self.tunnel(direct_url="ws://127.0.0.1:1/t"))
            with self.assertRaises(zt.AlreadyExistsError):
                a.add_tunnel(self.tunnel(direct_url="ws://127.0.0.1:1/t"))
            with self.assertRaises(zt.NotFoundError):
                a.remove_tunnel("nope")
            with self.assertRaises(TypeError):
                a.set_overlay_resolver(42)  # type: ignore[arg-type]
        self.assertTrue(a.closed)
        with self.assertRaises(zt.ShutdownError):
            a.status()


if __name__ == "__main__":
    unittest.main()
