#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config.hpp"

namespace zlt::config {
namespace {

Error invalid(std::string message) {
  return make_error(Errc::config, std::move(message));
}

// The rules of the original crate, in its order and words.
void validate_original_rules(const TunnelClientConfig& c, ErrorList& errors) {
  if (c.server_url.empty()) {
    errors.add(invalid("server_url cannot be empty"));
  } else if (!is_websocket_url(c.server_url)) {
    errors.add(invalid("server_url must start with ws:// or wss://"));
  }
  if (c.token.empty()) errors.add(invalid("token cannot be empty"));
  if (c.max_reconnect_interval < c.reconnect_interval)
    errors.add(invalid("max_reconnect_interval (" + format_duration(c.max_reconnect_interval) +
                       ") must be >= reconnect_interval (" + format_duration(c.reconnect_interval) +
                       ")"));
  for (std::size_t i = 0; i < c.services.size(); ++i) {
    ErrorList service;
    c.services[i].validate_all(service);
    errors.add_all(service, "services[" + std::to_string(i) + "]: ");
  }
  // Sorted, so the name reported is the smallest duplicate, as in the original.
  std::vector<std::string_view> names;
  names.reserve(c.services.size());
  for (const ServiceConfig& s : c.services) names.push_back(s.name);
  std::sort(names.begin(), names.end());
  auto duplicate = std::adjacent_find(names.begin(), names.end());
  if (duplicate != names.end())
    errors.add(invalid("duplicate service name: " + std::string(*duplicate)));
}

Status require_positive(Duration d, std::string_view field) {
  if (d.count() > 0) return {};
  return invalid(std::string(field) + ": must be > 0");
}

}  // namespace

Status validate_session_queue(std::size_t max_session_queue, Duration slow_peer_timeout) {
  constexpr std::size_t kMin = 64u << 10;
  if (max_session_queue < kMin)
    return invalid("max_session_queue: must be at least " + std::to_string(kMin) +
                   " (one message)");
  return require_positive(slow_peer_timeout, "slow_peer_timeout");
}

Status TunnelClientConfig::validate() const {
  return ErrorList::first_of(*this);
}

void TunnelClientConfig::validate_all(ErrorList& errors) const {
  validate_original_rules(*this, errors);
  errors.check(require_positive(reconnect_interval, "reconnect_interval"));
  if (overlay_server_url && !is_websocket_url(*overlay_server_url))
    errors.add(invalid("overlay_server_url: must start with ws:// or wss://"));
  if (local_host.empty()) errors.add(invalid("local_host: cannot be empty"));
  if (ca_file && ca_file->empty()) errors.add(invalid("ca_file: cannot be empty"));
  if (proxy && !proxy->starts_with("http://"))
    errors.add(invalid("proxy: must start with http://"));
  errors.check(require_positive(connect_timeout, "connect_timeout"));
  validate_http_listener(metrics_listen, "metrics_listen", http_limits, errors);
  errors.check(require_positive(heartbeat_interval, "heartbeat_interval"));
  if (heartbeat_timeout <= heartbeat_interval)
    errors.add(invalid("heartbeat_timeout (" + format_duration(heartbeat_timeout) +
                       ") must be > heartbeat_interval (" + format_duration(heartbeat_interval) +
                       ")"));
  errors.check(validate_session_queue(max_session_queue, slow_peer_timeout));
}

}  // namespace zlt::config
