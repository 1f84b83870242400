// `zlt access`: one on-demand access session on its own runtime. Waits for the server to accept
// the token, binds the local listener, checks the target with one probe connection (TCP), prints
// the Access line and serves until the TTL, a signal or the server ends it.
#include <iostream>
#include <mutex>

#include "cli/access_options.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/metrics_option.hpp"
#include "cli/serve_loop.hpp"
#include "cli/shutdown.hpp"
#include "cli/signals.hpp"
#include "zlt/access.hpp"
#include "zlt/common.hpp"
#include "zlt/event_json.hpp"
#include "zlt/log.hpp"
#include "zlt/runtime.hpp"

namespace zlt::cli {
namespace {

constexpr const char* kLog = "access";

// What the loop thread has seen, for the main thread to act on. Every change wakes the main
// thread, which then reads a snapshot.
class AccessWatch {
 public:
  struct State {
    bool authenticated = false;
    std::optional<std::string> auth_failed;
    std::optional<std::string> fatal;
    bool expired = false;
    std::optional<ProbeResult> probe;

    bool over() const { return auth_failed || fatal || expired; }
  };

  explicit AccessWatch(SignalWaiter& signals) : signals_(signals) {}

  // Loop thread.
  void on_event(const nlohmann::json& e) {
    const std::string name = e.value("event", "");
    {
      std::lock_guard lock(mu_);
      if (name == "authenticated") {
        state_.authenticated = true;
      } else if (name == "auth_failed") {
        state_.auth_failed = e.value("reason", "authentication refused");
      } else if (name == "fatal") {
        state_.fatal = e.value("reason", "fatal");
      } else if (name == "session_expired") {
        state_.expired = true;
      } else {
        return;
      }
    }
    signals_.wake();
  }
  void on_probe(const ProbeResult& result) {
    {
      std::lock_guard lock(mu_);
      state_.probe = result;
    }
    signals_.wake();
  }

  State get() {
    std::lock_guard lock(mu_);
    return state_;
  }

 private:
  SignalWaiter& signals_;
  std::mutex mu_;
  State state_;
};

// Waits until `ready` holds; false if a stop signal came first.
bool wait_for(SignalWaiter& signals, const std::function<bool()>& ready) {
  if (ready()) return true;
  // zlt access takes everything from its command line: a SIGHUP (a log rotation, a habit of
  // the operator's) has nothing to reload and must not end the access.
  auto on_hangup = [] {
    ZLT_LOG(info, kLog) << "SIGHUP: nothing to reload (zlt access is configured by its flags); "
                           "carrying on";
  };
  return serve(signals, ServePlan{}, [] {}, ready, on_hangup) == ServeEnd::finished;
}

// The exit code for an access that is over, its reason reported.
int exit_code_of(const AccessWatch::State& s) {
  if (s.fatal) {
    // One write: the loop thread may be logging to the same stream.
    std::cerr << ("zlt access: the server ended access: " + *s.fatal + "\n");
    return kExitFailure;
  }
  if (s.auth_failed) {
    std::cerr << ("zlt access: the server refused the token: " + *s.auth_failed + "\n");
    return kExitFailure;
  }
  ZLT_LOG(info, kLog) << "access expired";
  return kExitOk;
}

int run_access(const AccessOptions& options, Runtime& runtime, LoopOwned<AccessManager>& manager,
               AccessWatch& watch, SignalWaiter& signals) {
  auto over = [&] { return watch.get().over(); };
  if (!wait_for(signals, [&] { return watch.get().authenticated || over(); })) return kExitOk;
  if (over()) return exit_code_of(watch.get());

  std::optional<Result<AccessManager::SessionInfo>> started;
  runtime.invoke([&] {
    started =
        manager->start_session(options.target, options.local_port, options.ttl, options.protocol);
  });
  if (!*started) {
    std::cerr << ("zlt access: " + started->error().message + "\n");
    return kExitFailure;
  }
  const AccessManager::SessionInfo& session = **started;

  if (options.protocol == proto::ServiceProtocol::tcp) {
    Status probing;
    runtime.invoke([&] {
      probing = manager->probe(options.target, options.protocol,
                               [&watch](const ProbeResult& r) { watch.on_probe(r); });
    });
    if (!probing) {
      ZLT_LOG(warn, kLog) << "cannot check " << options.target << ": " << probing.error().message;
    } else {
      if (!wait_for(signals, [&] { return watch.get().probe.has_value() || over(); }))
        return kExitOk;
      const AccessWatch::State s = watch.get();
      if (s.over()) return exit_code_of(s);
      if (s.probe->outcome == ProbeResult::Outcome::refused) {
        std::cerr << ("zlt access: the server refused " + options.target + ": " + s.probe->reason +
                      "\n");
        return kExitFailure;
      }
      if (s.probe->outcome == ProbeResult::Outcome::no_answer)
        ZLT_LOG(warn, kLog) << "cannot check " << options.target << ": " << s.probe->reason;
    }
  }

  std::cout << "Access via " << session.local_addr.to_string() << " until "
            << (session.expires_at ? format_rfc3339(*session.expires_at) : "stopped") << "\n"
            << std::flush;
  if (!wait_for(signals, over)) {
    ZLT_LOG(info, kLog) << "signal received, shutting down";
    return kExitOk;
  }
  return exit_code_of(watch.get());
}

}  // namespace

int access_command(Args args) {
  std::optional<AccessOptions> options = parse_access_options(std::move(args));
  if (!options) return kExitOk;
  options->log.apply(LogLevel::info);

  // Before the loop thread exists, so it inherits the blocked signals; SIGHUP is collected too.
  SignalWaiter signals(true);
  AccessWatch watch(signals);
  // Outlives the manager (declared before it), which reports to it.
  JsonAccessObserver observer([&watch](const nlohmann::json& e) { watch.on_event(e); });
  auto started = Runtime::start("zlt-access");
  if (!started) {
    std::cerr << "zlt access: cannot start the event loop: " << started.error().message << "\n";
    return kExitFailure;
  }
  std::unique_ptr<Runtime> runtime = std::move(*started);
  LoopOwned<AccessManager> manager(*runtime);
  LoopOwned<MetricsListener> metrics(*runtime);  // goes before the manager it reads

  std::optional<Error> create_error;
  runtime->invoke([&] {
    auto created = AccessManager::create(*runtime, options->client, options->access);
    if (!created) {
      create_error = created.take_error();
      return;
    }
    manager.set(std::move(*created));
    manager->set_observer(&observer);
    AccessManager* m = manager.get();
    if (auto st = start_metrics(*runtime, metrics, options->client.metrics_listen,
                                options->client.http_limits,
                                {[m] { return m->metrics(); }, [m] { return m->readiness(); }});
        !st) {
      create_error = st.take_error();
      return;
    }
    manager->start();
  });
  if (create_error) {
    std::cerr << "zlt access: " << create_error->message << "\n";
    return create_error->code == Errc::config ? kExitUsage : kExitFailure;
  }

  const int code = run_access(*options, *runtime, manager, watch, signals);
  signals.exit_on_next_signal();
  metrics.reset();
  shut_down(*runtime, manager);
  runtime.reset();
  return code;
}

}  // namespace zlt::cli
