// Authorization against hostile, authenticated peers: tokens register only what they may, service
// names stay with the token that registered them, names in allow lists never lead to this
// host's own or link-local addresses unless the list names those addresses, and a grants file
// with an impossible entry stops the server instead of being served. Each test runs a legitimate
// tunnel (Bystander) alongside and checks it was not disturbed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/crypto/crypto.hpp"
#include "support/bystander.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/raw_ws.hpp"
#include "support/zlt_cli.hpp"

namespace zlt::test {
namespace {

using ::testing::HasSubstr;

constexpr const char* kOwnerToken = "owner-token";
constexpr const char* kOtherToken = "other-token";

config::TokenEntry token_entry(const std::string& name, const std::string& secret) {
  config::TokenEntry t;
  t.name = name;
  t.sha256 = crypto::hash_token(secret);
  return t;
}

proto::Register reg(const std::string& name, bool internal) {
  return proto::Register{name, proto::ServiceProtocol::tcp, 9, 0,
                         internal ? std::optional<std::uint8_t>(proto::kRegisterInternal)
                                  : std::nullopt};
}

proto::Open open_tcp(const std::string& target, Uuid id = crypto::uuid_v4()) {
  return proto::Open{id, proto::ServiceProtocol::tcp, target};
}

// A server with kToken (the bystander's), kOwnerToken and kOtherToken.
config::TunnelServerConfig server_config() {
  config::TunnelServerConfig c = Harness::server_config();
  c.tokens.push_back(token_entry("owner", kOwnerToken));
  c.tokens.push_back(token_entry("other", kOtherToken));
  return c;
}

std::string issue_grant(Harness& h, std::vector<std::string> targets) {
  std::string token;
  h.on_loop([&] {
    GrantRequest req;
    req.targets = std::move(targets);
    req.ttl = std::chrono::minutes(10);
    auto issued = h.server().grant_access(req);
    ASSERT_TRUE(issued) << issued.error().message;
    token = issued->token;
  });
  return token;
}

std::size_t service_count(Harness& h) {
  return h.server_status()["service_count"].get<std::size_t>();
}

TEST(HostileAuthz, GrantTokenCannotRegisterServices) {
  Harness h;
  h.start_server(server_config());
  Bystander b(h);
  const std::string grant = issue_grant(h, {"service:db"});
  auto peer = open_session(h.control_port(), grant);
  ASSERT_TRUE(peer);
  // The attack: a public service with a port of its own, and an internal one under the name
  // the grant was meant to reach.
  for (bool internal : {false, true}) {
    ASSERT_TRUE(peer->send(reg(internal ? "db" : "evil", internal)));
    auto fail = peer->expect<proto::RegisterFail>();
    ASSERT_TRUE(fail);
    EXPECT_EQ(fail->reason, "this token may not register services");
  }
  EXPECT_EQ(service_count(h), 1u);  // the bystander's only
  EXPECT_TRUE(b.finish());
}

TEST(HostileAuthz, ServicesListLimitsWhatATokenRegisters) {
  Harness h;
  config::TunnelServerConfig c = server_config();
  c.tokens[1].services = std::vector<std::string>{"db"};
  c.tokens[2].services = std::vector<std::string>{};  // an opener-only token
  h.start_server(c);
  Bystander b(h);
  auto owner = open_session(h.control_port(), kOwnerToken);
  ASSERT_TRUE(owner);
  ASSERT_TRUE(owner->send(reg("evil", false)));
  auto fail = owner->expect<proto::RegisterFail>();
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->reason, "service name 'evil' is not allowed for this token");
  ASSERT_TRUE(owner->send(reg("db", true)));
  EXPECT_TRUE(owner->expect<proto::RegisterOk>());

  auto opener = open_session(h.control_port(), kOtherToken);
  ASSERT_TRUE(opener);
  ASSERT_TRUE(opener->send(reg("web", false)));
  auto none = opener->expect<proto::RegisterFail>();
  ASSERT_TRUE(none);
  EXPECT_EQ(none->reason, "this token may not register services");
  EXPECT_EQ(service_count(h), 2u);  // the bystander's and db
  EXPECT_TRUE(b.finish());
}

TEST(HostileAuthz, ServiceNameStaysWithItsTokenAfterTheSessionDrops) {
  Harness h;
  h.start_server(server_config());
  Bystander b(h);
  const std::string grant = issue_grant(h, {"service:db"});
  auto owner = open_session(h.control_port(), kOwnerToken);
  ASSERT_TRUE(owner);
  ASSERT_TRUE(owner->send(reg("db", true)));
  ASSERT_TRUE(owner->expect<proto::RegisterOk>());

  // While the owner is live another token cannot have the name.
  auto thief = open_session(h.control_port(), kOtherToken);
  ASSERT_TRUE(thief);
  ASSERT_TRUE(thief->send(reg("db", true)));
  auto live = thief->expect<proto::RegisterFail>();
  ASSERT_TRUE(live);
  EXPECT_EQ(live->reason, "service name 'db' is held by another token");

  // The owner's session drops; the thief tries at once (the attack took 0.3 s).
  h.server_events().clear();
  owner.reset();
  ASSERT_TRUE(h.server_events().wait_for([](const nlohmann::json& e) {
    return e.value("event", "") == "service_unregistered" &&
           e["service"].value("name", "") == "db";
  }));
  ASSERT_TRUE(thief->send(reg("db", true)));
  auto held = thief->expect<proto::RegisterFail>();
  ASSERT_TRUE(held);
  EXPECT_EQ(held->reason, "service name 'db' is held by another token");

  // Grant users find no service meanwhile, rather than the thief's.
  auto user = open_session(h.control_port(), grant);
  ASSERT_TRUE(user);
  ASSERT_TRUE(user->send(open_tcp("service:db")));
  auto gone = user->expect<proto::ConnectFail>();
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->reason, "no such service");

  // The owner reconnects and takes its name back at once; streams go to it again.
  auto back = open_session(h.control_port(), kOwnerToken);
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->send(reg("db", true)));
  auto ok = back->expect<proto::RegisterOk>();
  ASSERT_TRUE(ok);
  ASSERT_TRUE(user->send(open_tcp("service:db")));
  auto connect = back->expect<proto::Connect>();
  ASSERT_TRUE(connect);
  EXPECT_EQ(connect->service_id, ok->service_id);
  EXPECT_TRUE(b.finish());
}

TEST(HostileAuthz, NamesInAllowListsDoNotReachLoopback) {
  EchoServer echo;
  const std::string port = std::to_string(echo.port());
  Harness h;
  h.start_server(server_config());
  Bystander b(h);

  // The attack: a grant for a name that resolves to this host.
  UdpEchoServer udp_echo;
  const std::string udp_port = std::to_string(udp_echo.port());
  const std::string by_name = issue_grant(h, {"localhost:" + port, "localhost:" + udp_port});
  auto user = open_session(h.control_port(), by_name);
  ASSERT_TRUE(user);
  ASSERT_TRUE(user->send(open_tcp("localhost:" + port)));
  auto refused = user->expect<proto::ConnectFail>();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, "target resolves to a loopback address");
  // Datagram Opens go through the same check.
  const std::string udp_target = "localhost:" + udp_port;
  ASSERT_TRUE(user->send(proto::Open{crypto::uuid_v4(), proto::ServiceProtocol::udp, udp_target}));
  auto udp_refused = user->expect<proto::ConnectFail>();
  ASSERT_TRUE(udp_refused);
  EXPECT_EQ(udp_refused->reason, "target resolves to a loopback address");
  // A wildcard host is no more an allow entry for this host than a name is.
  const std::string wildcard = issue_grant(h, {"*:*"});
  auto any = open_session(h.control_port(), wildcard);
  ASSERT_TRUE(any);
  ASSERT_TRUE(any->send(open_tcp("127.0.0.1:" + port)));
  auto literal = any->expect<proto::ConnectFail>();
  ASSERT_TRUE(literal);
  EXPECT_EQ(literal->reason, "target resolves to a loopback address");
  ASSERT_TRUE(any->send(open_tcp("[::ffff:127.0.0.1]:" + port)));
  auto mapped = any->expect<proto::ConnectFail>();
  ASSERT_TRUE(mapped);
  EXPECT_EQ(mapped->reason, "target resolves to a loopback address");
  EXPECT_EQ(echo.accepted(), 0);

  // Naming the address too (a literal, or a CIDR) is what makes it reachable.
  for (const std::string& entry : {"127.0.0.1:" + port, std::string("127.0.0.0/8:*")}) {
    const std::string allowed = issue_grant(h, {"localhost:" + port, entry});
    auto ok_user = open_session(h.control_port(), allowed);
    ASSERT_TRUE(ok_user);
    const Uuid id = crypto::uuid_v4();
    const int before = echo.accepted();
    ASSERT_TRUE(ok_user->send(open_tcp("localhost:" + port, id)));
    auto ack = ok_user->expect<proto::ConnectAck>();
    ASSERT_TRUE(ack) << entry;
    EXPECT_EQ(ack->connection_id, id);
    EXPECT_TRUE(eventually([&] { return echo.accepted() == before + 1; })) << entry;
  }
  EXPECT_TRUE(b.finish());
}

std::string grants_file_with_target(const std::string& target) {
  nlohmann::json grant = {{"grant_id", "00112233-4455-6677-8899-aabbccddeeff"},
                          {"name", "bad"},
                          {"sha256", crypto::hash_token("tun_whatever")},
                          {"targets", {"service:db", target}},
                          {"created_at", "2026-01-01T00:00:00Z"},
                          {"expires_at", "2099-01-01T00:00:00Z"}};
  return nlohmann::json{{"grants", {grant}}}.dump();
}

TEST(HostileAuthz, GrantsFileWithAnImpossiblePrefixStopsTheServer) {
  const std::string path =
      write_temp_file("bad-grants.json", grants_file_with_target("[::/200]:*"));
  // In process: the server is not created.
  Harness h;
  h.start_server();
  Bystander b(h);
  h.on_loop([&] {
    config::TunnelServerConfig c = Harness::server_config();
    c.grants_file = path;
    auto created = TunnelServer::create(h.runtime(), c);
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().code, Errc::config);
    EXPECT_EQ(created.error().message,
              "grants file " + path +
                  ": grants[0].targets[1]: invalid target '[::/200]:*' (expected service:NAME, "
                  "HOST:PORT or CIDR:PORT)");
  });
  EXPECT_TRUE(b.finish());

  // `zlt server`: exit 2, the file, the entry and the field on stderr.
  ZltRun run = run_zlt({"server", "--listen", "127.0.0.1:0", "--port-range", "0-0",
                        "--public-bind", "127.0.0.1", "--token", "t", "--grants-file", path});
  EXPECT_EQ(run.code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("grants file " + path + ": grants[0].targets[1]: invalid "
                                    "target '[::/200]:*'"));
}

}  // namespace
}  // namespace zlt::test
