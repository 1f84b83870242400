// Config files for `zlt server` and `zlt agent`. The file is read as JSON first so that flags
// can fill in or override fields before the core reader checks them: a file may leave out
// what the command line supplies (an agent's token, say). Comments (`//`, `/* */`) are allowed.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace zlt::cli {

// The file's top-level JSON object. Throws UsageError naming the file.
nlohmann::json read_config_file(const std::string& path);

}  // namespace zlt::cli
