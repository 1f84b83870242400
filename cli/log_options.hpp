// --log-level and --log-format, shared by every long-running subcommand.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "zlt/log.hpp"

namespace zlt::cli {

struct LogOptions {
  std::optional<LogLevel> level;
  std::optional<LogFormat> format;
  // Warnings met while reading the flags, before the logger is configured (a token file
  // others can read); apply() logs them, so they follow --log-format like every other line.
  std::vector<std::string> warnings;

  // Consumes the current argument if it is one of the two flags.
  bool take(ArgReader& args);
  // Configures the process-wide logger (`fallback` applies when no --log-level was given),
  // then logs the warnings.
  void apply(LogLevel fallback) const;
};

}  // namespace zlt::cli
