// Hostile input from authenticated peers: text that would forge log lines, admin bodies that
// are not UTF-8, and an exception escaping a callback. Each attack must leave the server
// serving, and the Bystander tunnel undisturbed.
#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/crypto/crypto.hpp"
#include "core/runtime/log.hpp"
#include "support/bystander.hpp"
#include "support/admin_client.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/raw_ws.hpp"
#include "support/tunnel_checks.hpp"

namespace zlt::test {
namespace {

constexpr const char* kAdmin = "admin-secret";

// One event per line, no line begins with forged text, and every JSON line parses.
void expect_lines_intact(LogCapture& logs, const std::string& forged) {
  for (const auto& line : logs.text()) {
    EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos) << line;
    EXPECT_FALSE(line.starts_with(forged)) << line;
  }
  for (const auto& line : logs.json()) {
    EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos) << line;
    EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  }
}

// The harness's config plus tokens attacker-0.. (one session per token; the Bystander's agent
// holds Harness::kToken).
config::TunnelServerConfig config_with_attackers(int attackers) {
  auto c = Harness::server_config();
  for (int i = 0; i < attackers; ++i) {
    config::TokenEntry t;
    t.name = "attacker-" + std::to_string(i);
    t.sha256 = crypto::hash_token(t.name);
    c.tokens.push_back(t);
  }
  return c;
}

AdminReply admin_call(std::uint16_t port, const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& token = kAdmin) {
  return zlt::test::admin_call(port, method, path, body, token);
}

TEST(HostileInput, NewlinesFromPeersCannotForgeLogLines) {
  LogCapture logs;
  Harness h;
  h.start_server(config_with_attackers(2));
  Bystander bystander(h);

  const std::string forged = "FORGED level=error";
  auto opener = open_session(h.control_port(), "attacker-0");
  ASSERT_TRUE(opener);
  const Uuid connection = crypto::uuid_v4();
  ASSERT_TRUE(opener->send(
      proto::Open{connection, proto::ServiceProtocol::tcp, "db\n" + forged + ":5432"}));
  auto refused = opener->expect<proto::ConnectFail>();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->connection_id, connection);

  auto leaver = open_session(h.control_port(), "attacker-1");
  ASSERT_TRUE(leaver);
  ASSERT_TRUE(leaver->send(proto::Disconnect{"x\n" + forged + "\r\n" + forged}));
  EXPECT_TRUE(leaver->wait_eof());

  // Both texts reached the log, escaped onto the line of their own event.
  EXPECT_TRUE(logs.wait_for("db\\n" + forged + ":5432")) << "the Open was not logged";
  EXPECT_TRUE(logs.wait_for("x\\n" + forged + "\\r\\n" + forged))
      << "the Disconnect was not logged";
  expect_lines_intact(logs, forged);
  EXPECT_TRUE(bystander.finish());
}

TEST(HostileInput, AdminBodyThatIsNotUtf8IsRefusedAndTheServerKeepsServing) {
  LogCapture logs;
  Harness h;
  auto cfg = Harness::server_config();
  cfg.admin_token_hash = crypto::hash_token(kAdmin);
  h.start_server(cfg);
  Bystander bystander(h);

  // The body that used to end the process: 0xFF inside a JSON string.
  AdminReply bad = admin_call(h.control_port(), "POST", "/admin/v1/grants",
                         "{\"targets\":[\"service:db\xff\"],\"ttl\":\"1m\"}");
  EXPECT_EQ(bad.status, 400) << bad.raw;
  ASSERT_TRUE(bad.body.is_object()) << bad.raw;
  EXPECT_EQ(bad.body["error"],
            "request body is not valid UTF-8: invalid utf-8 sequence of 1 bytes from index 23");

  AdminReply lone = admin_call(h.control_port(), "POST", "/admin/v1/grants", "\xff");
  EXPECT_EQ(lone.status, 400) << lone.raw;
  // UTF-8 that is not JSON: the parser's message quotes one byte of the 'é', not UTF-8 alone.
  AdminReply not_json = admin_call(h.control_port(), "POST", "/admin/v1/grants", "{\"ttl\": \xc3\xa9}");
  EXPECT_EQ(not_json.status, 400) << not_json.raw;
  ASSERT_TRUE(not_json.body.is_object()) << not_json.raw;
  EXPECT_TRUE(not_json.body["error"].get<std::string>().starts_with("invalid JSON: "))
      << not_json.raw;

  // A refusal that logs the path the peer sent, bytes that are not UTF-8 included.
  EXPECT_EQ(admin_call(h.control_port(), "GET", "/admin/v1/\xff\xfe", "", "wrong").status, 401);

  AdminReply status = admin_call(h.control_port(), "GET", "/admin/v1/status");
  EXPECT_EQ(status.status, 200) << status.raw;
  AdminReply grant = admin_call(h.control_port(), "POST", "/admin/v1/grants",
                           R"({"targets":["service:db"],"ttl":"1m"})");
  EXPECT_EQ(grant.status, 201) << grant.raw;
  EXPECT_TRUE(logs.has("refused: request body is not valid UTF-8"));
  EXPECT_TRUE(logs.has("GET /admin/v1/\\xff\\xfe refused: missing or wrong admin token"));
  expect_lines_intact(logs, "FORGED");
  EXPECT_TRUE(bystander.finish());
}

TEST(HostileInput, ExceptionInACallbackEndsOnlyThatConnection) {
  LogCapture logs;
  Harness h;
  h.start_server(config_with_attackers(2));
  Bystander bystander(h);
  // A host event sink that throws on one tunnel's registration, deep inside the libwebsockets
  // receive callback that carried the Register.
  h.on_loop([&h] {
    h.set_server_event_sink([&h](const nlohmann::json& e) {
      h.server_events().push(e);
      if (e.value("event", "") == "service_registered" && e["service"].value("name", "") == "boom")
        throw std::runtime_error("event sink failed");
    });
  });

  auto victim = open_session(h.control_port(), "attacker-0");
  ASSERT_TRUE(victim);
  ASSERT_TRUE(victim->send(proto::Register{"boom", proto::ServiceProtocol::tcp, 1, 0, {}}));
  EXPECT_TRUE(victim->wait_eof()) << "the connection whose callback threw is still open";
  EXPECT_TRUE(logs.wait_for("exception in websocket server callback: event sink failed"));

  // The server goes on: a new session registers a service and gets its answer.
  auto next = open_session(h.control_port(), "attacker-1");
  ASSERT_TRUE(next);
  ASSERT_TRUE(next->send(proto::Register{"fine", proto::ServiceProtocol::tcp, 1, 0, {}}));
  EXPECT_TRUE(next->expect<proto::RegisterOk>());
  EXPECT_TRUE(bystander.finish());
}

}  // namespace
}  // namespace zlt::test
