#include "core/server/open_policy.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/config/allow_target.hpp"

namespace zlt {
namespace {

constexpr std::string_view kServicePrefix = "service:";

bool split_host_port(std::string_view text, std::string_view& host, std::string_view& port) {
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return false;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    return true;
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  host = text.substr(0, colon);
  port = text.substr(colon + 1);
  return host.find(':') == std::string_view::npos;  // bare IPv6 needs brackets
}

bool parse_port(std::string_view text, std::uint16_t& out) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v == 0 || v > 65535) return false;
  out = static_cast<std::uint16_t>(v);
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Parses an IP literal into 4 or 16 bytes; returns the family or 0.
int parse_ip(const std::string& text, std::uint8_t* out) {
  if (inet_pton(AF_INET, text.c_str(), out) == 1) return AF_INET;
  if (inet_pton(AF_INET6, text.c_str(), out) == 1) return AF_INET6;
  return 0;
}

bool prefix_matches(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
  unsigned full = bits / 8;
  if (!std::equal(a, a + full, b)) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

Result<OpenTarget> OpenTarget::parse(std::string_view text) {
  OpenTarget t;
  if (text.starts_with(kServicePrefix)) {
    t.kind = Kind::service;
    t.name = std::string(text.substr(kServicePrefix.size()));
    if (!config::detail::is_valid_service_name(t.name))
      return make_error(Errc::invalid_argument,
                        "invalid target '" + std::string(text) + "': not a service name");
    return t;
  }
  std::string_view host;
  std::string_view port;
  if (!split_host_port(text, host, port) || host.empty() || !parse_port(port, t.port))
    return make_error(Errc::invalid_argument, "invalid target '" + std::string(text) +
                                                  "': expected host:port, [v6]:port or "
                                                  "service:NAME");
  t.host = std::string(host);
  return t;
}

std::string OpenTarget::to_string() const {
  if (kind == Kind::service) return std::string(kServicePrefix) + name;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

AllowList::AllowList(const std::vector<std::string>& entries) {
  for (const auto& raw : entries) {
    std::string_view text = raw;
    Entry e;
    if (text.starts_with(kServicePrefix)) {
      e.service = true;
      e.name_or_host = std::string(text.substr(kServicePrefix.size()));
      entries_.push_back(e);
      continue;
    }
    std::string_view host;
    std::string_view port;
    if (!split_host_port(text, host, port)) continue;  // validated with the config
    if (port != "*") {
      std::uint16_t p = 0;
      if (!parse_port(port, p)) continue;
      e.port = p;
    }
    auto slash = host.find('/');
    if (slash != std::string_view::npos) {
      e.cidr = true;
      e.family = parse_ip(std::string(host.substr(0, slash)), e.addr);
      std::from_chars(host.data() + slash + 1, host.data() + host.size(), e.prefix);
      if (e.family == 0) continue;
    } else {
      e.name_or_host = std::string(host);
    }
    entries_.push_back(e);
  }
}

bool AllowList::allows(const OpenTarget& target) const {
  std::uint8_t ip[16] = {};
  int family = target.kind == OpenTarget::Kind::address ? parse_ip(target.host, ip) : 0;
  for (const auto& e : entries_) {
    if (target.kind == OpenTarget::Kind::service) {
      if (e.service && (e.name_or_host == "*" || e.name_or_host == target.name)) return true;
      continue;
    }
    if (e.service) continue;
    if (e.port >= 0 && e.port != target.port) continue;
    if (e.cidr) {
      if (family == e.family && prefix_matches(ip, e.addr, e.prefix)) return true;
      continue;
    }
    if (e.name_or_host == "*" || iequals(e.name_or_host, target.host)) return true;
  }
  return false;
}

}  // namespace zlt
