// A local listener whose connections (TCP) or peers (UDP) are carried to a target on the
// server's side — "host:port" or "service:NAME" — by streams the client opens (Open). On-demand
// access sessions and node tunnels stand on it.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/common/error.hpp"
#include "core/protocol/message.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/session/counters.hpp"
#include "core/session/udp_demux.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {

class AgentSession;

class LocalForwarder {
 public:
  // The session to open streams through right now (null while disconnected: connections are
  // then refused at once).
  using SessionSource = std::function<AgentSession*()>;

  // Binds `local` (port 0: the kernel chooses). Errors carry the OS reason.
  static Result<std::unique_ptr<LocalForwarder>> bind(uv_loop_t* loop,
                                                      proto::ServiceProtocol protocol,
                                                      const SockAddr& local, std::string target,
                                                      SessionSource source,
                                                      std::shared_ptr<Counters> counters);
  // Stops listening and closes every connection it carries.
  ~LocalForwarder();
  LocalForwarder(const LocalForwarder&) = delete;
  LocalForwarder& operator=(const LocalForwarder&) = delete;

  const SockAddr& address() const { return address_; }
  const std::string& target() const { return target_; }
  proto::ServiceProtocol protocol() const { return protocol_; }
  const std::shared_ptr<Counters>& counters() const { return counters_; }
  // Closes the connections carried so far (their streams get Close{reason}); keeps listening.
  void close_connections(const std::string& reason);

 private:
  LocalForwarder() = default;
  static void on_connection(uv_stream_t* server, int status);
  Stream* open_stream(const SockAddr& peer, const std::function<std::unique_ptr<StreamEndpoint>(Stream&)>& make);

  uv_loop_t* loop_ = nullptr;
  proto::ServiceProtocol protocol_ = proto::ServiceProtocol::tcp;
  SockAddr address_;
  std::string target_;
  SessionSource source_;
  std::shared_ptr<Counters> counters_;
  UvHandle<uv_tcp_t> listener_;
  std::unique_ptr<UdpDemux> udp_;
  // Streams opened so far, with the session they belong to (pruned as they end).
  std::vector<std::pair<AgentSession*, Uuid>> streams_;
};

}  // namespace zlt
