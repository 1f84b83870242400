#include "core/cluster/cluster_store.hpp"

#include <algorithm>

#include "core/common/json_dump.hpp"
#include "core/runtime/log.hpp"

namespace zlt {
namespace {

constexpr const char* kChannel = "zlt:grants";
constexpr const char* kMembers = "zlt:members";
constexpr const char* kGrants = "zlt:grants";
constexpr std::chrono::milliseconds kLongestTick{1000};

std::string member_key(const std::string& id) {
  return "zlt:member:" + id;
}
std::string grant_key(const std::string& id) {
  return "zlt:grant:" + id;
}

config::RedisEndpoint endpoint_of(const config::ClusterConfig& c) {
  auto e = config::parse_redis_url(c.redis, "cluster.redis");
  return e ? *e : config::RedisEndpoint{};  // validated before a store is made
}

// The ids of a SMEMBERS reply (empty on anything else).
std::vector<std::string> strings_of(const RedisReply* r) {
  std::vector<std::string> out;
  if (r == nullptr || r->type != RedisReply::Type::array) return out;
  for (const auto& e : r->elements)
    if (e.type == RedisReply::Type::string) out.push_back(e.text);
  return out;
}

}  // namespace

ClusterStore::ClusterStore(uv_loop_t* loop, const config::ClusterConfig& config, Hooks hooks)
    : config_(config), hooks_(std::move(hooks)),
      commands_(loop, endpoint_of(config), "cluster store"),
      events_(loop, endpoint_of(config), "cluster events"), tick_(loop) {
  events_.subscribe({kChannel}, [this](const std::string&, const std::string& text) {
    on_event(text);
  });
  commands_.on_state([this](bool, const std::string&) { availability_changed(); });
  events_.on_state([this](bool, const std::string&) { availability_changed(); });
}

ClusterStore::~ClusterStore() = default;

void ClusterStore::start() {
  commands_.start();
  events_.start();
  // A third of the lease, so two renewals may be missed before the entry runs out; at most a
  // second, which bounds how late a missed revocation message is made up for.
  const auto interval = std::min<std::chrono::milliseconds>(kLongestTick, config_.lease / 3);
  tick_.start(interval, [this] { tick(); }, interval);
}

void ClusterStore::stop() {
  tick_.stop();
  if (commands_.up()) {
    // Leave at once rather than when the lease runs out; the connection closes on the reply.
    commands_.command({"DEL", member_key(config_.node_id)});
    commands_.command({"SREM", kMembers, config_.node_id},
                      [this](const RedisReply*) { commands_.stop(); });
  } else {
    commands_.stop();
  }
  events_.stop();
}

void ClusterStore::availability_changed() {
  const bool now = available();
  if (now == was_available_) return;
  was_available_ = now;
  if (now) tick();  // re-assert the lease and resynchronise at once
  if (hooks_.availability) hooks_.availability(now);
}

void ClusterStore::tick() {
  if (!available()) return;
  renew_lease();
  flush_removals();
  reconcile_grants();
  read_members();
}

void ClusterStore::renew_lease() {
  nlohmann::json entry = hooks_.member_status ? hooks_.member_status() : nlohmann::json::object();
  entry["node_id"] = config_.node_id;
  entry["advertise_url"] = config_.advertise_url;
  commands_.command({"SET", member_key(config_.node_id), dump_json(entry), "PX",
                     std::to_string(config_.lease.count())});
  commands_.command({"SADD", kMembers, config_.node_id});
}

void ClusterStore::read_members() {
  if (reading_members_) return;
  reading_members_ = true;
  const bool sent = commands_.command({"SMEMBERS", kMembers}, [this](const RedisReply* r) {
    std::vector<std::string> ids = strings_of(r);
    if (r == nullptr || ids.empty()) {
      reading_members_ = false;
      return;
    }
    std::vector<std::string> args{"MGET"};
    for (const auto& id : ids) args.push_back(member_key(id));
    const bool asked = commands_.command(args, [this, ids](const RedisReply* m) {
      reading_members_ = false;
      if (m == nullptr || m->type != RedisReply::Type::array || m->elements.size() != ids.size())
        return;
      std::map<std::string, nlohmann::json> members;
      for (std::size_t i = 0; i < ids.size(); ++i) {
        const RedisReply& e = m->elements[i];
        if (e.type != RedisReply::Type::string) {
          // Its lease ran out (the member died or left): forget it.
          commands_.command({"SREM", kMembers, ids[i]});
          continue;
        }
        auto parsed = nlohmann::json::parse(e.text, nullptr, false);
        if (parsed.is_object()) members[ids[i]] = std::move(parsed);
      }
      members_ = std::move(members);
    });
    if (!asked) reading_members_ = false;
  });
  if (!sent) reading_members_ = false;
}

void ClusterStore::reconcile_grants() {
  if (reconciling_) return;
  reconciling_ = true;
  const std::uint64_t generation = generation_;
  auto deliver = [this, generation](std::map<std::string, std::string> records) {
    reconciling_ = false;
    if (hooks_.grants_snapshot) hooks_.grants_snapshot(std::move(records), generation);
  };
  const bool sent = commands_.command({"SMEMBERS", kGrants}, [this, deliver](const RedisReply* r) {
    if (r == nullptr || r->type != RedisReply::Type::array) {
      reconciling_ = false;  // no answer: no verdict on anything
      return;
    }
    std::vector<std::string> ids = strings_of(r);
    if (ids.empty()) return deliver({});
    std::vector<std::string> args{"MGET"};
    for (const auto& id : ids) args.push_back(grant_key(id));
    const bool asked = commands_.command(args, [this, ids, deliver](const RedisReply* m) {
      if (m == nullptr || m->type != RedisReply::Type::array || m->elements.size() != ids.size()) {
        reconciling_ = false;
        return;
      }
      std::map<std::string, std::string> records;
      for (std::size_t i = 0; i < ids.size(); ++i) {
        if (m->elements[i].type == RedisReply::Type::string) {
          records[ids[i]] = m->elements[i].text;
        } else {
          commands_.command({"SREM", kGrants, ids[i]});  // expired: its key is gone
        }
      }
      deliver(std::move(records));
    });
    if (!asked) reconciling_ = false;
  });
  if (!sent) reconciling_ = false;
}

bool ClusterStore::put_grant(const std::string& id, const std::string& record,
                             std::chrono::milliseconds ttl) {
  if (!available()) return false;
  const auto ms = std::max<long long>(1, ttl.count());
  return commands_.command({"SET", grant_key(id), record, "PX", std::to_string(ms)}) &&
         commands_.command({"SADD", kGrants, id}) &&
         commands_.command({"PUBLISH", kChannel, "add " + id});
}

void ClusterStore::remove_grant(const std::string& id) {
  pending_removals_.insert(id);
  flush_removals();
}

void ClusterStore::flush_removals() {
  if (!available()) return;
  std::set<std::string> ids = std::move(pending_removals_);
  pending_removals_.clear();
  for (const auto& id : ids) {
    commands_.command({"DEL", grant_key(id)}, [this, id](const RedisReply* r) {
      if (r == nullptr || r->is_error()) pending_removals_.insert(id);  // again next tick
    });
    commands_.command({"SREM", kGrants, id});
    commands_.command({"PUBLISH", kChannel, "del " + id});
  }
}

void ClusterStore::on_event(const std::string& text) {
  if (text.starts_with("del ")) {
    if (hooks_.grant_removed) hooks_.grant_removed(text.substr(4));
    return;
  }
  if (!text.starts_with("add ")) return;
  std::string id = text.substr(4);
  commands_.command({"GET", grant_key(id)}, [this, id](const RedisReply* r) {
    if (r != nullptr && r->type == RedisReply::Type::string && hooks_.grant_added)
      hooks_.grant_added(id, r->text);
  });
}

nlohmann::json ClusterStore::status() const {
  nlohmann::json members = nlohmann::json::array();
  for (const auto& [id, entry] : members_) members.push_back(entry);
  return {{"node_id", config_.node_id},
          {"advertise_url", config_.advertise_url},
          {"store_available", available()},
          {"members", std::move(members)}};
}

}  // namespace zlt
