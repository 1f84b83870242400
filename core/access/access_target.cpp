#include "core/access/access_target.hpp"

#include <limits>
#include <string>

#include "core/protocol/open_target.hpp"

namespace zlt {

Status validate_access_target(std::string_view target) {
  // Open carries the target behind a 16-bit length.
  if (target.size() > std::numeric_limits<std::uint16_t>::max())
    return make_error(Errc::invalid_argument,
                      "invalid target '" + std::string(target.substr(0, 64)) + "...': too long");
  // The parser the server reads Open with, so the client refuses exactly what it would.
  auto parsed = OpenTarget::parse(target);
  if (!parsed) return parsed.take_error();
  return {};
}

}  // namespace zlt
