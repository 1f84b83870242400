// The syntax of a token's `allow` entries (PROTOCOL.md §4.6). Internal to core/config.
#pragma once

#include <string_view>

namespace zlt::config::detail {

// "service:NAME" (NAME a service name or '*'), "HOST:PORT", "[v6]:PORT", "CIDR:PORT" (IPv4
// "a.b.c.d/len" or bracketed IPv6 "[prefix/len]"); HOST and PORT may each be '*'.
bool is_valid_allow_target(std::string_view target);

// The rules of ServiceConfig::validate for a name: non-empty, at most 255 bytes, the allowed
// characters.
bool is_valid_service_name(std::string_view name);

}  // namespace zlt::config::detail
