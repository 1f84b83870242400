// A minimal WebSocket server on its own thread with blocking sockets (plain or TLS through
// OpenSSL), cheap enough that a throughput measurement measures the client, not the peer.
// It answers one upgrade, then either swallows `messages` frames of `size` bytes and sends a
// 4-byte "done" message (sink), or sends that many frames (source); then it reads until the
// client goes away.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

#include "support/test_certs.hpp"

namespace zlt::test {

class FastWsPeer {
 public:
  enum class Mode { sink, source };

  FastWsPeer(Mode mode, std::uint64_t messages, std::size_t size, const CertFiles* tls = nullptr);
  ~FastWsPeer();
  FastWsPeer(const FastWsPeer&) = delete;
  FastWsPeer& operator=(const FastWsPeer&) = delete;

  int port() const { return port_; }
  // Waits for the peer thread; returns what went wrong, empty if nothing did.
  std::string join();

 private:
  void run();

  Mode mode_;
  std::uint64_t messages_;
  std::size_t size_;
  const CertFiles* tls_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::string error_;
  std::thread thread_;
};

}  // namespace zlt::test
