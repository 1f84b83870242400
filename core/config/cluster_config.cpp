// The cluster block of a server configuration: the Redis URL, the member's identity and the
// shared secret. Read by json_server, checked by TunnelServerConfig::validate_all.
#include <charconv>

#include "core/config/config.hpp"

namespace zlt::config {

bool is_websocket_url(std::string_view url) {
  return url.starts_with("ws://") || url.starts_with("wss://");
}

Result<RedisEndpoint> parse_redis_url(std::string_view url, std::string_view field) {
  const std::string name(field);
  auto bad = [&](const std::string& why) {
    return make_error(Errc::config, name + ": " + why +
                                        " (expected redis://[:password@]host:port/db)");
  };
  RedisEndpoint e;
  std::string_view rest = url;
  if (rest.starts_with("redis://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("rediss://")) {
    rest.remove_prefix(9);
    e.tls = true;
  } else {
    return bad("must start with redis:// or rediss://");
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view user_info = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    // "[user]:password"; Redis 6 ACL user names are not used: AUTH takes the password.
    auto colon = user_info.find(':');
    std::string_view password =
        colon == std::string_view::npos ? user_info : user_info.substr(colon + 1);
    if (password.empty()) return bad("empty password");
    e.password = std::string(password);
  }
  std::string_view authority = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), e.db);
      if (ec != std::errc() || end != db.data() + db.size() || e.db > 15)
        return bad("database must be a number 0-15");
    }
  }
  if (authority.empty()) return bad("no host");
  if (authority.find(':') == std::string_view::npos ||
      (authority.front() == '[' && authority.back() == ']')) {
    e.host = std::string(authority.front() == '[' ? authority.substr(1, authority.size() - 2)
                                                  : authority);
    return e;
  }
  auto hp = parse_host_port(authority, field);
  if (!hp) return bad("bad host:port '" + std::string(authority) + "'");
  if (hp->port == 0) return bad("port must be 1-65535");
  e.host = hp->host;
  e.port = hp->port;
  return e;
}

void validate_cluster(const ClusterConfig& c, ErrorList& errors) {
  auto invalid = [&](std::string message) { errors.add(make_error(Errc::config, std::move(message))); };
  if (auto e = parse_redis_url(c.redis, "cluster.redis"); !e) {
    errors.add(e.take_error());
  } else if (e->tls) {
    // The Debian hiredis (0.14) has no TLS; refusing here beats a plaintext surprise.
    invalid("cluster.redis: rediss:// (TLS) needs hiredis 1.0 or newer; this build uses an "
            "older hiredis: use redis:// over a private network or a TLS tunnel");
  }
  if (c.node_id.empty() || c.node_id.size() > 64) {
    invalid("cluster.node_id: must be 1-64 characters");
  } else {
    for (char ch : c.node_id) {
      const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
      if (!ok) {
        invalid("cluster.node_id: only letters, digits, '.', '_' and '-'");
        break;
      }
    }
  }
  if (!is_websocket_url(c.advertise_url))
    invalid("cluster.advertise_url: must start with ws:// or wss://");
  if (c.secret.size() < 16) invalid("cluster.secret: must be at least 16 characters");
  if (c.lease < std::chrono::seconds(1)) invalid("cluster.lease: must be >= 1s");
}

}  // namespace zlt::config
