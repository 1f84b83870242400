// JSON text to a JSON value, with syntax errors as Errc::config. Part of the config API: the
// server and the C ABI read their JSON requests with it.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/common/error.hpp"

namespace zlt::config {

// Whether `//` line and `/* */` block comments are allowed between tokens (never inside a
// string, where they are data). Config files allow them; requests on the wire and the C ABI's
// strings stay plain JSON.
enum class JsonComments { reject, allow };

// "invalid JSON: parse error at line 1, column 2: ..." on bad syntax.
Result<nlohmann::json> parse_json_text(std::string_view text,
                                       JsonComments comments = JsonComments::reject);

}  // namespace zlt::config
