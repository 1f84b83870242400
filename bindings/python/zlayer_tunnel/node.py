"""Node-to-node tunnels: one node's side of the tunnels between nodes."""

from __future__ import annotations

import ctypes
import json
from collections.abc import Callable, Mapping
from typing import Any

from . import _native
from .runtime import Handlers, Runtime, _LoopObject
from .types import EventHandler, NodeStatus

__all__ = ["NodeManager", "OverlayResolver"]

#: ``resolver(node_name) -> address or None``
OverlayResolver = Callable[[str], str | None]


def _resolver_trampoline(handlers: Handlers) -> Any:
    def on_resolve(user: int | None, node: bytes, out: int | None, size: int) -> int:
        def call() -> int:
            resolve = handlers.resolver
            if resolve is None or not out:
                return 0
            address = resolve(_native.decode(node))
            if address is None:
                return 0
            if not isinstance(address, str):
                raise TypeError(
                    f"the overlay resolver must return a str or None, not {type(address).__name__}"
                )
            data = _native.encode(address, "the overlay address")
            if not data or len(data) + 1 > size:
                return 0
            ctypes.memmove(out, data + b"\0", len(data) + 1)
            return 1

        # A node nobody could resolve is unreachable through the overlay.
        return _native.run_callback(
            handlers.runtime_token, "the overlay resolver (the node is unreachable)", call, 0
        )

    return _native.RESOLVER_CB(on_resolve)


class NodeManager(_LoopObject):
    """One node's side of node-to-node tunnels.

    A tunnel whose "from" is this node is outbound: an agent registers this node's service
    ("local_port") with the destination node's tunnel server, through the overlay network or
    directly ("routing_mode", "direct_url", "overlay_url"). A tunnel whose "to" is this node is
    inbound: the node's "server" accepts its token and, for an internal tunnel, listens on
    "remote_port" so that connections there reach the source's service.

    Args:
        runtime: the runtime to live on.
        config: the node configuration, as a dict or JSON text with the schema of the
            ``zlt node --config`` file: "node_name" (required), "server" (with "listen"; only
            on a node that accepts tunnels), "tunnels", and the outbound agents' settings
            ("reconnect_interval", "connect_timeout", ...).

    Nothing connects or listens until :meth:`start`.

    Raises:
        ConfigError: invalid JSON or setting; the message names the field.
        ShutdownError: the runtime is closed.

    Example::

        with NodeManager(rt, {"node_name": "node-b", "server": {"listen": "0.0.0.0:3680"},
                              "tunnels": [db_tunnel]}) as node:
            node.on_event(print)
            node.start()
    """

    _kind = "node manager"
    _close_order = 0  # before the servers of the same runtime

    def __init__(self, runtime: Runtime, config: Mapping[str, Any] | str) -> None:
        super().__init__(runtime)
        text = _native.config_text(config, "config")
        handle = ctypes.c_void_p()
        _native.lib().zlt_node_manager_new(runtime._require(), text, ctypes.byref(handle))
        self._handle = handle.value
        self._resolver_thunk: Any = None
        runtime._adopt(self)

    def _free(self, handle: int) -> None:
        _native.lib().zlt_node_manager_free(handle)

    def on_event(self, handler: EventHandler | None) -> None:
        """Reports events to ``handler(event: dict)`` on the loop thread:

        * "tunnel_state", with "tunnel", "state" ("pending", "connecting", "connected",
          "disconnected", "failed"), "direction" ("outbound", "inbound", "none") and, when it
          failed or went down, "reason";
        * "route", with "tunnel", "route" ("overlay" or "direct"), "url" and, for a fallback,
          "reason".

        Events arrive shortly after the change, never from inside the manager's own
        processing, so the handler may call any method of this manager. Replaces any previous
        handler; None stops reporting. Exceptions raised by the handler are logged and
        ignored."""
        self._set_event_handler(handler, _native.lib().zlt_node_manager_on_event)

    def set_overlay_resolver(self, resolve: OverlayResolver | None) -> None:
        """Lets ``resolve(node_name)`` give a node's overlay address (an IP literal or a host
        name) or None when the node is unreachable through the overlay. An outbound tunnel
        without "overlay_url" asks whenever it picks a route, and uses its "direct_url" with
        the host replaced by the answer. Runs on the loop thread: it must be quick and must not
        call methods of this manager (they raise InvalidArgumentError there); an exception is
        logged and counts as None. None removes the resolver."""
        handle = self._require()
        lib = _native.lib()
        if resolve is None:
            lib.zlt_node_manager_set_overlay_resolver(handle, _native.NULL_RESOLVER_CB, None)
            self._handlers.resolver = None
            return
        if not callable(resolve):
            raise TypeError("resolve must be callable or None")
        self._handlers.resolver = resolve
        if self._resolver_thunk is None:
            self._resolver_thunk = self._keep(_resolver_trampoline(self._handlers))
        lib.zlt_node_manager_set_overlay_resolver(handle, self._resolver_thunk, None)

    def add_tunnel(self, tunnel: Mapping[str, Any] | str) -> None:
        """Adds a tunnel (one element of the configuration's "tunnels", as a dict or JSON
        text). On a started manager it starts at once; progress is reported through events.

        Raises:
            ConfigError: a missing or invalid field; the message names it.
            AlreadyExistsError: a tunnel of that name exists.
        """
        text = _native.config_text(tunnel, "tunnel")
        _native.lib().zlt_node_manager_add_tunnel(self._require(), text)

    def remove_tunnel(self, name: str) -> None:
        """Removes a tunnel: stops its agent (outbound) or closes its listener and ends its
        source's session (inbound).

        Raises:
            NotFoundError: no such tunnel.
        """
        _native.lib().zlt_node_manager_remove_tunnel(
            self._require(), _native.encode(name, "name")
        )

    def start(self) -> None:
        """Starts the node: its server listens (if configured), inbound listeners are bound and
        outbound tunnels connect (and reconnect with backoff). Idempotent; a stopped manager
        may be started again.

        Raises:
            TunnelConnectionError: the server cannot listen.
        """
        _native.lib().zlt_node_manager_start(self._require())

    def stop(self) -> None:
        """Stops every tunnel and the server; the tunnels are kept for :meth:`start`.
        Idempotent."""
        _native.lib().zlt_node_manager_stop(self._require())

    def metrics(self) -> str:
        """The Prometheus text exposition (format 0.0.4): what the `--metrics` listener
        serves on GET /metrics."""
        handle = self._require()
        return _native.out_string(lambda out: _native.lib().zlt_node_manager_metrics(handle, out))

    def status(self) -> NodeStatus:
        """A snapshot: "node_name", "running", "server" ({"listen": [...], "sessions": n} or
        None) and "tunnels" (state, direction, route, traffic, "listen" of internal inbound
        tunnels, ...)."""
        handle = self._require()
        text = _native.out_string(lambda out: _native.lib().zlt_node_manager_status(handle, out))
        result: NodeStatus = json.loads(text)
        return result

    def server_port(self) -> int | None:
        """The port the node's server listens on, once started (None without a server)."""
        server = self.status().get("server")
        if not server or not server.get("listen"):
            return None
        return int(str(server["listen"][0]).rsplit(":", 1)[1])

    def __enter__(self) -> NodeManager:
        return self

    def __repr__(self) -> str:
        return f"<NodeManager {'closed' if self.closed else 'open'}>"
