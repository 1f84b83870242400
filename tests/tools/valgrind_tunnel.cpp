// A whole tunnel in one process for a leak check: a runtime, a server, an agent and a local echo
// service on loopback. It moves a number of bytes (default 1 MiB) through the public port and
// back, stops everything in order and returns 0 if every byte came back unchanged.
// scripts/valgrind-check runs it under valgrind and requires that every heap block was freed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/agent/agent.hpp"
#include "core/config/config.hpp"
#include "core/crypto/crypto.hpp"
#include "core/runtime/runtime.hpp"
#include "core/server/tunnel_server.hpp"

namespace {

using namespace std::chrono_literals;
using namespace zlt;

constexpr const char* kToken = "valgrind-token";

int fail(const std::string& why) {
  std::fprintf(stderr, "valgrind_tunnel: %s\n", why.c_str());
  return 1;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

void set_timeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// One connection's echo service: echoes until EOF, then half-closes.
class Echo {
 public:
  Echo() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 4);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Echo() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }

 private:
  void serve() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 120000) <= 0) return;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    set_timeout(c, 120);
    std::unique_ptr<char[]> buf(new char[65536]);
    for (;;) {
      ssize_t r = ::recv(c, buf.get(), 65536, 0);
      if (r <= 0 || !send_all(c, buf.get(), static_cast<std::size_t>(r))) break;
    }
    ::shutdown(c, SHUT_WR);
    ::close(c);
  }
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// The public port the agent's service was given, once it has one.
class PublicPortWatch final : public TunnelAgentObserver {
 public:
  void on_service_registered(const AgentServiceRegistered& e) override {
    if (!e.public_port) return;
    std::lock_guard lock(mu_);
    port_ = *e.public_port;
    cv_.notify_all();
  }
  std::optional<std::uint16_t> wait(std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return port_.has_value(); });
    return port_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::uint16_t> port_;
};

char pattern(std::size_t i) {
  return static_cast<char>((i * 131 + (i >> 9)) & 0xff);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t total = argc > 1 ? std::stoul(argv[1]) : std::size_t{1} << 20;
  ::signal(SIGPIPE, SIG_IGN);
  Echo echo;

  auto rt = Runtime::start("valgrind-tunnel");
  if (!rt) return fail(rt.error().message);
  Runtime& runtime = **rt;

  PublicPortWatch watch;  // outlives the agent that reports to it
  std::unique_ptr<TunnelServer> server;
  std::unique_ptr<TunnelAgent> agent;
  std::string setup_error;

  runtime.invoke([&] {
    config::TunnelServerConfig sc;
    sc.listen = "127.0.0.1:0";
    sc.public_bind = "127.0.0.1";
    sc.data_port_range = {0, 0};
    config::TokenEntry token;
    token.name = "valgrind";
    token.sha256 = crypto::hash_token(kToken);
    sc.tokens.push_back(token);
    sc.heartbeat_interval = 2s;
    sc.heartbeat_timeout = 30s;
    auto s = TunnelServer::create(runtime, sc);
    if (!s) {
      setup_error = "server: " + s.error().message;
      return;
    }
    server = std::move(*s);
    auto addr = server->listen();
    if (!addr) {
      setup_error = "listen: " + addr.error().message;
      return;
    }
    config::TunnelClientConfig cc("ws://127.0.0.1:" + std::to_string(addr->port()) + "/tunnel/v1",
                                  kToken);
    cc.services.push_back(config::ServiceConfig::tcp("echo", echo.port()));
    cc.reconnect_interval = 200ms;
    cc.max_reconnect_interval = 2s;
    cc.heartbeat_interval = 2s;
    cc.heartbeat_timeout = 30s;
    cc.connect_timeout = 30s;
    auto a = TunnelAgent::create(runtime, cc);
    if (!a) {
      setup_error = "agent: " + a.error().message;
      return;
    }
    agent = std::move(*a);
    agent->set_observer(&watch);
    agent->start();
  });
  if (!setup_error.empty()) return fail(setup_error);

  const std::optional<std::uint16_t> public_port = watch.wait(60s);
  if (!public_port) return fail("the service was not registered within 60 s");

  // Through the tunnel and back: a writer thread sends, this thread reads until EOF.
  int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(*public_port);
  if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return fail("connect failed");
  set_timeout(c, 120);
  std::thread writer([&] {
    std::unique_ptr<char[]> block(new char[65536]);
    for (std::size_t sent = 0; sent < total;) {
      const std::size_t n = std::min<std::size_t>(65536, total - sent);
      for (std::size_t i = 0; i < n; ++i) block[i] = pattern(sent + i);
      if (!send_all(c, block.get(), n)) break;
      sent += n;
    }
    ::shutdown(c, SHUT_WR);
  });
  std::size_t received = 0;
  bool intact = true;
  {
    std::unique_ptr<char[]> buf(new char[65536]);
    for (;;) {
      ssize_t r = ::recv(c, buf.get(), 65536, 0);
      if (r <= 0) break;
      for (ssize_t i = 0; i < r; ++i)
        if (buf[static_cast<std::size_t>(i)] != pattern(received + static_cast<std::size_t>(i)))
          intact = false;
      received += static_cast<std::size_t>(r);
    }
  }
  writer.join();
  ::close(c);

  // An orderly end: the agent says goodbye, the server sees the tunnel go, then stops.
  runtime.invoke([&] { agent->stop(); });
  bool tunnel_gone = false;
  for (int i = 0; i < 600 && !tunnel_gone; ++i) {
    runtime.invoke([&] { tunnel_gone = server->registry().tunnel_count() == 0; });
    if (!tunnel_gone) std::this_thread::sleep_for(50ms);
  }
  runtime.invoke([&] {
    server->stop();
    agent.reset();
    server.reset();
  });
  rt->reset();

  std::printf("valgrind_tunnel: %zu of %zu bytes echoed%s\n", received, total,
              intact ? "" : " (corrupted)");
  if (received != total || !intact) return fail("the echo differs from what was sent");
  if (!tunnel_gone) return fail("the server did not see the agent leave");
  return 0;
}
