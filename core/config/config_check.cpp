#include "core/config/config_check.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace zlt::config {
namespace {

struct RoleKeys {
  ConfigRole role;
  std::vector<std::string_view> keys;
};

const std::array<RoleKeys, 3>& role_keys() {
  static const std::array<RoleKeys, 3> kKeys = {{
      {ConfigRole::node, {"node_name", "tunnels"}},
      {ConfigRole::agent, {"server_url", "token", "services"}},
      {ConfigRole::server,
       {"listen", "tokens", "public_bind", "data_port_range", "tls_cert", "tls_key", "admin_token",
        "admin_token_hash", "grants_file"}},
  }};
  return kKeys;
}

// A name character of a field path: letters, digits, '_' and the index brackets.
bool is_field_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '[' || c == ']' || c == '.';
}

std::string_view leading_field(std::string_view text) {
  std::size_t n = 0;
  while (n < text.size() && is_field_char(text[n])) ++n;
  return text.substr(0, n);
}

std::string join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return std::string(a) + "." + std::string(b);
}

// Reading errors, then the validation errors of fields that read well: a field that failed to
// read holds its default, and what validation says of it would only repeat the error.
template <class Config>
std::optional<Config> read_and_validate(const nlohmann::json& j,
                                        Result<Config> (*collect)(const nlohmann::json&,
                                                                  ErrorList&),
                                        std::vector<Error>& out) {
  ErrorList read;
  auto c = collect(j, read);
  out = read.errors();
  if (!c) {
    out.push_back(c.take_error());
    return std::nullopt;
  }
  std::set<std::string> failed;
  for (const Error& e : out) failed.insert(error_field(e.message));
  ErrorList rules;
  c->validate_all(rules);
  for (const Error& e : rules.errors())
    if (failed.count(error_field(e.message)) == 0) out.push_back(e);
  return std::move(*c);
}

}  // namespace

std::string_view config_role_name(ConfigRole role) {
  switch (role) {
    case ConfigRole::server:
      return "server";
    case ConfigRole::agent:
      return "agent";
    case ConfigRole::node:
      return "node";
  }
  return "server";
}

std::optional<ConfigRole> parse_config_role(std::string_view name) {
  for (ConfigRole r : {ConfigRole::server, ConfigRole::agent, ConfigRole::node})
    if (config_role_name(r) == name) return r;
  return std::nullopt;
}

Result<ConfigRole> guess_config_role(const nlohmann::json& j) {
  if (!j.is_object()) return make_error(Errc::config, "expected a JSON object at the top level");
  std::vector<ConfigRole> matches;
  std::string seen;
  for (const RoleKeys& r : role_keys()) {
    bool matched = false;
    for (std::string_view key : r.keys) {
      if (!j.contains(key)) continue;
      matched = true;
      seen += (seen.empty() ? "" : ", ") + std::string(key) + " (" +
              std::string(config_role_name(r.role)) + ")";
    }
    if (matched) matches.push_back(r.role);
  }
  if (matches.size() == 1) return matches.front();
  if (matches.empty())
    return make_error(Errc::config, "cannot tell the role: no key only one role has; give --role");
  return make_error(Errc::config,
                    "cannot tell the role: keys of several roles: " + seen + "; give --role");
}

ConfigCheck check_config(const nlohmann::json& j, ConfigRole role) {
  ConfigCheck out;
  out.role = role;
  switch (role) {
    case ConfigRole::server:
      out.server = read_and_validate(j, collect_server_config, out.errors);
      break;
    case ConfigRole::agent:
      out.agent = read_and_validate(j, collect_client_config, out.errors);
      break;
    case ConfigRole::node:
      out.node = read_and_validate(j, collect_node_config, out.errors);
      break;
  }
  return out;
}

std::string error_field(std::string_view message) {
  std::string prefix;
  // A node's server errors: "server: <the server's own message>".
  while (message.starts_with("server: ")) {
    prefix = join(prefix, "server");
    message.remove_prefix(8);
  }
  constexpr std::string_view kMissing = "missing required key '";
  if (message.starts_with(kMissing)) {
    message.remove_prefix(kMissing.size());
    return join(prefix, message.substr(0, message.find('\'')));
  }
  std::string_view head = leading_field(message);
  std::string_view rest = message.substr(head.size());
  if (rest.starts_with(": ")) {
    rest.remove_prefix(2);
    if (rest.starts_with(kMissing)) {
      rest.remove_prefix(kMissing.size());
      return join(prefix, join(head, rest.substr(0, rest.find('\''))));
    }
    // "services[1]: local_port cannot be 0": an entry's rule naming its own field.
    if (head.ends_with(']')) {
      std::string_view inner = leading_field(rest);
      if (!inner.empty() && rest.substr(inner.size()).starts_with(' '))
        return join(prefix, join(head, inner));
    }
    return join(prefix, head);
  }
  return join(prefix, head);
}

}  // namespace zlt::config
