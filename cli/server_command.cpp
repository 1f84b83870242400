// `zlt server`: a TunnelServer on its own runtime until SIGINT/SIGTERM.
#include <iostream>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/metrics_option.hpp"
#include "cli/serve_loop.hpp"
#include "cli/server_options.hpp"
#include "cli/shutdown.hpp"
#include "cli/signals.hpp"
#include "cli/status_report.hpp"
#include "zlt/log.hpp"
#include "zlt/runtime.hpp"
#include "zlt/server.hpp"

namespace zlt::cli {

int server_command(Args args) {
  std::optional<ServerOptions> options = parse_server_options(std::move(args));
  if (!options) return kExitOk;
  options->log.apply(LogLevel::info);

  SignalWaiter signals;  // before the loop thread exists, so it inherits the blocked signals
  auto started = Runtime::start("zlt-server");
  if (!started) {
    std::cerr << "zlt server: cannot start the event loop: " << started.error().message << "\n";
    return kExitFailure;
  }
  std::unique_ptr<Runtime> runtime = std::move(*started);
  LoopOwned<TunnelServer> server(*runtime);
  LoopOwned<MetricsListener> metrics(*runtime);  // goes before the server it reads

  std::optional<Error> create_error;
  std::optional<Error> listen_error;
  runtime->invoke([&] {
    auto created = TunnelServer::create(*runtime, options->config);
    if (!created) {
      create_error = created.take_error();
      return;
    }
    server.set(std::move(*created));
    // The server logs "listening on ws://HOST:PORT/PATH" itself.
    if (auto addr = server->listen(); !addr) {
      listen_error = addr.take_error();
      return;
    }
    TunnelServer* s = server.get();
    if (auto st = start_metrics(*runtime, metrics, options->config.metrics_listen,
                                options->config.http_limits,
                                {[s] { return s->metrics(); }, [s] { return s->readiness(); }});
        !st)
      listen_error = st.take_error();
  });
  if (create_error) {
    std::cerr << "zlt server: " << create_error->message << "\n";
    return create_error->code == Errc::config ? kExitUsage : kExitFailure;
  }
  if (listen_error) {
    std::cerr << "zlt server: cannot listen on " << options->config.listen << ": "
              << listen_error->message << "\n";
    return kExitFailure;
  }

  TrafficMeter meter;
  const bool json_logs = options->log.format == LogFormat::json;
  ServePlan plan{options->status_interval, std::nullopt};
  serve(
      signals, plan,
      [&] {
        nlohmann::json status;
        runtime->invoke([&] { status = server->status(); });
        log_server_status(status, meter, json_logs);
      },
      [] { return false; });

  signals.exit_on_next_signal();
  ZLT_LOG(info, "server") << "signal received, shutting down";
  metrics.reset();
  shut_down(*runtime, server);
  runtime.reset();
  return kExitOk;
}

}  // namespace zlt::cli
