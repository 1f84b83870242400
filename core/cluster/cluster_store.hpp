// What the members of a cluster share through Redis: each member's lease (its entry, renewed
// on a tick, gone when the member stops renewing) and the access grants, each a record under
// its own key that expires with the grant. Changes to grants are announced on a channel so
// that every member applies them at once; every tick also reads the whole set back
// (reconciliation), in case a message was missed while a connection was down.
//
// Keys (database of the URL): zlt:member:<node_id> (JSON, PX lease), zlt:members (set of
// node ids), zlt:grant:<id> (JSON, PX until expiry), zlt:grants (set of ids); channel
// zlt:grants ("add <id>", "del <id>").
//
// The store knows records as JSON text; what a grant means stays with the server. When Redis
// is unreachable the store says so (available() false) and retries; what the server already
// holds keeps working. Loop-thread only.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "core/cluster/redis_connection.hpp"
#include "core/config/config.hpp"
#include "core/runtime/uv_handle.hpp"

namespace zlt {

class ClusterStore {
 public:
  struct Hooks {
    std::function<void(bool available)> availability;
    // A grant record another member (or this one) stored.
    std::function<void(const std::string& id, const std::string& record)> grant_added;
    // A grant removed from the store (revoked on some member).
    std::function<void(const std::string& id)> grant_removed;
    // Reconciliation: every grant record in the store, read after `generation` was current
    // (grants this member learnt after that may be missing from it).
    std::function<void(std::map<std::string, std::string> records, std::uint64_t generation)>
        grants_snapshot;
    // What this member publishes in its lease (tunnels, services, traffic).
    std::function<nlohmann::json()> member_status;
  };

  ClusterStore(uv_loop_t* loop, const config::ClusterConfig& config, Hooks hooks);
  ~ClusterStore();
  ClusterStore(const ClusterStore&) = delete;
  ClusterStore& operator=(const ClusterStore&) = delete;

  void start();
  // Removes this member's entry (when Redis answers) and closes the connections.
  void stop();

  bool available() const { return commands_.up() && events_.up(); }
  const config::ClusterConfig& config() const { return config_; }

  // Stores a grant record until `ttl` from now and announces it. False when unavailable.
  bool put_grant(const std::string& id, const std::string& record, std::chrono::milliseconds ttl);
  // Removes a grant and announces it; when unavailable, the removal waits for the
  // reconnection (it is never lost: a revocation must not come back).
  void remove_grant(const std::string& id);

  // A counter that moves whenever this member learns a grant (see grants_snapshot): the
  // generation to record for a grant learnt now.
  std::uint64_t learn_generation() { return generation_++; }

  // The members as last read (every tick): node id -> what it published.
  const std::map<std::string, nlohmann::json>& members() const { return members_; }

  // Status for the server's status and metrics.
  nlohmann::json status() const;

 private:
  void tick();
  void renew_lease();
  void read_members();
  void reconcile_grants();
  void flush_removals();
  void on_event(const std::string& text);
  void availability_changed();

  config::ClusterConfig config_;
  Hooks hooks_;
  RedisConnection commands_;
  RedisConnection events_;
  Timer tick_;
  bool was_available_ = false;
  std::uint64_t generation_ = 0;
  std::set<std::string> pending_removals_;
  std::map<std::string, nlohmann::json> members_;
  bool reconciling_ = false;
  bool reading_members_ = false;
};

}  // namespace zlt
