// Text routines of the config parsers, part of the config API (the server normalises the
// hashes of its grants file with them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/common/ascii.hpp"  // case folding and character classes
#include "core/protocol/host_syntax.hpp"

namespace zlt::config {

// Strips ASCII white space at both ends.
std::string_view trim(std::string_view s);
bool all_digits(std::string_view s);

// The syntax the configuration shares with Open targets and allow entries.
using proto::has_service_name_chars;
using proto::is_host_name;
using proto::is_ipv4_literal;
using proto::is_ipv6_literal;
using proto::parse_decimal;
using proto::parse_port;

}  // namespace zlt::config
