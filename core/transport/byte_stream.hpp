// A connected TCP socket carrying plain bytes or TLS, for a client protocol on top (the
// WebSocket client): the read side puts plaintext straight into the owner's buffer, the write
// side tries the socket first (uv_try_write) and queues only the rest, handing libuv many
// buffers per uv_write. A stream can start plain and switch to TLS later (after an HTTP
// proxy's CONNECT). TLS is a pure byte transformer (tls_client.hpp); the socket stays here.
//
// Every event returns whether the owner is still going: false means it finished (and may have
// destroyed this ByteStream), and the stream returns at once without touching itself. Write
// calls never call back into the owner.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/common/chunk.hpp"
#include "core/common/error.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/runtime/uv_req.hpp"
#include "core/transport/tls_client.hpp"

namespace zlt {

class ByteStreamEvents {
 public:
  virtual ~ByteStreamEvents() = default;
  // Where the next plaintext goes. Empty: no room now (reading waits for resume()).
  virtual std::span<std::uint8_t> read_space() = 0;
  // n bytes were appended to the last read_space().
  virtual bool on_stream_data(std::size_t n) = 0;
  // The TLS handshake completed.
  virtual bool on_stream_secure() = 0;
  // A write completed (status 0) or failed (a libuv error).
  virtual bool on_stream_written(int status) = 0;
  // The socket failed or the peer closed it (uv_code: UV_EOF for an orderly end).
  virtual bool on_stream_read_error(int uv_code) = 0;
  // TLS failed while reading (the handshake or a record); messages start "TLS: ".
  virtual bool on_stream_error(Error why) = 0;
};

class ByteStream {
 public:
  // The read buffer for ciphertext; plaintext goes to the owner's buffer.
  static constexpr std::size_t kCipherBufferSize = 256 * 1024;

  ByteStream(UvHandle<uv_tcp_t> socket, ByteStreamEvents* events);
  ~ByteStream();
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  // From now on every byte in either direction is TLS. `early`: bytes already read that
  // belong to the handshake. Returns false if the owner finished meanwhile.
  bool start_tls(std::unique_ptr<TlsClient> tls, std::span<const std::uint8_t> early);
  bool secure() const { return tls_ != nullptr; }
  const TlsClient* tls() const { return tls_.get(); }

  // Reading on or off (off: the kernel's buffer fills and the peer is pushed back).
  void set_reading(bool on);
  // Delivers plaintext that TLS holds already (after the owner resumed reading); a plain
  // stream holds none. Returns false if the owner finished meanwhile.
  bool pump();

  // Queue bytes for the peer (encrypted if TLS). Never calls the owner: errors of the
  // encryption or of handing a write to libuv are returned; the socket's come later, as
  // on_stream_written(status).
  Status write(ChunkPtr bytes);
  Status write(std::string_view bytes);
  // TLS: queues a close_notify.
  void shutdown_tls();

  // Real bytes held for the peer: the footprints of the chunks queued and in flight.
  std::size_t queued_bytes() const { return wire_bytes_ + inflight_bytes_; }
  bool idle() const { return !write_.in_flight() && wire_.empty(); }

 private:
  struct WriteChunks {
    std::vector<ChunkPtr> chunks;
    std::vector<uv_buf_t> bufs;
  };

  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_written(uv_write_t* req, int status);

  bool drive_tls();
  void flush_tls_output();
  void push(std::span<ChunkPtr> chunks);
  void submit_writes();

  UvHandle<uv_tcp_t> socket_;
  ByteStreamEvents* events_;
  bool reading_ = false;
  bool handshaking_ = false;
  std::unique_ptr<TlsClient> tls_;
  std::unique_ptr<std::uint8_t[]> cipher_in_;
  std::deque<ChunkPtr> wire_;  // bytes for the socket behind the write in flight
  std::size_t wire_bytes_ = 0;
  std::size_t inflight_bytes_ = 0;  // chunks owned by the write in flight
  int write_error_ = 0;             // uv_write refused a batch: every later write() fails with it
  UvReq<uv_write_t, ByteStream, WriteChunks> write_;
};

}  // namespace zlt
