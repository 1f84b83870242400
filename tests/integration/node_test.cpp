// Node-to-node tunnels: two NodeTunnelManagers on loopback, each on its own runtime as two
// processes would be. Node "a" exposes a local echo service; node "b" runs the server side
// and makes it reachable (internal: a listener on b; public: b's public port).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/node/node_manager.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"
#include "zlt/event_json.hpp"

namespace zlt::test {
namespace {

constexpr const char* kTokenDb = "tok-db-5f1e";
constexpr const char* kTokenWeb = "tok-web-9a2c";

// The manager's events as they arrive: typed, and in their JSON form to an EventLog.
class RecordedEvents final : public NodeTunnelObserver {
 public:
  explicit RecordedEvents(EventLog& log)
      : json_([&log](const nlohmann::json& e) { log.push(e); }) {}
  void on_tunnel_state(const NodeTunnelStateChanged& e) override {
    {
      std::lock_guard lock(mu_);
      states_.push_back(e);
    }
    json_.on_tunnel_state(e);
  }
  void on_route(const NodeRouteChosen& e) override { json_.on_route(e); }
  std::vector<NodeTunnelStateChanged> states() {
    std::lock_guard lock(mu_);
    return states_;
  }

 private:
  JsonNodeObserver json_;
  std::mutex mu_;
  std::vector<NodeTunnelStateChanged> states_;
};

// One node: its own runtime and manager, its events collected.
class Node {
 public:
  Node() {
    auto rt = Runtime::start("zlt-node-test");
    if (!rt) {
      ADD_FAILURE() << rt.error().message;
      return;
    }
    runtime_ = std::move(*rt);
  }
  ~Node() {
    stop();
    runtime_.reset();
  }

  // Creates the manager for `config` and starts it; the error, if any.
  std::optional<Error> start(const config::NodeConfig& config, OverlayResolver resolver = {}) {
    std::optional<Error> error;
    runtime_->invoke([&] {
      auto created = NodeTunnelManager::create(*runtime_, config);
      if (!created) {
        error = created.error();
        return;
      }
      manager_ = std::move(*created);
      manager_->set_observer(&recorded_);
      if (resolver) manager_->set_overlay_resolver(std::move(resolver));
      if (auto st = manager_->start(); !st) error = st.error();
    });
    return error;
  }
  // Destroys the manager (as a crash of the node's process would end it).
  void stop() {
    if (runtime_) runtime_->invoke([&] { manager_.reset(); });
  }
  void on_loop(const std::function<void(NodeTunnelManager&)>& f) {
    runtime_->invoke([&] { f(*manager_); });
  }
  nlohmann::json status(const std::string& tunnel) {
    nlohmann::json j;
    runtime_->invoke([&] {
      if (!manager_) return;
      if (auto s = manager_->get_status(tunnel)) j = s->to_json();
    });
    return j;
  }
  std::uint16_t server_port() {
    std::uint16_t port = 0;
    runtime_->invoke([&] {
      if (auto a = manager_->server_address()) port = a->port();
    });
    return port;
  }
  std::uint16_t inbound_port(const std::string& tunnel) {
    std::uint16_t port = 0;
    runtime_->invoke([&] {
      if (auto a = manager_->inbound_address(tunnel)) port = a->port();
    });
    return port;
  }
  // Waits for a tunnel_state event of `tunnel` with `state` (counting from the start).
  std::optional<nlohmann::json> wait_state(const std::string& tunnel, const std::string& state,
                                           std::chrono::milliseconds timeout = 10s) {
    return events_.wait_for(
        [&](const nlohmann::json& e) {
          return e.value("event", "") == "tunnel_state" && e.value("tunnel", "") == tunnel &&
                 e.value("state", "") == state;
        },
        timeout);
  }
  std::vector<std::string> states_of(const std::string& tunnel) {
    std::vector<std::string> out;
    for (const auto& e : events_.all())
      if (e.value("event", "") == "tunnel_state" && e.value("tunnel", "") == tunnel)
        out.push_back(e.value("state", ""));
    return out;
  }
  EventLog& events() { return events_; }
  std::vector<NodeTunnelStateChanged> typed_states() { return recorded_.states(); }

 private:
  std::unique_ptr<Runtime> runtime_;
  // Declared before the manager, so they outlive it.
  EventLog events_;
  RecordedEvents recorded_{events_};
  std::unique_ptr<NodeTunnelManager> manager_;
};

config::NodeConfig node_b_config(std::uint16_t listen_port = 0) {
  config::NodeConfig c;
  c.node_name = "node-b";
  config::TunnelServerConfig s;
  s.listen = "127.0.0.1:" + std::to_string(listen_port);
  s.public_bind = "127.0.0.1";
  s.data_port_range = {0, 0};
  s.heartbeat_interval = 1s;
  s.heartbeat_timeout = 10s;
  c.server = s;
  return c;
}

config::NodeConfig node_a_config() {
  config::NodeConfig c;
  c.node_name = "node-a";
  c.reconnect_interval = 50ms;
  c.max_reconnect_interval = 200ms;
  c.heartbeat_interval = 1s;
  c.heartbeat_timeout = 10s;
  c.connect_timeout = 2s;
  return c;
}

std::string url_for(std::uint16_t port, const std::string& host = "127.0.0.1") {
  return "ws://" + host + ":" + std::to_string(port) + "/tunnel/v1";
}

config::NodeTunnel tunnel(const std::string& name, std::uint16_t local_port,
                          config::ExposeType expose, const std::string& token,
                          std::uint16_t server_port) {
  config::NodeTunnel t(name, "node-a", "node-b");
  t.local_port = local_port;
  t.remote_port = 0;  // the kernel chooses on node b
  t.expose = expose;
  t.token = token;
  t.routing_mode = config::RoutingMode::direct_only;
  t.direct_url = url_for(server_port);
  return t;
}

// Sends `size` pattern bytes through 127.0.0.1:port (an echo service behind a tunnel) from a
// second thread while reading the echo here; compares content hashes.
::testing::AssertionResult echo_hashed(std::uint16_t port, std::size_t size, std::uint64_t seed) {
  Fd fd = tcp_connect(port);
  if (!fd) return ::testing::AssertionFailure() << "cannot connect to " << port;
  set_timeouts(fd.get(), 10s);
  const std::string data = pattern_bytes(size, seed);
  std::thread sender([&] {
    send_all(fd.get(), data);
    ::shutdown(fd.get(), SHUT_WR);
  });
  auto back = recv_until_eof(fd.get());
  sender.join();
  if (!back) return ::testing::AssertionFailure() << "no echo (error or timeout)";
  if (back->size() != data.size())
    return ::testing::AssertionFailure() << "echoed " << back->size() << " of " << data.size();
  if (fnv1a(back->data(), back->size()) != fnv1a(data.data(), data.size()))
    return ::testing::AssertionFailure() << "content differs";
  return ::testing::AssertionSuccess();
}

std::uint64_t num(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

// Node b serving, node a with the given tunnels toward it.
struct TwoNodes {
  EchoServer echo;
  Node a;
  Node b;
  std::uint16_t port = 0;

  void start_b(std::vector<config::NodeTunnel> inbound, std::uint16_t listen_port = 0) {
    config::NodeConfig cb = node_b_config(listen_port);
    cb.tunnels = std::move(inbound);
    auto err = b.start(cb);
    ASSERT_FALSE(err) << err->message;
    port = b.server_port();
    ASSERT_NE(port, 0);
  }

  // b serves the tunnel "db" to the echo server, and a dials it directly until connected.
  void connect_db() {
    auto db = tunnel("db", echo.port(), config::ExposeType::internal, kTokenDb, 1);
    ASSERT_NO_FATAL_FAILURE(start_b({db}));
    db.direct_url = url_for(port);
    config::NodeConfig ca = node_a_config();
    ca.tunnels = {db};
    ASSERT_FALSE(a.start(ca));
    ASSERT_TRUE(a.wait_state("db", "connected"));
  }
};

TEST(NodeTunnels, InternalAndPublicTunnelsCarryBytes) {
  TwoNodes n;
  // b needs the tunnels (their tokens) before a knows b's port: fill the URLs afterwards.
  auto db = tunnel("db", n.echo.port(), config::ExposeType::internal, kTokenDb, 1);
  auto web = tunnel("web", n.echo.port(), config::ExposeType::public_, kTokenWeb, 1);
  n.start_b({db, web});
  db.direct_url = web.direct_url = url_for(n.port);
  config::NodeConfig ca = node_a_config();
  ca.tunnels = {db, web};
  ASSERT_FALSE(n.a.start(ca));

  for (const char* name : {"db", "web"}) {
    ASSERT_TRUE(n.a.wait_state(name, "connected")) << name;
    ASSERT_TRUE(n.b.wait_state(name, "connected")) << name;
  }
  // Internal: a listener on node b, nothing public.
  const std::uint16_t internal_port = n.b.inbound_port("db");
  ASSERT_NE(internal_port, 0);
  EXPECT_FALSE(n.a.status("db").contains("public_port"));
  EXPECT_TRUE(echo_hashed(internal_port, 1 << 20, 1));
  // Public: b's public port, reported on both ends.
  const std::uint64_t public_port = num(n.a.status("web"), "public_port");
  ASSERT_NE(public_port, 0u);
  EXPECT_EQ(num(n.b.status("web"), "public_port"), public_port);
  EXPECT_EQ(n.b.inbound_port("web"), 0);  // no extra listener for a public tunnel
  EXPECT_TRUE(echo_hashed(static_cast<std::uint16_t>(public_port), 300000, 2));

  // Bytes from stream accounting on both nodes: a's service received and returned them.
  EXPECT_TRUE(eventually([&] {
    auto s = n.a.status("db");
    return num(s, "bytes_in") == (1u << 20) && num(s, "bytes_out") == (1u << 20);
  })) << n.a.status("db").dump();
  EXPECT_TRUE(eventually([&] {
    auto s = n.b.status("db");
    return num(s, "bytes_in") == (1u << 20) && num(s, "bytes_out") == (1u << 20);
  })) << n.b.status("db").dump();
  EXPECT_TRUE(eventually([&] { return num(n.a.status("web"), "bytes_in") == 300000; }));

  nlohmann::json s = n.a.status("db");
  EXPECT_EQ(s["state"], "connected");
  EXPECT_EQ(s["direction"], "outbound");
  EXPECT_EQ(s["route"], "direct");
  EXPECT_TRUE(s["connected_at"].is_string());
  EXPECT_TRUE(s["last_activity"].is_string());
  EXPECT_EQ(num(s, "reconnects"), 0u);
  EXPECT_EQ(n.b.status("db")["direction"], "inbound");
}

TEST(NodeTunnels, InternalUdpTunnelCarriesDatagramsWhole) {
  UdpEchoServer uecho;
  TwoNodes n;
  auto dns = tunnel("dns", uecho.port(), config::ExposeType::internal, kTokenDb, 1);
  dns.protocol = proto::ServiceProtocol::udp;
  n.start_b({dns});
  dns.direct_url = url_for(n.port);
  config::NodeConfig ca = node_a_config();
  ca.tunnels = {dns};
  ASSERT_FALSE(n.a.start(ca));
  ASSERT_TRUE(n.a.wait_state("dns", "connected"));
  ASSERT_TRUE(n.b.wait_state("dns", "connected"));
  Fd s = udp_connect(n.b.inbound_port("dns"));
  ASSERT_TRUE(s);
  set_timeouts(s.get(), 5s);
  for (std::size_t size : {std::size_t{1}, std::size_t{1400}, std::size_t{60000}}) {
    const std::string d = pattern_bytes(size, size);
    ASSERT_EQ(::send(s.get(), d.data(), d.size(), 0), static_cast<ssize_t>(d.size()));
    std::string buf(70000, '\0');
    const ssize_t got = ::recv(s.get(), buf.data(), buf.size(), 0);
    ASSERT_EQ(got, static_cast<ssize_t>(size));
    buf.resize(size);
    EXPECT_EQ(fnv1a(buf.data(), buf.size()), fnv1a(d.data(), d.size())) << size;
  }
}

TEST(NodeTunnels, ConnectingUntilRegisteredThenConnectedAndLatencySet) {
  TwoNodes n;
  ASSERT_NO_FATAL_FAILURE(n.connect_db());
  // The only states before connected: connecting (never connected before RegisterOk).
  std::vector<std::string> states = n.a.states_of("db");
  ASSERT_GE(states.size(), 2u);
  EXPECT_EQ(states.front(), "connecting");
  EXPECT_EQ(states.back(), "connected");
  EXPECT_EQ(std::count(states.begin(), states.end(), "connected"), 1);
  // b says pending until the registration arrives, then connected.
  EXPECT_EQ(n.b.states_of("db"), std::vector<std::string>{"connected"});

  // Heartbeat round trips: set on both ends, plausible on loopback.
  ASSERT_TRUE(eventually([&] { return n.a.status("db")["latency_ms"].is_number(); }))
      << n.a.status("db").dump();
  EXPECT_GT(n.a.status("db")["latency_ms"].get<double>(), 0.0);
  EXPECT_LT(n.a.status("db")["latency_ms"].get<double>(), 1000.0);
  ASSERT_TRUE(eventually([&] { return n.b.status("db")["latency_ms"].is_number(); }))
      << n.b.status("db").dump();
  EXPECT_GT(n.b.status("db")["latency_ms"].get<double>(), 0.0);
  EXPECT_LT(n.b.status("db")["latency_ms"].get<double>(), 1000.0);
}

TEST(NodeTunnels, TypedObserverHearsConnectingConnectedDisconnectedInOrder) {
  TwoNodes n;
  ASSERT_NO_FATAL_FAILURE(n.connect_db());
  n.a.on_loop([](NodeTunnelManager& m) { ASSERT_TRUE(m.stop_outbound("db")); });
  ASSERT_TRUE(n.a.wait_state("db", "disconnected"));

  std::vector<NodeTunnelState> states;
  for (const auto& e : n.a.typed_states()) {
    EXPECT_EQ(e.tunnel, "db");
    EXPECT_EQ(e.direction, "outbound");
    states.push_back(e.state);
  }
  const std::vector<NodeTunnelState> expected = {
      NodeTunnelState::connecting, NodeTunnelState::connected, NodeTunnelState::disconnected};
  EXPECT_EQ(states, expected);
  EXPECT_EQ(n.a.typed_states().back().reason, "stopped");
}

TEST(NodeTunnels, RegistrationRefusedIsFailedNeverConnected) {
  TwoNodes n;
  // b allows the public tunnel one port only; a asks for another.
  auto web = tunnel("web", n.echo.port(), config::ExposeType::public_, kTokenWeb, 1);
  web.remote_port = unused_tcp_port();
  n.start_b({web});
  web.direct_url = url_for(n.port);
  web.remote_port =
      static_cast<std::uint16_t>(web.remote_port == 65535 ? 65534 : web.remote_port + 1);
  config::NodeConfig ca = node_a_config();
  ca.tunnels = {web};
  ASSERT_FALSE(n.a.start(ca));
  auto failed = n.a.wait_state("web", "failed");
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->value("reason", "").find("port"), std::string::npos) << failed->dump();
  std::vector<std::string> states = n.a.states_of("web");
  EXPECT_EQ(std::count(states.begin(), states.end(), "connected"), 0);
  EXPECT_EQ(n.b.status("web")["state"], "pending");
}

TEST(NodeTunnels, DestinationRestartIsSurvivedAndCountersKeepCounting) {
  TwoNodes n;
  auto db = tunnel("db", n.echo.port(), config::ExposeType::internal, kTokenDb, 1);
  n.start_b({db});
  const std::uint16_t control_port = n.port;
  db.direct_url = url_for(control_port);
  config::NodeConfig ca = node_a_config();
  ca.tunnels = {db};
  ASSERT_FALSE(n.a.start(ca));
  ASSERT_TRUE(n.a.wait_state("db", "connected"));
  ASSERT_TRUE(n.b.wait_state("db", "connected"));
  ASSERT_TRUE(echo_hashed(n.b.inbound_port("db"), 100000, 3));
  ASSERT_TRUE(eventually([&] { return num(n.a.status("db"), "bytes_in") == 100000; }));

  // Kill b: a notices and says so.
  n.b.stop();
  auto down = n.a.wait_state("db", "disconnected");
  ASSERT_TRUE(down);
  EXPECT_FALSE(down->value("reason", "").empty());
  EXPECT_EQ(n.a.status("db")["state"], "disconnected");
  EXPECT_TRUE(n.a.status("db")["connected_at"].is_null());

  // b again on the same control port: a comes back by itself.
  n.a.events().clear();
  n.b.events().clear();
  n.start_b({db}, control_port);
  ASSERT_TRUE(n.a.wait_state("db", "connected"));
  ASSERT_TRUE(n.b.wait_state("db", "connected"));
  EXPECT_TRUE(echo_hashed(n.b.inbound_port("db"), 50000, 4));
  EXPECT_TRUE(eventually([&] {
    auto s = n.a.status("db");
    return num(s, "bytes_in") == 150000 && num(s, "bytes_out") == 150000;
  })) << n.a.status("db").dump();
  EXPECT_EQ(num(n.a.status("db"), "reconnects"), 1u);
}

TEST(NodeTunnels, SourceDownMeansConnectionsAreRefusedThenServedAgain) {
  TwoNodes n;
  auto db = tunnel("db", n.echo.port(), config::ExposeType::internal, kTokenDb, 1);
  n.start_b({db});
  db.direct_url = url_for(n.port);
  config::NodeConfig ca = node_a_config();
  ca.tunnels = {db};
  ASSERT_FALSE(n.a.start(ca));
  ASSERT_TRUE(n.b.wait_state("db", "connected"));
  const std::uint16_t port = n.b.inbound_port("db");

  n.a.stop();
  auto down = n.b.wait_state("db", "disconnected");
  ASSERT_TRUE(down);
  EXPECT_NE(down->value("reason", "").find("tunnel closed"), std::string::npos) << down->dump();
  // Not held in the backlog: the client learns at once that nothing is behind the port.
  Fd c = tcp_connect(port);
  if (c) {
    EXPECT_TRUE(wait_closed(c.get(), 2s));
  }

  n.b.events().clear();
  ASSERT_FALSE(n.a.start(ca));
  ASSERT_TRUE(n.b.wait_state("db", "connected"));
  EXPECT_EQ(num(n.b.status("db"), "reconnects"), 1u);
  EXPECT_TRUE(echo_hashed(port, 20000, 7));
}

TEST(NodeTunnels, PreferOverlayWithDeadOverlayFallsBackToDirectAndSaysWhy) {
  TwoNodes n;
  auto db = tunnel("db", n.echo.port(), config::ExposeType::internal, kTokenDb, 1);
  n.start_b({db});
  db.direct_url = url_for(n.port);
  db.routing_mode = config::RoutingMode::prefer_overlay;
  const std::string dead = url_for(unused_tcp_port());
  db.overlay_url = dead;
  config::NodeConfig ca = node_a_config();
  ca.tunnels = {db};
  ASSERT_FALSE(n.a.start(ca));
  auto fallback = n.a.events().wait_for([](const nlohmann::json& e) {
    return e.value("event", "") == "route" && e.value("route", "") == "direct";
  });
  ASSERT_TRUE(fallback);
  const std::string why = fallback->value("reason", "");
  EXPECT_NE(why.find("overlay " + dead + " unreachable"), std::string::npos) << why;
  ASSERT_TRUE(n.a.wait_state("db", "connected"));
  nlohmann::json s = n.a.status("db");
  EXPECT_EQ(s["route"], "direct");
  EXPECT_EQ(s["url"], *db.direct_url);
  EXPECT_NE(s.value("route_reason", "").find("unreachable"), std::string::npos) << s.dump();
  EXPECT_TRUE(echo_hashed(n.b.inbound_port("db"), 10000, 5));
}

TEST(NodeTunnels, PreferOverlayUsesTheResolversAddressWithTheDirectPort) {
  TwoNodes n;
  auto db = tunnel("db", n.echo.port(), config::ExposeType::internal, kTokenDb, 1);
  n.start_b({db});
  // The direct name does not resolve; the overlay address (from the resolver) does.
  db.direct_url = url_for(n.port, "node-b.invalid");
  db.routing_mode = config::RoutingMode::prefer_overlay;
  config::NodeConfig ca = node_a_config();
  ca.tunnels = {db};
  ASSERT_FALSE(n.a.start(ca, [](const std::string& node) -> std::optional<std::string> {
    if (node == "node-b") return "127.0.0.1";
    return std::nullopt;
  }));
  ASSERT_TRUE(n.a.wait_state("db", "connected"));
  nlohmann::json s = n.a.status("db");
  EXPECT_EQ(s["route"], "overlay");
  EXPECT_EQ(s["url"], url_for(n.port));
}

TEST(NodeTunnels, PreferOverlayReturnsToTheOverlayWhenItComesBack) {
  TwoNodes n;
  auto db = tunnel("db", n.echo.port(), config::ExposeType::internal, kTokenDb, 1);
  n.start_b({db});
  db.direct_url = url_for(n.port);
  db.routing_mode = config::RoutingMode::prefer_overlay;
  config::NodeConfig ca = node_a_config();
  ca.tunnels = {db};
  // The overlay address of node-b: first one where nothing listens, then the right one.
  auto overlay_up = std::make_shared<std::atomic<bool>>(false);
  ASSERT_FALSE(n.a.start(ca, [overlay_up](const std::string& node) -> std::optional<std::string> {
    if (node != "node-b") return std::nullopt;
    return overlay_up->load() ? "127.0.0.1" : "127.0.0.2";
  }));
  ASSERT_TRUE(n.a.wait_state("db", "connected"));
  EXPECT_EQ(n.a.status("db")["route"], "direct");
  overlay_up->store(true);
  auto back = n.a.events().wait_for([](const nlohmann::json& e) {
    return e.value("event", "") == "route" && e.value("route", "") == "overlay" &&
           e.value("reason", "") == "the overlay answers again";
  });
  ASSERT_TRUE(back) << nlohmann::json(n.a.events().all()).dump();
  EXPECT_EQ(back->value("url", ""), url_for(n.port));
  ASSERT_TRUE(eventually([&] {
    auto s = n.a.status("db");
    return s["state"] == "connected" && s["route"] == "overlay";
  })) << n.a.status("db").dump();
  EXPECT_TRUE(echo_hashed(n.b.inbound_port("db"), 10000, 6));
}

TEST(NodeTunnels, OverlayOnlyWithoutOverlayFailsWithTheOriginalsMessage) {
  Node a;
  config::NodeConfig ca = node_a_config();
  config::NodeTunnel t("db", "node-a", "node-b");
  t.local_port = 5432;
  t.remote_port = 0;
  t.token = kTokenDb;
  t.routing_mode = config::RoutingMode::overlay_only;
  t.direct_url = "ws://127.0.0.1:1/tunnel/v1";
  ca.tunnels = {t};
  ASSERT_FALSE(a.start(ca));
  auto failed = a.wait_state("db", "failed");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->value("reason", ""),
            "Connection error: overlay routing required but no overlay URL available");
  EXPECT_EQ(a.status("db")["state"], "failed");
}

TEST(NodeTunnels, ReloadAddsAndRemovesWhileAnotherKeepsMovingBytes) {
  TwoNodes n;
  auto keep = tunnel("keep", n.echo.port(), config::ExposeType::internal, "tok-keep", 1);
  auto old = tunnel("old", n.echo.port(), config::ExposeType::internal, "tok-old", 1);
  auto fresh = tunnel("fresh", n.echo.port(), config::ExposeType::internal, "tok-fresh", 1);
  n.start_b({keep, old});
  for (auto* t : {&keep, &old, &fresh}) t->direct_url = url_for(n.port);
  config::NodeConfig ca = node_a_config();
  ca.tunnels = {keep, old};
  ASSERT_FALSE(n.a.start(ca));
  for (const char* name : {"keep", "old"}) {
    ASSERT_TRUE(n.a.wait_state(name, "connected")) << name;
    ASSERT_TRUE(n.b.wait_state(name, "connected")) << name;
  }
  const std::uint16_t old_port = n.b.inbound_port("old");

  // A connection through "keep" stays open across the reload.
  Fd conn = tcp_connect(n.b.inbound_port("keep"));
  ASSERT_TRUE(conn);
  set_timeouts(conn.get(), 10s);
  const std::string first = pattern_bytes(65536, 10);
  ASSERT_TRUE(send_all(conn.get(), first));
  auto echoed = recv_exact(conn.get(), first.size());
  ASSERT_TRUE(echoed && fnv1a(echoed->data(), echoed->size()) == fnv1a(first.data(), first.size()));

  // Both nodes reload: "old" goes, "fresh" comes.
  config::NodeConfig cb2 = node_b_config(n.port);
  cb2.server->listen = "127.0.0.1:0";  // unchanged from the running one
  cb2.tunnels = {keep, fresh};
  config::NodeConfig ca2 = node_a_config();
  ca2.tunnels = {keep, fresh};
  Status rb;
  Status ra;
  n.b.on_loop([&](NodeTunnelManager& m) { rb = m.apply(cb2); });
  n.a.on_loop([&](NodeTunnelManager& m) { ra = m.apply(ca2); });
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  ASSERT_TRUE(ra.ok()) << ra.error().message;

  ASSERT_TRUE(n.a.wait_state("fresh", "connected"));
  ASSERT_TRUE(n.b.wait_state("fresh", "connected"));
  EXPECT_TRUE(echo_hashed(n.b.inbound_port("fresh"), 70000, 11));
  EXPECT_TRUE(n.a.status("old").is_null());
  EXPECT_TRUE(n.b.status("old").is_null());
  EXPECT_FALSE(tcp_connect(old_port));  // its listener is gone

  // "keep" never noticed: same connection, still carrying bytes, no state change.
  const std::string second = pattern_bytes(65536, 12);
  ASSERT_TRUE(send_all(conn.get(), second));
  echoed = recv_exact(conn.get(), second.size());
  ASSERT_TRUE(echoed);
  EXPECT_EQ(fnv1a(echoed->data(), echoed->size()), fnv1a(second.data(), second.size()));
  EXPECT_EQ(n.a.states_of("keep"), (std::vector<std::string>{"connecting", "connected"}));
  EXPECT_EQ(num(n.a.status("keep"), "reconnects"), 0u);
}

TEST(NodeTunnels, OnlyInboundTunnelsTokensAreAccepted) {
  TwoNodes n;
  auto db = tunnel("db", n.echo.port(), config::ExposeType::internal, kTokenDb, 1);
  n.start_b({db});
  auto other = db;
  other.token = "not-a-node-b-token";
  other.direct_url = url_for(n.port);
  config::NodeConfig ca = node_a_config();
  ca.tunnels = {other};
  ASSERT_FALSE(n.a.start(ca));
  auto failed = n.a.wait_state("db", "failed");
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->value("reason", "").find("invalid tunnel token"), std::string::npos)
      << failed->dump();
}

TEST(NodeManagerApi, InternalListenerThatCannotBindIsFailedWithTheOsReason) {
  std::uint16_t held = 0;
  Fd holder = tcp_listen(&held);
  ASSERT_TRUE(holder);
  Node b;
  config::NodeConfig cb = node_b_config();
  config::NodeTunnel t("db", "node-a", "node-b");
  t.local_port = 5432;
  t.remote_port = held;
  t.token = kTokenDb;
  cb.tunnels = {t};
  ASSERT_FALSE(b.start(cb));
  auto failed = b.wait_state("db", "failed");
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->value("reason", "").find("address already in use"), std::string::npos)
      << failed->dump();
}

TEST(NodeManagerApi, ErrorsInTheOriginalsWords) {
  Node b;
  config::NodeConfig cb = node_b_config();
  ASSERT_FALSE(b.start(cb));
  b.on_loop([](NodeTunnelManager& m) {
    config::NodeTunnel in("in", "node-a", "node-b");
    in.local_port = 22;
    in.token = "t-in";
    config::NodeTunnel out("out", "node-b", "node-c");
    out.local_port = 80;
    out.token = "t-out";
    out.direct_url = "ws://127.0.0.1:1/tunnel/v1";
    config::NodeTunnel tokenless("tokenless", "node-x", "node-y");
    tokenless.local_port = 1;
    ASSERT_TRUE(m.add_tunnel(in).ok());
    ASSERT_TRUE(m.add_tunnel(out).ok());
    ASSERT_TRUE(m.add_tunnel(tokenless).ok());
    EXPECT_TRUE(m.get_tunnel("tokenless")->token->starts_with("tun_"));

    Status dup = m.add_tunnel(in);
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().display(), "Registry error: Tunnel 'in' already exists");
    Status missing = m.remove_tunnel("nope");
    EXPECT_EQ(missing.error().display(), "Registry error: Tunnel 'nope' not found");
    Status not_ours = m.start_outbound("in");
    EXPECT_EQ(not_ours.error().display(),
              "Configuration error: Tunnel 'in' source is 'node-a', not this node 'node-b'");
    EXPECT_EQ(m.start_outbound("nope").error().display(),
              "Registry error: Tunnel 'nope' not found");
    EXPECT_EQ(m.stop_outbound("in").error().display(),
              "Registry error: No active outbound tunnel 'in'");
    config::NodeTunnel bad("bad", "node-a", "node-b");
    Status invalid = m.add_tunnel(bad);
    EXPECT_EQ(invalid.error().code, Errc::config);
    EXPECT_EQ(invalid.error().message, "local_port: cannot be 0");

    EXPECT_EQ(m.tunnel_count(), 3u);
    EXPECT_EQ(m.outbound_count(), 1u);
    EXPECT_EQ(m.inbound_count(), 1u);
    EXPECT_EQ(m.outbound_tunnels().at(0).name, "out");
    EXPECT_EQ(m.inbound_tunnels().at(0).name, "in");
    EXPECT_FALSE(m.is_tunnel_active("in"));
    // Started (the manager runs): stop it, then it is no longer active.
    EXPECT_TRUE(m.stop_outbound("out").ok());
    EXPECT_EQ(m.get_status("out")->state, NodeTunnelState::disconnected);
    EXPECT_TRUE(m.start_outbound("out").ok());
    EXPECT_TRUE(m.remove_tunnel("out").ok());
    EXPECT_EQ(m.tunnel_count(), 2u);
    EXPECT_FALSE(m.get_status("out").has_value());
  });
}

}  // namespace
}  // namespace zlt::test
