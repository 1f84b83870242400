// What a reload reads: the command line parsed again, so the config file, the token files and
// the environment are read anew and the flags keep their precedence over the file, exactly as
// at start. One rule for every command that reloads.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "cli/args.hpp"
#include "zlt/common.hpp"
#include "zlt/log.hpp"

namespace zlt::cli {

// `parse` is the command's option parser (parse_server_options, parse_agent_options); its
// UsageError becomes Errc::config with the same words, and its warnings are logged under
// `log_name`.
template <class Parse>
auto reread_options(const std::vector<std::string>& args, Parse parse, const char* log_name)
    -> Result<std::decay_t<decltype(parse(args)->config)>> {
  try {
    auto again = parse(args);
    if (!again) return make_error(Errc::config, "no configuration");
    for (const auto& warning : again->log.warnings) ZLT_LOG(warn, log_name) << warning;
    return std::move(again->config);
  } catch (const UsageError& e) {
    return make_error(Errc::config, e.message);
  } catch (const std::exception& e) {
    return make_error(Errc::internal, e.what());
  }
}

}  // namespace zlt::cli
