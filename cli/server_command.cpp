// `zlt server`: a TunnelServer on its own runtime until SIGINT/SIGTERM (a drain), reloading
// its configuration on SIGHUP.
#include <atomic>
#include <iostream>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/metrics_option.hpp"
#include "cli/reread_options.hpp"
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
  const Args original = args;
  std::optional<ServerOptions> options = parse_server_options(std::move(args));
  if (!options) return kExitOk;
  options->log.apply(LogLevel::info);

  // Before the loop thread exists, so it inherits the blocked signals; SIGHUP reloads.
  SignalWaiter signals(true);
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
    // SIGHUP and POST /admin/v1/reload read the same source, on the loop thread.
    server->set_config_source(
        [original] { return reread_options(original, parse_server_options, "server"); });
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
      [] { return false; },
      [&] {
        Result<ServerReload> reloaded = make_error(Errc::internal, "not run");
        runtime->invoke([&] { reloaded = server->reload(); });
        if (!reloaded)
          ZLT_LOG(error, "server") << "reload failed, keeping the running configuration: "
                                   << reloaded.error().message;
      });

  signals.exit_on_next_signal();
  const config::Duration grace = options->config.grace_period;
  ZLT_LOG(info, "server") << "signal received, draining for up to "
                          << config::format_duration(grace) << " (a second signal exits at once)";
  // The drain ends the server itself; /ready has answered 503 since it began.
  auto stopped = std::make_shared<std::atomic<bool>>(false);
  runtime->invoke([&] { server->drain(grace, [stopped] { *stopped = true; }); });
  wait_until(grace + std::chrono::seconds(1), [&] { return stopped->load(); });
  metrics.reset();
  shut_down(*runtime, server);
  runtime.reset();
  return kExitOk;
}

}  // namespace zlt::cli
