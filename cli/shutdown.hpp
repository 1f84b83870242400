// Orderly ends for servers, agents and access: stop on the loop, give the far side a bounded
// moment to hear the goodbye, then destroy on the loop.
#pragma once

#include "cli/loop_owned.hpp"
#include "core/access/access_manager.hpp"
#include "core/agent/agent.hpp"
#include "core/server/tunnel_server.hpp"

namespace zlt::cli {

void shut_down(Runtime& runtime, LoopOwned<TunnelServer>& server);
void shut_down(Runtime& runtime, LoopOwned<TunnelAgent>& agent);
void shut_down(Runtime& runtime, LoopOwned<AccessManager>& access);

}  // namespace zlt::cli
