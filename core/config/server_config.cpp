#include <string>

#include "core/config/allow_target.hpp"
#include "core/config/config.hpp"
#include "core/config/text.hpp"
#include "core/crypto/crypto.hpp"

namespace zlt::config {
namespace {

Error invalid(std::string message) {
  return make_error(Errc::config, std::move(message));
}

// The rules of the original crate, in its order and words.
Status validate_original_rules(const TunnelServerConfig& c) {
  if (c.control_path.empty()) return invalid("control_path cannot be empty");
  if (!c.control_path.starts_with('/')) return invalid("control_path must start with '/'");
  const std::uint16_t start = c.data_port_range.start;
  const std::uint16_t end = c.data_port_range.end;
  if (start > end)
    return invalid("data_port_range start (" + std::to_string(start) + ") must be <= end (" +
                   std::to_string(end) + ")");
  // [0, 0] is this project's addition: every public port is chosen by the kernel.
  const bool kernel_assigned = start == 0 && end == 0;
  if (start < 1024 && !kernel_assigned)
    return invalid("data_port_range start (" + std::to_string(start) +
                   ") should be >= 1024 (privileged ports)");
  if (c.heartbeat_timeout <= c.heartbeat_interval)
    return invalid("heartbeat_timeout (" + format_duration(c.heartbeat_timeout) +
                   ") must be > heartbeat_interval (" + format_duration(c.heartbeat_interval) +
                   ")");
  if (c.max_tunnels == 0) return invalid("max_tunnels must be > 0");
  if (c.max_services_per_tunnel == 0) return invalid("max_services_per_tunnel must be > 0");
  return {};
}

Status validate_public_bind(const std::string& host) {
  if (host.empty()) return invalid("public_bind: cannot be empty");
  if (is_host_name(host) || is_ipv6_literal(host)) return {};
  return invalid("public_bind: expected a host name or IP address, got '" + host + "'");
}

Status validate_tls(const TunnelServerConfig& c) {
  if (c.tls_cert && !c.tls_key) return invalid("tls_key: must be set together with tls_cert");
  if (c.tls_key && !c.tls_cert) return invalid("tls_cert: must be set together with tls_key");
  if (c.tls_cert && c.tls_cert->empty()) return invalid("tls_cert: cannot be empty");
  if (c.tls_key && c.tls_key->empty()) return invalid("tls_key: cannot be empty");
  return {};
}

Status validate_token(const TokenEntry& t, const std::string& path) {
  if (t.name.empty()) return invalid(path + ".name: cannot be empty");
  if (!crypto::is_sha256_hex(t.sha256)) return invalid(path + ".sha256: expected 64 hex digits");
  if (t.allowed_ports) {
    const PortRange& r = *t.allowed_ports;
    if (r.start > r.end)
      return invalid(path + ".allowed_ports: start (" + std::to_string(r.start) +
                     ") must be <= end (" + std::to_string(r.end) + ")");
    if (r.start == 0) return invalid(path + ".allowed_ports: ports must be within 1..65535");
  }
  ZLT_TRY(validate_allow_targets(t.allow, path + ".allow"));
  if (t.services) ZLT_TRY(validate_service_names(*t.services, path + ".services"));
  return {};
}

Status validate_tokens(const std::vector<TokenEntry>& tokens) {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string path = "tokens[" + std::to_string(i) + "]";
    ZLT_TRY(validate_token(tokens[i], path));
    // Two entries for one token would make its permissions depend on lookup order.
    for (std::size_t k = 0; k < i; ++k) {
      if (iequals_ascii(tokens[k].sha256, tokens[i].sha256))
        return invalid(path + ".sha256: same token as tokens[" + std::to_string(k) + "]");
    }
  }
  return {};
}

Status require_positive(Duration d, std::string_view field) {
  if (d.count() > 0) return {};
  return invalid(std::string(field) + ": must be > 0");
}

Status require_nonzero(std::size_t n, std::string_view field) {
  if (n > 0) return {};
  return invalid(std::string(field) + ": must be > 0");
}

}  // namespace

Status TunnelServerConfig::validate() const {
  ZLT_TRY(validate_original_rules(*this));
  ZLT_TRY(require_positive(heartbeat_interval, "heartbeat_interval"));
  ZLT_TRY(parse_host_port(listen, "listen"));
  ZLT_TRY(validate_public_bind(public_bind));
  ZLT_TRY(validate_tls(*this));
  ZLT_TRY(validate_tokens(tokens));
  if (max_streams_per_tunnel == 0) return invalid("max_streams_per_tunnel: must be > 0");
  ZLT_TRY(require_positive(auth_timeout, "auth_timeout"));
  ZLT_TRY(require_positive(connect_timeout, "connect_timeout"));
  ZLT_TRY(require_positive(udp_idle_timeout, "udp_idle_timeout"));
  ZLT_TRY(require_nonzero(max_connections, "max_connections"));
  ZLT_TRY(require_nonzero(max_pending_handshakes, "max_pending_handshakes"));
  ZLT_TRY(require_nonzero(max_unauthenticated_per_source, "max_unauthenticated_per_source"));
  if (auth_failure_delay_max.count() < 0) return invalid("auth_failure_delay_max: must be >= 0");
  ZLT_TRY(require_nonzero(max_udp_flows, "max_udp_flows"));
  ZLT_TRY(validate_session_queue(max_session_queue, slow_peer_timeout));
  if (max_buffered_bytes == 0) return invalid("max_buffered_bytes: must be > 0");
  if (admin_token_hash && !crypto::is_sha256_hex(*admin_token_hash))
    return invalid("admin_token_hash: must be 64 hex digits");
  ZLT_TRY(require_positive(max_access_ttl, "max_access_ttl"));
  if (grants_file && grants_file->empty()) return invalid("grants_file: cannot be empty");
  return {};
}

}  // namespace zlt::config
