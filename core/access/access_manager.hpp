// AccessManager: on-demand access. Each session is a local listener (TCP) or socket (UDP) whose
// connections reach one target on the server's side — "service:NAME" or "host:port" — through
// a single shared, reconnecting control connection. The original's surface
// with its bugs fixed: a TTL is a timer that closes the listener and every live connection when
// it fires, counters move while bytes move, removal really removes, and TTL 0 is refused.
// Loop-thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/access/access_probe.hpp"
#include "core/access/local_forwarder.hpp"
#include "core/agent/agent.hpp"
#include "core/common/uuid.hpp"
#include "core/config/config.hpp"
#include "core/runtime/runtime.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/session/counters.hpp"
#include "core/transport/sockaddr.hpp"
#include "zlt/access_events.hpp"

namespace zlt {

// A snapshot of one access session.
struct AccessSessionInfo {
  using WallClock = std::chrono::system_clock;
  Uuid id;
  std::string target;
  SockAddr local_addr;
  proto::ServiceProtocol protocol = proto::ServiceProtocol::tcp;
  WallClock::time_point created_at;
  std::optional<WallClock::time_point> expires_at;     // none: never expires
  std::optional<std::chrono::milliseconds> remaining;  // none: never expires
  Counters traffic;

  // {"id", "target", "local_addr", "protocol", "created_at", "expires_at" (RFC 3339 or null),
  //  "remaining_ms" (or null), "bytes_in", "bytes_out", "connections_active",
  //  "connections_total"}.
  nlohmann::json to_json() const;
};

class AccessManager final : public Runtime::Participant {
 public:
  using Clock = std::chrono::steady_clock;
  using WallClock = std::chrono::system_clock;
  using SessionInfo = AccessSessionInfo;

  // `client` names the server, token and TLS options; it must list no services (access opens
  // streams, it exposes nothing). Errors are Errc::config. Loop-thread only.
  static Result<std::unique_ptr<AccessManager>> create(Runtime& runtime,
                                                       config::TunnelClientConfig client,
                                                       config::AccessConfig access = {});
  ~AccessManager() override;
  AccessManager(const AccessManager&) = delete;
  AccessManager& operator=(const AccessManager&) = delete;

  // Where the manager's events go (include/zlt/access_events.hpp), on the loop thread; not
  // owned, and it must outlive the manager (null: nowhere).
  void set_observer(AccessObserver* observer) { observer_ = observer; }
  // Starts the control connection (start_session does too). Idempotent.
  void start();

  // Binds access.local_bind:local_port (0: the kernel chooses) and carries what arrives there
  // to `target`. `ttl` defaults to access.default_ttl; with neither the session never expires.
  // Errors: Errc::invalid_argument ("ttl must be > 0", "invalid target ..."), Errc::connection
  // (the port cannot be bound), Errc::shutdown (after a fatal disconnect or shutdown()).
  Result<SessionInfo> start_session(const std::string& target, std::uint16_t local_port = 0,
                                    std::optional<config::Duration> ttl = std::nullopt,
                                    proto::ServiceProtocol protocol = proto::ServiceProtocol::tcp);
  // Closes the session's listener and its connections; the final snapshot, or none if unknown.
  std::optional<SessionInfo> stop_session(const Uuid& id);
  std::optional<SessionInfo> get_session(const Uuid& id) const;
  // Every session as SessionInfo::to_json, oldest first.
  nlohmann::json list_sessions() const;
  std::size_t session_count() const { return sessions_.size(); }
  // Removes sessions past their expiry and returns how many. Expiry timers already do this, so
  // it normally finds none; kept for the original's API.
  std::size_t cleanup_expired();
  // Whether the server can be reached through `target` right now: one stream opened and closed
  // at once (see access_probe.hpp). Errc::connection while not connected.
  Status probe(const std::string& target, proto::ServiceProtocol protocol, ProbeDone done);

  // Closes every session, says goodbye to the server and stops reconnecting. Also the runtime's
  // teardown (Runtime::Participant).
  void shutdown() override;

  const std::optional<config::Duration>& default_ttl() const { return access_.default_ttl; }
  const config::AccessConfig& access_config() const { return access_; }
  // Why the server ended access for good ("fatal: token expired"), once it has.
  const std::optional<std::string>& fatal_reason() const { return fatal_reason_; }
  TunnelAgent& agent() { return *agent_; }
  // The agent's status plus "sessions" (list_sessions()).
  nlohmann::json status() const;
  // The Prometheus text: the zlt_access_* and zlt_agent_* families, then zlt_build_info and
  // the process metrics (access_metrics.cpp).
  std::string metrics() const;
  // Ready: connected, a listener bound, and every TCP session's target probed and reached.
  Readiness readiness() const;

 private:
  struct Entry;
  class AgentEvents;
  AccessManager(Runtime& runtime, config::AccessConfig access);

  void on_fatal(const std::string& reason);
  // Closes the session's connections with `reason`, removes it and reports how it ended; the
  // final snapshot.
  std::optional<SessionInfo> remove(const Uuid& id, const std::string& reason,
                                    AccessSessionEnd how);
  void close_all(const std::string& reason, AccessSessionEnd how);
  SessionInfo snapshot(const Entry& e) const;
  std::vector<std::unique_ptr<Entry>>::iterator find(const Uuid& id);
  AccessObserver& observer();

  Runtime& runtime_;
  config::AccessConfig access_;
  std::unique_ptr<AgentEvents> agent_events_;  // outlives the agent it observes
  std::unique_ptr<TunnelAgent> agent_;
  std::vector<std::unique_ptr<Entry>> sessions_;  // creation order
  AccessObserver* observer_ = nullptr;
  std::optional<std::string> fatal_reason_;
  // The last probe of each target (probe()); shared with probes still in flight.
  std::shared_ptr<std::map<std::string, ProbeResult>> probes_ =
      std::make_shared<std::map<std::string, ProbeResult>>();
  bool closed_ = false;
  bool registered_participant_ = false;
};

}  // namespace zlt
