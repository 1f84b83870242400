#include "cli/args.hpp"

#include <charconv>

namespace zlt::cli {
namespace {

std::string in_quotes(std::string_view text) {
  return "'" + std::string(text) + "'";
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

}  // namespace

bool ArgReader::help() {
  if (done() || (current() != "-h" && current() != "--help")) return false;
  ++pos_;
  return true;
}

std::optional<std::string> ArgReader::value(std::string_view name) {
  if (done()) return std::nullopt;
  std::string_view arg = current();
  if (arg.starts_with(name) && arg.size() > name.size() && arg[name.size()] == '=') {
    ++pos_;
    return std::string(arg.substr(name.size() + 1));
  }
  if (arg != name) return std::nullopt;
  if (pos_ + 1 >= args_.size() || args_[pos_ + 1].starts_with("--"))
    throw UsageError{std::string(name) + ": missing value"};
  pos_ += 2;
  return args_[pos_ - 1];
}

bool ArgReader::flag(std::string_view name) {
  if (done() || current() != name) return false;
  ++pos_;
  return true;
}

std::optional<std::string> ArgReader::positional() {
  if (done() || (current().starts_with('-') && current() != "-")) return std::nullopt;
  return args_[pos_++];
}

void ArgReader::reject() const {
  const std::string& arg = current();
  if (arg.starts_with('-')) {
    std::string_view name = arg;
    name = name.substr(0, name.find('='));
    throw UsageError{"unknown flag " + in_quotes(name)};
  }
  throw UsageError{"unexpected argument " + in_quotes(arg)};
}

config::Duration parse_duration_flag(std::string_view flag, std::string_view text) {
  auto d = config::parse_duration(text);
  if (!d)
    throw UsageError{std::string(flag) +
                     ": expected a duration such as 500ms, 30s, 5m or 1h, got " + in_quotes(text)};
  return *d;
}

std::uint16_t parse_port_flag(std::string_view flag, std::string_view text, bool allow_zero) {
  auto n = parse_number(text);
  if (!n || *n > 65535 || (*n == 0 && !allow_zero))
    throw UsageError{std::string(flag) + ": expected a port " + (allow_zero ? "0" : "1") +
                     "-65535, got " + in_quotes(text)};
  return static_cast<std::uint16_t>(*n);
}

std::size_t parse_count_flag(std::string_view flag, std::string_view text, bool allow_zero) {
  auto n = parse_number(text);
  if (!n || (*n == 0 && !allow_zero))
    throw UsageError{std::string(flag) + ": expected a whole number" +
                     (allow_zero ? "" : " above 0") + ", got " + in_quotes(text)};
  return static_cast<std::size_t>(*n);
}

config::PortRange parse_port_range_flag(std::string_view flag, std::string_view text) {
  const std::size_t dash = text.find('-');
  auto fail = [&] {
    return UsageError{std::string(flag) + ": expected A-B, got " + in_quotes(text)};
  };
  if (dash == std::string_view::npos) throw fail();
  auto start = parse_number(text.substr(0, dash));
  auto end = parse_number(text.substr(dash + 1));
  if (!start || !end || *start > 65535 || *end > 65535) throw fail();
  return config::PortRange{static_cast<std::uint16_t>(*start), static_cast<std::uint16_t>(*end)};
}

LogLevel parse_log_level_flag(std::string_view text) {
  auto level = parse_log_level(text);
  if (!level)
    throw UsageError{"--log-level: expected trace, debug, info, warn, error or off, got " +
                     in_quotes(text)};
  return *level;
}

LogFormat parse_log_format_flag(std::string_view text) {
  if (text == "text") return LogFormat::text;
  if (text == "json") return LogFormat::json;
  throw UsageError{"--log-format: expected text or json, got " + in_quotes(text)};
}

}  // namespace zlt::cli
