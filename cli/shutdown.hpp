// Orderly ends for servers, agents and access: stop on the loop, give the far side a bounded
// moment to hear the goodbye, then destroy on the loop.
#pragma once

#include "zlt/access.hpp"
#include "zlt/agent.hpp"
#include "zlt/runtime.hpp"
#include "zlt/server.hpp"

namespace zlt::cli {

void shut_down(Runtime& runtime, LoopOwned<TunnelServer>& server);
void shut_down(Runtime& runtime, LoopOwned<TunnelAgent>& agent);
void shut_down(Runtime& runtime, LoopOwned<AccessManager>& access);

}  // namespace zlt::cli
