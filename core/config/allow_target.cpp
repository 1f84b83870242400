#include "core/config/allow_target.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include "core/config/text.hpp"

namespace zlt::config::detail {
namespace {

constexpr std::string_view kServicePrefix = "service:";

std::string indexed(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// An IP literal into `entry` (family, address); false if it is none of the family asked for.
bool parse_ip(std::string_view text, bool ipv6, AllowEntry& entry) {
  if (!parse_ip_literal(text, ipv6, entry.address.data())) return false;
  entry.family = ipv6 ? AF_INET6 : AF_INET;
  return true;
}

// "a.b.c.d/len" or (already unbracketed) "v6/len". The length is checked against the family:
// the matcher reads `prefix` bits of a 4- or 16-byte address and must never read beyond it.
bool parse_cidr(std::string_view text, bool ipv6, AllowEntry& entry) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view bits = text.substr(slash + 1);
  if (bits.empty() || bits.size() > 3) return false;
  const std::optional<std::uint64_t> n = parse_decimal(bits);
  if (!n || *n > (ipv6 ? 128u : 32u)) return false;
  if (!parse_ip(text.substr(0, slash), ipv6, entry)) return false;
  entry.prefix = static_cast<unsigned>(*n);
  return true;
}

}  // namespace

bool is_valid_service_name(std::string_view name) {
  return !name.empty() && name.size() <= 255 && has_service_name_chars(name);
}

std::optional<AllowEntry> parse_allow_entry(std::string_view text) {
  AllowEntry e;
  if (text.starts_with(kServicePrefix)) {
    e.kind = AllowEntry::Kind::service;
    e.name = std::string(text.substr(kServicePrefix.size()));
    if (e.name != "*" && !is_valid_service_name(e.name)) return std::nullopt;
    return e;
  }
  std::string_view host;
  std::string_view port;
  const bool bracketed = text.starts_with('[');
  if (bracketed) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port != "*") {
    e.port = parse_port(port);
    if (e.port.value_or(0) == 0) return std::nullopt;
  }
  e.kind = AllowEntry::Kind::network;
  if (bracketed) {
    if (parse_cidr(host, true, e)) return e;
    if (!parse_ip(host, true, e)) return std::nullopt;
    e.prefix = 128;
    return e;
  }
  if (host.find('/') != std::string_view::npos) {
    if (!parse_cidr(host, false, e)) return std::nullopt;
    return e;
  }
  if (parse_ip(host, false, e)) {
    e.prefix = 32;
    return e;
  }
  if (host != "*" && !is_host_name(host)) return std::nullopt;
  e.kind = AllowEntry::Kind::host;
  e.family = 0;
  e.name = std::string(host);
  return e;
}

bool is_valid_allow_target(std::string_view target) {
  return parse_allow_entry(target).has_value();
}

Status validate_allow_targets(const std::vector<std::string>& targets, const std::string& path) {
  for (std::size_t i = 0; i < targets.size(); ++i)
    if (!is_valid_allow_target(targets[i]))
      return make_error(Errc::config, indexed(path, i) + ": invalid target '" + targets[i] +
                                          "' (expected service:NAME, HOST:PORT or CIDR:PORT)");
  return {};
}

Status validate_service_names(const std::vector<std::string>& names, const std::string& path) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (!is_valid_service_name(names[i]))
      return make_error(Errc::config, indexed(path, i) + ": invalid service name '" + names[i] +
                                          "' (use 1-255 bytes of letters, digits, '-' and '_')");
  return {};
}

bool parse_ip_literal(std::string_view text, bool ipv6, std::uint8_t* out) {
  if (text.find('\0') != std::string_view::npos) return false;
  const std::string copy(text);
  return inet_pton(ipv6 ? AF_INET6 : AF_INET, copy.c_str(), out) == 1;
}

}  // namespace zlt::config::detail
