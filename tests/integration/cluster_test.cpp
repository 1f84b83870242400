// Several servers on one Redis: grants issued on one member are valid on the others, a
// revocation or an expiry ends the grant's session on every member, the membership is read
// back from the store, and a Redis outage leaves live sessions alone while new grants are
// refused. Every test starts its own redis-server (kernel-chosen port) and real servers on
// 127.0.0.1.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <iostream>
#include <set>
#include <string>
#include <variant>

#include "core/crypto/crypto.hpp"
#include "support/admin_client.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/net.hpp"
#include "support/raw_ws.hpp"
#include "support/redis_server.hpp"
#include "support/tunnel_checks.hpp"

namespace zlt::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSecret = "a shared secret for the members";

constexpr const char* kAdmin = "admin-secret";

config::TunnelServerConfig member_config(const RedisServer& redis, const std::string& node_id,
                                         std::chrono::milliseconds lease = 3s) {
  config::TunnelServerConfig c = Harness::server_config();
  config::ClusterConfig cluster;
  cluster.redis = redis.url();
  cluster.node_id = node_id;
  cluster.advertise_url = "ws://127.0.0.1:1/tunnel/v1";
  cluster.secret = kSecret;
  cluster.lease = lease;
  c.cluster = cluster;
  c.max_access_ttl = std::chrono::hours(1);
  c.admin_token_hash = crypto::hash_token(kAdmin);
  return c;
}

// A member: a harness of its own (runtime, server) joined to the cluster.
struct Member {
  Harness h;
  Member(const RedisServer& redis, const std::string& node_id,
         std::chrono::milliseconds lease = 3s) {
    h.start_server(member_config(redis, node_id, lease));
  }
  bool store_available() {
    bool up = false;
    h.on_loop([&] { up = h.server().cluster() && h.server().cluster()->available(); });
    return up;
  }
  Result<IssuedGrant> grant(const std::string& target, std::chrono::milliseconds ttl) {
    GrantRequest request;
    request.targets = {target};
    request.ttl = ttl;
    std::optional<Result<IssuedGrant>> out;
    h.on_loop([&] { out.emplace(h.server().grant_access(request)); });
    return std::move(*out);
  }
  Status revoke(const Uuid& id) {
    Status st;
    h.on_loop([&] { st = h.server().revoke_access(id); });
    return st;
  }
  bool knows_grant(const Uuid& id) {
    bool found = false;
    h.on_loop([&] {
      for (const auto& g : h.server().list_grants())
        if (g.value("grant_id", "") == id.to_string()) found = true;
    });
    return found;
  }
  std::string metrics() {
    std::string text;
    h.on_loop([&] { text = h.server().metrics(); });
    return text;
  }
  nlohmann::json cluster_status() {
    nlohmann::json j;
    h.on_loop([&] { j = h.server().cluster_status(); });
    return j;
  }
};

// The AuthFail reason a token gets (empty when it is accepted or nothing answers).
std::string auth_refusal(std::uint16_t port, const std::string& token) {
  auto ws = RawWs::connect(port);
  if (!ws || !ws->is_open()) return "";
  auto answer = ws->authenticate(token, crypto::uuid_v4());
  if (!answer) return "";
  auto m = decode_message(*answer);
  if (!m) return "";
  auto* fail = std::get_if<proto::AuthFail>(&*m);
  return fail ? fail->reason : "";
}

std::set<std::string> member_ids(const nlohmann::json& status) {
  std::set<std::string> ids;
  for (const auto& m : status.value("members", nlohmann::json::array()))
    ids.insert(m.value("node_id", ""));
  return ids;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = std::make_unique<RedisServer>();
    ASSERT_TRUE(redis_->ok()) << "redis-server did not start (scripts/setup installs it)";
  }
  std::unique_ptr<RedisServer> redis_;
};

TEST_F(ClusterTest, AGrantIssuedOnOneMemberOpensASessionOnAnother) {
  Member one(*redis_, "edge-1");
  Member two(*redis_, "edge-2");
  ASSERT_TRUE(eventually([&] { return one.store_available() && two.store_available(); }));

  auto issued = one.grant("service:db", 10min);
  ASSERT_TRUE(issued) << issued.error().message;
  ASSERT_TRUE(eventually([&] { return two.knows_grant(issued->grant.id); }, 2s))
      << "member 2 never learnt the grant";
  // The record in Redis carries the token's hash only, and expires with the grant.
  auto record = redis_->command({"GET", "zlt:grant:" + issued->grant.id.to_string()});
  ASSERT_TRUE(record);
  EXPECT_NE(record->find(issued->grant.token_hash), std::string::npos);
  EXPECT_EQ(record->find(issued->token), std::string::npos) << "the token itself was stored";
  auto ttl = redis_->command({"PTTL", "zlt:grant:" + issued->grant.id.to_string()});
  ASSERT_TRUE(ttl);
  EXPECT_GT(std::stoll(ttl->substr(1)), 9 * 60 * 1000) << *ttl;

  auto session = open_session(two.h.control_port(), issued->token);
  ASSERT_TRUE(session) << "the grant's token was refused on member 2";
}

TEST_F(ClusterTest, RevokingOnOneMemberEndsTheSessionOnAnotherWithinASecond) {
  Member one(*redis_, "edge-1");
  Member two(*redis_, "edge-2");
  ASSERT_TRUE(eventually([&] { return one.store_available() && two.store_available(); }));
  auto issued = one.grant("service:db", 10min);
  ASSERT_TRUE(issued) << issued.error().message;
  ASSERT_TRUE(eventually([&] { return two.knows_grant(issued->grant.id); }, 2s));
  auto session = open_session(two.h.control_port(), issued->token);
  ASSERT_TRUE(session);

  const auto revoked_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(one.revoke(issued->grant.id));
  auto bye = session->expect<proto::Disconnect>(2s);
  const auto took = std::chrono::steady_clock::now() - revoked_at;
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->reason, "fatal: token revoked");
  EXPECT_LT(took, 1s) << "the session on member 2 outlived the revocation by "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms";
  std::cerr << "revocation reached member 2 in "
            << std::chrono::duration_cast<std::chrono::microseconds>(took).count() << " us\n";
  EXPECT_FALSE(two.knows_grant(issued->grant.id));
  EXPECT_EQ(auth_refusal(two.h.control_port(), issued->token),
            "Authentication error: tunnel token revoked");
}

TEST_F(ClusterTest, AnExpiredGrantEndsItsSessionOnEveryMember) {
  Member one(*redis_, "edge-1");
  Member two(*redis_, "edge-2");
  ASSERT_TRUE(eventually([&] { return one.store_available() && two.store_available(); }));
  auto issued = one.grant("service:db", 1500ms);
  ASSERT_TRUE(issued) << issued.error().message;
  ASSERT_TRUE(eventually([&] { return two.knows_grant(issued->grant.id); }, 2s));
  auto on_two = open_session(two.h.control_port(), issued->token);
  auto on_one = open_session(one.h.control_port(), issued->token);
  ASSERT_TRUE(on_two && on_one);
  for (auto* s : {on_two.get(), on_one.get()}) {
    auto bye = s->expect<proto::Disconnect>(5s);
    ASSERT_TRUE(bye);
    EXPECT_EQ(bye->reason, "fatal: token expired");
  }
  // Redis forgot it too (the key expired with the grant).
  EXPECT_TRUE(eventually([&] {
    return redis_->command({"EXISTS", "zlt:grant:" + issued->grant.id.to_string()}) == ":0\r\n";
  }, 3s));
}

// A revocation whose announcement never arrived (here: removed behind the members' backs, as
// when the subscriber connection was down) is made up for by the reconciliation tick.
TEST_F(ClusterTest, AMissedRevocationIsMadeUpForByReconciliation) {
  Member one(*redis_, "edge-1");
  ASSERT_TRUE(eventually([&] { return one.store_available(); }));
  auto issued = one.grant("service:db", 10min);
  ASSERT_TRUE(issued) << issued.error().message;
  auto session = open_session(one.h.control_port(), issued->token);
  ASSERT_TRUE(session);
  const std::string key = "zlt:grant:" + issued->grant.id.to_string();
  ASSERT_TRUE(eventually([&] { return redis_->command({"EXISTS", key}) == ":1\r\n"; }, 5s));
  ASSERT_EQ(redis_->command({"DEL", key}), ":1\r\n");
  auto bye = session->expect<proto::Disconnect>(3s);
  ASSERT_TRUE(bye) << "the reconciliation never noticed the grant was gone";
  EXPECT_EQ(bye->reason, "fatal: token revoked");
}

TEST_F(ClusterTest, MembersSeeEachOtherAndADeadOneLeavesWithinItsLease) {
  Member one(*redis_, "edge-1", 1500ms);
  auto two = std::make_unique<Member>(*redis_, "edge-2", 10s);
  auto three = std::make_unique<Member>(*redis_, "edge-3", 1500ms);
  const std::set<std::string> all{"edge-1", "edge-2", "edge-3"};
  ASSERT_TRUE(eventually([&] { return member_ids(one.cluster_status()) == all; }, 5s))
      << one.cluster_status().dump();
  nlohmann::json s = one.cluster_status();
  EXPECT_EQ(s["node_id"], "edge-1");
  EXPECT_EQ(s["store_available"], true);
  for (const auto& m : s["members"]) {
    EXPECT_TRUE(m.contains("tunnels"));
    EXPECT_TRUE(m.contains("services"));
    EXPECT_EQ(m["advertise_url"], "ws://127.0.0.1:1/tunnel/v1");
  }
  // The status a host reads carries the same block.
  EXPECT_EQ(one.h.server_status()["cluster"]["node_id"], "edge-1");

  // A member that stops leaves at once, long before its 10 s lease would run out.
  two->h.on_loop([&] { two->h.server().stop(); });
  EXPECT_TRUE(eventually([&] {
    return redis_->command({"EXISTS", "zlt:member:edge-2"}) == ":0\r\n";
  }, 2s)) << "a stopped member left its entry behind";

  // One that vanishes without a word (destroyed with its loop, as in a crash) stays only
  // until its lease runs out.
  const auto died = std::chrono::steady_clock::now();
  three.reset();
  two.reset();
  EXPECT_TRUE(eventually([&] {
    return member_ids(one.cluster_status()) == std::set<std::string>{"edge-1"};
  }, 4s)) << one.cluster_status().dump();
  std::cerr << "a vanished member (lease 1.5 s) left the membership after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - died).count()
            << " ms\n";
}

TEST_F(ClusterTest, ARedisOutageRefusesNewGrantsAndLeavesLiveSessionsAlone) {
  Member one(*redis_, "edge-1");
  ASSERT_TRUE(eventually([&] { return one.store_available(); }));
  auto before = one.grant("service:db", 10min);
  ASSERT_TRUE(before) << before.error().message;
  auto session = open_session(one.h.control_port(), before->token);
  ASSERT_TRUE(session);

  redis_->kill();
  ASSERT_TRUE(eventually([&] { return !one.store_available(); }, 5s));
  auto during = one.grant("service:db", 10min);
  ASSERT_FALSE(during);
  EXPECT_EQ(during.error().message, "cluster store unavailable");
  EXPECT_NE(one.metrics().find("\nzlt_server_cluster_store_up 0\n"), std::string::npos);
  // The session admitted before the outage stays; a revocation meanwhile still ends it here
  // and reaches the store once it is back.
  EXPECT_FALSE(session->wait_eof(300ms));

  ASSERT_TRUE(redis_->restart());
  ASSERT_TRUE(eventually([&] { return one.store_available(); }, 10s))
      << "the member never reconnected to redis";
  auto after = one.grant("service:db", 10min);
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_NE(one.metrics().find("\nzlt_server_cluster_store_up 1\n"), std::string::npos);
  // The restarted Redis is empty: the member re-asserted its lease.
  EXPECT_TRUE(eventually([&] {
    return redis_->command({"EXISTS", "zlt:member:edge-1"}) == ":1\r\n";
  }, 3s));
  // Resynchronised: the grant issued before the outage is not in the fresh store, so the
  // reconciliation ends its session (a store that lost its data revokes, never widens).
  auto bye = session->expect<proto::Disconnect>(3s);
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->reason, "fatal: token revoked");
}

TEST_F(ClusterTest, TheAdminApiListsTheClusterAndItsGrantsAndSays503WhileTheStoreIsAway) {
  Member one(*redis_, "edge-1");
  Member two(*redis_, "edge-2");
  ASSERT_TRUE(eventually([&] { return one.store_available() && two.store_available(); }));
  auto admin = [&](Member& m, const std::string& method, const std::string& path,
                   const std::string& body = "") {
    return admin_call(m.h.control_port(), method, path, body, std::string(kAdmin));
  };
  AdminReply issued =
      admin(one, "POST", "/admin/v1/grants", R"({"targets":["service:db"],"ttl":"10m"})");
  ASSERT_EQ(issued.status, 201) << issued.raw;
  const std::string id = issued.body.value("grant_id", "");
  ASSERT_TRUE(eventually([&] {
    AdminReply listed = admin(two, "GET", "/admin/v1/grants");
    for (const auto& g : listed.body.value("grants", nlohmann::json::array()))
      if (g.value("grant_id", "") == id) return true;
    return false;
  }, 2s)) << "member 2's admin API never listed the grant issued on member 1";

  ASSERT_TRUE(eventually([&] {
    AdminReply c = admin(two, "GET", "/admin/v1/cluster");
    return c.status == 200 && member_ids(c.body) == std::set<std::string>{"edge-1", "edge-2"};
  }, 5s)) << admin(two, "GET", "/admin/v1/cluster").raw;
  EXPECT_EQ(admin(two, "POST", "/admin/v1/cluster").status, 405);

  redis_->kill();
  ASSERT_TRUE(eventually([&] { return !one.store_available(); }, 5s));
  AdminReply refused =
      admin(one, "POST", "/admin/v1/grants", R"({"targets":["service:db"],"ttl":"10m"})");
  EXPECT_EQ(refused.status, 503) << refused.raw;
  EXPECT_EQ(refused.body.value("error", ""), "cluster store unavailable");
  AdminReply status = admin(one, "GET", "/admin/v1/cluster");
  EXPECT_EQ(status.status, 200);
  EXPECT_EQ(status.body.value("store_available", true), false);
}

// A Redis that accepts connections and never answers (hung, or not Redis at all) is not taken
// for a working store: the handshake has a deadline, and new grants are refused meanwhile.
TEST(ClusterHungStore, AStoreThatNeverAnswersIsUnavailable) {
  LogCapture logs;
  std::uint16_t port = 0;
  Fd silent = tcp_listen(&port);  // the kernel completes connects; nobody ever reads
  ASSERT_TRUE(silent);
  config::TunnelServerConfig c = Harness::server_config();
  config::ClusterConfig cluster;
  cluster.redis = "redis://127.0.0.1:" + std::to_string(port) + "/0";
  cluster.node_id = "edge-1";
  cluster.advertise_url = "ws://127.0.0.1:1/tunnel/v1";
  cluster.secret = kSecret;
  c.cluster = cluster;
  Harness h;
  h.start_server(c);
  ASSERT_TRUE(eventually([&] { return logs.any("no answer within 5 s"); }, 10s));
  std::optional<Result<IssuedGrant>> issued;
  GrantRequest request;
  request.targets = {"service:db"};
  request.ttl = 10min;
  h.on_loop([&] { issued.emplace(h.server().grant_access(request)); });
  ASSERT_FALSE(*issued);
  EXPECT_EQ(issued->error().message, "cluster store unavailable");
}

TEST(ClusterStandalone, AServerOutsideAClusterSays404OnTheClusterEndpoint) {
  Harness h;
  config::TunnelServerConfig c = Harness::server_config();
  c.admin_token_hash = crypto::hash_token(kAdmin);
  h.start_server(c);
  AdminReply r = admin_call(h.control_port(), "GET", "/admin/v1/cluster", "", std::string(kAdmin));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body.value("error", ""), "this server is not a cluster member");
  EXPECT_TRUE(h.server_status()["cluster"].is_null());
}

TEST_F(ClusterTest, APasswordProtectedRedisIsUsedWithTheUrlsPassword) {
  RedisServer guarded(std::string("redis-pass"));
  ASSERT_TRUE(guarded.ok());
  Member one(guarded, "edge-1");
  ASSERT_TRUE(eventually([&] { return one.store_available(); }, 5s));
  auto issued = one.grant("service:db", 10min);
  ASSERT_TRUE(issued) << issued.error().message;
  // Written once the loop flushes the member's commands: another connection may ask first.
  EXPECT_TRUE(eventually([&] {
    return guarded.command({"SISMEMBER", "zlt:grants", issued->grant.id.to_string()}) ==
           ":1\r\n";
  }, 5s));
}

}  // namespace
}  // namespace zlt::test
