/*
 * zlayer_tunnel.h -- the stable C interface of zlayer-tunnel.
 *
 * This is the only header a host needs. It is C99 and can be used from C++.
 *
 * OVERVIEW
 *
 *   zlt_runtime    an event loop running on its own thread. Every other object lives on one
 *                  runtime and does all of its work on that runtime's loop thread.
 *   zlt_registry   the server side of a tunnel: the token policy, the WebSocket control
 *                  endpoint, the registry of tunnels and services, and the public listeners.
 *   zlt_agent      the client side: connects to a server, registers local services, carries
 *                  their connections and reconnects with backoff.
 *
 *   Objects for on-demand access (zlt_access) and node-to-node tunnels (zlt_node_manager)
 *   will be added in later minor versions with the same conventions.
 *
 * CONVENTIONS
 *
 *   Errors.  Every fallible function returns int: ZLT_OK (0) on success or a negative ZLT_E*
 *   code. After a failure, zlt_last_error() returns a message describing it (naming the
 *   offending argument or configuration field where there is one). On failure, pointer
 *   outputs (char**, zlt_registry**, ...) are set to NULL and other outputs are left untouched.
 *
 *   Memory.  Strings returned through a char** parameter are allocated by the library and
 *   must be released with zlt_free(). Strings passed in are copied; the caller keeps
 *   ownership. Objects are released with their zlt_<object>_free() function.
 *
 *   Configuration.  Configurations cross this interface as JSON text with the same schema as
 *   the configuration files, so new settings never change a function signature. Unknown keys
 *   and wrongly typed values are rejected (ZLT_ECONFIG) with the path of the field.
 *
 *   Threads.  Every function may be called from any thread. Calls on an object are carried
 *   to its runtime's loop thread and the caller waits for them to finish there.
 *
 *   Callbacks.  Event, connection and token callbacks run on the runtime's loop thread. While
 *   one runs, nothing else on that runtime makes progress, so callbacks must return quickly
 *   (hand slow work to another thread). A call made from inside a callback runs inline, so
 *   callbacks may call back into this interface (for example to read a status) without
 *   deadlocking (a call on an object of another runtime waits for that runtime as usual).
 *   Pointers handed to a callback are valid only until it returns. Callbacks must not throw
 *   C++ exceptions or longjmp out. Every callback takes the `user` pointer given when it was
 *   registered; the library never dereferences it.
 *
 *   Lifetime.  Freeing an object waits until it is torn down on the loop thread; once the
 *   free function returns none of the object's callbacks will run again, so `user` data may be
 *   released. An object freed from inside one of its own callbacks (or any callback of its
 *   runtime) is silenced at once and destroyed as soon as that callback has returned.
 */
#ifndef ZLAYER_TUNNEL_H
#define ZLAYER_TUNNEL_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ----------------------------------------------------------------------------- */

#define ZLT_VERSION_MAJOR 0
#define ZLT_VERSION_MINOR 1
#define ZLT_VERSION_PATCH 0
#define ZLT_VERSION_STRING "0.1.0"
/* A single number for compile-time comparisons: 0x00MMmmpp. */
#define ZLT_VERSION_NUMBER \
  ((ZLT_VERSION_MAJOR << 16) | (ZLT_VERSION_MINOR << 8) | ZLT_VERSION_PATCH)

/* The library is built with hidden visibility; only what is marked here is exported. */
#if defined(__GNUC__) || defined(__clang__)
#define ZLT_EXPORT __attribute__((visibility("default")))
#else
#define ZLT_EXPORT
#endif

/* ---- Result codes ------------------------------------------------------------------------ */

#define ZLT_OK 0
#define ZLT_EPROTOCOL (-1)   /* malformed or unexpected data from a peer */
#define ZLT_EAUTH (-2)       /* authentication refused */
#define ZLT_ECONNECTION (-3) /* socket, TLS, DNS or WebSocket failure */
#define ZLT_EREGISTRY (-4)   /* tunnel, service or port bookkeeping (e.g. port taken) */
#define ZLT_ECONFIG (-5)     /* invalid configuration or JSON argument */
#define ZLT_ETIMEOUT (-6)    /* an operation ran out of time */
#define ZLT_ESHUTDOWN (-7)   /* the object or its runtime is stopping, stopped or freed */
#define ZLT_EINVAL (-8)      /* invalid argument (NULL where an object is required, ...) */
#define ZLT_ENOTFOUND (-9)   /* no such object */
#define ZLT_EEXISTS (-10)    /* already exists */
#define ZLT_ELIMIT (-11)     /* a configured limit was reached */
#define ZLT_EIO (-12)        /* local file I/O */
#define ZLT_EINTERNAL (-13)  /* a bug: please report it with zlt_last_error() */
#define ZLT_ENOMEM (-14)     /* out of memory */

/* ---- Log levels (zlt_set_log_callback) --------------------------------------------------- */

#define ZLT_LOG_TRACE 0
#define ZLT_LOG_DEBUG 1
#define ZLT_LOG_INFO 2
#define ZLT_LOG_WARN 3
#define ZLT_LOG_ERROR 4

/* ---- Types ------------------------------------------------------------------------------- */

typedef struct zlt_runtime zlt_runtime;
typedef struct zlt_registry zlt_registry;
typedef struct zlt_agent zlt_agent;
/* The answer a token validator is building; see zlt_registry_set_token_validator(). */
typedef struct zlt_token_verdict zlt_token_verdict;

/*
 * An event reported by a registry or an agent. Both strings are valid only during the
 * callback (copy them to keep them).
 *   name  the kind of event (the "event" field), e.g. "service_registered"
 *   json  the whole event as a JSON object, e.g.
 *         {"event":"service_registered","name":"web","public_port":30001,...}
 */
typedef struct zlt_event {
  const char* name;
  const char* json;
} zlt_event;

typedef void (*zlt_event_cb)(void* user, const zlt_event* ev);

/*
 * Decides whether a token may open a tunnel. `token` is the token as the agent sent it and
 * `token_hash` its lower-case hex SHA-256. Return nonzero to accept, 0 to refuse. `verdict`
 * may be given a reason (refusal) or a grant (acceptance) with the zlt_verdict_* functions,
 * only during the callback.
 */
typedef int (*zlt_token_validator_cb)(void* user, const char* token, const char* token_hash,
                                      zlt_token_verdict* verdict);

/*
 * Decides whether an agent accepts a connection that arrived on a public port, before the
 * local service is dialed. The ids are canonical UUID text; `client_addr` is "HOST:PORT" of the
 * public client. Return nonzero to accept, 0 to close the public client's connection.
 */
typedef int (*zlt_connection_cb)(void* user, const char* service_id, const char* connection_id,
                                 const char* client_addr);

/*
 * One log record. `level` is a ZLT_LOG_* value; `fields_json` is a JSON object with the
 * record's structured fields (often "{}"). All strings are valid only during the callback.
 */
typedef void (*zlt_log_cb)(void* user, int level, const char* component, const char* message,
                           const char* fields_json);

/* ---- Library ----------------------------------------------------------------------------- */

/* The library's version, e.g. "0.1.0". Static storage; never NULL. */
ZLT_EXPORT const char* zlt_version(void);

/*
 * A short English description of a result code ("success", "invalid argument", ...).
 * Static storage; never NULL; unknown codes give "unknown error".
 */
ZLT_EXPORT const char* zlt_strerror(int code);

/*
 * The message of the most recent failed call made on the calling thread ("" if none has
 * failed). Successful calls leave it unchanged. The string belongs to the library and stays
 * valid until the next failing call on this thread.
 */
ZLT_EXPORT const char* zlt_last_error(void);

/* Releases memory returned by this library. NULL is ignored. */
ZLT_EXPORT void zlt_free(void* ptr);

/*
 * The server-side identity of a token: its SHA-256 as 64 lower-case hex digits, the value
 * of "sha256" in a server's "tokens" list. *out_hex is set to a string to free with zlt_free().
 * Errors: ZLT_EINVAL (NULL argument), ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_hash_token(const char* token, char** out_hex);

/*
 * A new random token ("tun_" and 32 hex digits) from a cryptographic generator. *out is set
 * to a string to free with zlt_free(). Errors: ZLT_EINVAL (NULL argument), ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_token_new(char** out);

/*
 * Sets the process-wide log threshold: "trace", "debug", "info" (the default), "warn",
 * "error" or "off". Errors: ZLT_EINVAL (NULL or unknown name).
 */
ZLT_EXPORT int zlt_set_log_level(const char* level);

/*
 * Sends log records to `cb` instead of standard error; NULL restores standard error. The
 * callback is process-wide and runs on whichever thread logs (loop threads and callers'
 * threads), one record at a time, under the logger's lock: it must be thread-safe and quick
 * and must not call any zlt_ function. Once this function returns, the previous callback is
 * no longer called. Errors: ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_set_log_callback(zlt_log_cb cb, void* user);

/* ---- Runtime ----------------------------------------------------------------------------- */

/*
 * Starts a runtime: an event loop on a new thread. *out is set to the runtime, released with
 * zlt_runtime_free(). Errors: ZLT_EINVAL (out is NULL), ZLT_EINTERNAL (the loop or thread
 * could not be created), ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_runtime_new(zlt_runtime** out);

/*
 * Stops the runtime and joins its thread. Registries and agents still alive on it are torn
 * down first (sessions closed, sockets closed, no callbacks afterwards); their handles stay
 * valid but inert: calls on them fail with ZLT_ESHUTDOWN, and their free functions only
 * release memory (they must still be called). NULL is ignored (ZLT_OK).
 * Must not be called from a callback of this same runtime (the loop thread cannot join
 * itself): that is refused with ZLT_EINVAL and the runtime is left running.
 */
ZLT_EXPORT int zlt_runtime_free(zlt_runtime* rt);

/* ---- Registry (server side) -------------------------------------------------------------- */

/*
 * Creates the server side on `rt` from a server configuration (JSON; NULL or "{}" means the
 * defaults: listen "0.0.0.0:3679", public ports 30000-31000, no tokens). Nothing listens until
 * zlt_registry_listen() or zlt_registry_accept(). *out is set to the registry, released with
 * zlt_registry_free(). Errors: ZLT_EINVAL (rt or out NULL), ZLT_ECONFIG (bad JSON or an
 * invalid setting; the message names the field), ZLT_ESHUTDOWN (rt is being freed),
 * ZLT_ENOMEM, ZLT_EINTERNAL.
 */
ZLT_EXPORT int zlt_registry_new(zlt_runtime* rt, const char* config_json, zlt_registry** out);

/*
 * Listens for agents (WebSocket control endpoint) on host:port. `host` NULL means the host of
 * the configuration's "listen"; `port` -1 means its port, 0 lets the kernel choose. May be
 * called several times to listen on several addresses. If `bound_port_out` is not NULL it
 * receives the port actually bound. Errors: ZLT_EINVAL (reg NULL, port out of -1..65535),
 * ZLT_ECONNECTION (address in use, bad host, ...), ZLT_ECONFIG (a bad "listen" setting),
 * ZLT_ESHUTDOWN (stopped).
 */
ZLT_EXPORT int zlt_registry_listen(zlt_registry* reg, const char* host, int port,
                                   int* bound_port_out);

/*
 * Serves a TCP connection the host has already accepted (for hosts that own their listening
 * socket). Ownership of `fd` passes to the library whatever the outcome: on success it is
 * closed when the connection ends, on failure it has already been closed when this returns.
 * Errors: ZLT_EINVAL (reg NULL or fd < 0), ZLT_ECONNECTION, ZLT_ESHUTDOWN (stopped).
 */
ZLT_EXPORT int zlt_registry_accept(zlt_registry* reg, int fd);

/*
 * Replaces the configured token list with a host decision for every agent that
 * authenticates. `cb` runs on the loop thread while the agent waits. NULL restores the
 * configured token list; that cannot be done from inside the validator itself (ZLT_EINVAL).
 * Errors: ZLT_EINVAL (reg NULL), ZLT_ESHUTDOWN.
 *
 * A refused agent receives "Authentication error: <reason>" (the reason set with
 * zlt_verdict_set_reason(), or "invalid tunnel token") and reports an "auth_failed" event.
 */
ZLT_EXPORT int zlt_registry_set_token_validator(zlt_registry* reg, zlt_token_validator_cb cb,
                                                void* user);

/*
 * Sets the reason a refused agent is given. Only valid during the validator callback that
 * received `verdict`. NULL clears it. Errors: ZLT_EINVAL (verdict NULL), ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_verdict_set_reason(zlt_token_verdict* verdict, const char* reason);

/*
 * Sets what an accepted token may do, as JSON:
 *   {"name": "team-a",                  shown in logs and status (optional)
 *    "allowed_ports": [30000, 30010],   public ports it may hold (optional; default: any)
 *    "allow": ["service:db", "10.0.0.0/8:5432"]}   targets it may open (optional)
 * Only valid during the validator callback that received `verdict`. NULL clears it (the
 * default grant: any port, no open targets). On error the verdict keeps its previous grant.
 * Errors: ZLT_EINVAL (verdict NULL), ZLT_ECONFIG (bad JSON or field; the message names it).
 */
ZLT_EXPORT int zlt_verdict_set_grant(zlt_token_verdict* verdict, const char* grant_json);

/*
 * Reports the registry's events to `cb` (NULL: stop reporting): "tunnel_connected",
 * "tunnel_disconnected", "service_registered", "service_unregistered". Replaces any previous
 * callback. Errors: ZLT_EINVAL (reg NULL), ZLT_ESHUTDOWN.
 */
ZLT_EXPORT int zlt_registry_on_event(zlt_registry* reg, zlt_event_cb cb, void* user);

/*
 * A snapshot of the registry (tunnels, services, traffic) as a JSON object. *json_out is set
 * to a string to free with zlt_free(). Errors: ZLT_EINVAL, ZLT_ESHUTDOWN, ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_registry_status(zlt_registry* reg, char** json_out);

/*
 * Stops serving: every session is told the server is shutting down, listeners and public
 * ports are closed. Idempotent; the registry cannot be restarted (free it and create another).
 * Errors: ZLT_EINVAL (reg NULL), ZLT_ESHUTDOWN (the runtime was freed).
 */
ZLT_EXPORT int zlt_registry_stop(zlt_registry* reg);

/* Stops (if needed) and destroys the registry. NULL is ignored. See "Lifetime" above. */
ZLT_EXPORT void zlt_registry_free(zlt_registry* reg);

/* ---- Agent (client side) ----------------------------------------------------------------- */

/*
 * Creates an agent on `rt` from a client configuration (JSON), e.g.
 *   {"server_url": "ws://127.0.0.1:3679/tunnel/v1", "token": "...",
 *    "services": [{"name": "web", "protocol": "tcp", "local_port": 8080, "remote_port": 0}]}
 * It does not connect until zlt_agent_start(). *out is set to the agent, released with
 * zlt_agent_free(). NULL config_json is read as "{}" (which fails: server_url and token are
 * required).
 * Errors: ZLT_EINVAL (rt or out NULL), ZLT_ECONFIG (the message names the field),
 * ZLT_ESHUTDOWN, ZLT_ENOMEM, ZLT_EINTERNAL.
 */
ZLT_EXPORT int zlt_agent_new(zlt_runtime* rt, const char* config_json, zlt_agent** out);

/*
 * Reports the agent's events to `cb` (NULL: stop reporting): "state", "authenticated",
 * "auth_failed" (with "reason"), "service_registered" (with "name" and "public_port"),
 * "service_failed", "incoming_connection", "disconnected", "error". Replaces any previous
 * callback. Errors: ZLT_EINVAL (agent NULL), ZLT_ESHUTDOWN.
 */
ZLT_EXPORT int zlt_agent_on_event(zlt_agent* agent, zlt_event_cb cb, void* user);

/*
 * Lets the host accept or refuse each incoming connection before the local service is dialed
 * (NULL: accept all, the default). Replaces any previous callback.
 * Errors: ZLT_EINVAL (agent NULL), ZLT_ESHUTDOWN.
 */
ZLT_EXPORT int zlt_agent_on_connection(zlt_agent* agent, zlt_connection_cb cb, void* user);

/*
 * Starts connecting; the agent then reconnects with backoff until stopped. Progress is
 * reported through events, not through this return value. Idempotent.
 * Errors: ZLT_EINVAL (agent NULL), ZLT_ESHUTDOWN.
 */
ZLT_EXPORT int zlt_agent_start(zlt_agent* agent);

/*
 * Says goodbye to the server, closes the session and stops reconnecting. Idempotent.
 * Errors: ZLT_EINVAL (agent NULL), ZLT_ESHUTDOWN (the runtime was freed).
 */
ZLT_EXPORT int zlt_agent_stop(zlt_agent* agent);

/*
 * A snapshot of the agent (state, tunnel id, services with their public ports, traffic) as a
 * JSON object. *json_out is set to a string to free with zlt_free().
 * Errors: ZLT_EINVAL, ZLT_ESHUTDOWN, ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_agent_status(zlt_agent* agent, char** json_out);

/* Stops (if needed) and destroys the agent. NULL is ignored. See "Lifetime" above. */
ZLT_EXPORT void zlt_agent_free(zlt_agent* agent);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ZLAYER_TUNNEL_H */
