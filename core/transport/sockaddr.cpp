#include "core/transport/sockaddr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zlt {

std::uint16_t SockAddr::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

void SockAddr::set_port(std::uint16_t port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
}

std::string SockAddr::ip() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (family() == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof buf);
  else if (family() == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
              sizeof buf);
  return buf;
}

std::string SockAddr::to_string() const {
  if (family() == AF_INET6) return "[" + ip() + "]:" + std::to_string(port());
  if (family() == AF_INET) return ip() + ":" + std::to_string(port());
  return "?";
}

std::string source_of(const SockAddr& peer) {
  if (peer.family() != AF_INET6) return peer.ip();
  const auto& a6 = reinterpret_cast<const sockaddr_in6*>(&peer.storage)->sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&a6)) {
    char buf[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, a6.s6_addr + 12, buf, sizeof buf);
    return buf;
  }
  in6_addr prefix{};
  std::memcpy(prefix.s6_addr, a6.s6_addr, 8);
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(AF_INET6, &prefix, buf, sizeof buf);
  return std::string(buf) + "/64";
}

std::string source_of(std::string_view printed_peer) {
  std::string_view host = printed_peer;
  if (auto colon = host.rfind(':'); colon != std::string_view::npos) host = host.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto addr = resolve_listen_address(host, 0);
  return addr && host != "localhost" ? source_of(*addr) : std::string(printed_peer);
}

Result<SockAddr> resolve_listen_address(std::string_view host, std::uint16_t port) {
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h == "localhost") h = "127.0.0.1";
  SockAddr a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
    return a;
  }
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  return make_error(Errc::config,
                    "'" + std::string(host) + "' is not an IP address (or localhost)");
}

SockAddr peer_of(int fd) {
  SockAddr a;
  a.len = sizeof a.storage;
  if (getpeername(fd, a.get(), &a.len) != 0) a = SockAddr{};
  return a;
}

SockAddr peer_of(const uv_tcp_t* socket) {
  SockAddr a;
  int len = sizeof a.storage;
  if (uv_tcp_getpeername(socket, a.get(), &len) != 0) return SockAddr{};
  a.len = static_cast<socklen_t>(len);
  return a;
}

SockAddr local_of(int fd) {
  SockAddr a;
  a.len = sizeof a.storage;
  if (getsockname(fd, a.get(), &a.len) != 0) a = SockAddr{};
  return a;
}

Result<int> listen_tcp(const SockAddr& addr, int backlog) {
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(Errc::connection, "socket: " + std::string(std::strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr.family() == AF_INET6) {
    int zero = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (::bind(fd, addr.get(), addr.len) != 0 || ::listen(fd, backlog) != 0) {
    int err = errno;
    ::close(fd);
    return make_error(Errc::connection,
                      "listen on " + addr.to_string() + ": " + std::strerror(err));
  }
  return fd;
}

}  // namespace zlt
