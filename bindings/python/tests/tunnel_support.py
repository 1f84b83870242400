"""Helpers shared by the test modules: a local echo service, an event collector, a log catcher
and a public client. Everything binds 127.0.0.1 with kernel-chosen ports."""

from __future__ import annotations

import logging
import os
import socket
import socketserver
import threading
import time
import unittest
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import zlayer_tunnel as zt

TOKEN = "s3cret"
TIMEOUT = 10.0  # upper bound for anything awaited; normally reached in milliseconds


def server_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "listen": "127.0.0.1:0",
        "public_bind": "127.0.0.1",
        "data_port_range": [0, 0],
        "tokens": [{"token": TOKEN}],
    }
    config.update(overrides)
    return config


def agent_config(control_port: int, local_port: int | None, token: str = TOKEN) -> dict[str, Any]:
    services = [] if local_port is None else [{"name": "echo", "local_port": local_port}]
    return {
        "server_url": f"ws://127.0.0.1:{control_port}/tunnel/v1",
        "token": token,
        "reconnect_interval": "100ms",
        "max_reconnect_interval": "1s",
        "services": services,
    }


def task_count() -> int:
    """Threads of this process as the kernel sees them (the library's threads included)."""
    return len(os.listdir("/proc/self/task"))


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    """Polls a condition that has no event to wait on (e.g. the kernel's thread list)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.accepted += 1  # type: ignore[attr-defined]
        while data := self.request.recv(65536):
            self.request.sendall(data)


class EchoServer(socketserver.ThreadingTCPServer):
    """Echoes every connection until end-of-file, on 127.0.0.1 (kernel-chosen port)."""

    allow_reuse_address = True
    daemon_threads = False
    block_on_close = True  # server_close() joins the handler threads

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.accepted = 0
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="echo-server"
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()


class Events:
    """Collects events from the loop thread; the test thread waits for them."""

    def __init__(self, hook: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._cv = threading.Condition()
        self._events: list[dict[str, Any]] = []
        self.hook = hook

    def __call__(self, event: dict[str, Any]) -> None:
        # The hook first: a test that saw the event may rely on what the hook did.
        try:
            if self.hook is not None:
                self.hook(event)
        finally:
            with self._cv:
                self._events.append(event)
                self._cv.notify_all()

    def wait(
        self, name: str, predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = TIMEOUT, count: int = 1,
    ) -> dict[str, Any] | None:
        """The `count`-th event called `name` (matching `predicate`), or None on timeout."""

        def found() -> dict[str, Any] | None:
            hits = [e for e in self._events
                    if e.get("event") == name and (predicate is None or predicate(e))]
            return hits[count - 1] if len(hits) >= count else None

        with self._cv:
            self._cv.wait_for(lambda: found() is not None, timeout)
            return found()

    def names(self) -> list[str]:
        with self._cv:
            return [str(e.get("event")) for e in self._events]


class LogCatcher(logging.Handler):
    """Records what reaches a logger, from any thread, and lets the test wait for a record."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._cv = threading.Condition()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        with self._cv:
            self.records.append(record)
            self._cv.notify_all()

    def wait_for(self, fragment: str, timeout: float = TIMEOUT) -> logging.LogRecord | None:
        def found() -> logging.LogRecord | None:
            for r in self.records:
                if fragment in r.getMessage():
                    return r
            return None

        with self._cv:
            self._cv.wait_for(lambda: found() is not None, timeout)
            return found()


@contextmanager
def catch_logs(name: str = "zlayer_tunnel") -> Iterator[LogCatcher]:
    catcher = LogCatcher()
    logger = logging.getLogger(name)
    logger.addHandler(catcher)
    try:
        yield catcher
    finally:
        logger.removeHandler(catcher)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


def echo_through(port: int, payload: bytes) -> bytes:
    """Sends `payload` to 127.0.0.1:port while reading the answer (both at once, so neither
    side's buffers can fill up and stall the other), then returns everything read."""
    with connect(port) as sock:
        errors: list[BaseException] = []

        def send() -> None:
            try:
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                errors.append(e)

        sender = threading.Thread(target=send, name="echo-client-sender")
        sender.start()
        chunks: list[bytes] = []
        received = 0
        try:
            while received < len(payload):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
        finally:
            sender.join(TIMEOUT)
        if errors:
            raise errors[0]
        return b"".join(chunks)


def wait_closed(sock: socket.socket, timeout: float = TIMEOUT) -> bool:
    """True once the peer has closed the connection (end-of-file or reset)."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except (TimeoutError, socket.timeout):
        return False


class TunnelTestCase(unittest.TestCase):
    """A runtime and a server listening on 127.0.0.1, closed after each test."""

    server_config: dict[str, Any] = server_config()

    def setUp(self) -> None:
        self.runtime = zt.Runtime()
        self.addCleanup(self.runtime.close)
        self.server = zt.TunnelServer(self.runtime, self.server_config)
        self.server_events = Events()
        self.server.on_event(self.server_events)
        self.control_port = self.server.listen("127.0.0.1", 0)
        self.assertGreater(self.control_port, 0)

    def echo_server(self) -> EchoServer:
        echo = EchoServer()
        self.addCleanup(echo.close)
        return echo

    def new_agent(
        self, local_port: int | None, token: str = TOKEN, events: Events | None = None
    ) -> tuple[zt.TunnelAgent, Events]:
        agent = zt.TunnelAgent(self.runtime, agent_config(self.control_port, local_port, token))
        self.addCleanup(agent.close)
        events = events if events is not None else Events()
        agent.on_event(events)
        return agent, events

    def public_port(self, events: Events) -> int:
        ev = events.wait("service_registered")
        self.assertIsNotNone(ev, f"no service_registered event; saw {events.names()}")
        assert ev is not None
        port = ev.get("public_port")
        self.assertIsInstance(port, int)
        return int(port)
