// Hostile connections against a real server on loopback: floods of stalled pre-auth
// connections from many addresses, the connection caps and what a refused peer sees, token
// guessing, descriptor exhaustion, and the per-service caps on public connections and UDP flows.
// Attackers use the loopback addresses 127.0.0.2 and up; legitimate agents connect from
// 127.0.0.1.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto/crypto.hpp"
#include "core/runtime/log.hpp"
#include "support/bystander.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/net.hpp"
#include "support/raw_ws.hpp"

namespace zlt::test {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

std::string attacker(int n) { return "127.0.0." + std::to_string(2 + n); }

// The bystander's agent holds the harness's token; the tests' own agents use this one.
constexpr const char* kAgentToken = "second-agent-token";

config::TunnelServerConfig test_config() {
  auto c = Harness::server_config();
  config::TokenEntry t;
  t.name = "second";
  t.sha256 = crypto::hash_token(kAgentToken);
  c.tokens.push_back(t);
  return c;
}

// Every test here holds thousands of descriptors on both ends of its connections.
void raise_own_fd_limit() {
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  rl.rlim_cur = rl.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

// The traffic of the service `name` (any tunnel's).
nlohmann::json service_traffic(Harness& h, const std::string& name) {
  const nlohmann::json status = h.server_status();
  for (const auto& t : status["tunnels"])
    for (const auto& svc : t["services"])
      if (svc["name"] == name) return svc["traffic"];
  return nullptr;
}

std::uint64_t stat_of(Harness& h, const char* name) {
  return h.server_status()["connections"][name].get<std::uint64_t>();
}

// What a stalled pre-auth connection does after its TCP connect.
enum class Stall { silent, partial_head, upgraded_without_auth };

Fd stalled_connection(const std::string& source, std::uint16_t port, Stall how) {
  Fd fd = tcp_connect_from(source, port);
  if (!fd) return fd;
  if (how == Stall::partial_head) {
    send_all(fd.get(), "GET /tunnel/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webs");
  } else if (how == Stall::upgraded_without_auth) {
    send_all(fd.get(),
             "GET /tunnel/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n");
  }
  return fd;
}

// `count` stalled connections spread over `sources` attacker addresses, all three kinds mixed.
// Paced so the listen backlog never overflows (a dropped SYN costs a 1 s retransmit).
std::vector<Fd> stall_flood(Harness& h, int count, int sources) {
  std::vector<Fd> fds;
  fds.reserve(static_cast<std::size_t>(count));
  const std::uint64_t before = stat_of(h, "open") + stat_of(h, "refused") + stat_of(h, "evicted");
  for (int i = 0; i < count; ++i) {
    Fd fd = stalled_connection(attacker(i % sources), h.control_port(), static_cast<Stall>(i % 3));
    EXPECT_TRUE(fd) << "connection " << i;
    fds.push_back(std::move(fd));
    if (i % 200 == 199) {
      // Wait for the server to have taken (admitted, refused or evicted for) every one so far.
      EXPECT_TRUE(eventually([&] {
        auto c = h.server_status()["connections"];
        return c["open"].get<std::uint64_t>() + c["refused"].get<std::uint64_t>() +
                   c["evicted"].get<std::uint64_t>() >=
               before + static_cast<std::uint64_t>(i + 1);
      }, 10s)) << "after " << i + 1 << " connections";
    }
  }
  return fds;
}

// The time from starting an agent (the harness's agent number `index`) to its service "web"
// being registered.
std::chrono::milliseconds time_to_register(Harness& h, std::uint16_t service_port,
                                           std::size_t index) {
  const auto start = Clock::now();
  auto client = h.client_config({config::ServiceConfig::tcp("web", service_port)});
  client.token = kAgentToken;
  h.start_agent(client);
  const std::uint16_t port = h.public_port("web", index, 10s);
  EXPECT_NE(port, 0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Bytes through the agent's tunnel arrive whole.
void expect_echo_through(std::uint16_t public_port, const std::string& source = "127.0.0.1") {
  Fd c = tcp_connect_from(source, public_port);
  ASSERT_TRUE(c);
  const std::string payload = pattern_bytes(4096, 7);
  ASSERT_TRUE(send_all(c.get(), payload));
  auto back = recv_exact(c.get(), payload.size());
  ASSERT_TRUE(back);
  EXPECT_EQ(fnv1a(back->data(), back->size()), fnv1a(payload.data(), payload.size()));
}

// ---- the control listener ----

TEST(HostileConn, ThreeThousandStalledPreAuthConnectionsDoNotDelayAnAgent) {
  raise_own_fd_limit();
  EchoServer echo;
  Harness h;
  auto cfg = test_config();
  cfg.max_pending_handshakes = 4000;  // hold all 3000: the point is that held ones cost nothing
  cfg.auth_timeout = 60s;             // and that they stay for the whole test
  h.start_server(cfg);
  Bystander bystander(h);
  std::vector<Fd> flood = stall_flood(h, 3000, 50);  // 60 per address, under the 64 cap
  ASSERT_TRUE(eventually([&] { return stat_of(h, "unauthenticated") >= 3000; }, 10s))
      << h.server_status()["connections"].dump();
  EXPECT_EQ(stat_of(h, "refused"), 0u);
  const auto took = time_to_register(h, echo.port(), 1);
  EXPECT_LT(took, 2s) << "the agent took " << took.count() << " ms to register";
  expect_echo_through(h.public_port("web", 1));
  // The flood is still held: the agent did not get in by the flood going away.
  EXPECT_GE(stat_of(h, "unauthenticated"), 3000u);
  EXPECT_TRUE(bystander.finish());
}

TEST(HostileConn, FullPendingTableMakesRoomForANewcomerFromAnotherAddress) {
  raise_own_fd_limit();
  EchoServer echo;
  Harness h;
  auto cfg = test_config();  // default caps: 1000 pending, 64 per address
  cfg.auth_timeout = 60s;
  h.start_server(cfg);
  Bystander bystander(h);
  std::vector<Fd> flood = stall_flood(h, 1600, 25);  // 64 per address: fills the table
  // Equal shares: past 1000 the flood's own connections are refused (or displace one of a
  // source holding more).
  ASSERT_TRUE(eventually(
      [&] { return stat_of(h, "refused") + stat_of(h, "evicted") >= 600; }, 10s))
      << h.server_status()["connections"].dump();
  EXPECT_LE(stat_of(h, "unauthenticated"), 1000u);
  const std::uint64_t evicted_before = stat_of(h, "evicted");
  const auto took = time_to_register(h, echo.port(), 1);
  EXPECT_LT(took, 2s) << "the agent took " << took.count() << " ms to register";
  expect_echo_through(h.public_port("web", 1));
  EXPECT_GT(stat_of(h, "evicted"), evicted_before);  // it took a flood connection's place
  EXPECT_LE(stat_of(h, "unauthenticated"), 1000u);
  EXPECT_TRUE(bystander.finish());
}

TEST(HostileConn, SixtyFifthUnauthenticatedConnectionFromOneAddressIsRefused) {
  Harness h;
  h.start_server(test_config());  // max_unauthenticated_per_source 64
  Bystander bystander(h);
  const std::string source = attacker(1);
  std::vector<Fd> held;
  for (int i = 0; i < 64; ++i) held.push_back(stalled_connection(source, h.control_port(), Stall::silent));
  ASSERT_TRUE(eventually([&] { return stat_of(h, "unauthenticated") == 64; }, 5s));
  auto refused = RawWs::connect_from(source, h.control_port());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->http_status(), 503);
  EXPECT_THAT(refused->http_response(),
              HasSubstr("503 too many unauthenticated connections from " + source));
  EXPECT_EQ(stat_of(h, "refused"), 1u);
  // Another address is not affected, and can authenticate.
  auto other = RawWs::connect_from(attacker(2), h.control_port());
  ASSERT_TRUE(other && other->is_open());
  auto answer = other->authenticate(kAgentToken, crypto::uuid_v4());
  ASSERT_TRUE(answer);
  EXPECT_TRUE(decode_as<proto::AuthOk>(*answer));
  // The address gets its slots back as its connections end.
  held.clear();
  ASSERT_TRUE(eventually([&] { return stat_of(h, "unauthenticated") == 0; }, 5s))
      << h.server_status()["connections"].dump();
  auto again = RawWs::connect_from(source, h.control_port());
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->is_open()) << again->http_response();
  EXPECT_TRUE(bystander.finish());
}

TEST(HostileConn, PendingHandshakeCapRefusesTheHeaviestAddressAndEvictsForOthers) {
  Harness h;
  auto cfg = test_config();
  cfg.max_pending_handshakes = 8;
  cfg.auth_timeout = 60s;
  h.start_server(cfg);
  Bystander bystander(h);
  std::vector<Fd> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(stalled_connection(attacker(3), h.control_port(), Stall::silent));
    // In order: the first one is the oldest.
    ASSERT_TRUE(eventually([&] { return stat_of(h, "unauthenticated") == std::uint64_t(i + 1); }));
  }
  auto refused = RawWs::connect_from(attacker(3), h.control_port());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->http_status(), 503);
  EXPECT_THAT(refused->http_response(), HasSubstr("503 too many pending handshakes"));
  // A newcomer from elsewhere takes the place of the heavy address's oldest connection.
  auto newcomer = RawWs::connect_from(attacker(4), h.control_port());
  ASSERT_TRUE(newcomer && newcomer->is_open()) << (newcomer ? newcomer->http_response() : "");
  EXPECT_TRUE(wait_closed(held.front().get(), 5s));
  EXPECT_EQ(stat_of(h, "evicted"), 1u);
  EXPECT_EQ(stat_of(h, "unauthenticated"), 8u);
  auto answer = newcomer->authenticate(kAgentToken, crypto::uuid_v4());
  ASSERT_TRUE(answer);
  EXPECT_TRUE(decode_as<proto::AuthOk>(*answer));
  EXPECT_TRUE(bystander.finish());
}

TEST(HostileConn, UpgradedButUnauthenticatedVictimHearsWhy) {
  Harness h;
  auto cfg = test_config();
  cfg.max_pending_handshakes = 2;
  cfg.auth_timeout = 60s;
  h.start_server(cfg);
  Bystander bystander(h);
  auto first = RawWs::connect_from(attacker(5), h.control_port());
  ASSERT_TRUE(first && first->is_open());
  auto second = RawWs::connect_from(attacker(5), h.control_port());
  ASSERT_TRUE(second && second->is_open());
  auto newcomer = RawWs::connect_from(attacker(6), h.control_port());
  ASSERT_TRUE(newcomer && newcomer->is_open());
  auto close = first->wait_close(5s);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->code, 1013);
  EXPECT_EQ(close->reason, "server busy: too many unauthenticated connections");
  EXPECT_TRUE(bystander.finish());
}

TEST(HostileConn, ConnectionCapRefusesWithA503) {
  Harness h;
  auto cfg = test_config();
  cfg.max_connections = 4;  // the bystander's agent and three sessions
  cfg.accept_any_token = true;  // one token per session
  h.start_server(cfg);
  Bystander bystander(h);
  std::vector<std::unique_ptr<RawWs>> sessions;
  for (int i = 0; i < 3; ++i) {
    auto ws = RawWs::connect_from(attacker(7 + i), h.control_port());
    ASSERT_TRUE(ws && ws->is_open());
    auto answer = ws->authenticate("session-" + std::to_string(i), crypto::uuid_v4());
    ASSERT_TRUE(answer && decode_as<proto::AuthOk>(*answer));
    ws->ack_heartbeats = true;
    sessions.push_back(std::move(ws));
  }
  ASSERT_TRUE(eventually([&] { return stat_of(h, "unauthenticated") == 0; }));
  auto refused = RawWs::connect_from(attacker(10), h.control_port());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->http_status(), 503);
  EXPECT_THAT(refused->http_response(), HasSubstr("503 too many connections"));
  // An agent hears the same text.
  auto client = h.client_config();
  client.token = kAgentToken;
  h.start_agent(client);
  auto failed = h.agent_events(1).wait_for(
      [](const nlohmann::json& e) {
        return e["event"] == "disconnected" || e["event"] == "error" ||
               e["event"] == "auth_failed";
      },
      10s);
  ASSERT_TRUE(failed);
  EXPECT_THAT(failed->dump(), HasSubstr("too many connections"));
  EXPECT_TRUE(bystander.finish());
}

TEST(HostileConn, FailedAuthsSlowTheGuessingAddressOnly) {
  EchoServer echo;
  Harness h;
  h.start_server(test_config());  // auth_failure_delay_max 5s
  Bystander bystander(h);
  auto failed_auth = [&](const std::string& source) {
    auto ws = RawWs::connect_from(source, h.control_port());
    EXPECT_TRUE(ws && ws->is_open());
    const auto start = Clock::now();
    auto answer = ws->authenticate("wrong-token", crypto::uuid_v4());
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    EXPECT_TRUE(answer);
    if (answer) {
      EXPECT_TRUE(decode_as<proto::AuthFail>(*answer));
    }
    return took;
  };
  const std::string guesser = attacker(11);
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 6; ++i) waits.push_back(failed_auth(guesser));
  // Three at once (a mistyped token), then 250 ms doubling.
  for (int i = 0; i < 3; ++i) EXPECT_LT(waits[i], 200ms) << "failure " << i + 1;
  EXPECT_GE(waits[3], 240ms);
  EXPECT_GE(waits[4], 490ms);
  EXPECT_GE(waits[5], 990ms);
  EXPECT_GT(waits[5], waits[4]);
  EXPECT_GT(waits[4], waits[3]);
  // While the guesser waits for its next answer (2 s), nobody else is slowed: a wrong token
  // from another address is answered at once, and an agent registers at once.
  std::chrono::milliseconds guesser_wait{0};
  std::thread next([&] { guesser_wait = failed_auth(guesser); });
  EXPECT_LT(failed_auth(attacker(12)), 200ms);
  EXPECT_LT(time_to_register(h, echo.port(), 1), 1s);
  next.join();
  EXPECT_GE(guesser_wait, 1990ms);
  EXPECT_TRUE(bystander.finish());
}

// ---- descriptor exhaustion ----

// Each source's first failed Auth is logged; its repeats share one line per log period.
TEST(HostileConn, AFloodOfBadAuthsDoesNotFloodTheLog) {
  auto config = test_config();
  config.auth_failure_delay_max = std::chrono::milliseconds(0);  // answers at once
  Harness h;
  h.start_server(config);
  const LogLevel previous_level = Log::level();
  if (!Log::enabled(LogLevel::info)) Log::set_level(LogLevel::info);
  LogCapture log;
  auto failed_auth = [&](const std::string& source) {
    auto ws = RawWs::connect_from(source, h.control_port());
    ASSERT_TRUE(ws && ws->is_open());
    auto answer = ws->authenticate("wrong-token", crypto::uuid_v4());
    ASSERT_TRUE(answer);
    EXPECT_TRUE(decode_as<proto::AuthFail>(*answer));
  };
  for (int i = 0; i < 20; ++i) failed_auth(attacker(21));
  failed_auth(attacker(22));
  // The server logs before it answers: every line is in by now.
  const auto lines = log.messages_with("authentication refused");
  Log::set_level(previous_level);
  // attacker 21's first failure, the first repeat (the period's one line), attacker 22's first.
  EXPECT_EQ(lines.size(), 3u);
  for (const auto& l : lines) EXPECT_THAT(l, HasSubstr("authentication refused"));
}

int highest_open_fd() {
  int highest = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* e = readdir(dir)) highest = std::max(highest, std::atoi(e->d_name));
  closedir(dir);
  return highest;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

TEST(HostileConn, OutOfDescriptorsNeitherSpinsNorFloodsTheLog) {
  Harness h;
  h.start_server(test_config());
  LogCapture log;
  constexpr int kClients = 40;
  // Client sockets exist before the descriptors run out; connecting needs none.
  std::vector<Fd> clients;
  for (int i = 0; i < kClients; ++i) clients.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(highest_open_fd() + 32);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<Fd> filler;
  for (;;) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    filler.emplace_back(fd);
  }
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(h.control_port());
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (auto& c : clients) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, attacker(20).c_str(), &from.sin_addr);
    ASSERT_EQ(::bind(c.get(), reinterpret_cast<sockaddr*>(&from), sizeof from), 0);
    ASSERT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&server), sizeof server), 0);
    send_all(c.get(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  // Every client is answered and closed, none is left hanging in the backlog.
  int answered = 0;
  for (auto& c : clients) {
    set_timeouts(c.get(), 5s);
    auto reply = recv_until_eof(c.get(), 4096);
    if (reply && reply->starts_with("HTTP/1.1 503 server out of file descriptors")) ++answered;
  }
  EXPECT_EQ(answered, kClients);
  // Idle now: no busy loop on a listener that stays readable.
  const double cpu_before = cpu_seconds();
  const auto wall_before = Clock::now();
  std::this_thread::sleep_for(500ms);  // a measuring window, not a synchronisation
  const double cpu = cpu_seconds() - cpu_before;
  const double wall = std::chrono::duration<double>(Clock::now() - wall_before).count();
  EXPECT_LT(cpu, 0.2 * wall) << "the process used " << cpu << " s of CPU in " << wall << " s";
  filler.clear();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_EQ(stat_of(h, "refused_no_fd"), static_cast<std::uint64_t>(kClients));
  // One line for the whole episode, one when it is over.
  auto ws = RawWs::connect(h.control_port());
  ASSERT_TRUE(ws && ws->is_open());
  ASSERT_TRUE(eventually([&] { return log.messages_with("descriptor").size() >= 2; }, 5s));
  auto lines = log.messages_with("descriptor");
  ASSERT_EQ(lines.size(), 2u) << ::testing::PrintToString(lines);
  EXPECT_THAT(lines[0], HasSubstr("refusing new connections until descriptors are free"));
  EXPECT_THAT(lines[1], HasSubstr(std::to_string(kClients) +
                                  " connection(s) were refused for lack of file descriptors"));
}

// ---- per-service caps ----

// A server with `cfg`, a bystander beside the attack, and the agent publishing `service`.
struct CappedService {
  CappedService(const config::TunnelServerConfig& cfg, const config::ServiceConfig& service)
      : bystander((h.start_server(cfg), h)) {
    auto client = h.client_config({service});
    client.token = kAgentToken;
    h.start_agent(client);
    port = h.public_port(service.name, 1);
  }
  Harness h;
  Bystander bystander;
  std::uint16_t port = 0;
};

TEST(HostileConn, MaxConnsPerSourceResetsTheExtraConnection) {
  EchoServer echo;
  auto cfg = test_config();
  cfg.max_conns_per_source = 2;
  CappedService capped(cfg, config::ServiceConfig::tcp("web", echo.port()));
  Bystander& bystander = capped.bystander;
  const std::uint16_t port = capped.port;
  ASSERT_NE(port, 0);
  const std::string source = attacker(30);
  std::vector<Fd> held;
  for (int i = 0; i < 2; ++i) {
    Fd c = tcp_connect_from(source, port);
    ASSERT_TRUE(c);
    ASSERT_TRUE(send_all(c.get(), "ping"));
    ASSERT_EQ(recv_exact(c.get(), 4), "ping");
    held.push_back(std::move(c));
  }
  Fd third = tcp_connect_from(source, port);
  ASSERT_TRUE(third);
  EXPECT_TRUE(wait_closed(third.get(), 5s));
  EXPECT_EQ(echo.accepted(), 2);  // the reset one never reached the service
  // Other addresses are not limited by this one's connections.
  expect_echo_through(port, attacker(31));
  // A connection that ends gives its slot back.
  held.pop_back();
  EXPECT_TRUE(eventually([&] {
    Fd c = tcp_connect_from(source, port);
    set_timeouts(c.get(), 1s);
    return c && send_all(c.get(), "pong") && recv_exact(c.get(), 4) == "pong";
  }));
  EXPECT_TRUE(bystander.finish());
}

TEST(HostileConn, UdpFlowsBeyondTheCapEvictTheLeastRecentlyUsed) {
  UdpEchoServer echo;
  auto cfg = test_config();
  cfg.max_udp_flows = 2;
  CappedService capped(cfg, config::ServiceConfig::udp("uecho", echo.port()));
  Harness& h = capped.h;
  Bystander& bystander = capped.bystander;
  const std::uint16_t port = capped.port;
  ASSERT_NE(port, 0);
  auto roundtrip = [](const Fd& fd, const std::string& d) -> std::optional<std::string> {
    set_timeouts(fd.get(), 5s);
    if (::send(fd.get(), d.data(), d.size(), 0) != static_cast<ssize_t>(d.size())) return {};
    std::string buf(2048, '\0');
    ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    if (n < 0) return {};
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  };
  auto traffic = [&] { return service_traffic(h, "uecho"); };
  Fd a = udp_connect(port), b = udp_connect(port), c = udp_connect(port);
  EXPECT_EQ(roundtrip(a, "a1"), "a1");
  EXPECT_EQ(roundtrip(b, "b1"), "b1");
  EXPECT_EQ(roundtrip(a, "a2"), "a2");  // a is now more recent than b
  EXPECT_EQ(roundtrip(c, "c1"), "c1");  // a third flow: b goes
  EXPECT_EQ(traffic()["streams_total"], 3);
  ASSERT_TRUE(eventually([&] { return traffic()["streams_active"] == 2; }));
  // The agent saw b's stream end too.
  ASSERT_TRUE(eventually([&] { return h.agent_status(1)["traffic"]["streams_active"] == 2; }))
      << h.agent_status(1).dump();
  // a kept its flow (no new stream); b comes back as a new flow and evicts a, the least recent.
  EXPECT_EQ(roundtrip(a, "a3"), "a3");
  EXPECT_EQ(traffic()["streams_total"], 3);
  EXPECT_EQ(roundtrip(c, "c2"), "c2");
  EXPECT_EQ(roundtrip(b, "b2"), "b2");
  EXPECT_EQ(traffic()["streams_total"], 4);
  ASSERT_TRUE(eventually([&] { return traffic()["streams_active"] == 2; }));
  EXPECT_EQ(roundtrip(c, "c3"), "c3");
  EXPECT_EQ(traffic()["streams_total"], 4);
  EXPECT_TRUE(bystander.finish());
}

}  // namespace
}  // namespace zlt::test
