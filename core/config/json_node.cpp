#include <map>

#include <nlohmann/json.hpp>

#include "core/config/json_reader.hpp"
#include "core/config/json_text.hpp"
#include "core/config/text.hpp"

namespace zlt::config {
namespace {

Error invalid(std::string message) {
  return make_error(Errc::config, std::move(message));
}

bool is_websocket_url(std::string_view url) {
  return url.starts_with("ws://") || url.starts_with("wss://");
}

Status check_url(const std::optional<std::string>& url, std::string_view field) {
  if (!url) return {};
  if (!is_websocket_url(*url))
    return invalid(std::string(field) + ": must start with ws:// or wss://");
  return {};
}

Result<NodeTunnel> node_tunnel_at(const nlohmann::json& j, const std::string& path) {
  Result<ObjectReader> opened = ObjectReader::open(j, path);
  if (!opened) return opened.take_error();
  ObjectReader& r = *opened;
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
  ZLT_TRY(r.optional("direct_url", t.direct_url));
  ZLT_TRY(r.optional("overlay_url", t.overlay_url));
  ZLT_TRY(r.finish());
  return t;
}

}  // namespace

Status NodeTunnel::validate() const {
  if (name.empty()) return invalid("name: cannot be empty");
  if (name.size() > 255)
    return invalid("name: too long: " + std::to_string(name.size()) + " bytes, max 255");
  if (!has_service_name_chars(name))
    return invalid("name: must contain only alphanumeric characters, hyphens, and underscores");
  if (from.empty()) return invalid("from: cannot be empty");
  if (to.empty()) return invalid("to: cannot be empty");
  if (from == to) return invalid("to: must differ from from ('" + to + "')");
  if (local_port == 0) return invalid("local_port: cannot be 0");
  if (token && token->empty()) return invalid("token: cannot be empty");
  ZLT_TRY(check_url(direct_url, "direct_url"));
  ZLT_TRY(check_url(overlay_url, "overlay_url"));
  return {};
}

Status NodeConfig::validate() const {
  if (node_name.empty()) return invalid("node_name: cannot be empty");
  if (server) {
    if (Status st = server->validate(); !st) return invalid("server: " + st.error().message);
  }
  std::map<std::string, std::string> names;   // name -> path
  std::map<std::string, std::string> tokens;  // token -> tunnel name
  for (std::size_t i = 0; i < tunnels.size(); ++i) {
    const NodeTunnel& t = tunnels[i];
    const std::string path = "tunnels[" + std::to_string(i) + "]";
    if (Status st = t.validate(); !st) return invalid(path + "." + st.error().message);
    if (!names.emplace(t.name, path).second)
      return invalid(path + ".name: duplicate tunnel name '" + t.name + "'");
    if (t.token) {
      auto [it, fresh] = tokens.emplace(*t.token, t.name);
      if (!fresh) return invalid(path + ".token: same token as tunnel '" + it->second + "'");
    }
    if (t.to == node_name) {
      if (!server) return invalid(path + ": its destination is this node, which needs 'server'");
      if (!t.token)
        return invalid(path + ".token: required for a tunnel whose destination is this node");
    }
    if (t.from == node_name) {
      if (t.routing_mode == RoutingMode::direct_only && !t.direct_url)
        return invalid(path + ".direct_url: required for routing_mode directonly");
      if (t.routing_mode == RoutingMode::prefer_overlay && !t.direct_url && !t.overlay_url)
        return invalid(path + ".direct_url: required (or overlay_url)");
    }
  }
  if (internal_bind.empty()) return invalid("internal_bind: cannot be empty");
  if (reconnect_interval.count() <= 0) return invalid("reconnect_interval: must be > 0");
  if (max_reconnect_interval < reconnect_interval)
    return invalid("max_reconnect_interval: must be >= reconnect_interval");
  if (heartbeat_interval.count() <= 0) return invalid("heartbeat_interval: must be > 0");
  if (heartbeat_timeout <= heartbeat_interval)
    return invalid("heartbeat_timeout: must be > heartbeat_interval");
  if (connect_timeout.count() <= 0) return invalid("connect_timeout: must be > 0");
  if (ca_file && ca_file->empty()) return invalid("ca_file: cannot be empty");
  return {};
}

Result<NodeTunnel> node_tunnel_from_json(const nlohmann::json& j) {
  return node_tunnel_at(j, "");
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
  if (t.direct_url) j["direct_url"] = *t.direct_url;
  if (t.overlay_url) j["overlay_url"] = *t.overlay_url;
  return j;
}

Result<NodeConfig> node_config_from_json(const nlohmann::json& j) {
  Result<ObjectReader> opened = ObjectReader::open(j, "");
  if (!opened) return opened.take_error();
  ObjectReader& r = *opened;
  NodeConfig c;
  ZLT_TRY(r.required("node_name", c.node_name));
  if (const nlohmann::json* server = r.find("server"); server != nullptr && !server->is_null()) {
    Result<TunnelServerConfig> s = server_config_from_json(*server);
    if (!s) return invalid("server: " + s.error().message);
    c.server = std::move(*s);
  }
  if (const nlohmann::json* list = r.find("tunnels"); list != nullptr) {
    if (!list->is_array()) return type_error("tunnels", "expected an array");
    for (std::size_t i = 0; i < list->size(); ++i) {
      Result<NodeTunnel> t = node_tunnel_at((*list)[i], index_path("tunnels", i));
      if (!t) return t.take_error();
      c.tunnels.push_back(std::move(*t));
    }
  }
  ZLT_TRY(r.optional("internal_bind", c.internal_bind));
  ZLT_TRY(r.optional("reconnect_interval", c.reconnect_interval));
  ZLT_TRY(r.optional("max_reconnect_interval", c.max_reconnect_interval));
  ZLT_TRY(r.optional("heartbeat_interval", c.heartbeat_interval));
  ZLT_TRY(r.optional("heartbeat_timeout", c.heartbeat_timeout));
  ZLT_TRY(r.optional("connect_timeout", c.connect_timeout));
  ZLT_TRY(r.optional("ca_file", c.ca_file));
  ZLT_TRY(r.optional("insecure", c.insecure));
  ZLT_TRY(r.finish());
  return c;
}

nlohmann::json to_json(const NodeConfig& c) {
  nlohmann::json tunnels = nlohmann::json::array();
  for (const auto& t : c.tunnels) tunnels.push_back(to_json(t));
  nlohmann::json j = {{"node_name", c.node_name},
                      {"tunnels", tunnels},
                      {"internal_bind", c.internal_bind},
                      {"reconnect_interval", format_duration(c.reconnect_interval)},
                      {"max_reconnect_interval", format_duration(c.max_reconnect_interval)},
                      {"heartbeat_interval", format_duration(c.heartbeat_interval)},
                      {"heartbeat_timeout", format_duration(c.heartbeat_timeout)},
                      {"connect_timeout", format_duration(c.connect_timeout)},
                      {"insecure", c.insecure}};
  if (c.server) j["server"] = to_json(*c.server);
  if (c.ca_file) j["ca_file"] = *c.ca_file;
  return j;
}

Result<NodeConfig> parse_node_config(std::string_view json_text) {
  Result<nlohmann::json> j = parse_json_text(json_text);
  if (!j) return j.take_error();
  Result<NodeConfig> c = node_config_from_json(*j);
  if (!c) return c.take_error();
  ZLT_TRY(c->validate());
  return c;
}

Result<NodeConfig> load_node_config(const std::string& path) {
  Result<std::string> text = read_text_file(path);
  if (!text) return text.take_error();
  Result<NodeConfig> c = parse_node_config(*text);
  if (!c) {
    Error e = c.take_error();
    e.message = path + ": " + e.message;
    return e;
  }
  return c;
}

}  // namespace zlt::config
