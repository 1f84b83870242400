#include "support/tunnel_checks.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>
#include <random>
#include <vector>

#include "core/common/ascii.hpp"
#include "support/net.hpp"

namespace zlt::test {

bool echoes(std::uint16_t port, const std::string& payload, std::string* why) {
  auto fail = [&](std::string text) {
    if (why != nullptr) *why = std::move(text);
    return false;
  };
  Fd c = tcp_connect(port);
  if (!c) return fail("cannot connect to port " + std::to_string(port));
  set_timeouts(c.get(), 10s);
  bool sent = false;
  std::thread writer([&] { sent = send_all(c.get(), payload); });
  auto back = recv_exact(c.get(), payload.size());
  writer.join();
  if (!sent) return fail("send failed");
  if (!back) return fail("the echo did not come back");
  if (*back != payload) return fail("the echo differs from what was sent");
  return true;
}

std::string probe_payload(std::size_t size) {
  static std::atomic<std::uint64_t> seed{1};
  return pattern_bytes(size, seed.fetch_add(1));
}

std::optional<config::PortRange> free_port_range(std::size_t n) {
  // Below the kernel's ephemeral range (32768 and up by default), so neither outgoing
  // connections nor kernel-chosen ports of tests running beside this one take them between
  // the probe and the test's own bind.
  constexpr std::uint16_t kLow = 10000, kHigh = 32000;
  static std::mt19937 random(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto base = static_cast<std::uint16_t>(
        std::uniform_int_distribution<int>(kLow, kHigh - static_cast<int>(n))(random));
    std::vector<Fd> held;
    bool ok = true;
    for (std::size_t i = 0; i < n && ok; ++i) {
      Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      // As the server binds its public ports (libuv sets SO_REUSEADDR): a port whose last
      // connection is in TIME_WAIT is free for it. Without this, the even ports that outgoing
      // connections use are often taken while another test opens thousands of connections.
      int one = 1;
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<std::uint16_t>(base + i));
      ok = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      held.push_back(std::move(fd));
    }
    if (ok) return config::PortRange{base, static_cast<std::uint16_t>(base + n - 1)};
  }
  return std::nullopt;
}

std::optional<std::string> http_exchange(std::uint16_t port, const std::string& request) {
  Fd c = tcp_connect(port);
  if (!c || !send_all(c.get(), request)) return std::nullopt;
  set_timeouts(c.get(), 5s);
  std::string in;
  char buf[4096];
  std::size_t want = std::string::npos;
  while (want == std::string::npos || in.size() < want) {
    ssize_t r = ::recv(c.get(), buf, sizeof buf, 0);
    if (r <= 0) break;
    in.append(buf, static_cast<std::size_t>(r));
    auto end = in.find("\r\n\r\n");
    if (want == std::string::npos && end != std::string::npos) {
      std::size_t length = 0;
      std::string head = to_ascii_lower(in.substr(0, end));
      auto cl = head.find("content-length:");
      if (cl != std::string::npos) length = std::stoul(head.substr(cl + 15));
      want = end + 4 + length;
    }
  }
  if (in.empty()) return std::nullopt;
  return in;
}

std::size_t open_fd_count() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

}  // namespace zlt::test
