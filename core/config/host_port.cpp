#include <string>

#include "core/config/config.hpp"
#include "core/config/json_reader.hpp"
#include "core/config/text.hpp"

namespace zlt::config {

std::string HostPort::to_string() const {
  std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

Result<HostPort> parse_host_port(std::string_view text, std::string_view field) {
  auto fail = [&] {
    return make_error(Errc::config,
                      at(field, "expected HOST:PORT, got '" + std::string(text) + "'"));
  };
  std::string_view host;
  std::string_view rest;
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return fail();
    host = text.substr(1, close - 1);
    if (!is_ipv6_literal(host)) return fail();
    rest = text.substr(close + 1);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail();
    host = text.substr(0, colon);
    // An IPv6 literal must be bracketed, or its last group could not be told from the port.
    if (!is_host_name(host)) return fail();
    rest = text.substr(colon);
  }
  if (!rest.starts_with(':')) return fail();
  std::optional<std::uint16_t> port = parse_port(rest.substr(1));
  if (!port) return fail();
  return HostPort{std::string(host), *port};
}

Result<HostPort> parse_listen_address(std::string_view text, std::string_view field) {
  std::string_view port_text = text.starts_with(':') ? text.substr(1) : text;
  if (!port_text.empty() && port_text.find_first_not_of("0123456789") == std::string_view::npos) {
    std::optional<std::uint16_t> port = parse_port(port_text);
    if (!port)
      return make_error(Errc::config,
                        at(field, "expected HOST:PORT or PORT, got '" + std::string(text) + "'"));
    return HostPort{"127.0.0.1", *port};
  }
  return parse_host_port(text, field);
}

void validate_http_listener(const std::optional<std::string>& listen, std::string_view field,
                            const HttpListenerLimits& limits, ErrorList& errors) {
  if (listen) {
    if (auto hp = parse_listen_address(*listen, field); !hp) errors.add(hp.take_error());
  }
  if (limits.max_connections == 0)
    errors.add(make_error(Errc::config, "http_max_connections: must be > 0"));
  if (limits.max_request_head < 256)
    errors.add(make_error(Errc::config, "http_max_request_head: must be >= 256"));
  if (limits.idle_timeout.count() <= 0)
    errors.add(make_error(Errc::config, "http_idle_timeout: must be > 0"));
}

}  // namespace zlt::config
