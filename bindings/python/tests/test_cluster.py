"""Clustered servers driven from Python: two TunnelServers on one real redis-server (started
here on 127.0.0.1, a port the kernel chose, persistence off) share their grants."""

from __future__ import annotations

import shutil
import socket
import subprocess
import unittest
from typing import Any

import zlayer_tunnel as zt
from tunnel_support import TIMEOUT, server_config, wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisProcess:
    """redis-server on 127.0.0.1; retried on another port if the chosen one was taken."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise AssertionError("redis-server is missing (scripts/setup installs it)")
        for _ in range(5):
            self.port = free_port()
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", "/tmp", "--logfile", ""],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert self.process.stdout is not None
            for line in self.process.stdout:
                if "Ready to accept connections" in line:
                    return
            self.process.wait(TIMEOUT)
        raise AssertionError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()


def member_config(redis: RedisProcess, node_id: str) -> dict[str, Any]:
    return server_config(cluster={
        "redis": redis.url,
        "node_id": node_id,
        "advertise_url": "ws://127.0.0.1:1/tunnel/v1",
        "secret": "a shared secret for the members",
        "lease": "3s",
    })


class ClusterTest(unittest.TestCase):
    def setUp(self) -> None:
        self.redis = RedisProcess()
        self.addCleanup(self.redis.close)
        self.runtime = zt.Runtime()
        self.addCleanup(self.runtime.close)
        self.one = zt.TunnelServer(self.runtime, member_config(self.redis, "py-1"))
        self.two = zt.TunnelServer(self.runtime, member_config(self.redis, "py-2"))
        for server in (self.one, self.two):
            server.listen("127.0.0.1", 0)

    def store_up(self, server: zt.TunnelServer) -> bool:
        cluster = server.status().get("cluster")
        return bool(cluster and cluster.get("store_available"))

    def test_a_grant_issued_on_one_member_is_known_to_the_other_until_revoked(self) -> None:
        self.assertTrue(wait_until(lambda: self.store_up(self.one) and self.store_up(self.two)))
        grant = self.one.grant_access("service:db", "10m", name="py-grant")
        self.assertTrue(wait_until(
            lambda: [g["grant_id"] for g in self.two.list_grants()] == [grant["grant_id"]]))
        self.assertEqual(self.two.list_grants()[0]["name"], "py-grant")

        members = {m["node_id"] for m in self.one.status()["cluster"]["members"]}
        self.assertIn("py-1", members)
        self.assertTrue(wait_until(lambda: {m["node_id"] for m in
                                            self.one.status()["cluster"]["members"]}
                                   == {"py-1", "py-2"}))
        self.assertIn("zlt_server_cluster_store_up 1", self.two.metrics())

        self.two.revoke_access(grant["grant_id"])
        self.assertTrue(wait_until(lambda: self.one.list_grants() == []))

    def test_a_bad_cluster_block_names_the_field(self) -> None:
        bad = member_config(self.redis, "py 3")
        with self.assertRaises(zt.ConfigError) as caught:
            zt.TunnelServer(self.runtime, bad)
        self.assertIn("cluster.node_id", str(caught.exception))

    def test_new_grants_are_refused_while_redis_is_away(self) -> None:
        self.assertTrue(wait_until(lambda: self.store_up(self.one)))
        self.redis.close()
        self.assertTrue(wait_until(lambda: not self.store_up(self.one)))
        with self.assertRaises(zt.TunnelConnectionError) as caught:
            self.one.grant_access("service:db", "10m")
        self.assertIn("cluster store unavailable", str(caught.exception))
