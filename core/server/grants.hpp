// Access grants: fresh tokens bound to an allow list and an expiry (PROTOCOL.md §4.6). Only
// the token's hash is kept; the token itself is shown once, when the grant is issued.
// Expiry is enforced by the TunnelServer's timer, not checked lazily. Loop-thread only.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/error.hpp"
#include "core/common/uuid.hpp"

namespace zlt {

struct AccessGrant {
  Uuid id;
  std::string name;
  std::string token_hash;
  std::vector<std::string> targets;  // the token's allow list
  std::chrono::system_clock::time_point created_at;
  std::chrono::system_clock::time_point expires_at;

  // Without the token hash: what lists and the admin API show.
  nlohmann::json to_json() const;
};

struct IssuedGrant {
  AccessGrant grant;
  std::string token;  // "tun_" + 32 hex; never stored
};

// What a request for a grant says: {"targets": [...], "ttl": "10m", "name": "..."}.
struct GrantRequest {
  std::vector<std::string> targets;
  std::chrono::milliseconds ttl{0};
  std::string name;
};
// Errors name the field ("ttl: must be > 0", "targets[1]: invalid target 'x'"), Errc::config.
Result<GrantRequest> grant_request_from_json(std::string_view json_text);

class GrantStore {
 public:
  explicit GrantStore(std::chrono::milliseconds max_ttl) : max_ttl_(max_ttl) {}

  // A new grant; ttl is capped at max_ttl (the response's expires_at shows the cap).
  Result<IssuedGrant> issue(const GrantRequest& request);
  // Removes it; the token is refused from then on ("tunnel token revoked").
  std::optional<AccessGrant> revoke(const Uuid& id);
  const AccessGrant* find_by_token_hash(const std::string& token_hash) const;
  // Why a token that is no longer valid was valid once: "tunnel token expired" / "... revoked".
  std::optional<std::string> refusal_for(const std::string& token_hash) const;
  // Removes and returns the grants whose time has come.
  std::vector<AccessGrant> take_expired(std::chrono::system_clock::time_point now);
  std::optional<std::chrono::system_clock::time_point> next_expiry() const;
  std::vector<AccessGrant> list() const;
  std::size_t size() const { return grants_.size(); }

  // Persistence: JSON {"grants": [...]} with token hashes, written atomically.
  Status load(const std::string& path);
  Status save(const std::string& path) const;

 private:
  std::chrono::milliseconds max_ttl_;
  std::map<Uuid, AccessGrant> grants_;
  std::map<std::string, std::string> refused_;  // token hash -> why (expired / revoked)
};

}  // namespace zlt
