"""The ctypes layer: finding and loading libzlayer_tunnel, the function prototypes, error
translation, and the plumbing every callback from the library goes through.

Nothing here is public API; the rest of the package builds on it.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import datetime
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .errors import LibraryNotFoundError, error_for_code

__all__ = ["lib", "library_path", "SONAME"]

_log = logging.getLogger("zlayer_tunnel")

#: The file name the library is published under: the ABI major version is part of it.
SONAME = "libzlayer_tunnel.so.0"
_ABI_MAJOR = "0"
_ENV_VAR = "ZLAYER_TUNNEL_LIB"

# ---- types crossing the boundary ---------------------------------------------------------


class Event(ctypes.Structure):
    """struct zlt_event: both strings are valid only during the callback."""

    _fields_ = [("name", ctypes.c_char_p), ("json", ctypes.c_char_p)]


EVENT_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(Event))
VALIDATOR_CB = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p
)
CONNECTION_CB = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p
)
# The address buffer is a c_void_p: a c_char_p argument would arrive as an immutable copy.
RESOLVER_CB = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t
)
LOG_CB = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p
)

# NULL function pointers: ctypes accepts only instances of the prototype for these arguments.
NULL_EVENT_CB = EVENT_CB()
NULL_VALIDATOR_CB = VALIDATOR_CB()
NULL_CONNECTION_CB = CONNECTION_CB()
NULL_LOG_CB = LOG_CB()
NULL_RESOLVER_CB = RESOLVER_CB()

_P_VOIDP = ctypes.POINTER(ctypes.c_void_p)
_P_INT = ctypes.POINTER(ctypes.c_int)
_int = ctypes.c_int
_str = ctypes.c_char_p
_ptr = ctypes.c_void_p

# name: (restype, argtypes, fallible). Fallible functions return a ZLT_E* code, turned into an
# exception by _check right after the call, on the calling thread, where zlt_last_error() is
# still the message of this very failure (it is thread-local).
_PROTOTYPES: dict[str, tuple[Any, list[Any], bool]] = {
    "zlt_version": (_str, [], False),
    "zlt_strerror": (_str, [_int], False),
    "zlt_last_error": (_str, [], False),
    "zlt_free": (None, [_ptr], False),
    "zlt_hash_token": (_int, [_str, _P_VOIDP], True),
    "zlt_token_new": (_int, [_P_VOIDP], True),
    "zlt_set_log_level": (_int, [_str], True),
    "zlt_set_log_callback": (_int, [LOG_CB, _ptr], True),
    "zlt_runtime_new": (_int, [_P_VOIDP], True),
    "zlt_runtime_free": (_int, [_ptr], True),
    "zlt_registry_new": (_int, [_ptr, _str, _P_VOIDP], True),
    "zlt_registry_listen": (_int, [_ptr, _str, _int, _P_INT], True),
    "zlt_registry_accept": (_int, [_ptr, _int], True),
    "zlt_registry_set_token_validator": (_int, [_ptr, VALIDATOR_CB, _ptr], True),
    "zlt_verdict_set_reason": (_int, [_ptr, _str], True),
    "zlt_verdict_set_grant": (_int, [_ptr, _str], True),
    "zlt_registry_on_event": (_int, [_ptr, EVENT_CB, _ptr], True),
    "zlt_registry_status": (_int, [_ptr, _P_VOIDP], True),
    "zlt_registry_metrics": (_int, [_ptr, _P_VOIDP], True),
    "zlt_registry_grant_access": (_int, [_ptr, _str, _P_VOIDP], True),
    "zlt_registry_revoke_access": (_int, [_ptr, _str], True),
    "zlt_registry_list_grants": (_int, [_ptr, _P_VOIDP], True),
    "zlt_registry_reload": (_int, [_ptr, _str, _P_VOIDP], True),
    "zlt_registry_drain": (_int, [_ptr, ctypes.c_longlong], True),
    "zlt_registry_stop": (_int, [_ptr], True),
    "zlt_registry_free": (None, [_ptr], False),
    "zlt_agent_new": (_int, [_ptr, _str, _P_VOIDP], True),
    "zlt_agent_on_event": (_int, [_ptr, EVENT_CB, _ptr], True),
    "zlt_agent_on_connection": (_int, [_ptr, CONNECTION_CB, _ptr], True),
    "zlt_agent_start": (_int, [_ptr], True),
    "zlt_agent_stop": (_int, [_ptr], True),
    "zlt_agent_status": (_int, [_ptr, _P_VOIDP], True),
    "zlt_agent_metrics": (_int, [_ptr, _P_VOIDP], True),
    "zlt_agent_free": (None, [_ptr], False),
    "zlt_access_new": (_int, [_ptr, _str, _P_VOIDP], True),
    "zlt_access_on_event": (_int, [_ptr, EVENT_CB, _ptr], True),
    "zlt_access_start_session": (_int, [_ptr, _str, _P_VOIDP], True),
    "zlt_access_stop_session": (_int, [_ptr, _str], True),
    "zlt_access_list": (_int, [_ptr, _P_VOIDP], True),
    "zlt_access_metrics": (_int, [_ptr, _P_VOIDP], True),
    "zlt_access_free": (None, [_ptr], False),
    "zlt_node_manager_new": (_int, [_ptr, _str, _P_VOIDP], True),
    "zlt_node_manager_on_event": (_int, [_ptr, EVENT_CB, _ptr], True),
    "zlt_node_manager_set_overlay_resolver": (_int, [_ptr, RESOLVER_CB, _ptr], True),
    "zlt_node_manager_add_tunnel": (_int, [_ptr, _str], True),
    "zlt_node_manager_remove_tunnel": (_int, [_ptr, _str], True),
    "zlt_node_manager_start": (_int, [_ptr], True),
    "zlt_node_manager_stop": (_int, [_ptr], True),
    "zlt_node_manager_status": (_int, [_ptr, _P_VOIDP], True),
    "zlt_node_manager_metrics": (_int, [_ptr, _P_VOIDP], True),
    "zlt_node_manager_free": (None, [_ptr], False),
}

# ---- loading -----------------------------------------------------------------------------

_lib: ctypes.CDLL | None = None
_lib_path: str | None = None
_load_lock = threading.Lock()


def _pkg_config_libdir() -> str | None:
    exe = shutil.which("pkg-config")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--variable=libdir", "zlayer-tunnel"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    libdir = out.stdout.strip()
    return libdir if out.returncode == 0 and libdir else None


def _candidates() -> list[tuple[str, str]]:
    """Where to look, in order, as (how it was found, what to dlopen)."""
    found: list[tuple[str, str]] = []
    libdir = _pkg_config_libdir()
    if libdir is not None:
        path = os.path.join(libdir, SONAME)
        if os.path.exists(path):
            found.append((f"pkg-config libdir {libdir}", path))
    name = ctypes.util.find_library("zlayer_tunnel")
    if name is not None:
        found.append(("ctypes.util.find_library", name))
    # dlopen by soname still finds it through LD_LIBRARY_PATH or the ld.so cache.
    found.append(("the dynamic linker's search path", SONAME))
    return found


def _bind(cdll: ctypes.CDLL, path: str) -> None:
    for name, (restype, argtypes, fallible) in _PROTOTYPES.items():
        try:
            fn = getattr(cdll, name)
        except AttributeError as e:
            raise LibraryNotFoundError(
                f"{path} is not a usable zlayer-tunnel library: it lacks {name}"
            ) from e
        fn.restype = restype
        fn.argtypes = argtypes
        if fallible:
            fn.errcheck = _check
    version = cdll.zlt_version().decode()
    if version.split(".", 1)[0] != _ABI_MAJOR:
        raise LibraryNotFoundError(
            f"{path} is zlayer-tunnel {version}; this binding needs ABI {_ABI_MAJOR}.x"
        )


def _load() -> ctypes.CDLL:
    global _lib, _lib_path
    explicit = os.environ.get(_ENV_VAR)
    if explicit:
        # An explicit path is a decision: failing to load it is an error, not a reason to pick
        # up some other copy of the library from the system.
        attempts = [(_ENV_VAR, explicit)]
    else:
        attempts = _candidates()
    failures: list[str] = []
    for how, target in attempts:
        try:
            cdll = ctypes.CDLL(target)
        except OSError as e:
            failures.append(f"  {target} ({how}): {e}")
            continue
        _bind(cdll, target)
        _lib, _lib_path = cdll, target
        _on_loaded(cdll)
        return cdll
    hint = (
        f"set {_ENV_VAR} to the path of {SONAME}, install the library where pkg-config "
        "('zlayer-tunnel') or the dynamic linker finds it, or add its directory to "
        "LD_LIBRARY_PATH"
    )
    raise LibraryNotFoundError(
        "cannot load the zlayer-tunnel C library; tried:\n" + "\n".join(failures) + "\n" + hint
    )


def lib() -> ctypes.CDLL:
    """The loaded library, loading it on first use (raises LibraryNotFoundError)."""
    cdll = _lib
    if cdll is not None:
        return cdll
    with _load_lock:
        return _lib if _lib is not None else _load()


def library_path() -> str:
    """What the library was loaded from (a path or a bare soname)."""
    lib()
    assert _lib_path is not None
    return _lib_path


# ---- errors and strings ------------------------------------------------------------------


def _check(result: int, func: Any, args: tuple[Any, ...]) -> int:
    if result != 0:
        cdll = _lib
        assert cdll is not None
        message = (cdll.zlt_last_error() or b"").decode("utf-8", "replace")
        if not message:
            message = cdll.zlt_strerror(result).decode("utf-8", "replace")
        raise error_for_code(result, message)
    return result


def encode(text: str, what: str) -> bytes:
    """UTF-8 for the C side, refusing text C would silently cut at a NUL."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be str, not {type(text).__name__}")
    if "\0" in text:
        raise ValueError(f"{what} must not contain NUL characters")
    return text.encode("utf-8")


def decode(raw: bytes | None) -> str:
    return "" if raw is None else raw.decode("utf-8", "replace")


def config_text(config: Mapping[str, Any] | str | None, what: str) -> bytes | None:
    """A configuration as the JSON text the C interface takes (None stays NULL)."""
    if config is None:
        return None
    if isinstance(config, str):
        return encode(config, what)
    if isinstance(config, Mapping):
        return encode(json.dumps(config), what)
    raise TypeError(f"{what} must be a dict or a JSON string, not {type(config).__name__}")


def duration_text(value: Any, what: str) -> str:
    """A duration as the library reads it: text such as "10m" or "500ms" as it is, a number of
    seconds (int or float) or a datetime.timedelta in milliseconds."""
    if isinstance(value, str):
        encode(value, what)  # refuses NUL characters early
        return value
    return f"{duration_millis(value, what)}ms"


def duration_millis(value: Any, what: str) -> int:
    """A number of seconds (int or float) or a datetime.timedelta, in whole milliseconds."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a duration, not bool")
    if isinstance(value, datetime.timedelta):
        return round(value.total_seconds() * 1000)
    if isinstance(value, (int, float)):
        return round(value * 1000)
    raise TypeError(
        f"{what} must be a str such as '10m', a number of seconds or a timedelta, "
        f"not {type(value).__name__}"
    )


def take_string(address: int | None) -> str:
    """Copies a string the library allocated and releases it with zlt_free()."""
    if not address:
        return ""
    try:
        return ctypes.string_at(address).decode("utf-8", "replace")
    finally:
        lib().zlt_free(address)


def out_string(call: Callable[[Any], object]) -> str:
    """Runs a call with a char** output and returns the (released) string."""
    out = ctypes.c_void_p()
    call(ctypes.byref(out))
    return take_string(out.value)


# ---- callbacks ---------------------------------------------------------------------------
#
# Every callback from the library goes through run_callback(). It never lets an exception
# reach the C side, and it tracks which runtimes are calling us on this thread: an object
# freed from inside a callback of its own runtime is destroyed only after that callback
# returns, so its trampolines must stay alive until then, and the runtime itself cannot be
# freed from there at all.

_tls = threading.local()

T = TypeVar("T")


def _callback_stack() -> list[int | None]:
    stack = getattr(_tls, "stack", None)
    if stack is None:
        stack = _tls.stack = []
    return stack


def in_callback() -> bool:
    """True while this thread runs any callback of the library."""
    return bool(getattr(_tls, "stack", None))


def in_callback_of(runtime_token: int) -> bool:
    """True while this thread runs a callback of the runtime with this token."""
    return runtime_token in getattr(_tls, "stack", ())


def _forget_dummy_thread(ident: int) -> None:
    # The loop thread is not a Python thread. Code in a callback that asks for
    # threading.current_thread() (logging does, for every record) makes the threading module
    # register a _DummyThread for it, which is never removed and would show up in
    # threading.enumerate() forever, long after the runtime has joined its thread. ctypes
    # drops this thread's Python state when the outermost callback returns anyway, so the
    # dummy describes nothing: unregister it. Private names, so every step is optional.
    active = getattr(threading, "_active", None)
    lock = getattr(threading, "_active_limbo_lock", None)
    dummy = getattr(threading, "_DummyThread", None)
    if not isinstance(active, dict) or lock is None or dummy is None:
        return
    with lock:
        if isinstance(active.get(ident), dummy):
            del active[ident]


def run_callback(runtime_token: int | None, what: str, fn: Callable[[], T], on_error: T) -> T:
    """Runs one host callback for the library: exceptions are logged and give `on_error`."""
    stack = _callback_stack()
    outermost = not stack
    ident = threading.get_ident()
    was_known = not outermost or ident in getattr(threading, "_active", {})
    stack.append(runtime_token)
    try:
        return fn()
    except BaseException:  # noqa: BLE001 - nothing may unwind into the C loop
        try:
            _log.exception("exception in %s", what)
        except BaseException:  # noqa: BLE001
            pass
        return on_error
    finally:
        stack.pop()
        if outermost and not was_known:
            _forget_dummy_thread(ident)


def parse_event(ev: Any) -> dict[str, Any]:
    """The dict of a zlt_event (copied: the C strings die with the callback)."""
    event = ev.contents
    text = decode(event.json)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        parsed = {"event": decode(event.name), "raw": text}
    return parsed


# ---- objects whose release has to wait ---------------------------------------------------
#
# A garbage collection may finalize an object on a loop thread in the middle of a callback,
# even in the middle of the log callback (which must not call the library at all). Releases
# found there are queued and carried out at the next safe point: creating or closing an
# object, or interpreter exit.

_pending: list[Callable[[], None]] = []
_pending_lock = threading.Lock()


def defer(release: Callable[[], None]) -> None:
    with _pending_lock:
        _pending.append(release)


def drain_deferred() -> None:
    if in_callback():
        return
    with _pending_lock:
        todo = list(_pending)
        _pending.clear()
    for release in todo:
        try:
            release()
        except Exception:  # noqa: BLE001 - one failed release must not stop the others
            _log.exception("releasing a zlayer-tunnel object failed")


# ---- the library's log records -----------------------------------------------------------

TRACE = 5  # below logging.DEBUG, like the library's own "trace"
_LEVELS = {0: TRACE, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
logging.addLevelName(TRACE, "TRACE")
_loggers: dict[str, logging.Logger] = {}


def _library_logger(component: str) -> logging.Logger:
    logger = _loggers.get(component)
    if logger is None:
        name = f"zlayer_tunnel.lib.{component}" if component else "zlayer_tunnel.lib"
        logger = _loggers[component] = logging.getLogger(name)
    return logger


def _forward_record(level: int, component: bytes, message: bytes, fields: bytes) -> None:
    comp = decode(component)
    logger = _library_logger(comp)
    py_level = _LEVELS.get(level, logging.ERROR)
    if not logger.isEnabledFor(py_level):
        return
    fields_text = decode(fields)
    text = decode(message)
    if fields_text and fields_text != "{}":
        text = f"{text} {fields_text}"
    logger.log(py_level, "%s", text, extra={"zlt_component": comp, "zlt_fields": fields_text})


def _on_log(user: int | None, level: int, component: bytes, message: bytes, fields: bytes) -> None:
    # Runs on whichever thread logged, under the library's logger lock: it must not call the
    # library, hence the marker on the stack that makes finalizers defer their releases.
    if sys.is_finalizing():
        return
    run_callback(
        None,
        "the log callback (record dropped)",
        lambda: _forward_record(level, component, message, fields),
        None,
    )


# Referenced for the life of the process: the library may log from any thread at any time.
_LOG_THUNK = LOG_CB(_on_log)
_forwarding = False


def forward_logs(enabled: bool) -> None:
    """Sends the library's log records to the logging module (True) or to stderr (False)."""
    global _forwarding
    cdll = lib()
    cdll.zlt_set_log_callback(_LOG_THUNK if enabled else NULL_LOG_CB, None)
    _forwarding = enabled


# ---- process lifetime --------------------------------------------------------------------

# Runtimes still open, closed at interpreter exit: a loop thread calling into an interpreter
# that is being finalized would hang or crash the process.
live_runtimes: "weakref.WeakSet[Any]" = weakref.WeakSet()


def _at_exit() -> None:
    for runtime in list(live_runtimes):
        try:
            runtime.close()
        except Exception:  # noqa: BLE001
            _log.exception("closing a runtime at exit failed")
    drain_deferred()
    if _lib is not None and _forwarding:
        try:
            _lib.zlt_set_log_callback(NULL_LOG_CB, None)
        except Exception:  # noqa: BLE001
            pass


def _on_loaded(cdll: ctypes.CDLL) -> None:
    global _forwarding
    # The library's records go to the logging module, not straight to stderr.
    cdll.zlt_set_log_callback(_LOG_THUNK, None)
    _forwarding = True
    atexit.register(_at_exit)
