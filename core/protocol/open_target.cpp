#include "core/protocol/open_target.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "core/common/ascii.hpp"
#include "core/protocol/host_syntax.hpp"

namespace zlt {
namespace {

constexpr std::string_view kServicePrefix = "service:";

// "host:port" or "[host]:port" into its parts (brackets removed); false when neither form. An
// unbracketed host holds no ':' (a bare IPv6 address needs brackets).
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
  return host.find(':') == std::string_view::npos;
}

// The port of an Open target: decimal digits (leading zeros allowed) for 1-65535.
bool parse_target_port(std::string_view text, std::uint16_t& out) {
  const std::optional<std::uint64_t> v = proto::parse_decimal(text);
  if (!v || *v == 0 || *v > 65535) return false;
  out = static_cast<std::uint16_t>(*v);
  return true;
}

// An IP literal into `entry` (family, address); false if it is none of the family asked for.
bool parse_ip(std::string_view text, bool ipv6, AllowEntry& entry) {
  if (!proto::parse_ip_literal(text, ipv6, entry.address.data())) return false;
  entry.family = ipv6 ? AF_INET6 : AF_INET;
  return true;
}

// An IP literal into 4 or 16 bytes; returns the family or 0.
int parse_ip(std::string_view text, std::uint8_t* out) {
  if (proto::parse_ip_literal(text, false, out)) return AF_INET;
  if (proto::parse_ip_literal(text, true, out)) return AF_INET6;
  return 0;
}

// "a.b.c.d/len" or (already unbracketed) "v6/len". The length is checked against the family:
// the matcher reads `prefix` bits of a 4- or 16-byte address and must never read beyond it.
bool parse_cidr(std::string_view text, bool ipv6, AllowEntry& entry) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view bits = text.substr(slash + 1);
  if (bits.empty() || bits.size() > 3) return false;
  const std::optional<std::uint64_t> n = proto::parse_decimal(bits);
  if (!n || *n > (ipv6 ? 128u : 32u)) return false;
  if (!parse_ip(text.substr(0, slash), ipv6, entry)) return false;
  entry.prefix = static_cast<unsigned>(*n);
  return true;
}

unsigned address_bits(int family) {
  return family == AF_INET ? 32 : 128;
}

// Whether the first `bits` bits of a and b agree; bits never exceeds the family's width.
bool prefix_matches(const std::uint8_t* a, const std::uint8_t* b, unsigned bits, int family) {
  bits = std::min(bits, address_bits(family));
  unsigned full = bits / 8;
  if (!std::equal(a, a + full, b)) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

// The bytes of `address` (4 or 16) and its family; 0 for anything but IPv4/IPv6.
int address_bytes(const sockaddr_storage& address, std::uint8_t* out) {
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    std::memcpy(out, &v4->sin_addr, 4);
    return AF_INET;
  }
  if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    std::memcpy(out, &v6->sin6_addr, 16);
    return AF_INET6;
  }
  return 0;
}

std::uint16_t address_port(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  if (address.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  return 0;
}

AddressClass classify_v4(const std::uint8_t* a) {
  using K = AddressClass::Kind;
  if (a[0] == 127) return {K::loopback, 8};
  if (a[0] == 0) return {K::unspecified, 8};  // "this network": only ever a source
  if (a[0] == 169 && a[1] == 254) return {K::link_local, 16};
  if ((a[0] & 0xf0) == 224) return {K::multicast, 4};
  return {};
}

}  // namespace

Result<OpenTarget> OpenTarget::parse(std::string_view text) {
  OpenTarget t;
  if (text.starts_with(kServicePrefix)) {
    t.kind = Kind::service;
    t.name = std::string(text.substr(kServicePrefix.size()));
    if (!proto::is_valid_service_name(t.name))
      return make_error(Errc::invalid_argument,
                        "invalid target '" + std::string(text) + "': not a service name");
    return t;
  }
  std::string_view host;
  std::string_view port;
  if (!split_host_port(text, host, port) || host.empty() || !parse_target_port(port, t.port))
    return make_error(Errc::invalid_argument, "invalid target '" + std::string(text) +
                                                  "': expected host:port, [v6]:port or "
                                                  "service:NAME");
  // The host is dialed and written into logs and events: only a DNS name (labels of letters,
  // digits, '-' and '_', at most 253 bytes) or an IP literal, never spaces or control bytes.
  const bool host_ok =
      text.starts_with('[') ? proto::is_ipv6_literal(host) : proto::is_host_name(host);
  if (!host_ok)
    return make_error(Errc::invalid_argument,
                      "invalid target '" + std::string(text) +
                          "': the host is neither a DNS name nor an IP literal");
  t.host = std::string(host);
  return t;
}

std::string OpenTarget::to_string() const {
  if (kind == Kind::service) return std::string(kServicePrefix) + name;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<AllowEntry> parse_allow_entry(std::string_view text) {
  AllowEntry e;
  if (text.starts_with(kServicePrefix)) {
    e.kind = AllowEntry::Kind::service;
    e.name = std::string(text.substr(kServicePrefix.size()));
    if (e.name != "*" && !proto::is_valid_service_name(e.name)) return std::nullopt;
    return e;
  }
  std::string_view host;
  std::string_view port;
  if (!split_host_port(text, host, port)) return std::nullopt;
  if (port != "*") {
    e.port = proto::parse_port(port);
    if (e.port.value_or(0) == 0) return std::nullopt;
  }
  e.kind = AllowEntry::Kind::network;
  if (text.starts_with('[')) {
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
  if (host != "*" && !proto::is_host_name(host)) return std::nullopt;
  e.kind = AllowEntry::Kind::host;
  e.family = 0;
  e.name = std::string(host);
  return e;
}

AddressClass classify_address(const sockaddr_storage& address) {
  using K = AddressClass::Kind;
  std::uint8_t a[16] = {};
  const int family = address_bytes(address, a);
  if (family == AF_INET) return classify_v4(a);
  if (family != AF_INET6) return {};
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(a, a + 12, kMapped)) {
    AddressClass inner = classify_v4(a + 12);
    if (inner.kind != K::ordinary) inner.prefix += 96;
    return inner;
  }
  static constexpr std::uint8_t kZero[16] = {};
  if (std::equal(a, a + 15, kZero)) {
    if (a[15] == 1) return {K::loopback, 128};
    if (a[15] == 0) return {K::unspecified, 128};
  }
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return {K::link_local, 10};
  if (a[0] == 0xff) return {K::multicast, 8};
  return {};
}

std::string_view address_class_phrase(AddressClass::Kind kind) {
  switch (kind) {
    case AddressClass::Kind::loopback:
      return "a loopback address";
    case AddressClass::Kind::link_local:
      return "a link-local address";
    case AddressClass::Kind::unspecified:
      return "an unspecified address";
    case AddressClass::Kind::multicast:
      return "a multicast address";
    case AddressClass::Kind::ordinary:
      break;
  }
  return "an ordinary address";
}

Result<AllowList> AllowList::parse(const std::vector<std::string>& entries) {
  AllowList list;
  for (const auto& raw : entries) {
    auto e = parse_allow_entry(raw);
    if (!e)
      return make_error(
          Errc::invalid_argument,
          "invalid allow entry '" + raw + "' (expected service:NAME, HOST:PORT or CIDR:PORT)");
    list.entries_.push_back(std::move(*e));
  }
  return list;
}

bool AllowList::allows(const OpenTarget& target) const {
  using Kind = AllowEntry::Kind;
  std::uint8_t ip[16] = {};
  int family = target.kind == OpenTarget::Kind::address ? parse_ip(target.host, ip) : 0;
  for (const auto& e : entries_) {
    if (target.kind == OpenTarget::Kind::service) {
      if (e.kind == Kind::service && (e.name == "*" || e.name == target.name)) return true;
      continue;
    }
    if (e.kind == Kind::service) continue;
    if (e.port && *e.port != target.port) continue;
    if (e.kind == Kind::network) {
      if (family == e.family && prefix_matches(ip, e.address.data(), e.prefix, family)) return true;
      continue;
    }
    if (e.name == "*" || iequals_ascii(e.name, target.host)) return true;
  }
  return false;
}

std::optional<std::string> AllowList::address_refusal(const sockaddr_storage& address) const {
  const AddressClass cls = classify_address(address);
  if (cls.kind == AddressClass::Kind::ordinary) return std::nullopt;
  std::uint8_t ip[16] = {};
  const int family = address_bytes(address, ip);
  const std::uint16_t port = address_port(address);
  for (const auto& e : entries_) {
    if (e.kind != AllowEntry::Kind::network || e.family != family) continue;
    if (e.port && *e.port != port) continue;
    // The entry must name this range or a part of it, not merely contain it.
    if (e.prefix >= cls.prefix && prefix_matches(ip, e.address.data(), e.prefix, family))
      return std::nullopt;
  }
  return "target resolves to " + std::string(address_class_phrase(cls.kind));
}

}  // namespace zlt
