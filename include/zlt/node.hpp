// A node: NodeTunnelManager runs a server and agents to its peers from one NodeConfig.
#pragma once

#include "core/node/node_manager.hpp"
