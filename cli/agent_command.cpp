// `zlt agent`: a TunnelAgent on its own runtime until SIGINT/SIGTERM, or until the server
// tells it to give up; SIGHUP reloads its configuration.
#include <iostream>

#include "cli/agent_options.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/metrics_option.hpp"
#include "cli/reread_options.hpp"
#include "cli/serve_loop.hpp"
#include "cli/shutdown.hpp"
#include "cli/signals.hpp"
#include "cli/status_report.hpp"
#include "zlt/agent.hpp"
#include "zlt/log.hpp"
#include "zlt/runtime.hpp"

namespace zlt::cli {
namespace {

// The agent stops by itself only when the server says so ("fatal: ..."); the main thread
// learns of it here rather than by polling.
class WakeOnDisconnect final : public TunnelAgentObserver {
 public:
  explicit WakeOnDisconnect(SignalWaiter& signals) : signals_(signals) {}
  void on_state(const AgentStateChanged& e) override {
    if (e.state == AgentState::disconnected) signals_.wake();
  }

 private:
  SignalWaiter& signals_;
};

}  // namespace

int agent_command(Args args) {
  const Args original = args;
  std::optional<AgentOptions> options = parse_agent_options(std::move(args));
  if (!options) return kExitOk;
  options->log.apply(LogLevel::info);
  if (options->config.services.empty())
    ZLT_LOG(warn, "agent") << "no services configured: the agent will connect but expose nothing";

  // Before the loop thread exists, so it inherits the blocked signals; SIGHUP reloads.
  SignalWaiter signals(true);
  auto started = Runtime::start("zlt-agent");
  if (!started) {
    std::cerr << "zlt agent: cannot start the event loop: " << started.error().message << "\n";
    return kExitFailure;
  }
  std::unique_ptr<Runtime> runtime = std::move(*started);
  WakeOnDisconnect wake_on_disconnect(signals);  // outlives the agent
  LoopOwned<TunnelAgent> agent(*runtime);
  LoopOwned<MetricsListener> metrics(*runtime);  // goes before the agent it reads

  std::optional<Error> create_error;
  runtime->invoke([&] {
    auto created = TunnelAgent::create(*runtime, options->config);
    if (!created) {
      create_error = created.take_error();
      return;
    }
    agent.set(std::move(*created));
    agent->set_observer(&wake_on_disconnect);
    TunnelAgent* a = agent.get();
    if (auto st = start_metrics(*runtime, metrics, options->config.metrics_listen,
                                options->config.http_limits,
                                {[a] { return a->metrics(); }, [a] { return a->readiness(); }});
        !st) {
      create_error = st.take_error();
      return;
    }
    agent->start();
  });
  if (create_error) {
    std::cerr << "zlt agent: " << create_error->message << "\n";
    return create_error->code == Errc::config ? kExitUsage : kExitFailure;
  }

  TrafficMeter meter;
  const bool json_logs = options->log.format == LogFormat::json;
  ServePlan plan{options->status_interval, std::nullopt};
  const ServeEnd end = serve(
      signals, plan,
      [&] {
        nlohmann::json status;
        runtime->invoke([&] { status = agent->status(); });
        log_agent_status(status, meter, json_logs);
      },
      [&] {
        bool running = true;
        runtime->invoke([&] { running = agent->running(); });
        return !running;
      },
      [&] {
        Result<AgentReload> reloaded = make_error(Errc::internal, "not run");
        auto next = reread_options(original, parse_agent_options, "agent");
        if (next)
          runtime->invoke([&] { reloaded = agent->reload(std::move(*next)); });
        else
          reloaded = next.take_error();
        if (!reloaded)
          ZLT_LOG(error, "agent") << "reload failed, keeping the running configuration: "
                                  << reloaded.error().message;
      });

  signals.exit_on_next_signal();
  int code = kExitOk;
  if (end == ServeEnd::finished) {
    nlohmann::json status;
    runtime->invoke([&] { status = agent->status(); });
    const nlohmann::json& why = status.at("last_error");
    std::cerr << "zlt agent: gave up: " << (why.is_string() ? why.get<std::string>() : "stopped")
              << "\n";
    code = kExitFailure;
  } else {
    ZLT_LOG(info, "agent") << "signal received, shutting down";
  }
  metrics.reset();
  shut_down(*runtime, agent);
  runtime.reset();
  return code;
}

}  // namespace zlt::cli
