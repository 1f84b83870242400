// `zlt agent` flags and config file, merged into one validated TunnelClientConfig.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/log_options.hpp"
#include "zlt/config.hpp"

namespace zlt::cli {

struct AgentOptions {
  config::TunnelClientConfig config;
  LogOptions log;
  config::Duration status_interval = std::chrono::seconds(30);
};

extern const char* const kAgentUsage;

// Throws UsageError; nullopt when --help was given (the usage text is printed).
std::optional<AgentOptions> parse_agent_options(std::vector<std::string> args);

// "NAME:LOCAL_PORT[:REMOTE_PORT][/udp][/internal]" (suffixes in any order). Throws UsageError.
config::ServiceConfig parse_service_flag(std::string_view text);

}  // namespace zlt::cli
