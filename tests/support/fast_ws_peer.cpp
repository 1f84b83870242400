#include "support/fast_ws_peer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/crypto/crypto.hpp"
#include "core/transport/ws_codec.hpp"

namespace zlt::test {
namespace {

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

// One accepted connection, plain or TLS, with blocking all-or-nothing I/O. TLS reads go
// through a memory BIO filled by large recv() calls and writes through a large buffer: one
// system call per TLS record would make this peer, not the client, the bottleneck.
class Conn {
 public:
  Conn(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {
    if (!ssl_) return;
    raw_.resize(1 << 20);
    rbio_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(rbio_, -1);
    BIO* sock = BIO_new_socket(fd_, BIO_NOCLOSE);
    BIO* buffered = BIO_new(BIO_f_buffer());
    BIO_set_write_buffer_size(buffered, 1 << 20);
    BIO_push(buffered, sock);
    SSL_set_bio(ssl_.get(), rbio_, buffered);
  }
  ~Conn() { ::close(fd_); }

  bool handshake() {
    if (!ssl_) return true;
    for (;;) {
      int rc = SSL_accept(ssl_.get());
      if (rc == 1) return true;
      if (SSL_get_error(ssl_.get(), rc) != SSL_ERROR_WANT_READ || !fill()) return false;
    }
  }
  long read_some(void* buf, std::size_t len) {
    if (!ssl_) return ::recv(fd_, buf, len, 0);
    for (;;) {
      std::size_t n = 0;
      if (SSL_read_ex(ssl_.get(), buf, len, &n) == 1) return static_cast<long>(n);
      if (SSL_get_error(ssl_.get(), 0) != SSL_ERROR_WANT_READ || !fill()) return -1;
    }
  }
  bool write_all(const void* data, std::size_t len) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    while (len > 0) {
      long n;
      if (ssl_) {
        std::size_t w = 0;
        n = SSL_write_ex(ssl_.get(), p, len, &w) == 1 ? static_cast<long>(w) : -1;
        if (n > 0 && BIO_flush(SSL_get_wbio(ssl_.get())) != 1) n = -1;
      } else {
        n = ::send(fd_, p, len, MSG_NOSIGNAL);
      }
      if (n <= 0) return false;
      p += n;
      len -= static_cast<std::size_t>(n);
    }
    return true;
  }

 private:
  bool fill() {
    long n = ::recv(fd_, raw_.data(), raw_.size(), 0);
    if (n <= 0) return false;
    return BIO_write(rbio_, raw_.data(), static_cast<int>(n)) == n;
  }

  int fd_;
  std::unique_ptr<SSL, SslFree> ssl_;
  BIO* rbio_ = nullptr;  // owned by ssl_
  std::vector<std::uint8_t> raw_;
};

}  // namespace

FastWsPeer::FastWsPeer(Mode mode, std::uint64_t messages, std::size_t size, const CertFiles* tls)
    : mode_(mode), messages_(messages), size_(size), tls_(tls) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 4) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    error_ = "cannot listen";
    return;
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

FastWsPeer::~FastWsPeer() {
  join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::string FastWsPeer::join() {
  if (thread_.joinable()) thread_.join();
  return error_;
}

void FastWsPeer::run() {
  int fd = ::accept(listen_fd_, nullptr, nullptr);
  if (fd < 0) {
    error_ = "accept failed";
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::unique_ptr<SSL_CTX, SslFree> ctx;
  SSL* ssl = nullptr;
  if (tls_ != nullptr) {
    ctx.reset(SSL_CTX_new(TLS_server_method()));
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls_->cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), tls_->key.c_str(), SSL_FILETYPE_PEM) != 1) {
      error_ = "cannot load the server certificate";
      ::close(fd);
      return;
    }
    ssl = SSL_new(ctx.get());
  }
  Conn conn(fd, ssl);
  if (!conn.handshake()) {
    error_ = "TLS accept failed";
    return;
  }

  // The upgrade request, then the answer.
  std::string request;
  char buf[4096];
  while (request.find("\r\n\r\n") == std::string::npos) {
    long n = conn.read_some(buf, sizeof buf);
    if (n <= 0) {
      error_ = "connection closed during the upgrade";
      return;
    }
    request.append(buf, static_cast<std::size_t>(n));
  }
  const std::string marker = "Sec-WebSocket-Key: ";
  std::size_t k = request.find(marker);
  if (k == std::string::npos) {
    error_ = "no Sec-WebSocket-Key";
    return;
  }
  std::string key = request.substr(k + marker.size(), request.find("\r\n", k) - k - marker.size());
  std::string response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      crypto::websocket_accept(key) + "\r\n\r\n";
  conn.write_all(response.data(), response.size());

  std::vector<std::uint8_t> io(1 << 20);
  if (mode_ == Mode::sink) {
    // Every client frame of `size_` bytes is masked: header + 4-byte key + payload.
    const std::uint64_t expected = messages_ * (ws::header_size(size_, true) + size_);
    std::uint64_t got = 0;
    while (got < expected) {
      long n = conn.read_some(io.data(), io.size());
      if (n <= 0) {
        error_ = "sink: connection ended early";
        return;
      }
      got += static_cast<std::uint64_t>(n);
    }
    const std::uint8_t done[] = {0x82, 0x04, 'd', 'o', 'n', 'e'};
    conn.write_all(done, sizeof done);
  } else {
    // A batch of ready-made unmasked frames, written over and over.
    const std::size_t frame = ws::header_size(size_, false) + size_;
    const std::uint64_t per_batch = std::max<std::uint64_t>(1, (1 << 20) / frame);
    std::vector<std::uint8_t> batch(per_batch * frame);
    for (std::uint64_t i = 0; i < per_batch; ++i) {
      std::uint8_t* f = batch.data() + i * frame;
      std::size_t h = ws::encode_header(f, true, ws::Opcode::binary, size_);
      for (std::size_t j = 0; j < size_; ++j) f[h + j] = static_cast<std::uint8_t>(j * 13 + i);
    }
    std::uint64_t left = messages_;
    while (left > 0) {
      std::uint64_t n = std::min(left, per_batch);
      if (!conn.write_all(batch.data(), n * frame)) {
        error_ = "source: connection ended early";
        return;
      }
      left -= n;
    }
  }
  while (conn.read_some(io.data(), io.size()) > 0) {
  }
}

}  // namespace zlt::test
