#include "core/config/text.hpp"

#include <arpa/inet.h>

#include <array>
#include <span>

#include "core/protocol/utf8.hpp"

namespace zlt::config::detail {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  for (char c : s)
    if (!ascii_is_digit(c)) return false;
  return true;
}

std::optional<std::uint64_t> parse_decimal(std::string_view s) {
  if (s.empty() || !all_digits(s)) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : s) {
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

std::string at(std::string_view path, std::string_view message) {
  if (path.empty()) return std::string(message);
  std::string out(path);
  out.append(": ").append(message);
  return out;
}

bool has_service_name_chars(std::string_view name) {
  std::span bytes(reinterpret_cast<const std::uint8_t*>(name.data()), name.size());
  if (proto::validate_utf8(bytes)) return false;
  for (char c : name) {
    if (static_cast<unsigned char>(c) >= 0x80) continue;
    if (!ascii_is_alnum(c) && c != '-' && c != '_') return false;
  }
  return true;
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

// inet_pton reads a C string: a NUL inside `host` would end the literal early and let
// "10.0.0.1\0anything" pass as 10.0.0.1.
bool is_ipv4_literal(std::string_view host) {
  if (host.find('\0') != std::string_view::npos) return false;
  std::string text(host);
  std::array<unsigned char, 4> addr{};
  return inet_pton(AF_INET, text.c_str(), addr.data()) == 1;
}

bool is_ipv6_literal(std::string_view host) {
  if (host.find('\0') != std::string_view::npos) return false;
  std::string text(host);
  std::array<unsigned char, 16> addr{};
  return inet_pton(AF_INET6, text.c_str(), addr.data()) == 1;
}

}  // namespace zlt::config::detail
