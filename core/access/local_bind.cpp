#include "core/transport/sockaddr.hpp"
#include "zlt/access.hpp"

namespace zlt {

Status validate_local_bind(std::string_view host) {
  auto addr = resolve_listen_address(host, 0);
  if (!addr) return addr.take_error();
  return {};
}

}  // namespace zlt
