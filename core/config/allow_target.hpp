// The checks the configuration applies to a token's `allow` entries and `services` names
// (docs/PROTOCOL.md §4.6), part of the config API: the server checks grants with them. The syntax
// itself is the protocol's (core/protocol/open_target.hpp), so what the configuration accepts
// is exactly what the policy understands.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.hpp"
#include "core/protocol/host_syntax.hpp"

namespace zlt::config {

bool is_valid_allow_target(std::string_view target);

// Every entry of `targets` is valid: otherwise "<path>[i]: invalid target '<t>' (expected
// service:NAME, HOST:PORT or CIDR:PORT)" (Errc::config). The one check behind token entries,
// host-supplied grants, admin API grant requests and the grants file.
Status validate_allow_targets(const std::vector<std::string>& targets, const std::string& path);

// The rules of ServiceConfig::validate for a name: non-empty, at most 255 bytes, the allowed
// characters.
using proto::is_valid_service_name;
// A token's `services` list: "<path>[i]: invalid service name '<n>'" (Errc::config) otherwise.
Status validate_service_names(const std::vector<std::string>& names, const std::string& path);

}  // namespace zlt::config
