#include "core/protocol/host_syntax.hpp"

#include <arpa/inet.h>

#include <array>
#include <span>
#include <string>

#include "core/common/ascii.hpp"
#include "core/protocol/utf8.hpp"

namespace zlt::proto {
std::optional<std::uint64_t> parse_decimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : s) {
    if (!ascii_is_digit(c)) return std::nullopt;
    auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.size() > 5) return std::nullopt;
  std::optional<std::uint64_t> n = parse_decimal(s);
  if (!n || *n > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(*n);
}

bool has_service_name_chars(std::string_view name) {
  std::span bytes(reinterpret_cast<const std::uint8_t*>(name.data()), name.size());
  if (validate_utf8(bytes)) return false;
  for (char c : name) {
    if (static_cast<unsigned char>(c) >= 0x80) continue;
    if (!ascii_is_alnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

bool is_valid_service_name(std::string_view name) {
  return !name.empty() && name.size() <= 255 && has_service_name_chars(name);
}

bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!ascii_is_alnum(c) && c != '-' && c != '_') return false;
    if (++label > 63) return false;
  }
  // Reaching the end means every dot followed a label, so a trailing dot (a fully qualified
  // name) is fine.
  return true;
}

bool parse_ip_literal(std::string_view text, bool ipv6, std::uint8_t* out) {
  // inet_pton reads a C string: a NUL inside `text` would end the literal early and let
  // "10.0.0.1\0anything" pass as 10.0.0.1.
  if (text.find('\0') != std::string_view::npos) return false;
  const std::string copy(text);
  return inet_pton(ipv6 ? AF_INET6 : AF_INET, copy.c_str(), out) == 1;
}

bool is_ipv4_literal(std::string_view host) {
  std::array<std::uint8_t, 4> addr{};
  return parse_ip_literal(host, false, addr.data());
}

bool is_ipv6_literal(std::string_view host) {
  std::array<std::uint8_t, 16> addr{};
  return parse_ip_literal(host, true, addr.data());
}

}  // namespace zlt::proto
