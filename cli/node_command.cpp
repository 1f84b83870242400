// `zlt node`: a NodeTunnelManager from a node config file on its own runtime until
// SIGINT/SIGTERM; SIGHUP reloads the file (added, removed and changed tunnels start and stop,
// the others are not touched). State changes and periodic status go to the log: with
// --log-format json, {"event": "tunnel_state", ...} and {"event": "status", "tunnels": [...]}.
#include <cstdio>
#include <iostream>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/log_options.hpp"
#include "cli/metrics_option.hpp"
#include "cli/secrets.hpp"
#include "cli/serve_loop.hpp"
#include "cli/signals.hpp"
#include "cli/status_report.hpp"
#include "zlt/crypto.hpp"
#include "zlt/event_json.hpp"
#include "zlt/log.hpp"
#include "zlt/node.hpp"
#include "zlt/runtime.hpp"

namespace zlt::cli {
namespace {

constexpr const char* kLog = "node";

const char* const kNodeUsage =
    "Usage: zlt node --config FILE [flags]\n"
    "\n"
    "Runs a node: the tunnels of FILE whose source is this node connect to their destination\n"
    "node's tunnel server and expose a local port there; when FILE has a \"server\", tunnels\n"
    "whose destination is this node are accepted (internal ones get a listener on\n"
    "internal_bind:remote_port, public ones a public port). SIGHUP reloads FILE.\n"
    "\n"
    "FILE (JSON): {\"node_name\": \"a\", \"server\": {\"listen\": \"0.0.0.0:3679\", ...},\n"
    "  \"tunnels\": [{\"name\", \"from\", \"to\", \"local_port\", \"remote_port\", \"protocol\",\n"
    "  \"expose\": \"internal\"|\"public\", \"token\" or \"token_file\", \"routing_mode\",\n"
    "  \"direct_url\", \"overlay_url\"}, ...]}\n"
    "A tunnel's \"token_file\" names a file whose first line is its token (read at start and on\n"
    "every SIGHUP; a file readable by group or others is warned about), so no token needs to\n"
    "be in FILE.\n"
    "\n"
    "Flags:\n"
    "  --config FILE           the node config file (required)\n"
    "  --metrics HOST:PORT     serve /metrics (Prometheus), /healthz and /ready here (off by\n"
    "                          default; a bare PORT means 127.0.0.1)\n"
    "  --admin-token TOKEN     serve the admin API of the node's \"server\" to Bearer TOKEN\n"
    "  --admin-token-file FILE the same, read from FILE's first line (also: $ZLT_ADMIN_TOKEN;\n"
    "                          precedence --admin-token, --admin-token-file, $ZLT_ADMIN_TOKEN,\n"
    "                          the file's server.admin_token)\n"
    "  --status-interval D     log the status of every tunnel this often (default 10s; 0: never)\n"
    "  --log-level L           trace, debug, info (default), warn, error or off\n"
    "  --log-format F          text (default) or json: one JSON object per line\n"
    "  -h, --help              show this text\n"
    "\n"
    "Stop with Ctrl-C or SIGTERM; a second signal exits at once.\n";

struct NodeOptions {
  std::string config_file;
  config::NodeConfig config;
  LogOptions log;
  config::Duration status_interval = std::chrono::seconds(10);
  // From --admin-token, --admin-token-file or $ZLT_ADMIN_TOKEN: replaces the file's admin
  // token on every load.
  std::optional<std::string> admin_token_hash;
};

// The node file, with its token files read and the admin token of the flags applied.
Result<config::NodeConfig> load_node(const NodeOptions& o, std::vector<std::string>& warnings) {
  auto loaded = config::load_node_config(o.config_file, &warnings);
  if (!loaded) return loaded;
  if (o.admin_token_hash && loaded->server) loaded->server->admin_token_hash = *o.admin_token_hash;
  return loaded;
}

std::optional<NodeOptions> parse_node_options(Args args) {
  ArgReader r(std::move(args));
  NodeOptions out;
  std::optional<std::string> file;
  std::optional<std::string> metrics_listen;
  SecretFlags admin = admin_token_flags();
  while (!r.done()) {
    if (r.help()) {
      std::cout << kNodeUsage;
      return std::nullopt;
    }
    if (auto v = r.value("--config")) {
      file = *v;
    } else if (auto v = r.value("--metrics")) {
      if (auto hp = config::parse_listen_address(*v, "--metrics"); !hp)
        throw UsageError{hp.error().message};
      metrics_listen = *v;
    } else if (auto v = r.value("--status-interval")) {
      out.status_interval = parse_duration_flag("--status-interval", *v);
    } else if (!admin.take(r) && !out.log.take(r)) {
      r.reject();
    }
  }
  if (!file) throw UsageError{"--config is required"};
  out.config_file = *file;
  const bool admin_flag = admin.value || admin.file;
  if (auto token = admin.resolve(std::nullopt, out.log.warnings))
    out.admin_token_hash = crypto::hash_token(*token);
  auto loaded = load_node(out, out.log.warnings);
  if (!loaded) throw UsageError{loaded.error().message};
  // The environment may be set for other commands too; a flag is meant for this node.
  if (admin_flag && !loaded->server)
    throw UsageError{"--admin-token, --admin-token-file: " + *file +
                     " has no \"server\" to serve an admin API"};
  out.config = std::move(*loaded);
  if (metrics_listen) out.config.metrics_listen = *metrics_listen;
  return out;
}

std::string describe(const nlohmann::json& event) {
  std::string text = "tunnel " + event.value("tunnel", std::string("?"));
  const std::string type = event.value("event", "");
  if (type == "tunnel_state") {
    text += ": " + event.value("state", std::string("?"));
    if (event.contains("reason")) text += " (" + event.value("reason", std::string()) + ")";
  } else if (type == "route") {
    text += ": route " + event.value("route", std::string("?")) + " via " +
            event.value("url", std::string("?"));
    if (event.contains("reason")) text += " (" + event.value("reason", std::string()) + ")";
  } else {
    text += ": " + type;
  }
  return text;
}

void log_event(const nlohmann::json& event) {
  const bool bad = event.value("state", "") == "failed" || event.contains("reason");
  Log::write(bad ? LogLevel::warn : LogLevel::info, kLog, describe(event), event);
}

// "0.183 ms", "12.4 ms": three significant figures are plenty for a round trip.
std::string format_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g ms", ms);
  return buf;
}

void log_status(const nlohmann::json& status) {
  if (!Log::enabled(LogLevel::info)) return;
  nlohmann::json tunnels = nlohmann::json::array();
  std::string text = "status:";
  bool first = true;
  for (const auto& t : status.value("tunnels", nlohmann::json::array())) {
    nlohmann::json line = {{"name", t.value("name", "")},
                           {"state", t.value("state", "")},
                           {"bytes_in", t.value("bytes_in", std::uint64_t{0})},
                           {"bytes_out", t.value("bytes_out", std::uint64_t{0})},
                           {"latency_ms", t.value("latency_ms", nlohmann::json(nullptr))},
                           {"connected_at", t.value("connected_at", nlohmann::json(nullptr))},
                           {"reconnects", t.value("reconnects", std::uint64_t{0})}};
    text += std::string(first ? " " : "; ") + line["name"].get<std::string>() + " " +
            line["state"].get<std::string>() + ", in " +
            format_bytes(line["bytes_in"].get<std::uint64_t>()) + ", out " +
            format_bytes(line["bytes_out"].get<std::uint64_t>());
    if (line["latency_ms"].is_number())
      text += ", latency " + format_ms(line["latency_ms"].get<double>());
    tunnels.push_back(std::move(line));
    first = false;
  }
  if (first) text += " no tunnels";
  Log::write(LogLevel::info, kLog, text, {{"event", "status"}, {"tunnels", tunnels}});
}

}  // namespace

int node_command(Args args) {
  std::optional<NodeOptions> options = parse_node_options(std::move(args));
  if (!options) return kExitOk;
  options->log.apply(LogLevel::info);

  SignalWaiter signals(true);  // before the loop thread exists; SIGHUP reloads
  auto started = Runtime::start("zlt-node");
  if (!started) {
    std::cerr << "zlt node: cannot start the event loop: " << started.error().message << "\n";
    return kExitFailure;
  }
  std::unique_ptr<Runtime> runtime = std::move(*started);
  // Declared before the manager, so it outlives it.
  JsonNodeObserver observer(log_event);
  LoopOwned<NodeTunnelManager> manager(*runtime);
  LoopOwned<MetricsListener> metrics(*runtime);  // goes before the manager it reads

  std::optional<Error> create_error;
  std::optional<Error> start_error;
  runtime->invoke([&] {
    auto created = NodeTunnelManager::create(*runtime, options->config);
    if (!created) {
      create_error = created.take_error();
      return;
    }
    manager.set(std::move(*created));
    manager->set_observer(&observer);
    if (auto st = manager->start(); !st) {
      start_error = st.take_error();
      return;
    }
    NodeTunnelManager* m = manager.get();
    if (auto st = start_metrics(*runtime, metrics, options->config.metrics_listen,
                                options->config.http_limits,
                                {[m] { return m->metrics(); }, [m] { return m->readiness(); }});
        !st)
      start_error = st.take_error();
  });
  if (create_error) {
    std::cerr << "zlt node: " << options->config_file << ": " << create_error->message << "\n";
    return create_error->code == Errc::config ? kExitUsage : kExitFailure;
  }
  if (start_error) {
    std::cerr << "zlt node: cannot start: " << start_error->message << "\n";
    metrics.reset();
    manager.reset();
    return kExitFailure;
  }
  ZLT_LOG(info, kLog).field("node", options->config.node_name)
      << "node " << options->config.node_name << " running with " << options->config.tunnels.size()
      << " tunnel(s)";

  ServePlan plan{options->status_interval, std::nullopt};
  serve(
      signals, plan,
      [&] {
        nlohmann::json status;
        runtime->invoke([&] { status = manager->status(); });
        log_status(status);
      },
      [] { return false; },
      [&] {
        std::vector<std::string> warnings;
        auto loaded = load_node(*options, warnings);
        for (const std::string& w : warnings) ZLT_LOG(warn, kLog) << w;
        if (!loaded) {
          ZLT_LOG(error, kLog) << "reload failed, keeping the running configuration: "
                               << loaded.error().message;
          return;
        }
        Status applied;
        runtime->invoke([&] { applied = manager->apply(*loaded); });
        if (!applied) {
          ZLT_LOG(error, kLog) << "reload: " << applied.error().message;
          return;
        }
        ZLT_LOG(info, kLog).field("event", "reloaded")
            << "reloaded " << options->config_file << ": " << loaded->tunnels.size()
            << " tunnel(s)";
      });

  signals.exit_on_next_signal();
  ZLT_LOG(info, kLog) << "signal received, shutting down";
  metrics.reset();
  runtime->invoke([&] { manager->shutdown(); });
  manager.reset();
  runtime.reset();
  return kExitOk;
}

}  // namespace zlt::cli
