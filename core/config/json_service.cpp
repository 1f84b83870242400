#include <nlohmann/json.hpp>

#include "core/config/json_reader.hpp"

namespace zlt::config {

namespace detail {

Result<ServiceConfig> service_config_at(const nlohmann::json& j, const std::string& path,
                                        ErrorList* errors) {
  Result<ObjectReader> opened = ObjectReader::open(j, path, errors);
  if (!opened) return opened.take_error();
  ObjectReader& r = *opened;
  ServiceConfig c;
  ZLT_TRY(r.required("name", c.name));
  ZLT_TRY(r.optional("protocol", c.protocol));
  ZLT_TRY(r.required("local_port", c.local_port));
  ZLT_TRY(r.optional("remote_port", c.remote_port));
  ZLT_TRY(r.optional("internal", c.internal));
  ZLT_TRY(r.optional("proxy_protocol", c.proxy_protocol));
  ZLT_TRY(r.finish());
  return c;
}

}  // namespace detail

Result<ServiceConfig> service_config_from_json(const nlohmann::json& j) {
  return detail::service_config_at(j, "");
}

nlohmann::json to_json(const ServiceConfig& c) {
  nlohmann::json j = {{"name", c.name},
                      {"protocol", proto::service_protocol_name(c.protocol)},
                      {"local_port", c.local_port},
                      {"remote_port", c.remote_port},
                      {"internal", c.internal}};
  if (c.proxy_protocol != ProxyProtocol::none)
    j["proxy_protocol"] = proxy_protocol_name(c.proxy_protocol);
  return j;
}

}  // namespace zlt::config
