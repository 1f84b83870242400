// `zlt quickstart`: a server, a demo web service and an agent in one process, all on
// 127.0.0.1, then one request through the tunnel so a newcomer sees bytes move.
#include <iostream>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/log_options.hpp"
#include "cli/serve_loop.hpp"
#include "cli/shutdown.hpp"
#include "cli/signals.hpp"
#include "cli/status_report.hpp"
#include "zlt/crypto.hpp"
#include "zlt/demo.hpp"
#include "zlt/http.hpp"
#include "zlt/runtime.hpp"

namespace zlt::cli {
namespace {

using std::chrono::milliseconds;

const char* const kQuickstartUsage =
    "Usage: zlt quickstart [flags]\n"
    "\n"
    "Starts, in this one process and on 127.0.0.1 only: a tunnel server, a small demo web\n"
    "service, and an agent that exposes the service through the server. Prints the public URL,\n"
    "fetches the page through the tunnel once, and serves until Ctrl-C.\n"
    "\n"
    "Flags:\n"
    "  --duration D     stop by itself after D (500ms, 30s, 5m, 1h; default: run until Ctrl-C)\n"
    "  --log-level L    trace, debug, info, warn (default), error or off\n"
    "  --log-format F   text (default) or json\n"
    "  -h, --help       show this text\n";

constexpr const char* kHost = "127.0.0.1";
constexpr milliseconds kRegisterLimit{10'000};
constexpr milliseconds kFetchTimeout{5'000};

struct QuickstartOptions {
  std::optional<config::Duration> duration;
  LogOptions log;
};

std::optional<QuickstartOptions> parse_options(Args args) {
  QuickstartOptions out;
  ArgReader r(std::move(args));
  while (!r.done()) {
    if (r.help()) {
      std::cout << kQuickstartUsage;
      return std::nullopt;
    }
    if (auto v = r.value("--duration")) {
      out.duration = parse_duration_flag("--duration", *v);
      if (out.duration->count() == 0) out.duration.reset();
    } else if (!out.log.take(r)) {
      r.reject();
    }
  }
  return out;
}

config::TunnelServerConfig server_config(const std::string& token) {
  config::TunnelServerConfig c;
  c.listen = std::string(kHost) + ":0";
  c.public_bind = kHost;
  c.data_port_range = {0, 0};
  config::TokenEntry entry;
  entry.name = "quickstart";
  entry.sha256 = crypto::hash_token(token);
  c.tokens.push_back(std::move(entry));
  return c;
}

// Where the demo service ended up, or why it did not.
struct Registration {
  std::uint16_t public_port = 0;
  std::string failure;
  bool interrupted = false;
};

Registration await_registration(Runtime& runtime, LoopOwned<TunnelAgent>& agent,
                                SignalWaiter& signals) {
  Registration out;
  const auto deadline = std::chrono::steady_clock::now() + kRegisterLimit;
  for (;;) {
    nlohmann::json status;
    runtime.invoke([&] { status = agent->status(); });
    const nlohmann::json& service = status.at("services").at(0);
    if (const nlohmann::json& port = service.at("public_port"); port.is_number()) {
      out.public_port = port.get<std::uint16_t>();
      return out;
    }
    if (service.value("status", "") == "failed") {
      out.failure = "the server refused the demo service: " + service.value("reason", "");
      return out;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      const nlohmann::json& why = status.at("last_error");
      out.failure = "the demo service was not registered within 10s" +
                    (why.is_string() ? " (" + why.get<std::string>() + ")" : std::string());
      return out;
    }
    if (signals.wait(milliseconds(20)) > 0) {
      out.interrupted = true;
      return out;
    }
  }
}

void print_traffic(const nlohmann::json& server_status, const nlohmann::json& agent_status) {
  // Counter directions (core/session/counters.hpp): "out" is what a local socket produced and
  // sent into the tunnel, "in" what came out of the tunnel into a local socket. The server's
  // local sockets are the public clients; the agent's are the demo service.
  const Traffic s = traffic_of(server_status);
  const Traffic a = traffic_of(agent_status);
  std::cout << "\nWhat moved through the tunnel:\n"
            << "  server: " << s.streams_total << " connection(s) from public clients; "
            << format_bytes(s.bytes_out) << " from them into the tunnel, "
            << format_bytes(s.bytes_in) << " back to them\n"
            << "  agent:  " << a.streams_total << " connection(s) to the demo service; "
            << format_bytes(a.bytes_in) << " delivered to it, " << format_bytes(a.bytes_out)
            << " of its answers sent back\n"
            << std::flush;
}

}  // namespace

int quickstart_command(Args args) {
  std::optional<QuickstartOptions> options = parse_options(std::move(args));
  if (!options) return kExitOk;
  options->log.apply(LogLevel::warn);

  SignalWaiter signals;  // before the loop thread exists, so it inherits the blocked signals
  auto started = Runtime::start("zlt-quickstart");
  if (!started) {
    std::cerr << "zlt quickstart: cannot start the event loop: " << started.error().message << "\n";
    return kExitFailure;
  }
  std::unique_ptr<Runtime> runtime = std::move(*started);
  // Destroyed in reverse: the agent first, then the server, then the service behind them.
  LoopOwned<DemoHttpService> demo(*runtime);
  LoopOwned<TunnelServer> server(*runtime);
  LoopOwned<TunnelAgent> agent(*runtime);

  const std::string token = crypto::new_token();
  std::string control_url;
  std::uint16_t demo_port = 0;
  std::optional<Error> failure;
  runtime->invoke([&] {
    auto service = DemoHttpService::start(runtime->loop(), kHost);
    if (!service) {
      failure = service.take_error();
      return;
    }
    demo.set(std::move(*service));
    demo_port = demo->port();
    auto created = TunnelServer::create(*runtime, server_config(token));
    if (!created) {
      failure = created.take_error();
      return;
    }
    server.set(std::move(*created));
    auto addr = server->listen();
    if (!addr) {
      failure = addr.take_error();
      return;
    }
    control_url = "ws://" + addr->to_string() + server->config().control_path;
    config::TunnelClientConfig client(control_url, token);
    client.with_service(config::ServiceConfig::tcp("demo", demo_port));
    auto made = TunnelAgent::create(*runtime, client);
    if (!made) {
      failure = made.take_error();
      return;
    }
    agent.set(std::move(*made));
    agent->start();
  });
  if (failure) {
    std::cerr << "zlt quickstart: " << failure->message << "\n";
    return kExitFailure;
  }

  std::cout << "zlayer-tunnel quickstart: everything below runs in this process, on " << kHost
            << " only.\n"
            << "  tunnel server  " << control_url << "\n"
            << "  token          " << token << "\n"
            << "  demo service   http://" << kHost << ":" << demo_port
            << "/ (local only, exposed as service \"demo\")\n"
            << std::flush;

  Registration reg = await_registration(*runtime, agent, signals);
  if (reg.interrupted || reg.public_port == 0) {
    if (!reg.interrupted) std::cerr << "zlt quickstart: " << reg.failure << "\n";
    signals.exit_on_next_signal();
    shut_down(*runtime, agent);
    shut_down(*runtime, server);
    return reg.interrupted ? kExitOk : kExitFailure;
  }
  const std::string public_url =
      "http://" + std::string(kHost) + ":" + std::to_string(reg.public_port) + "/";
  std::cout << "  public URL     " << public_url << "\n\n"
            << "Try it from another terminal:\n"
            << "  curl " << public_url << "\n\n"
            << "Connect another agent of your own to this server:\n"
            << "  zlt agent --server " << control_url << " --token " << token
            << " --service web:8080\n\n"
            << "Fetching " << public_url << " once through the tunnel...\n"
            << std::flush;

  // A signal during the fetch stays pending and ends the serve loop below at once.
  auto fetched = http_get(kHost, reg.public_port, "/", kFetchTimeout);
  if (!fetched) {
    std::cerr << "zlt quickstart: the fetch through the tunnel failed: " << fetched.error().message
              << "\n";
    signals.exit_on_next_signal();
    shut_down(*runtime, agent);
    shut_down(*runtime, server);
    return kExitFailure;
  }
  std::cout << "  " << fetched->status_line << " (" << fetched->bytes << " bytes, "
            << fetched->body_bytes << " of them the page)\n\n";
  if (options->duration)
    std::cout << "Serving for " << config::format_duration(*options->duration)
              << " (Ctrl-C stops sooner).\n";
  else
    std::cout << "Serving until Ctrl-C.\n";
  std::cout << std::flush;

  serve(
      signals, ServePlan{config::Duration(0), options->duration}, [] {}, [] { return false; });

  signals.exit_on_next_signal();
  // Snapshots first: stopping ends the sessions whose counters they read.
  nlohmann::json server_status;
  nlohmann::json agent_status;
  runtime->invoke([&] {
    server_status = server->status();
    agent_status = agent->status();
  });
  std::cout << "\nStopping.\n" << std::flush;
  shut_down(*runtime, agent);
  shut_down(*runtime, server);
  demo.reset();
  runtime.reset();
  print_traffic(server_status, agent_status);
  return kExitOk;
}

}  // namespace zlt::cli
