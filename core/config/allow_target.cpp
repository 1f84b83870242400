#include "core/config/allow_target.hpp"

#include "core/protocol/open_target.hpp"

namespace zlt::config {
namespace {

std::string indexed(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

}  // namespace

bool is_valid_allow_target(std::string_view target) {
  return parse_allow_entry(target).has_value();
}

Status validate_allow_targets(const std::vector<std::string>& targets, const std::string& path) {
  for (std::size_t i = 0; i < targets.size(); ++i)
    if (!is_valid_allow_target(targets[i]))
      return make_error(Errc::config, indexed(path, i) + ": invalid target '" + targets[i] +
                                          "' (expected service:NAME, HOST:PORT or CIDR:PORT)");
  return {};
}

Status validate_service_names(const std::vector<std::string>& names, const std::string& path) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (!is_valid_service_name(names[i]))
      return make_error(Errc::config, indexed(path, i) + ": invalid service name '" + names[i] +
                                          "' (use 1-255 bytes of letters, digits, '-' and '_')");
  return {};
}

}  // namespace zlt::config
