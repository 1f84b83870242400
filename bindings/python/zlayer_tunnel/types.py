"""Typed shapes of the dicts the library hands back (status snapshots and events).

These describe the JSON the library produces; newer library versions may add keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "Event",
    "EventHandler",
    "Traffic",
    "AgentState",
    "AgentServiceStatus",
    "AgentStatus",
    "ServerServiceStatus",
    "TunnelStatus",
    "RegistryStatus",
    "AccessGrant",
    "ReloadReport",
    "AccessSession",
    "NodeTunnelState",
    "NodeTunnelStatus",
    "NodeServerStatus",
    "NodeStatus",
]

#: An event: always has "event" (its kind); the other keys depend on the kind, e.g.
#: {"event": "service_registered", "name": "web", "public_port": 30001, ...}.
Event = dict[str, Any]
EventHandler = Callable[[Event], object]

AgentState = Literal["disconnected", "connecting", "connected", "reconnecting"]


class Traffic(TypedDict):
    """Traffic counters (of a tunnel, a service or a whole server)."""

    bytes_in: int
    bytes_out: int
    datagrams_in: int
    datagrams_out: int
    drops: int
    streams_active: int
    streams_total: int


class AgentServiceStatus(TypedDict):
    """One service of an agent."""

    name: str
    protocol: str  # "tcp" or "udp"
    local_port: int
    remote_port: int  # 0: any public port
    internal: bool
    status: str
    service_id: str | None
    public_port: int | None  # None until the server has registered the service
    traffic: Traffic
    reason: NotRequired[str]  # why it failed, when status is "failed"


class AgentStatus(TypedDict):
    """TunnelAgent.status()."""

    state: AgentState
    server_url: str
    client_id: str
    attempt: int
    reconnects: int
    services: list[AgentServiceStatus]
    tunnel_id: str | None
    connected_at: str | None  # ISO 8601
    last_error: str | None
    # Present while a session is authenticated:
    version: NotRequired[int]
    features: NotRequired[int]
    streams: NotRequired[int]
    traffic: NotRequired[Traffic]
    rtt_ms: NotRequired[float | None]


class ServerServiceStatus(TypedDict):
    """One service registered by a tunnel, as the server sees it."""

    id: str
    name: str
    protocol: str
    local_port: int
    remote_port: int
    internal: bool
    connections: int
    assigned_port: int | None
    traffic: Traffic


class TunnelStatus(TypedDict):
    """One connected tunnel (agent) of a server."""

    id: str
    name: str | None
    client_addr: str
    connected_at: str  # ISO 8601
    peer: str
    version: int
    features: int
    streams: int
    rtt_ms: float | None
    traffic: Traffic
    services: list[ServerServiceStatus]


class RegistryStatus(TypedDict):
    """TunnelServer.status()."""

    listen: list[str]
    tls: bool
    tunnel_count: int
    service_count: int
    sessions: int
    tunnels: list[TunnelStatus]
    traffic: Traffic
    #: a cluster member's {"node_id", "advertise_url", "store_available", "members"}; None
    #: outside a cluster
    cluster: dict[str, Any] | None


class ReloadReport(TypedDict):
    """TunnelServer.reload()."""

    tokens: int  # tokens configured after the reload
    revoked: int  # sessions disconnected because their token is gone
    reconnected: int  # sessions asked to reconnect because their token's permissions changed
    tls_reloaded: bool  # the certificate and key were read again
    needs_restart: list[str]  # fields that changed but keep their running value


class AccessGrant(TypedDict):
    """TunnelServer.grant_access() and list_grants()."""

    grant_id: str
    name: str
    targets: list[str]
    created_at: str  # RFC 3339, UTC
    expires_at: str  # RFC 3339, UTC
    token: NotRequired[str]  # only in the answer of grant_access()


class AccessSession(TypedDict):
    """One session of an AccessClient."""

    id: str
    target: str
    local_addr: str  # "HOST:PORT" it listens on
    local_port: int
    protocol: str  # "tcp" or "udp"
    created_at: str  # RFC 3339, UTC
    expires_at: str | None  # None: until stopped
    remaining_ms: int | None
    bytes_in: int
    bytes_out: int
    connections_active: int
    connections_total: int


NodeTunnelState = Literal["pending", "connecting", "connected", "disconnected", "failed"]


#: One tunnel of a NodeManager's status ("from" is a keyword, hence this spelling).
NodeTunnelStatus = TypedDict(
    "NodeTunnelStatus",
    {
        "name": str,
        "from": str,  # the source node
        "to": str,  # the destination node
        "direction": str,  # "outbound", "inbound" or "none"
        "local_port": int,
        "remote_port": int,
        "state": NodeTunnelState,
        "connected_at": str | None,  # RFC 3339, UTC
        "last_activity": str | None,
        "bytes_in": int,
        "bytes_out": int,
        "latency_ms": float | None,
        "reconnects": int,
        "reason": NotRequired[str],  # when failed or disconnected
        "route": NotRequired[str],  # outbound: "overlay" or "direct"
        "route_reason": NotRequired[str],
        "url": NotRequired[str],  # outbound: the server URL in use
        "public_port": NotRequired[int],  # public tunnels, once registered
        "listen": NotRequired[str],  # internal inbound tunnels: "HOST:PORT"
    },
)


class NodeServerStatus(TypedDict):
    """The server side of a NodeManager."""

    listen: list[str]  # "HOST:PORT"
    sessions: int


class NodeStatus(TypedDict):
    """NodeManager.status()."""

    node_name: str
    running: bool
    server: NodeServerStatus | None
    tunnels: list[NodeTunnelStatus]
