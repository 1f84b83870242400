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
#include "core/config/text.hpp"
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

nlohmann::json AccessGrant::to_record() const {
  nlohmann::json j = to_json();
  j["sha256"] = token_hash;
  return j;
}

nlohmann::json IssuedGrant::to_json() const {
  nlohmann::json j = grant.to_json();
  j["token"] = token;
  return j;
}

namespace {

// What a grant may point at, by the same rules wherever the grant comes from (an admin API
// request, the grants file).
Status check_targets(const std::vector<std::string>& targets, const std::string& path) {
  if (targets.empty())
    return make_error(Errc::config, config::at(path, "at least one is required"));
  return config::validate_allow_targets(targets, path);
}

Error field_error(const config::ObjectReader& r, std::string_view key, const std::string& why) {
  return make_error(Errc::config, r.path_of(key) + ": " + why);
}

// One entry of the grants file, as GrantStore::save writes it.
Result<AccessGrant> grant_at(const nlohmann::json& j, const std::string& path) {
  auto opened = config::ObjectReader::open(j, path);
  if (!opened) return opened.take_error();
  config::ObjectReader& r = *opened;
  AccessGrant g;
  std::string id;
  std::string created;
  std::string expires;
  ZLT_TRY(r.required("grant_id", id));
  ZLT_TRY(r.optional("name", g.name));
  ZLT_TRY(r.required("sha256", g.token_hash));
  ZLT_TRY(r.required("targets", g.targets));
  ZLT_TRY(r.required("created_at", created));
  ZLT_TRY(r.required("expires_at", expires));
  ZLT_TRY(r.finish());
  auto parsed_id = Uuid::parse(id);
  if (!parsed_id) return field_error(r, "grant_id", "not a UUID: '" + id + "'");
  g.id = *parsed_id;
  if (!crypto::is_sha256_hex(g.token_hash))
    return field_error(r, "sha256", "expected 64 hex digits");
  g.token_hash = to_ascii_lower(g.token_hash);
  ZLT_TRY(check_targets(g.targets, r.path_of("targets")));
  auto created_at = parse_rfc3339(created);
  if (!created_at) return field_error(r, "created_at", "not an RFC 3339 time: '" + created + "'");
  auto expires_at = parse_rfc3339(expires);
  if (!expires_at) return field_error(r, "expires_at", "not an RFC 3339 time: '" + expires + "'");
  g.created_at = *created_at;
  g.expires_at = *expires_at;
  return g;
}

Result<std::vector<AccessGrant>> grants_from_json(const nlohmann::json& j) {
  auto opened = config::ObjectReader::open(j, "");
  if (!opened) return opened.take_error();
  config::ObjectReader& r = *opened;
  const nlohmann::json* list = r.find("grants");
  ZLT_TRY(r.finish());
  if (list == nullptr) return make_error(Errc::config, "missing required key 'grants'");
  if (!list->is_array()) return config::type_error("grants", "expected an array");
  std::vector<AccessGrant> out;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string path = config::index_path("grants", i);
    auto g = grant_at((*list)[i], path);
    if (!g) return g.take_error();
    for (std::size_t k = 0; k < out.size(); ++k) {
      const std::string earlier = config::index_path("grants", k);
      if (out[k].id == g->id)
        return make_error(Errc::config, path + ".grant_id: same grant as " + earlier);
      if (out[k].token_hash == g->token_hash)
        return make_error(Errc::config, path + ".sha256: same token as " + earlier);
    }
    out.push_back(std::move(*g));
  }
  return out;
}

}  // namespace

Result<AccessGrant> AccessGrant::from_record(const nlohmann::json& record) {
  return grant_at(record, "grant");
}

Result<GrantRequest> grant_request_from_json(std::string_view json_text) {
  auto j = config::parse_json_text(json_text);
  if (!j) return j.take_error();
  auto opened = config::ObjectReader::open(*j, "");
  if (!opened) return opened.take_error();
  config::ObjectReader& r = *opened;
  GrantRequest req;
  config::Duration ttl{0};
  ZLT_TRY(r.required("targets", req.targets));
  ZLT_TRY(r.required("ttl", ttl));
  ZLT_TRY(r.optional("name", req.name));
  ZLT_TRY(r.finish());
  req.ttl = ttl;
  ZLT_TRY(check_targets(req.targets, r.path_of("targets")));
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
  g.created_at = clock_();
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

bool GrantStore::adopt(const AccessGrant& grant) {
  if (grants_.contains(grant.id) || refused_.contains(grant.token_hash) ||
      grant.expires_at <= clock_())
    return false;
  grants_[grant.id] = grant;
  return true;
}

const AccessGrant* GrantStore::find(const Uuid& id) const {
  auto it = grants_.find(id);
  return it == grants_.end() ? nullptr : &it->second;
}

const AccessGrant* GrantStore::find_by_token_hash(const std::string& token_hash) const {
  for (const auto& [id, g] : grants_)
    if (crypto::ct_equal(g.token_hash, token_hash)) return &g;
  return nullptr;
}

Result<const AccessGrant*> GrantStore::admit(const std::string& token_hash) const {
  if (const AccessGrant* g = find_by_token_hash(token_hash)) {
    if (g->expires_at <= clock_()) return make_error(Errc::auth, "tunnel token expired");
    return g;
  }
  if (auto refusal = refusal_for(token_hash)) return make_error(Errc::auth, *refusal);
  return static_cast<const AccessGrant*>(nullptr);
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

std::optional<std::chrono::milliseconds> GrantStore::timer_delay() const {
  auto next = next_expiry();
  if (!next) return std::nullopt;
  // Rounded up: a timer that fires a little before the expiry would find nothing due.
  auto until = std::chrono::ceil<std::chrono::milliseconds>(*next - clock_());
  return std::clamp(until, std::chrono::milliseconds(0), kGrantClockRecheck);
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
  auto in_file = [&](const Error& e) {
    return make_error(Errc::config, "grants file " + path + ": " + e.message);
  };
  auto j = config::parse_json_text(*text);
  if (!j) return in_file(j.error());
  auto loaded = grants_from_json(*j);
  if (!loaded) return in_file(loaded.error());
  const auto now = clock_();
  for (auto& g : *loaded) {
    if (g.expires_at <= now) {
      refused_[g.token_hash] = "tunnel token expired";
      continue;
    }
    grants_[g.id] = std::move(g);
  }
  return {};
}

Status GrantStore::save(const std::string& path) const {
  nlohmann::json grants = nlohmann::json::array();
  for (const auto& [id, g] : grants_) grants.push_back(g.to_record());
  return config::save_json_file(path, {{"grants", grants}});
}

}  // namespace zlt
