#include <nlohmann/json.hpp>

#include "core/config/json_reader.hpp"
#include "core/config/json_text.hpp"

namespace zlt::config {

namespace {

// The keys of the access configuration that may sit next to the client configuration's.
constexpr const char* kAccessKeys[] = {"default_ttl", "local_bind"};

// Splits the one object in two, so each reader still rejects the keys that are no one's. The
// client configuration is read (and validated, if asked) before the access keys, so an object
// wrong in both is reported for its client part.
Result<AccessSetup> read_access_setup(const nlohmann::json& j, bool validate_client) {
  nlohmann::json client_part = j;
  nlohmann::json access_part = nlohmann::json::object();
  if (client_part.is_object()) {
    for (const char* key : kAccessKeys) {
      if (auto it = client_part.find(key); it != client_part.end()) {
        access_part[key] = *it;
        client_part.erase(it);
      }
    }
  }
  Result<TunnelClientConfig> client = client_config_from_json(client_part);
  if (!client) return client.take_error();
  if (validate_client) ZLT_TRY(client->validate());
  Result<AccessConfig> access = access_config_from_json(access_part);
  if (!access) return access.take_error();
  return AccessSetup{std::move(*client), std::move(*access)};
}

}  // namespace

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

Result<AccessSetup> access_setup_from_json(const nlohmann::json& j) {
  return read_access_setup(j, /*validate_client=*/false);
}

Result<AccessSessionRequest> access_session_request_from_json(const nlohmann::json& j) {
  Result<ObjectReader> opened = ObjectReader::open(j, "");
  if (!opened) return opened.take_error();
  ObjectReader& r = *opened;
  AccessSessionRequest req;
  ZLT_TRY(r.required("target", req.target));
  ZLT_TRY(r.optional("local_port", req.local_port));
  ZLT_TRY(r.optional("ttl", req.ttl));
  ZLT_TRY(r.optional("protocol", req.protocol));
  ZLT_TRY(r.finish());
  return req;
}

Result<AccessSetup> parse_access_setup(std::string_view json_text) {
  Result<nlohmann::json> j = parse_json_text(json_text);
  if (!j) return j.take_error();
  return read_access_setup(*j, /*validate_client=*/true);
}

Result<AccessSessionRequest> parse_access_session_request(std::string_view json_text) {
  Result<nlohmann::json> j = parse_json_text(json_text);
  if (!j) return j.take_error();
  return access_session_request_from_json(*j);
}

nlohmann::json to_json(const AccessConfig& c) {
  nlohmann::json j = {{"local_bind", c.local_bind}};
  if (c.default_ttl) j["default_ttl"] = format_duration(*c.default_ttl);
  return j;
}

}  // namespace zlt::config
