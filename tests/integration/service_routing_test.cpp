// On-demand access end to end: internal services reached as service:NAME by another token,
// allow lists, spliced streams under back-pressure, expiring and revoked grants, and the
// AccessManager's own TTL.
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "core/access/access_manager.hpp"
#include "zlt/event_json.hpp"
#include "core/crypto/crypto.hpp"
#include "core/session/stream.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/tunnel_checks.hpp"

namespace zlt::test {
namespace {

using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

constexpr const char* kOpener = "opener-token";

class ServiceRoutingTest : public ::testing::Test {
 protected:
  void TearDown() override {
    h_.on_loop([&] { managers_.clear(); });
  }

  // A server whose second token (kOpener) may open `allow`.
  void start_server(std::vector<std::string> allow,
                    config::TunnelServerConfig cfg = Harness::server_config()) {
    config::TokenEntry opener;
    opener.name = "opener";
    opener.sha256 = crypto::hash_token(kOpener);
    opener.allow = std::move(allow);
    cfg.tokens.push_back(opener);
    h_.start_server(std::move(cfg));
  }

  // The owner: an agent (kToken) that registers `services`; waits until the first is
  // registered.
  void start_owner(std::vector<config::ServiceConfig> services) {
    const std::string first = services.front().name;
    h_.start_agent(std::move(services));
    ASSERT_TRUE(h_.agent_events().wait_for([&](const nlohmann::json& e) {
      return e.value("event", "") == "service_registered" && e.value("name", "") == first;
    }));
  }

  // An access manager on the harness's loop with `token`, connected (or refused: see its
  // events). Its events go to events(index).
  AccessManager& start_access(const std::string& token, bool wait_authenticated = true) {
    AccessManager* m = nullptr;
    auto log = std::make_unique<EventLog>();
    EventLog* events = log.get();
    access_events_.push_back(std::move(log));
    h_.on_loop([&] {
      config::TunnelClientConfig client = h_.client_config({});
      client.token = token;
      auto created = AccessManager::create(h_.runtime(), client);
      ASSERT_TRUE(created) << created.error().message;
      access_observers_.push_back(std::make_unique<JsonAccessObserver>(
          [events](const nlohmann::json& e) { events->push(e); }));
      (*created)->set_observer(access_observers_.back().get());
      (*created)->start();
      m = created->get();
      managers_.push_back(std::move(*created));
    });
    if (m != nullptr && wait_authenticated) {
      EXPECT_TRUE(events->wait_event("authenticated"));
    }
    return *m;
  }
  EventLog& events(std::size_t index = 0) { return *access_events_.at(index); }

  Result<AccessManager::SessionInfo> session(
      AccessManager& m, const std::string& target,
      std::optional<config::Duration> ttl = std::nullopt,
      proto::ServiceProtocol protocol = proto::ServiceProtocol::tcp) {
    std::optional<Result<AccessManager::SessionInfo>> r;
    h_.on_loop([&] { r = m.start_session(target, 0, ttl, protocol); });
    return std::move(*r);
  }
  std::uint16_t session_port(AccessManager& m, const std::string& target,
                             std::optional<config::Duration> ttl = std::nullopt) {
    auto s = session(m, target, ttl);
    EXPECT_TRUE(s) << s.error().message;
    return s ? s->local_addr.port() : 0;
  }

  ProbeResult probe(AccessManager& m, const std::string& target) {
    auto done = std::make_shared<EventLog>();
    h_.on_loop([&] {
      Status st = m.probe(target, proto::ServiceProtocol::tcp, [done](const ProbeResult& r) {
        done->push({{"outcome", static_cast<int>(r.outcome)}, {"reason", r.reason}});
      });
      if (!st) done->push({{"outcome", -1}, {"reason", st.error().message}});
    });
    auto r = done->wait_for([](const nlohmann::json&) { return true; });
    if (!r) return {ProbeResult::Outcome::no_answer, "the probe never finished"};
    if ((*r)["outcome"] == -1) return {ProbeResult::Outcome::no_answer, (*r)["reason"]};
    return {static_cast<ProbeResult::Outcome>((*r)["outcome"].get<int>()), (*r)["reason"]};
  }

  nlohmann::json service_status(const std::string& name) {
    const nlohmann::json status = h_.server_status();
    for (const auto& t : status["tunnels"])
      for (const auto& s : t["services"])
        if (s["name"] == name) return s;
    return nullptr;
  }

  EchoServer echo_;
  Harness h_;
  std::vector<std::unique_ptr<EventLog>> access_events_;
  std::vector<std::unique_ptr<JsonAccessObserver>> access_observers_;  // outlive managers_
  std::vector<std::unique_ptr<AccessManager>> managers_;
};

config::ServiceConfig internal_tcp(const std::string& name, std::uint16_t port) {
  config::ServiceConfig s = config::ServiceConfig::tcp(name, port);
  s.internal = true;
  return s;
}

std::string service_target(const std::string& name) {
  return "service:" + name;
}

TEST_F(ServiceRoutingTest, InternalServiceIsReachedByAnotherTokenAndHasNoPublicPort) {
  start_server({"service:db"});
  start_owner({internal_tcp("db", echo_.port())});
  EXPECT_EQ(h_.public_port("db"), 0);
  nlohmann::json db = service_status("db");
  ASSERT_TRUE(db.is_object()) << h_.server_status().dump();
  EXPECT_TRUE(db["internal"].get<bool>());
  EXPECT_TRUE(db["assigned_port"].is_null());

  AccessManager& m = start_access(kOpener);
  std::uint16_t port = session_port(m, service_target("db"));
  ASSERT_NE(port, 0);
  // Both directions at once, hash-checked: 4 MiB out while 4 MiB comes back.
  const std::string payload = pattern_bytes(4u << 20, 11);
  std::string why;
  EXPECT_TRUE(echoes(port, payload, &why)) << why;
  EXPECT_EQ(echo_.accepted(), 1);

  // Live counters on both ends: the service's and the access session's.
  EXPECT_TRUE(eventually([&] {
    nlohmann::json s = service_status("db");
    return s.is_object() && s["traffic"]["bytes_in"].get<std::uint64_t>() >= payload.size() &&
           s["traffic"]["bytes_out"].get<std::uint64_t>() >= payload.size();
  }));
  nlohmann::json sessions;
  h_.on_loop([&] { sessions = m.list_sessions(); });
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0]["target"], "service:db");
  EXPECT_GE(sessions[0]["bytes_out"].get<std::uint64_t>(), payload.size());
  EXPECT_GE(sessions[0]["bytes_in"].get<std::uint64_t>(), payload.size());
  EXPECT_EQ(sessions[0]["connections_total"].get<int>(), 1);
}

TEST_F(ServiceRoutingTest, ManyConcurrentStreamsThroughOneService) {
  start_server({"service:db"});
  start_owner({internal_tcp("db", echo_.port())});
  AccessManager& m = start_access(kOpener);
  std::uint16_t port = session_port(m, service_target("db"));
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i)
    clients.emplace_back([&, i] {
      if (echoes(port, pattern_bytes(256 * 1024, 100 + static_cast<std::uint64_t>(i)))) ++ok;
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 16);
}

TEST_F(ServiceRoutingTest, AllowListsDecideWhatAnOpenerReaches) {
  EchoServer other;
  start_server({"service:db", "127.0.0.0/8:" + std::to_string(echo_.port())});
  start_owner({internal_tcp("db", echo_.port()), internal_tcp("admin", other.port())});
  ASSERT_TRUE(h_.agent_events().wait_for([](const nlohmann::json& e) {
    return e.value("event", "") == "service_registered" && e.value("name", "") == "admin";
  }));
  AccessManager& m = start_access(kOpener);

  EXPECT_EQ(probe(m, "service:db").outcome, ProbeResult::Outcome::reached);
  ProbeResult admin = probe(m, "service:admin");
  EXPECT_EQ(admin.outcome, ProbeResult::Outcome::refused);
  EXPECT_EQ(admin.reason, "target not allowed");
  EXPECT_EQ(other.accepted(), 0);
  // CIDR: the address form of the same echo service, and only on its port.
  EXPECT_EQ(probe(m, "127.0.0.1:" + std::to_string(echo_.port())).outcome,
            ProbeResult::Outcome::reached);
  ProbeResult other_port = probe(m, "127.0.0.1:" + std::to_string(other.port()));
  EXPECT_EQ(other_port.outcome, ProbeResult::Outcome::refused);
  EXPECT_EQ(other_port.reason, "target not allowed");
  EXPECT_EQ(other.accepted(), 0);

  // A refused target ends only its stream: the allowed one still carries bytes.
  std::uint16_t port = session_port(m, service_target("db"));
  EXPECT_TRUE(echoes(port, probe_payload()));
}

TEST_F(ServiceRoutingTest, WildcardSegmentsInAllowLists) {
  EchoServer other;
  // localhost is this host: the name alone does not reach it, the address must be listed too.
  start_server({"service:*", "localhost:*", "127.0.0.1:" + std::to_string(other.port())});
  start_owner({internal_tcp("db", echo_.port()), internal_tcp("admin", other.port())});
  ASSERT_TRUE(h_.agent_events().wait_for([](const nlohmann::json& e) {
    return e.value("event", "") == "service_registered" && e.value("name", "") == "admin";
  }));
  AccessManager& m = start_access(kOpener);
  EXPECT_EQ(probe(m, "service:db").outcome, ProbeResult::Outcome::reached);
  EXPECT_EQ(probe(m, "service:admin").outcome, ProbeResult::Outcome::reached);
  // Allowed by the wildcard, but nobody registered it.
  ProbeResult missing = probe(m, "service:web");
  EXPECT_EQ(missing.outcome, ProbeResult::Outcome::refused);
  EXPECT_EQ(missing.reason, "no such service");
  // Any port of a host named in the list, but only by that name.
  EXPECT_EQ(probe(m, "localhost:" + std::to_string(other.port())).outcome,
            ProbeResult::Outcome::reached);
  EXPECT_EQ(probe(m, "127.0.0.1:" + std::to_string(echo_.port())).reason, "target not allowed");
  // The name's other ports are allowed, but its address is listed for one port only.
  EXPECT_EQ(probe(m, "localhost:" + std::to_string(echo_.port())).reason,
            "target resolves to a loopback address");
}

TEST_F(ServiceRoutingTest, TheOwnerTokenWithoutAnAllowListOpensNothing) {
  start_server({});
  start_owner({internal_tcp("db", echo_.port())});
  AccessManager& m = start_access(kOpener);
  ProbeResult r = probe(m, "service:db");
  EXPECT_EQ(r.outcome, ProbeResult::Outcome::refused);
  EXPECT_EQ(r.reason, "target not allowed");
}

TEST_F(ServiceRoutingTest, ProtocolMismatchIsRefused) {
  UdpEchoServer uecho;
  start_server({"service:*"});
  config::ServiceConfig dns = config::ServiceConfig::udp("dns", uecho.port());
  dns.internal = true;
  start_owner({dns});
  AccessManager& m = start_access(kOpener);
  ProbeResult r = probe(m, "service:dns");  // a TCP probe toward a UDP service
  EXPECT_EQ(r.outcome, ProbeResult::Outcome::refused);
  EXPECT_EQ(r.reason, "protocol mismatch");
}

TEST_F(ServiceRoutingTest, UdpThroughAccess) {
  UdpEchoServer uecho;
  start_server({"service:dns"});
  config::ServiceConfig dns = config::ServiceConfig::udp("dns", uecho.port());
  dns.internal = true;
  start_owner({dns});
  AccessManager& m = start_access(kOpener);
  auto s = session(m, "service:dns", std::nullopt, proto::ServiceProtocol::udp);
  ASSERT_TRUE(s) << s.error().message;
  Fd sock = udp_connect(s->local_addr.port());
  ASSERT_TRUE(sock);
  set_timeouts(sock.get(), 5s);
  for (std::size_t size : {std::size_t{1}, std::size_t{1400}, std::size_t{60000}}) {
    const std::string d = pattern_bytes(size, size);
    ASSERT_EQ(::send(sock.get(), d.data(), d.size(), 0), static_cast<ssize_t>(d.size()));
    std::string buf(65536, '\0');
    ssize_t n = ::recv(sock.get(), buf.data(), buf.size(), 0);
    ASSERT_EQ(n, static_cast<ssize_t>(d.size())) << "datagram of " << size;
    buf.resize(static_cast<std::size_t>(n));
    EXPECT_TRUE(buf == d);
  }
}

TEST_F(ServiceRoutingTest, StalledServiceBoundsWhatTheServerHolds) {
  EchoServer stalled(EchoServer::Options{.stalled = true});
  start_server({"service:slow"});
  start_owner({internal_tcp("slow", stalled.port())});
  AccessManager& m = start_access(kOpener);
  std::uint16_t port = session_port(m, service_target("slow"));
  Fd c = tcp_connect(port);
  ASSERT_TRUE(c);
  set_timeouts(c.get(), 1s);

  // Write until the whole path pushes back (a send makes no progress for a second).
  constexpr std::size_t kBudget = 256u << 20;
  const std::string chunk = pattern_bytes(1u << 20, 5);
  std::size_t sent = 0;
  while (sent < kBudget) {
    ssize_t n = ::send(c.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  EXPECT_LT(sent, kBudget) << "nothing pushed back";
  // The server relays a spliced stream within the windows of its two halves: what it queues
  // for the owner stays within one window, however much the opener would send.
  nlohmann::json st = h_.server_status();
  std::uint64_t queued = 0;
  for (const auto& t : st["tunnels"]) queued += t["queued_bytes"].get<std::uint64_t>();
  EXPECT_LE(queued, Stream::kMaxWindow);
  // Other streams are not held up by the stalled one.
  EchoServer fine;
  std::uint16_t other = session_port(m, "127.0.0.1:" + std::to_string(fine.port()));
  (void)other;
  std::uint16_t again = session_port(m, service_target("slow"));
  ASSERT_NE(again, 0);
}

TEST_F(ServiceRoutingTest, OwnerGoingAwayClosesTheOpenersStreams) {
  start_server({"service:db"});
  start_owner({internal_tcp("db", echo_.port())});
  AccessManager& m = start_access(kOpener);
  std::uint16_t port = session_port(m, service_target("db"));
  Fd c = tcp_connect(port);
  ASSERT_TRUE(c);
  set_timeouts(c.get(), 5s);
  ASSERT_TRUE(send_all(c.get(), "ping"));
  ASSERT_EQ(recv_exact(c.get(), 4).value_or(""), "ping");

  h_.on_loop([&] { h_.agent().stop(); });
  EXPECT_TRUE(wait_closed(c.get(), 2s));
  EXPECT_TRUE(eventually([&] {
    nlohmann::json st;
    h_.on_loop([&] { st = m.status(); });
    return st["streams"].get<int>() == 0;
  }));
  // New connections are refused now (nobody owns db any more) and the session stays.
  Fd again = tcp_connect(port);
  ASSERT_TRUE(again);
  EXPECT_TRUE(wait_closed(again.get(), 2s));
  EXPECT_EQ(probe(m, "service:db").reason, "no such service");
}

// ---- grants ----

class GrantTest : public ServiceRoutingTest {
 protected:
  IssuedGrant grant(std::vector<std::string> targets, config::Duration ttl) {
    std::optional<Result<IssuedGrant>> r;
    h_.on_loop([&] {
      GrantRequest req;
      req.targets = std::move(targets);
      req.ttl = ttl;
      req.name = "test";
      r = h_.server().grant_access(req);
    });
    EXPECT_TRUE(*r) << r->error().message;
    return **r;
  }
};

TEST_F(GrantTest, GrantExpiryClosesEverythingWithinASecondAndRefusesTheToken) {
  start_server({});
  start_owner({internal_tcp("db", echo_.port())});
  IssuedGrant g = grant({"service:db"}, 1500ms);
  EXPECT_TRUE(g.token.starts_with("tun_"));
  AccessManager& m = start_access(g.token);
  std::uint16_t port = session_port(m, service_target("db"));
  Fd c = tcp_connect(port);
  ASSERT_TRUE(c);
  set_timeouts(c.get(), 5s);
  // A transfer in progress when the grant expires.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    const std::string chunk = pattern_bytes(16 * 1024, 9);
    while (!stop && send_all(c.get(), chunk)) {
    }
  });
  std::thread reader([&] {
    std::string buf(64 * 1024, '\0');
    while (::recv(c.get(), buf.data(), buf.size(), 0) > 0) {
    }
  });
  auto fatal = events().wait_event("fatal", 5s);
  const auto fatal_at = WallClock::now();
  ASSERT_TRUE(fatal);
  EXPECT_EQ((*fatal)["reason"], "fatal: token expired");
  EXPECT_LE(fatal_at - g.grant.expires_at, 1s);
  EXPECT_TRUE(wait_closed(c.get(), 1s));
  stop = true;
  ::shutdown(c.get(), SHUT_RDWR);
  writer.join();
  reader.join();
  // The owner's half of the spliced stream is gone too.
  EXPECT_TRUE(eventually([&] { return h_.agent_status()["streams"].get<int>() == 0; }, 2s));
  EXPECT_TRUE(h_.server_events().wait_for(
      [](const nlohmann::json& e) { return e.value("event", "") == "grant_expired"; }));

  // The token is refused from now on, with the reason.
  start_access(g.token, false);
  auto refused = events(1).wait_event("auth_failed");
  ASSERT_TRUE(refused);
  EXPECT_NE((*refused)["reason"].get<std::string>().find("tunnel token expired"), std::string::npos)
      << (*refused)["reason"];
}

TEST_F(GrantTest, RevokeDisconnectsAtOnce) {
  start_server({});
  start_owner({internal_tcp("db", echo_.port())});
  IssuedGrant g = grant({"service:db"}, 10min);
  AccessManager& m = start_access(g.token);
  std::uint16_t port = session_port(m, service_target("db"));
  Fd c = tcp_connect(port);
  ASSERT_TRUE(c);
  set_timeouts(c.get(), 5s);
  ASSERT_TRUE(send_all(c.get(), "x"));
  ASSERT_EQ(recv_exact(c.get(), 1).value_or(""), "x");

  nlohmann::json listed;
  h_.on_loop([&] { listed = h_.server().list_grants(); });
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["grant_id"], g.grant.id.to_string());
  EXPECT_FALSE(listed[0].contains("token"));
  EXPECT_FALSE(listed[0].contains("sha256"));

  Status revoked;
  h_.on_loop([&] { revoked = h_.server().revoke_access(g.grant.id); });
  ASSERT_TRUE(revoked) << revoked.error().message;
  auto fatal = events().wait_event("fatal", 2s);
  ASSERT_TRUE(fatal);
  EXPECT_EQ((*fatal)["reason"], "fatal: token revoked");
  EXPECT_TRUE(wait_closed(c.get(), 1s));
  // Its listener is closed too: the manager stopped every session.
  EXPECT_TRUE(eventually([&] {
    std::size_t n = 1;
    h_.on_loop([&] { n = m.session_count(); });
    return n == 0;
  }));
  Status twice;
  h_.on_loop([&] { twice = h_.server().revoke_access(g.grant.id); });
  EXPECT_FALSE(twice);

  start_access(g.token, false);
  auto refused = events(1).wait_event("auth_failed");
  ASSERT_TRUE(refused);
  EXPECT_NE((*refused)["reason"].get<std::string>().find("tunnel token revoked"), std::string::npos)
      << (*refused)["reason"];
}

TEST_F(GrantTest, AGrantOpensOnlyItsTargets) {
  EchoServer other;
  start_server({});
  start_owner({internal_tcp("db", echo_.port()), internal_tcp("admin", other.port())});
  ASSERT_TRUE(h_.agent_events().wait_for([](const nlohmann::json& e) {
    return e.value("event", "") == "service_registered" && e.value("name", "") == "admin";
  }));
  IssuedGrant g = grant({"service:db"}, 10min);
  AccessManager& m = start_access(g.token);
  EXPECT_EQ(probe(m, "service:db").outcome, ProbeResult::Outcome::reached);
  EXPECT_EQ(probe(m, "service:admin").reason, "target not allowed");
  EXPECT_EQ(other.accepted(), 0);
}

TEST_F(GrantTest, TtlIsCappedByTheServer) {
  auto cfg = Harness::server_config();
  cfg.max_access_ttl = 1h;
  start_server({}, cfg);
  const auto before = WallClock::now();
  IssuedGrant g = grant({"service:db"}, 48h);
  EXPECT_LE(g.grant.expires_at, before + 1h + 1s);
  EXPECT_GE(g.grant.expires_at, before + 1h - 1s);
  std::optional<Result<IssuedGrant>> zero;
  h_.on_loop([&] {
    GrantRequest req;
    req.targets = {"service:db"};
    req.ttl = 0ms;
    zero = h_.server().grant_access(req);
  });
  ASSERT_FALSE(*zero);
  EXPECT_NE(zero->error().message.find("ttl"), std::string::npos) << zero->error().message;
}

TEST_F(GrantTest, GrantsSurviveARestartOnlyWithAGrantsFile) {
  const std::string file =
      ::testing::TempDir() + "zlt_grants_" + std::to_string(::getpid()) + ".json";
  std::remove(file.c_str());
  auto cfg = Harness::server_config();
  cfg.grants_file = file;
  start_server({}, cfg);
  IssuedGrant g = grant({"service:db"}, 10min);
  h_.stop_server();
  start_server({}, cfg);
  nlohmann::json listed;
  h_.on_loop([&] { listed = h_.server().list_grants(); });
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["grant_id"], g.grant.id.to_string());
  start_access(g.token);  // authenticates with the persisted grant
  std::remove(file.c_str());
}

// ---- the AccessManager's own rules ----

TEST_F(ServiceRoutingTest, ClientTtlClosesTheListenerAndFreesThePort) {
  start_server({"service:db"});
  start_owner({internal_tcp("db", echo_.port())});
  AccessManager& m = start_access(kOpener);
  auto s = session(m, "service:db", 400ms);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->expires_at.has_value());
  ASSERT_TRUE(s->remaining.has_value());
  EXPECT_LE(*s->remaining, 400ms);
  const std::uint16_t port = s->local_addr.port();
  Fd c = tcp_connect(port);
  ASSERT_TRUE(c);
  set_timeouts(c.get(), 5s);
  ASSERT_TRUE(send_all(c.get(), "x"));
  ASSERT_EQ(recv_exact(c.get(), 1).value_or(""), "x");

  auto expired = events().wait_event("session_expired", 3s);
  ASSERT_TRUE(expired);
  EXPECT_EQ((*expired)["session"]["id"], s->id.to_string());
  EXPECT_TRUE(wait_closed(c.get(), 1s));
  // The port is free at once: a server can listen on it right after.
  Fd again(::socket(AF_INET, SOCK_STREAM, 0));
  int one = 1;
  ::setsockopt(again.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(again.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << errno;
  EXPECT_EQ(::listen(again.get(), 1), 0);
  std::size_t n = 1;
  h_.on_loop([&] { n = m.session_count(); });
  EXPECT_EQ(n, 0u);
}

TEST_F(ServiceRoutingTest, RemainingCountsDown) {
  start_server({"service:db"});
  start_owner({internal_tcp("db", echo_.port())});
  AccessManager& m = start_access(kOpener);
  auto s = session(m, "service:db", 10min);
  ASSERT_TRUE(s);
  nlohmann::json first;
  h_.on_loop([&] { first = m.list_sessions(); });
  ASSERT_TRUE(eventually([&] {
    nlohmann::json now;
    h_.on_loop([&] { now = m.list_sessions(); });
    return now[0]["remaining_ms"].get<std::int64_t>() <
           first[0]["remaining_ms"].get<std::int64_t>();
  }));
  auto stopped = [&] {
    std::optional<AccessManager::SessionInfo> r;
    h_.on_loop([&] { r = m.stop_session(s->id); });
    return r;
  }();
  ASSERT_TRUE(stopped);
  EXPECT_TRUE(events().wait_event("session_stopped"));
  Fd c = tcp_connect(s->local_addr.port());
  EXPECT_FALSE(c);  // nobody listens any more
}

TEST_F(ServiceRoutingTest, BadTargetsAndTtlZeroAreClearErrors) {
  start_server({"service:db"});
  AccessManager& m = start_access(kOpener);
  struct Case {
    std::string target;
    std::optional<config::Duration> ttl;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{{"service:db", 0ms, "ttl must be > 0"},
                                         {"nonsense", std::nullopt, "invalid target"},
                                         {"service:", std::nullopt, "invalid target"},
                                         {"127.0.0.1:99999", std::nullopt, "invalid target"},
                                         {"", std::nullopt, "invalid target"}}) {
    auto r = session(m, c.target, c.ttl);
    ASSERT_FALSE(r) << c.target;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << c.target;
    EXPECT_NE(r.error().message.find(c.error), std::string::npos)
        << c.target << ": " << r.error().message;
  }
  std::size_t n = 1;
  h_.on_loop([&] { n = m.session_count(); });
  EXPECT_EQ(n, 0u);
}

TEST_F(ServiceRoutingTest, AccessCountsEveryConnectionLive) {
  start_server({"service:db"});
  start_owner({internal_tcp("db", echo_.port())});
  AccessManager& m = start_access(kOpener);
  auto s = session(m, "service:db");
  ASSERT_TRUE(s);
  Fd c = tcp_connect(s->local_addr.port());
  ASSERT_TRUE(c);
  set_timeouts(c.get(), 5s);
  const std::string payload = pattern_bytes(100000, 1);
  ASSERT_TRUE(send_all(c.get(), payload));
  ASSERT_TRUE(recv_exact(c.get(), payload.size()));
  // While the connection is still open, the counters already show the bytes.
  EXPECT_TRUE(eventually([&] {
    std::optional<AccessManager::SessionInfo> now;
    h_.on_loop([&] { now = m.get_session(s->id); });
    return now && now->traffic.bytes_out >= payload.size() &&
           now->traffic.bytes_in >= payload.size() && now->traffic.streams_active == 1;
  }));
}

}  // namespace
}  // namespace zlt::test
