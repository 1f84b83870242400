// Command-line flags: a small reader for "--flag VALUE", "--flag=VALUE" and switches, and the
// value parsers the subcommands share. A bad flag is a UsageError, which the dispatcher turns
// into a one-line message and exit code 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zlt/config.hpp"
#include "zlt/log.hpp"

namespace zlt::cli {

// Exit codes of every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // something went wrong at run time
inline constexpr int kExitUsage = 2;    // bad flags or a bad configuration

// Thrown for bad flags and bad configuration; `message` names the flag or field.
struct UsageError {
  std::string message;
};

class ArgReader {
 public:
  explicit ArgReader(std::vector<std::string> args) : args_(std::move(args)) {}

  bool done() const { return pos_ >= args_.size(); }
  const std::string& current() const { return args_.at(pos_); }
  // "-h" or "--help" (consumed).
  bool help();
  // If the current argument is `name` or `name=VALUE`, consumes it and returns the value (the
  // next argument in the first form). A missing value is a UsageError; so is a value that looks
  // like a flag, which is almost always a forgotten value ("--token --service ...").
  std::optional<std::string> value(std::string_view name);
  // If the current argument is the switch `name`, consumes it.
  bool flag(std::string_view name);
  // The current argument if it is not a flag (consumed).
  std::optional<std::string> positional();
  // Throws for the current argument, which nothing recognised.
  [[noreturn]] void reject() const;

 private:
  std::vector<std::string> args_;
  std::size_t pos_ = 0;
};

// Value parsers; `flag` names the flag in error messages.
config::Duration parse_duration_flag(std::string_view flag, std::string_view text);
std::uint16_t parse_port_flag(std::string_view flag, std::string_view text, bool allow_zero);
// A count such as a connection cap ("0" only if allow_zero).
std::size_t parse_count_flag(std::string_view flag, std::string_view text, bool allow_zero);
// "A-B" (inclusive); "0-0" lets the kernel choose every port.
config::PortRange parse_port_range_flag(std::string_view flag, std::string_view text);
LogLevel parse_log_level_flag(std::string_view text);
LogFormat parse_log_format_flag(std::string_view text);

}  // namespace zlt::cli
