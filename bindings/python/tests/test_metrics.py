"""Metrics as Prometheus scrapes them: the text of a running server and agent (through the C
ABI's metrics() and over HTTP from `zlt server --metrics`), read with prometheus_client's own
parser, with values that move with real traffic."""

from __future__ import annotations

import os
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

# Not optional: without the parser this suite fails (scripts/setup installs
# python3-prometheus-client).
from prometheus_client.parser import text_string_to_metric_families

import zlayer_tunnel as zt
from tunnel_support import TIMEOUT, TOKEN, Events, TunnelTestCase, echo_through, wait_until


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, keyed by name and sorted labels."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


class MetricsThroughTheCAbiTest(TunnelTestCase):
    def test_server_and_agent_counters_move_with_traffic(self) -> None:
        echo = self.echo_server()
        agent, events = self.new_agent(echo.port)
        agent.start()
        port = self.public_port(events)

        before_server = self.server.metrics()
        families = {f.name: f for f in text_string_to_metric_families(before_server)}
        self.assertEqual(families["zlt_server_bytes"].type, "counter")
        self.assertEqual(families["zlt_server_tunnels"].type, "gauge")
        self.assertEqual(value(before_server, "zlt_server_tunnels"), 1.0)
        self.assertEqual(
            value(before_server, "zlt_server_services", service="echo", protocol="tcp",
                  internal="false"), 1.0)
        self.assertEqual(value(before_server, "zlt_server_bytes_total", service="echo",
                               direction="out"), 0.0)
        build = [k for k in samples(before_server) if k[0] == "zlt_build_info"]
        self.assertEqual(dict(build[0][1])["version"], zt.version())

        payload = os.urandom(200_000)
        self.assertEqual(echo_through(port, payload), payload)
        moved = float(len(payload))

        def server_counted() -> bool:
            text = self.server.metrics()
            return (value(text, "zlt_server_bytes_total", service="echo", direction="out") == moved
                    and value(text, "zlt_server_bytes_total", service="echo",
                              direction="in") == moved)

        self.assertTrue(wait_until(server_counted), self.server.metrics())
        text = self.server.metrics()
        self.assertEqual(value(text, "zlt_server_streams_total", service="echo"), 1.0)
        self.assertGreater(value(text, "process_resident_memory_bytes") or 0, 0)

        def agent_counted() -> bool:
            text = agent.metrics()
            return (value(text, "zlt_agent_bytes_total", service="echo", direction="in") == moved
                    and value(text, "zlt_agent_bytes_total", service="echo",
                              direction="out") == moved)

        self.assertTrue(wait_until(agent_counted), agent.metrics())
        agent_text = agent.metrics()
        self.assertEqual(value(agent_text, "zlt_agent_connected"), 1.0)
        self.assertEqual(value(agent_text, "zlt_agent_service_registered", service="echo"), 1.0)
        self.assertEqual(value(agent_text, "zlt_agent_reconnects_total"), 0.0)

        agent.stop()
        self.assertTrue(wait_until(lambda: value(agent.metrics(), "zlt_agent_connected") == 0.0))
        # The server's totals keep the bytes of the tunnel that ended.
        self.assertTrue(wait_until(
            lambda: value(self.server.metrics(), "zlt_server_tunnels") == 0.0))
        self.assertEqual(
            value(self.server.metrics(), "zlt_server_traffic_bytes_total", direction="in"), moved)


class MetricsOverHttpTest(TunnelTestCase):
    """`zlt server --metrics` serves the same families over HTTP."""

    def zlt(self) -> Path:
        lib = Path(os.environ["ZLAYER_TUNNEL_LIB"])
        return lib.parent / "zlt"

    def start_cli_server(self) -> tuple[int, int]:
        proc = subprocess.Popen(
            [str(self.zlt()), "server", "--listen", "127.0.0.1:0", "--port-range", "0-0",
             "--public-bind", "127.0.0.1", "--token", TOKEN, "--metrics", "127.0.0.1:0",
             "--status-interval", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        def stop() -> None:
            proc.terminate()
            proc.wait(TIMEOUT)
            assert proc.stderr is not None
            proc.stderr.close()

        self.addCleanup(stop)
        assert proc.stderr is not None
        control = metrics = 0
        while not (control and metrics):
            line = proc.stderr.readline()
            if not line:
                self.fail("zlt server ended before listening")
            if m := re.search(r"listening on ws://127\.0\.0\.1:(\d+)/", line):
                control = int(m.group(1))
            if m := re.search(r"/ready on http://127\.0\.0\.1:(\d+)", line):
                metrics = int(m.group(1))
        return control, metrics

    def scrape(self, port: int, path: str = "/metrics") -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read().decode()

    def test_scrape_over_http_moves_with_traffic(self) -> None:
        control, metrics = self.start_cli_server()
        status, ctype, body = self.scrape(metrics, "/ready")
        self.assertEqual((status, body), (200, "ready\n"))
        self.assertEqual(self.scrape(metrics, "/healthz")[:3:2], (200, "ok\n"))

        echo = self.echo_server()
        config: dict[str, Any] = {
            "server_url": f"ws://127.0.0.1:{control}/tunnel/v1", "token": TOKEN,
            "services": [{"name": "web", "local_port": echo.port}]}
        agent = zt.TunnelAgent(self.runtime, config)
        self.addCleanup(agent.close)
        events = Events()
        agent.on_event(events)
        agent.start()
        port = self.public_port(events)
        payload = os.urandom(65_536)
        self.assertEqual(echo_through(port, payload), payload)

        def counted() -> bool:
            text = self.scrape(metrics)[2]
            return value(text, "zlt_server_bytes_total", service="web",
                         direction="in") == float(len(payload))

        self.assertTrue(wait_until(counted))
        status, ctype, text = self.scrape(metrics)
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(value(text, "zlt_server_tunnels"), 1.0)
        self.assertEqual(value(text, "zlt_server_streams_total", service="web"), 1.0)
        self.assertIsNotNone(value(text, "process_cpu_seconds_total"))
