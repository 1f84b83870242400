#include "core/agent/agent.hpp"

#include "core/agent/agent_session.hpp"
#include "core/common/rfc3339.hpp"
#include "core/crypto/crypto.hpp"
#include "core/runtime/log.hpp"
#include "core/transport/url.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "agent";

std::string_view service_status_name(RegisteredService::Status s) {
  switch (s) {
    case RegisteredService::Status::pending:
      return "pending";
    case RegisteredService::Status::registered:
      return "registered";
    case RegisteredService::Status::failed:
      return "failed";
  }
  return "?";
}

}  // namespace

std::string_view agent_state_name(AgentState s) {
  switch (s) {
    case AgentState::disconnected:
      return "disconnected";
    case AgentState::connecting:
      return "connecting";
    case AgentState::connected:
      return "connected";
    case AgentState::reconnecting:
      return "reconnecting";
  }
  return "?";
}

nlohmann::json RegisteredService::to_json() const {
  nlohmann::json j = {{"name", config.name},
                      {"protocol", proto::service_protocol_name(config.protocol)},
                      {"local_port", config.local_port},
                      {"remote_port", config.remote_port},
                      {"internal", config.internal},
                      {"status", service_status_name(status)},
                      {"traffic", counters->to_json()}};
  j["service_id"] = service_id ? nlohmann::json(service_id->to_string()) : nlohmann::json(nullptr);
  j["public_port"] = public_port ? nlohmann::json(*public_port) : nlohmann::json(nullptr);
  if (status == Status::failed) j["reason"] = failure;
  return j;
}

TunnelAgent::TunnelAgent(Runtime& runtime, config::TunnelClientConfig config)
    : runtime_(runtime),
      config_(std::move(config)),
      client_id_(crypto::uuid_v4()),
      jitter_(crypto::random_u64()),
      dropped_clients_(runtime.loop()) {
  for (const auto& s : config_.services) {
    RegisteredService r;
    r.config = s;
    services_.push_back(std::move(r));
  }
  backoff_ = config_.reconnect_interval;
}

Result<std::unique_ptr<TunnelAgent>> TunnelAgent::create(Runtime& runtime,
                                                         config::TunnelClientConfig config) {
  if (auto st = config.validate(); !st) return make_error(Errc::config, st.error().message);
  if (auto url = parse_url(config.server_url); !url) return url.take_error();
  std::unique_ptr<TunnelAgent> agent(new TunnelAgent(runtime, std::move(config)));
  agent->reconnect_timer_.attach(runtime.loop());
  runtime.add_participant(agent.get());
  agent->registered_participant_ = true;
  return agent;
}

TunnelAgent::~TunnelAgent() {
  shutdown();
  if (registered_participant_) runtime_.remove_participant(this);
}

void TunnelAgent::shutdown() {
  running_ = false;
  reconnect_timer_.stop();
  drop_connection();
  tunnel_id_.reset();
  state_ = AgentState::disconnected;
}

void TunnelAgent::drop_connection() {
  session_.reset();
  if (!client_) return;
  client_->set_events(nullptr);
  dropped_clients_.later(std::move(client_));
}

AgentSession* TunnelAgent::session() {
  return session_ && session_->authenticated() ? session_.get() : nullptr;
}

const RegisteredService* TunnelAgent::service(const std::string& name) const {
  for (const auto& s : services_)
    if (s.config.name == name) return &s;
  return nullptr;
}

RegisteredService* TunnelAgent::service_by_name(const std::string& name) {
  for (auto& s : services_)
    if (s.config.name == name) return &s;
  return nullptr;
}

RegisteredService* TunnelAgent::service_by_id(const Uuid& id) {
  for (auto& s : services_)
    if (s.service_id == id) return &s;
  return nullptr;
}

void TunnelAgent::set_state(AgentState s) {
  if (state_ == s && s != AgentState::reconnecting) return;
  state_ = s;
  AgentStateChanged ev{s, std::nullopt, std::nullopt};
  if (s == AgentState::reconnecting) ev.attempt = attempt_;
  if (s == AgentState::connected) ev.tunnel_id = tunnel_id_;
  ZLT_LOG(info, kLog).field("server", config_.server_url)
      << "state: " << agent_state_name(s)
      << (s == AgentState::reconnecting ? " (attempt " + std::to_string(attempt_) + ")" : "");
  observer().on_state(ev);
}

WsClientOptions TunnelAgent::client_options() const {
  WsClientOptions o;
  o.url = config_.server_url;
  o.ca_file = config_.ca_file;
  o.insecure = config_.insecure;
  o.connect_timeout = config_.connect_timeout;
  if (config_.proxy) {
    o.proxy = config_.proxy;
  } else if (auto url = parse_url(config_.server_url)) {
    o.proxy = proxy_from_env(*url);
  }
  return o;
}

void TunnelAgent::start() {
  if (running_) return;
  // A goodbye from an earlier stop() may still be under way: that connection is abandoned
  // (closed at once) rather than left to finish under a new one.
  drop_connection();
  running_ = true;
  attempt_ = 0;
  backoff_ = config_.reconnect_interval;
  connect();
}

void TunnelAgent::connect() {
  if (!running_) return;
  drop_connection();
  ++attempt_;
  set_state(attempt_ == 1 ? AgentState::connecting : AgentState::reconnecting);
  client_ = std::make_unique<WsClient>(runtime_.loop(), client_options(), this);
  client_->start();
}

void TunnelAgent::on_channel_open() {
  session_started_ = std::chrono::steady_clock::now();
  session_ = std::make_unique<AgentSession>(*this, *client_);
  session_->begin();
}

void TunnelAgent::on_channel_closed(const Error& why) {
  // Only reached when the connection failed before the upgrade (afterwards the session owns
  // the channel's events).
  last_error_ = why.message;
  ZLT_LOG(warn, kLog).field("server", config_.server_url) << "cannot connect: " << why.message;
  drop_connection();
  observer().on_disconnected({why.message, std::nullopt});
  if (client_) return;  // the host restarted the agent from inside the event
  schedule_reconnect(false);
}

void TunnelAgent::authenticated(const Uuid& tunnel_id, bool v2, std::uint32_t features) {
  tunnel_id_ = tunnel_id;
  connected_at_ = std::chrono::system_clock::now();
  for (auto& s : services_) {
    s.status = RegisteredService::Status::pending;
    s.service_id.reset();
    s.public_port.reset();
    s.register_deferred = false;
  }
  ZLT_LOG(info, kLog).field("tunnel", tunnel_id.to_string())
      << "authenticated: tunnel " << tunnel_id.to_string() << " (protocol v" << (v2 ? 2 : 1)
      << ", features 0x" << std::hex << features << std::dec << ")";
  observer().on_authenticated({tunnel_id, v2 ? 2 : 1, features});
  set_state(AgentState::connected);
}

bool TunnelAgent::accept_connection(const Uuid& service_id, const Uuid& connection_id,
                                    const std::string& client_addr) {
  observer().on_incoming_connection({service_id, connection_id, client_addr});
  return !on_connection_ || on_connection_(service_id, connection_id, client_addr);
}

void TunnelAgent::session_closed(const Error& why, bool fatal, bool auth_failed) {
  const bool was_up = tunnel_id_.has_value();
  const auto lasted = std::chrono::steady_clock::now() - session_started_;
  last_error_ = why.message;
  drop_connection();
  tunnel_id_.reset();
  connected_at_.reset();
  for (auto& s : services_) {
    s.status = RegisteredService::Status::pending;
    s.service_id.reset();
    s.public_port.reset();
    s.register_deferred = false;
  }
  if (auth_failed) {
    observer().on_auth_failed(why.message);
  }
  // "fatal" tells hosts the agent will not come back (the server said "fatal: ...").
  if (was_up) ++reconnects_;
  observer().on_disconnected({why.message, fatal});
  if (client_) return;  // the host restarted the agent from inside the event
  if (fatal) {
    ZLT_LOG(error, kLog).field("server", config_.server_url) << "not reconnecting: " << why.message;
    running_ = false;
    set_state(AgentState::disconnected);
    return;
  }
  if (was_up && lasted >= kStableSession) {
    backoff_ = config_.reconnect_interval;
    attempt_ = 0;
  }
  schedule_reconnect(auth_failed);
}

void TunnelAgent::schedule_reconnect(bool after_auth_failure) {
  if (!running_) {
    set_state(AgentState::disconnected);
    return;
  }
  // An authentication failure is unlikely to fix itself soon: wait the longest.
  std::chrono::milliseconds base = after_auth_failure ? config_.max_reconnect_interval : backoff_;
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  auto delay = std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(base.count()) * jitter(jitter_)));
  backoff_ = std::min(backoff_ * 2, config_.max_reconnect_interval);
  if (state_ != AgentState::reconnecting) {
    state_ = AgentState::reconnecting;
    observer().on_state({AgentState::reconnecting, attempt_ + 1, std::nullopt});
  }
  ZLT_LOG(info, kLog).field("server", config_.server_url)
      << "reconnecting in " << config::format_duration(delay);
  retry_at_ = std::chrono::steady_clock::now() + delay;
  reconnect_timer_.start(delay, [this] { connect(); });
}

void TunnelAgent::stop() {
  if (!running_ && !client_) return;
  running_ = false;
  reconnect_timer_.stop();
  if (session_ && session_->alive()) {
    session_->goodbye("agent stopping");  // session_closed follows once the close completes
  } else {
    drop_connection();
  }
  tunnel_id_.reset();
  set_state(AgentState::disconnected);
}

nlohmann::json TunnelAgent::status() const {
  nlohmann::json services = nlohmann::json::array();
  for (const auto& s : services_) services.push_back(s.to_json());
  nlohmann::json j = {{"state", agent_state_name(state_)},   {"server_url", config_.server_url},
                      {"client_id", client_id_.to_string()}, {"attempt", attempt_},
                      {"reconnects", reconnects_},           {"services", services}};
  j["tunnel_id"] = tunnel_id_ ? nlohmann::json(tunnel_id_->to_string()) : nlohmann::json(nullptr);
  j["connected_at"] =
      connected_at_ ? nlohmann::json(format_rfc3339(*connected_at_)) : nlohmann::json(nullptr);
  j["last_error"] = last_error_.empty() ? nlohmann::json(nullptr) : nlohmann::json(last_error_);
  if (session_ && session_->authenticated()) {
    j["version"] = session_->is_v2() ? 2 : 1;
    j["features"] = session_->features();
    j["streams"] = session_->stream_count();
    j["traffic"] = session_->counters()->to_json();
    j["rtt_ms"] =
        session_->rtt_ms() ? nlohmann::json(*session_->rtt_ms()) : nlohmann::json(nullptr);
  }
  if (session_) j["queue"] = session_->queue_status();
  return j;
}

}  // namespace zlt
