// The syntax of the names and numbers that Open targets, allow entries and the configuration
// share: ports, service names, DNS names and IP literals (docs/PROTOCOL.md §4.6).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace zlt::proto {

// A non-empty run of ASCII digits as an unsigned number; nullopt on anything else or overflow.
std::optional<std::uint64_t> parse_decimal(std::string_view s);
// A port number: 1 to 5 digits, at most 65535.
std::optional<std::uint16_t> parse_port(std::string_view s);

// The characters the original allowed in a service name: alphanumerics, '-' and '_'. Every
// non-ASCII character of well-formed UTF-8 is taken as alphanumeric (the original asked
// Unicode, which accepts letters such as 'é'); only ASCII is checked exactly, which is where
// names go wrong in practice.
bool has_service_name_chars(std::string_view name);
// A service name: non-empty, at most 255 bytes, the characters above.
bool is_valid_service_name(std::string_view name);

// A DNS name or an IPv4 literal: labels of letters, digits, '-' and '_' separated by dots.
bool is_host_name(std::string_view host);
bool is_ipv4_literal(std::string_view host);
bool is_ipv6_literal(std::string_view host);
// An IP literal (IPv4 when `ipv6` is false) into `out` (4 or 16 bytes); false if it is none.
// Text holding a NUL is never a literal (inet_pton would stop at it).
bool parse_ip_literal(std::string_view text, bool ipv6, std::uint8_t* out);

}  // namespace zlt::proto
