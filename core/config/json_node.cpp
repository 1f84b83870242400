#include <nlohmann/json.hpp>

#include "core/config/json_reader.hpp"

namespace zlt::config {

Result<NodeTunnel> node_tunnel_from_json(const nlohmann::json& j) {
  Result<detail::ObjectReader> opened = detail::ObjectReader::open(j, "");
  if (!opened) return opened.take_error();
  detail::ObjectReader& r = *opened;
  NodeTunnel t;
  ZLT_TRY(r.required("name", t.name));
  ZLT_TRY(r.required("from", t.from));
  ZLT_TRY(r.required("to", t.to));
  ZLT_TRY(r.required("local_port", t.local_port));
  ZLT_TRY(r.required("remote_port", t.remote_port));
  ZLT_TRY(r.optional("protocol", t.protocol));
  ZLT_TRY(r.optional("expose", t.expose));
  ZLT_TRY(r.optional("token", t.token));
  ZLT_TRY(r.optional("routing_mode", t.routing_mode));
  ZLT_TRY(r.finish());
  return t;
}

nlohmann::json to_json(const NodeTunnel& t) {
  nlohmann::json j = {
      {"name", t.name},
      {"from", t.from},
      {"to", t.to},
      {"local_port", t.local_port},
      {"remote_port", t.remote_port},
      {"protocol", proto::service_protocol_name(t.protocol)},
      {"expose", expose_type_name(t.expose)},
      {"routing_mode", routing_mode_name(t.routing_mode)},
  };
  if (t.token) j["token"] = *t.token;
  return j;
}

}  // namespace zlt::config
