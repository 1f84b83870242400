#include "core/server/tunnel_server.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/common/chunk.hpp"
#include "core/common/json_dump.hpp"
#include "core/common/rfc3339.hpp"
#include "core/runtime/fd_limit.hpp"
#include "core/runtime/log.hpp"
#include "core/server/admin_api.hpp"
#include "core/transport/metrics_listener.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "server";

// Every connection costs a descriptor: the server takes all the process may have, and says so.
void log_fd_limit(const config::TunnelServerConfig& config) {
  const FdLimit& fds = raise_fd_limit();
  if (!fds.error.empty()) {
    ZLT_LOG(warn, kLog) << "cannot raise the file descriptor limit (" << fds.error
                        << "); the limit is " << fds.soft;
  } else if (fds.soft > fds.before) {
    ZLT_LOG(info, kLog) << "file descriptor limit raised from " << fds.before << " to " << fds.soft;
  } else {
    ZLT_LOG(info, kLog) << "file descriptor limit: " << fds.soft;
  }
  // Each tunnel connection takes one descriptor, each stream at least one more.
  if (fds.soft < config.max_connections)
    ZLT_LOG(warn, kLog) << "max_connections (" << config.max_connections
                        << ") is above the file descriptor limit (" << fds.soft
                        << "): connections will be refused for lack of descriptors first";
}

}  // namespace

TunnelServer::TunnelServer(Runtime& runtime, config::TunnelServerConfig config)
    : runtime_(runtime),
      config_(std::move(config)),
      tokens_(config_),
      registry_(config_.data_port_range, config_.max_services_per_tunnel),
      public_ports_(runtime.loop(), registry_, config_),
      grants_(config_.max_access_ttl),
      auth_failures_(AuthFailureThrottle::Options{.max_delay = config_.auth_failure_delay_max}) {}

Result<std::unique_ptr<TunnelServer>> TunnelServer::create(Runtime& runtime,
                                                           config::TunnelServerConfig config) {
  if (auto st = config.validate(); !st) return make_error(Errc::config, st.error().message);
  std::unique_ptr<TunnelServer> server(new TunnelServer(runtime, std::move(config)));
  WsServer::Options options;
  options.name = "tunnel-server";
  options.control_path = server->config_.control_path;
  options.tls_cert = server->config_.tls_cert;
  options.tls_key = server->config_.tls_key;
  options.handshake_timeout = server->config_.auth_timeout;
  options.limits = {server->config_.max_connections, server->config_.max_pending_handshakes,
                    server->config_.max_unauthenticated_per_source};
  auto ws = WsServer::create(runtime, options, server.get());
  if (!ws) return ws.take_error();
  server->ws_ = std::move(*ws);
  log_fd_limit(server->config_);
  if (server->config_.accept_any_token)
    ZLT_LOG(warn, kLog) << "accept_any_token is on: every non-empty token is accepted";
  else if (server->tokens_.empty())
    ZLT_LOG(warn, kLog) << "no tokens configured: every agent will be refused until a token "
                           "validator is set";
  if (server->config_.grants_file)
    if (auto st = server->grants_.load(*server->config_.grants_file); !st) return st.take_error();
  server->grant_timer_.attach(runtime.loop());
  server->drain_timer_.attach(runtime.loop());
  server->arm_grant_timer();
  server->start_cluster();
  runtime.add_participant(server.get());
  server->registered_participant_ = true;
  return server;
}

TunnelServer::~TunnelServer() {
  teardown();
  if (registered_participant_) runtime_.remove_participant(this);
}

void TunnelServer::teardown() {
  stopped_ = true;
  // Sessions first: their streams point into the public sockets.
  auto sessions = std::move(sessions_);
  sessions_.clear();
  by_tunnel_.clear();
  sessions.clear();
  public_ports_.clear();
  grant_timer_.stop();
  drain_timer_.stop();
  cluster_.reset();
  admin_http_.reset();
  ws_.reset();
  listening_.clear();
}

Result<SockAddr> TunnelServer::listen(std::optional<std::string_view> host,
                                      std::optional<std::uint16_t> port) {
  std::string configured_host;
  if (!host || !port) {
    auto configured = config::parse_host_port(config_.listen, "listen");
    if (!configured) return configured.take_error();
    configured_host = configured->host;
    if (!host) host = configured_host;
    if (!port) port = configured->port;
  }
  if (stopped_ || !ws_) return make_error(Errc::shutdown, "server stopped");
  if (config_.admin_listen && !admin_http_) {
    auto admin_addr = listen_address_of(*config_.admin_listen, "admin_listen");
    if (!admin_addr) return admin_addr.take_error();
    HttpServer::Limits limits = http_limits_from(config_.http_limits);
    auto admin = HttpServer::listen(
        runtime_.loop(), "admin listener", *admin_addr, limits,
        [this](const HttpRequest& request) { return handle_admin_request(*this, request); });
    if (!admin) return admin.take_error();
    admin_http_ = std::move(*admin);
    ZLT_LOG(info, kLog) << "admin API on http://" << admin_http_->address().to_string()
                        << "/admin/v1/ (not on the control listener)";
  }
  auto addr = ws_->listen(*host, *port);
  if (!addr) return addr.take_error();
  listening_.push_back(*addr);
  ZLT_LOG(info, kLog) << "listening on " << (ws_->tls() ? "wss://" : "ws://") << addr->to_string()
                      << config_.control_path;
  return addr;
}

Status TunnelServer::accept(int fd) {
  if (stopped_ || !ws_) {
    ::close(fd);  // the fd is ours on every path, as on the success path
    return make_error(Errc::shutdown, "server stopped");
  }
  return ws_->adopt(fd);
}

void TunnelServer::drain(std::chrono::milliseconds grace, std::function<void()> on_stopped) {
  if (stopped_) {
    if (on_stopped) on_stopped();
    return;
  }
  if (on_stopped) on_drained_ = std::move(on_stopped);
  const std::uint64_t now = uv_now(runtime_.loop());
  const std::uint64_t deadline = now + static_cast<std::uint64_t>(std::max<std::int64_t>(
                                           0, static_cast<std::int64_t>(grace.count())));
  if (draining_) {
    drain_deadline_ms_ = std::min(drain_deadline_ms_, deadline);
    check_drained();
    return;
  }
  draining_ = true;
  drain_deadline_ms_ = deadline;
  ZLT_LOG(info, kLog).field("event", "draining")
      << "draining: no new sessions or connections; " << active_streams()
      << " open stream(s) have up to " << config::format_duration(grace) << " to finish";
  if (ws_) ws_->stop_accepting();
  public_ports_.stop_accepting();
  listening_.clear();
  // Streams end on their own schedule, in every session: a short poll sees the last one go
  // without a hook in each of them.
  drain_timer_.start(
      std::chrono::milliseconds(0), [this] { check_drained(); }, std::chrono::milliseconds(50));
}

void TunnelServer::check_drained() {
  const std::size_t open = active_streams();
  const bool timed_out = uv_now(runtime_.loop()) >= drain_deadline_ms_;
  if (open > 0 && !timed_out) return;
  drain_timer_.stop();
  if (open > 0)
    ZLT_LOG(info, kLog) << "drain: grace period over; ending " << open << " open stream(s)";
  else
    ZLT_LOG(info, kLog) << "drain: every stream has finished";
  stop();
}

std::size_t TunnelServer::active_streams() const {
  std::size_t n = 0;
  for (const auto& [raw, s] : sessions_) n += s->stream_count();
  return n;
}

void TunnelServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  drain_timer_.stop();
  ZLT_LOG(info, kLog) << "stopping: " << sessions_.size() << " session(s)";
  std::vector<ServerSession*> open;
  for (auto& [raw, s] : sessions_) open.push_back(raw);
  for (auto* s : open)
    if (sessions_.contains(s)) s->end("server shutting down", close_code::kGoingAway, true);
  if (ws_) ws_->close_all();
  admin_http_.reset();
  public_ports_.clear();
  listening_.clear();
  if (cluster_) cluster_->stop();
  // Whoever waits for a drain learns that the server has stopped, whichever way it did.
  if (auto done = std::exchange(on_drained_, nullptr)) done();
}

void TunnelServer::on_ws_open(Channel& channel) {
  if (stopped_) {
    channel.close(close_code::kGoingAway, "server shutting down");
    return;
  }
  auto session = std::make_unique<ServerSession>(*this, channel);
  ServerSession* raw = session.get();
  sessions_[raw] = std::move(session);
}

HttpResponse TunnelServer::on_http(const HttpRequest& request) {
  // With a separate admin listener the control listener serves no admin API: 404 for all.
  if (config_.admin_listen) return HttpResponse{};
  return handle_admin_request(*this, request);
}

Result<TokenGrant> TunnelServer::validate_token(std::string_view token,
                                                const std::string& token_hash) {
  // Grants first: they are the server's own tokens, whatever decides about the others.
  auto admitted = grants_.admit(token_hash);
  if (!admitted) return admitted.take_error();
  if (const AccessGrant* g = *admitted) {
    TokenGrant grant;
    grant.name = g->name;
    grant.allow = g->targets;
    grant.services = std::vector<std::string>{};  // a grant opens its targets, nothing more
    grant.expires_at = g->expires_at;
    return grant;
  }
  if (validator_) return validator_(token, token_hash);
  return tokens_.check(token, token_hash);
}

Result<IssuedGrant> TunnelServer::grant_access(const GrantRequest& request) {
  if (stopped_) return make_error(Errc::shutdown, "server stopped");
  // A grant this member alone knew would not open anything through the others.
  if (cluster_ && !cluster_->available())
    return make_error(Errc::connection, "cluster store unavailable");
  auto issued = grants_.issue(request);
  if (!issued) return issued;
  if (cluster_) {
    const AccessGrant& g = issued->grant;
    grant_generation_[g.id] = cluster_->learn_generation();
    const auto ttl = std::chrono::ceil<std::chrono::milliseconds>(g.expires_at - grants_.now());
    cluster_->put_grant(g.id.to_string(), dump_json(g.to_record()), ttl);
  }
  save_grants();
  arm_grant_timer();
  observer().on_grant(GrantChange::issued, issued->grant);
  return issued;
}

Status TunnelServer::revoke_access(const Uuid& grant_id) {
  auto revoked = drop_grant(grant_id);
  if (!revoked) return make_error(Errc::not_found, "no such grant");
  // Even while the store is unreachable: the removal waits for it and is never lost.
  if (cluster_) cluster_->remove_grant(grant_id.to_string());
  return {};
}

std::optional<AccessGrant> TunnelServer::drop_grant(const Uuid& id) {
  auto revoked = grants_.revoke(id);
  if (!revoked) return std::nullopt;
  grant_generation_.erase(id);
  ZLT_LOG(info, kLog) << "grant " << revoked->name << " revoked";
  save_grants();
  arm_grant_timer();
  observer().on_grant(GrantChange::revoked, *revoked);
  disconnect_token(revoked->token_hash, "fatal: token revoked");
  return revoked;
}

nlohmann::json TunnelServer::list_grants() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& g : grants_.list()) out.push_back(g.to_json());
  return out;
}

void TunnelServer::disconnect_token(const std::string& token_hash, const std::string& reason) {
  Tunnel* t = registry_.get_tunnel_by_token(token_hash);
  if (t == nullptr) return;
  if (ServerSession* s = session_for_tunnel(t->id))
    s->end(reason, close_code::kPolicyViolation, true);  // its streams, spliced halves too
}

void TunnelServer::arm_grant_timer() {
  auto delay = grants_.timer_delay();
  if (!delay) {
    grant_timer_.stop();
    return;
  }
  // A timer, not a lazy check: the session ends at expiry even if it never sends again. The
  // delay is capped, so each firing re-reads the wall clock and a clock step is noticed.
  grant_timer_.start(*delay, [this] { expire_grants(); });
}

void TunnelServer::expire_grants() {
  auto expired = grants_.take_expired(grants_.now());
  for (const auto& g : expired) {
    grant_generation_.erase(g.id);
    ZLT_LOG(info, kLog) << "grant " << g.name << " expired";
    observer().on_grant(GrantChange::expired, g);
    disconnect_token(g.token_hash, "fatal: token expired");
  }
  if (!expired.empty()) save_grants();
  arm_grant_timer();
}

void TunnelServer::save_grants() {
  if (!config_.grants_file) return;
  if (auto st = grants_.save(*config_.grants_file); !st)
    ZLT_LOG(error, kLog) << "cannot save grants: " << st.error().message;
}

ServerSession* TunnelServer::session_for_tunnel(const Uuid& tunnel_id) const {
  auto it = by_tunnel_.find(tunnel_id);
  return it == by_tunnel_.end() ? nullptr : it->second;
}

bool TunnelServer::tunnel_live(const Uuid& tunnel_id) const {
  return session_for_tunnel(tunnel_id) != nullptr;
}

void TunnelServer::end_tunnel(const Uuid& tunnel_id, const std::string& reason) {
  if (ServerSession* s = session_for_tunnel(tunnel_id)) s->end(reason, close_code::kNormal, true);
}

bool TunnelServer::attach_listener(PublicService& listener, const Uuid& tunnel_id,
                                   const TunnelService& service) {
  ServerSession* s = session_for_tunnel(tunnel_id);
  if (s == nullptr) return false;
  listener.attach(*s, service);
  return true;
}

std::optional<double> TunnelServer::tunnel_rtt_ms(const Uuid& tunnel_id) const {
  const ServerSession* s = session_for_tunnel(tunnel_id);
  return s != nullptr ? s->rtt_ms() : std::nullopt;
}

void TunnelServer::tunnel_opened(ServerSession& session) {
  by_tunnel_[*session.tunnel_id()] = &session;
  if (ws_ != nullptr && session.channel() != nullptr) ws_->authenticated(*session.channel());
  const Tunnel* t = registry_.get_tunnel(*session.tunnel_id());
  observer().on_tunnel_connected({*session.tunnel_id(), t != nullptr ? t->name : std::nullopt,
                                  session.peer(), session.is_v2() ? 2 : 1});
}

void TunnelServer::take_over(ServerSession& old) {
  const Uuid tunnel_id = *old.tunnel_id();
  // The public sockets wait, detached, for the successor's registrations.
  if (auto t = registry_.unregister_tunnel(tunnel_id, name_hold_until()))
    public_ports_.hold_for_successor(*t);
  by_tunnel_.erase(tunnel_id);
  old.release_tunnel();
  old.end("session taken over by a new connection of the same client", close_code::kNormal, true);
  observer().on_tunnel_disconnected({tunnel_id, "taken over"});
}

std::chrono::steady_clock::time_point TunnelServer::name_hold_until() const {
  // As long as a taken-over tunnel's public sockets wait for their successor.
  return std::chrono::steady_clock::now() + config_.connect_timeout;
}

void TunnelServer::session_closed(ServerSession& session, const Error& why) {
  Counters done = *session.counters();
  done.streams_active = 0;
  finished_ += done;
  if (const auto& id = session.tunnel_id()) {
    if (auto t = registry_.unregister_tunnel(*id, name_hold_until())) {
      // Every service ends with its tunnel; hosts hear about each one as for an Unregister.
      for (const auto& [sid, svc] : t->services) {
        public_ports_.unpublish(sid);
        observer().on_service_unregistered({*id, svc, "tunnel closed: " + why.message});
      }
    }
    by_tunnel_.erase(*id);
    ZLT_LOG(info, kLog).field("tunnel", id->to_string())
        << session.label() << " closed: " << why.message;
    observer().on_tunnel_disconnected({*id, why.message});
  }
  sessions_.erase(&session);  // destroys the session
}

AuthFailureThrottle::Verdict TunnelServer::auth_failed(const std::string& peer) {
  return auth_failures_.failed(source_of(peer), uv_now(runtime_.loop()));
}

nlohmann::json TunnelServer::connection_status() const {
  if (ws_ == nullptr) return nullptr;
  const WsServer::Stats s = ws_->stats();
  return {{"open", s.open},
          {"unauthenticated", s.pending},
          {"refused", s.refused},
          {"evicted", s.evicted},
          {"refused_no_fd", s.refused_no_fd}};
}
bool TunnelServer::busy() const {
  return chunk_bytes_in_use() > config_.max_buffered_bytes;
}

nlohmann::json TunnelServer::status() const {
  nlohmann::json tunnels = nlohmann::json::array();
  Counters total;
  std::size_t queued = 0;
  std::size_t held = 0;
  for (const auto& [raw, session] : sessions_) {
    queued += session->queued_bytes();
    held += session->held_bytes();
  }
  for (const auto& [id, session] : by_tunnel_) {
    auto* t = const_cast<TunnelRegistry&>(registry_).get_tunnel(id);
    if (t == nullptr) continue;
    nlohmann::json j = session->status();
    j["id"] = id.to_string();
    j["name"] = t->name ? nlohmann::json(*t->name) : nlohmann::json(nullptr);
    j["client_addr"] = t->client_addr;
    j["connected_at"] = format_rfc3339(t->connected_at);
    nlohmann::json services = nlohmann::json::array();
    for (const auto& [sid, svc] : t->services) services.push_back(svc.to_json());
    j["services"] = services;
    tunnels.push_back(j);
    total += *session->counters();
  }
  // Traffic of tunnels that have gone counts too: the totals only ever grow.
  total += finished_;
  nlohmann::json listen = nlohmann::json::array();
  for (const auto& a : listening_) listen.push_back(a.to_string());
  return {{"listen", listen},
          {"tls", ws_ != nullptr && ws_->tls()},
          {"tunnel_count", registry_.tunnel_count()},
          {"service_count", registry_.service_count()},
          {"sessions", sessions_.size()},
          {"connections", connection_status()},
          {"tunnels", tunnels},
          {"traffic", total.to_json()},
          // Real bytes: waiting in the sessions' outgoing queues, held for sessions (queues and
          // stream buffers), and in buffers process-wide (the max_buffered_bytes figure).
          {"queued_bytes", queued},
          {"held_bytes", held},
          {"buffered_bytes", chunk_bytes_in_use()},
          {"max_buffered_bytes", config_.max_buffered_bytes},
          {"cluster", cluster_ ? cluster_->status() : nlohmann::json(nullptr)}};
}

}  // namespace zlt
