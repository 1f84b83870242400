"""The server side of a tunnel: token policy, control endpoint, registry and public ports."""

from __future__ import annotations

import ctypes
import json
import logging
import operator
import os
import socket
import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Union

from . import _native
from .errors import TunnelError
from .runtime import Handlers, Runtime, _LoopObject
from .types import AccessGrant, EventHandler, RegistryStatus, ReloadReport

__all__ = ["TunnelServer", "TokenValidator", "ValidatorResult"]

_log = logging.getLogger("zlayer_tunnel")

#: What a token validator may return: True (accept), False or None (refuse), a str (refuse
#: with this reason) or a mapping (accept with this grant, see TunnelServer.set_token_validator).
ValidatorResult = Union[bool, str, Mapping[str, Any], None]
TokenValidator = Callable[[str, str], ValidatorResult]


def _apply_verdict(result: ValidatorResult, verdict: int) -> int:
    lib = _native.lib()
    if isinstance(result, bool):
        return 1 if result else 0
    if result is None:
        return 0
    if isinstance(result, str):
        if result:
            lib.zlt_verdict_set_reason(verdict, _native.encode(result, "the refusal reason"))
        return 0
    if isinstance(result, Mapping):
        try:
            lib.zlt_verdict_set_grant(verdict, _native.encode(json.dumps(result), "the grant"))
        except (TunnelError, TypeError, ValueError) as e:
            # Accepting with the default grant instead would give the agent more than the
            # host meant to: refuse.
            _log.error("token validator returned an invalid grant (%s); the agent is refused", e)
            return 0
        return 1
    _log.error(
        "token validator returned %s (expected bool, str or dict); the agent is refused",
        type(result).__name__,
    )
    return 0


def _validator_trampoline(handlers: Handlers) -> Any:
    def on_token(user: int | None, token: bytes, token_hash: bytes, verdict: int) -> int:
        def call() -> int:
            validator = handlers.validator
            if validator is None:
                return 0
            result = validator(_native.decode(token), _native.decode(token_hash))
            return _apply_verdict(result, verdict)

        # An exception means "refuse", with the library's generic reason: the agent is not
        # told anything about the host's failure.
        return _native.run_callback(
            handlers.runtime_token, "the token validator (the agent is refused)", call, 0
        )

    return _native.VALIDATOR_CB(on_token)


class TunnelServer(_LoopObject):
    """The server side of tunnels (the registry): it authenticates agents, keeps the registry
    of their tunnels and services, and opens their public ports.

    Args:
        runtime: the runtime to live on.
        config: the server configuration, as a dict or JSON text with the schema of the
            configuration file, e.g. ``{"listen": "127.0.0.1:0", "public_bind": "127.0.0.1",
            "data_port_range": [0, 0], "tokens": [{"token": "s3cret"}]}``. None means the
            defaults (listen on 0.0.0.0:3679, public ports 30000-31000, no tokens).

    Nothing listens until :meth:`listen` or :meth:`accept`.

    Raises:
        ConfigError: invalid JSON or setting; the message names the field.
        ShutdownError: the runtime is closed.
    """

    _kind = "server"
    _close_order = 1  # after the agents of the same runtime

    def __init__(self, runtime: Runtime, config: Mapping[str, Any] | str | None = None) -> None:
        super().__init__(runtime)
        text = _native.config_text(config, "config")
        handle = ctypes.c_void_p()
        _native.lib().zlt_registry_new(runtime._require(), text, ctypes.byref(handle))
        self._handle = handle.value
        self._validator_thunk: Any = None
        runtime._adopt(self)

    def _free(self, handle: int) -> None:
        _native.lib().zlt_registry_free(handle)

    def listen(self, host: str | None = None, port: int = -1) -> int:
        """Listens for agents (the WebSocket control endpoint) and returns the bound port.

        Args:
            host: the address to bind; None means the host of the configuration's "listen".
            port: -1 means the configured port, 0 lets the kernel choose.

        May be called several times to listen on several addresses.

        Raises:
            TunnelConnectionError: address in use, bad host, ...
            InvalidArgumentError: port out of -1..65535.
        """
        bound = ctypes.c_int(0)
        c_host = None if host is None else _native.encode(host, "host")
        _native.lib().zlt_registry_listen(
            self._require(), c_host, operator.index(port), ctypes.byref(bound)
        )
        return bound.value

    def accept(self, sock: socket.socket | int) -> None:
        """Serves a TCP connection the host has already accepted.

        Ownership of the socket (or file descriptor) passes to the library whatever the
        outcome: a socket object is detached, and the descriptor is closed by the library
        when the connection ends or, on failure, before this raises.
        """
        if isinstance(sock, socket.socket):
            fd = sock.detach()
        else:
            fd = operator.index(sock)
        handle = self._handle
        if handle is None:
            if fd >= 0:
                os.close(fd)
            self._require()  # raises
        _native.lib().zlt_registry_accept(handle, fd)

    def set_token_validator(self, validator: TokenValidator | None) -> None:
        """Decides, in place of the configured token list, which agents may open a tunnel.

        ``validator(token, token_hash)`` runs on the loop thread while the agent waits;
        ``token_hash`` is the token's lower-case hex SHA-256. It returns:

        * ``True``: accept with the default grant (any public port, no open targets);
        * a dict: accept with this grant, e.g. ``{"name": "team-a", "allowed_ports":
          [30000, 30010], "allow": ["service:db"]}`` (an invalid grant refuses the agent);
        * ``False`` or ``None``: refuse ("invalid tunnel token");
        * a str: refuse with this reason (the agent reports it in its "auth_failed" event).

        An exception is logged and refuses the agent. None restores the configured token
        list; that cannot be done from inside the validator itself (InvalidArgumentError).
        """
        handle = self._require()
        lib = _native.lib()
        if validator is None:
            lib.zlt_registry_set_token_validator(handle, _native.NULL_VALIDATOR_CB, None)
            self._handlers.validator = None
            return
        if not callable(validator):
            raise TypeError("validator must be callable or None")
        self._handlers.validator = validator
        if self._validator_thunk is None:
            self._validator_thunk = self._keep(_validator_trampoline(self._handlers))
        lib.zlt_registry_set_token_validator(handle, self._validator_thunk, None)

    def on_event(self, handler: EventHandler | None) -> None:
        """Reports the server's events to ``handler(event: dict)`` on the loop thread:
        "tunnel_connected", "tunnel_disconnected", "service_registered",
        "service_unregistered". Replaces any previous handler; None stops reporting.
        Exceptions raised by the handler are logged and ignored."""
        self._set_event_handler(handler, _native.lib().zlt_registry_on_event)

    def status(self) -> RegistryStatus:
        """A snapshot of the listeners, tunnels, services and traffic."""
        handle = self._require()
        text = _native.out_string(lambda out: _native.lib().zlt_registry_status(handle, out))
        result: RegistryStatus = json.loads(text)
        return result

    def metrics(self) -> str:
        """The Prometheus text exposition (format 0.0.4): what the `--metrics` listener
        serves on GET /metrics."""
        handle = self._require()
        return _native.out_string(lambda out: _native.lib().zlt_registry_metrics(handle, out))

    def grant_access(
        self,
        targets: Iterable[str] | str,
        ttl: str | float | datetime.timedelta,
        name: str | None = None,
    ) -> AccessGrant:
        """Issues an access grant: a fresh token that may open only ``targets`` and expires
        after ``ttl``.

        Args:
            targets: what the token may reach: "service:NAME" (a service registered on this
                server, internal or public), "HOST:PORT" or "CIDR:PORT"; "*" segments are
                allowed. A single str is one target.
            ttl: how long the grant lives: text such as "10m", a number of seconds or a
                timedelta; > 0, capped at the configuration's "max_access_ttl".
            name: shown in logs, events and status (default: "grant-" and the id's start).

        Returns:
            ``{"grant_id", "name", "targets", "created_at", "expires_at", "token"}``. The token
            (for an :class:`~zlayer_tunnel.AccessClient`) is shown this once; the server keeps
            only its hash.

        Raises:
            ConfigError: no target, an invalid target or a TTL of 0 (the message names it).
        """
        if isinstance(targets, str):
            targets = [targets]
        request: dict[str, Any] = {
            "targets": list(targets),
            "ttl": _native.duration_text(ttl, "ttl"),
        }
        if name is not None:
            request["name"] = name
        handle = self._require()
        text = _native.encode(json.dumps(request), "the grant request")
        answer = _native.out_string(
            lambda out: _native.lib().zlt_registry_grant_access(handle, text, out)
        )
        result: AccessGrant = json.loads(answer)
        return result

    def revoke_access(self, grant_id: str) -> None:
        """Revokes a grant: its token is refused from now on, and a session using it is
        disconnected at once ("fatal: token revoked").

        Raises:
            NotFoundError: no such grant (never issued, already revoked or expired).
            InvalidArgumentError: ``grant_id`` is not a UUID.
        """
        _native.lib().zlt_registry_revoke_access(
            self._require(), _native.encode(grant_id, "grant_id")
        )

    def list_grants(self) -> list[AccessGrant]:
        """The grants in force, as :meth:`grant_access` returns them but without the token."""
        handle = self._require()
        text = _native.out_string(lambda out: _native.lib().zlt_registry_list_grants(handle, out))
        result: list[AccessGrant] = json.loads(text)
        return result

    def reload(self, config: Mapping[str, Any] | str | None = None) -> ReloadReport:
        """Applies a new configuration without dropping what it still allows.

        Tokens, allow lists, limits (for what is opened from now on), the admin token and the
        TLS certificate and key (read again from their files) take effect; a session whose
        token is gone is disconnected ("fatal: token revoked"), one whose token no longer
        allows a service it holds is asked to reconnect. Fields bound to sockets ("listen",
        "public_bind", "data_port_range", ...) keep their running values and are named in the
        report's "needs_restart". None applies the last configuration again (a certificate
        rotation).

        Raises:
            ConfigError: invalid JSON or setting, or a certificate that does not load; the
                message names the field and nothing changed.
            ShutdownError: the server was stopped.
        """
        handle = self._require()
        text = _native.config_text(config, "config")
        answer = _native.out_string(
            lambda out: _native.lib().zlt_registry_reload(handle, text, out)
        )
        result: ReloadReport = json.loads(answer)
        return result

    def drain(self, grace: float | datetime.timedelta) -> None:
        """Stops gracefully: no new agent sessions, public connections, registrations or
        Opens are taken from now on (the metrics /ready answers 503); open streams carry on
        until they end or ``grace`` has passed, then the server stops as :meth:`stop` does.

        Returns once the server has stopped; called from an event handler (on the loop
        thread) it only begins the drain. A drain already running is shortened to the
        smaller grace.

        Args:
            grace: a number of seconds or a timedelta; >= 0.

        Raises:
            InvalidArgumentError: a negative grace.
        """
        millis = _native.duration_millis(grace, "grace")
        _native.lib().zlt_registry_drain(self._require(), millis)

    def stop(self) -> None:
        """Stops serving: sessions are told the server is shutting down, listeners and public
        ports are closed. Idempotent; a stopped server cannot be restarted."""
        _native.lib().zlt_registry_stop(self._require())

    def __enter__(self) -> TunnelServer:
        return self

    def __repr__(self) -> str:
        return f"<TunnelServer {'closed' if self.closed else 'open'}>"
