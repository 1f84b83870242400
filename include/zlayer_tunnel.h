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
 *   zlt_access     on-demand access (since 0.2): local ports whose connections reach a
 *                  service or address on the server's side, each with a time to live, through
 *                  one connection to the server. A registry issues the tokens it uses
 *                  (zlt_registry_grant_access).
 *   zlt_node_manager
 *                  node-to-node tunnels (since 0.3): one node's side of the tunnels between
 *                  nodes, outbound (an agent per tunnel toward the destination node's server,
 *                  directly or through an overlay network) and inbound (a tunnel server for
 *                  the tunnels whose destination is this node, and their listeners).
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
 *
 *   Events.  Every object's events follow one rule: they are queued on their runtime and
 *   delivered at the loop's next turn, in the order they happened across all objects of that
 *   runtime, never from inside another callback or an API call. Each goes to the callback
 *   registered when it is delivered (a status read in it may already show later changes). An
 *   event whose object was freed, or whose callback was set to NULL, before delivery is
 *   dropped. An event callback may therefore free its own object or any other of its runtime.
 *   Pointers handed to a callback are valid only until it returns. Callbacks must not throw
 *   C++ exceptions or longjmp out. Every callback takes the `user` pointer given when it was
 *   registered; the library never dereferences it.
 *
 *   Lifetime.  Freeing an object waits until it is torn down on the loop thread; once the
 *   free function returns none of the object's callbacks will run again, so `user` data may be
 *   released. An object freed from inside one of its own callbacks (or any callback of its
 *   runtime) is silenced at once and destroyed as soon as that callback has returned.
 *   Freeing an object while other threads are inside calls on it is safe: each such call
 *   either completes normally or returns ZLT_ECLOSED, and the object's memory is released
 *   when the last of them returns. A call that starts after the free function has returned
 *   uses a dangling pointer, as with any freed object.
 */
#ifndef ZLAYER_TUNNEL_H
#define ZLAYER_TUNNEL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ----------------------------------------------------------------------------- */

#define ZLT_VERSION_MAJOR 0
#define ZLT_VERSION_MINOR 3
#define ZLT_VERSION_PATCH 0
#define ZLT_VERSION_STRING "0.3.0"
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
#define ZLT_ECLOSED (-15)    /* the object was freed (by another thread) before this call ran */

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
typedef struct zlt_access zlt_access;
typedef struct zlt_node_manager zlt_node_manager;
/* The answer a token validator is building; see zlt_registry_set_token_validator(). */
typedef struct zlt_token_verdict zlt_token_verdict;

/*
 * An event reported by a registry, an agent, an access object or a node manager. Both strings
 * are valid only during the callback (copy them to keep them).
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
 * The size of the buffer a zlt_overlay_resolver_cb writes an address into, terminating NUL
 * included: room for any DNS name (253 characters) or IP literal.
 */
#define ZLT_OVERLAY_ADDRESS_MAX 256

/*
 * Tells a node manager where a node is on the overlay network (since 0.3). `node` is the name
 * of a destination node. To answer, write its overlay address (an IPv4 or IPv6 literal, without
 * brackets, or a host name), NUL-terminated, into `address_out` (`address_size` bytes, always
 * ZLT_OVERLAY_ADDRESS_MAX) and return 1; return 0 when the node is not reachable through the
 * overlay (or there is no overlay). An address that is empty or does not fit with its NUL
 * counts as 0. Runs on the loop thread, possibly often (whenever a tunnel picks its route): it
 * must be quick and must not call functions of the same manager (they fail with ZLT_EINVAL).
 */
typedef int (*zlt_overlay_resolver_cb)(void* user, const char* node, char* address_out,
                                       size_t address_size);

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
 * Stops the runtime and joins its thread. Registries, agents, access objects and node managers
 * still alive on it are torn down first (sessions closed, sockets closed, no callbacks
 * afterwards); their handles stay valid but inert: calls on them fail with ZLT_ESHUTDOWN, and
 * their free functions only release memory (they must still be called). NULL is ignored (ZLT_OK).
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
 *    "allow": ["service:db", "10.0.0.0/8:5432"],   targets it may open (optional)
 *    "services": ["db"]}                service names it may register (optional; default:
 *                                       any; [] none)
 * Only valid during the validator callback that received `verdict`. NULL clears it (the
 * default grant: any port, no open targets). On error the verdict keeps its previous grant.
 * Errors: ZLT_EINVAL (verdict NULL), ZLT_ECONFIG (bad JSON or field; the message names it).
 */
ZLT_EXPORT int zlt_verdict_set_grant(zlt_token_verdict* verdict, const char* grant_json);

/*
 * Reports the registry's events to `cb` (NULL: stop reporting): "tunnel_connected",
 * "tunnel_disconnected", "service_registered", "service_unregistered", and (since 0.2)
 * "grant_issued", "grant_revoked", "grant_expired" with "grant" (as zlt_registry_list_grants()
 * shows it). Replaces any previous callback. Errors: ZLT_EINVAL (reg NULL), ZLT_ESHUTDOWN.
 */
ZLT_EXPORT int zlt_registry_on_event(zlt_registry* reg, zlt_event_cb cb, void* user);

/*
 * A snapshot of the registry (tunnels, services, traffic) as a JSON object. *json_out is set
 * to a string to free with zlt_free(). Errors: ZLT_EINVAL, ZLT_ESHUTDOWN, ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_registry_status(zlt_registry* reg, char** json_out);

/*
 * The Prometheus text exposition (format 0.0.4) of this server: the same text its
 * `--metrics` listener serves on GET /metrics (README "Metrics" lists every name). *text_out
 * is set to a string to free with zlt_free(). Errors: ZLT_EINVAL, ZLT_ESHUTDOWN, ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_registry_metrics(zlt_registry* reg, char** text_out);


/*
 * Issues an access grant (since 0.2): a fresh token that may open only the given targets and
 * expires after the given time, e.g.
 *   {"targets": ["service:db"], "ttl": "10m", "name": "alice"}
 * "targets" (service:NAME, HOST:PORT or CIDR:PORT; '*' segments allowed) and "ttl" (a duration
 * such as "500ms", "30s", "10m", "1h", or a number of seconds; > 0) are required, "name" is
 * optional. The TTL is capped at the configuration's "max_access_ttl"; "expires_at" shows the
 * cap. *json_out is set to a string to free with zlt_free(), the grant as the admin API answers
 * a POST (201):
 *   {"grant_id": "<uuid>", "name": "alice", "targets": ["service:db"],
 *    "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-01T00:10:00Z",
 *    "token": "tun_..."}
 * The token is shown this once: the registry keeps only its hash. A session authenticated with
 * it is disconnected with "fatal: token expired" when the grant expires, and with
 * "fatal: token revoked" by zlt_registry_revoke_access().
 * In a cluster (the configuration's "cluster" block) the grant is valid on every member.
 * Errors: ZLT_EINVAL (NULL argument), ZLT_ECONFIG (bad JSON, a missing or bad field, a TTL
 * of 0; the message names the field), ZLT_ECONNECTION ("cluster store unavailable": the
 * cluster's Redis does not answer), ZLT_ESHUTDOWN (stopped), ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_registry_grant_access(zlt_registry* reg, const char* request_json,
                                         char** json_out);

/*
 * Revokes a grant (since 0.2): its token is refused from now on, and a session using it is
 * disconnected at once with "fatal: token revoked" (with every stream it carries).
 * Errors: ZLT_EINVAL (NULL argument, or grant_id is not a UUID), ZLT_ENOTFOUND (no such grant:
 * never issued, already revoked or expired), ZLT_ESHUTDOWN (the runtime was freed).
 */
ZLT_EXPORT int zlt_registry_revoke_access(zlt_registry* reg, const char* grant_id);

/*
 * The grants in force (since 0.2), as a JSON array of objects like the one
 * zlt_registry_grant_access() returns, without the token. *json_out is set to a string to free
 * with zlt_free(). Errors: ZLT_EINVAL, ZLT_ESHUTDOWN, ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_registry_list_grants(zlt_registry* reg, char** json_out);

/*
 * Stops serving: every session is told the server is shutting down, listeners and public
 * ports are closed. Idempotent; the registry cannot be restarted (free it and create another).
 * Errors: ZLT_EINVAL (reg NULL), ZLT_ESHUTDOWN (the runtime was freed).
 */
ZLT_EXPORT int zlt_registry_stop(zlt_registry* reg);

/*
 * Applies a new server configuration (JSON, as for zlt_registry_new) without dropping
 * anything it still allows: tokens (a session whose token is gone is disconnected with
 * "fatal: token revoked"), allow lists, limits (for what is opened from now on), the admin
 * token, and the TLS certificate and key, read again from their files (new handshakes use
 * them; live sessions keep theirs). Fields bound to sockets ("listen", "public_bind",
 * "data_port_range", "control_path", "admin_listen", "metrics_listen", plain vs TLS, ...) keep
 * their running values; the report names them. `config_json` NULL applies the last
 * configuration again (a certificate rotation); so does POST /admin/v1/reload. If
 * `report_json_out` is not NULL it receives {"tokens", "revoked", "reconnected",
 * "tls_reloaded", "needs_restart": [fields]}, freed with zlt_free(). Errors: ZLT_EINVAL (reg
 * NULL), ZLT_ECONFIG (bad JSON, an invalid setting, a certificate that does not load; the
 * message names the field; nothing changed), ZLT_ESHUTDOWN (stopped).
 */
ZLT_EXPORT int zlt_registry_reload(zlt_registry* reg, const char* config_json,
                                   char** report_json_out);

/*
 * Stops gracefully: from now on no new agent sessions, public connections, registrations or
 * Opens are taken (the metrics /ready answers 503); open streams carry on until they end or
 * `grace_ms` has passed, then the server stops as zlt_registry_stop() does. Returns once the
 * server has stopped; called from a callback on the loop thread it only begins the drain.
 * A drain already running is shortened to the smaller grace. Errors: ZLT_EINVAL (reg NULL,
 * grace_ms < 0), ZLT_ESHUTDOWN (the runtime was freed).
 */
ZLT_EXPORT int zlt_registry_drain(zlt_registry* reg, long long grace_ms);

/*
 * Stops (if needed) and destroys the registry. NULL is ignored. Calls on `reg` running on
 * other threads meanwhile complete or return ZLT_ECLOSED. See "Lifetime" above.
 */
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

/*
 * The Prometheus text exposition (format 0.0.4) of this agent: the same text its
 * `--metrics` listener serves on GET /metrics (README "Metrics" lists every name). *text_out
 * is set to a string to free with zlt_free(). Errors: ZLT_EINVAL, ZLT_ESHUTDOWN, ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_agent_metrics(zlt_agent* agent, char** text_out);


/*
 * Stops (if needed) and destroys the agent. NULL is ignored. Calls on `agent` running on
 * other threads meanwhile complete or return ZLT_ECLOSED. See "Lifetime" above.
 */
ZLT_EXPORT void zlt_agent_free(zlt_agent* agent);

/* ---- Access (on-demand access, since 0.2) ------------------------------------------------ */

/*
 * Creates an access object on `rt` from a client configuration (JSON) naming the server and a
 * token it accepts for the targets wanted (typically the token of a grant), plus optional
 * access settings, e.g.
 *   {"server_url": "ws://127.0.0.1:3679/tunnel/v1", "token": "tun_...",
 *    "default_ttl": "1h", "local_bind": "127.0.0.1"}
 * Every client setting applies (ca_file, insecure, proxy, reconnect_interval, ...) except
 * "services", which must be absent or empty: access exposes nothing. "default_ttl" is the TTL
 * of sessions started without one (default: none, they live until stopped); "local_bind" the
 * address sessions listen on (default "127.0.0.1"; an IP literal).
 * It does not connect until the first zlt_access_start_session(); the connection is then kept
 * and re-established with backoff, shared by every session. *out is set to the object,
 * released with zlt_access_free().
 * Errors: ZLT_EINVAL (rt or out NULL), ZLT_ECONFIG (the message names the field),
 * ZLT_ESHUTDOWN, ZLT_ENOMEM, ZLT_EINTERNAL.
 */
ZLT_EXPORT int zlt_access_new(zlt_runtime* rt, const char* config_json, zlt_access** out);

/*
 * Reports the access object's events to `cb` (NULL: stop reporting). Replaces any previous
 * callback. The kinds:
 *   "session_started", "session_stopped", "session_expired"   with "session" (a snapshot as
 *        zlt_access_start_session() returns it) and, when it ended, "reason"
 *   "fatal"   with "reason", e.g. "fatal: token revoked" or "fatal: token expired": the server
 *        ended access for good; every session has been closed (a "session_stopped" event for
 *        each comes first), the connection is not retried, and zlt_access_start_session()
 *        fails with ZLT_ESHUTDOWN from now on
 *   and the connection's own events, as a zlt_agent reports them: "state", "authenticated",
 *   "auth_failed" (with "reason"), "disconnected" (with "reason"), "error".
 * Errors: ZLT_EINVAL (access NULL), ZLT_ESHUTDOWN.
 */
ZLT_EXPORT int zlt_access_on_event(zlt_access* access, zlt_event_cb cb, void* user);

/*
 * Starts a session: binds a local port whose connections (or datagrams) are carried through
 * the server to a target on its side. The request is JSON:
 *   {"target": "service:db",   a service registered on the server ("service:NAME"), or an
 *                              address the server connects to ("HOST:PORT", "[v6]:PORT")
 *    "local_port": 0,          the port to listen on (optional; 0, the default, lets the
 *                              kernel choose)
 *    "ttl": "10m",             how long the session lives (optional; default: the
 *                              configuration's "default_ttl", else until stopped); > 0
 *    "protocol": "tcp"}        "tcp" (default) or "udp"
 * When the TTL runs out the listener and every connection of the session are closed (event
 * "session_expired"). Connections that arrive while the object is not connected to the server
 * are closed at once; wait for the "authenticated" event to be sure they will be carried.
 * *json_out is set to a string to free with zlt_free(), the session's snapshot:
 *   {"id": "<uuid>", "target": "service:db", "local_addr": "127.0.0.1:40123",
 *    "local_port": 40123, "protocol": "tcp", "created_at": "...", "expires_at": "..." or null,
 *    "remaining_ms": 600000 or null, "bytes_in": 0, "bytes_out": 0, "connections_active": 0,
 *    "connections_total": 0}
 * The server decides whether the token may reach the target when a connection is carried:
 * a refused connection is closed.
 * Errors: ZLT_EINVAL (NULL argument, a TTL of 0, an invalid target; the message says which),
 * ZLT_ECONFIG (bad JSON, a missing or wrongly typed field; the message names it),
 * ZLT_ECONNECTION (the local port cannot be bound), ZLT_ESHUTDOWN (the server ended access,
 * or the runtime was freed), ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_access_start_session(zlt_access* access, const char* request_json,
                                        char** json_out);

/*
 * Stops a session: closes its listener and every connection it carries ("session_stopped").
 * Errors: ZLT_EINVAL (NULL argument, or session_id is not a UUID), ZLT_ENOTFOUND (no such
 * session: never started, already stopped or expired), ZLT_ESHUTDOWN (the runtime was freed).
 */
ZLT_EXPORT int zlt_access_stop_session(zlt_access* access, const char* session_id);

/*
 * The live sessions, oldest first, as a JSON array of snapshots (see
 * zlt_access_start_session()) with their traffic so far. *json_out is set to a string to free
 * with zlt_free(). Errors: ZLT_EINVAL, ZLT_ESHUTDOWN, ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_access_list(zlt_access* access, char** json_out);

/*
 * The Prometheus text exposition (format 0.0.4) of this access manager (and its agent): the same text its
 * `--metrics` listener serves on GET /metrics (README "Metrics" lists every name). *text_out
 * is set to a string to free with zlt_free(). Errors: ZLT_EINVAL, ZLT_ESHUTDOWN, ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_access_metrics(zlt_access* access, char** text_out);


/*
 * Closes every session, says goodbye to the server and destroys the object. NULL is ignored.
 * Calls on `access` running on other threads meanwhile complete or return ZLT_ECLOSED. See
 * "Lifetime" above.
 */
ZLT_EXPORT void zlt_access_free(zlt_access* access);

/* ---- Node tunnels (node-to-node, since 0.3) ---------------------------------------------- */

/*
 * Creates a node manager on `rt` from a node configuration (JSON, the schema of the
 * `zlt node --config` file), e.g.
 *   {"node_name": "node-b",
 *    "server": {"listen": "127.0.0.1:3680"},        only on a node that accepts tunnels
 *    "tunnels": [{"name": "db", "from": "node-a", "to": "node-b",
 *                 "local_port": 5432, "remote_port": 15432,
 *                 "expose": "internal", "token": "tok-db",
 *                 "routing_mode": "preferoverlay",
 *                 "direct_url": "ws://10.1.0.2:3680/tunnel/v1"}]}
 * A tunnel whose "from" is this node is outbound: an agent registers the service local_port of
 * this node with the destination's tunnel server, at "overlay_url", else at "direct_url" with
 * its host replaced by the address the overlay resolver gives (see
 * zlt_node_manager_set_overlay_resolver()), else at "direct_url" ("routing_mode"
 * "preferoverlay", the default, "overlayonly" or "directonly"). A tunnel whose "to" is this node
 * is inbound: "server" accepts its token and, for "expose" "internal" (the default), a listener
 * on "internal_bind" (default "127.0.0.1"):remote_port carries connections to the source's
 * service; "public" uses a public port of the server instead. remote_port 0 lets the kernel
 * choose (see the status). Other keys: "internal_bind", "reconnect_interval",
 * "max_reconnect_interval", "heartbeat_interval", "heartbeat_timeout", "connect_timeout",
 * "ca_file", "insecure" (the outbound agents' settings).
 * Nothing connects or listens until zlt_node_manager_start(). *out is set to the manager,
 * released with zlt_node_manager_free(). NULL node_config_json is read as "{}" (which fails:
 * node_name is required).
 * Errors: ZLT_EINVAL (rt or out NULL), ZLT_ECONFIG (bad JSON or an invalid setting; the
 * message names the field, e.g. "tunnels[0].token: required for a tunnel whose destination is
 * this node"), ZLT_ESHUTDOWN (rt is being freed), ZLT_ENOMEM, ZLT_EINTERNAL.
 */
ZLT_EXPORT int zlt_node_manager_new(zlt_runtime* rt, const char* node_config_json,
                                    zlt_node_manager** out);

/*
 * Reports the manager's events to `cb` (NULL: stop reporting). Replaces any previous callback.
 * The kinds:
 *   "tunnel_state"  with "tunnel", "state" ("pending", "connecting", "connected",
 *        "disconnected" or "failed"), "direction" ("outbound", "inbound" or "none") and, for
 *        "failed" and "disconnected", "reason". An outbound tunnel is "connected" only once the
 *        destination has registered its service; an inbound one once the source's agent has.
 *   "route"  with "tunnel", "route" ("overlay" or "direct"), "url" and, for a fallback,
 *        "reason": the URL an outbound tunnel uses from now on.
 * Delivered as "Events" above says: the callback may call any zlt_node_manager_* function,
 * on this manager too. Errors: ZLT_EINVAL (mgr NULL), ZLT_ESHUTDOWN.
 */
ZLT_EXPORT int zlt_node_manager_on_event(zlt_node_manager* mgr, zlt_event_cb cb, void* user);

/*
 * Sets the overlay resolver (NULL: none, the default), replacing any previous one. An outbound
 * tunnel without "overlay_url" asks it for the overlay address of its destination node each
 * time it picks a route (at start, after a disconnection, when probing whether the overlay is
 * back); the answer replaces the host of the tunnel's "direct_url". See zlt_overlay_resolver_cb
 * for the callback's contract. Takes effect for routes picked from now on.
 * Errors: ZLT_EINVAL (mgr NULL, or called from inside the resolver), ZLT_ESHUTDOWN.
 */
ZLT_EXPORT int zlt_node_manager_set_overlay_resolver(zlt_node_manager* mgr,
                                                     zlt_overlay_resolver_cb cb, void* user);

/*
 * Adds a tunnel (JSON, one element of the configuration's "tunnels"). On a started manager it
 * starts at once: an outbound tunnel connects, an inbound one binds its listener. A tunnel
 * without "token" gets a generated one, which only a destination accepting any token (a
 * registry with "accept_any_token") lets in: give both ends of a node tunnel the same token.
 * Progress is reported through events, not this return value.
 * Errors: ZLT_EINVAL (NULL argument, or called from inside the resolver), ZLT_ECONFIG (bad
 * JSON, a missing or invalid field; the message names it), ZLT_EEXISTS (a tunnel of that name
 * exists), ZLT_ESHUTDOWN (the runtime was freed), ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_node_manager_add_tunnel(zlt_node_manager* mgr, const char* tunnel_json);

/*
 * Removes a tunnel: an outbound tunnel's agent says goodbye and stops; an inbound tunnel's
 * listener is closed and its source's session, if connected, is ended (its token is refused
 * from now on). Errors: ZLT_EINVAL (NULL argument, or called from inside the resolver),
 * ZLT_ENOTFOUND (no such tunnel), ZLT_ESHUTDOWN (the runtime was freed).
 */
ZLT_EXPORT int zlt_node_manager_remove_tunnel(zlt_node_manager* mgr, const char* name);

/*
 * Starts the node: the server listens on "server"."listen" (if configured), inbound listeners
 * are bound, outbound tunnels connect (and reconnect with backoff until stopped). Tunnels added
 * afterwards start at once. Idempotent; a stopped manager may be started again.
 * Errors: ZLT_EINVAL (mgr NULL, or called from inside the resolver), ZLT_ECONNECTION (the
 * server cannot listen: address in use, ...), ZLT_ESHUTDOWN (the runtime was freed).
 */
ZLT_EXPORT int zlt_node_manager_start(zlt_node_manager* mgr);

/*
 * Stops every tunnel and the server: agents say goodbye, listeners and sessions are closed,
 * and every tunnel becomes "disconnected" (reported through events). The tunnels are kept and
 * start again with zlt_node_manager_start(). Idempotent.
 * Errors: ZLT_EINVAL (mgr NULL, or called from inside the resolver), ZLT_ESHUTDOWN (the runtime
 * was freed).
 */
ZLT_EXPORT int zlt_node_manager_stop(zlt_node_manager* mgr);

/*
 * A snapshot of the node as a JSON object:
 *   {"node_name": "node-b", "running": true,
 *    "server": {"listen": ["127.0.0.1:3680"], "sessions": 1} or null,
 *    "tunnels": [{"name", "from", "to", "direction", "local_port", "remote_port", "state",
 *                 "reason" (failed/disconnected), "connected_at", "last_activity" (RFC 3339
 *                 or null), "bytes_in", "bytes_out", "latency_ms" (or null), "reconnects",
 *                 and when known "route", "route_reason", "url" (outbound), "public_port",
 *                 "listen" (an internal inbound tunnel's "HOST:PORT")}]}
 * *json_out is set to a string to free with zlt_free().
 * Errors: ZLT_EINVAL (NULL argument, or called from inside the resolver), ZLT_ESHUTDOWN,
 * ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_node_manager_status(zlt_node_manager* mgr, char** json_out);

/*
 * The Prometheus text exposition (format 0.0.4) of this node (and its inbound server): the same text its
 * `--metrics` listener serves on GET /metrics (README "Metrics" lists every name). *text_out
 * is set to a string to free with zlt_free(). Errors: ZLT_EINVAL, ZLT_ESHUTDOWN, ZLT_ENOMEM.
 */
ZLT_EXPORT int zlt_node_manager_metrics(zlt_node_manager* mgr, char** text_out);


/*
 * Stops (if needed) and destroys the manager. NULL is ignored. Calls on `mgr` running on other
 * threads meanwhile complete or return ZLT_ECLOSED. See "Lifetime" above; once it has
 * returned neither the event callback nor the resolver runs again.
 */
ZLT_EXPORT void zlt_node_manager_free(zlt_node_manager* mgr);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ZLAYER_TUNNEL_H */
