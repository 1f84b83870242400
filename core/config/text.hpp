// Text routines shared by the config parsers. Internal to core/config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/common/ascii.hpp"  // case folding and character classes

namespace zlt::config::detail {

// Strips ASCII white space at both ends.
std::string_view trim(std::string_view s);
bool all_digits(std::string_view s);
// A non-empty run of ASCII digits as an unsigned number; nullopt on anything else or overflow.
std::optional<std::uint64_t> parse_decimal(std::string_view s);
// A port number: 1 to 5 digits, at most 65535.
std::optional<std::uint16_t> parse_port(std::string_view s);

// "path: message", or just the message at the top level.
std::string at(std::string_view path, std::string_view message);

// The characters the original allowed in a service name: alphanumerics, '-' and '_'. Every
// non-ASCII character of well-formed UTF-8 is taken as alphanumeric (the original asked
// Unicode, which accepts letters such as 'é'); only ASCII is checked exactly, which is where
// names go wrong in practice.
bool has_service_name_chars(std::string_view name);
// A DNS name or an IPv4 literal: labels of letters, digits, '-' and '_' separated by dots.
bool is_host_name(std::string_view host);
bool is_ipv4_literal(std::string_view host);
bool is_ipv6_literal(std::string_view host);

}  // namespace zlt::config::detail
