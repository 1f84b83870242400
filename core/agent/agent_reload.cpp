// Reloading a running agent's configuration: its services change over the live session (no
// reconnect); connection settings wait for the next connection.
#include <algorithm>

#include "core/agent/agent.hpp"
#include "core/agent/agent_session.hpp"
#include "core/runtime/log.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "agent";

// Fields read when a connection starts: changing them is fine, the live one keeps the old.
void note_next_connection(const config::TunnelClientConfig& running,
                          const config::TunnelClientConfig& next, std::vector<std::string>& out) {
  auto note = [&](const char* field, auto member) {
    if (!(next.*member == running.*member)) out.emplace_back(field);
  };
  using C = config::TunnelClientConfig;
  note("server_url", &C::server_url);
  note("token", &C::token);
  note("overlay_server_url", &C::overlay_server_url);
  note("routing_mode", &C::routing_mode);
  note("ca_file", &C::ca_file);
  note("insecure", &C::insecure);
  note("proxy", &C::proxy);
  note("heartbeat_interval", &C::heartbeat_interval);
  note("heartbeat_timeout", &C::heartbeat_timeout);
  note("max_session_queue", &C::max_session_queue);
  note("slow_peer_timeout", &C::slow_peer_timeout);
}

// Fields bound to a listener opened at start: the running value stays.
void keep_restart_only(const config::TunnelClientConfig& running,
                       config::TunnelClientConfig& next, std::vector<std::string>& out) {
  auto keep = [&](const char* field, auto member) {
    if (next.*member == running.*member) return;
    out.emplace_back(field);
    next.*member = running.*member;
  };
  using C = config::TunnelClientConfig;
  keep("metrics_listen", &C::metrics_listen);
  keep("http_limits", &C::http_limits);
}

}  // namespace

nlohmann::json AgentReload::to_json() const {
  return {{"added", added},
          {"removed", removed},
          {"changed", changed},
          {"next_connection", next_connection},
          {"needs_restart", needs_restart}};
}

Result<AgentReload> TunnelAgent::reload(config::TunnelClientConfig next) {
  if (auto st = next.validate(); !st) return make_error(Errc::config, st.error().message);
  AgentReload report;
  keep_restart_only(config_, next, report.needs_restart);
  note_next_connection(config_, next, report.next_connection);

  // Over a live session the changes go to the server now; without one, the next session
  // registers the new list anyway.
  AgentSession* live = session();
  const std::uint64_t generation_before = generations_;  // entries above it are new or changed
  std::vector<RegisteredService> kept;
  for (auto& old : services_) {
    auto same_name = [&](const config::ServiceConfig& s) { return s.name == old.config.name; };
    if (std::none_of(next.services.begin(), next.services.end(), same_name)) {
      report.removed.push_back(old.config.name);
      if (live != nullptr && old.service_id) live->unregister_service(*old.service_id);
      ZLT_LOG(info, kLog).field("service", old.config.name)
          << "reload: service " << old.config.name << " removed";
    } else {
      kept.push_back(std::move(old));
    }
  }
  std::vector<RegisteredService> services;
  for (const auto& wanted : next.services) {
    auto it = std::find_if(kept.begin(), kept.end(), [&](const RegisteredService& s) {
      return s.config.name == wanted.name;
    });
    if (it != kept.end() && it->config == wanted) {
      services.push_back(std::move(*it));
      continue;
    }
    RegisteredService entry;
    if (it != kept.end()) {
      report.changed.push_back(wanted.name);
      entry = std::move(*it);
      // A registered one goes first; one whose Register is unanswered waits for the answer
      // (the server would refuse the name while it is taken).
      const bool unanswered = live != nullptr && !entry.service_id &&
                              entry.status == RegisteredService::Status::pending;
      if (live != nullptr && entry.service_id) live->unregister_service(*entry.service_id);
      entry.register_deferred = unanswered;
      entry.service_id.reset();
      entry.public_port.reset();
      entry.status = RegisteredService::Status::pending;
      entry.failure.clear();
      entry.counters = std::make_shared<Counters>();
    } else {
      report.added.push_back(wanted.name);
    }
    entry.config = wanted;
    entry.generation = ++generations_;
    services.push_back(std::move(entry));
  }
  services_ = std::move(services);
  config_ = std::move(next);
  if (live != nullptr)
    for (auto& s : services_)
      if (s.generation > generation_before && !s.register_deferred) live->register_service(s);

  for (const auto& field : report.needs_restart)
    ZLT_LOG(warn, kLog).field("field", field)
        << "reload: " << field << " changed; it takes effect at a restart (running value kept)";
  for (const auto& field : report.next_connection)
    ZLT_LOG(info, kLog).field("field", field)
        << "reload: " << field << " changed; the next connection uses it";
  ZLT_LOG(info, kLog)
          .field("event", "reloaded")
          .field("added", std::to_string(report.added.size()))
          .field("removed", std::to_string(report.removed.size()))
          .field("changed", std::to_string(report.changed.size()))
      << "configuration reloaded: " << report.added.size() << " service(s) added, "
      << report.removed.size() << " removed, " << report.changed.size() << " changed";
  return report;
}

}  // namespace zlt
