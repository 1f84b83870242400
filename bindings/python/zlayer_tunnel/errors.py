"""Exceptions raised by the binding.

Every failing call of the C library becomes a :class:`TunnelError` (or one of its
subclasses, chosen by the result code) carrying the code and the library's own message, which
names the offending argument or configuration field where there is one.
"""

from __future__ import annotations

__all__ = [
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
    "error_for_code",
]

# Result codes of zlayer_tunnel.h (ZLT_E*).
OK = 0
EPROTOCOL = -1
EAUTH = -2
ECONNECTION = -3
EREGISTRY = -4
ECONFIG = -5
ETIMEOUT = -6
ESHUTDOWN = -7
EINVAL = -8
ENOTFOUND = -9
EEXISTS = -10
ELIMIT = -11
EIO = -12
EINTERNAL = -13
ENOMEM = -14
ECLOSED = -15


class TunnelError(Exception):
    """A call into zlayer-tunnel failed.

    Attributes:
        code: the negative ``ZLT_E*`` result code.
        message: the library's description of this failure (``zlt_last_error()``).
    """

    #: The result code this class stands for (the base class has none of its own).
    default_code: int = EINTERNAL

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = self.default_code if code is None else code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code})"


class ProtocolError(TunnelError):
    """Malformed or unexpected data from a peer (``ZLT_EPROTOCOL``)."""

    default_code = EPROTOCOL


class AuthError(TunnelError):
    """Authentication refused (``ZLT_EAUTH``)."""

    default_code = EAUTH


class TunnelConnectionError(TunnelError):
    """Socket, TLS, DNS or WebSocket failure, e.g. address in use (``ZLT_ECONNECTION``)."""

    default_code = ECONNECTION


class RegistryError(TunnelError):
    """Tunnel, service or port bookkeeping, e.g. a port taken (``ZLT_EREGISTRY``)."""

    default_code = EREGISTRY


class ConfigError(TunnelError):
    """Invalid configuration or JSON argument; the message names the field (``ZLT_ECONFIG``)."""

    default_code = ECONFIG


class TunnelTimeoutError(TunnelError):
    """An operation ran out of time (``ZLT_ETIMEOUT``)."""

    default_code = ETIMEOUT


class ShutdownError(TunnelError):
    """The object or its runtime is stopping, stopped, freed or closed (``ZLT_ESHUTDOWN``)."""

    default_code = ESHUTDOWN


class InvalidArgumentError(TunnelError):
    """An invalid argument, or a call not allowed where it was made (``ZLT_EINVAL``)."""

    default_code = EINVAL


class NotFoundError(TunnelError):
    """No such object (``ZLT_ENOTFOUND``)."""

    default_code = ENOTFOUND


class AlreadyExistsError(TunnelError):
    """Already exists (``ZLT_EEXISTS``)."""

    default_code = EEXISTS


class LimitError(TunnelError):
    """A configured limit was reached (``ZLT_ELIMIT``)."""

    default_code = ELIMIT


class TunnelIOError(TunnelError):
    """Local file I/O failed (``ZLT_EIO``)."""

    default_code = EIO


class InternalError(TunnelError):
    """A bug in the library; please report it with the message (``ZLT_EINTERNAL``)."""

    default_code = EINTERNAL


class TunnelMemoryError(TunnelError):
    """The library ran out of memory (``ZLT_ENOMEM``)."""

    default_code = ENOMEM


class ClosedError(ShutdownError):
    """The object was freed by another thread before this call ran (``ZLT_ECLOSED``).

    A subclass of :class:`ShutdownError`, so code that handles a closed object keeps working.
    """

    default_code = ECLOSED


class LibraryNotFoundError(OSError):
    """The shared library libzlayer_tunnel.so.0 could not be found or loaded."""


_BY_CODE: dict[int, type[TunnelError]] = {
    cls.default_code: cls
    for cls in (
        ProtocolError,
        AuthError,
        TunnelConnectionError,
        RegistryError,
        ConfigError,
        TunnelTimeoutError,
        ShutdownError,
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        LimitError,
        TunnelIOError,
        InternalError,
        TunnelMemoryError,
        ClosedError,
    )
}


def error_for_code(code: int, message: str) -> TunnelError:
    """Builds the exception matching a ``ZLT_E*`` result code (unknown codes give the base)."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return TunnelError(message, code)
    return cls(message, code)
