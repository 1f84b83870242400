// The tunnel server: TunnelServer (agents connect, services are published), its token file
// and the access grants it hands out. Its events: TunnelServerObserver (zlt/events.hpp).
#pragma once

#include "core/server/grants.hpp"
#include "core/server/token_auth.hpp"
#include "core/server/tunnel_server.hpp"
