// The server's own hold on every accepted connection: libwebsockets serves one end of a
// socketpair, and the guard relays bytes between it and the peer's socket, doing TLS itself.
// On the way in it checks every WebSocket frame with the project's parser before
// libwebsockets sees it, because libwebsockets 4.1.6 accepts unmasked client frames
// (RFC 6455 §5.1 says the server MUST fail the connection) and drops a 2^63-byte length
// without a close frame. A violating frame never reaches libwebsockets: the guard stops
// forwarding at its first byte and reports it, and the owner fails the WebSocket with the
// violation's close code.
//
// Plain HTTP requests (the admin API, /healthz) pass through unchecked; only a connection
// whose first request is an upgrade to the control path carries frames.
#pragma once

#include <openssl/ssl.h>
#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/common/error.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/transport/tls_client.hpp"
#include "core/transport/ws_codec.hpp"

namespace zlt {

class WsGuard {
 public:
  class Events {
   public:
    virtual ~Events() = default;
    // A client frame broke the rules; nothing from its first byte on was passed on. The peer's
    // further bytes are read and dropped.
    virtual void on_guard_violation(WsGuard& guard, const ws::Violation& violation) = 0;
    // Both sides are closed. The owner destroys the guard; it may do so inside this call.
    virtual void on_guard_closed(WsGuard& guard) = 0;
  };

  struct Options {
    std::string control_path = "/tunnel/v1";
    SSL_CTX* tls = nullptr;  // the server context when the listener is wss
    std::uint64_t max_message_size = 65536;
  };

  // Takes over `peer_fd` (a connected TCP socket, closed on failure). lws_fd() is then the
  // descriptor for libwebsockets to adopt; it owns and closes that one.
  static Result<std::unique_ptr<WsGuard>> create(uv_loop_t* loop, int peer_fd, Options options,
                                                 Events* events);
  ~WsGuard();
  WsGuard(const WsGuard&) = delete;
  WsGuard& operator=(const WsGuard&) = delete;

  int lws_fd() const { return lws_fd_; }
  const std::string& peer() const { return peer_; }
  // The first request was an upgrade to the control path: frames follow it.
  bool carries_frames() const { return mode_ == Mode::frames; }

  // How long the peer gets to take the last bytes after libwebsockets has closed.
  static constexpr std::chrono::milliseconds kLinger{5000};

 private:
  enum class Mode { head, frames, http };
  enum class Side { peer, lws };
  struct WriteReq;

  WsGuard(uv_loop_t* loop, Options options, Events* events);
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_peer_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_lws_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_written(uv_write_t* req, int status);

  // Each returns false when the guard has finished (and may be gone).
  bool from_peer(std::span<const std::uint8_t> bytes);
  bool plain_from_peer(std::span<const std::uint8_t> bytes);
  bool from_lws(std::span<const std::uint8_t> bytes);
  bool flush_tls();
  bool peer_ended();
  bool lws_ended();
  void peer_failed();
  void send(Side side, std::span<const std::uint8_t> bytes);
  void send_owned(Side side, std::unique_ptr<std::uint8_t[]> data, std::size_t len);
  void shutdown_peer();
  void update_reading();
  void finish();

  uv_stream_t* stream(Side side) const {
    return side == Side::peer ? peer_tcp_.stream() : lws_pipe_.stream();
  }
  std::size_t queued(Side side) const;

  uv_loop_t* loop_;
  Options options_;
  Events* events_;
  std::string peer_;
  int lws_fd_ = -1;
  UvHandle<uv_tcp_t> peer_tcp_;
  UvHandle<uv_pipe_t> lws_pipe_;
  std::unique_ptr<TlsClient> tls_;
  bool tls_ready_ = false;
  Mode mode_ = Mode::head;
  std::string head_;
  ws::Codec codec_;  // the rules over the client's frames
  bool dropping_ = false;     // after a violation: the peer's bytes go nowhere
  bool peer_open_ = true;     // the peer may still send
  bool lws_open_ = true;      // libwebsockets may still send
  bool peer_writable_ = true;
  bool peer_reading_ = false;
  bool lws_reading_ = false;
  bool finished_ = false;
  Timer linger_;
  std::unique_ptr<std::uint8_t[]> read_buf_;
  std::unique_ptr<std::uint8_t[]> plain_buf_;
};

}  // namespace zlt
