// A config file checked without running anything: read with the collecting readers, then
// every validation rule, so each error is listed at once. Opens no socket and reads no file
// the config names (certificates, grants). Part of the config API, for `zlt check`.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/config/config.hpp"

namespace zlt::config {

enum class ConfigRole { server, agent, node };
std::string_view config_role_name(ConfigRole role);  // "server", "agent", "node"
std::optional<ConfigRole> parse_config_role(std::string_view name);

// The role a config's top-level keys point to, each role known by keys only it has:
// node: node_name, tunnels; agent: server_url, token, services; server: listen, tokens,
// public_bind, data_port_range, tls_cert, tls_key, admin_token, admin_token_hash,
// grants_file. An error (naming the keys found) when they point to none or to several.
Result<ConfigRole> guess_config_role(const nlohmann::json& j);

struct ConfigCheck {
  ConfigRole role = ConfigRole::server;
  // Reading errors first, then validation errors, each naming its field. A validation error
  // about a field that already failed to read is left out: it would only repeat it.
  std::vector<Error> errors;
  // The config as read (bad fields at their defaults); the one of `role` is set unless the
  // value was not an object.
  std::optional<TunnelServerConfig> server;
  std::optional<TunnelClientConfig> agent;
  std::optional<NodeConfig> node;
};

ConfigCheck check_config(const nlohmann::json& j, ConfigRole role);

// The field an error message is about, for matching reading and validation errors of one
// field: "services[1].local_port: expected ..." and "services[1]: local_port cannot be 0" are
// both "services[1].local_port"; "server_url cannot be empty" is "server_url".
std::string error_field(std::string_view message);

}  // namespace zlt::config
