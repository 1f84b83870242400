// JSON text of values that may hold a peer's strings. nlohmann's plain dump() throws on invalid
// UTF-8; here such bytes become U+FFFD instead, so serialising never fails on what a peer sent.
// Every dump of data that came from outside goes through this.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace zlt {

inline std::string dump_json(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace zlt
