#include "cli/agent_options.hpp"

#include <iostream>

#include "cli/config_file.hpp"
#include "cli/secrets.hpp"

namespace zlt::cli {

const char* const kAgentUsage =
    "Usage: zlt agent [flags]\n"
    "\n"
    "Runs a tunnel agent: connects to a tunnel server, registers local services and carries\n"
    "their connections; reconnects with backoff when the connection drops. Flags override the\n"
    "config file.\n"
    "\n"
    "Flags:\n"
    "  --config FILE           JSON config file (the TunnelClientConfig schema)\n"
    "  --server URL            the server's control endpoint, ws://HOST:PORT/tunnel/v1 or wss://\n"
    "  --token TOKEN           the token the server accepts (visible in ps: prefer the next two)\n"
    "  --token-file FILE       read the token from FILE's first line\n"
    "                          (also: $ZLT_TOKEN; precedence --token, --token-file,\n"
    "                          $ZLT_TOKEN, the config file's token)\n"
    "  --service SPEC          expose a local service; repeatable, adds to the file's services.\n"
    "                          SPEC is NAME:LOCAL_PORT[:REMOTE_PORT][/udp][/internal]\n"
    "                          [/proxy-v1|/proxy-v2]: REMOTE_PORT asks for that public port\n"
    "                          (default: any), /udp for a UDP service, /internal for no\n"
    "                          public port, /proxy-v1 or /proxy-v2 to send the local service\n"
    "                          a PROXY protocol header with the client's address (v2 only\n"
    "                          for UDP)\n"
    "  --local-host HOST       where the local services are dialed (default 127.0.0.1)\n"
    "  --ca-file FILE          PEM CA bundle for wss:// (default: the system store)\n"
    "  --insecure              do not verify the server certificate (testing only)\n"
    "  --proxy URL             HTTP CONNECT proxy, http://HOST:PORT\n"
    "                          (default: $https_proxy / $http_proxy)\n"
    "  --metrics HOST:PORT     serve /metrics (Prometheus), /healthz and /ready here (off by\n"
    "                          default; a bare PORT means 127.0.0.1)\n"
    "  --status-interval D     log a status line this often (default 30s; 0: never)\n"
    "  --log-level L           trace, debug, info (default), warn, error or off\n"
    "  --log-format F          text (default) or json: one JSON object per line\n"
    "  -h, --help              show this text\n"
    "\n"
    "Example: zlt agent --server ws://tunnel.example.com:3679/tunnel/v1 --token tun_... \\\n"
    "             --service web:8080 --service dns:53/udp\n"
    "SIGHUP reloads the config file: added services register, removed ones unregister,\n"
    "changed ones register again; the connection stays up. Stop with Ctrl-C or SIGTERM; a\n"
    "second signal exits at once.\n";

namespace {

struct AgentFlags {
  std::optional<std::string> config_file;
  std::optional<std::string> server;
  SecretFlags token = token_flags();
  std::vector<config::ServiceConfig> services;
  std::optional<std::string> local_host;
  std::optional<std::string> ca_file;
  bool insecure = false;
  std::optional<std::string> proxy;
  std::optional<std::string> metrics_listen;
};

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    std::size_t at = text.find(sep);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

config::TunnelClientConfig merged_config(const AgentFlags& f, std::vector<std::string>& warnings) {
  nlohmann::json j = nlohmann::json::object();
  if (f.config_file) j = read_config_file(*f.config_file);
  // Filled in before the core reader runs: the file may leave out what the flags supply.
  if (f.server) j["server_url"] = *f.server;
  // A file token of the wrong type is left for the core reader to name.
  std::optional<std::string> file_token;
  if (auto it = j.find("token"); it != j.end() && it->is_string()) file_token = *it;
  if (auto token = f.token.resolve(file_token, warnings)) j["token"] = *token;
  if (!j.contains("server_url"))
    throw UsageError{"--server is required (or server_url in the --config file)"};
  if (!j.contains("token"))
    throw UsageError{
        "--token, --token-file or $ZLT_TOKEN is required (or token in the --config file)"};
  auto parsed = config::client_config_from_json(j);
  if (!parsed) {
    const std::string where = f.config_file ? *f.config_file + ": " : "";
    throw UsageError{where + parsed.error().message};
  }
  return std::move(parsed).value();
}

}  // namespace

config::ServiceConfig parse_service_flag(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return UsageError{
        "--service: " + why + ", got '" + std::string(text) +
        "' (expected NAME:LOCAL_PORT[:REMOTE_PORT][/udp][/internal][/proxy-v1|/proxy-v2])"};
  };
  std::vector<std::string_view> pieces = split(text, '/');
  std::vector<std::string_view> fields = split(pieces.front(), ':');
  if (fields.size() < 2 || fields.size() > 3) throw fail("bad syntax");
  if (fields[0].empty()) throw fail("empty name");
  config::ServiceConfig s;
  s.name = std::string(fields[0]);
  s.local_port = parse_port_flag("--service " + s.name + ": local port", fields[1], false);
  if (fields.size() == 3)
    s.remote_port = parse_port_flag("--service " + s.name + ": remote port", fields[2], true);
  bool saw_tcp = false;
  bool saw_udp = false;
  for (std::size_t i = 1; i < pieces.size(); ++i) {
    if (pieces[i] == "udp") {
      saw_udp = true;
    } else if (pieces[i] == "tcp") {
      saw_tcp = true;
    } else if (pieces[i] == "internal") {
      s.internal = true;
    } else if (pieces[i] == "proxy-v1" || pieces[i] == "proxy-v2") {
      const auto version =
          pieces[i] == "proxy-v1" ? config::ProxyProtocol::v1 : config::ProxyProtocol::v2;
      if (s.proxy_protocol != config::ProxyProtocol::none && s.proxy_protocol != version)
        throw fail("both /proxy-v1 and /proxy-v2");
      s.proxy_protocol = version;
    } else {
      throw fail("unknown suffix '/" + std::string(pieces[i]) + "'");
    }
  }
  if (saw_tcp && saw_udp) throw fail("both /tcp and /udp");
  if (saw_udp) s.protocol = proto::ServiceProtocol::udp;
  if (s.protocol == proto::ServiceProtocol::udp && s.proxy_protocol == config::ProxyProtocol::v1)
    throw fail("/proxy-v1 is for TCP only; a UDP service needs /proxy-v2");
  return s;
}

std::optional<AgentOptions> parse_agent_options(std::vector<std::string> args) {
  AgentOptions out;
  AgentFlags f;
  ArgReader r(std::move(args));
  while (!r.done()) {
    if (r.help()) {
      std::cout << kAgentUsage;
      return std::nullopt;
    }
    if (auto v = r.value("--config")) {
      f.config_file = *v;
    } else if (auto v = r.value("--server")) {
      f.server = *v;
    } else if (auto v = r.value("--service")) {
      f.services.push_back(parse_service_flag(*v));
    } else if (auto v = r.value("--local-host")) {
      f.local_host = *v;
    } else if (auto v = r.value("--ca-file")) {
      f.ca_file = *v;
    } else if (r.flag("--insecure")) {
      f.insecure = true;
    } else if (auto v = r.value("--proxy")) {
      f.proxy = *v;
    } else if (auto v = r.value("--metrics")) {
      if (auto hp = config::parse_listen_address(*v, "--metrics"); !hp)
        throw UsageError{hp.error().message};
      f.metrics_listen = *v;
    } else if (auto v = r.value("--status-interval")) {
      out.status_interval = parse_duration_flag("--status-interval", *v);
    } else if (!f.token.take(r) && !out.log.take(r)) {
      r.reject();
    }
  }

  config::TunnelClientConfig& c = out.config = merged_config(f, out.log.warnings);
  for (auto& s : f.services) c.services.push_back(std::move(s));
  if (f.local_host) c.local_host = *f.local_host;
  if (f.ca_file) c.ca_file = *f.ca_file;
  if (f.insecure) c.insecure = true;
  if (f.proxy) c.proxy = *f.proxy;
  if (f.metrics_listen) c.metrics_listen = *f.metrics_listen;
  if (auto st = c.validate(); !st) throw UsageError{"invalid configuration: " + st.error().message};
  return out;
}

}  // namespace zlt::cli
