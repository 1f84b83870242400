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

}  // namespace zlt::config
