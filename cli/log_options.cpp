#include "cli/log_options.hpp"

namespace zlt::cli {

bool LogOptions::take(ArgReader& args) {
  if (auto v = args.value("--log-level")) {
    level = parse_log_level_flag(*v);
    return true;
  }
  if (auto v = args.value("--log-format")) {
    format = parse_log_format_flag(*v);
    return true;
  }
  return false;
}

void LogOptions::apply(LogLevel fallback) const {
  Log::set_level(level.value_or(fallback));
  Log::set_format(format.value_or(LogFormat::text));
  for (const std::string& w : warnings) ZLT_LOG(warn, "config") << w;
}

}  // namespace zlt::cli
