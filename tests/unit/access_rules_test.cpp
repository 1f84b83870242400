// The rules behind on-demand access, without sockets: grant requests, the grant store (caps,
// expiry, revocation, persistence) and RFC 3339 times.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "core/common/rfc3339.hpp"
#include "core/crypto/crypto.hpp"
#include "core/server/grants.hpp"

namespace zlt {
namespace {

using namespace std::chrono_literals;
using WallClock = std::chrono::system_clock;

TEST(GrantRequestTest, ParsesAndNamesTheBadField) {
  auto ok = grant_request_from_json(R"({"targets":["service:db","10.0.0.0/8:22"],"ttl":"10m",
                                        "name":"ops"})");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->targets.size(), 2u);
  EXPECT_EQ(ok->ttl, 10min);
  EXPECT_EQ(ok->name, "ops");
  struct Case {
    const char* json;
    const char* field;
  };
  for (const Case& c :
       {Case{R"({"ttl":"1m"})", "targets"}, Case{R"({"targets":[],"ttl":"1m"})", "targets"},
        Case{R"({"targets":["x"],"ttl":"1m"})", "targets[0]"},
        Case{R"({"targets":["service:db"],"ttl":"0s"})", "ttl"},
        Case{R"({"targets":["service:db"],"ttl":-5})", "ttl"},
        Case{R"({"targets":["service:db"],"ttl":"1m","extra":1})", "extra"},
        Case{R"([1,2])", "object"}}) {
    auto r = grant_request_from_json(c.json);
    ASSERT_FALSE(r) << c.json;
    EXPECT_NE(r.error().message.find(c.field), std::string::npos)
        << c.json << ": " << r.error().message;
  }
}

GrantRequest request(std::chrono::milliseconds ttl) {
  GrantRequest r;
  r.targets = {"service:db"};
  r.ttl = ttl;
  r.name = "t";
  return r;
}

TEST(GrantStoreTest, IssuesCapsRevokesAndExpires) {
  GrantStore store(1h);
  auto issued = store.issue(request(48h));
  ASSERT_TRUE(issued);
  EXPECT_TRUE(issued->token.starts_with("tun_"));
  EXPECT_LE(issued->grant.expires_at, WallClock::now() + 1h);
  const std::string hash = crypto::hash_token(issued->token);
  ASSERT_NE(store.find_by_token_hash(hash), nullptr);
  EXPECT_EQ(store.find_by_token_hash(hash)->targets, std::vector<std::string>{"service:db"});

  auto short_lived = store.issue(request(1s));
  ASSERT_TRUE(short_lived);
  EXPECT_EQ(store.next_expiry(), short_lived->grant.expires_at);
  EXPECT_TRUE(store.take_expired(WallClock::now()).empty());
  auto expired = store.take_expired(WallClock::now() + 2s);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].id, short_lived->grant.id);
  EXPECT_EQ(store.refusal_for(crypto::hash_token(short_lived->token)), "tunnel token expired");

  ASSERT_TRUE(store.revoke(issued->grant.id));
  EXPECT_EQ(store.find_by_token_hash(hash), nullptr);
  EXPECT_EQ(store.refusal_for(hash), "tunnel token revoked");
  EXPECT_FALSE(store.revoke(issued->grant.id));
  EXPECT_EQ(store.size(), 0u);
  EXPECT_FALSE(store.issue(request(0ms)));
}

TEST(GrantStoreTest, IssuedGrantJsonIsTheGrantAndItsToken) {
  GrantStore store(1h);
  auto issued = store.issue(request(10min));
  ASSERT_TRUE(issued);
  nlohmann::json expected = issued->grant.to_json();
  EXPECT_FALSE(expected.contains("token"));
  EXPECT_FALSE(expected.contains("token_hash"));
  expected["token"] = issued->token;
  EXPECT_EQ(issued->to_json(), expected);
  EXPECT_EQ(issued->to_json().dump(),
            nlohmann::json({{"created_at", format_rfc3339(issued->grant.created_at)},
                            {"expires_at", format_rfc3339(issued->grant.expires_at)},
                            {"grant_id", issued->grant.id.to_string()},
                            {"name", "t"},
                            {"targets", nlohmann::json::array({"service:db"})},
                            {"token", issued->token}})
                .dump());
}

TEST(GrantStoreTest, PersistsHashesOnlyAndDropsExpiredOnLoad) {
  const std::string path =
      ::testing::TempDir() + "zlt_grant_store_" + std::to_string(::getpid()) + ".json";
  std::remove(path.c_str());
  GrantStore first(24h);
  EXPECT_TRUE(first.load(path));  // no file yet: an empty store
  auto kept = first.issue(request(1h));
  ASSERT_TRUE(kept);
  ASSERT_TRUE(first.save(path));
  std::string text;
  {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_EQ(text.find(kept->token), std::string::npos) << "tokens are never written";
  EXPECT_NE(text.find(crypto::hash_token(kept->token)), std::string::npos);

  GrantStore second(24h);
  ASSERT_TRUE(second.load(path));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(second.find_by_token_hash(crypto::hash_token(kept->token)), nullptr);

  std::ofstream(path) << R"({"grants":[{"grant_id":"not-a-uuid"}]})";
  GrantStore broken(24h);
  auto st = broken.load(path);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find(path), std::string::npos) << st.error().message;
  std::remove(path.c_str());
}

TEST(Rfc3339Test, RoundTripsWholeSeconds) {
  const auto t = WallClock::from_time_t(1767225600);  // 2026-01-01T00:00:00Z
  EXPECT_EQ(format_rfc3339(t), "2026-01-01T00:00:00Z");
  EXPECT_EQ(parse_rfc3339("2026-01-01T00:00:00Z"), t);
  EXPECT_EQ(format_rfc3339(t + 1500ms), "2026-01-01T00:00:01Z");  // truncated, never later
  for (const char* bad : {"", "2026-01-01", "2026-01-01T00:00:00", "2026-01-01T00:00:00+01:00",
                          "2026-13-01T00:00:00Z", "2026-01-01T00:00:00Zjunk"})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
}

// The clock's nanosecond ticks end in 2262 and begin in 1677; a grants file holding a time
// outside them is refused instead of overflowing (found by config_json_fuzz under UBSan).
TEST(Rfc3339Test, RefusesTimesTheClockCannotHold) {
  EXPECT_TRUE(parse_rfc3339("2262-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339("1678-01-01T00:00:00Z"));
  for (const char* bad : {"2263-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                          "1677-01-01T00:00:00Z", "0000-01-01T00:00:00Z"})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
}

}  // namespace
}  // namespace zlt
