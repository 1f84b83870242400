// Deciding who may open a tunnel: a host callback, the configured token list (hashes compared
// in constant time), or — only when explicitly switched on — any non-empty token.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.hpp"
#include "core/config/config.hpp"

namespace zlt {

// What an accepted token may do.
struct TokenGrant {
  std::optional<std::string> name;                 // shown in logs and status
  std::optional<config::PortRange> allowed_ports;  // public ports it may hold
  std::vector<std::string> allow;                  // Open targets (docs/PROTOCOL.md §4.6)
  // Service names it may register: nullopt any, empty none (access grants open, never serve).
  std::optional<std::vector<std::string>> services;
  std::optional<std::chrono::system_clock::time_point> expires_at;

  // Why this token may not register `name` (the RegisterFail reason), or nullopt if it may.
  std::optional<std::string> register_refusal(const std::string& name) const;
};

// Reads a grant from JSON: {"name": ..., "allowed_ports": [a, b], "allow": [targets],
// "services": [names]}, with the rules and wording of a configured token entry (errors are
// Errc::config, naming the field).
Result<TokenGrant> token_grant_from_json(std::string_view json_text);

// Given the raw token and its SHA-256 hex, accept (a grant) or refuse (Errc::auth with the
// reason the peer will read after "Authentication error: ").
using TokenValidator =
    std::function<Result<TokenGrant>(std::string_view token, const std::string& token_hash)>;

// The server's built-in policy from its configuration: the token list, then accept_any_token.
class ConfiguredTokens {
 public:
  explicit ConfiguredTokens(const config::TunnelServerConfig& config);
  Result<TokenGrant> check(std::string_view token, const std::string& token_hash) const;
  // The same, for a token known only by its hash (a live session, after a reload).
  Result<TokenGrant> check_hash(const std::string& token_hash) const;
  bool empty() const { return entries_.empty() && !accept_any_; }

 private:
  std::vector<config::TokenEntry> entries_;
  bool accept_any_ = false;
};

}  // namespace zlt
