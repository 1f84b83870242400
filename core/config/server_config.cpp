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

// The rules of the original crate, in its order and words; one error per field at most.
void validate_original_rules(const TunnelServerConfig& c, ErrorList& errors) {
  if (c.control_path.empty()) {
    errors.add(invalid("control_path cannot be empty"));
  } else if (!c.control_path.starts_with('/')) {
    errors.add(invalid("control_path must start with '/'"));
  }
  const std::uint16_t start = c.data_port_range.start;
  const std::uint16_t end = c.data_port_range.end;
  // [0, 0] is this project's addition: every public port is chosen by the kernel.
  const bool kernel_assigned = start == 0 && end == 0;
  if (start > end) {
    errors.add(invalid("data_port_range start (" + std::to_string(start) + ") must be <= end (" +
                       std::to_string(end) + ")"));
  } else if (start < 1024 && !kernel_assigned) {
    errors.add(invalid("data_port_range start (" + std::to_string(start) +
                       ") should be >= 1024 (privileged ports)"));
  }
  if (c.heartbeat_timeout <= c.heartbeat_interval)
    errors.add(invalid("heartbeat_timeout (" + format_duration(c.heartbeat_timeout) +
                       ") must be > heartbeat_interval (" + format_duration(c.heartbeat_interval) +
                       ")"));
  if (c.max_tunnels == 0) errors.add(invalid("max_tunnels must be > 0"));
  if (c.max_services_per_tunnel == 0) errors.add(invalid("max_services_per_tunnel must be > 0"));
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

void validate_token(const TokenEntry& t, const std::string& path, ErrorList& errors) {
  if (t.name.empty()) errors.add(invalid(path + ".name: cannot be empty"));
  if (!crypto::is_sha256_hex(t.sha256))
    errors.add(invalid(path + ".sha256: expected 64 hex digits"));
  if (t.allowed_ports) {
    const PortRange& r = *t.allowed_ports;
    if (r.start > r.end) {
      errors.add(invalid(path + ".allowed_ports: start (" + std::to_string(r.start) +
                         ") must be <= end (" + std::to_string(r.end) + ")"));
    } else if (r.start == 0) {
      errors.add(invalid(path + ".allowed_ports: ports must be within 1..65535"));
    }
  }
  errors.check(validate_allow_targets(t.allow, path + ".allow"));
  if (t.services) errors.check(validate_service_names(*t.services, path + ".services"));
}

void validate_tokens(const std::vector<TokenEntry>& tokens, ErrorList& errors) {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string path = "tokens[" + std::to_string(i) + "]";
    validate_token(tokens[i], path, errors);
    // Two entries for one token would make its permissions depend on lookup order.
    for (std::size_t k = 0; k < i; ++k) {
      if (iequals_ascii(tokens[k].sha256, tokens[i].sha256)) {
        errors.add(invalid(path + ".sha256: same token as tokens[" + std::to_string(k) + "]"));
        break;
      }
    }
  }
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
  return ErrorList::first_of(*this);
}

void TunnelServerConfig::validate_all(ErrorList& errors) const {
  validate_original_rules(*this, errors);
  errors.check(require_positive(heartbeat_interval, "heartbeat_interval"));
  if (auto hp = parse_host_port(listen, "listen"); !hp) errors.add(hp.take_error());
  errors.check(validate_public_bind(public_bind));
  errors.check(validate_tls(*this));
  validate_tokens(tokens, errors);
  if (max_streams_per_tunnel == 0) errors.add(invalid("max_streams_per_tunnel: must be > 0"));
  errors.check(require_positive(auth_timeout, "auth_timeout"));
  errors.check(require_positive(connect_timeout, "connect_timeout"));
  errors.check(require_positive(udp_idle_timeout, "udp_idle_timeout"));
  errors.check(require_nonzero(max_connections, "max_connections"));
  errors.check(require_nonzero(max_pending_handshakes, "max_pending_handshakes"));
  errors.check(require_nonzero(max_unauthenticated_per_source, "max_unauthenticated_per_source"));
  if (auth_failure_delay_max.count() < 0)
    errors.add(invalid("auth_failure_delay_max: must be >= 0"));
  if (grace_period.count() < 0) errors.add(invalid("grace_period: must be >= 0"));
  errors.check(require_nonzero(max_udp_flows, "max_udp_flows"));
  errors.check(validate_session_queue(max_session_queue, slow_peer_timeout));
  if (max_buffered_bytes == 0) errors.add(invalid("max_buffered_bytes: must be > 0"));
  if (admin_token_hash && !crypto::is_sha256_hex(*admin_token_hash))
    errors.add(invalid("admin_token_hash: must be 64 hex digits"));
  errors.check(require_positive(max_access_ttl, "max_access_ttl"));
  if (grants_file && grants_file->empty()) errors.add(invalid("grants_file: cannot be empty"));
  validate_http_listener(metrics_listen, "metrics_listen", http_limits, errors);
  if (admin_listen) {
    if (auto hp = parse_listen_address(*admin_listen, "admin_listen"); !hp)
      errors.add(hp.take_error());
  }
  if (cluster) {
    validate_cluster(*cluster, errors);
    // Two sources of truth for grants would disagree after the first revocation.
    if (grants_file)
      errors.add(invalid("grants_file: a cluster keeps its grants in Redis; remove grants_file"));
  }
}

}  // namespace zlt::config
