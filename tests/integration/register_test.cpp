// Service registration over the control channel: the public port the server reports, the
// original's RegisterFail texts, the limits, and Unregister giving ports back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/crypto/crypto.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/raw_ws.hpp"
#include "support/tunnel_checks.hpp"

namespace zlt::test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kSecondToken = "second-token";

config::TokenEntry token_entry(const std::string& name, const std::string& secret) {
  config::TokenEntry t;
  t.name = name;
  t.sha256 = crypto::hash_token(secret);
  return t;
}

// A port just outside `range` (below it when the range ends at 65535).
std::uint16_t outside(const config::PortRange& range) {
  return range.end < 65535 ? static_cast<std::uint16_t>(range.end + 1)
                           : static_cast<std::uint16_t>(range.start - 1);
}

proto::Register reg(const std::string& name, std::uint16_t remote_port = 0) {
  return proto::Register{name, proto::ServiceProtocol::tcp, 9, remote_port, std::nullopt};
}

std::optional<nlohmann::json> service_event(EventLog& log, const std::string& event,
                                            const std::string& name) {
  return log.wait_for([&](const nlohmann::json& e) {
    return e.value("event", "") == event && e.value("name", "") == name;
  });
}

TEST(ControlRegister, PublicPortIsReportedAndCarriesBytes) {
  EchoServer echo;
  Harness h;
  h.start_server();
  h.start_agent({config::ServiceConfig::tcp("echo", echo.port())});
  auto ev = service_event(h.agent_events(), "service_registered", "echo");
  ASSERT_TRUE(ev);
  ASSERT_FALSE((*ev)["public_port"].is_null());
  const auto port = (*ev)["public_port"].get<std::uint16_t>();
  EXPECT_NE(port, 0);

  auto sev = h.server_events().wait_event("service_registered");
  ASSERT_TRUE(sev);
  EXPECT_EQ((*sev)["service"]["name"], "echo");
  EXPECT_EQ((*sev)["service"]["assigned_port"], port);
  EXPECT_EQ((*sev)["service"]["id"], (*ev)["service_id"]);
  EXPECT_EQ((*sev)["service"]["local_port"], echo.port());
  EXPECT_EQ((*sev)["service"]["protocol"], "tcp");

  auto status = h.agent_status();
  EXPECT_EQ(status["services"][0]["status"], "registered");
  EXPECT_EQ(status["services"][0]["public_port"], port);
  std::string why;
  EXPECT_TRUE(echoes(port, probe_payload(), &why)) << why;
}

TEST(ControlRegister, RequestedPortHeldByAnotherTunnelIsRefused) {
  EchoServer echo;
  Harness h;
  auto c = Harness::server_config();
  c.tokens.push_back(token_entry("second", kSecondToken));
  h.start_server(c);
  h.start_agent({config::ServiceConfig::tcp("first", echo.port())});
  const std::uint16_t taken = h.public_port("first");
  ASSERT_NE(taken, 0);

  auto cfg =
      h.client_config({config::ServiceConfig::tcp("second", echo.port()).with_remote_port(taken)});
  cfg.token = kSecondToken;
  h.start_agent(cfg);
  auto failed = service_event(h.agent_events(1), "service_failed", "second");
  ASSERT_TRUE(failed);
  EXPECT_EQ((*failed)["reason"],
            "Registry error: port " + std::to_string(taken) + " is not available");
  EXPECT_EQ(h.agent_status(1)["services"][0]["status"], "failed");
  // The holder keeps its port.
  std::string why;
  EXPECT_TRUE(echoes(taken, probe_payload(), &why)) << why;
}

TEST(ControlRegister, RequestedPortBoundOutsideTheTunnelIsRefused) {
  EchoServer echo;
  Harness h;
  h.start_server();
  std::uint16_t busy = 0;
  Fd squatter = tcp_listen(&busy);
  ASSERT_TRUE(squatter);
  h.start_agent({config::ServiceConfig::tcp("squatted", echo.port()).with_remote_port(busy),
                 config::ServiceConfig::tcp("fine", echo.port())});
  auto failed = service_event(h.agent_events(), "service_failed", "squatted");
  ASSERT_TRUE(failed);
  EXPECT_THAT((*failed)["reason"].get<std::string>(),
              StartsWith("Registry error: cannot bind 127.0.0.1:" + std::to_string(busy)));
  EXPECT_THAT((*failed)["reason"].get<std::string>(), HasSubstr("EADDRINUSE"));
  // The refusal left nothing behind in the registry; the next service registers normally.
  ASSERT_NE(h.public_port("fine"), 0);
  bool available = false;
  std::size_t services = 0;
  h.on_loop([&] {
    available = h.server().registry().is_port_available(busy);
    services = h.server().registry().service_count();
  });
  EXPECT_TRUE(available);
  EXPECT_EQ(services, 1u);
}

TEST(ControlRegister, PortOutsideTheRangeIsRefused) {
  auto range = free_port_range(1);
  ASSERT_TRUE(range);
  EchoServer echo;
  Harness h;
  auto c = Harness::server_config();
  c.data_port_range = *range;
  h.start_server(c);
  const std::uint16_t out = outside(*range);
  h.start_agent({config::ServiceConfig::tcp("outside", echo.port()).with_remote_port(out),
                 config::ServiceConfig::tcp("inside", echo.port())});
  auto failed = service_event(h.agent_events(), "service_failed", "outside");
  ASSERT_TRUE(failed);
  EXPECT_EQ((*failed)["reason"],
            "Registry error: port " + std::to_string(out) + " is not available");
  // The service without a request gets the range's only port.
  EXPECT_EQ(h.public_port("inside"), range->start);
  std::string why;
  EXPECT_TRUE(echoes(range->start, probe_payload(), &why)) << why;
}

TEST(ControlRegister, MaxServicesPerTunnel) {
  EchoServer echo;
  Harness h;
  auto c = Harness::server_config();
  c.max_services_per_tunnel = 2;
  h.start_server(c);
  h.start_agent({config::ServiceConfig::tcp("a", echo.port()),
                 config::ServiceConfig::tcp("b", echo.port()),
                 config::ServiceConfig::tcp("c", echo.port())});
  EXPECT_NE(h.public_port("a"), 0);
  EXPECT_NE(h.public_port("b"), 0);
  auto failed = service_event(h.agent_events(), "service_failed", "c");
  ASSERT_TRUE(failed);
  EXPECT_EQ((*failed)["reason"], "Registry error: too many services (max 2)");
  EXPECT_EQ(h.server_status()["service_count"], 2);
}

TEST(ControlRegister, InvalidServiceNamesAreRefusedByTheServer) {
  Harness h;
  h.start_server();
  auto ws = open_session(h.control_port(), Harness::kToken);
  ASSERT_TRUE(ws);
  for (const std::string& bad : {std::string("has space"), std::string(""), std::string("a.b"),
                                 std::string("semi;colon"), std::string("tab\there")}) {
    ASSERT_TRUE(ws->send(reg(bad)));
    auto fail = ws->expect<proto::RegisterFail>();
    ASSERT_TRUE(fail) << bad;
    EXPECT_EQ(fail->reason, "Registry error: invalid service name '" + bad +
                                "': use 1-255 bytes of letters, digits, '-' and '_'");
  }
  // The session goes on: a valid name still registers.
  ASSERT_TRUE(ws->send(reg("valid_name-1")));
  auto ok = ws->expect<proto::RegisterOk>();
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->assigned_port.has_value());
  EXPECT_EQ(h.server_status()["service_count"], 1);
}

TEST(ControlRegister, DuplicateNameIsRefused) {
  Harness h;
  auto c = Harness::server_config();
  c.tokens.push_back(token_entry("second", kSecondToken));
  h.start_server(c);
  auto ws = open_session(h.control_port(), Harness::kToken);
  ASSERT_TRUE(ws);
  ASSERT_TRUE(ws->send(reg("svc")));
  ASSERT_TRUE(ws->expect<proto::RegisterOk>());
  ASSERT_TRUE(ws->send(reg("svc")));
  auto fail = ws->expect<proto::RegisterFail>();
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->reason, "Registry error: service name 'svc' is already registered");
  // Names are unique across tunnels too: another token's tunnel is told whose it is.
  auto other = open_session(h.control_port(), kSecondToken);
  ASSERT_TRUE(other);
  ASSERT_TRUE(other->send(reg("svc")));
  auto fail2 = other->expect<proto::RegisterFail>();
  ASSERT_TRUE(fail2);
  EXPECT_EQ(fail2->reason, "service name 'svc' is held by another token");
}

TEST(ControlRegister, UnregisterGivesThePortBack) {
  auto range = free_port_range(1);
  ASSERT_TRUE(range);
  Harness h;
  auto c = Harness::server_config();
  c.data_port_range = *range;
  h.start_server(c);
  auto ws = open_session(h.control_port(), Harness::kToken);
  ASSERT_TRUE(ws);

  ASSERT_TRUE(ws->send(reg("first")));
  auto first = ws->expect<proto::RegisterOk>();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->assigned_port, range->start);
  ASSERT_TRUE(ws->send(reg("second")));
  auto full = ws->expect<proto::RegisterFail>();
  ASSERT_TRUE(full);
  EXPECT_EQ(full->reason, "Registry error: no ports available");

  ASSERT_TRUE(ws->send(proto::Unregister{first->service_id}));
  ASSERT_TRUE(h.server_events().wait_event("service_unregistered"));
  ASSERT_TRUE(ws->send(reg("third")));
  auto third = ws->expect<proto::RegisterOk>();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->assigned_port, range->start);
  EXPECT_NE(third->service_id, first->service_id);

  std::optional<std::string> owner;
  h.on_loop([&] {
    auto found = h.server().registry().get_service_by_port(range->start);
    if (found) owner = found->second->name;
  });
  EXPECT_EQ(owner, "third");
  // An Unregister of something unknown is ignored (no reply exists) and the session goes on.
  ASSERT_TRUE(ws->send(proto::Unregister{first->service_id}));
  ASSERT_TRUE(ws->send(reg("fourth", outside(*range))));
  auto fourth = ws->expect<proto::RegisterFail>();
  ASSERT_TRUE(fourth);
  EXPECT_EQ(fourth->reason,
            "Registry error: port " + std::to_string(outside(*range)) + " is not available");
}

TEST(ControlRegister, UnregisterClosesThePublicPort) {
  Harness h;
  h.start_server();
  auto ws = open_session(h.control_port(), Harness::kToken);
  ASSERT_TRUE(ws);
  ASSERT_TRUE(ws->send(reg("gone")));
  auto ok = ws->expect<proto::RegisterOk>();
  ASSERT_TRUE(ok && ok->assigned_port);
  {
    Fd probe = tcp_connect(*ok->assigned_port);
    EXPECT_TRUE(probe) << "the public port is not listening";
  }
  ASSERT_TRUE(ws->send(proto::Unregister{ok->service_id}));
  ASSERT_TRUE(h.server_events().wait_event("service_unregistered"));
  EXPECT_FALSE(tcp_connect(*ok->assigned_port)) << "the public port still accepts";
  EXPECT_EQ(h.server_status()["service_count"], 0);
}

TEST(ControlRegister, TokenPortRangeIsEnforced) {
  auto range = free_port_range(1);
  ASSERT_TRUE(range);
  EchoServer echo;
  Harness h;
  auto c = Harness::server_config();  // kernel-chosen ports for everyone else
  c.tokens[0].allowed_ports = *range;
  h.start_server(c);
  const std::uint16_t out = outside(*range);
  h.start_agent({config::ServiceConfig::tcp("outside", echo.port()).with_remote_port(out),
                 config::ServiceConfig::tcp("any", echo.port())});
  auto failed = service_event(h.agent_events(), "service_failed", "outside");
  ASSERT_TRUE(failed);
  EXPECT_EQ((*failed)["reason"],
            "Registry error: port " + std::to_string(out) + " is not available");
  // A service without a requested port gets one inside the token's range.
  EXPECT_EQ(h.public_port("any"), range->start);
  std::string why;
  EXPECT_TRUE(echoes(range->start, probe_payload(), &why)) << why;
}

}  // namespace
}  // namespace zlt::test
