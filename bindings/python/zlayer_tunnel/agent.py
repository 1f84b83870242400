"""The client side of a tunnel: exposes local services through a server."""

from __future__ import annotations

import ctypes
import json
from collections.abc import Callable, Mapping
from typing import Any

from . import _native
from .runtime import Handlers, Runtime, _LoopObject
from .types import AgentStatus, EventHandler

__all__ = ["TunnelAgent", "ConnectionFilter"]

#: ``filter(service_id, connection_id, client_addr) -> bool``
ConnectionFilter = Callable[[str, str, str], object]


def _connection_trampoline(handlers: Handlers) -> Any:
    def on_connection(
        user: int | None, service_id: bytes, connection_id: bytes, addr: bytes
    ) -> int:
        def call() -> int:
            decide = handlers.connection
            if decide is None:
                return 1
            verdict = decide(
                _native.decode(service_id), _native.decode(connection_id), _native.decode(addr)
            )
            return 1 if verdict else 0

        # A connection nobody could decide on is refused, as the library itself does.
        return _native.run_callback(
            handlers.runtime_token, "the connection filter (the connection is refused)", call, 0
        )

    return _native.CONNECTION_CB(on_connection)


class TunnelAgent(_LoopObject):
    """The client side of a tunnel: connects to a server, registers local services, carries
    their connections and reconnects with backoff until stopped.

    Args:
        runtime: the runtime to live on.
        config: the client configuration, as a dict or JSON text with the schema of the
            configuration file, e.g. ``{"server_url": "ws://127.0.0.1:3679/tunnel/v1",
            "token": "...", "services": [{"name": "web", "local_port": 8080}]}``.

    It does not connect until :meth:`start`; progress is reported through events.

    Raises:
        ConfigError: invalid JSON or setting (server_url and token are required); the message
            names the field.
        ShutdownError: the runtime is closed.
    """

    _kind = "agent"
    _close_order = 0  # before the servers of the same runtime

    def __init__(self, runtime: Runtime, config: Mapping[str, Any] | str) -> None:
        super().__init__(runtime)
        text = _native.config_text(config, "config")
        handle = ctypes.c_void_p()
        _native.lib().zlt_agent_new(runtime._require(), text, ctypes.byref(handle))
        self._handle = handle.value
        self._connection_thunk: Any = None
        runtime._adopt(self)

    def _free(self, handle: int) -> None:
        _native.lib().zlt_agent_free(handle)

    def on_event(self, handler: EventHandler | None) -> None:
        """Reports the agent's events to ``handler(event: dict)`` on the loop thread:
        "state", "authenticated", "auth_failed" (with "reason"), "service_registered" (with
        "name" and "public_port"), "service_failed", "incoming_connection", "disconnected",
        "error". Replaces any previous handler; None stops reporting. Exceptions raised by
        the handler are logged and ignored."""
        self._set_event_handler(handler, _native.lib().zlt_agent_on_event)

    def on_connection(self, decide: ConnectionFilter | None) -> None:
        """Lets ``decide(service_id, connection_id, client_addr)`` accept (truthy) or refuse
        (falsy) each connection that arrives on a public port, before the local service is
        dialed. The ids are UUID text, ``client_addr`` is "HOST:PORT" of the public client,
        whose connection is closed when refused. Runs on the loop thread; an exception is
        logged and refuses the connection. None accepts everything (the default)."""
        handle = self._require()
        lib = _native.lib()
        if decide is None:
            lib.zlt_agent_on_connection(handle, _native.NULL_CONNECTION_CB, None)
            self._handlers.connection = None
            return
        if not callable(decide):
            raise TypeError("decide must be callable or None")
        self._handlers.connection = decide
        if self._connection_thunk is None:
            self._connection_thunk = self._keep(_connection_trampoline(self._handlers))
        lib.zlt_agent_on_connection(handle, self._connection_thunk, None)

    def start(self) -> None:
        """Starts connecting (and reconnecting with backoff). Idempotent; returns at once."""
        _native.lib().zlt_agent_start(self._require())

    def stop(self) -> None:
        """Says goodbye to the server, closes the session and stops reconnecting. Idempotent;
        :meth:`start` may be called again afterwards."""
        _native.lib().zlt_agent_stop(self._require())

    def status(self) -> AgentStatus:
        """A snapshot: state, tunnel id, services with their public ports, traffic."""
        handle = self._require()
        text = _native.out_string(lambda out: _native.lib().zlt_agent_status(handle, out))
        result: AgentStatus = json.loads(text)
        return result

    def metrics(self) -> str:
        """The Prometheus text exposition (format 0.0.4): what the `--metrics` listener
        serves on GET /metrics."""
        handle = self._require()
        return _native.out_string(lambda out: _native.lib().zlt_agent_metrics(handle, out))

    def __enter__(self) -> TunnelAgent:
        return self

    def __repr__(self) -> str:
        return f"<TunnelAgent {'closed' if self.closed else 'open'}>"
