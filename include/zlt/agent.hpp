// The tunnel agent: TunnelAgent keeps one tunnel to a server and serves its local services.
// Its events: TunnelAgentObserver (zlt/events.hpp).
#pragma once

#include "core/agent/agent.hpp"
