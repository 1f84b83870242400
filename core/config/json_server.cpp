#include <nlohmann/json.hpp>

#include "core/config/json_reader.hpp"
#include "core/config/text.hpp"
#include "core/crypto/crypto.hpp"

namespace zlt::config {
namespace {

// The plain token never stays in memory past loading: only its hash is kept.
Result<TokenEntry> token_entry_at(const nlohmann::json& j, const std::string& path,
                                  std::size_t index, ErrorList* errors) {
  Result<ObjectReader> opened = ObjectReader::open(j, path, errors);
  if (!opened) return opened.take_error();
  ObjectReader& r = *opened;
  TokenEntry t;
  t.name = "token-" + std::to_string(index);
  std::optional<std::string> plain;
  std::optional<std::string> sha256;
  ZLT_TRY(r.optional("name", t.name));
  ZLT_TRY(r.optional("token", plain));
  ZLT_TRY(r.optional("sha256", sha256));
  ZLT_TRY(r.optional("allowed_ports", t.allowed_ports));
  ZLT_TRY(r.optional("allow", t.allow));
  ZLT_TRY(r.optional("services", t.services));
  ZLT_TRY(r.finish());
  if (plain.has_value() == sha256.has_value())
    return make_error(Errc::config, r.at_path("exactly one of 'token' and 'sha256' is required"));
  if (plain) {
    if (plain->empty()) return make_error(Errc::config, r.path_of("token") + ": cannot be empty");
    t.sha256 = crypto::hash_token(*plain);
  } else {
    t.sha256 = to_ascii_lower(*sha256);
  }
  return t;
}

Status read_tokens(ObjectReader& r, std::vector<TokenEntry>& out) {
  const nlohmann::json* list = r.find("tokens");
  if (!list) return {};
  const std::string path = r.path_of("tokens");
  if (!list->is_array()) return r.keep(type_error(path, "expected an array"));
  for (std::size_t i = 0; i < list->size(); ++i) {
    Result<TokenEntry> t = token_entry_at((*list)[i], index_path(path, i), i, r.errors());
    if (!t) {
      ZLT_TRY(r.keep(t.take_error()));
      continue;
    }
    out.push_back(std::move(t).value());
  }
  return {};
}

nlohmann::json port_range_json(const PortRange& r) {
  return nlohmann::json::array({r.start, r.end});
}

nlohmann::json token_json(const TokenEntry& t) {
  nlohmann::json j = {{"name", t.name}, {"sha256", t.sha256}, {"allow", t.allow}};
  if (t.allowed_ports) j["allowed_ports"] = port_range_json(*t.allowed_ports);
  if (t.services) j["services"] = *t.services;
  return j;
}

Status read_cluster(ObjectReader& parent, std::optional<ClusterConfig>& out) {
  const nlohmann::json* block = parent.find("cluster");
  if (!block) return {};
  Result<ObjectReader> opened = ObjectReader::open(*block, parent.path_of("cluster"), parent.errors());
  if (!opened) return parent.keep(opened.take_error());
  ObjectReader& r = *opened;
  ClusterConfig c;
  ZLT_TRY(r.required("redis", c.redis));
  ZLT_TRY(r.required("node_id", c.node_id));
  ZLT_TRY(r.required("advertise_url", c.advertise_url));
  ZLT_TRY(r.required("secret", c.secret));
  ZLT_TRY(r.optional("lease", c.lease));
  ZLT_TRY(r.finish());
  out = std::move(c);
  return {};
}

Result<TunnelServerConfig> read_server_config(const nlohmann::json& j, ErrorList* errors) {
  Result<ObjectReader> opened = ObjectReader::open(j, "", errors);
  if (!opened) return opened.take_error();
  ObjectReader& r = *opened;
  TunnelServerConfig c;
  ZLT_TRY(r.optional("enabled", c.enabled));
  ZLT_TRY(r.optional("control_path", c.control_path));
  ZLT_TRY(r.optional("data_port_range", c.data_port_range));
  ZLT_TRY(r.optional("heartbeat_interval", c.heartbeat_interval));
  ZLT_TRY(r.optional("heartbeat_timeout", c.heartbeat_timeout));
  ZLT_TRY(r.optional("max_tunnels", c.max_tunnels));
  ZLT_TRY(r.optional("max_services_per_tunnel", c.max_services_per_tunnel));
  ZLT_TRY(r.optional("routing_mode", c.routing_mode));
  ZLT_TRY(r.optional("bind_overlay", c.bind_overlay));
  ZLT_TRY(r.optional("dns_registration", c.dns_registration));
  ZLT_TRY(r.optional("listen", c.listen));
  ZLT_TRY(r.optional("public_bind", c.public_bind));
  ZLT_TRY(r.optional("tls_cert", c.tls_cert));
  ZLT_TRY(r.optional("tls_key", c.tls_key));
  ZLT_TRY(read_tokens(r, c.tokens));
  ZLT_TRY(r.optional("accept_any_token", c.accept_any_token));
  ZLT_TRY(r.optional("max_streams_per_tunnel", c.max_streams_per_tunnel));
  ZLT_TRY(r.optional("auth_timeout", c.auth_timeout));
  ZLT_TRY(r.optional("connect_timeout", c.connect_timeout));
  ZLT_TRY(r.optional("udp_idle_timeout", c.udp_idle_timeout));
  ZLT_TRY(r.optional("max_connections", c.max_connections));
  ZLT_TRY(r.optional("max_pending_handshakes", c.max_pending_handshakes));
  ZLT_TRY(r.optional("max_unauthenticated_per_source", c.max_unauthenticated_per_source));
  ZLT_TRY(r.optional("auth_failure_delay_max", c.auth_failure_delay_max));
  ZLT_TRY(r.optional("max_conns_per_source", c.max_conns_per_source));
  ZLT_TRY(r.optional("max_udp_flows", c.max_udp_flows));
  ZLT_TRY(r.optional("max_session_queue", c.max_session_queue));
  ZLT_TRY(r.optional("slow_peer_timeout", c.slow_peer_timeout));
  ZLT_TRY(r.optional("max_buffered_bytes", c.max_buffered_bytes));
  ZLT_TRY(r.optional("grace_period", c.grace_period));
  std::optional<std::string> admin_token;
  ZLT_TRY(r.optional("admin_token", admin_token));
  ZLT_TRY(r.optional("admin_token_hash", c.admin_token_hash));
  ZLT_TRY(r.optional("max_access_ttl", c.max_access_ttl));
  ZLT_TRY(r.optional("grants_file", c.grants_file));
  ZLT_TRY(r.optional("admin_listen", c.admin_listen));
  ZLT_TRY(r.optional("metrics_listen", c.metrics_listen));
  ZLT_TRY(r.optional("http_max_connections", c.http_limits.max_connections));
  ZLT_TRY(r.optional("http_max_request_head", c.http_limits.max_request_head));
  ZLT_TRY(r.optional("http_idle_timeout", c.http_limits.idle_timeout));
  ZLT_TRY(read_cluster(r, c.cluster));
  ZLT_TRY(r.finish());
  if (admin_token && c.admin_token_hash) {
    ZLT_TRY(r.keep(
        make_error(Errc::config, "admin_token: give either admin_token or admin_token_hash")));
  } else if (admin_token) {
    if (admin_token->empty()) {
      ZLT_TRY(r.keep(make_error(Errc::config, "admin_token: cannot be empty")));
    } else {
      c.admin_token_hash = crypto::hash_token(*admin_token);
    }
  } else if (c.admin_token_hash) {
    c.admin_token_hash = to_ascii_lower(*c.admin_token_hash);
  }
  return c;
}

}  // namespace

Result<TunnelServerConfig> server_config_from_json(const nlohmann::json& j) {
  return read_server_config(j, nullptr);
}

Result<TunnelServerConfig> collect_server_config(const nlohmann::json& j, ErrorList& errors) {
  return read_server_config(j, &errors);
}

nlohmann::json to_json(const TunnelServerConfig& c) {
  nlohmann::json tokens = nlohmann::json::array();
  for (const TokenEntry& t : c.tokens) tokens.push_back(token_json(t));
  nlohmann::json j = {
      {"enabled", c.enabled},
      {"control_path", c.control_path},
      {"data_port_range", port_range_json(c.data_port_range)},
      {"heartbeat_interval", format_duration(c.heartbeat_interval)},
      {"heartbeat_timeout", format_duration(c.heartbeat_timeout)},
      {"max_tunnels", c.max_tunnels},
      {"max_services_per_tunnel", c.max_services_per_tunnel},
      {"routing_mode", routing_mode_name(c.routing_mode)},
      {"bind_overlay", c.bind_overlay},
      {"dns_registration", c.dns_registration},
      {"listen", c.listen},
      {"public_bind", c.public_bind},
      {"tokens", std::move(tokens)},
      {"accept_any_token", c.accept_any_token},
      {"max_streams_per_tunnel", c.max_streams_per_tunnel},
      {"auth_timeout", format_duration(c.auth_timeout)},
      {"connect_timeout", format_duration(c.connect_timeout)},
      {"udp_idle_timeout", format_duration(c.udp_idle_timeout)},
      {"max_connections", c.max_connections},
      {"max_pending_handshakes", c.max_pending_handshakes},
      {"max_unauthenticated_per_source", c.max_unauthenticated_per_source},
      {"auth_failure_delay_max", format_duration(c.auth_failure_delay_max)},
      {"max_conns_per_source", c.max_conns_per_source},
      {"max_udp_flows", c.max_udp_flows},
      {"max_session_queue", c.max_session_queue},
      {"slow_peer_timeout", format_duration(c.slow_peer_timeout)},
      {"max_buffered_bytes", c.max_buffered_bytes},
      {"grace_period", format_duration(c.grace_period)},
  };
  if (c.tls_cert) j["tls_cert"] = *c.tls_cert;
  if (c.tls_key) j["tls_key"] = *c.tls_key;
  if (c.admin_token_hash) j["admin_token_hash"] = *c.admin_token_hash;
  j["max_access_ttl"] = format_duration(c.max_access_ttl);
  if (c.grants_file) j["grants_file"] = *c.grants_file;
  if (c.admin_listen) j["admin_listen"] = *c.admin_listen;
  if (c.metrics_listen) j["metrics_listen"] = *c.metrics_listen;
  j["http_max_connections"] = c.http_limits.max_connections;
  j["http_max_request_head"] = c.http_limits.max_request_head;
  j["http_idle_timeout"] = format_duration(c.http_limits.idle_timeout);
  if (c.cluster) {
    // Without the secret, as tokens appear only as hashes: this JSON is shown and logged.
    std::string redis = c.cluster->redis;
    if (auto at = redis.rfind('@'), scheme = redis.find("://");
        at != std::string::npos && scheme != std::string::npos && scheme + 3 < at)
      redis.replace(scheme + 3, at - scheme - 3, ":***");
    j["cluster"] = {{"redis", redis},
                    {"node_id", c.cluster->node_id},
                    {"advertise_url", c.cluster->advertise_url},
                    {"lease", format_duration(c.cluster->lease)}};
  }
  return j;
}

}  // namespace zlt::config
