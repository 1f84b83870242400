// A server as a member of a cluster: its grants mirror the cluster's store, and its lease
// tells the others what it serves. Auth keeps reading the local GrantStore (no round trip to
// Redis while an agent waits); the store keeps that mirror in step: announcements apply a
// change at once, and every tick's reconciliation makes up for a missed one.
#include <chrono>

#include "core/common/rfc3339.hpp"
#include "core/runtime/log.hpp"
#include "core/server/tunnel_server.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "cluster";
// A grant missing from the store this close to its expiry has expired there: the local timer
// (not a revocation) ends it, with its own words.
constexpr std::chrono::seconds kExpirySlack{2};

}  // namespace

void TunnelServer::start_cluster() {
  if (!config_.cluster) return;
  ClusterStore::Hooks hooks;
  hooks.availability = [this](bool available) { cluster_availability(available); };
  hooks.grant_added = [this](const std::string& id, const std::string& record) {
    adopt_cluster_grant(id, record);
  };
  hooks.grant_removed = [this](const std::string& id) {
    if (auto uuid = Uuid::parse(id)) drop_grant(*uuid);
  };
  hooks.grants_snapshot = [this](std::map<std::string, std::string> records,
                                 std::uint64_t generation) {
    reconcile_cluster_grants(records, generation);
  };
  hooks.member_status = [this] { return cluster_member_status(); };
  cluster_ = std::make_unique<ClusterStore>(runtime_.loop(), *config_.cluster, std::move(hooks));
  ZLT_LOG(info, kLog) << "member " << config_.cluster->node_id << " joining through redis";
  cluster_->start();
}

void TunnelServer::cluster_availability(bool available) {
  // Once per transition (the connections log their own details).
  if (available) {
    ZLT_LOG(info, kLog) << "cluster store available: lease and grants resynchronised";
  } else {
    ZLT_LOG(warn, kLog) << "cluster store unavailable: live sessions and streams carry on; new "
                           "grants are refused until it is back";
  }
}

void TunnelServer::adopt_cluster_grant(const std::string& id, const std::string& record) {
  auto parsed = nlohmann::json::parse(record, nullptr, false);
  auto grant = parsed.is_discarded() ? Result<AccessGrant>(make_error(Errc::config, "not JSON"))
                                     : AccessGrant::from_record(parsed);
  if (!grant) {
    ZLT_LOG(warn, kLog) << "ignoring the cluster's grant " << id << ": " << grant.error().message;
    return;
  }
  if (!grants_.adopt(*grant)) return;  // known, or revoked/expired here already
  grant_generation_[grant->id] = cluster_->learn_generation();
  ZLT_LOG(info, kLog) << "grant " << grant->name << " issued on another member";
  arm_grant_timer();
}

void TunnelServer::reconcile_cluster_grants(const std::map<std::string, std::string>& records,
                                            std::uint64_t generation) {
  for (const auto& [id, record] : records) {
    auto uuid = Uuid::parse(id);
    if (uuid && grants_.find(*uuid) == nullptr) adopt_cluster_grant(id, record);
  }
  // A grant learnt before the snapshot was read and missing from it was revoked while its
  // announcement was lost. One learnt since may simply be newer than the snapshot.
  const auto soon = grants_.now() + kExpirySlack;
  std::vector<Uuid> gone;
  for (const AccessGrant& g : grants_.list()) {
    if (records.contains(g.id.to_string()) || g.expires_at <= soon) continue;
    auto learnt = grant_generation_.find(g.id);
    if (learnt == grant_generation_.end() || learnt->second < generation) gone.push_back(g.id);
  }
  for (const Uuid& id : gone) {
    ZLT_LOG(info, kLog) << "grant " << id.to_string() << " is gone from the cluster store";
    drop_grant(id);
  }
}

nlohmann::json TunnelServer::cluster_member_status() const {
  nlohmann::json services = nlohmann::json::array();
  Counters total = finished_;
  for (const auto& [id, session] : by_tunnel_) {
    total += *session->counters();
    auto* t = const_cast<TunnelRegistry&>(registry_).get_tunnel(id);
    if (t == nullptr) continue;
    for (const auto& [sid, svc] : t->services) {
      nlohmann::json s = {{"name", svc.name},
                          {"protocol", svc.protocol == proto::ServiceProtocol::udp ? "udp" : "tcp"},
                          {"internal", svc.internal},
                          {"token", t->name ? *t->name : std::string()}};
      if (svc.assigned_port) s["public_port"] = *svc.assigned_port;
      services.push_back(std::move(s));
    }
  }
  nlohmann::json traffic = total.to_json();
  return {{"tunnels", registry_.tunnel_count()},
          {"services", std::move(services)},
          {"streams", active_streams()},
          {"bytes_in", traffic.value("bytes_in", std::uint64_t{0})},
          {"bytes_out", traffic.value("bytes_out", std::uint64_t{0})},
          {"draining", draining_},
          {"updated_at", format_rfc3339(std::chrono::system_clock::now())}};
}

nlohmann::json TunnelServer::cluster_status() const {
  if (!cluster_) return nullptr;
  nlohmann::json j = cluster_->status();
  // This member as it is now, not as last read back from the store.
  nlohmann::json self = cluster_member_status();
  self["node_id"] = config_.cluster->node_id;
  self["advertise_url"] = config_.cluster->advertise_url;
  bool found = false;
  for (auto& m : j["members"]) {
    if (m.value("node_id", "") == config_.cluster->node_id) {
      m = self;
      found = true;
    }
  }
  if (!found) j["members"].push_back(self);
  return j;
}

}  // namespace zlt
