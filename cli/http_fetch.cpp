#include "cli/http_fetch.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zlt::cli {
namespace {

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Error io_error(const std::string& what) {
  return make_error(Errc::connection, what + ": " + std::strerror(errno));
}

}  // namespace

Result<FetchResult> http_get(const std::string& host, std::uint16_t port, const std::string& path,
                             std::chrono::milliseconds timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return make_error(Errc::invalid_argument, "not an IPv4 address: " + host);
  Socket sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return io_error("socket");
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const std::string where = host + ":" + std::to_string(port);
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return io_error("connect to " + where);

  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + where +
                              "\r\nUser-Agent: zlt-quickstart\r\nConnection: close\r\n\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(sock.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("send to " + where);
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buffer[16384];
  for (;;) {
    ssize_t n = ::recv(sock.get(), buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return make_error(Errc::timeout, "no complete answer from " + where + " within " +
                                             std::to_string(timeout.count()) + "ms");
      return io_error("receive from " + where);
    }
    if (n == 0) break;
    response.append(buffer, static_cast<std::size_t>(n));
  }
  const std::size_t line_end = response.find("\r\n");
  const std::size_t head_end = response.find("\r\n\r\n");
  if (line_end == std::string::npos || head_end == std::string::npos)
    return make_error(Errc::protocol, "no HTTP response from " + where + " (" +
                                          std::to_string(response.size()) + " bytes)");
  FetchResult result;
  result.status_line = response.substr(0, line_end);
  result.bytes = response.size();
  result.body_bytes = response.size() - head_end - 4;
  return result;
}

}  // namespace zlt::cli
