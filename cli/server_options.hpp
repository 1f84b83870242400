// `zlt server` flags and config file, merged into one validated TunnelServerConfig.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/log_options.hpp"
#include "zlt/config.hpp"

namespace zlt::cli {

struct ServerOptions {
  config::TunnelServerConfig config;
  LogOptions log;
  config::Duration status_interval = std::chrono::seconds(30);
};

extern const char* const kServerUsage;

// Throws UsageError; nullopt when --help was given (the usage text is printed).
std::optional<ServerOptions> parse_server_options(std::vector<std::string> args);

}  // namespace zlt::cli
