#include "cli/config_file.hpp"

#include "cli/args.hpp"
#include "zlt/config.hpp"

namespace zlt::cli {

nlohmann::json read_config_file(const std::string& path) {
  // The core reader is the one parser of config files, so every command accepts the same
  // syntax (comments included) and words its errors the same way.
  Result<nlohmann::json> j = config::read_json_config_file(path);
  if (!j) throw UsageError{j.error().message};
  if (!j->is_object()) throw UsageError{path + ": expected a JSON object at the top level"};
  return std::move(j).value();
}

}  // namespace zlt::cli
