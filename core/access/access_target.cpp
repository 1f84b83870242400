#include "core/access/access_target.hpp"

#include <limits>
#include <string>

#include "core/config/config.hpp"

namespace zlt {
namespace {

constexpr std::string_view kServicePrefix = "service:";

Error invalid(std::string_view target, std::string_view why) {
  return make_error(Errc::invalid_argument,
                    "invalid target '" + std::string(target) + "': " + std::string(why));
}

}  // namespace

Status validate_access_target(std::string_view target) {
  // Open carries the target behind a 16-bit length.
  if (target.size() > std::numeric_limits<std::uint16_t>::max())
    return invalid(target.substr(0, 64), "too long");
  if (target.starts_with(kServicePrefix)) {
    // The same rules a service's registration is held to, so any registrable name is reachable.
    config::ServiceConfig probe =
        config::ServiceConfig::tcp(std::string(target.substr(kServicePrefix.size())), 1);
    if (auto st = probe.validate(); !st) return invalid(target, st.error().message);
    return {};
  }
  auto hp = config::parse_host_port(target, "");
  if (!hp || hp->port == 0) return invalid(target, "expected host:port, [v6]:port or service:NAME");
  return {};
}

}  // namespace zlt
