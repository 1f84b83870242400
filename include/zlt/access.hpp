// Access to a service behind a server: AccessManager opens a session with a grant and forwards
// a local port to the target.
#pragma once

#include <string_view>

#include "core/access/access_manager.hpp"
#include "core/access/access_target.hpp"
#include "core/common/error.hpp"

namespace zlt {

// Whether `host` (an IP literal) is an address an access session may listen on locally.
Status validate_local_bind(std::string_view host);

}  // namespace zlt
