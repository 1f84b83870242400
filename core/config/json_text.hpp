// JSON text to a JSON value, with syntax errors as Errc::config. Internal to core/config.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/common/error.hpp"

namespace zlt::config::detail {

// "invalid JSON: parse error at line 1, column 2: ..." on bad syntax.
Result<nlohmann::json> parse_json_text(std::string_view text);

}  // namespace zlt::config::detail
