#include <map>

#include <nlohmann/json.hpp>

#include "core/config/json_reader.hpp"
#include "core/config/json_text.hpp"
#include "core/config/secret.hpp"
#include "core/config/text.hpp"

namespace zlt::config {
namespace {

Error invalid(std::string message) {
  return make_error(Errc::config, std::move(message));
}

Status check_url(const std::optional<std::string>& url, std::string_view field) {
  if (!url) return {};
  if (!is_websocket_url(*url))
    return invalid(std::string(field) + ": must start with ws:// or wss://");
  return {};
}

Result<NodeTunnel> node_tunnel_at(const nlohmann::json& j, const std::string& path,
                                  ErrorList* errors) {
  Result<ObjectReader> opened = ObjectReader::open(j, path, errors);
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
  ZLT_TRY(r.optional("token_file", t.token_file));
  if (t.token && t.token_file) {
    ZLT_TRY(r.keep(invalid(at(r.path_of("token_file"), "give token or token_file, not both"))));
    t.token.reset();
  }
  ZLT_TRY(r.finish());
  return t;
}

}  // namespace

Status NodeTunnel::validate() const {
  return ErrorList::first_of(*this);
}

void NodeTunnel::validate_all(ErrorList& errors) const {
  if (name.empty()) {
    errors.add(invalid("name: cannot be empty"));
  } else if (name.size() > 255) {
    errors.add(invalid("name: too long: " + std::to_string(name.size()) + " bytes, max 255"));
  } else if (!has_service_name_chars(name)) {
    errors.add(
        invalid("name: must contain only alphanumeric characters, hyphens, and underscores"));
  }
  if (from.empty()) errors.add(invalid("from: cannot be empty"));
  if (to.empty()) {
    errors.add(invalid("to: cannot be empty"));
  } else if (from == to) {
    errors.add(invalid("to: must differ from from ('" + to + "')"));
  }
  if (local_port == 0) errors.add(invalid("local_port: cannot be 0"));
  if (token && token->empty()) errors.add(invalid("token: cannot be empty"));
  if (token_file && token_file->empty()) errors.add(invalid("token_file: cannot be empty"));
  errors.check(check_url(direct_url, "direct_url"));
  errors.check(check_url(overlay_url, "overlay_url"));
}

Status NodeConfig::validate() const {
  return ErrorList::first_of(*this);
}

void NodeConfig::validate_all(ErrorList& errors) const {
  if (node_name.empty()) errors.add(invalid("node_name: cannot be empty"));
  validate_http_listener(metrics_listen, "metrics_listen", http_limits, errors);
  if (server) {
    ErrorList inner;
    server->validate_all(inner);
    errors.add_all(inner, "server: ");
  }
  std::map<std::string, std::string> names;   // name -> path
  std::map<std::string, std::string> tokens;  // token -> tunnel name
  for (std::size_t i = 0; i < tunnels.size(); ++i) {
    const NodeTunnel& t = tunnels[i];
    const std::string path = "tunnels[" + std::to_string(i) + "]";
    ErrorList own;
    t.validate_all(own);
    errors.add_all(own, path + ".");
    if (!names.emplace(t.name, path).second)
      errors.add(invalid(path + ".name: duplicate tunnel name '" + t.name + "'"));
    if (t.token) {
      auto [it, fresh] = tokens.emplace(*t.token, t.name);
      if (!fresh)
        errors.add(invalid(path + (t.token_file ? ".token_file" : ".token") +
                           ": same token as tunnel '" + it->second + "'"));
    }
    if (t.to == node_name) {
      if (!server) {
        errors.add(invalid(path + ": its destination is this node, which needs 'server'"));
      } else if (!t.token && !t.token_file) {
        errors.add(invalid(path + ".token: required for a tunnel whose destination is this node"));
      }
    }
    if (t.from == node_name) {
      if (t.routing_mode == RoutingMode::direct_only && !t.direct_url)
        errors.add(invalid(path + ".direct_url: required for routing_mode directonly"));
      if (t.routing_mode == RoutingMode::prefer_overlay && !t.direct_url && !t.overlay_url)
        errors.add(invalid(path + ".direct_url: required (or overlay_url)"));
    }
  }
  if (internal_bind.empty()) errors.add(invalid("internal_bind: cannot be empty"));
  if (reconnect_interval.count() <= 0) {
    errors.add(invalid("reconnect_interval: must be > 0"));
  } else if (max_reconnect_interval < reconnect_interval) {
    errors.add(invalid("max_reconnect_interval: must be >= reconnect_interval"));
  }
  if (heartbeat_interval.count() <= 0) {
    errors.add(invalid("heartbeat_interval: must be > 0"));
  } else if (heartbeat_timeout <= heartbeat_interval) {
    errors.add(invalid("heartbeat_timeout: must be > heartbeat_interval"));
  }
  if (connect_timeout.count() <= 0) errors.add(invalid("connect_timeout: must be > 0"));
  if (ca_file && ca_file->empty()) errors.add(invalid("ca_file: cannot be empty"));
}

Result<NodeTunnel> node_tunnel_from_json(const nlohmann::json& j) {
  return node_tunnel_at(j, "", nullptr);
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
  // A token read from a file is not written out: the file stays where it lives.
  if (t.token_file) {
    j["token_file"] = *t.token_file;
  } else if (t.token) {
    j["token"] = *t.token;
  }
  if (t.direct_url) j["direct_url"] = *t.direct_url;
  if (t.overlay_url) j["overlay_url"] = *t.overlay_url;
  return j;
}

namespace {

Result<NodeConfig> read_node_config(const nlohmann::json& j, ErrorList* errors) {
  Result<ObjectReader> opened = ObjectReader::open(j, "", errors);
  if (!opened) return opened.take_error();
  ObjectReader& r = *opened;
  NodeConfig c;
  ZLT_TRY(r.required("node_name", c.node_name));
  if (const nlohmann::json* server = r.find("server"); server != nullptr && !server->is_null()) {
    // The server's own errors are worded from its top level: prefixed, not re-pathed.
    ErrorList inner;
    Result<TunnelServerConfig> s =
        errors ? collect_server_config(*server, inner) : server_config_from_json(*server);
    if (errors) errors->add_all(inner, "server: ");
    if (s) {
      c.server = std::move(*s);
    } else {
      ZLT_TRY(r.keep(invalid("server: " + s.error().message)));
    }
  }
  if (const nlohmann::json* list = r.find("tunnels"); list != nullptr) {
    if (!list->is_array()) {
      ZLT_TRY(r.keep(type_error("tunnels", "expected an array")));
    } else {
      for (std::size_t i = 0; i < list->size(); ++i) {
        Result<NodeTunnel> t = node_tunnel_at((*list)[i], index_path("tunnels", i), errors);
        if (!t) {
          ZLT_TRY(r.keep(t.take_error()));
          continue;
        }
        c.tunnels.push_back(std::move(*t));
      }
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
  ZLT_TRY(r.optional("metrics_listen", c.metrics_listen));
  ZLT_TRY(r.optional("http_max_connections", c.http_limits.max_connections));
  ZLT_TRY(r.optional("http_max_request_head", c.http_limits.max_request_head));
  ZLT_TRY(r.optional("http_idle_timeout", c.http_limits.idle_timeout));
  ZLT_TRY(r.finish());
  return c;
}

}  // namespace

Result<NodeConfig> node_config_from_json(const nlohmann::json& j) {
  return read_node_config(j, nullptr);
}

Result<NodeConfig> collect_node_config(const nlohmann::json& j, ErrorList& errors) {
  return read_node_config(j, &errors);
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
  if (c.metrics_listen) j["metrics_listen"] = *c.metrics_listen;
  j["http_max_connections"] = c.http_limits.max_connections;
  j["http_max_request_head"] = c.http_limits.max_request_head;
  j["http_idle_timeout"] = format_duration(c.http_limits.idle_timeout);
  return j;
}

Result<NodeConfig> parse_node_config(std::string_view json_text) {
  Result<nlohmann::json> j = parse_json_text(json_text);
  if (!j) return j.take_error();
  Result<NodeConfig> c = node_config_from_json(*j);
  if (!c) return c.take_error();
  std::vector<std::string> warnings;  // the C ABI has no place for them
  ZLT_TRY(read_node_token_files(*c, warnings));
  ZLT_TRY(c->validate());
  return c;
}

}  // namespace zlt::config
