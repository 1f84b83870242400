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
    rtt_ms: NotRequired[int | None]


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
    rtt_ms: int | None
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
