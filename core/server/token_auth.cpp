#include "core/server/token_auth.hpp"

#include "core/config/allow_target.hpp"
#include "core/config/json_reader.hpp"
#include "core/config/json_text.hpp"
#include "core/crypto/crypto.hpp"

namespace zlt {

// The grant JSON has the shape of a configured token's permissions, so it is read with the
// configuration's own decoders and checked against the same rules and wording.
Result<TokenGrant> token_grant_from_json(std::string_view text) {
  auto j = config::parse_json_text(text);
  if (!j) return j.take_error();
  auto opened = config::ObjectReader::open(*j, "grant");
  if (!opened) return opened.take_error();
  config::ObjectReader& r = *opened;
  TokenGrant g;
  ZLT_TRY(r.optional("name", g.name));
  ZLT_TRY(r.optional("allowed_ports", g.allowed_ports));
  ZLT_TRY(r.optional("allow", g.allow));
  ZLT_TRY(r.optional("services", g.services));
  ZLT_TRY(r.finish());
  if (g.name && g.name->empty())
    return make_error(Errc::config, r.path_of("name") + ": cannot be empty");
  if (g.allowed_ports) {
    const auto& p = *g.allowed_ports;
    if (p.start > p.end)
      return make_error(Errc::config, r.path_of("allowed_ports") + ": start (" +
                                               std::to_string(p.start) + ") must be <= end (" +
                                               std::to_string(p.end) + ")");
    if (p.start == 0)
      return make_error(Errc::config,
                             r.path_of("allowed_ports") + ": ports must be within 1..65535");
  }
  ZLT_TRY(config::validate_allow_targets(g.allow, r.path_of("allow")));
  if (g.services) ZLT_TRY(config::validate_service_names(*g.services, r.path_of("services")));
  return g;
}

std::optional<std::string> TokenGrant::register_refusal(const std::string& name) const {
  if (!services) return std::nullopt;
  if (services->empty()) return "this token may not register services";
  for (const auto& allowed : *services)
    if (allowed == name) return std::nullopt;
  return "service name '" + name + "' is not allowed for this token";
}

ConfiguredTokens::ConfiguredTokens(const config::TunnelServerConfig& config)
    : entries_(config.tokens), accept_any_(config.accept_any_token) {}

Result<TokenGrant> ConfiguredTokens::check(std::string_view token,
                                           const std::string& token_hash) const {
  if (token.empty()) return make_error(Errc::auth, "Token cannot be empty");
  return check_hash(token_hash);
}

Result<TokenGrant> ConfiguredTokens::check_hash(const std::string& token_hash) const {
  // Every entry is compared, whatever matched, so the time taken says nothing about which
  // (or whether an) entry matched.
  const config::TokenEntry* match = nullptr;
  for (const auto& e : entries_)
    if (crypto::ct_equal(e.sha256, token_hash) && match == nullptr) match = &e;
  if (match != nullptr) {
    TokenGrant g;
    if (!match->name.empty()) g.name = match->name;
    g.allowed_ports = match->allowed_ports;
    g.allow = match->allow;
    g.services = match->services;
    return g;
  }
  if (accept_any_) return TokenGrant{};
  return make_error(Errc::auth, "invalid tunnel token");
}

}  // namespace zlt
