// A plain HTTP request and its answer, as the WebSocket server and the small HTTP listeners
// (http_server.hpp) hand them to their handlers: a handler sees no sockets and no framing.
#pragma once

#include <string>

namespace zlt {

struct HttpRequest {
  std::string method;  // GET, POST, DELETE, PUT
  std::string path;    // without the query
  std::string query;
  std::string authorization;
  std::string body;
  std::string peer;
};

struct HttpResponse {
  int status = 404;
  std::string content_type = "text/plain";
  std::string body = "not found\n";
};

}  // namespace zlt
