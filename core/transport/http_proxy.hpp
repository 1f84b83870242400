// HTTP CONNECT proxies (RFC 9110 §9.3.6): the request that opens a tunnel to the tunnel
// server, and the check of the proxy's answer. Only plain-http proxies are supported; TLS to
// the tunnel server runs inside the CONNECT tunnel.
#pragma once

#include <string>
#include <string_view>

#include "core/common/error.hpp"
#include "core/transport/http_head.hpp"
#include "core/transport/url.hpp"

namespace zlt {

// Parses and checks a proxy URL ("http://[user:pass@]host:port"). Errors are Errc::config.
Result<Url> parse_proxy_url(std::string_view text);

// "CONNECT host:port HTTP/1.1" with Host and, when the proxy URL has userinfo,
// "Proxy-Authorization: Basic ..." (userinfo percent-decoded first).
std::string build_connect_request(const Url& target, const Url& proxy);

// Any 2xx opens the tunnel; anything else is Errc::connection
// "proxy <host:port> refused CONNECT <target>: HTTP 403 Forbidden".
Status check_connect_response(const HttpResponseHead& head, const Url& target, const Url& proxy);

}  // namespace zlt
