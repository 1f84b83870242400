// Datagram endpoints. Where a stream's far end is one UDP service, the stream owns a UDP
// socket connected to it, so replies come back to that stream. (Sockets shared by many peers
// are in udp_demux.hpp.)
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/runtime/uv_handle.hpp"
#include "core/session/stream.hpp"
#include "core/transport/dialer.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {

// Sends one datagram at once if the socket takes it, else queues a copy (bounded; beyond the
// bound the datagram is dropped and false is returned). A `prefix` (a PROXY protocol header)
// goes in front of the bytes in the same datagram, gathered by the send, not copied.
class DatagramSender {
 public:
  static constexpr std::size_t kMaxQueuedBytes = 1u << 20;
  bool send(uv_udp_t* socket, const SockAddr* to, std::span<const std::uint8_t> bytes,
            std::string_view prefix = {});
  std::size_t queued() const { return *queued_; }

 private:
  struct Req;
  // Shared with queued requests, whose callbacks may run after the sender is gone.
  std::shared_ptr<std::size_t> queued_ = std::make_shared<std::size_t>(0);
};

// A stream's own UDP socket, connected to host:port.
class ConnectedUdpEndpoint final : public StreamEndpoint {
 public:
  // Creates the socket and connects it (host must be an IP literal or localhost, or a name
  // resolved asynchronously). Success -> Stream::accept(); failure -> Stream::refuse(reason).
  // The address connected to is the first that `check` permits (as for TcpEndpoint::dial).
  // With a `header`, every datagram toward host:port starts with what it returns for the
  // address connected to (a PROXY protocol v2 header: the same for each datagram of a stream,
  // since a stream is one peer).
  static ConnectedUdpEndpoint& dial(Stream& stream, const std::string& host, std::uint16_t port,
                                    AddressCheck check = {}, DialHeader header = {});
  ~ConnectedUdpEndpoint() override;

  void on_open() override;
  void deliver(std::span<const std::uint8_t>) override {}
  void deliver_datagram(std::span<const std::uint8_t> bytes) override;
  void deliver_eof() override {}
  void on_writable() override {}
  void close(bool abortive) override;

 private:
  explicit ConnectedUdpEndpoint(Stream& stream) : stream_(stream) {}
  void connect_to(const SockAddr& addr);
  static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf);
  static void on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                      unsigned flags);

  Stream& stream_;
  UvHandle<uv_udp_t> socket_;
  ChunkPtr read_chunk_;
  DatagramSender sender_;
  std::unique_ptr<Dialer> resolver_;  // resolves host; the socket is connected here
  DialHeader make_prefix_;
  std::string prefix_;
  bool closed_ = false;
};

}  // namespace zlt
