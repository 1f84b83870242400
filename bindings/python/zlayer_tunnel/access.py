"""On-demand access: local ports whose connections reach a service or address on a server's
side, through one connection to the server."""

from __future__ import annotations

import ctypes
import datetime
import json
import operator
from collections.abc import Mapping
from typing import Any

from . import _native
from .runtime import Runtime, _LoopObject
from .types import AccessSession, EventHandler

__all__ = ["AccessClient"]


class AccessClient(_LoopObject):
    """On-demand access through a tunnel server: each session listens on a local port and
    carries what arrives there to one target on the server's side ("service:NAME" or
    "HOST:PORT"), until its TTL runs out or it is stopped. The sessions share one connection
    to the server, made on the first :meth:`start_session` and re-established with backoff.

    Args:
        runtime: the runtime to live on.
        config: the client configuration, as a dict or JSON text: "server_url" and "token"
            (typically the token of a grant, see :meth:`TunnelServer.grant_access`) are
            required; TLS and reconnection settings apply as for an agent, "services" must be
            absent. Two access settings may sit next to them: "default_ttl" (the TTL of sessions
            started without one; default: they live until stopped) and "local_bind" (the
            address sessions listen on, "127.0.0.1" by default).

    Raises:
        ConfigError: invalid JSON or setting; the message names the field.
        ShutdownError: the runtime is closed.

    Example::

        with AccessClient(rt, {"server_url": url, "token": grant["token"]}) as access:
            session = access.start_session("service:db", ttl="10m")
            psycopg.connect(port=session["local_port"], ...)
    """

    _kind = "access client"
    _close_order = 0  # before the servers of the same runtime

    def __init__(self, runtime: Runtime, config: Mapping[str, Any] | str) -> None:
        super().__init__(runtime)
        text = _native.config_text(config, "config")
        handle = ctypes.c_void_p()
        _native.lib().zlt_access_new(runtime._require(), text, ctypes.byref(handle))
        self._handle = handle.value
        runtime._adopt(self)

    def _free(self, handle: int) -> None:
        _native.lib().zlt_access_free(handle)

    def on_event(self, handler: EventHandler | None) -> None:
        """Reports events to ``handler(event: dict)`` on the loop thread:

        * "session_started", "session_stopped", "session_expired", with "session" (a
          snapshot as :meth:`start_session` returns it) and, when it ended, "reason";
        * "fatal", with "reason" ("fatal: token revoked", "fatal: token expired"): the server
          ended access for good; every session has been closed, the connection is not
          retried, and :meth:`start_session` raises ShutdownError from now on;
        * the connection's own events, as an agent reports them: "state", "authenticated",
          "auth_failed" (with "reason"), "disconnected", "error".

        Replaces any previous handler; None stops reporting. Exceptions raised by the handler
        are logged and ignored."""
        self._set_event_handler(handler, _native.lib().zlt_access_on_event)

    def start_session(
        self,
        target: str,
        local_port: int = 0,
        ttl: str | float | datetime.timedelta | None = None,
        protocol: str = "tcp",
    ) -> AccessSession:
        """Starts a session: listens on ``local_port`` (0: the kernel chooses) of the
        configured "local_bind" address and carries every connection (or, with protocol
        "udp", every datagram) made there to ``target`` on the server's side.

        Args:
            target: "service:NAME" (a service registered on the server) or "HOST:PORT" (an
                address the server connects to; "[v6]:PORT" for IPv6).
            local_port: the local port; 0 lets the kernel choose (see "local_port" in the
                result).
            ttl: how long the session lives: text such as "10m", a number of seconds or a
                timedelta; > 0. None: the configuration's "default_ttl", else until stopped.
            protocol: "tcp" or "udp".

        Returns:
            The session's snapshot: "id", "target", "local_addr", "local_port", "protocol",
            "created_at", "expires_at" (or None), "remaining_ms", traffic counters.

        Connections that arrive before the server has accepted the token ("authenticated"
        event) are closed at once; so are those the server refuses (a target the token may not
        reach, an unknown service).

        Raises:
            InvalidArgumentError: a TTL of 0 or an invalid target.
            TunnelConnectionError: the local port cannot be bound.
            ShutdownError: the server ended access ("fatal" event) or the object is closed.
        """
        request: dict[str, Any] = {
            "target": target,
            "local_port": operator.index(local_port),
            "protocol": protocol,
        }
        if ttl is not None:
            request["ttl"] = _native.duration_text(ttl, "ttl")
        handle = self._require()
        text = _native.encode(json.dumps(request), "the session request")
        answer = _native.out_string(
            lambda out: _native.lib().zlt_access_start_session(handle, text, out)
        )
        result: AccessSession = json.loads(answer)
        return result

    def stop_session(self, session_id: str) -> None:
        """Stops a session: closes its listener and every connection it carries.

        Raises:
            NotFoundError: no such session (never started, already stopped or expired).
            InvalidArgumentError: ``session_id`` is not a UUID.
        """
        _native.lib().zlt_access_stop_session(
            self._require(), _native.encode(session_id, "session_id")
        )

    def list(self) -> list[AccessSession]:
        """The live sessions, oldest first, with their traffic so far."""
        handle = self._require()
        text = _native.out_string(lambda out: _native.lib().zlt_access_list(handle, out))
        result: list[AccessSession] = json.loads(text)
        return result

    def metrics(self) -> str:
        """The Prometheus text exposition (format 0.0.4): what the `--metrics` listener
        serves on GET /metrics."""
        handle = self._require()
        return _native.out_string(lambda out: _native.lib().zlt_access_metrics(handle, out))

    def __enter__(self) -> AccessClient:
        return self

    def __repr__(self) -> str:
        return f"<AccessClient {'closed' if self.closed else 'open'}>"
