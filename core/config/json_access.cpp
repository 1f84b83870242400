#include <nlohmann/json.hpp>

#include "core/config/json_reader.hpp"

namespace zlt::config {

Result<AccessConfig> access_config_from_json(const nlohmann::json& j) {
  Result<ObjectReader> opened = ObjectReader::open(j, "");
  if (!opened) return opened.take_error();
  ObjectReader& r = *opened;
  AccessConfig c;
  ZLT_TRY(r.optional("default_ttl", c.default_ttl));
  ZLT_TRY(r.optional("local_bind", c.local_bind));
  ZLT_TRY(r.finish());
  return c;
}

nlohmann::json to_json(const AccessConfig& c) {
  nlohmann::json j = {{"local_bind", c.local_bind}};
  if (c.default_ttl) j["default_ttl"] = format_duration(*c.default_ttl);
  return j;
}

}  // namespace zlt::config
