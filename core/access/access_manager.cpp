#include "core/access/access_manager.hpp"

#include <algorithm>

#include "core/access/access_target.hpp"
#include "core/common/rfc3339.hpp"
#include "core/crypto/crypto.hpp"
#include "core/runtime/log.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "access";
constexpr const char* kExpiredReason = "access expired";

Error ttl_error() {
  return make_error(Errc::invalid_argument, "ttl must be > 0");
}

// "server disconnected: fatal: token expired" -> "fatal: token expired".
std::string fatal_part(const std::string& reason) {
  const std::size_t at = reason.find("fatal:");
  return at == std::string::npos ? reason : reason.substr(at);
}

}  // namespace

struct AccessManager::Entry {
  Uuid id;
  std::string target;
  proto::ServiceProtocol protocol = proto::ServiceProtocol::tcp;
  WallClock::time_point created_at;
  std::optional<WallClock::time_point> expires_at;
  std::optional<Clock::time_point> deadline;
  std::shared_ptr<Counters> counters = std::make_shared<Counters>();
  std::unique_ptr<LocalForwarder> forwarder;
  Timer expiry;
};

nlohmann::json AccessSessionInfo::to_json() const {
  nlohmann::json j = {{"id", id.to_string()},
                      {"target", target},
                      {"local_addr", local_addr.to_string()},
                      {"local_port", local_addr.port()},
                      {"protocol", proto::service_protocol_name(protocol)},
                      {"created_at", format_rfc3339(created_at)},
                      {"bytes_in", traffic.bytes_in},
                      {"bytes_out", traffic.bytes_out},
                      {"connections_active", traffic.streams_active},
                      {"connections_total", traffic.streams_total}};
  j["expires_at"] = expires_at ? nlohmann::json(format_rfc3339(*expires_at)) : nlohmann::json();
  j["remaining_ms"] = remaining ? nlohmann::json(remaining->count()) : nlohmann::json();
  if (protocol == proto::ServiceProtocol::udp) {
    j["datagrams_in"] = traffic.datagrams_in;
    j["datagrams_out"] = traffic.datagrams_out;
    j["drops"] = traffic.drops;
  }
  return j;
}

AccessManager::AccessManager(Runtime& runtime, config::AccessConfig access)
    : runtime_(runtime), access_(std::move(access)) {}

// The agent's events reach the manager's observer as they are; a fatal disconnect then ends
// every session.
class AccessManager::AgentEvents final : public TunnelAgentObserver {
 public:
  explicit AgentEvents(AccessManager& manager) : manager_(manager) {}
  void on_state(const AgentStateChanged& e) override { manager_.observer().on_state(e); }
  void on_authenticated(const AgentAuthenticated& e) override {
    manager_.observer().on_authenticated(e);
  }
  void on_auth_failed(const std::string& reason) override {
    manager_.observer().on_auth_failed(reason);
  }
  void on_disconnected(const AgentDisconnected& e) override {
    manager_.observer().on_disconnected(e);
    if (e.fatal.value_or(false)) manager_.on_fatal(fatal_part(e.reason));
  }
  void on_service_registered(const AgentServiceRegistered& e) override {
    manager_.observer().on_service_registered(e);
  }
  void on_service_failed(const AgentServiceFailed& e) override {
    manager_.observer().on_service_failed(e);
  }
  void on_incoming_connection(const IncomingConnection& e) override {
    manager_.observer().on_incoming_connection(e);
  }

 private:
  AccessManager& manager_;
};

Result<std::unique_ptr<AccessManager>> AccessManager::create(Runtime& runtime,
                                                             config::TunnelClientConfig client,
                                                             config::AccessConfig access) {
  if (!client.services.empty())
    return make_error(Errc::config,
                      "services: must be empty (access opens streams, it exposes nothing)");
  if (access.default_ttl && access.default_ttl->count() <= 0)
    return make_error(Errc::config, "default_ttl: must be > 0");
  if (auto addr = resolve_listen_address(access.local_bind, 0); !addr)
    return make_error(Errc::config, "local_bind: " + addr.error().message);
  auto agent = TunnelAgent::create(runtime, std::move(client));
  if (!agent) return agent.take_error();
  std::unique_ptr<AccessManager> self(new AccessManager(runtime, std::move(access)));
  self->agent_ = std::move(*agent);
  AccessManager* raw = self.get();
  self->agent_events_ = std::make_unique<AgentEvents>(*raw);
  self->agent_->set_observer(self->agent_events_.get());
  // Registered after the agent, so the runtime shuts this down first: sessions close before
  // the connection they use.
  runtime.add_participant(raw);
  self->registered_participant_ = true;
  return self;
}

AccessManager::~AccessManager() {
  // No events from a destructor: the host's observer may already be half torn down.
  observer_ = nullptr;
  shutdown();
  if (registered_participant_) runtime_.remove_participant(this);
}

void AccessManager::start() {
  if (closed_ || fatal_reason_) return;
  agent_->start();
}

Result<AccessManager::SessionInfo> AccessManager::start_session(const std::string& target,
                                                                std::uint16_t local_port,
                                                                std::optional<config::Duration> ttl,
                                                                proto::ServiceProtocol protocol) {
  if (fatal_reason_)
    return make_error(Errc::shutdown, "access ended by the server: " + *fatal_reason_);
  if (closed_) return make_error(Errc::shutdown, "access manager is shut down");
  if (auto st = validate_access_target(target); !st) return st.take_error();
  if (!ttl) ttl = access_.default_ttl;
  if (ttl && ttl->count() <= 0) return ttl_error();
  auto local = resolve_listen_address(access_.local_bind, local_port);
  if (!local) return local.take_error();

  auto e = std::make_unique<Entry>();
  e->id = crypto::uuid_v4();
  e->target = target;
  e->protocol = protocol;
  TunnelAgent* agent = agent_.get();
  auto forwarder = LocalForwarder::bind(
      runtime_.loop(), protocol, *local, target, [agent] { return agent->session(); }, e->counters);
  if (!forwarder) return forwarder.take_error();
  e->forwarder = std::move(*forwarder);
  e->created_at = WallClock::now();
  if (ttl) {
    e->deadline = Clock::now() + *ttl;
    e->expires_at = e->created_at + *ttl;
    e->expiry.attach(runtime_.loop());
    // The loop's clock lags while a turn runs; refreshed, the timer cannot fire before the
    // deadline the session reports.
    uv_update_time(runtime_.loop());
    const Uuid id = e->id;
    e->expiry.start(*ttl, [this, id] { remove(id, kExpiredReason, AccessSessionEnd::expired); });
  }
  SessionInfo info = snapshot(*e);
  sessions_.push_back(std::move(e));
  start();
  ZLT_LOG(info, kLog).field("session", info.id.to_string()).field("target", target)
      << "access to " << target << " via " << info.local_addr.to_string() << " ("
      << proto::service_protocol_name(protocol) << ", "
      << (ttl ? "expires in " + config::format_duration(*ttl) : std::string("no expiry")) << ")";
  observer().on_session_started({info});
  return info;
}

std::optional<AccessManager::SessionInfo> AccessManager::stop_session(const Uuid& id) {
  return remove(id, "access stopped", AccessSessionEnd::stopped);
}

std::optional<AccessManager::SessionInfo> AccessManager::get_session(const Uuid& id) const {
  for (const auto& e : sessions_)
    if (e->id == id) return snapshot(*e);
  return std::nullopt;
}

nlohmann::json AccessManager::list_sessions() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : sessions_) list.push_back(snapshot(*e).to_json());
  return list;
}

std::size_t AccessManager::cleanup_expired() {
  const auto now = Clock::now();
  std::vector<Uuid> due;
  for (const auto& e : sessions_)
    if (e->deadline && now >= *e->deadline) due.push_back(e->id);
  for (const auto& id : due) remove(id, kExpiredReason, AccessSessionEnd::expired);
  return due.size();
}

Status AccessManager::probe(const std::string& target, proto::ServiceProtocol protocol,
                            ProbeDone done) {
  if (auto st = validate_access_target(target); !st) return st;
  AgentSession* session = agent_->session();
  if (session == nullptr) return make_error(Errc::connection, "not connected to the server");
  return probe_target(*session, target, protocol,
                      [probes = probes_, target, done = std::move(done)](const ProbeResult& r) {
                        (*probes)[target] = r;
                        if (done) done(r);
                      });
}

void AccessManager::shutdown() {
  if (closed_) return;
  closed_ = true;
  close_all("access closed", AccessSessionEnd::stopped);
  if (agent_) agent_->stop();
}

nlohmann::json AccessManager::status() const {
  nlohmann::json j = agent_->status();
  j.erase("services");
  j["sessions"] = list_sessions();
  j["fatal_reason"] = fatal_reason_ ? nlohmann::json(*fatal_reason_) : nlohmann::json();
  return j;
}

void AccessManager::on_fatal(const std::string& reason) {
  if (fatal_reason_) return;
  fatal_reason_ = reason;
  ZLT_LOG(error, kLog).field("server", agent_->config().server_url)
      << "the server ended access (" << reason << "): closing " << sessions_.size()
      << " session(s)";
  close_all(reason, AccessSessionEnd::stopped);
  observer().on_access_ended({reason});
}

void AccessManager::close_all(const std::string& reason, AccessSessionEnd how) {
  std::vector<Uuid> ids;
  ids.reserve(sessions_.size());
  for (const auto& e : sessions_) ids.push_back(e->id);
  for (const auto& id : ids) remove(id, reason, how);
}

std::optional<AccessManager::SessionInfo> AccessManager::remove(const Uuid& id,
                                                                const std::string& reason,
                                                                AccessSessionEnd how) {
  auto it = find(id);
  if (it == sessions_.end()) return std::nullopt;
  std::unique_ptr<Entry> e = std::move(*it);
  sessions_.erase(it);
  e->forwarder->close_connections(reason);
  SessionInfo info = snapshot(*e);
  // Destroying the forwarder closes the listening socket now, so its port is free once the
  // event below is seen.
  e.reset();
  ZLT_LOG(info, kLog).field("session", id.to_string()).field("target", info.target)
      << "access to " << info.target << " via " << info.local_addr.to_string()
      << " closed: " << reason << " (" << info.traffic.bytes_in << " bytes in, "
      << info.traffic.bytes_out << " bytes out, " << info.traffic.streams_total << " connections)";
  observer().on_session_ended({how, reason, info});
  return info;
}

AccessManager::SessionInfo AccessManager::snapshot(const Entry& e) const {
  SessionInfo info;
  info.id = e.id;
  info.target = e.target;
  info.local_addr = e.forwarder->address();
  info.protocol = e.protocol;
  info.created_at = e.created_at;
  info.expires_at = e.expires_at;
  if (e.deadline) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*e.deadline - Clock::now());
    info.remaining = std::max(left, std::chrono::milliseconds(0));
  }
  info.traffic = *e.counters;
  return info;
}

std::vector<std::unique_ptr<AccessManager::Entry>>::iterator AccessManager::find(const Uuid& id) {
  return std::find_if(sessions_.begin(), sessions_.end(),
                      [&id](const auto& e) { return e->id == id; });
}

AccessObserver& AccessManager::observer() {
  static AccessObserver none;
  return observer_ != nullptr ? *observer_ : none;
}

}  // namespace zlt
