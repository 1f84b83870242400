// The admin HTTP API, on the tunnel server's own listener, for issuing and revoking access
// grants and reading status. Served only when an admin token is configured.
//
//   POST   /admin/v1/grants          {"targets": [...], "ttl": "10m", "name": "..."} -> 201
//   GET    /admin/v1/grants          -> 200 {"grants": [...]}
//   DELETE /admin/v1/grants/<id>     -> 204 (404 if unknown)
//   GET    /admin/v1/status          -> 200 (the server's status)
//
// Every request carries "Authorization: Bearer <admin token>" (401 otherwise); errors are
// {"error": "..."} with 400 naming the field, 404 for unknown paths, 405 for other methods.
#pragma once

#include "core/transport/ws_server.hpp"

namespace zlt {

class TunnelServer;

// Answers requests under /admin/; anything else is 404.
HttpResponse handle_admin_request(TunnelServer& server, const HttpRequest& request);

}  // namespace zlt
