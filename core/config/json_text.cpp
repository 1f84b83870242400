// Config text (the C ABI's strings and the files) to validated configs.
#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "core/config/json_text.hpp"

namespace zlt::config {

Result<nlohmann::json> parse_json_text(std::string_view text, JsonComments comments) {
  try {
    return nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/true,
                                 /*ignore_comments=*/comments == JsonComments::allow);
  } catch (const nlohmann::json::exception& e) {
    // Drop the "[json.exception.parse_error.101] " tag: the rest says where and what.
    std::string_view what = e.what();
    if (std::size_t tag_end = what.find("] "); what.starts_with('[') && tag_end != what.npos)
      what.remove_prefix(tag_end + 2);
    return make_error(Errc::config, "invalid JSON: " + std::string(what));
  }
}

namespace {

template <class Config, class FromJson>
Result<Config> parse_and_validate(std::string_view text, FromJson from_json) {
  Result<nlohmann::json> j = parse_json_text(text);
  if (!j) return j.take_error();
  Result<Config> c = from_json(*j);
  if (!c) return c.take_error();
  ZLT_TRY(c->validate());
  return c;
}

}  // namespace

Result<TunnelServerConfig> parse_server_config(std::string_view json_text) {
  return parse_and_validate<TunnelServerConfig>(json_text, server_config_from_json);
}

Result<TunnelClientConfig> parse_client_config(std::string_view json_text) {
  return parse_and_validate<TunnelClientConfig>(json_text, client_config_from_json);
}

}  // namespace zlt::config
