#include "core/transport/http_connection.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace zlt {
namespace {

Error io_error(const std::string& what) {
  return make_error(Errc::connection, what + ": " + std::strerror(errno));
}

bool timed_out() {
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS;
}

void set_timeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  // Also bounds connect() on Linux.
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

struct AddrInfoFree {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

}  // namespace

Result<std::unique_ptr<HttpConnection>> HttpConnection::open(const Url& url, const TlsChoice& tls,
                                                             std::chrono::milliseconds timeout) {
  std::unique_ptr<HttpConnection> self(new HttpConnection());
  self->where_ = url.host_port();
  self->timeout_ = timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(url.port);
  if (int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return make_error(Errc::connection,
                      "cannot resolve " + url.host + ": " + std::string(gai_strerror(rc)));
  std::unique_ptr<addrinfo, AddrInfoFree> addresses(found);
  std::string last_error = "no address";
  for (addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    set_timeouts(fd, timeout);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      self->fd_ = fd;
      break;
    }
    last_error = timed_out() ? "timed out" : std::strerror(errno);
    ::close(fd);
  }
  if (self->fd_ < 0)
    return make_error(Errc::connection, "cannot connect to " + self->where_ + ": " + last_error);
  if (url.tls()) {
    auto client = TlsClient::create(tls_options_for(url, tls.ca_file, tls.insecure));
    if (!client) return client.take_error();
    self->tls_ = std::move(*client);
    if (auto st = self->handshake(); !st) return st.take_error();
  }
  return self;
}

HttpConnection::~HttpConnection() {
  if (fd_ >= 0) ::close(fd_);
}

Status HttpConnection::send_raw(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && timed_out())
      return make_error(Errc::timeout, "sending to " + where_ + " timed out");
    if (n < 0) return io_error("send to " + where_);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<std::size_t> HttpConnection::recv_raw(std::span<std::uint8_t> out) {
  for (;;) {
    ssize_t n = ::recv(fd_, out.data(), out.size(), 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (timed_out())
      return make_error(Errc::timeout, "no answer from " + where_ + " within " +
                                           std::to_string(timeout_.count()) + "ms");
    return io_error("receive from " + where_);
  }
}

Status HttpConnection::flush_tls() {
  std::vector<std::uint8_t> buffer(16384);
  while (tls_->pending_output() > 0) {
    const std::size_t n = tls_->take_output(buffer);
    ZLT_TRY(send_raw(std::string_view(reinterpret_cast<const char*>(buffer.data()), n)));
  }
  return {};
}

Status HttpConnection::handshake() {
  std::vector<std::uint8_t> buffer(16384);
  for (;;) {
    auto done = tls_->handshake();
    if (!done) return done.take_error();
    ZLT_TRY(flush_tls());
    if (*done) return {};
    auto n = recv_raw(buffer);
    if (!n) return n.take_error();
    if (*n == 0)
      return make_error(Errc::connection, where_ +
                                              " closed the connection during the TLS "
                                              "handshake (is it serving plain http?)");
    tls_->feed(std::span<const std::uint8_t>(buffer.data(), *n));
  }
}

Status HttpConnection::write_all(std::string_view bytes) {
  if (!tls_) return send_raw(bytes);
  ZLT_TRY(tls_->write(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size())));
  return flush_tls();
}

Result<std::size_t> HttpConnection::read(std::span<std::uint8_t> out) {
  if (!tls_) return recv_raw(out);
  std::vector<std::uint8_t> buffer(16384);
  for (;;) {
    auto got = tls_->read(out);
    if (!got) {
      // The peer's close_notify is the orderly end of the stream.
      if (got.error().message == "TLS: closed by peer") return std::size_t{0};
      return got.take_error();
    }
    if (*got > 0) return *got;
    ZLT_TRY(flush_tls());  // TLS 1.3 may answer post-handshake messages
    auto n = recv_raw(buffer);
    if (!n) return n.take_error();
    if (*n == 0) return std::size_t{0};
    tls_->feed(std::span<const std::uint8_t>(buffer.data(), *n));
  }
}

}  // namespace zlt
