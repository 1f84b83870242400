// The agent's end of one authenticated (or authenticating) control channel.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/session/rtt.hpp"
#include "core/session/session.hpp"

namespace zlt {

class TunnelAgent;
struct RegisteredService;

class AgentSession final : public Session {
 public:
  AgentSession(TunnelAgent& agent, Channel& channel);
  ~AgentSession() override;

  // Sends Auth (with the v2 trailer) and waits for the answer.
  void begin();
  bool authenticated() const { return authenticated_; }
  // Smoothed heartbeat round trip (v2 servers with CLIENT_HEARTBEAT); none before the first.
  std::optional<double> rtt_ms() const { return rtt_.ms(); }
  using EndpointFactory = std::function<std::unique_ptr<StreamEndpoint>(Stream&)>;
  // Opens a stream toward `target` on the server's side (Open; needs the OPEN feature). The
  // endpoint made for it starts moving bytes once the server acknowledges; `counters` (may be
  // null) is fed as the stream's service-level counters.
  Result<Stream*> open(const std::string& target, proto::ServiceProtocol protocol,
                       const EndpointFactory& make_endpoint, std::string label,
                       std::shared_ptr<Counters> counters);
  // Ends with Disconnect{reason} (v2) and a normal close.
  void goodbye(const std::string& reason);
  // Register{service}; the reply is matched to the service as it is now (its generation).
  void register_service(RegisteredService& service);
  // Unregister{id}: the server closes the service's port and ends its streams.
  void unregister_service(const Uuid& service_id);

 protected:
  void handle_control(proto::Message& message) override;
  void on_session_closed(const Error& why) override;
  bool may_send_disconnect() const override { return is_v2(); }

 private:
  void on_auth_ok(const proto::AuthOk& ok);
  void on_register_reply(const proto::Message& reply);
  void on_connect(const proto::Connect& connect);
  void liveness_tick();

  TunnelAgent& agent_;
  bool authenticated_ = false;
  bool fatal_ = false;
  bool auth_failed_ = false;
  std::string close_reason_;
  struct AwaitedReply {
    std::string name;
    std::uint64_t generation = 0;  // a reply for an older generation is stale
  };
  std::deque<AwaitedReply> awaiting_replies_;  // in Register order
  Timer auth_timer_;
  Timer liveness_timer_;
  Timer heartbeat_timer_;
  RttEstimator rtt_;
};

}  // namespace zlt
