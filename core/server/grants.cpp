#include "core/server/grants.hpp"

#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <ctime>

#include "core/common/rfc3339.hpp"
#include "core/config/allow_target.hpp"
#include "core/config/config.hpp"
#include "core/config/json_reader.hpp"
#include "core/config/json_text.hpp"
#include "core/crypto/crypto.hpp"

namespace zlt {
using Clock = std::chrono::system_clock;

nlohmann::json AccessGrant::to_json() const {
  return {{"grant_id", id.to_string()},
          {"name", name},
          {"targets", targets},
          {"created_at", format_rfc3339(created_at)},
          {"expires_at", format_rfc3339(expires_at)}};
}

Result<GrantRequest> grant_request_from_json(std::string_view json_text) {
  namespace detail = config::detail;
  auto j = detail::parse_json_text(json_text);
  if (!j) return j.take_error();
  auto opened = detail::ObjectReader::open(*j, "");
  if (!opened) return opened.take_error();
  detail::ObjectReader& r = *opened;
  GrantRequest req;
  config::Duration ttl{0};
  ZLT_TRY(r.required("targets", req.targets));
  ZLT_TRY(r.required("ttl", ttl));
  ZLT_TRY(r.optional("name", req.name));
  ZLT_TRY(r.finish());
  req.ttl = ttl;
  if (req.targets.empty()) return make_error(Errc::config, "targets: at least one is required");
  for (std::size_t i = 0; i < req.targets.size(); ++i)
    if (!detail::is_valid_allow_target(req.targets[i]))
      return make_error(Errc::config, "targets[" + std::to_string(i) + "]: invalid target '" +
                                          req.targets[i] +
                                          "' (expected service:NAME, HOST:PORT or CIDR:PORT)");
  if (req.ttl.count() <= 0) return make_error(Errc::config, "ttl: must be > 0");
  return req;
}

Result<IssuedGrant> GrantStore::issue(const GrantRequest& request) {
  if (request.targets.empty())
    return make_error(Errc::invalid_argument, "targets: at least one is required");
  if (request.ttl.count() <= 0) return make_error(Errc::invalid_argument, "ttl: must be > 0");
  IssuedGrant out;
  AccessGrant& g = out.grant;
  g.id = crypto::uuid_v4();
  out.token = crypto::new_token();
  g.token_hash = crypto::hash_token(out.token);
  g.name = request.name.empty() ? "grant-" + g.id.to_string().substr(0, 8) : request.name;
  g.targets = request.targets;
  g.created_at = Clock::now();
  g.expires_at = g.created_at + std::min(request.ttl, max_ttl_);
  grants_[g.id] = g;
  return out;
}

std::optional<AccessGrant> GrantStore::revoke(const Uuid& id) {
  auto it = grants_.find(id);
  if (it == grants_.end()) return std::nullopt;
  AccessGrant g = std::move(it->second);
  grants_.erase(it);
  refused_[g.token_hash] = "tunnel token revoked";
  return g;
}

const AccessGrant* GrantStore::find_by_token_hash(const std::string& token_hash) const {
  for (const auto& [id, g] : grants_)
    if (crypto::ct_equal(g.token_hash, token_hash)) return &g;
  return nullptr;
}

std::optional<std::string> GrantStore::refusal_for(const std::string& token_hash) const {
  auto it = refused_.find(token_hash);
  if (it == refused_.end()) return std::nullopt;
  return it->second;
}

std::vector<AccessGrant> GrantStore::take_expired(Clock::time_point now) {
  std::vector<AccessGrant> out;
  for (auto it = grants_.begin(); it != grants_.end();) {
    if (it->second.expires_at <= now) {
      refused_[it->second.token_hash] = "tunnel token expired";
      out.push_back(std::move(it->second));
      it = grants_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::optional<Clock::time_point> GrantStore::next_expiry() const {
  std::optional<Clock::time_point> next;
  for (const auto& [id, g] : grants_)
    if (!next || g.expires_at < *next) next = g.expires_at;
  return next;
}

std::vector<AccessGrant> GrantStore::list() const {
  std::vector<AccessGrant> out;
  for (const auto& [id, g] : grants_) out.push_back(g);
  return out;
}

Status GrantStore::load(const std::string& path) {
  auto text = config::read_text_file(path);
  if (!text) {
    // No file yet is the normal first start.
    if (::access(path.c_str(), F_OK) != 0) return {};
    return text.take_error();
  }
  auto j = config::detail::parse_json_text(*text);
  if (!j) return make_error(Errc::config, path + ": " + j.error().message);
  const auto now = Clock::now();
  try {
    for (const auto& item : j->at("grants")) {
      AccessGrant g;
      auto id = Uuid::parse(item.at("grant_id").get<std::string>());
      if (!id) return make_error(Errc::config, path + ": bad grant_id");
      g.id = *id;
      g.name = item.value("name", "");
      g.token_hash = item.at("sha256").get<std::string>();
      g.targets = item.at("targets").get<std::vector<std::string>>();
      auto created = parse_rfc3339(item.at("created_at").get<std::string>());
      auto expires = parse_rfc3339(item.at("expires_at").get<std::string>());
      if (!created || !expires) return make_error(Errc::config, path + ": bad time in a grant");
      g.created_at = *created;
      g.expires_at = *expires;
      if (!crypto::is_sha256_hex(g.token_hash))
        return make_error(Errc::config, path + ": bad sha256 in a grant");
      if (g.expires_at <= now) {
        refused_[g.token_hash] = "tunnel token expired";
        continue;
      }
      grants_[g.id] = std::move(g);
    }
  } catch (const std::exception& e) {
    return make_error(Errc::config, path + ": " + e.what());
  }
  return {};
}

Status GrantStore::save(const std::string& path) const {
  nlohmann::json grants = nlohmann::json::array();
  for (const auto& [id, g] : grants_) {
    nlohmann::json item = g.to_json();
    item["sha256"] = g.token_hash;
    grants.push_back(std::move(item));
  }
  return config::save_json_file(path, {{"grants", grants}});
}

}  // namespace zlt
