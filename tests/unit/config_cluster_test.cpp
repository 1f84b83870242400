// The cluster block of a server configuration: the Redis URL forms, the member's identity,
// the secret (never serialised) and every rule naming its field.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "support/result_text.hpp"

namespace zlt::config {
namespace {

using nlohmann::json;

json member_json() {
  return json::parse(R"({"tokens": [{"token": "t"}], "cluster": {
    "redis": "redis://127.0.0.1:6379/0", "node_id": "edge-1",
    "advertise_url": "ws://10.0.0.5:3679/tunnel/v1",
    "secret": "a shared secret for server-to-server links", "lease": "10s"}})");
}

std::string first_error(const json& j) {
  auto c = server_config_from_json(j);
  if (!c) return c.error().message;
  auto st = c->validate();
  return st ? "" : st.error().message;
}

TEST(RedisUrl, TheFormsAnOperatorWrites) {
  auto plain = parse_redis_url("redis://127.0.0.1:6379/0", "cluster.redis");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, 6379);
  EXPECT_EQ(plain->db, 0u);
  EXPECT_FALSE(plain->password);
  EXPECT_FALSE(plain->tls);

  auto with_password = parse_redis_url("redis://:s3cret@redis.internal:7000/3", "cluster.redis");
  ASSERT_TRUE(with_password);
  EXPECT_EQ(with_password->host, "redis.internal");
  EXPECT_EQ(with_password->port, 7000);
  EXPECT_EQ(with_password->db, 3u);
  EXPECT_EQ(with_password->password, "s3cret");

  auto user_and_password = parse_redis_url("redis://default:pw@[::1]:6380", "cluster.redis");
  ASSERT_TRUE(user_and_password);
  EXPECT_EQ(user_and_password->host, "::1");
  EXPECT_EQ(user_and_password->port, 6380);
  EXPECT_EQ(user_and_password->password, "pw");

  auto bare = parse_redis_url("redis://localhost", "cluster.redis");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->host, "localhost");
  EXPECT_EQ(bare->port, 6379);

  auto tls = parse_redis_url("rediss://127.0.0.1:6380/1", "cluster.redis");
  ASSERT_TRUE(tls);
  EXPECT_TRUE(tls->tls);
}

TEST(RedisUrl, BadOnesNameTheFieldAndNeverThePassword) {
  for (const char* bad : {"http://127.0.0.1:6379", "redis://", "redis://:@h:1",
                          "redis://h:0/0", "redis://h:1/16", "redis://h:1/x",
                          "redis://:hunter2@h:99999"}) {
    auto e = parse_redis_url(bad, "cluster.redis");
    ASSERT_FALSE(e) << bad;
    EXPECT_TRUE(e.error().message.starts_with("cluster.redis: ")) << e.error().message;
    EXPECT_EQ(e.error().message.find("hunter2"), std::string::npos) << e.error().message;
  }
}

TEST(ClusterConfig, ReadFromJsonAndValid) {
  auto c = server_config_from_json(member_json());
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE(c->cluster);
  EXPECT_EQ(c->cluster->node_id, "edge-1");
  EXPECT_EQ(c->cluster->lease, std::chrono::seconds(10));
  EXPECT_TRUE(c->validate()) << c->validate().error().message;
}

TEST(ClusterConfig, SerialisedWithoutTheSecretOrThePassword) {
  json j = member_json();
  j["cluster"]["redis"] = "redis://:hunter2@127.0.0.1:6379/0";
  auto c = server_config_from_json(j);
  ASSERT_TRUE(c);
  const std::string text = to_json(*c).dump();
  EXPECT_EQ(text.find("a shared secret"), std::string::npos) << text;
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_NE(text.find("redis://:***@127.0.0.1:6379/0"), std::string::npos) << text;
  EXPECT_NE(text.find("\"node_id\":\"edge-1\""), std::string::npos) << text;
}

TEST(ClusterConfig, EveryRuleNamesItsField) {
  auto with = [](const char* key, json value) {
    json j = member_json();
    j["cluster"][key] = std::move(value);
    return first_error(j);
  };
  EXPECT_EQ(with("node_id", ""), "cluster.node_id: must be 1-64 characters");
  EXPECT_EQ(with("node_id", "edge 1"), "cluster.node_id: only letters, digits, '.', '_' and '-'");
  EXPECT_EQ(with("advertise_url", "http://x"),
            "cluster.advertise_url: must start with ws:// or wss://");
  EXPECT_EQ(with("secret", "short"), "cluster.secret: must be at least 16 characters");
  EXPECT_EQ(with("lease", "500ms"), "cluster.lease: must be >= 1s");
  EXPECT_TRUE(with("redis", "rediss://127.0.0.1:6380").starts_with("cluster.redis: rediss://"));
  EXPECT_TRUE(with("redis", "tcp://x").starts_with("cluster.redis: must start with redis://"));

  json missing = member_json();
  missing["cluster"].erase("secret");
  EXPECT_EQ(first_error(missing), "cluster: missing required key 'secret'");
  json unknown = member_json();
  unknown["cluster"]["nodeid"] = "x";
  EXPECT_EQ(first_error(unknown), "cluster: unknown key 'nodeid'");
  json with_file = member_json();
  with_file["grants_file"] = "/var/lib/zlt/grants.json";
  EXPECT_EQ(first_error(with_file),
            "grants_file: a cluster keeps its grants in Redis; remove grants_file");
}

TEST(ClusterConfig, CollectedWithEveryOtherErrorForCheck) {
  json j = member_json();
  j["cluster"]["node_id"] = "";
  j["cluster"]["lease"] = "0s";
  j["max_connections"] = 0;
  ErrorList errors;
  auto c = collect_server_config(j, errors);
  ASSERT_TRUE(c);
  c->validate_all(errors);
  EXPECT_EQ(errors.size(), 3u);
}

}  // namespace
}  // namespace zlt::config
