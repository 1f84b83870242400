// Package zlt is the Go binding of zlayer-tunnel, a tunnelling runtime that exposes local
// TCP and UDP services on the public ports of a server through one WebSocket per agent.
//
// The package is a thin wrapper over the library's stable C interface (zlayer_tunnel.h),
// found with pkg-config under the name zlayer-tunnel:
//
//	import zlt "github.com/zlayer/zlayer-tunnel/bindings/go"
//
// # Objects
//
// A [Runtime] is an event loop on a thread of its own. A [Server] (the server side: token
// policy, control endpoint, public listeners) and an [Agent] (the client side: connects,
// registers local services, carries their connections, reconnects) live on a runtime and do
// all their work on its loop thread. Several servers and agents may share one runtime. An
// [Access] (on-demand access: local ports whose connections reach a service on the server's
// side, with a token from [Server.GrantAccess]) and a [NodeManager] (one node's side of
// node-to-node tunnels, with an optional [OverlayResolver]) live on a runtime too.
//
// Configurations are JSON with the schema of the configuration files. Every constructor
// takes either a typed configuration ([ServerConfig], [AgentConfig], [NodeConfig]), any other
// value that encoding/json can marshal (such as a map), or JSON text as a string, []byte or
// [encoding/json.RawMessage]. Unknown keys and wrongly typed values are refused with an error
// that names the field.
//
// # Errors
//
// Failures are returned as *[Error] values carrying a [Code] and the library's message.
// Codes are errors themselves, so errors.Is(err, zlt.ErrConfig) tests the kind of failure.
//
// # Callbacks and threads
//
// Every method may be called from any goroutine. Event, connection and token callbacks run
// on the runtime's loop thread (a thread created by the library, not by Go): while one runs,
// nothing else on that runtime makes progress, so callbacks must return quickly and hand
// slow work to another goroutine. Callbacks may call methods of this package, including on
// the object that invoked them. A panic in a callback is recovered and logged with the
// standard log package; it never reaches the library.
//
// # Lifetime
//
// Objects own resources of the C library that the garbage collector does not see: call
// Close on every [Server], [Agent], [Access], [NodeManager] and [Runtime]. Once Close has
// returned, no callback of the object runs again; if another goroutine is inside a call on the object at that moment, the
// object is released, and its callbacks stop, as that call returns. Close is idempotent;
// calls made after it fail with [ErrShutdown].
package zlt
