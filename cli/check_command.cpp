// `zlt check`: validates a config file the way `zlt server`, `zlt agent` or `zlt node` would
// read it, without opening any socket, and lists every error at once.
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "zlt/config.hpp"

namespace zlt::cli {
namespace {

const char* const kCheckUsage =
    "Usage: zlt check --config FILE [--role server|agent|node]\n"
    "\n"
    "Checks a config file without running anything (no socket is opened, no certificate or\n"
    "other file it names is read). Prints a one-paragraph summary and exits 0 when the file is\n"
    "good; otherwise lists every error found, each naming its field, and exits 2.\n"
    "\n"
    "Without --role the role is told from keys only one role has: node_name or tunnels (node),\n"
    "server_url, token or services (agent), listen, tokens, public_bind, data_port_range,\n"
    "tls_cert, tls_key, admin_token, admin_token_hash or grants_file (server). A file with\n"
    "keys of several roles, or of none, needs --role.\n"
    "\n"
    "An agent file may leave out server_url and token, which zlt agent takes from --server and\n"
    "--token, --token-file or $ZLT_TOKEN; the summary says so.\n"
    "\n"
    "Flags:\n"
    "  --config FILE   the config file (JSON; // and /* */ comments allowed)\n"
    "  --role R        server, agent or node\n"
    "  -h, --help      show this text\n"
    "\n"
    "Exit status: 0 the file is good, 2 it is not (or bad flags).\n";

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string list_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "" : " (" + out + ")";
}

std::string server_summary(const config::TunnelServerConfig& c) {
  std::vector<std::string> token_names;
  for (const auto& t : c.tokens) token_names.push_back(t.name);
  std::string s = std::string(c.tls_cert ? "wss" : "ws") + "://" + c.listen + c.control_path;
  s += ", public ports ";
  s += c.data_port_range.start == 0 && c.data_port_range.end == 0
           ? std::string("chosen by the kernel")
           : std::to_string(c.data_port_range.start) + "-" + std::to_string(c.data_port_range.end);
  s += " on " + c.public_bind + ", ";
  s += c.accept_any_token ? std::string("any token accepted (testing only)")
                          : plural(c.tokens.size(), "token", "tokens") + list_names(token_names);
  s += c.admin_token_hash ? ", admin API on" : ", admin API off";
  s += ", at most " + plural(c.max_tunnels, "tunnel", "tunnels");
  return s;
}

std::string agent_summary(const config::TunnelClientConfig& c, bool has_url, bool has_token) {
  std::vector<std::string> services;
  for (const auto& sv : c.services) {
    std::string d = sv.name + " " + std::string(proto::service_protocol_name(sv.protocol)) + " " +
                    std::to_string(sv.local_port);
    if (sv.internal) {
      d += " internal";
    } else if (sv.remote_port != 0) {
      d += "->" + std::to_string(sv.remote_port);
    }
    if (sv.proxy_protocol != config::ProxyProtocol::none)
      d += " proxy " + std::string(config::proxy_protocol_name(sv.proxy_protocol));
    services.push_back(std::move(d));
  }
  std::string s = "server " + (has_url ? c.server_url : std::string("not in the file (--server)"));
  s += has_token ? ", token in the file"
                 : ", token not in the file (--token, --token-file or $ZLT_TOKEN)";
  s += ", " + plural(c.services.size(), "service", "services") + list_names(services);
  s += ", local services dialed on " + c.local_host;
  return s;
}

std::string node_summary(const config::NodeConfig& c) {
  std::size_t outbound = 0;
  std::size_t inbound = 0;
  for (const auto& t : c.tunnels) {
    if (t.from == c.node_name) ++outbound;
    if (t.to == c.node_name) ++inbound;
  }
  std::string s = "node " + c.node_name + ", ";
  s += c.server ? "server side on " + c.server->listen + " (" +
                      plural(c.server->tokens.size(), "token", "tokens") + ")"
                : std::string("no server side");
  s += ", " + plural(c.tunnels.size(), "tunnel", "tunnels") + ": " + std::to_string(outbound) +
       " from this node, " + std::to_string(inbound) + " to it, " +
       std::to_string(c.tunnels.size() - outbound - inbound) + " not involving it";
  return s;
}

}  // namespace

int check_command(Args args) {
  std::optional<std::string> file;
  std::optional<config::ConfigRole> role;
  ArgReader r(std::move(args));
  while (!r.done()) {
    if (r.help()) {
      std::cout << kCheckUsage;
      return kExitOk;
    }
    if (auto v = r.value("--config")) {
      file = *v;
    } else if (auto v = r.value("--role")) {
      role = config::parse_config_role(*v);
      if (!role) throw UsageError{"--role: expected server, agent or node, got '" + *v + "'"};
    } else if (auto v = r.positional()) {
      throw UsageError{"unexpected argument '" + *v + "' (the file goes after --config)"};
    } else {
      r.reject();
    }
  }
  if (!file) throw UsageError{"--config is required"};

  Result<nlohmann::json> j = config::read_json_config_file(*file);
  if (!j) throw UsageError{j.error().message};
  if (!role) {
    Result<config::ConfigRole> guessed = config::guess_config_role(*j);
    if (!guessed) throw UsageError{*file + ": " + guessed.error().message};
    role = *guessed;
  }

  // zlt agent fills these from its flags or the environment before reading the file, so a
  // file without them is good; stand-ins let the rest be checked.
  const bool agent = *role == config::ConfigRole::agent && j->is_object();
  const bool has_url = !agent || j->contains("server_url");
  const bool has_token = !agent || j->contains("token");
  if (!has_url) (*j)["server_url"] = "ws://server.invalid/tunnel/v1";
  if (!has_token) (*j)["token"] = "given-elsewhere";

  const config::ConfigCheck check = config::check_config(*j, *role);
  const std::string role_name(config::config_role_name(*role));
  if (!check.errors.empty()) {
    std::cerr << "zlt check: " << *file << ": " << plural(check.errors.size(), "error", "errors")
              << " (checked as " << role_name << " config)\n";
    for (const Error& e : check.errors) std::cerr << "  " << e.message << "\n";
    return kExitUsage;
  }
  std::string summary;
  if (check.server) summary = server_summary(*check.server);
  if (check.agent) summary = agent_summary(*check.agent, has_url, has_token);
  if (check.node) summary = node_summary(*check.node);
  std::cout << *file << ": a good " << role_name << " config: " << summary << ".\n";
  return kExitOk;
}

}  // namespace zlt::cli
