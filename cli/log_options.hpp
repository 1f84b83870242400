// --log-level and --log-format, shared by every long-running subcommand.
#pragma once

#include <optional>

#include "cli/args.hpp"
#include "zlt/log.hpp"

namespace zlt::cli {

struct LogOptions {
  std::optional<LogLevel> level;
  std::optional<LogFormat> format;

  // Consumes the current argument if it is one of the two flags.
  bool take(ArgReader& args);
  // Configures the process-wide logger; `fallback` applies when no --log-level was given.
  void apply(LogLevel fallback) const;
};

}  // namespace zlt::cli
