// The syntax of a token's `allow` entries and `services` names (docs/PROTOCOL.md §4.6). Internal to
// core/config; the server's AllowList is built from the entries parsed here, so what the
// configuration accepts is exactly what the policy understands.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.hpp"

namespace zlt::config::detail {

// One parsed entry. IP literals are networks of full length ("10.0.0.1:80" is 10.0.0.1/32), so
// a literal and a CIDR are matched by one rule.
// An IP literal (IPv4 when `ipv6` is false) into `out` (4 or 16 bytes); false if it is none.
// Text holding a NUL is never a literal (inet_pton would stop at it).
bool parse_ip_literal(std::string_view text, bool ipv6, std::uint8_t* out);

struct AllowEntry {
  enum class Kind { service, host, network };
  Kind kind = Kind::host;
  std::string name;  // service: a service name or "*"; host: a host name or "*"
  int family = 0;    // network: AF_INET or AF_INET6
  std::array<std::uint8_t, 16> address{};
  unsigned prefix = 0;               // network: 0..32 (IPv4) or 0..128 (IPv6), checked
  std::optional<std::uint16_t> port;  // nullopt: any port ('*'); never for services
};

// "service:NAME" (NAME a service name or '*'), "HOST:PORT", "[v6]:PORT", "CIDR:PORT" (IPv4
// "a.b.c.d/len" or bracketed IPv6 "[prefix/len]"); HOST and PORT may each be '*'. nullopt for
// anything else, a prefix length beyond the family's width included.
std::optional<AllowEntry> parse_allow_entry(std::string_view text);
bool is_valid_allow_target(std::string_view target);

// Every entry of `targets` is valid: otherwise "<path>[i]: invalid target '<t>' (expected
// service:NAME, HOST:PORT or CIDR:PORT)" (Errc::config). The one check behind token entries,
// host-supplied grants, admin API grant requests and the grants file.
Status validate_allow_targets(const std::vector<std::string>& targets, const std::string& path);

// The rules of ServiceConfig::validate for a name: non-empty, at most 255 bytes, the allowed
// characters.
bool is_valid_service_name(std::string_view name);
// A token's `services` list: "<path>[i]: invalid service name '<n>'" (Errc::config) otherwise.
Status validate_service_names(const std::vector<std::string>& names, const std::string& path);

}  // namespace zlt::config::detail
