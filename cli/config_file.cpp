#include "cli/config_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli/args.hpp"

namespace zlt::cli {

nlohmann::json read_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError{path + ": cannot open: " + std::strerror(errno)};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw UsageError{path + ": cannot read: " + std::strerror(errno)};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    // Drop the library's "[json.exception.parse_error.101] " tag; the rest says where and what.
    std::string what = e.what();
    if (std::size_t tag_end = what.find("] "); what.starts_with('[') && tag_end != what.npos)
      what.erase(0, tag_end + 2);
    throw UsageError{path + ": invalid JSON: " + what};
  }
  if (!j.is_object()) throw UsageError{path + ": expected a JSON object at the top level"};
  return j;
}

}  // namespace zlt::cli
