// Socket addresses: resolving listen addresses and printing peers.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/common/error.hpp"

namespace zlt {

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  std::uint16_t port() const;
  void set_port(std::uint16_t port);
  // "1.2.3.4:5", "[::1]:8080" (the original's SocketAddr text form).
  std::string to_string() const;
  // Just the address: "1.2.3.4", "::1".
  std::string ip() const;
};

// Whom a per-source limit counts a connection against: the IPv4 address ("1.2.3.4", also for
// IPv4-mapped IPv6 peers), or the /64 an IPv6 address is in ("2001:db8:1:2::/64"), since one
// IPv6 host commonly has a whole /64 to choose from.
std::string source_of(const SockAddr& peer);
// The same for a peer printed by SockAddr::to_string ("1.2.3.4:5", "[::1]:80"); text that is
// not such an address is returned as it is.
std::string source_of(std::string_view printed_peer);

// An IP literal ("127.0.0.1", "::1", "[::1]") or "localhost" plus a port. Names other than
// localhost are refused: listen addresses must not depend on DNS.
Result<SockAddr> resolve_listen_address(std::string_view host, std::uint16_t port);
// The address of a connected or bound socket.
SockAddr peer_of(int fd);
SockAddr local_of(int fd);
SockAddr peer_of(const uv_tcp_t* socket);

// Creates a non-blocking, close-on-exec TCP socket bound to `addr` and listening. IPv6
// wildcard sockets accept IPv4 too. Returns the fd; errors name the address.
Result<int> listen_tcp(const SockAddr& addr, int backlog = 511);

}  // namespace zlt
