#include "support/net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zlt::test {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

sockaddr_storage loopback(std::uint16_t port, bool ipv6, socklen_t* len) {
  sockaddr_storage ss{};
  if (ipv6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    a->sin6_port = htons(port);
    *len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons(port);
    *len = sizeof(sockaddr_in);
  }
  return ss;
}

std::uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace

Fd tcp_connect(std::uint16_t port, bool ipv6, int receive_buffer) {
  Fd fd(::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (receive_buffer > 0)
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  socklen_t len = 0;
  auto ss = loopback(port, ipv6, &len);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return Fd();
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  set_timeouts(fd.get(), 20s);
  return fd;
}

Fd tcp_connect_from(const std::string& source, std::uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  if (::inet_pton(AF_INET, source.c_str(), &local.sin_addr) != 1) return Fd();
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return Fd();
  socklen_t len = 0;
  auto ss = loopback(port, false, &len);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return Fd();
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  set_timeouts(fd.get(), 20s);
  return fd;
}

Fd tcp_listen(std::uint16_t* port_out) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len = 0;
  auto ss = loopback(0, false, &len);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd.get(), 512) != 0)
    return Fd();
  *port_out = bound_port(fd.get());
  return fd;
}

void set_timeouts(int fd, std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool send_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool send_all(int fd, const std::string& s) { return send_all(fd, s.data(), s.size()); }

bool recv_exact(int fd, void* data, std::size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

std::optional<std::string> recv_exact(int fd, std::size_t n) {
  std::string s(n, '\0');
  if (!recv_exact(fd, s.data(), n)) return std::nullopt;
  return s;
}

std::optional<std::string> recv_until_eof(int fd, std::size_t limit) {
  std::string out;
  char buf[65536];
  while (out.size() < limit) {
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return out;
    if (r < 0) return std::nullopt;
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

bool wait_closed(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc <= 0) continue;
    ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r == 0) return true;
    if (r < 0 && errno != EAGAIN && errno != EINTR) return true;  // reset
  }
}

// ---- EchoServer ----

EchoServer::EchoServer() : EchoServer(Options{}) {}

EchoServer::EchoServer(Options options) : options_(options) {
  listener_ = tcp_listen(&port_);
  acceptor_ = std::thread([this] {
    for (;;) {
      int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (stop_.load()) {
        if (fd >= 0) ::close(fd);
        return;
      }
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      ++accepted_;
      std::lock_guard lock(mu_);
      open_fds_.push_back(fd);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  });
}

void EchoServer::serve(int fd) {
  if (options_.stalled) {
    while (!stop_.load()) {
      pollfd p{fd, 0, 0};
      ::poll(&p, 1, 50);
      if (p.revents & (POLLHUP | POLLERR)) break;
    }
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::vector<char> buf(256 * 1024);
  for (;;) {
    ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (!send_all(fd, buf.data(), static_cast<std::size_t>(r))) break;
  }
  ::shutdown(fd, SHUT_WR);
}

EchoServer::~EchoServer() {
  stop_.store(true);
  ::shutdown(listener_.get(), SHUT_RDWR);
  {
    std::lock_guard lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  for (int fd : open_fds_) ::close(fd);
}

// ---- UdpEchoServer ----

UdpEchoServer::UdpEchoServer() {
  sock_ = Fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  socklen_t len = 0;
  auto ss = loopback(0, false, &len);
  ::bind(sock_.get(), reinterpret_cast<sockaddr*>(&ss), len);
  int big = 4 << 20;
  setsockopt(sock_.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(sock_.get(), SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  port_ = bound_port(sock_.get());
  thread_ = std::thread([this] {
    std::vector<char> buf(70000);
    while (!stop_.load()) {
      pollfd p{sock_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      sockaddr_storage from{};
      socklen_t flen = sizeof from;
      ssize_t r = ::recvfrom(sock_.get(), buf.data(), buf.size(), 0,
                             reinterpret_cast<sockaddr*>(&from), &flen);
      if (r < 0) continue;
      ++received_;
      ::sendto(sock_.get(), buf.data(), static_cast<std::size_t>(r), 0,
               reinterpret_cast<sockaddr*>(&from), flen);
    }
  });
}

UdpEchoServer::~UdpEchoServer() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

// ---- FreezableProxy ----

struct FreezableProxy::Link {
  Fd a;
  Fd b;
  std::atomic<bool> frozen{false};
};

FreezableProxy::FreezableProxy(std::uint16_t target) : target_(target) {
  listener_ = tcp_listen(&port_);
  acceptor_ = std::thread([this] {
    for (;;) {
      int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (stop_.load()) {
        if (fd >= 0) ::close(fd);
        return;
      }
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      auto link = std::make_shared<Link>();
      link->a = Fd(fd);
      link->b = tcp_connect(target_);
      set_timeouts(link->a.get(), 0ms);
      set_timeouts(link->b.get(), 0ms);
      if (!link->b) continue;
      ++connections_;
      std::lock_guard lock(mu_);
      links_.push_back(link);
      threads_.emplace_back([this, link] { pump(link, link->a.get(), link->b.get()); });
      threads_.emplace_back([this, link] { pump(link, link->b.get(), link->a.get()); });
    }
  });
}

void FreezableProxy::pump(std::shared_ptr<Link> link, int from, int to) {
  std::vector<char> buf(64 * 1024);
  while (!stop_.load()) {
    if (link->frozen.load()) {
      // Frozen: read nothing, send nothing, keep the sockets open.
      pollfd p{from, 0, 0};
      ::poll(&p, 1, 20);
      continue;
    }
    pollfd p{from, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    if (link->frozen.load()) continue;
    ssize_t n = ::recv(from, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      ::shutdown(to, SHUT_WR);
      return;
    }
    if (n > 0 && !send_all(to, buf.data(), static_cast<std::size_t>(n))) return;
  }
}

void FreezableProxy::freeze_existing() {
  std::lock_guard lock(mu_);
  for (auto& l : links_) l->frozen.store(true);
}

FreezableProxy::~FreezableProxy() {
  stop_.store(true);
  ::shutdown(listener_.get(), SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

Fd udp_connect(std::uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  socklen_t len = 0;
  auto ss = loopback(port, false, &len);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return Fd();
  int big = 4 << 20;
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  set_timeouts(fd.get(), 5s);
  return fd;
}

std::uint16_t unused_tcp_port() {
  std::uint16_t port = 0;
  Fd l = tcp_listen(&port);
  return port;  // closed again here: nothing listens on it now
}

std::string pattern_bytes(std::size_t n, std::uint64_t seed) {
  std::string s(n, '\0');
  std::uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

std::uint64_t fnv1a(const void* data, std::size_t n, std::uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace zlt::test
