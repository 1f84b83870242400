// Access grants: fresh tokens bound to an allow list and an expiry (docs/PROTOCOL.md §4.6). Only
// the token's hash is kept; the token itself is shown once, when the grant is issued.
// A live session's expiry is enforced by the TunnelServer's timer; Auth checks it against the
// clock as well, so a token is never admitted past its time whatever the timer did.
// Loop-thread only.
#pragma once

#include <chrono>
#include <functional>
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
  // With the token hash: what the grants file and a cluster's store keep.
  nlohmann::json to_record() const;
  // A record read back, every field checked; errors are Errc::config naming the field.
  static Result<AccessGrant> from_record(const nlohmann::json& record);
};

struct IssuedGrant {
  AccessGrant grant;
  std::string token;  // "tun_" + 32 hex; never stored

  // The grant's JSON and, this once, its token: what a host is answered with when it asks for
  // a grant (the admin API's 201 body, zlt_registry_grant_access).
  nlohmann::json to_json() const;
};

// What a request for a grant says: {"targets": [...], "ttl": "10m", "name": "..."}.
struct GrantRequest {
  std::vector<std::string> targets;
  std::chrono::milliseconds ttl{0};
  std::string name;
};
// Errors name the field ("ttl: must be > 0", "targets[1]: invalid target 'x'"), Errc::config.
Result<GrantRequest> grant_request_from_json(std::string_view json_text);

// The longest the expiry timer waits before it looks at the wall clock again. The timer runs
// on the monotonic clock and expiry times are wall-clock times: a step of the wall clock
// (forward: grants are due earlier) is noticed within this long; a step back only makes the
// timer fire early, find nothing due and re-arm.
inline constexpr std::chrono::milliseconds kGrantClockRecheck{1000};

class GrantStore {
 public:
  using WallClock = std::function<std::chrono::system_clock::time_point()>;
  explicit GrantStore(
      std::chrono::milliseconds max_ttl,
      WallClock clock = [] { return std::chrono::system_clock::now(); })
      : max_ttl_(max_ttl), clock_(std::move(clock)) {}

  std::chrono::system_clock::time_point now() const { return clock_(); }
  // A reload: grants issued from now on are capped at `max_ttl`; issued ones keep their expiry.
  void set_max_ttl(std::chrono::milliseconds max_ttl) { max_ttl_ = max_ttl; }

  // A new grant; ttl is capped at max_ttl (the response's expires_at shows the cap).
  Result<IssuedGrant> issue(const GrantRequest& request);
  // Removes it; the token is refused from then on ("tunnel token revoked").
  std::optional<AccessGrant> revoke(const Uuid& id);
  // A grant issued elsewhere (another member of a cluster). False, and nothing kept, when it
  // is known already, past its time, or its token was revoked or expired here.
  bool adopt(const AccessGrant& grant);
  const AccessGrant* find(const Uuid& id) const;
  const AccessGrant* find_by_token_hash(const std::string& token_hash) const;
  // Auth for a token: its grant if it is one and valid now; null if the token was never a
  // grant; an Errc::auth error ("tunnel token expired" / "... revoked") if it was one. A grant
  // past its time is refused even before take_expired has run.
  Result<const AccessGrant*> admit(const std::string& token_hash) const;
  // Why a token that is no longer valid was valid once: "tunnel token expired" / "... revoked".
  std::optional<std::string> refusal_for(const std::string& token_hash) const;
  // Removes and returns the grants whose time has come.
  std::vector<AccessGrant> take_expired(std::chrono::system_clock::time_point now);
  std::optional<std::chrono::system_clock::time_point> next_expiry() const;
  // How long the expiry timer should wait from now: until the next expiry, at most
  // kGrantClockRecheck, never negative; nullopt with no grants.
  std::optional<std::chrono::milliseconds> timer_delay() const;
  std::vector<AccessGrant> list() const;
  std::size_t size() const { return grants_.size(); }

  // Persistence: JSON {"grants": [...]} with token hashes, written atomically. Every field of
  // every entry is checked (targets by the rules of grant requests); an error is Errc::config
  // "grants file PATH: grants[i].FIELD: why" and loads nothing.
  Status load(const std::string& path);
  Status save(const std::string& path) const;

 private:
  std::chrono::milliseconds max_ttl_;
  WallClock clock_;
  std::map<Uuid, AccessGrant> grants_;
  std::map<std::string, std::string> refused_;  // token hash -> why (expired / revoked)
};

}  // namespace zlt
