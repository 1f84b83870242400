// Reloading a running server's configuration: what may change live, what waits for a restart,
// and what a changed token list means for the sessions that hold tokens.
#include <vector>

#include "core/runtime/log.hpp"
#include "core/server/tunnel_server.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "server";

// Fields bound to sockets or files opened at start: a change is named, and the running value
// stays. Each entry names the field as the config file does.
void keep_restart_only(const config::TunnelServerConfig& running,
                       config::TunnelServerConfig& next, std::vector<std::string>& changed) {
  auto keep = [&](const char* field, auto member) {
    if (next.*member == running.*member) return;
    changed.emplace_back(field);
    next.*member = running.*member;
  };
  using C = config::TunnelServerConfig;
  keep("enabled", &C::enabled);
  keep("listen", &C::listen);
  keep("control_path", &C::control_path);
  keep("public_bind", &C::public_bind);
  keep("data_port_range", &C::data_port_range);
  keep("routing_mode", &C::routing_mode);
  keep("bind_overlay", &C::bind_overlay);
  keep("dns_registration", &C::dns_registration);
  keep("grants_file", &C::grants_file);
  keep("metrics_listen", &C::metrics_listen);
  keep("admin_listen", &C::admin_listen);
  keep("cluster", &C::cluster);
  keep("http_limits", &C::http_limits);
  // Plain and TLS listeners are different sockets; a new certificate for a TLS one is live.
  if (next.tls_cert.has_value() != running.tls_cert.has_value()) {
    changed.emplace_back("tls_cert");
    next.tls_cert = running.tls_cert;
    next.tls_key = running.tls_key;
  }
}

}  // namespace

nlohmann::json ServerReload::to_json() const {
  return {{"tokens", tokens},
          {"revoked", revoked},
          {"reconnected", reconnected},
          {"tls_reloaded", tls_reloaded},
          {"needs_restart", needs_restart}};
}

Result<ServerReload> TunnelServer::reload() {
  if (!config_source_)
    return make_error(Errc::not_found, "this server has no configuration source to reload from");
  auto next = config_source_();
  if (!next) {
    ++reloads_failed_;
    last_reload_ok_ = false;
    return next.take_error();
  }
  return reload(std::move(*next));
}

Result<ServerReload> TunnelServer::reload(config::TunnelServerConfig next) {
  auto applied = apply_reload(std::move(next));
  // Counted for zlt_server_config_reloads_total: an alert can tell a file that keeps failing.
  ++(applied ? reloads_ok_ : reloads_failed_);
  last_reload_ok_ = static_cast<bool>(applied);
  return applied;
}

Result<ServerReload> TunnelServer::apply_reload(config::TunnelServerConfig next) {
  if (stopped_) return make_error(Errc::shutdown, "server stopped");
  if (auto st = next.validate(); !st) return make_error(Errc::config, st.error().message);
  ServerReload report;
  keep_restart_only(config_, next, report.needs_restart);
  // The certificate is the one part that can still fail: it loads before anything changes.
  if (next.tls_cert && ws_) {
    if (auto st = ws_->reload_tls(*next.tls_cert, *next.tls_key); !st) return st.take_error();
    report.tls_reloaded = true;
  }

  config_ = std::move(next);  // PublicPorts and the sessions read it from here on
  tokens_ = ConfiguredTokens(config_);
  registry_.set_max_services_per_tunnel(config_.max_services_per_tunnel);
  if (ws_)
    ws_->set_limits({config_.max_connections, config_.max_pending_handshakes,
                     config_.max_unauthenticated_per_source},
                    config_.auth_timeout);
  auth_failures_.set_max_delay(config_.auth_failure_delay_max);
  grants_.set_max_ttl(config_.max_access_ttl);
  public_ports_.apply_limits();
  report.tokens = config_.tokens.size();
  recheck_sessions(report);

  for (const auto& field : report.needs_restart)
    ZLT_LOG(warn, kLog).field("field", field)
        << "reload: " << field << " changed; it takes effect at a restart (running value kept)";
  ZLT_LOG(info, kLog)
          .field("event", "reloaded")
          .field("tokens", std::to_string(report.tokens))
          .field("revoked", std::to_string(report.revoked))
      << "configuration reloaded: " << report.tokens << " token(s), " << report.revoked
      << " session(s) revoked" << (report.tls_reloaded ? ", TLS certificate reloaded" : "");
  return report;
}

void TunnelServer::recheck_sessions(ServerReload& report) {
  // A host's validator decides about its own tokens; a reload of the file says nothing new.
  if (validator_) return;
  std::vector<ServerSession*> live;
  for (const auto& [id, s] : by_tunnel_) live.push_back(s);
  for (ServerSession* s : live) {
    if (!sessions_.contains(s) || !s->authenticated()) continue;
    // Access grants are the server's own tokens, untouched by the file.
    auto admitted = grants_.admit(s->token_hash());
    if (!admitted || *admitted != nullptr) continue;
    const std::string tunnel = s->tunnel_id()->to_string();
    auto grant = tokens_.check_hash(s->token_hash());
    if (!grant) {
      ZLT_LOG(info, kLog).field("tunnel", tunnel)
          << s->label() << ": its token is no longer configured; disconnected";
      ++report.revoked;
      s->end("fatal: token revoked", close_code::kPolicyViolation, true);
      continue;
    }
    if (!s->update_grant(std::move(*grant))) {
      ZLT_LOG(info, kLog).field("tunnel", tunnel)
          << s->label()
          << ": its token no longer allows a service it holds; disconnected to register again";
      ++report.reconnected;
      s->end("token permissions changed", close_code::kNormal, true);
    }
  }
}

}  // namespace zlt
