// The client side of the RFC 6455 §4 opening handshake: the upgrade request and the checks
// of the server's answer.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/error.hpp"
#include "core/transport/http_head.hpp"
#include "core/transport/url.hpp"

namespace zlt {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Extra request headers must be tokens without CR/LF, and must not replace the handshake's
// own headers. Errors are Errc::config.
Status check_extra_headers(const HeaderList& headers);

std::string build_upgrade_request(const Url& url, std::string_view key,
                                  const std::vector<std::string>& subprotocols,
                                  const HeaderList& extra_headers);

// Errors are Errc::connection, "handshake: HTTP 404 Not Found", "handshake: bad
// Sec-WebSocket-Accept", "handshake: server negotiated an extension", ...
Status check_upgrade_response(const HttpResponseHead& head, std::string_view key,
                              const std::vector<std::string>& subprotocols);

}  // namespace zlt
