#include "cli/server_options.hpp"

#include <iostream>

#include "cli/config_file.hpp"
#include "cli/secrets.hpp"
#include "zlt/common.hpp"
#include "zlt/crypto.hpp"

namespace zlt::cli {

const char* const kServerUsage =
    "Usage: zlt server [flags]\n"
    "\n"
    "Runs a tunnel server: agents connect to its control endpoint (WebSocket) and each service\n"
    "they register gets a public port here. Flags override the config file.\n"
    "\n"
    "Flags:\n"
    "  --config FILE           JSON config file (the TunnelServerConfig schema)\n"
    "  --listen HOST:PORT      control endpoint (default 0.0.0.0:3679; port 0: any free port)\n"
    "  --port-range A-B        public ports handed to services (default 30000-31000;\n"
    "                          0-0: the kernel chooses each port)\n"
    "  --public-bind ADDR      address the public ports bind to (default 0.0.0.0)\n"
    "  --token TOKEN           accept this token (stored hashed); repeatable, adds to the file's\n"
    "  --token-hash HEX        accept the token with this SHA-256 (see zlt hash-token); "
    "repeatable\n"
    "  --token-file FILE       accept the token on FILE's first line; repeatable. Without any\n"
    "                          --token, --token-hash or --token-file, $ZLT_TOKEN is accepted\n"
    "  --accept-any-token      accept every non-empty token (testing only)\n"
    "  --admin-token TOKEN     serve the admin API (access grants, status) to Bearer TOKEN\n"
    "  --admin-token-hash HEX  the same, given as the token's SHA-256\n"
    "  --admin-token-file FILE the same, read from FILE's first line (also: $ZLT_ADMIN_TOKEN;\n"
    "                          precedence: the flags, $ZLT_ADMIN_TOKEN, the config file)\n"
    "  --max-access-ttl D      longest life of an access grant (default 24h)\n"
    "  --grants-file FILE      keep access grants here so they survive a restart\n"
    "  --tls-cert FILE         PEM certificate chain: serve wss:// (needs --tls-key)\n"
    "  --tls-key FILE          PEM private key\n"
    "  --max-connections N     connections the control endpoint holds at most (default 10000)\n"
    "  --max-pending-handshakes N\n"
    "                          of those, not yet authenticated (default 1000)\n"
    "  --max-conns-per-source N\n"
    "                          per public TCP service: connections from one address\n"
    "                          (default 0: no limit)\n"
    "  --heartbeat-interval D  how often the server pings each agent (default 30s)\n"
    "  --heartbeat-timeout D   silence after which an agent is dropped (default 40s)\n"
    "  --metrics HOST:PORT     serve /metrics (Prometheus), /healthz and /ready here (off by\n"
    "                          default; a bare PORT means 127.0.0.1)\n"
    "  --admin-listen HOST:PORT\n"
    "                          serve the admin API here instead of on the control endpoint\n"
    "                          (a bare PORT means 127.0.0.1); the control endpoint then answers\n"
    "                          404 on /admin/\n"
    "  --grace-period D        on SIGTERM, how long open streams may still run (default 30s)\n"
    "  --cluster-redis URL     join a cluster through Redis (redis://[:password@]host:port/db);\n"
    "                          with --node-id, --advertise-url and a cluster secret\n"
    "  --node-id ID            this member's name in the cluster\n"
    "  --advertise-url URL     where the other members reach this one (ws:// or wss://)\n"
    "  --cluster-secret S      the secret every member shares\n"
    "  --cluster-secret-file FILE\n"
    "                          the same, read from FILE's first line (also:\n"
    "                          $ZLT_CLUSTER_SECRET; precedence as for the admin token)\n"
    "  --status-interval D     log a status line this often (default 30s; 0: never)\n"
    "  --log-level L           trace, debug, info (default), warn, error or off\n"
    "  --log-format F          text (default) or json: one JSON object per line\n"
    "  -h, --help              show this text\n"
    "\n"
    "Durations: 500ms, 30s, 5m, 1h (a bare number is seconds).\n"
    "SIGHUP reloads the config file (and the token files): tokens, allow lists, limits, the\n"
    "admin token and the TLS certificate; tunnels stay up. SIGTERM or Ctrl-C drains: no new\n"
    "sessions or connections, open streams run up to --grace-period, then the server exits;\n"
    "a second signal exits at once.\n";

namespace {

// Flags as given, applied after the file so that their order on the command line is free.
struct ServerFlags {
  std::optional<std::string> config_file;
  std::optional<std::string> listen;
  std::optional<config::PortRange> port_range;
  std::optional<std::string> public_bind;
  std::vector<std::string> token_hashes;
  std::vector<std::string> token_files;
  bool accept_any_token = false;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  std::optional<config::Duration> heartbeat_interval;
  std::optional<config::Duration> heartbeat_timeout;
  std::optional<std::string> admin_token_hash;
  std::optional<std::string> admin_token_file;
  std::optional<config::Duration> max_access_ttl;
  std::optional<std::string> grants_file;
  std::optional<std::size_t> max_connections;
  std::optional<std::size_t> max_pending_handshakes;
  std::optional<std::size_t> max_conns_per_source;
  std::optional<std::string> metrics_listen;
  std::optional<std::string> admin_listen;
  std::optional<config::Duration> grace_period;
  std::optional<std::string> cluster_redis;
  std::optional<std::string> node_id;
  std::optional<std::string> advertise_url;
  SecretFlags cluster_secret = cluster_secret_flags();
};

// The cluster block: the file's, with each flag over it; flags alone make one (validation
// then names what is still missing).
void apply_cluster_flags(const ServerFlags& f, config::TunnelServerConfig& c,
                         std::vector<std::string>& warnings) {
  std::optional<std::string> secret = f.cluster_secret.resolve(
      c.cluster ? std::optional<std::string>(c.cluster->secret) : std::nullopt, warnings);
  const bool any_flag = f.cluster_redis || f.node_id || f.advertise_url ||
                        f.cluster_secret.value || f.cluster_secret.file;
  if (!c.cluster && !any_flag) return;
  if (!c.cluster) c.cluster.emplace();
  if (f.cluster_redis) c.cluster->redis = *f.cluster_redis;
  if (f.node_id) c.cluster->node_id = *f.node_id;
  if (f.advertise_url) c.cluster->advertise_url = *f.advertise_url;
  if (secret) c.cluster->secret = *secret;
}

config::TunnelServerConfig base_config(const std::optional<std::string>& file) {
  if (!file) return {};
  auto parsed = config::server_config_from_json(read_config_file(*file));
  if (!parsed) throw UsageError{*file + ": " + parsed.error().message};
  return std::move(parsed).value();
}

void add_token_hash(config::TunnelServerConfig& c, const std::string& sha256) {
  // A token already in the file keeps the file's entry and its restrictions.
  for (const auto& t : c.tokens)
    if (t.sha256 == sha256) return;
  config::TokenEntry entry;
  entry.name = "cli-" + std::to_string(c.tokens.size());
  entry.sha256 = sha256;
  c.tokens.push_back(std::move(entry));
}

// The server's tokens add up (the file's and every flag's), so --token and --token-file
// together are no conflict; the environment is a fallback used only when no token flag is
// given. The admin token is one value: a flag, else --admin-token-file, else
// $ZLT_ADMIN_TOKEN, else the file's.
void resolve_secrets(ServerFlags& f, std::vector<std::string>& warnings) {
  for (const std::string& path : f.token_files) {
    auto token = config::token_from_file(path, "--token-file", warnings);
    if (!token) throw UsageError{token.error().message};
    f.token_hashes.push_back(crypto::hash_token(*token));
  }
  if (f.token_hashes.empty()) {
    SecretFlags env_only = token_flags();
    if (auto token = env_only.resolve(std::nullopt, warnings))
      f.token_hashes.push_back(crypto::hash_token(*token));
  }
  if (f.admin_token_hash && f.admin_token_file)
    throw UsageError{"--admin-token (or --admin-token-hash) and --admin-token-file: give one"};
  if (f.admin_token_hash) return;
  SecretFlags admin = admin_token_flags();
  admin.file = f.admin_token_file;
  if (auto token = admin.resolve(std::nullopt, warnings))
    f.admin_token_hash = crypto::hash_token(*token);
}

}  // namespace

std::optional<ServerOptions> parse_server_options(std::vector<std::string> args) {
  ServerOptions out;
  ServerFlags f;
  ArgReader r(std::move(args));
  while (!r.done()) {
    if (r.help()) {
      std::cout << kServerUsage;
      return std::nullopt;
    }
    if (auto v = r.value("--config")) {
      f.config_file = *v;
    } else if (auto v = r.value("--listen")) {
      if (auto hp = config::parse_host_port(*v, "--listen"); !hp)
        throw UsageError{hp.error().message};
      f.listen = *v;
    } else if (auto v = r.value("--port-range")) {
      f.port_range = parse_port_range_flag("--port-range", *v);
    } else if (auto v = r.value("--public-bind")) {
      f.public_bind = *v;
    } else if (auto v = r.value("--token")) {
      if (v->empty()) throw UsageError{"--token: cannot be empty"};
      f.token_hashes.push_back(crypto::hash_token(*v));
    } else if (auto v = r.value("--token-hash")) {
      if (!crypto::is_sha256_hex(*v))
        throw UsageError{"--token-hash: expected 64 hex digits, got '" + *v + "'"};
      f.token_hashes.push_back(to_ascii_lower(*v));
    } else if (auto v = r.value("--token-file")) {
      f.token_files.push_back(*v);
    } else if (r.flag("--accept-any-token")) {
      f.accept_any_token = true;
    } else if (auto v = r.value("--admin-token")) {
      if (v->empty()) throw UsageError{"--admin-token: cannot be empty"};
      f.admin_token_hash = crypto::hash_token(*v);
    } else if (auto v = r.value("--admin-token-hash")) {
      if (!crypto::is_sha256_hex(*v))
        throw UsageError{"--admin-token-hash: expected 64 hex digits, got '" + *v + "'"};
      f.admin_token_hash = to_ascii_lower(*v);
    } else if (auto v = r.value("--admin-token-file")) {
      f.admin_token_file = *v;
    } else if (auto v = r.value("--max-access-ttl")) {
      f.max_access_ttl = parse_duration_flag("--max-access-ttl", *v);
    } else if (auto v = r.value("--grants-file")) {
      f.grants_file = *v;
    } else if (auto v = r.value("--tls-cert")) {
      f.tls_cert = *v;
    } else if (auto v = r.value("--tls-key")) {
      f.tls_key = *v;
    } else if (auto v = r.value("--heartbeat-interval")) {
      f.heartbeat_interval = parse_duration_flag("--heartbeat-interval", *v);
    } else if (auto v = r.value("--heartbeat-timeout")) {
      f.heartbeat_timeout = parse_duration_flag("--heartbeat-timeout", *v);
    } else if (auto v = r.value("--max-connections")) {
      f.max_connections = parse_count_flag("--max-connections", *v, false);
    } else if (auto v = r.value("--max-pending-handshakes")) {
      f.max_pending_handshakes = parse_count_flag("--max-pending-handshakes", *v, false);
    } else if (auto v = r.value("--max-conns-per-source")) {
      f.max_conns_per_source = parse_count_flag("--max-conns-per-source", *v, true);
    } else if (auto v = r.value("--metrics")) {
      if (auto hp = config::parse_listen_address(*v, "--metrics"); !hp)
        throw UsageError{hp.error().message};
      f.metrics_listen = *v;
    } else if (auto v = r.value("--admin-listen")) {
      if (auto hp = config::parse_listen_address(*v, "--admin-listen"); !hp)
        throw UsageError{hp.error().message};
      f.admin_listen = *v;
    } else if (auto v = r.value("--grace-period")) {
      f.grace_period = parse_duration_flag("--grace-period", *v);
    } else if (auto v = r.value("--cluster-redis")) {
      f.cluster_redis = *v;
    } else if (auto v = r.value("--node-id")) {
      f.node_id = *v;
    } else if (auto v = r.value("--advertise-url")) {
      f.advertise_url = *v;
    } else if (f.cluster_secret.take(r)) {
    } else if (auto v = r.value("--status-interval")) {
      out.status_interval = parse_duration_flag("--status-interval", *v);
    } else if (!out.log.take(r)) {
      r.reject();
    }
  }

  resolve_secrets(f, out.log.warnings);
  config::TunnelServerConfig& c = out.config = base_config(f.config_file);
  if (f.listen) c.listen = *f.listen;
  if (f.port_range) c.data_port_range = *f.port_range;
  if (f.public_bind) c.public_bind = *f.public_bind;
  for (const auto& hash : f.token_hashes) add_token_hash(c, hash);
  if (f.accept_any_token) c.accept_any_token = true;
  if (f.tls_cert) c.tls_cert = *f.tls_cert;
  if (f.tls_key) c.tls_key = *f.tls_key;
  if (f.heartbeat_interval) c.heartbeat_interval = *f.heartbeat_interval;
  if (f.heartbeat_timeout) c.heartbeat_timeout = *f.heartbeat_timeout;
  if (f.admin_token_hash) c.admin_token_hash = *f.admin_token_hash;
  if (f.max_access_ttl) c.max_access_ttl = *f.max_access_ttl;
  if (f.grants_file) c.grants_file = *f.grants_file;
  if (f.metrics_listen) c.metrics_listen = *f.metrics_listen;
  if (f.admin_listen) c.admin_listen = *f.admin_listen;
  if (f.grace_period) c.grace_period = *f.grace_period;
  if (f.max_connections) c.max_connections = *f.max_connections;
  if (f.max_pending_handshakes) c.max_pending_handshakes = *f.max_pending_handshakes;
  if (f.max_conns_per_source) c.max_conns_per_source = *f.max_conns_per_source;
  apply_cluster_flags(f, c, out.log.warnings);
  if (auto st = c.validate(); !st) throw UsageError{"invalid configuration: " + st.error().message};
  return out;
}

}  // namespace zlt::cli
