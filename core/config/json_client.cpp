#include <nlohmann/json.hpp>

#include "core/config/json_reader.hpp"

namespace zlt::config {

namespace {

Status read_services(ObjectReader& r, std::vector<ServiceConfig>& out) {
  const nlohmann::json* list = r.find("services");
  if (!list) return {};
  const std::string path = r.path_of("services");
  if (!list->is_array()) return r.keep(type_error(path, "expected an array"));
  for (std::size_t i = 0; i < list->size(); ++i) {
    Result<ServiceConfig> s =
        detail::service_config_at((*list)[i], index_path(path, i), r.errors());
    if (!s) {
      ZLT_TRY(r.keep(s.take_error()));
      continue;
    }
    out.push_back(std::move(s).value());
  }
  return {};
}

Result<TunnelClientConfig> read_client_config(const nlohmann::json& j, ErrorList* errors) {
  Result<ObjectReader> opened = ObjectReader::open(j, "", errors);
  if (!opened) return opened.take_error();
  ObjectReader& r = *opened;
  TunnelClientConfig c;
  ZLT_TRY(r.required("server_url", c.server_url));
  ZLT_TRY(r.required("token", c.token));
  ZLT_TRY(r.optional("reconnect_interval", c.reconnect_interval));
  ZLT_TRY(r.optional("max_reconnect_interval", c.max_reconnect_interval));
  ZLT_TRY(read_services(r, c.services));
  ZLT_TRY(r.optional("overlay_server_url", c.overlay_server_url));
  ZLT_TRY(r.optional("routing_mode", c.routing_mode));
  ZLT_TRY(r.optional("local_host", c.local_host));
  ZLT_TRY(r.optional("ca_file", c.ca_file));
  ZLT_TRY(r.optional("insecure", c.insecure));
  ZLT_TRY(r.optional("proxy", c.proxy));
  ZLT_TRY(r.optional("connect_timeout", c.connect_timeout));
  ZLT_TRY(r.optional("heartbeat_interval", c.heartbeat_interval));
  ZLT_TRY(r.optional("heartbeat_timeout", c.heartbeat_timeout));
  ZLT_TRY(r.optional("max_session_queue", c.max_session_queue));
  ZLT_TRY(r.optional("slow_peer_timeout", c.slow_peer_timeout));
  ZLT_TRY(r.optional("metrics_listen", c.metrics_listen));
  ZLT_TRY(r.optional("http_max_connections", c.http_limits.max_connections));
  ZLT_TRY(r.optional("http_max_request_head", c.http_limits.max_request_head));
  ZLT_TRY(r.optional("http_idle_timeout", c.http_limits.idle_timeout));
  ZLT_TRY(r.finish());
  return c;
}

}  // namespace

Result<TunnelClientConfig> client_config_from_json(const nlohmann::json& j) {
  return read_client_config(j, nullptr);
}

Result<TunnelClientConfig> collect_client_config(const nlohmann::json& j, ErrorList& errors) {
  return read_client_config(j, &errors);
}

nlohmann::json to_json(const TunnelClientConfig& c) {
  nlohmann::json services = nlohmann::json::array();
  for (const ServiceConfig& s : c.services) services.push_back(to_json(s));
  nlohmann::json j = {
      {"server_url", c.server_url},
      {"token", c.token},
      {"reconnect_interval", format_duration(c.reconnect_interval)},
      {"max_reconnect_interval", format_duration(c.max_reconnect_interval)},
      {"services", std::move(services)},
      {"routing_mode", routing_mode_name(c.routing_mode)},
      {"local_host", c.local_host},
      {"insecure", c.insecure},
      {"connect_timeout", format_duration(c.connect_timeout)},
      {"heartbeat_interval", format_duration(c.heartbeat_interval)},
      {"heartbeat_timeout", format_duration(c.heartbeat_timeout)},
      {"max_session_queue", c.max_session_queue},
      {"slow_peer_timeout", format_duration(c.slow_peer_timeout)},
  };
  if (c.overlay_server_url) j["overlay_server_url"] = *c.overlay_server_url;
  if (c.ca_file) j["ca_file"] = *c.ca_file;
  if (c.proxy) j["proxy"] = *c.proxy;
  if (c.metrics_listen) j["metrics_listen"] = *c.metrics_listen;
  j["http_max_connections"] = c.http_limits.max_connections;
  j["http_max_request_head"] = c.http_limits.max_request_head;
  j["http_idle_timeout"] = format_duration(c.http_limits.idle_timeout);
  return j;
}

}  // namespace zlt::config
