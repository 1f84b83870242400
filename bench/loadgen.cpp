// zlt-loadgen: the load side of `make bench`. Plain sockets, no tunnel code, so the same
// measurement runs against a tunnel's public port and against the service directly.
//
//   zlt-loadgen echo-server                     TCP + UDP echo on 127.0.0.1; prints the ports
//   zlt-loadgen latency PORT [COUNT]            fresh connection + 1-byte echo; p50/p99 in us
//   zlt-loadgen cps PORT [SECONDS]              short connections (connect, 1 byte, close) per s
//   zlt-loadgen udp PORT [SECONDS] [SIZE]       datagram echo rate (one in flight per peer)
//   zlt-loadgen hold PORT COUNT                 opens COUNT connections, echoes 1 byte on each,
//                                               prints "held", keeps them until stdin closes
//
// Results are printed as one JSON object per line.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  return a;
}

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto a = loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool echo_one_byte(int fd) {
  char c = 'x';
  if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) return false;
  return ::recv(fd, &c, 1, 0) == 1;
}

int bound_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

int echo_server() {
  int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = loopback(0);
  if (::bind(tcp, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(tcp, 4096) != 0)
    return 1;
  int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (::bind(udp, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 1;
  int big = 8 << 20;
  setsockopt(udp, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  std::printf("{\"tcp\": %d, \"udp\": %d}\n", bound_port(tcp), bound_port(udp));
  std::fflush(stdout);
  std::thread([udp] {
    std::vector<char> buf(70000);
    for (;;) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = ::recvfrom(udp, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from),
                             &len);
      if (n >= 0)
        ::sendto(udp, buf.data(), static_cast<std::size_t>(n), 0,
                 reinterpret_cast<sockaddr*>(&from), len);
    }
  }).detach();
  for (;;) {
    int fd = ::accept4(tcp, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::thread([fd] {
      int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      std::vector<char> buf(256 * 1024);
      for (;;) {
        ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        if (::send(fd, buf.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
      }
      ::close(fd);
    }).detach();
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

int latency(int port, int count) {
  std::vector<double> us;
  for (int i = 0; i < count; ++i) {
    auto t0 = Clock::now();
    int fd = connect_to(port);
    if (fd < 0 || !echo_one_byte(fd)) {
      if (fd >= 0) ::close(fd);
      std::printf("{\"error\": \"connection %d failed\"}\n", i);
      return 1;
    }
    auto t1 = Clock::now();
    ::close(fd);
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::printf("{\"count\": %d, \"p50_us\": %.1f, \"p99_us\": %.1f}\n", count, percentile(us, 0.5),
              percentile(us, 0.99));
  return 0;
}

int connections_per_second(int port, double seconds) {
  const int threads = 4;
  std::atomic<long> done{0};
  std::atomic<long> failed{0};
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      while (Clock::now() < deadline) {
        int fd = connect_to(port);
        if (fd < 0 || !echo_one_byte(fd)) {
          ++failed;
        } else {
          ++done;
        }
        if (fd >= 0) ::close(fd);
      }
    });
  for (auto& t : pool) t.join();
  std::printf("{\"per_second\": %.0f, \"failed\": %ld}\n", static_cast<double>(done) / seconds,
              failed.load());
  return 0;
}

int udp_rate(int port, double seconds, int size) {
  const int peers = 4;
  std::atomic<long> replies{0};
  std::atomic<long> lost{0};
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> pool;
  for (int p = 0; p < peers; ++p)
    pool.emplace_back([&] {
      int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      auto a = loopback(port);
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      std::vector<char> out(static_cast<std::size_t>(size), 'u');
      std::vector<char> in(70000);
      while (Clock::now() < deadline) {
        if (::send(fd, out.data(), out.size(), 0) < 0) continue;
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, 200) == 1 && ::recv(fd, in.data(), in.size(), 0) == size) {
          ++replies;
        } else {
          ++lost;
        }
      }
      ::close(fd);
    });
  for (auto& t : pool) t.join();
  std::printf("{\"datagrams_per_second\": %.0f, \"lost\": %ld, \"size\": %d}\n",
              static_cast<double>(replies) / seconds, lost.load(), size);
  return 0;
}

int hold(int port, int count) {
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    int fd = connect_to(port);
    if (fd < 0 || !echo_one_byte(fd)) {
      std::printf("{\"error\": \"connection %d failed\"}\n", i);
      std::fflush(stdout);
      return 1;
    }
    fds.push_back(fd);
  }
  std::printf("{\"held\": %d}\n", count);
  std::fflush(stdout);
  char c;
  while (::read(0, &c, 1) > 0) {
  }
  for (int fd : fds) ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: zlt-loadgen echo-server|latency|cps|udp|hold ...\n");
    return 2;
  }
  std::string mode = argv[1];
  auto arg = [&](int i, double fallback) { return argc > i ? std::atof(argv[i]) : fallback; };
  if (mode == "echo-server") return echo_server();
  if (argc < 3) return 2;
  int port = std::atoi(argv[2]);
  if (mode == "latency") return latency(port, static_cast<int>(arg(3, 2000)));
  if (mode == "cps") return connections_per_second(port, arg(3, 3));
  if (mode == "udp") return udp_rate(port, arg(3, 3), static_cast<int>(arg(4, 1400)));
  if (mode == "hold") return hold(port, static_cast<int>(arg(3, 1000)));
  std::fprintf(stderr, "zlt-loadgen: unknown mode %s\n", mode.c_str());
  return 2;
}
