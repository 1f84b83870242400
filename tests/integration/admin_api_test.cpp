// The admin HTTP API on the server's own listener: Bearer auth, grants issued, listed and
// revoked, status, and errors that say what is wrong.
#include <gtest/gtest.h>

#include "core/crypto/crypto.hpp"
#include "support/admin_client.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/tunnel_checks.hpp"

namespace zlt::test {
namespace {

constexpr const char* kAdmin = "admin-secret";

using Reply = AdminReply;

class AdminApiTest : public ::testing::Test {
 protected:
  void start(bool with_admin = true) {
    auto cfg = Harness::server_config();
    if (with_admin) cfg.admin_token_hash = crypto::hash_token(kAdmin);
    h_.start_server(cfg);
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             std::optional<std::string> token = kAdmin) {
    return admin_call(h_.control_port(), method, path, body, token);
  }

  Harness h_;
};

TEST_F(AdminApiTest, NeedsTheRightBearerToken) {
  start();
  EXPECT_EQ(call("GET", "/admin/v1/grants", "", std::nullopt).status, 401);
  Reply wrong = call("GET", "/admin/v1/grants", "", std::string("not-it"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body["error"], "missing or wrong admin token");
  EXPECT_EQ(call("GET", "/admin/v1/grants", "", std::string("")).status, 401);
  // The agents' token is not an admin token.
  EXPECT_EQ(call("GET", "/admin/v1/grants", "", std::string(Harness::kToken)).status, 401);
  Reply right = call("GET", "/admin/v1/grants");
  EXPECT_EQ(right.status, 200) << right.raw;
  EXPECT_EQ(right.body["grants"], nlohmann::json::array());
}

TEST_F(AdminApiTest, IsOffWithoutAnAdminToken) {
  start(false);
  EXPECT_EQ(call("GET", "/admin/v1/grants").status, 404);
  EXPECT_EQ(call("POST", "/admin/v1/grants", R"({"targets":["service:db"],"ttl":"1m"})").status,
            404);
  // The rest of the listener is unaffected.
  auto health = http_exchange(h_.control_port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(health);
  EXPECT_NE(health->find("200"), std::string::npos);
}

TEST_F(AdminApiTest, IssuesListsAndRevokesGrants) {
  start();
  Reply issued =
      call("POST", "/admin/v1/grants", R"({"targets":["service:db"],"ttl":"10m","name":"ops"})");
  ASSERT_EQ(issued.status, 201) << issued.raw;
  const std::string token = issued.body["token"];
  const std::string id = issued.body["grant_id"];
  EXPECT_TRUE(token.starts_with("tun_"));
  EXPECT_EQ(token.size(), 36u);
  EXPECT_TRUE(issued.body["expires_at"].is_string());
  EXPECT_EQ(issued.body["targets"], nlohmann::json::array({"service:db"}));

  // The grant is usable at once: an agent authenticates with its token.
  auto client = h_.client_config();
  client.token = token;
  h_.start_agent(client);
  EXPECT_TRUE(h_.agent_events().wait_event("authenticated"));

  Reply listed = call("GET", "/admin/v1/grants");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.body["grants"].size(), 1u);
  EXPECT_EQ(listed.body["grants"][0]["grant_id"], id);
  EXPECT_EQ(listed.body["grants"][0]["name"], "ops");
  EXPECT_EQ(listed.raw.find(token), std::string::npos) << "a listing never shows tokens";
  EXPECT_EQ(listed.raw.find(crypto::hash_token(token)), std::string::npos);

  Reply status = call("GET", "/admin/v1/status");
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(status.body["tunnel_count"], 1);
  EXPECT_TRUE(status.body["traffic"].is_object());

  Reply revoked = call("DELETE", "/admin/v1/grants/" + id);
  EXPECT_EQ(revoked.status, 204) << revoked.raw;
  auto gone = h_.agent_events().wait_for([](const nlohmann::json& e) {
    return e.value("event", "") == "disconnected" && e.value("fatal", false);
  });
  ASSERT_TRUE(gone);
  EXPECT_EQ((*gone)["reason"], "server disconnected: fatal: token revoked");
  EXPECT_EQ(call("DELETE", "/admin/v1/grants/" + id).status, 404);
  EXPECT_EQ(call("GET", "/admin/v1/grants").body["grants"].size(), 0u);
}

TEST_F(AdminApiTest, BadRequestsNameTheField) {
  start();
  struct Case {
    std::string body;
    std::string names;
  };
  for (const Case& c : std::vector<Case>{
           {"{not json", "JSON"},
           {R"({"ttl":"1m"})", "targets"},
           {R"({"targets":[],"ttl":"1m"})", "targets"},
           {R"({"targets":"service:db","ttl":"1m"})", "targets"},
           {R"({"targets":["service:db","nonsense"],"ttl":"1m"})", "targets[1]"},
           {R"({"targets":["service:db"]})", "ttl"},
           {R"({"targets":["service:db"],"ttl":"0s"})", "ttl"},
           {R"({"targets":["service:db"],"ttl":"soon"})", "ttl"},
           {R"({"targets":["service:db"],"ttl":"1m","color":"red"})", "color"},
       }) {
    Reply r = call("POST", "/admin/v1/grants", c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.raw;
    const std::string error = r.body.is_object() ? r.body.value("error", "") : "";
    EXPECT_NE(error.find(c.names), std::string::npos) << c.body << " -> " << error;
  }
  EXPECT_EQ(call("GET", "/admin/v1/grants").body["grants"].size(), 0u);
}

TEST_F(AdminApiTest, UnknownPathsAndMethods) {
  start();
  EXPECT_EQ(call("GET", "/admin/v1/nothing").status, 404);
  EXPECT_EQ(call("GET", "/admin/v2/grants").status, 404);
  EXPECT_EQ(call("DELETE", "/admin/v1/grants/not-a-uuid").status, 404);
  EXPECT_EQ(call("PUT", "/admin/v1/grants", "{}").status, 405);
  EXPECT_EQ(call("POST", "/admin/v1/status", "{}").status, 405);
  // The control path still upgrades and agents still connect.
  h_.start_agent(h_.client_config());
  EXPECT_TRUE(h_.agent_events().wait_event("authenticated"));
}

}  // namespace
}  // namespace zlt::test
