"""The runtime (an event loop on its own thread) and the base of the objects living on it."""

from __future__ import annotations

import ctypes
import itertools
import threading
import weakref
from collections.abc import Callable
from typing import Any

from . import _native
from .errors import EINVAL, InvalidArgumentError, ShutdownError
from .types import EventHandler

__all__ = ["Runtime"]

_tokens = itertools.count(1)


class _Closing:
    """close() on leaving a `with` block, and close() from the finalizer as a safety net only
    (close() explicitly or use `with`). Subclasses set `_handle` (None once closed)."""

    _handle: Any

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._handle is None:
                return
            if _native.in_callback():
                _native.defer(self.close)
            else:
                self.close()
        except Exception:  # noqa: BLE001 - nothing useful to do in a finalizer
            pass


class Runtime(_Closing):
    """An event loop running on a thread of its own, owned by the library.

    Every :class:`~zlayer_tunnel.TunnelServer` and :class:`~zlayer_tunnel.TunnelAgent` lives
    on one runtime, and all their callbacks run on its loop thread. Closing the runtime closes
    the objects still open on it and joins the thread.

    Use it as a context manager, or call :meth:`close` when done::

        with Runtime() as rt:
            ...
    """

    def __init__(self) -> None:
        lib = _native.lib()
        _native.drain_deferred()
        handle = ctypes.c_void_p()
        lib.zlt_runtime_new(ctypes.byref(handle))
        self._handle: int | None = handle.value
        # Identifies this runtime in the callback stack (an id() could be reused).
        self._token = next(_tokens)
        # Reentrant: a collection inside a locked section may finalize a child, whose
        # close() reports back here on the same thread.
        self._lock = threading.RLock()
        self._children: weakref.WeakSet[_LoopObject] = weakref.WeakSet()
        # Trampolines of objects closed from inside a callback of this runtime: the library
        # destroys those objects once the callback has returned, so their trampolines are
        # released only when the runtime is (no callback runs after that).
        self._retired: list[Any] = []
        _native.live_runtimes.add(self)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._handle is None

    def close(self) -> None:
        """Closes every object still open on this runtime, stops the loop and joins its thread.

        Idempotent. Raises :class:`InvalidArgumentError` when called from a callback of this
        runtime (its loop thread cannot join itself); the runtime is then left running.
        """
        if self._handle is None:
            return
        if _native.in_callback_of(self._token):
            raise InvalidArgumentError(
                "Runtime.close: cannot be called from a callback of this runtime "
                "(its loop thread cannot join itself)",
                EINVAL,
            )
        # Agents first, so that their goodbye reaches a server on this same runtime.
        with self._lock:
            children = sorted(self._children, key=lambda c: c._close_order)
        for child in children:
            child.close()
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            _native.lib().zlt_runtime_free(handle)
        finally:
            self._retired.clear()
            _native.live_runtimes.discard(self)
            _native.drain_deferred()

    def __repr__(self) -> str:
        return f"<Runtime {'closed' if self.closed else 'open'}>"

    # ---- for the objects living on this runtime ----

    def _require(self) -> int:
        handle = self._handle
        if handle is None:
            raise ShutdownError("the runtime is closed")
        return handle

    def _adopt(self, child: _LoopObject) -> None:
        with self._lock:
            self._children.add(child)

    def _release(self, child: _LoopObject, trampolines: list[Any]) -> None:
        with self._lock:
            self._children.discard(child)
            if _native.in_callback_of(self._token):
                self._retired.extend(trampolines)


class Handlers:
    """The Python callables an object's trampolines dispatch to.

    Kept apart from the object so that the trampolines (which the library holds) do not keep
    the object itself alive, and so that a handler can be swapped without touching the
    trampoline the loop thread may be running.
    """

    __slots__ = ("runtime_token", "event", "validator", "connection", "resolver")

    def __init__(self, runtime_token: int) -> None:
        self.runtime_token = runtime_token
        self.event: EventHandler | None = None
        self.validator: Callable[..., Any] | None = None
        self.connection: Callable[..., Any] | None = None
        self.resolver: Callable[..., Any] | None = None


def _event_trampoline(handlers: Handlers, what: str) -> Any:
    def on_event(user: int | None, ev: Any) -> None:
        def call() -> None:
            handler = handlers.event
            if handler is not None:
                handler(_native.parse_event(ev))

        _native.run_callback(handlers.runtime_token, what, call, None)

    return _native.EVENT_CB(on_event)


class _LoopObject(_Closing):
    """What a server and an agent share: a handle on a runtime and the trampolines the library
    may call, both released by close()."""

    _kind = "object"
    _close_order = 0

    def __init__(self, runtime: Runtime) -> None:
        if not isinstance(runtime, Runtime):
            raise TypeError(f"runtime must be a Runtime, not {type(runtime).__name__}")
        _native.drain_deferred()
        self._runtime = runtime
        self._handle: int | None = None
        self._lock = threading.Lock()
        # Every CFUNCTYPE object handed to the library, kept until the library can no longer
        # call it (ctypes frees the trampoline with the Python object).
        self._trampolines: list[Any] = []
        self._handlers = Handlers(runtime._token)
        self._event_thunk: Any = None

    @property
    def runtime(self) -> Runtime:
        """The runtime this object lives on."""
        return self._runtime

    @property
    def closed(self) -> bool:
        """Whether the object has been closed (directly or by closing its runtime)."""
        return self._handle is None

    def _require(self) -> int:
        handle = self._handle
        if handle is None:
            raise ShutdownError(f"the {self._kind} is closed")
        return handle

    def _free(self, handle: int) -> None:
        raise NotImplementedError

    def _keep(self, trampoline: Any) -> Any:
        self._trampolines.append(trampoline)
        return trampoline

    def _set_event_handler(
        self, handler: EventHandler | None, register: Callable[[int, Any, Any], object]
    ) -> None:
        # One trampoline per object, created on first use and kept until close().
        handle = self._require()
        if handler is None:
            register(handle, _native.NULL_EVENT_CB, None)
            self._handlers.event = None
            return
        if not callable(handler):
            raise TypeError("handler must be callable or None")
        self._handlers.event = handler
        if self._event_thunk is None:
            what = f"a {type(self).__name__} event handler (ignored)"
            self._event_thunk = self._keep(_event_trampoline(self._handlers, what))
        register(handle, self._event_thunk, None)

    def close(self) -> None:
        """Stops (if needed) and destroys the object. Idempotent.

        Once this returns none of the object's callbacks will run again. Called from inside
        a callback of the same runtime, the object is silenced at once and destroyed as soon
        as that callback returns.
        """
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is None:
            return
        self._free(handle)
        trampolines, self._trampolines = self._trampolines, []
        self._runtime._release(self, trampolines)
