// Reloading a running server (tokens, limits, the TLS certificate) and draining it: what a
// reload or a drain changes, and that nothing else is disturbed.
#include <sys/socket.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/crypto/crypto.hpp"
#include "support/bystander.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/test_certs.hpp"
#include "support/tunnel_checks.hpp"

namespace zlt::test {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

config::TokenEntry token_entry(const std::string& name, const std::string& token) {
  config::TokenEntry e;
  e.name = name;
  e.sha256 = crypto::hash_token(token);
  return e;
}

// A server accepting the harness token and `extra` tokens.
config::TunnelServerConfig with_tokens(const std::vector<std::string>& extra) {
  auto c = Harness::server_config();
  for (const auto& t : extra) c.tokens.push_back(token_entry("agent-" + t, t));
  return c;
}

class Reload : public ::testing::Test {
 protected:
  Result<ServerReload> reload(config::TunnelServerConfig next) {
    Result<ServerReload> out = make_error(Errc::internal, "not run");
    h_.on_loop([&] { out = h_.server().reload(std::move(next)); });
    return out;
  }
  // An agent with `token` serving the echo service as `name`; waits until it is registered.
  std::size_t start_agent(const std::string& token, const std::string& name) {
    auto cfg = h_.client_config({config::ServiceConfig::tcp(name, echo_.port())});
    cfg.token = token;
    const std::size_t index = h_.agent_count();
    h_.start_agent(cfg);
    EXPECT_NE(h_.public_port(name, index), 0) << "agent " << name << " never registered";
    return index;
  }
  // Whether an agent with `token` is admitted now (it is stopped again either way).
  bool admitted(const std::string& token) {
    auto cfg = h_.client_config();
    cfg.token = token;
    const std::size_t index = h_.agent_count();
    h_.start_agent(cfg);
    auto ev = h_.agent_events(index).wait_for([](const nlohmann::json& e) {
      return e["event"] == "authenticated" || e["event"] == "disconnected";
    });
    h_.on_loop([&] { h_.agent(index).stop(); });
    return ev && (*ev)["event"] == "authenticated";
  }

  EchoServer echo_;
  Harness h_;
};

TEST_F(Reload, RemovedTokenIsRevokedWhileAnUntouchedTunnelKeepsMovingBytes) {
  h_.start_server(with_tokens({"tok-b"}));
  Bystander bystander(h_);  // the harness token, hash-checked blocks all along
  const std::size_t b = start_agent("tok-b", "svc-b");

  auto next = with_tokens({"tok-c"});  // tok-b removed, tok-c added
  auto report = reload(next);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->revoked, 1u);
  EXPECT_EQ(report->tokens, 2u);
  EXPECT_TRUE(report->needs_restart.empty());

  auto gone = h_.agent_events(b).wait_event("disconnected");
  ASSERT_TRUE(gone);
  EXPECT_THAT((*gone)["reason"].get<std::string>(), HasSubstr("token revoked"));
  EXPECT_TRUE(admitted("tok-c"));
  EXPECT_FALSE(admitted("tok-b"));
  const std::uint64_t before = bystander.rounds();
  ASSERT_TRUE(eventually([&] { return bystander.rounds() >= before + 3; }));
  EXPECT_TRUE(bystander.finish());
  // The bystander's tunnel was never replaced: one connection of its agent in all.
  EXPECT_EQ(h_.agent_events(0).count("authenticated"), 1u);
}

TEST_F(Reload, AnInvalidConfigurationChangesNothing) {
  h_.start_server(with_tokens({"tok-b", "tok-x"}));
  const std::size_t b = start_agent("tok-b", "svc-b");
  auto bad = with_tokens({"tok-c"});
  bad.max_connections = 0;
  auto report = reload(bad);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, Errc::config);
  EXPECT_THAT(report.error().message, HasSubstr("max_connections"));
  // The old tokens still hold, the new one never arrived, and the session is untouched.
  EXPECT_EQ(h_.agent_events(b).count("disconnected"), 0u);
  EXPECT_TRUE(admitted("tok-x"));
  EXPECT_FALSE(admitted("tok-c"));
  std::string why;
  EXPECT_TRUE(echoes(h_.public_port("svc-b", b), probe_payload(), &why)) << why;
}

TEST_F(Reload, FieldsBoundToSocketsWaitForARestart) {
  h_.start_server();
  auto next = Harness::server_config();
  next.listen = "127.0.0.1:1";
  next.public_bind = "127.0.0.2";
  next.max_tunnels = 7;
  auto report = reload(next);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_THAT(report->needs_restart, Contains("listen"));
  EXPECT_THAT(report->needs_restart, Contains("public_bind"));
  h_.on_loop([&] {
    EXPECT_EQ(h_.server().config().listen, Harness::server_config().listen);
    EXPECT_EQ(h_.server().config().public_bind, Harness::server_config().public_bind);
    EXPECT_EQ(h_.server().config().max_tunnels, 7u);
  });
}

TEST_F(Reload, ALimitLoweredByAReloadRefusesTheNextTunnel) {
  h_.start_server(with_tokens({"tok-b", "tok-c"}));
  start_agent("tok-b", "svc-b");
  auto next = with_tokens({"tok-b", "tok-c"});
  next.max_tunnels = 1;
  ASSERT_TRUE(reload(next));
  // The tunnel already there stays; a second one is over the new cap.
  EXPECT_FALSE(admitted("tok-c"));
  EXPECT_EQ(h_.agent_events(0).count("disconnected"), 0u);
}

TEST_F(Reload, NarrowedTokenPermissionsMakeItsSessionRegisterAgain) {
  h_.start_server(with_tokens({"tok-b"}));
  const std::size_t b = start_agent("tok-b", "svc-b");
  auto next = with_tokens({"tok-b"});
  next.tokens.back().services = std::vector<std::string>{"another"};
  auto report = reload(next);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->reconnected, 1u);
  EXPECT_EQ(report->revoked, 0u);
  // The agent reconnects, and its service is now refused by name.
  auto refused = h_.agent_events(b).wait_for([](const nlohmann::json& e) {
    return e["event"] == "service_failed" || e["event"] == "register_failed";
  });
  ASSERT_TRUE(refused) << nlohmann::json(h_.agent_events(b).all()).dump();
  EXPECT_THAT(refused->dump(), HasSubstr("not allowed for this token"));
}

TEST_F(Reload, AdminApiReloadsFromTheServerSource) {
  auto c = with_tokens({});
  c.admin_token_hash = crypto::hash_token("admin");
  h_.start_server(c);
  auto post = [&](const std::string& body) {
    return http_exchange(h_.control_port(), "POST /admin/v1/reload HTTP/1.1\r\nHost: x\r\n"
                                            "Authorization: Bearer admin\r\nContent-Length: " +
                                                std::to_string(body.size()) + "\r\n\r\n" + body)
        .value_or("");
  };
  EXPECT_THAT(post(""), HasSubstr("409"));
  int calls = 0;
  auto next = c;
  next.tokens.push_back(token_entry("agent-d", "tok-d"));
  h_.on_loop([&] {
    h_.server().set_config_source([&]() -> Result<config::TunnelServerConfig> {
      ++calls;
      return next;
    });
  });
  EXPECT_THAT(post("{}"), HasSubstr("400"));
  EXPECT_EQ(calls, 0);
  const std::string ok = post("");
  EXPECT_THAT(ok, HasSubstr("200 OK"));
  EXPECT_THAT(ok, HasSubstr("\"tokens\":2"));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(admitted("tok-d"));
  // A source that fails leaves the configuration as it was, and says why.
  next.max_udp_flows = 0;
  const std::string refused = post("");
  EXPECT_THAT(refused, HasSubstr("400"));
  EXPECT_THAT(refused, HasSubstr("max_udp_flows"));
  EXPECT_TRUE(admitted("tok-d"));
}

// ---- TLS certificate rotation ----

class CertRotation : public Reload {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("zlt-rotate-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void install(const CertFiles& files) {
    std::filesystem::copy_file(files.cert, cert(),
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(files.key, key(), std::filesystem::copy_options::overwrite_existing);
  }
  std::string cert() const { return (dir_ / "cert.pem").string(); }
  std::string key() const { return (dir_ / "key.pem").string(); }
  config::TunnelServerConfig tls_config() const {
    auto c = with_tokens({"tok-b", "tok-c", "tok-d"});
    c.tls_cert = cert();
    c.tls_key = key();
    return c;
  }
  config::TunnelClientConfig wss_agent(const std::string& token, bool insecure,
                                       std::vector<config::ServiceConfig> services = {}) {
    auto cfg = h_.client_config(std::move(services));
    cfg.token = token;
    cfg.server_url = "wss://127.0.0.1:" + std::to_string(h_.control_port()) + "/tunnel/v1";
    if (insecure)
      cfg.insecure = true;
    else
      cfg.ca_file = TestCerts::get().ca.cert;
    return cfg;
  }
  // How a fresh agent verifying against the test CA at 127.0.0.1 fares: "" if admitted.
  std::string fresh_client(const std::string& token) {
    const std::size_t index = h_.agent_count();
    h_.start_agent(wss_agent(token, false));
    auto ev = h_.agent_events(index).wait_for([](const nlohmann::json& e) {
      return e["event"] == "authenticated" || e["event"] == "disconnected";
    });
    h_.on_loop([&] { h_.agent(index).stop(); });
    if (!ev) return "no outcome";
    return (*ev)["event"] == "authenticated" ? "" : (*ev)["reason"].get<std::string>();
  }

  std::filesystem::path dir_;
};

TEST_F(CertRotation, AFreshClientSeesTheNewCertificateWhileAnOldSessionMovesBytes) {
  const TestCerts& certs = TestCerts::get();
  install(certs.other);  // valid for other.invalid only: 127.0.0.1 does not match
  h_.start_server(tls_config());
  h_.start_agent(wss_agent("tok-b", true, {config::ServiceConfig::tcp("echo", echo_.port())}));
  const std::uint16_t port = h_.public_port("echo", 0);
  ASSERT_NE(port, 0);
  EXPECT_THAT(fresh_client("tok-c"), HasSubstr("IP address mismatch"));

  // A stream opened before the rotation, hash-checked on both sides of it.
  Fd conn = tcp_connect(port);
  ASSERT_TRUE(conn);
  set_timeouts(conn.get(), 10s);
  const std::string first = pattern_bytes(256u << 10, 1);
  ASSERT_TRUE(send_all(conn.get(), first));
  auto back = recv_exact(conn.get(), first.size());
  ASSERT_TRUE(back);
  EXPECT_EQ(fnv1a(back->data(), back->size()), fnv1a(first.data(), first.size()));

  install(certs.leaf);
  auto report = reload(tls_config());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->tls_reloaded);
  EXPECT_EQ(fresh_client("tok-d"), "");

  const std::string second = pattern_bytes(256u << 10, 2);
  ASSERT_TRUE(send_all(conn.get(), second));
  back = recv_exact(conn.get(), second.size());
  ASSERT_TRUE(back);
  EXPECT_EQ(fnv1a(back->data(), back->size()), fnv1a(second.data(), second.size()));
  EXPECT_EQ(h_.agent_events(0).count("disconnected"), 0u);
}

TEST_F(CertRotation, ACertificateThatDoesNotLoadKeepsTheOldOne) {
  const TestCerts& certs = TestCerts::get();
  install(certs.leaf);
  h_.start_server(tls_config());
  {
    std::ofstream broken(cert(), std::ios::trunc);
    broken << "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n";
  }
  auto next = tls_config();
  next.tokens.push_back(token_entry("agent-e", "tok-e"));
  auto report = reload(next);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, Errc::config);
  EXPECT_THAT(report.error().message, HasSubstr("tls_cert"));
  // The running certificate still serves, and the tokens of the refused file never arrived.
  EXPECT_EQ(fresh_client("tok-b"), "");
  EXPECT_NE(fresh_client("tok-e"), "");
}

// ---- Graceful drain ----

class Drain : public Reload {
 protected:
  // Starts the drain; `stopped` is set on the loop thread when the server has stopped.
  void drain(std::chrono::milliseconds grace) {
    h_.on_loop([&] { h_.server().drain(grace, [this] { stopped_ = true; }); });
  }
  Readiness readiness() {
    Readiness r;
    h_.on_loop([&] { r = h_.server().readiness(); });
    return r;
  }
  std::atomic<bool> stopped_{false};
};

TEST_F(Drain, ARunningTransferFinishesWhileNothingNewIsTaken) {
  h_.start_server(with_tokens({"tok-b"}));
  const std::uint16_t port = h_.public_port("echo", start_agent(Harness::kToken, "echo"));
  Fd conn = tcp_connect(port);
  ASSERT_TRUE(conn);
  set_timeouts(conn.get(), 10s);
  const std::string first = pattern_bytes(128u << 10, 3);
  ASSERT_TRUE(send_all(conn.get(), first));
  ASSERT_EQ(recv_exact(conn.get(), first.size()).value_or(""), first);

  drain(30s);
  EXPECT_FALSE(readiness().ready);
  EXPECT_EQ(readiness().reason, "server: draining");
  // No new public connection, no new session.
  EXPECT_TRUE(eventually([&] { return !tcp_connect(port); }));
  EXPECT_FALSE(admitted("tok-b"));
  EXPECT_FALSE(stopped_.load());

  // The open stream carries on, both ways, hash-checked.
  const std::string second = pattern_bytes(1u << 20, 4);
  ASSERT_TRUE(send_all(conn.get(), second));
  auto back = recv_exact(conn.get(), second.size());
  ASSERT_TRUE(back);
  EXPECT_EQ(fnv1a(back->data(), back->size()), fnv1a(second.data(), second.size()));
  EXPECT_FALSE(stopped_.load());
  // Its end is the last stream's end: the server stops long before the grace is over.
  const auto closed_at = std::chrono::steady_clock::now();
  conn = Fd();
  ASSERT_TRUE(eventually([&] { return stopped_.load(); }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - closed_at, 5s);
  auto gone = h_.agent_events(0).wait_event("disconnected");
  ASSERT_TRUE(gone);
  EXPECT_THAT((*gone)["reason"].get<std::string>(), HasSubstr("shutting down"));
}

TEST_F(Drain, StreamsStillOpenWhenTheGraceEndsAreEnded) {
  h_.start_server();
  const std::uint16_t port = h_.public_port("echo", start_agent(Harness::kToken, "echo"));
  Fd conn = tcp_connect(port);
  ASSERT_TRUE(conn);
  ASSERT_TRUE(echoes(port, probe_payload()));
  ASSERT_TRUE(send_all(conn.get(), std::string("x")));
  ASSERT_EQ(recv_exact(conn.get(), 1).value_or(""), "x");
  const auto began = std::chrono::steady_clock::now();
  drain(400ms);
  ASSERT_TRUE(eventually([&] { return stopped_.load(); }, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 350ms);
  EXPECT_TRUE(wait_closed(conn.get(), 5s));
}

TEST_F(Drain, StopCutsADrainShort) {
  h_.start_server();
  const std::uint16_t port = h_.public_port("echo", start_agent(Harness::kToken, "echo"));
  Fd conn = tcp_connect(port);
  ASSERT_TRUE(conn);
  ASSERT_TRUE(send_all(conn.get(), std::string("y")));
  ASSERT_EQ(recv_exact(conn.get(), 1).value_or(""), "y");
  drain(60s);
  h_.on_loop([&] { h_.server().stop(); });
  EXPECT_TRUE(stopped_.load());
  EXPECT_TRUE(wait_closed(conn.get(), 5s));
}

// ---- Agent reload ----

class AgentReloadTest : public Reload {
 protected:
  Result<AgentReload> reload_agent(config::TunnelClientConfig next) {
    Result<AgentReload> out = make_error(Errc::internal, "not run");
    h_.on_loop([&] { out = h_.agent(0).reload(std::move(next)); });
    return out;
  }
  // The public port of the `n`th registration of `service` (0 on timeout).
  std::uint16_t nth_port(const std::string& service, std::size_t n) {
    std::uint16_t port = 0;
    eventually([&] {
      std::size_t seen = 0;
      for (const auto& e : h_.agent_events(0).all())
        if (e.value("event", "") == "service_registered" && e.value("name", "") == service &&
            ++seen == n && e["public_port"].is_number())
          port = e["public_port"].get<std::uint16_t>();
      return port != 0;
    });
    return port;
  }
  EchoServer other_;
};

TEST_F(AgentReloadTest, ServicesChangeOverTheLiveSessionWhileAnUntouchedOneMovesBytes) {
  h_.start_server();
  auto cfg = h_.client_config({config::ServiceConfig::tcp("web", echo_.port()),
                               config::ServiceConfig::tcp("db", echo_.port()),
                               config::ServiceConfig::tcp("old", echo_.port())});
  h_.start_agent(cfg);
  const std::uint16_t web = h_.public_port("web");
  const std::uint16_t old = h_.public_port("old");
  ASSERT_NE(web, 0);
  ASSERT_NE(old, 0);
  ASSERT_NE(h_.public_port("db"), 0);
  Fd conn = tcp_connect(web);
  ASSERT_TRUE(conn);
  set_timeouts(conn.get(), 10s);
  const std::string first = pattern_bytes(256u << 10, 21);
  ASSERT_TRUE(send_all(conn.get(), first));
  ASSERT_EQ(recv_exact(conn.get(), first.size()).value_or(""), first);

  auto next = cfg;
  next.services = {config::ServiceConfig::tcp("web", echo_.port()),
                   config::ServiceConfig::tcp("db", other_.port()),
                   config::ServiceConfig::tcp("cache", other_.port())};
  auto report = reload_agent(next);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->added, std::vector<std::string>{"cache"});
  EXPECT_EQ(report->removed, std::vector<std::string>{"old"});
  EXPECT_EQ(report->changed, std::vector<std::string>{"db"});
  EXPECT_TRUE(report->next_connection.empty());

  const std::uint16_t cache = h_.public_port("cache");
  const std::uint16_t db = nth_port("db", 2);
  ASSERT_NE(cache, 0);
  ASSERT_NE(db, 0);
  std::string why;
  const int before = other_.accepted();
  EXPECT_TRUE(echoes(cache, probe_payload(), &why)) << why;
  EXPECT_TRUE(echoes(db, probe_payload(), &why)) << why;
  EXPECT_EQ(other_.accepted(), before + 2) << "db does not reach its new local port";
  EXPECT_TRUE(eventually([&] { return !echoes(old, probe_payload()); }));
  ASSERT_TRUE(eventually([&] {
    return h_.server_status()["service_count"] == 3;
  })) << h_.server_status().dump();

  // The untouched service's stream carried on; the WebSocket never reconnected.
  const std::string second = pattern_bytes(1u << 20, 22);
  ASSERT_TRUE(send_all(conn.get(), second));
  auto back = recv_exact(conn.get(), second.size());
  ASSERT_TRUE(back);
  EXPECT_EQ(fnv1a(back->data(), back->size()), fnv1a(second.data(), second.size()));
  EXPECT_EQ(h_.agent_events(0).count("authenticated"), 1u);
  EXPECT_EQ(h_.agent_events(0).count("disconnected"), 0u);
}

TEST_F(AgentReloadTest, AnInvalidConfigurationChangesNothing) {
  h_.start_server();
  auto cfg = h_.client_config({config::ServiceConfig::tcp("web", echo_.port())});
  h_.start_agent(cfg);
  const std::uint16_t web = h_.public_port("web");
  ASSERT_NE(web, 0);
  auto bad = cfg;
  bad.services.push_back(config::ServiceConfig::tcp("web", other_.port()));
  auto report = reload_agent(bad);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, Errc::config);
  EXPECT_THAT(report.error().message, HasSubstr("duplicate service name: web"));
  std::string why;
  EXPECT_TRUE(echoes(web, probe_payload(), &why)) << why;
  EXPECT_EQ(other_.accepted(), 0);
  auto moved = cfg;
  moved.server_url = "ws://127.0.0.1:1/tunnel/v1";
  report = reload_agent(moved);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->next_connection, std::vector<std::string>{"server_url"});
  EXPECT_TRUE(echoes(web, probe_payload(), &why)) << why;
}

TEST_F(AgentReloadTest, AReloadWhileDisconnectedIsRegisteredByTheNextSession) {
  auto cfg = h_.client_config({config::ServiceConfig::tcp("web", echo_.port())});
  h_.start_server();
  const std::uint16_t control = h_.control_port();
  cfg.server_url = "ws://127.0.0.1:" + std::to_string(unused_tcp_port()) + "/tunnel/v1";
  h_.start_agent(cfg);  // nowhere to connect to yet
  auto next = cfg;
  next.server_url = "ws://127.0.0.1:" + std::to_string(control) + "/tunnel/v1";
  next.services = {config::ServiceConfig::tcp("api", echo_.port())};
  auto report = reload_agent(next);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->next_connection, std::vector<std::string>{"server_url"});
  const std::uint16_t api = h_.public_port("api", 0, 15s);
  ASSERT_NE(api, 0);
  std::string why;
  EXPECT_TRUE(echoes(api, probe_payload(), &why)) << why;
  EXPECT_EQ(h_.server_status()["service_count"], 1);
}

TEST_F(AgentReloadTest, AChangeWhileTheLastRegisterIsUnansweredRegistersOnceItIs) {
  h_.start_server();
  auto cfg = h_.client_config({config::ServiceConfig::tcp("db", echo_.port())});
  h_.start_agent(cfg);
  ASSERT_NE(h_.public_port("db"), 0);
  auto to_other = cfg;
  to_other.services = {config::ServiceConfig::tcp("db", other_.port())};
  // Two reloads in one loop turn: the second finds the first's Register unanswered.
  h_.on_loop([&] {
    EXPECT_TRUE(h_.agent(0).reload(to_other));
    EXPECT_TRUE(h_.agent(0).reload(cfg));
  });
  const std::uint16_t db = nth_port("db", 2);
  ASSERT_NE(db, 0);
  ASSERT_TRUE(eventually([&] { return h_.server_status()["service_count"] == 1; }))
      << h_.server_status().dump();
  std::string why;
  EXPECT_TRUE(echoes(db, probe_payload(), &why)) << why;
  EXPECT_EQ(other_.accepted(), 0) << "the superseded registration carried a connection";
  h_.on_loop([&] {
    const RegisteredService* s = h_.agent(0).service("db");
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->is_registered());
    EXPECT_EQ(s->config.local_port, echo_.port());
  });
}

}  // namespace
}  // namespace zlt::test
