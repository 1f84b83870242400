// Authorization rules without sockets: token roles, service-name holds, and grant expiry
// against an injected wall clock (clock steps included).
#include <gtest/gtest.h>

#include "core/crypto/crypto.hpp"
#include "core/server/grants.hpp"
#include "core/server/registry.hpp"
#include "core/server/token_auth.hpp"
#include "support/zlt_cli.hpp"

namespace zlt {
namespace {

using namespace std::chrono_literals;

TEST(TokenRoleTest, ServicesListDecidesWhatMayBeRegistered) {
  TokenGrant any;
  EXPECT_EQ(any.register_refusal("db"), std::nullopt);
  TokenGrant opener;
  opener.services = std::vector<std::string>{};
  EXPECT_EQ(opener.register_refusal("db"), "this token may not register services");
  TokenGrant limited;
  limited.services = std::vector<std::string>{"db", "web"};
  EXPECT_EQ(limited.register_refusal("web"), std::nullopt);
  EXPECT_EQ(limited.register_refusal("evil"), "service name 'evil' is not allowed for this token");
  auto parsed = token_grant_from_json(R"({"services": ["db"]})");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->services, std::optional<std::vector<std::string>>({"db"}));
  auto bad = token_grant_from_json(R"({"services": ["no spaces"]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "grant.services[0]: invalid service name 'no spaces' (use 1-255 bytes of letters, "
            "digits, '-' and '_')");
}

TEST(TokenRoleTest, ServicesListInTheServerConfig) {
  auto c = config::server_config_from_json(nlohmann::json::parse(
      R"({"tokens": [{"token": "a", "services": ["db"]}, {"token": "b", "services": []},
                     {"token": "c"}]})"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->tokens[0].services, std::optional<std::vector<std::string>>({"db"}));
  EXPECT_EQ(c->tokens[1].services, std::optional<std::vector<std::string>>(
                                       std::vector<std::string>{}));
  EXPECT_FALSE(c->tokens[2].services);
  EXPECT_TRUE(c->validate());
  // Written back as read.
  auto again = config::server_config_from_json(config::to_json(*c));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *c);
  c->tokens[0].services = std::vector<std::string>{"ok", "bad name"};
  auto st = c->validate();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message,
            "tokens[0].services[1]: invalid service name 'bad name' (use 1-255 bytes of letters, "
            "digits, '-' and '_')");
}

TEST(NameHoldTest, AnEndedTunnelsNamesStayWithItsToken) {
  TunnelRegistry registry({30000, 30010});
  const std::string a = crypto::hash_token("a");
  const std::string b = crypto::hash_token("b");
  ServiceRequest db;
  db.name = "db";
  db.internal = true;
  auto ta = registry.register_tunnel(a, std::nullopt, "peer", crypto::uuid_v4());
  auto tb = registry.register_tunnel(b, std::nullopt, "peer", crypto::uuid_v4());
  ASSERT_TRUE(ta && tb);
  const Uuid id_b = (*tb)->id;
  ASSERT_TRUE(registry.add_service((*ta)->id, db, crypto::uuid_v4()));
  auto live = registry.add_service(id_b, db, crypto::uuid_v4());
  ASSERT_FALSE(live);
  EXPECT_EQ(live.error().display(), "service name 'db' is held by another token");

  registry.unregister_tunnel((*ta)->id, std::chrono::steady_clock::now() + 1h);
  auto held = registry.add_service(id_b, db, crypto::uuid_v4());
  ASSERT_FALSE(held);
  EXPECT_EQ(held.error().display(), "service name 'db' is held by another token");
  // The same token, reconnected, takes it back at once.
  auto again = registry.register_tunnel(a, std::nullopt, "peer", crypto::uuid_v4());
  ASSERT_TRUE(again);
  const Uuid id_a = (*again)->id;
  ASSERT_TRUE(registry.add_service(id_a, db, crypto::uuid_v4()));

  // A hold that has run out frees the name; without a hold it is free at once.
  registry.unregister_tunnel(id_a, std::chrono::steady_clock::now() - 1ms);
  ASSERT_TRUE(registry.add_service(id_b, db, crypto::uuid_v4()));
  registry.unregister_tunnel(id_b);
  auto tc = registry.register_tunnel(a, std::nullopt, "peer", crypto::uuid_v4());
  ASSERT_TRUE(tc);
  EXPECT_TRUE(registry.add_service((*tc)->id, db, crypto::uuid_v4()));
}

struct FakeClock {
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  GrantStore::WallClock fn() {
    return [this] { return now; };
  }
};

TEST(GrantClockTest, AuthChecksExpiryAgainstTheClock) {
  FakeClock clock;
  GrantStore store(24h, clock.fn());
  GrantRequest req;
  req.targets = {"service:db"};
  req.ttl = 10s;
  auto issued = store.issue(req);
  ASSERT_TRUE(issued);
  const std::string hash = issued->grant.token_hash;
  auto ok = store.admit(hash);
  ASSERT_TRUE(ok);
  EXPECT_NE(*ok, nullptr);
  // The clock passes the expiry before any timer ran: Auth refuses all the same.
  clock.now += 11s;
  auto late = store.admit(hash);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().display(), "Authentication error: tunnel token expired");
  auto unknown = store.admit(crypto::hash_token("never-issued"));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(*unknown, nullptr);
}

TEST(GrantClockTest, TimerDelayIsCappedSoClockStepsAreNoticed) {
  FakeClock clock;
  GrantStore store(24h, clock.fn());
  EXPECT_EQ(store.timer_delay(), std::nullopt);
  GrantRequest req;
  req.targets = {"service:db"};
  req.ttl = 1h;
  ASSERT_TRUE(store.issue(req));
  EXPECT_EQ(store.timer_delay(), kGrantClockRecheck);  // an hour away: re-check meanwhile
  clock.now += 1h - 300ms;
  EXPECT_EQ(store.timer_delay(), 300ms);
  // A step forward past the expiry: due now, and take_expired finds it.
  clock.now += 2h;
  EXPECT_EQ(store.timer_delay(), 0ms);
  EXPECT_EQ(store.take_expired(clock.now).size(), 1u);
  // A step back only means waiting again.
  ASSERT_TRUE(store.issue(req));
  clock.now -= 5h;
  EXPECT_EQ(store.timer_delay(), kGrantClockRecheck);
  EXPECT_TRUE(store.take_expired(clock.now).empty());
}

std::string load_error(const std::string& text) {
  const std::string path = test::write_temp_file("grants-under-test.json", text);
  GrantStore store(24h);
  auto st = store.load(path);
  if (st) return "<ok>";
  EXPECT_EQ(st.error().code, Errc::config);
  const std::string prefix = "grants file " + path + ": ";
  EXPECT_EQ(st.error().message.substr(0, prefix.size()), prefix);
  return st.error().message.substr(std::min(prefix.size(), st.error().message.size()));
}

std::string grant_json(const std::string& field, const nlohmann::json& value) {
  nlohmann::json g = {{"grant_id", "00112233-4455-6677-8899-aabbccddeeff"},
                      {"name", "g"},
                      {"sha256", std::string(64, 'a')},
                      {"targets", {"service:db"}},
                      {"created_at", "2026-01-01T00:00:00Z"},
                      {"expires_at", "2099-01-01T00:00:00Z"}};
  if (!field.empty()) g[field] = value;
  return nlohmann::json{{"grants", {g}}}.dump();
}

TEST(GrantsFileTest, EveryFieldIsCheckedAndNamed) {
  EXPECT_EQ(load_error(grant_json("", nullptr)), "<ok>");
  EXPECT_EQ(load_error(grant_json("targets", {"[::/200]:*"})),
            "grants[0].targets[0]: invalid target '[::/200]:*' (expected service:NAME, HOST:PORT "
            "or CIDR:PORT)");
  EXPECT_EQ(load_error(grant_json("targets", nlohmann::json::array())),
            "grants[0].targets: at least one is required");
  EXPECT_EQ(load_error(grant_json("sha256", "xyz")), "grants[0].sha256: expected 64 hex digits");
  EXPECT_EQ(load_error(grant_json("grant_id", "nope")), "grants[0].grant_id: not a UUID: 'nope'");
  EXPECT_EQ(load_error(grant_json("expires_at", "soon")),
            "grants[0].expires_at: not an RFC 3339 time: 'soon'");
  EXPECT_EQ(load_error(grant_json("color", "red")).substr(0, 9), "grants[0]");
  EXPECT_EQ(load_error(R"({"grants": 5})"), "grants: expected an array");
  EXPECT_EQ(load_error("{"), load_error("{"));  // a JSON error, still naming the file
}

}  // namespace
}  // namespace zlt
