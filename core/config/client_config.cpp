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

bool is_websocket_url(std::string_view url) {
  // A prefix check only, like the original; the transport parses the rest.
  return url.starts_with("ws://") || url.starts_with("wss://");
}

// The rules of the original crate, in its order and words.
Status validate_original_rules(const TunnelClientConfig& c) {
  if (c.server_url.empty()) return invalid("server_url cannot be empty");
  if (!is_websocket_url(c.server_url)) return invalid("server_url must start with ws:// or wss://");
  if (c.token.empty()) return invalid("token cannot be empty");
  if (c.max_reconnect_interval < c.reconnect_interval)
    return invalid("max_reconnect_interval (" + format_duration(c.max_reconnect_interval) +
                   ") must be >= reconnect_interval (" + format_duration(c.reconnect_interval) +
                   ")");
  for (std::size_t i = 0; i < c.services.size(); ++i) {
    Status s = c.services[i].validate();
    if (!s) return invalid("services[" + std::to_string(i) + "]: " + s.error().message);
  }
  // Sorted, so the name reported is the smallest duplicate, as in the original.
  std::vector<std::string_view> names;
  names.reserve(c.services.size());
  for (const ServiceConfig& s : c.services) names.push_back(s.name);
  std::sort(names.begin(), names.end());
  auto duplicate = std::adjacent_find(names.begin(), names.end());
  if (duplicate != names.end())
    return invalid("duplicate service name: " + std::string(*duplicate));
  return {};
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
  ZLT_TRY(validate_original_rules(*this));
  ZLT_TRY(require_positive(reconnect_interval, "reconnect_interval"));
  if (overlay_server_url && !is_websocket_url(*overlay_server_url))
    return invalid("overlay_server_url: must start with ws:// or wss://");
  if (local_host.empty()) return invalid("local_host: cannot be empty");
  if (ca_file && ca_file->empty()) return invalid("ca_file: cannot be empty");
  if (proxy && !proxy->starts_with("http://")) return invalid("proxy: must start with http://");
  ZLT_TRY(require_positive(connect_timeout, "connect_timeout"));
  ZLT_TRY(require_positive(heartbeat_interval, "heartbeat_interval"));
  if (heartbeat_timeout <= heartbeat_interval)
    return invalid("heartbeat_timeout (" + format_duration(heartbeat_timeout) +
                   ") must be > heartbeat_interval (" + format_duration(heartbeat_interval) + ")");
  ZLT_TRY(validate_session_queue(max_session_queue, slow_peer_timeout));
  return {};
}

}  // namespace zlt::config
