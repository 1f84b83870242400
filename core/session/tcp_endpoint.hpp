// A stream's TCP socket: reads go straight into chunks that already reserve the message and
// frame headers; writes try the socket first and queue only the rest, packed densely (what a
// queued byte costs is about a byte); reading pauses while the stream has no window or the
// channel is congested.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/runtime/uv_handle.hpp"
#include "core/runtime/uv_req.hpp"
#include "core/session/stream.hpp"
#include "core/transport/dialer.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {

class TcpEndpoint final : public StreamEndpoint {
 public:
  // Wraps a connected socket (an accepted public connection). Reading starts on on_open().
  TcpEndpoint(Stream& stream, UvHandle<uv_tcp_t> socket);
  // Dials host:port (an IP literal or a name, resolved asynchronously) for an acceptor stream:
  // success -> Stream::accept(), failure -> Stream::refuse("connection refused" / "timeout" /
  // "host not found: ..."). The endpoint is installed on the stream before returning. Every
  // address, resolved or literal, passes `check` before it is connected to; refused ones are
  // skipped, and if none is left the stream is refused with the first refusal. A `header`
  // is written once, on connect and before the stream is accepted, so it precedes every byte
  // of the stream; it is not stream data (no window is consumed for it).
  static TcpEndpoint& dial(Stream& stream, const std::string& host, std::uint16_t port,
                           std::chrono::milliseconds timeout, AddressCheck check = {},
                           DialHeader header = {});
  ~TcpEndpoint() override;

  void on_open() override;
  void deliver(std::span<const std::uint8_t> bytes) override;
  void deliver_eof() override;
  void on_writable() override;
  void close(bool abortive) override;
  std::size_t buffered() const override;
  std::size_t held_bytes() const override;
  // Keeps `token` until the connection closes (something counted per connection).
  void hold_while_open(std::shared_ptr<void> token) { held_ = std::move(token); }

 private:
  explicit TcpEndpoint(Stream& stream);
  struct Writer;

  void start_reading();
  void stop_reading();
  void shutdown_write();
  void dial_failed(std::string reason);
  bool write_preamble(std::string bytes);
  void abandon_dial();
  void abandon_writer();
  static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_written(uv_write_t* req, int status);

  Stream& stream_;
  UvHandle<uv_tcp_t> socket_;
  ChunkPtr read_chunk_;
  bool reading_ = false;
  bool read_eof_ = false;
  bool closed_ = false;
  bool eof_pending_ = false;  // peer sent Eof; shut down once the queue is flushed
  bool shutdown_started_ = false;
  std::unique_ptr<Writer> writer_;  // bytes the socket has not taken yet; created on demand
  std::unique_ptr<Dialer> dialer_;  // only for a dialed endpoint
  Timer dial_deadline_;
  std::shared_ptr<void> held_;
  // The preamble's write, in flight until libuv has taken all of it (it owns the bytes).
  UvReq<uv_write_t, TcpEndpoint, std::string> preamble_write_;
};

}  // namespace zlt
