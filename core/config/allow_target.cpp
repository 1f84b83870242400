#include "core/config/allow_target.hpp"

#include <optional>

#include "core/config/text.hpp"

namespace zlt::config::detail {
namespace {

constexpr std::string_view kServicePrefix = "service:";

bool is_port_or_any(std::string_view port) {
  return port == "*" || parse_port(port).value_or(0) != 0;
}

bool is_prefix_length(std::string_view text, unsigned max_bits) {
  if (text.empty() || text.size() > 3) return false;
  std::optional<std::uint64_t> n = parse_decimal(text);
  return n && *n <= max_bits;
}

// "a.b.c.d/len" or (already unbracketed) "v6/len".
bool is_cidr(std::string_view text, bool ipv6) {
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  std::string_view address = text.substr(0, slash);
  std::string_view bits = text.substr(slash + 1);
  if (ipv6) return is_ipv6_literal(address) && is_prefix_length(bits, 128);
  return is_ipv4_literal(address) && is_prefix_length(bits, 32);
}

}  // namespace

bool is_valid_service_name(std::string_view name) {
  return !name.empty() && name.size() <= 255 && has_service_name_chars(name);
}

bool is_valid_allow_target(std::string_view target) {
  if (target.starts_with(kServicePrefix)) {
    std::string_view name = target.substr(kServicePrefix.size());
    return name == "*" || is_valid_service_name(name);
  }
  std::string_view host;
  std::string_view port;
  bool bracketed = target.starts_with('[');
  if (bracketed) {
    std::size_t close = target.find(']');
    if (close == std::string_view::npos || close + 1 >= target.size() || target[close + 1] != ':')
      return false;
    host = target.substr(1, close - 1);
    port = target.substr(close + 2);
  } else {
    std::size_t colon = target.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = target.substr(0, colon);
    port = target.substr(colon + 1);
  }
  if (!is_port_or_any(port)) return false;
  if (bracketed) return is_ipv6_literal(host) || is_cidr(host, true);
  return host == "*" || is_cidr(host, false) || is_host_name(host);
}

}  // namespace zlt::config::detail
