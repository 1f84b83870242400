// Plain blocking sockets for tests: the "outside world" of a tunnel (public clients and local
// services), deliberately not built on the code under test.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace zlt::test {

using namespace std::chrono_literals;

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  ~Fd();
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Connects to 127.0.0.1:port (or ::1 when ipv6). Invalid Fd on failure.
// receive_buffer > 0: SO_RCVBUF set before connecting, so the window stays that small (a
// peer that reads slowly, or not at all, with little kernel buffering).
Fd tcp_connect(std::uint16_t port, bool ipv6 = false, int receive_buffer = 0);
// Connects to 127.0.0.1:port from `source` (another loopback address such as 127.0.0.7), so a
// test can play many client addresses. Invalid Fd on failure.
Fd tcp_connect_from(const std::string& source, std::uint16_t port);
// Listening socket on 127.0.0.1 with a kernel-chosen port.
Fd tcp_listen(std::uint16_t* port_out);
// Receive/send timeouts so a test never blocks forever.
void set_timeouts(int fd, std::chrono::milliseconds t);
bool send_all(int fd, const void* data, std::size_t n);
bool send_all(int fd, const std::string& s);
// Reads exactly n bytes (false on EOF/error/timeout).
bool recv_exact(int fd, void* data, std::size_t n);
std::optional<std::string> recv_exact(int fd, std::size_t n);
// Reads until EOF; nullopt on error/timeout.
std::optional<std::string> recv_until_eof(int fd, std::size_t limit = 1u << 30);
// True if the peer closed (EOF or reset) within the timeout.
bool wait_closed(int fd, std::chrono::milliseconds timeout);

// A threaded TCP echo server on 127.0.0.1 (kernel-chosen port). Each connection echoes until
// EOF, then shuts down its write side. Optionally never reads (a stalled service).
class EchoServer {
 public:
  struct Options {
    bool stalled = false;  // accept but never read
  };
  EchoServer();
  explicit EchoServer(Options options);
  ~EchoServer();
  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  void serve(int fd);
  Options options_;
  Fd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<int> open_fds_;
  std::thread acceptor_;
};

// A UDP echo server on 127.0.0.1 (kernel-chosen port).
class UdpEchoServer {
 public:
  UdpEchoServer();
  ~UdpEchoServer();
  std::uint16_t port() const { return port_; }
  int received() const { return received_.load(); }

 private:
  Fd sock_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> received_{0};
  std::thread thread_;
};

// A TCP relay on 127.0.0.1 toward 127.0.0.1:target that can freeze its connections: they stay
// open but nothing passes any more, like a path that silently died.
class FreezableProxy {
 public:
  explicit FreezableProxy(std::uint16_t target);
  ~FreezableProxy();
  std::uint16_t port() const { return port_; }
  // Stops forwarding on every connection made so far; new connections work normally.
  void freeze_existing();
  int connections() const { return connections_.load(); }

 private:
  struct Link;
  void pump(std::shared_ptr<Link> link, int from, int to);
  Fd listener_;
  std::uint16_t port_ = 0;
  std::uint16_t target_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<std::shared_ptr<Link>> links_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// A UDP socket connected to 127.0.0.1:port.
Fd udp_connect(std::uint16_t port);
// A port that was free a moment ago (for "nothing listens here" tests).
std::uint16_t unused_tcp_port();

// Deterministic pseudo-random bytes and a fast 64-bit content hash for transfer checks.
std::string pattern_bytes(std::size_t n, std::uint64_t seed);
std::uint64_t fnv1a(const void* data, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ULL);

}  // namespace zlt::test
