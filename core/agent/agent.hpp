// TunnelAgent: the client side. Connects to a tunnel server, authenticates, registers its
// services, carries their connections to local sockets, and reconnects with backoff when the
// session dies (as the original did, with its bugs fixed). Loop-thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/observer_slot.hpp"
#include "core/config/config.hpp"
#include "core/runtime/deferred_delete.hpp"
#include "core/runtime/metrics_text.hpp"
#include "core/runtime/runtime.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/session/counters.hpp"
#include "core/transport/ws_client.hpp"
#include "zlt/events.hpp"

namespace zlt {

class AgentSession;
class Stream;
class StreamEndpoint;

enum class AgentState { disconnected, connecting, connected, reconnecting };
std::string_view agent_state_name(AgentState s);

struct RegisteredService {
  enum class Status { pending, registered, failed };
  config::ServiceConfig config;
  std::optional<Uuid> service_id;
  Status status = Status::pending;
  std::string failure;                       // Status::failed
  std::optional<std::uint16_t> public_port;  // v2 servers report it
  std::shared_ptr<Counters> counters = std::make_shared<Counters>();
  // Bumped by a reload that changes the service, so a reply to an older Register is known.
  std::uint64_t generation = 0;
  // Changed by a reload while its previous Register was unanswered: registers on that answer.
  bool register_deferred = false;

  bool is_registered() const { return status == Status::registered; }
  nlohmann::json to_json() const;
};

// What a reload did (TunnelAgent::reload): services by name, and the fields that wait.
struct AgentReload {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> changed;  // unregistered and registered again
  // Changed fields the next connection uses (server_url, token, TLS and proxy settings, ...):
  // the live WebSocket stays as it is.
  std::vector<std::string> next_connection;
  std::vector<std::string> needs_restart;  // metrics_listen, http_*: running values kept
  nlohmann::json to_json() const;
};

class TunnelAgent final : public WsClientEvents, public Runtime::Participant {
 public:
  // Decides whether to accept a connection (true) before the local service is dialed.
  using ConnectionCallback = std::function<bool(const Uuid& service_id, const Uuid& connection_id,
                                                const std::string& client_addr)>;
  // The features this agent asks for.
  static constexpr std::uint32_t kFeatures = proto::feature::kAll;
  // A session that stayed up this long resets the backoff.
  static constexpr std::chrono::seconds kStableSession{60};

  // Validates the configuration. Loop-thread only.
  static Result<std::unique_ptr<TunnelAgent>> create(Runtime& runtime,
                                                     config::TunnelClientConfig config);
  ~TunnelAgent() override;
  TunnelAgent(const TunnelAgent&) = delete;
  TunnelAgent& operator=(const TunnelAgent&) = delete;

  // The one observer of this agent's events (null: none), called on the loop thread. Not
  // owned: it outlives the agent or is unset first. Hosts wanting JSON pass a
  // JsonTunnelAgentObserver (zlt/event_json.hpp).
  void set_observer(TunnelAgentObserver* observer) { observers_.set(observer); }
  void set_connection_callback(ConnectionCallback cb) { on_connection_ = std::move(cb); }

  // Applies a new configuration without dropping the WebSocket: added services register,
  // removed ones unregister (their streams end), changed ones unregister and register again;
  // the others and their streams are untouched. Connection settings apply from the next
  // connection. An invalid configuration changes nothing (Errc::config, naming the field).
  Result<AgentReload> reload(config::TunnelClientConfig next);
  // Starts connecting; reconnects until stop(). Idempotent.
  void start();
  // Says goodbye to the server (Disconnect in v2), closes the session and stops reconnecting.
  void stop();
  bool running() const { return running_; }
  // Where the next connection attempt goes (routing between an overlay and a direct URL). A
  // live session is not touched.
  void set_server_url(std::string url) { config_.server_url = std::move(url); }

  AgentState state() const { return state_; }
  std::uint32_t attempt() const { return attempt_; }
  const std::optional<Uuid>& tunnel_id() const { return tunnel_id_; }
  const std::vector<RegisteredService>& services() const { return services_; }
  const RegisteredService* service(const std::string& name) const;
  const config::TunnelClientConfig& config() const { return config_; }
  const Uuid& client_id() const { return client_id_; }
  bool is_connected() const { return state_ == AgentState::connected; }
  // The live session, if authenticated.
  AgentSession* session();
  nlohmann::json status() const;
  // The Prometheus text of this agent: the zlt_agent_* families, then zlt_build_info and the
  // process metrics (agent_metrics.cpp).
  std::string metrics() const;
  // Only the zlt_agent_* families.
  void write_metrics(MetricsText& out) const;
  // Ready: connected and every configured service registered; otherwise what is missing.
  Readiness readiness() const;
  Runtime& runtime() { return runtime_; }

  // WsClientEvents (the connection phase)
  void on_channel_open() override;
  void on_channel_message(std::span<const std::uint8_t>) override {}
  void on_channel_drain() override {}
  void on_channel_closed(const Error& why) override;
  // Runtime::Participant
  void shutdown() override;

 private:
  friend class AgentSession;
  TunnelAgent(Runtime& runtime, config::TunnelClientConfig config);

  void connect();
  void schedule_reconnect(bool after_auth_failure);
  void set_state(AgentState s);
  TunnelAgentObserver& observer() { return observers_.get(); }
  WsClientOptions client_options() const;
  // Ends the session and lets go of the WebSocket client, which may be on the call stack (a
  // host's stop() from inside an event, a close the client reports): it hears nothing more
  // and is destroyed at the loop's next turn.
  void drop_connection();

  // ---- called by the session ----
  void authenticated(const Uuid& tunnel_id, bool v2, std::uint32_t features);
  void session_closed(const Error& why, bool fatal, bool auth_failed);
  RegisteredService* service_by_id(const Uuid& id);
  RegisteredService* service_by_name(const std::string& name);
  bool accept_connection(const Uuid& service_id, const Uuid& connection_id,
                         const std::string& client_addr);

  Runtime& runtime_;
  config::TunnelClientConfig config_;
  Uuid client_id_;  // one per agent: a reconnect takes over the old session at once
  std::vector<RegisteredService> services_;
  ObserverSlot<TunnelAgentObserver> observers_;
  ConnectionCallback on_connection_;

  std::unique_ptr<WsClient> client_;
  std::unique_ptr<AgentSession> session_;
  AgentState state_ = AgentState::disconnected;
  std::optional<Uuid> tunnel_id_;
  bool running_ = false;
  bool registered_participant_ = false;
  std::uint32_t attempt_ = 0;
  std::uint64_t reconnects_ = 0;
  std::uint64_t generations_ = 0;  // RegisteredService::generation
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point session_started_;
  std::optional<std::chrono::system_clock::time_point> connected_at_;
  std::string last_error_;
  Timer reconnect_timer_;
  std::chrono::steady_clock::time_point retry_at_;  // when the armed reconnect fires
  std::mt19937_64 jitter_;
  // Last: the clients it holds are destroyed before anything else of the agent.
  DeferredDelete dropped_clients_;
};

}  // namespace zlt
