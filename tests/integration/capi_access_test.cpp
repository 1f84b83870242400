// On-demand access through the C interface only: a registry issues a grant, an agent exposes
// an internal echo service, and an access object using the grant's token reaches it as
// "service:echo" through a local port; revoking the grant ends that access. Plus the errors
// (bad JSON, TTL 0, bad targets, unknown ids) and the lifetime rules of zlt_access.
#include <gtest/gtest.h>
#include <zlayer_tunnel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/capi_events.hpp"
#include "support/net.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using zlt::test::EchoServer;
using zlt::test::Events;
using zlt::test::Fd;
using zlt::test::take;

constexpr const char* kServerConfig =
    R"({"listen":"127.0.0.1:0","public_bind":"127.0.0.1","data_port_range":[0,0],)"
    R"("tokens":[{"token":"s3cret"}]})";

std::string url(int control_port) {
  return "ws://127.0.0.1:" + std::to_string(control_port) + "/tunnel/v1";
}

bool echo_through(std::uint16_t port, const std::string& payload) {
  Fd c = zlt::test::tcp_connect(port);
  if (!c) return false;
  zlt::test::set_timeouts(c.get(), 5s);
  if (!zlt::test::send_all(c.get(), payload)) return false;
  auto back = zlt::test::recv_exact(c.get(), payload.size());
  return back && *back == payload;
}

void expect_error(int rc, int expected, const std::string& fragment) {
  EXPECT_EQ(rc, expected) << zlt_last_error();
  EXPECT_NE(std::string(zlt_last_error()).find(fragment), std::string::npos)
      << "'" << zlt_last_error() << "' should mention '" << fragment << "'";
}

class CapiAccess : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(zlt_runtime_new(&rt_), ZLT_OK) << zlt_last_error();
    ASSERT_EQ(zlt_registry_new(rt_, kServerConfig, &reg_), ZLT_OK) << zlt_last_error();
    ASSERT_EQ(zlt_registry_on_event(reg_, Events::callback, &server_events_), ZLT_OK);
    ASSERT_EQ(zlt_registry_listen(reg_, "127.0.0.1", 0, &control_port_), ZLT_OK)
        << zlt_last_error();
  }
  void TearDown() override {
    for (auto* a : accesses_) zlt_access_free(a);
    for (auto* a : agents_) zlt_agent_free(a);
    zlt_registry_free(reg_);
    EXPECT_EQ(zlt_runtime_free(rt_), ZLT_OK);
  }

  // An agent exposing `echo` as the internal service "echo", registered.
  void expose_internal_echo(const EchoServer& echo) {
    json config = {
        {"server_url", url(control_port_)},
        {"token", "s3cret"},
        {"reconnect_interval", "100ms"},
        {"services", {{{"name", "echo"}, {"local_port", echo.port()}, {"internal", true}}}}};
    zlt_agent* agent = nullptr;
    ASSERT_EQ(zlt_agent_new(rt_, config.dump().c_str(), &agent), ZLT_OK) << zlt_last_error();
    agents_.push_back(agent);
    ASSERT_EQ(zlt_agent_on_event(agent, Events::callback, &agent_events_), ZLT_OK);
    ASSERT_EQ(zlt_agent_start(agent), ZLT_OK);
    auto registered = agent_events_.wait("service_registered");
    ASSERT_TRUE(registered) << "no service_registered event";
    // Internal: no public port.
    EXPECT_TRUE((*registered)["public_port"].is_null()) << registered->dump();
  }

  json grant(const std::string& request) {
    char* out = nullptr;
    int rc = zlt_registry_grant_access(reg_, request.c_str(), &out);
    EXPECT_EQ(rc, ZLT_OK) << zlt_last_error();
    if (rc != ZLT_OK) return json();
    return json::parse(take(out));
  }

  zlt_access* new_access(const std::string& token, Events* events, json extra = json::object()) {
    json config = {{"server_url", url(control_port_)}, {"token", token}};
    config.update(extra);
    zlt_access* access = nullptr;
    EXPECT_EQ(zlt_access_new(rt_, config.dump().c_str(), &access), ZLT_OK) << zlt_last_error();
    if (access == nullptr) return nullptr;
    accesses_.push_back(access);
    if (events != nullptr) {
      EXPECT_EQ(zlt_access_on_event(access, Events::callback, events), ZLT_OK);
    }
    return access;
  }

  static json start_session(zlt_access* access, const json& request) {
    char* out = nullptr;
    int rc = zlt_access_start_session(access, request.dump().c_str(), &out);
    EXPECT_EQ(rc, ZLT_OK) << zlt_last_error();
    if (rc != ZLT_OK) return json();
    return json::parse(take(out));
  }

  static json list(zlt_access* access) {
    char* out = nullptr;
    EXPECT_EQ(zlt_access_list(access, &out), ZLT_OK) << zlt_last_error();
    return json::parse(take(out));
  }

  json grants() {
    char* out = nullptr;
    EXPECT_EQ(zlt_registry_list_grants(reg_, &out), ZLT_OK) << zlt_last_error();
    return json::parse(take(out));
  }

  zlt_runtime* rt_ = nullptr;
  zlt_registry* reg_ = nullptr;
  int control_port_ = 0;
  std::vector<zlt_agent*> agents_;
  std::vector<zlt_access*> accesses_;
  // Outlive the objects, which are freed in TearDown.
  Events server_events_;
  Events agent_events_;
  Events access_events_;
  Events other_events_;
};

TEST_F(CapiAccess, GrantIsIssuedListedAndRevoked) {
  json g = grant(R"({"targets":["service:echo"],"ttl":"10m","name":"alice"})");
  ASSERT_TRUE(g.is_object());
  EXPECT_EQ(g["name"], "alice");
  EXPECT_EQ(g["targets"], json::array({"service:echo"}));
  const std::string token = g.value("token", "");
  EXPECT_EQ(token.rfind("tun_", 0), 0u) << g.dump();
  EXPECT_EQ(g.value("grant_id", "").size(), 36u) << g.dump();
  EXPECT_TRUE(g["expires_at"].is_string());
  EXPECT_TRUE(g["created_at"].is_string());

  json listed = grants();
  ASSERT_TRUE(listed.is_array());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["grant_id"], g["grant_id"]);
  EXPECT_FALSE(listed[0].contains("token")) << "the token is shown only once";
  EXPECT_FALSE(listed[0].contains("token_hash"));

  auto issued = server_events_.wait("grant_issued");
  ASSERT_TRUE(issued);
  EXPECT_EQ((*issued)["grant"]["grant_id"], g["grant_id"]);
  EXPECT_FALSE((*issued)["grant"].contains("token"));

  const std::string id = g["grant_id"];
  ASSERT_EQ(zlt_registry_revoke_access(reg_, id.c_str()), ZLT_OK) << zlt_last_error();
  auto revoked = server_events_.wait("grant_revoked");
  ASSERT_TRUE(revoked);
  EXPECT_EQ((*revoked)["grant"]["grant_id"], g["grant_id"]);
  EXPECT_TRUE(grants().empty());
  expect_error(zlt_registry_revoke_access(reg_, id.c_str()), ZLT_ENOTFOUND, "no such grant");
}

TEST_F(CapiAccess, GrantRequestErrors) {
  char* out = reinterpret_cast<char*>(0x1);
  expect_error(zlt_registry_grant_access(reg_, "{", &out), ZLT_ECONFIG, "invalid JSON");
  EXPECT_EQ(out, nullptr);
  expect_error(zlt_registry_grant_access(reg_, R"({"targets":["service:echo"],"ttl":"0s"})", &out),
               ZLT_ECONFIG, "ttl");
  expect_error(zlt_registry_grant_access(reg_, R"({"targets":["service:echo"],"ttl":0})", &out),
               ZLT_ECONFIG, "ttl");
  expect_error(zlt_registry_grant_access(reg_, R"({"targets":["nonsense"],"ttl":"1m"})", &out),
               ZLT_ECONFIG, "targets[0]");
  expect_error(zlt_registry_grant_access(reg_, R"({"targets":[],"ttl":"1m"})", &out), ZLT_ECONFIG,
               "targets");
  expect_error(zlt_registry_grant_access(reg_, R"({"ttl":"1m"})", &out), ZLT_ECONFIG, "targets");
  expect_error(
      zlt_registry_grant_access(reg_, R"({"targets":["service:a"],"ttl":"1m","x":1})", &out),
      ZLT_ECONFIG, "unknown key 'x'");
  expect_error(zlt_registry_grant_access(reg_, nullptr, &out), ZLT_EINVAL, "request_json");
  expect_error(zlt_registry_grant_access(nullptr, "{}", &out), ZLT_EINVAL,
               "zlt_registry_grant_access: reg");
  expect_error(zlt_registry_grant_access(reg_, "{}", nullptr), ZLT_EINVAL, "json_out");
  EXPECT_TRUE(grants().empty()) << "nothing was issued";

  expect_error(zlt_registry_revoke_access(reg_, "not-a-uuid"), ZLT_EINVAL, "not-a-uuid");
  expect_error(zlt_registry_revoke_access(reg_, "00000000-0000-4000-8000-000000000000"),
               ZLT_ENOTFOUND, "no such grant");
  expect_error(zlt_registry_revoke_access(reg_, nullptr), ZLT_EINVAL, "grant_id");
  expect_error(zlt_registry_list_grants(nullptr, &out), ZLT_EINVAL, "reg");
}

TEST_F(CapiAccess, GrantedTokenReachesAnInternalServiceUntilRevoked) {
  EchoServer echo;
  expose_internal_echo(echo);
  json g = grant(R"({"targets":["service:echo"],"ttl":"10m","name":"alice"})");
  ASSERT_TRUE(g.is_object());

  zlt_access* access = new_access(g["token"], &access_events_);
  ASSERT_NE(access, nullptr);
  json session = start_session(access, {{"target", "service:echo"}, {"ttl", "10m"}});
  ASSERT_TRUE(session.is_object());
  EXPECT_EQ(session["target"], "service:echo");
  EXPECT_EQ(session["protocol"], "tcp");
  EXPECT_TRUE(session["expires_at"].is_string()) << session.dump();
  const auto port = session.value("local_port", std::uint16_t{0});
  ASSERT_GT(port, 0) << session.dump();
  EXPECT_EQ(session["local_addr"], "127.0.0.1:" + std::to_string(port));
  EXPECT_TRUE(access_events_.wait("session_started"));
  ASSERT_TRUE(access_events_.wait("authenticated")) << "the granted token was not accepted";
  auto connected = server_events_.wait([](const json& e) {
    return e.value("event", "") == "tunnel_connected" && e.value("name", "") == "alice";
  });
  EXPECT_TRUE(connected) << "the server does not name the access tunnel after its grant";

  EXPECT_TRUE(echo_through(port, "through a granted token"));
  EXPECT_TRUE(echo_through(port, zlt::test::pattern_bytes(300000, 11)));
  EXPECT_GE(echo.accepted(), 2);

  json sessions = list(access);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0]["id"], session["id"]);
  EXPECT_EQ(sessions[0]["local_port"], port);
  EXPECT_GE(sessions[0].value("connections_total", 0), 2);
  EXPECT_GE(std::max(sessions[0].value("bytes_in", 0), sessions[0].value("bytes_out", 0)), 300000)
      << sessions[0].dump();

  // A connection open while the grant is revoked is closed with the session.
  Fd open = zlt::test::tcp_connect(port);
  ASSERT_TRUE(open);
  zlt::test::set_timeouts(open.get(), 5s);
  ASSERT_TRUE(zlt::test::send_all(open.get(), "still here"));
  ASSERT_EQ(zlt::test::recv_exact(open.get(), 10).value_or(""), "still here");

  const std::string id = g["grant_id"];
  ASSERT_EQ(zlt_registry_revoke_access(reg_, id.c_str()), ZLT_OK) << zlt_last_error();
  auto fatal = access_events_.wait("fatal");
  ASSERT_TRUE(fatal) << "no fatal event after the revocation";
  EXPECT_NE((*fatal)["reason"].get<std::string>().find("revoked"), std::string::npos)
      << fatal->dump();
  auto stopped = access_events_.wait("session_stopped");
  ASSERT_TRUE(stopped);
  EXPECT_EQ((*stopped)["session"]["id"], session["id"]);
  EXPECT_TRUE(zlt::test::wait_closed(open.get(), 5s));
  EXPECT_TRUE(list(access).empty());

  // Access is over for good.
  char* out = nullptr;
  expect_error(zlt_access_start_session(access, R"({"target":"service:echo"})", &out),
               ZLT_ESHUTDOWN, "revoked");
  EXPECT_EQ(out, nullptr);
  // And the token is refused from now on.
  zlt_access* again = new_access(g["token"], &other_events_);
  ASSERT_NE(again, nullptr);
  json second = start_session(again, {{"target", "service:echo"}});
  EXPECT_TRUE(second.is_object());
  auto failed = other_events_.wait("auth_failed");
  ASSERT_TRUE(failed) << "a revoked token was accepted again";
  EXPECT_NE(failed->dump().find("revoked"), std::string::npos) << failed->dump();
}

TEST_F(CapiAccess, ExpiredGrantEndsAccess) {
  EchoServer echo;
  expose_internal_echo(echo);
  json g = grant(R"({"targets":["service:echo"],"ttl":"2s"})");
  zlt_access* access = new_access(g["token"], &access_events_);
  ASSERT_NE(access, nullptr);
  json session = start_session(access, {{"target", "service:echo"}});
  ASSERT_TRUE(access_events_.wait("authenticated"));
  EXPECT_TRUE(echo_through(session.value("local_port", std::uint16_t{0}), "before expiry"));
  auto fatal = access_events_.wait("fatal");
  ASSERT_TRUE(fatal) << "no fatal event when the grant expired";
  EXPECT_NE((*fatal)["reason"].get<std::string>().find("expired"), std::string::npos)
      << fatal->dump();
  EXPECT_TRUE(server_events_.wait("grant_expired"));
  EXPECT_TRUE(list(access).empty());
  EXPECT_TRUE(grants().empty());
  const std::string id = g["grant_id"];
  expect_error(zlt_registry_revoke_access(reg_, id.c_str()), ZLT_ENOTFOUND, "no such grant");
}

TEST_F(CapiAccess, StopSessionAndExpiry) {
  EchoServer echo;
  expose_internal_echo(echo);
  json g = grant(R"({"targets":["service:*"],"ttl":"10m"})");
  zlt_access* access = new_access(g["token"], &access_events_, {{"default_ttl", "1h"}});
  ASSERT_NE(access, nullptr);

  json a = start_session(access, {{"target", "service:echo"}});
  EXPECT_TRUE(a["expires_at"].is_string()) << "default_ttl applies: " << a.dump();
  json b = start_session(access, {{"target", "service:echo"}, {"ttl", "200ms"}});
  ASSERT_TRUE(access_events_.wait("authenticated"));
  EXPECT_TRUE(echo_through(a.value("local_port", std::uint16_t{0}), "first"));
  EXPECT_TRUE(echo_through(b.value("local_port", std::uint16_t{0}), "second"));

  // b expires by itself.
  auto expired = access_events_.wait("session_expired");
  ASSERT_TRUE(expired);
  EXPECT_EQ((*expired)["session"]["id"], b["id"]);
  json sessions = list(access);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0]["id"], a["id"]);

  const std::string id = a["id"];
  ASSERT_EQ(zlt_access_stop_session(access, id.c_str()), ZLT_OK) << zlt_last_error();
  auto stopped = access_events_.wait("session_stopped");
  ASSERT_TRUE(stopped);
  EXPECT_EQ((*stopped)["session"]["id"], a["id"]);
  EXPECT_TRUE(list(access).empty());
  expect_error(zlt_access_stop_session(access, id.c_str()), ZLT_ENOTFOUND, "no such session");
  const std::string expired_id = b["id"];
  expect_error(zlt_access_stop_session(access, expired_id.c_str()), ZLT_ENOTFOUND,
               "no such session");
}

TEST_F(CapiAccess, TargetOutsideTheGrantIsRefusedByTheServer) {
  EchoServer echo;
  expose_internal_echo(echo);
  json g = grant(R"({"targets":["service:other"],"ttl":"10m"})");
  zlt_access* access = new_access(g["token"], &access_events_);
  json session = start_session(access, {{"target", "service:echo"}});
  ASSERT_TRUE(access_events_.wait("authenticated"));
  Fd c = zlt::test::tcp_connect(session.value("local_port", std::uint16_t{0}));
  ASSERT_TRUE(c);
  zlt::test::send_all(c.get(), "let me in");
  EXPECT_TRUE(zlt::test::wait_closed(c.get(), 5s));
  EXPECT_EQ(echo.accepted(), 0);
}

TEST_F(CapiAccess, SessionRequestErrors) {
  zlt_access* access = new_access("tun_whatever", nullptr);
  ASSERT_NE(access, nullptr);
  char* out = reinterpret_cast<char*>(0x1);
  expect_error(zlt_access_start_session(access, "{", &out), ZLT_ECONFIG, "invalid JSON");
  EXPECT_EQ(out, nullptr);
  expect_error(zlt_access_start_session(access, R"({"target":"service:echo","ttl":"0s"})", &out),
               ZLT_EINVAL, "ttl must be > 0");
  expect_error(zlt_access_start_session(access, R"({"target":"service:echo","ttl":0})", &out),
               ZLT_EINVAL, "ttl must be > 0");
  expect_error(zlt_access_start_session(access, R"({"target":"nonsense"})", &out), ZLT_EINVAL,
               "invalid target 'nonsense'");
  expect_error(zlt_access_start_session(access, R"({"target":"service:"})", &out), ZLT_EINVAL,
               "invalid target");
  expect_error(zlt_access_start_session(access, R"({"target":"db.internal:0"})", &out), ZLT_EINVAL,
               "invalid target");
  expect_error(zlt_access_start_session(access, R"({"local_port":0})", &out), ZLT_ECONFIG,
               "target");
  expect_error(zlt_access_start_session(access, R"({"target":"service:a","ttl":"soon"})", &out),
               ZLT_ECONFIG, "ttl");
  expect_error(
      zlt_access_start_session(access, R"({"target":"service:a","local_port":70000})", &out),
      ZLT_ECONFIG, "local_port");
  expect_error(
      zlt_access_start_session(access, R"({"target":"service:a","protocol":"sctp"})", &out),
      ZLT_ECONFIG, "protocol");
  expect_error(zlt_access_start_session(access, R"({"target":"service:a","bogus":1})", &out),
               ZLT_ECONFIG, "unknown key 'bogus'");
  expect_error(zlt_access_start_session(access, nullptr, &out), ZLT_EINVAL, "request_json");
  expect_error(zlt_access_start_session(access, "{}", nullptr), ZLT_EINVAL, "json_out");
  expect_error(zlt_access_stop_session(access, "x"), ZLT_EINVAL, "'x' is not a session id");
  expect_error(zlt_access_stop_session(access, "00000000-0000-4000-8000-000000000000"),
               ZLT_ENOTFOUND, "no such session");
  EXPECT_TRUE(list(access).empty()) << "no session was started";

  // A port already taken cannot be bound.
  std::uint16_t taken = 0;
  Fd listener = zlt::test::tcp_listen(&taken);
  ASSERT_TRUE(listener);
  json busy = {{"target", "service:a"}, {"local_port", taken}};
  EXPECT_EQ(zlt_access_start_session(access, busy.dump().c_str(), &out), ZLT_ECONNECTION)
      << zlt_last_error();
}

TEST_F(CapiAccess, ConfigurationErrors) {
  const std::string server = url(control_port_);
  auto config = [&](json extra) {
    json c = {{"server_url", server}, {"token", "t"}};
    c.update(extra);
    return c.dump();
  };
  zlt_access* access = reinterpret_cast<zlt_access*>(0x1);
  expect_error(zlt_access_new(rt_, "{", &access), ZLT_ECONFIG, "invalid JSON");
  EXPECT_EQ(access, nullptr);
  expect_error(zlt_access_new(rt_, nullptr, &access), ZLT_ECONFIG, "server_url");
  expect_error(zlt_access_new(rt_, R"({"server_url":"http://x","token":"t"})", &access),
               ZLT_ECONFIG, "server_url");
  expect_error(zlt_access_new(rt_, R"({"server_url":"ws://127.0.0.1:1/tunnel/v1"})", &access),
               ZLT_ECONFIG, "token");
  expect_error(
      zlt_access_new(rt_, config({{"services", {{{"name", "web"}, {"local_port", 80}}}}}).c_str(),
                     &access),
      ZLT_ECONFIG, "services");
  expect_error(zlt_access_new(rt_, config({{"default_ttl", "0s"}}).c_str(), &access), ZLT_ECONFIG,
               "default_ttl");
  expect_error(zlt_access_new(rt_, config({{"default_ttl", "later"}}).c_str(), &access),
               ZLT_ECONFIG, "default_ttl");
  expect_error(zlt_access_new(rt_, config({{"local_bind", "not an address"}}).c_str(), &access),
               ZLT_ECONFIG, "local_bind");
  expect_error(zlt_access_new(rt_, config({{"bogus", true}}).c_str(), &access), ZLT_ECONFIG,
               "unknown key 'bogus'");
  expect_error(zlt_access_new(rt_, "[]", &access), ZLT_ECONFIG, "");
  EXPECT_EQ(access, nullptr);

  // Every client and access setting together is fine.
  ASSERT_EQ(zlt_access_new(rt_,
                           config({{"default_ttl", "5m"},
                                   {"local_bind", "127.0.0.1"},
                                   {"reconnect_interval", "1s"},
                                   {"insecure", false},
                                   {"services", json::array()}})
                               .c_str(),
                           &access),
            ZLT_OK)
      << zlt_last_error();
  zlt_access_free(access);
}

TEST(CapiAccessArguments, NullArgumentsAreRefusedWithTheirName) {
  char* out = reinterpret_cast<char*>(0x1);
  zlt_access* access = reinterpret_cast<zlt_access*>(0x1);
  expect_error(zlt_access_new(nullptr, "{}", &access), ZLT_EINVAL, "zlt_access_new: rt");
  EXPECT_EQ(access, nullptr);
  expect_error(zlt_access_new(nullptr, "{}", nullptr), ZLT_EINVAL, "zlt_access_new: out");
  expect_error(zlt_access_on_event(nullptr, nullptr, nullptr), ZLT_EINVAL,
               "zlt_access_on_event: access");
  expect_error(zlt_access_start_session(nullptr, "{}", &out), ZLT_EINVAL,
               "zlt_access_start_session: access");
  EXPECT_EQ(out, nullptr);
  expect_error(zlt_access_stop_session(nullptr, "x"), ZLT_EINVAL,
               "zlt_access_stop_session: access");
  expect_error(zlt_access_list(nullptr, &out), ZLT_EINVAL, "zlt_access_list: access");
  expect_error(zlt_access_list(nullptr, nullptr), ZLT_EINVAL, "json_out");
  expect_error(zlt_registry_revoke_access(nullptr, "x"), ZLT_EINVAL,
               "zlt_registry_revoke_access: reg");
  zlt_access_free(nullptr);
}

TEST_F(CapiAccess, FreedInsideItsOwnCallback) {
  EchoServer echo;
  expose_internal_echo(echo);
  json g = grant(R"({"targets":["service:echo"],"ttl":"10m"})");
  struct Freeing {
    zlt_access* access = nullptr;
    std::atomic<bool> freed{false};
    std::atomic<int> after_free{0};
  };
  auto f = std::make_shared<Freeing>();
  access_events_.hook = [f](const json& e) {
    if (f->freed) {
      ++f->after_free;
      return;
    }
    if (e["event"] == "authenticated") {
      zlt_access_free(f->access);  // the callback's own object
      f->freed = true;
    }
  };
  json config = {{"server_url", url(control_port_)}, {"token", g["token"]}};
  ASSERT_EQ(zlt_access_new(rt_, config.dump().c_str(), &f->access), ZLT_OK);  // not in accesses_
  ASSERT_EQ(zlt_access_on_event(f->access, Events::callback, &access_events_), ZLT_OK);
  json session = start_session(f->access, {{"target", "service:echo"}});
  ASSERT_TRUE(access_events_.wait("authenticated"));
  EXPECT_TRUE(f->freed);
  // The deferred destruction closes the connection; the server notices.
  EXPECT_TRUE(server_events_.wait("tunnel_disconnected"));
  EXPECT_EQ(f->after_free.load(), 0);
}

TEST(CapiAccessLifetime, RuntimeFreedBeforeTheAccessObject) {
  zlt_runtime* rt = nullptr;
  ASSERT_EQ(zlt_runtime_new(&rt), ZLT_OK);
  zlt_registry* reg = nullptr;
  ASSERT_EQ(zlt_registry_new(rt, kServerConfig, &reg), ZLT_OK);
  int control_port = 0;
  ASSERT_EQ(zlt_registry_listen(reg, "127.0.0.1", 0, &control_port), ZLT_OK);
  char* out = nullptr;
  ASSERT_EQ(zlt_registry_grant_access(reg, R"({"targets":["service:x"],"ttl":"1m"})", &out),
            ZLT_OK);
  json g = json::parse(take(out));
  Events events;
  json config = {{"server_url", url(control_port)}, {"token", g["token"]}};
  zlt_access* access = nullptr;
  ASSERT_EQ(zlt_access_new(rt, config.dump().c_str(), &access), ZLT_OK);
  ASSERT_EQ(zlt_access_on_event(access, Events::callback, &events), ZLT_OK);
  ASSERT_EQ(zlt_access_start_session(access, R"({"target":"service:x"})", &out), ZLT_OK);
  json session = json::parse(take(out));
  ASSERT_TRUE(events.wait("authenticated"));

  ASSERT_EQ(zlt_runtime_free(rt), ZLT_OK);
  const std::size_t seen = events.size();
  EXPECT_EQ(zlt_access_list(access, &out), ZLT_ESHUTDOWN);
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(zlt_access_start_session(access, R"({"target":"service:x"})", &out), ZLT_ESHUTDOWN);
  const std::string id = session["id"];
  EXPECT_EQ(zlt_access_stop_session(access, id.c_str()), ZLT_ESHUTDOWN);
  EXPECT_EQ(zlt_access_on_event(access, nullptr, nullptr), ZLT_ESHUTDOWN);
  EXPECT_EQ(zlt_registry_grant_access(reg, R"({"targets":["service:x"],"ttl":"1m"})", &out),
            ZLT_ESHUTDOWN);
  EXPECT_EQ(zlt_registry_list_grants(reg, &out), ZLT_ESHUTDOWN);
  zlt_access_free(access);
  zlt_registry_free(reg);
  EXPECT_EQ(events.size(), seen);  // nothing was reported after zlt_runtime_free
  // The session's port was closed with the runtime.
  EXPECT_FALSE(zlt::test::tcp_connect(session.value("local_port", std::uint16_t{0})));
}

}  // namespace
