// What an access session may point at: the targets of Open (docs/PROTOCOL.md §4.6), checked on the
// client so a typo is refused at once instead of by the server on the first connection.
#pragma once

#include <string_view>

#include "core/common/error.hpp"

namespace zlt {

// "service:NAME" (NAME follows the service name rules), "host:port" or "[v6]:port" with a port
// 1-65535. Errors are Errc::invalid_argument, "invalid target '<text>': <why>".
Status validate_access_target(std::string_view target);

}  // namespace zlt
