"""Python binding of zlayer-tunnel, over its stable C interface (libzlayer_tunnel.so.0).

Quick tour::

    import zlayer_tunnel as zt

    with zt.Runtime() as rt, zt.TunnelServer(rt, server_config) as server:
        port = server.listen("127.0.0.1", 0)
        with zt.TunnelAgent(rt, agent_config) as agent:
            agent.on_event(print)
            agent.start()
        grant = server.grant_access(["service:db"], ttl="10m")
        with zt.AccessClient(rt, {"server_url": url, "token": grant["token"]}) as access:
            session = access.start_session("service:db")  # session["local_port"]
        with zt.NodeManager(rt, node_config) as node:  # node-to-node tunnels
            node.start()

Threading: every object lives on a :class:`Runtime`, whose event loop runs on a thread of
the library's own. Event handlers, the token validator and the connection filter run on that
thread, one at a time; while one runs, nothing else on that runtime makes progress, so they
must return quickly (hand slow work to another thread). Methods may be called from any
thread, including from inside those callbacks. The library's log records go to the logging
module, under the logger "zlayer_tunnel.lib.<component>".

The library is loaded on first use from $ZLAYER_TUNNEL_LIB, else from pkg-config's libdir
for "zlayer-tunnel", else wherever the dynamic linker finds libzlayer_tunnel.so.0.
"""

from __future__ import annotations

from . import _native
from .access import AccessClient
from .agent import ConnectionFilter, TunnelAgent
from .node import NodeManager, OverlayResolver
from .errors import (
    AlreadyExistsError,
    AuthError,
    ClosedError,
    ConfigError,
    InternalError,
    InvalidArgumentError,
    LibraryNotFoundError,
    LimitError,
    NotFoundError,
    ProtocolError,
    RegistryError,
    ShutdownError,
    TunnelConnectionError,
    TunnelError,
    TunnelIOError,
    TunnelMemoryError,
    TunnelTimeoutError,
)
from .runtime import Runtime
from .server import TokenValidator, TunnelServer, ValidatorResult
from .types import (
    AccessGrant,
    AccessSession,
    AgentServiceStatus,
    AgentState,
    AgentStatus,
    Event,
    EventHandler,
    NodeServerStatus,
    NodeStatus,
    NodeTunnelState,
    NodeTunnelStatus,
    RegistryStatus,
    ReloadReport,
    ServerServiceStatus,
    Traffic,
    TunnelStatus,
)

__version__ = "0.3.0"

__all__ = [
    "Runtime",
    "TunnelServer",
    "TunnelAgent",
    "AccessClient",
    "NodeManager",
    "OverlayResolver",
    "version",
    "hash_token",
    "new_token",
    "set_log_level",
    "forward_logs",
    "strerror",
    "library_path",
    "TunnelError",
    "ProtocolError",
    "AuthError",
    "TunnelConnectionError",
    "RegistryError",
    "ConfigError",
    "TunnelTimeoutError",
    "ShutdownError",
    "InvalidArgumentError",
    "NotFoundError",
    "AlreadyExistsError",
    "LimitError",
    "TunnelIOError",
    "InternalError",
    "TunnelMemoryError",
    "ClosedError",
    "LibraryNotFoundError",
    "Event",
    "EventHandler",
    "TokenValidator",
    "ValidatorResult",
    "ConnectionFilter",
    "Traffic",
    "AgentState",
    "AgentStatus",
    "AgentServiceStatus",
    "RegistryStatus",
    "ReloadReport",
    "TunnelStatus",
    "ServerServiceStatus",
    "AccessGrant",
    "AccessSession",
    "NodeStatus",
    "NodeServerStatus",
    "NodeTunnelStatus",
    "NodeTunnelState",
]


def version() -> str:
    """The loaded library's version, e.g. "0.1.0"."""
    return _native.decode(_native.lib().zlt_version())


def strerror(code: int) -> str:
    """A short English description of a ZLT_E* result code."""
    return _native.decode(_native.lib().zlt_strerror(code))


def library_path() -> str:
    """What the shared library was loaded from."""
    return _native.library_path()


def hash_token(token: str) -> str:
    """The server-side identity of a token: its SHA-256 as 64 lower-case hex digits (the value
    of "sha256" in a server's "tokens" list)."""
    data = _native.encode(token, "token")
    return _native.out_string(lambda out: _native.lib().zlt_hash_token(data, out))


def new_token() -> str:
    """A new random token ("tun_" and 32 hex digits) from a cryptographic generator."""
    return _native.out_string(lambda out: _native.lib().zlt_token_new(out))


def set_log_level(level: str) -> None:
    """Sets the library's process-wide log threshold: "trace", "debug", "info" (the
    default), "warn", "error" or "off". Raises InvalidArgumentError for other names.

    Records above the threshold still pass through the logging module's own levels.
    """
    _native.lib().zlt_set_log_level(_native.encode(level, "level"))


def forward_logs(enabled: bool = True) -> None:
    """Sends the library's log records to the logging module (the default once the library is
    loaded) or, with False, lets the library write them to standard error itself."""
    _native.forward_logs(enabled)
