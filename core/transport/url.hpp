// URLs of tunnel servers (ws://, wss://) and HTTP proxies (http://), and the proxy the
// environment asks for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/common/error.hpp"

namespace zlt {

struct Url {
  std::string scheme;    // lower case: ws, wss, http, https
  std::string userinfo;  // "user:pass" as written (percent-encoded); only http(s) proxies have one
  std::string host;      // without brackets; names are lower case
  std::uint16_t port = 0;
  std::string target = "/";  // path and query, never empty
  bool host_is_ipv6 = false;

  bool tls() const { return scheme == "wss" || scheme == "https"; }
  std::uint16_t default_port() const { return tls() ? 443 : 80; }
  // True for IPv4 and IPv6 literals: these get no SNI and are verified as IP addresses.
  bool host_is_ip() const;
  // host[:port] with brackets around IPv6 literals; the port is omitted when it is the default.
  std::string authority() const;
  // host:port always (the form of a CONNECT request line).
  std::string host_port() const;
  // The URL without userinfo, so it can be logged without leaking credentials.
  std::string to_string() const;
};

// Parses ws://, wss://, http:// and https:// URLs. Errors are Errc::config,
// "invalid URL '<text>': <why>".
Result<Url> parse_url(std::string_view text);

// Decodes %XX escapes (userinfo of proxy URLs). Invalid escapes are kept as written.
std::string percent_decode(std::string_view text);

// The proxy URL the environment asks for when connecting to `target`: https_proxy/HTTPS_PROXY
// for wss, http_proxy/HTTP_PROXY for ws (lower case wins), unless no_proxy/NO_PROXY matches
// the target host. no_proxy is a comma list of "*", exact hosts, and domains (".example.com"
// or "example.com", both matching the domain and its subdomains), each optionally with ":port".
std::optional<std::string> proxy_from_env(const Url& target);

// The no_proxy matching rule on its own (exposed for tests).
bool no_proxy_matches(std::string_view no_proxy, const Url& target);

}  // namespace zlt
