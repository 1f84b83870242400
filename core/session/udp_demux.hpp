// One UDP socket shared by many peers, each carried by its own datagram stream. Serves both
// the server's public UDP services and the client's local UDP listeners (access, node
// tunnels): the first datagram from a new peer opens a stream; replies go back to that peer
// through the same socket.
#pragma once

#include <uv.h>

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/common/error.hpp"
#include "core/runtime/log_throttle.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/session/stream.hpp"
#include "core/session/udp_endpoint.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {

class UdpDemux {
 public:
  struct Hooks {
    // A datagram from a new peer: open its stream (nullptr: drop the datagram). The stream's
    // endpoint must come from make_endpoint(peer).
    std::function<Stream*(const SockAddr& peer)> open;
    // The stream of a known peer (nullptr if it ended).
    std::function<Stream*(const Uuid& id)> find;
    // A datagram was dropped here (oversized, or no stream could be opened).
    std::function<void()> dropped;
  };

  // Binds host:port (port 0: the kernel chooses). Errors carry the OS reason.
  static Result<std::unique_ptr<UdpDemux>> bind(uv_loop_t* loop, const SockAddr& address,
                                                Hooks hooks);
  // Ends every peer's stream (their endpoints would outlive the socket otherwise).
  ~UdpDemux();
  UdpDemux(const UdpDemux&) = delete;
  UdpDemux& operator=(const UdpDemux&) = delete;

  const SockAddr& address() const { return address_; }
  std::uint16_t port() const { return address_.port(); }
  std::size_t peer_count() const { return peers_.size(); }
  // At most `n` peers (flows) at once: a new peer beyond that ends the stream of the least
  // recently used one (Close{"udp flow evicted: ..."} to the far side).
  void set_max_flows(std::size_t n) { max_flows_ = n > 0 ? n : 1; }
  static constexpr std::size_t kDefaultMaxFlows = 1024;
  // Replaces the hooks (e.g. when the socket moves to another session). Known peers are
  // forgotten: their streams belonged to the previous owner.
  void set_hooks(Hooks hooks);
  // The endpoint for peer's stream `stream_id`: replies go to the peer from this socket.
  std::unique_ptr<StreamEndpoint> make_endpoint(const SockAddr& peer, const Uuid& stream_id);

 private:
  class PeerEndpoint;
  struct Flow {
    Uuid stream;
    std::list<std::string>::iterator in_lru;
  };
  UdpDemux() = default;
  static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf);
  static void on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                      unsigned flags);
  void send_to(const SockAddr& to, std::span<const std::uint8_t> bytes);
  void peer_gone(PeerEndpoint* endpoint, const SockAddr& peer, const Uuid& stream_id);
  // The peer's flow was just used (a datagram either way).
  void touch(const std::string& peer_key);
  void forget(std::map<std::string, Flow>::iterator it);
  void evict_least_recent();

  SockAddr address_;
  UvHandle<uv_udp_t> socket_;
  Hooks hooks_;
  ChunkPtr read_chunk_;
  DatagramSender sender_;
  std::map<std::string, Flow> peers_;  // printed peer address -> its stream
  std::list<std::string> lru_;         // peers, most recently used first
  std::size_t max_flows_ = kDefaultMaxFlows;
  LogThrottle eviction_log_;
  // Endpoints handed out and still open; told to forget this socket if it goes away first.
  std::vector<PeerEndpoint*> endpoints_;
};

}  // namespace zlt
