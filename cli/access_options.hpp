// `zlt access` flags, checked into a client config, access settings and one session request.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/log_options.hpp"
#include "zlt/config.hpp"

namespace zlt::cli {

struct AccessOptions {
  config::TunnelClientConfig client;  // no services
  config::AccessConfig access;        // local_bind from --local-bind
  std::string target;
  std::uint16_t local_port = 0;
  std::optional<config::Duration> ttl;  // none: until stopped
  proto::ServiceProtocol protocol = proto::ServiceProtocol::tcp;
  LogOptions log;
};

extern const char* const kAccessUsage;

// Throws UsageError; nullopt when --help was given (the usage text is printed).
std::optional<AccessOptions> parse_access_options(std::vector<std::string> args);

}  // namespace zlt::cli
