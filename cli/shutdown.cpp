#include "cli/shutdown.hpp"

#include "cli/serve_loop.hpp"

namespace zlt::cli {
namespace {

// Long enough for a Disconnect and a WebSocket close on any sane link, short enough that a
// stop never feels stuck.
constexpr std::chrono::seconds kGoodbyeLimit{1};

}  // namespace

void shut_down(Runtime& runtime, LoopOwned<TunnelServer>& server) {
  if (!server) return;
  runtime.invoke([&] { server->stop(); });
  wait_until(kGoodbyeLimit, [&] {
    std::size_t open = 0;
    runtime.invoke([&] { open = server->session_count(); });
    return open == 0;
  });
  server.reset();
}

void shut_down(Runtime& runtime, LoopOwned<TunnelAgent>& agent) {
  if (!agent) return;
  runtime.invoke([&] { agent->stop(); });
  wait_until(kGoodbyeLimit, [&] {
    bool closing = false;
    runtime.invoke([&] { closing = agent->session() != nullptr; });
    return !closing;
  });
  agent.reset();
}

void shut_down(Runtime& runtime, LoopOwned<AccessManager>& access) {
  if (!access) return;
  runtime.invoke([&] { access->shutdown(); });
  wait_until(kGoodbyeLimit, [&] {
    bool closing = false;
    runtime.invoke([&] { closing = access->agent().session() != nullptr; });
    return !closing;
  });
  access.reset();
}

}  // namespace zlt::cli
