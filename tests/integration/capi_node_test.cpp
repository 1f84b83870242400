// Node-to-node tunnels through the C interface only: two node managers on loopback, each on a
// runtime of its own as two processes would be. Node "b" runs the server side; node "a" has an
// outbound internal tunnel toward it, so that b's inbound listener reaches an echo service next
// to a. Plus the overlay resolver, removal, stop and restart, the errors and the lifetime rules.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <zlayer_tunnel.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
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

constexpr const char* kToken = "tok-db-5f1e";

void expect_error(int rc, int expected, const std::string& fragment) {
  EXPECT_EQ(rc, expected) << zlt_last_error();
  EXPECT_NE(std::string(zlt_last_error()).find(fragment), std::string::npos)
      << "'" << zlt_last_error() << "' should mention '" << fragment << "'";
}

json status_of(zlt_node_manager* mgr) {
  char* out = nullptr;
  EXPECT_EQ(zlt_node_manager_status(mgr, &out), ZLT_OK) << zlt_last_error();
  return out != nullptr ? json::parse(take(out)) : json();
}

json tunnel_status(zlt_node_manager* mgr, const std::string& name) {
  const json status = status_of(mgr);
  for (const auto& t : status["tunnels"])
    if (t.value("name", "") == name) return t;
  return json();
}

// The port of "HOST:PORT".
std::uint16_t port_of(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return 0;
  return static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)));
}

std::string url_for(std::uint16_t port) {
  return "ws://127.0.0.1:" + std::to_string(port) + "/tunnel/v1";
}

// A tunnel_state event of `tunnel` with `state`.
auto state_is(const std::string& tunnel, const std::string& state) {
  return [tunnel, state](const json& e) {
    return e.value("event", "") == "tunnel_state" && e.value("tunnel", "") == tunnel &&
           e.value("state", "") == state;
  };
}

// Sends `size` pattern bytes through 127.0.0.1:port from a second thread while reading the
// echo here; compares content hashes.
::testing::AssertionResult echo_hashed(std::uint16_t port, std::size_t size, std::uint64_t seed) {
  Fd fd = zlt::test::tcp_connect(port);
  if (!fd) return ::testing::AssertionFailure() << "cannot connect to " << port;
  zlt::test::set_timeouts(fd.get(), 10s);
  const std::string data = zlt::test::pattern_bytes(size, seed);
  std::thread sender([&] {
    zlt::test::send_all(fd.get(), data);
    ::shutdown(fd.get(), SHUT_WR);
  });
  auto back = zlt::test::recv_until_eof(fd.get());
  sender.join();
  if (!back) return ::testing::AssertionFailure() << "no echo (error or timeout)";
  if (back->size() != data.size())
    return ::testing::AssertionFailure() << "echoed " << back->size() << " of " << data.size();
  if (zlt::test::fnv1a(back->data(), back->size()) != zlt::test::fnv1a(data.data(), data.size()))
    return ::testing::AssertionFailure() << "content differs";
  return ::testing::AssertionSuccess();
}

// What the overlay resolver of node a saw, and what it answers.
struct Overlay {
  std::mutex mu;
  std::vector<std::string> asked;
  std::string address = "127.0.0.1";  // empty: unreachable
  std::atomic<int> reentry_rc{1};     // what a call on the manager from inside returned
  zlt_node_manager* manager = nullptr;

  static int resolve(void* user, const char* node, char* out, size_t size) {
    auto* self = static_cast<Overlay*>(user);
    std::string answer;
    {
      std::lock_guard lock(self->mu);
      self->asked.emplace_back(node);
      answer = self->address;
    }
    if (self->manager != nullptr) {
      char* text = nullptr;
      self->reentry_rc = zlt_node_manager_status(self->manager, &text);
      zlt_free(text);
    }
    if (answer.empty() || answer.size() + 1 > size) return 0;
    std::memcpy(out, answer.c_str(), answer.size() + 1);
    return 1;
  }
  std::vector<std::string> calls() {
    std::lock_guard lock(mu);
    return asked;
  }
};

class CapiNode : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(zlt_runtime_new(&rt_a_), ZLT_OK) << zlt_last_error();
    ASSERT_EQ(zlt_runtime_new(&rt_b_), ZLT_OK) << zlt_last_error();
    remote_port_ = zlt::test::unused_tcp_port();
    ASSERT_NE(remote_port_, 0);
  }
  void TearDown() override {
    zlt_node_manager_free(a_);
    zlt_node_manager_free(b_);
    EXPECT_EQ(zlt_runtime_free(rt_a_), ZLT_OK);
    EXPECT_EQ(zlt_runtime_free(rt_b_), ZLT_OK);
  }

  json tunnel(const std::string& name, std::uint16_t remote_port) const {
    return {{"name", name},
            {"from", "node-a"},
            {"to", "node-b"},
            {"local_port", echo_.port()},
            {"remote_port", remote_port},
            {"expose", "internal"},
            {"token", kToken}};
  }

  // Node b: the server side, with the inbound tunnel "db"; started. Its control port.
  void start_b() {
    json config = {{"node_name", "node-b"},
                   {"server",
                    {{"listen", "127.0.0.1:0"},
                     {"public_bind", "127.0.0.1"},
                     {"data_port_range", {0, 0}},
                     {"heartbeat_interval", "1s"},
                     {"heartbeat_timeout", "10s"}}},
                   {"tunnels", {tunnel("db", remote_port_)}}};
    ASSERT_EQ(zlt_node_manager_new(rt_b_, config.dump().c_str(), &b_), ZLT_OK) << zlt_last_error();
    ASSERT_EQ(zlt_node_manager_on_event(b_, Events::callback, &b_events_), ZLT_OK);
    ASSERT_EQ(zlt_node_manager_start(b_), ZLT_OK) << zlt_last_error();
    json s = status_of(b_);
    ASSERT_TRUE(s["server"].is_object()) << s.dump();
    ASSERT_EQ(s["server"]["listen"].size(), 1u) << s.dump();
    control_port_ = port_of(s["server"]["listen"][0].get<std::string>());
    ASSERT_NE(control_port_, 0) << s.dump();
    EXPECT_EQ(s["node_name"], "node-b");
    EXPECT_EQ(s["running"], true);
  }

  // Node a, with no tunnels yet; started.
  void start_a() {
    json config = {{"node_name", "node-a"},
                   {"reconnect_interval", "50ms"},
                   {"max_reconnect_interval", "200ms"},
                   {"heartbeat_interval", "1s"},
                   {"heartbeat_timeout", "10s"},
                   {"connect_timeout", "2s"}};
    ASSERT_EQ(zlt_node_manager_new(rt_a_, config.dump().c_str(), &a_), ZLT_OK) << zlt_last_error();
    ASSERT_EQ(zlt_node_manager_on_event(a_, Events::callback, &a_events_), ZLT_OK);
    ASSERT_EQ(zlt_node_manager_start(a_), ZLT_OK) << zlt_last_error();
    EXPECT_TRUE(status_of(a_)["server"].is_null());
  }

  // Adds the outbound side of "db" to node a.
  void add_db_to_a(const std::string& routing_mode = "preferoverlay") {
    json t = tunnel("db", remote_port_);
    t["routing_mode"] = routing_mode;
    t["direct_url"] = url_for(control_port_);
    ASSERT_EQ(zlt_node_manager_add_tunnel(a_, t.dump().c_str()), ZLT_OK) << zlt_last_error();
  }

  EchoServer echo_;
  zlt_runtime* rt_a_ = nullptr;
  zlt_runtime* rt_b_ = nullptr;
  zlt_node_manager* a_ = nullptr;
  zlt_node_manager* b_ = nullptr;
  std::uint16_t remote_port_ = 0;
  std::uint16_t control_port_ = 0;
  // Outlive the managers, which are freed in TearDown.
  Events a_events_;
  Events b_events_;
  Overlay overlay_;
};

TEST_F(CapiNode, InternalTunnelCarriesBytesThroughTheOverlayRoute) {
  ASSERT_NO_FATAL_FAILURE(start_b());
  ASSERT_NO_FATAL_FAILURE(start_a());
  ASSERT_EQ(zlt_node_manager_set_overlay_resolver(a_, Overlay::resolve, &overlay_), ZLT_OK);
  ASSERT_NO_FATAL_FAILURE(add_db_to_a());

  auto connected = a_events_.wait(state_is("db", "connected"));
  ASSERT_TRUE(connected) << "node a: no connected event";
  EXPECT_EQ((*connected)["direction"], "outbound");
  ASSERT_TRUE(b_events_.wait(state_is("db", "connected"))) << "node b: no connected event";
  // connecting came first.
  std::vector<std::string> states;
  for (const auto& e : a_events_.all())
    if (e.value("event", "") == "tunnel_state") states.push_back(e.value("state", ""));
  ASSERT_GE(states.size(), 2u);
  EXPECT_EQ(states[0], "connecting");
  EXPECT_EQ(states.back(), "connected");

  // The resolver was asked for node b and its answer is the route.
  auto calls = overlay_.calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls[0], "node-b");
  auto route = a_events_.wait([](const json& e) { return e.value("event", "") == "route"; }, 0ms);
  ASSERT_TRUE(route);
  EXPECT_EQ((*route)["tunnel"], "db");
  EXPECT_EQ((*route)["route"], "overlay");
  EXPECT_EQ((*route)["url"], url_for(control_port_));

  // Bytes through b's inbound listener reach the echo service next to a, and come back whole.
  json inbound = tunnel_status(b_, "db");
  EXPECT_EQ(inbound["direction"], "inbound");
  EXPECT_EQ(inbound["state"], "connected");
  EXPECT_EQ(inbound["listen"], "127.0.0.1:" + std::to_string(remote_port_)) << inbound.dump();
  EXPECT_TRUE(echo_hashed(remote_port_, 1 << 20, 1));
  EXPECT_TRUE(echo_hashed(remote_port_, 100000, 2));
  EXPECT_GE(echo_.accepted(), 2);

  json outbound = tunnel_status(a_, "db");
  EXPECT_EQ(outbound["state"], "connected") << outbound.dump();
  EXPECT_EQ(outbound["direction"], "outbound");
  EXPECT_EQ(outbound["route"], "overlay");
  EXPECT_EQ(outbound["url"], url_for(control_port_));
  EXPECT_TRUE(outbound["connected_at"].is_string());
  EXPECT_EQ(outbound["remote_port"], remote_port_);
  EXPECT_FALSE(outbound.contains("public_port"));
  EXPECT_EQ(status_of(b_)["server"]["sessions"], 1) << status_of(b_).dump();

  // Removing the tunnel on a ends it on b too, whose listener then refuses connections.
  ASSERT_EQ(zlt_node_manager_remove_tunnel(a_, "db"), ZLT_OK) << zlt_last_error();
  EXPECT_TRUE(status_of(a_)["tunnels"].empty());
  EXPECT_TRUE(b_events_.wait(state_is("db", "disconnected"))) << "b did not notice the removal";
  expect_error(zlt_node_manager_remove_tunnel(a_, "db"), ZLT_ENOTFOUND, "Tunnel 'db' not found");
  {
    Fd c = zlt::test::tcp_connect(remote_port_);
    if (c) {
      EXPECT_TRUE(zlt::test::wait_closed(c.get(), 5s));
    }
  }

  // Removing the inbound side closes its listener.
  ASSERT_EQ(zlt_node_manager_remove_tunnel(b_, "db"), ZLT_OK) << zlt_last_error();
  EXPECT_FALSE(zlt::test::tcp_connect(remote_port_));
}

TEST_F(CapiNode, UnreachableOverlayFallsBackToTheDirectRoute) {
  ASSERT_NO_FATAL_FAILURE(start_b());
  ASSERT_NO_FATAL_FAILURE(start_a());
  overlay_.address.clear();  // node b is not on the overlay
  overlay_.manager = a_;     // and the resolver tries to call back into the manager
  ASSERT_EQ(zlt_node_manager_set_overlay_resolver(a_, Overlay::resolve, &overlay_), ZLT_OK);
  ASSERT_NO_FATAL_FAILURE(add_db_to_a());
  ASSERT_TRUE(a_events_.wait(state_is("db", "connected")));
  auto route = a_events_.wait([](const json& e) { return e.value("event", "") == "route"; }, 0ms);
  ASSERT_TRUE(route);
  EXPECT_EQ((*route)["route"], "direct");
  EXPECT_EQ((*route)["reason"], "no overlay URL available");
  EXPECT_FALSE(overlay_.calls().empty());
  EXPECT_EQ(overlay_.reentry_rc.load(), ZLT_EINVAL) << "a call from inside the resolver ran";
  EXPECT_TRUE(echo_hashed(remote_port_, 200000, 3));

  // The resolver can be removed again.
  overlay_.manager = nullptr;
  ASSERT_EQ(zlt_node_manager_set_overlay_resolver(a_, nullptr, nullptr), ZLT_OK);
}

TEST_F(CapiNode, StopAndStartAgain) {
  ASSERT_NO_FATAL_FAILURE(start_b());
  ASSERT_NO_FATAL_FAILURE(start_a());
  ASSERT_NO_FATAL_FAILURE(add_db_to_a("directonly"));
  ASSERT_TRUE(a_events_.wait(state_is("db", "connected")));
  ASSERT_TRUE(b_events_.wait(state_is("db", "connected")));

  ASSERT_EQ(zlt_node_manager_stop(a_), ZLT_OK) << zlt_last_error();
  EXPECT_EQ(zlt_node_manager_stop(a_), ZLT_OK) << "stop is idempotent";
  auto down = a_events_.wait(state_is("db", "disconnected"));
  ASSERT_TRUE(down);
  EXPECT_EQ((*down)["reason"], "node shutting down");
  EXPECT_TRUE(b_events_.wait(state_is("db", "disconnected")));
  json s = status_of(a_);
  EXPECT_EQ(s["running"], false);
  ASSERT_EQ(s["tunnels"].size(), 1u) << "stopping keeps the tunnels";
  EXPECT_EQ(s["tunnels"][0]["state"], "disconnected");

  ASSERT_EQ(zlt_node_manager_start(a_), ZLT_OK) << zlt_last_error();
  EXPECT_TRUE(a_events_.wait_nth(state_is("db", "connected"), 2)) << "a did not reconnect";
  EXPECT_TRUE(b_events_.wait_nth(state_is("db", "connected"), 2)) << "b did not see it again";
  EXPECT_EQ(status_of(a_)["running"], true);
  EXPECT_TRUE(echo_hashed(remote_port_, 100000, 4)) << status_of(a_).dump();
}

TEST_F(CapiNode, CallbacksMayCallBackIntoTheManager) {
  ASSERT_NO_FATAL_FAILURE(start_b());
  ASSERT_NO_FATAL_FAILURE(start_a());
  // Reacting to "connected": read the status, then stop the manager, from inside the callback.
  struct Seen {
    std::atomic<int> status_rc{1};
    std::atomic<int> stop_rc{1};
    std::string state;
  };
  auto seen = std::make_shared<Seen>();
  zlt_node_manager* a = a_;
  a_events_.hook = [seen, a](const json& e) {
    if (e.value("event", "") != "tunnel_state" || e.value("state", "") != "connected") return;
    char* out = nullptr;
    seen->status_rc = zlt_node_manager_status(a, &out);
    if (out != nullptr) seen->state = json::parse(take(out))["tunnels"][0].value("state", "");
    seen->stop_rc = zlt_node_manager_stop(a);
  };
  ASSERT_NO_FATAL_FAILURE(add_db_to_a("directonly"));
  ASSERT_TRUE(a_events_.wait(state_is("db", "disconnected"))) << "not stopped from the callback";
  EXPECT_EQ(seen->status_rc.load(), ZLT_OK);
  EXPECT_EQ(seen->state, "connected");
  EXPECT_EQ(seen->stop_rc.load(), ZLT_OK);
  EXPECT_EQ(status_of(a_)["running"], false);
}

TEST_F(CapiNode, FreedInsideItsOwnCallback) {
  ASSERT_NO_FATAL_FAILURE(start_b());
  struct Freeing {
    zlt_node_manager* manager = nullptr;
    std::atomic<bool> freed{false};
    std::atomic<int> after_free{0};
  };
  auto f = std::make_shared<Freeing>();
  a_events_.hook = [f](const json& e) {
    if (f->freed) {
      ++f->after_free;
      return;
    }
    if (e.value("state", "") == "connected") {
      zlt_node_manager_free(f->manager);  // the callback's own object
      f->freed = true;
    }
  };
  json config = {{"node_name", "node-a"}, {"reconnect_interval", "50ms"}};
  ASSERT_EQ(zlt_node_manager_new(rt_a_, config.dump().c_str(), &f->manager), ZLT_OK);
  ASSERT_EQ(zlt_node_manager_on_event(f->manager, Events::callback, &a_events_), ZLT_OK);
  json t = tunnel("db", remote_port_);
  t["routing_mode"] = "directonly";
  t["direct_url"] = url_for(control_port_);
  ASSERT_EQ(zlt_node_manager_add_tunnel(f->manager, t.dump().c_str()), ZLT_OK);
  ASSERT_EQ(zlt_node_manager_start(f->manager), ZLT_OK);
  ASSERT_TRUE(a_events_.wait(state_is("db", "connected")));
  EXPECT_TRUE(f->freed);
  // The deferred destruction ends the tunnel; node b notices.
  EXPECT_TRUE(b_events_.wait(state_is("db", "disconnected")));
  EXPECT_EQ(f->after_free.load(), 0);
}

TEST_F(CapiNode, ConfigurationAndArgumentErrors) {
  zlt_node_manager* m = reinterpret_cast<zlt_node_manager*>(0x1);
  expect_error(zlt_node_manager_new(rt_a_, "{", &m), ZLT_ECONFIG, "invalid JSON");
  EXPECT_EQ(m, nullptr);
  expect_error(zlt_node_manager_new(rt_a_, nullptr, &m), ZLT_ECONFIG, "node_name");
  expect_error(zlt_node_manager_new(rt_a_, R"({"node_name":""})", &m), ZLT_ECONFIG, "node_name");
  expect_error(zlt_node_manager_new(rt_a_, R"({"node_name":"a","bogus":1})", &m), ZLT_ECONFIG,
               "unknown key 'bogus'");
  expect_error(zlt_node_manager_new(rt_a_, R"({"node_name":"a","server":{"listen":7}})", &m),
               ZLT_ECONFIG, "server");
  // An inbound tunnel needs the server side and a token.
  json inbound = {{"node_name", "node-b"}, {"tunnels", {tunnel("db", remote_port_)}}};
  expect_error(zlt_node_manager_new(rt_a_, inbound.dump().c_str(), &m), ZLT_ECONFIG, "tunnels[0]");
  json bad_port = {{"node_name", "node-a"}, {"tunnels", {tunnel("db", remote_port_)}}};
  bad_port["tunnels"][0]["local_port"] = 0;
  bad_port["tunnels"][0]["direct_url"] = url_for(1);
  expect_error(zlt_node_manager_new(rt_a_, bad_port.dump().c_str(), &m), ZLT_ECONFIG,
               "tunnels[0].local_port");
  EXPECT_EQ(m, nullptr);

  ASSERT_NO_FATAL_FAILURE(start_a());
  expect_error(zlt_node_manager_add_tunnel(a_, "{"), ZLT_ECONFIG, "invalid JSON");
  expect_error(zlt_node_manager_add_tunnel(a_, R"({"name":"x"})"), ZLT_ECONFIG, "from");
  json t = tunnel("db", remote_port_);
  t["direct_url"] = "http://127.0.0.1:1/";
  expect_error(zlt_node_manager_add_tunnel(a_, t.dump().c_str()), ZLT_ECONFIG, "direct_url");
  t["direct_url"] = url_for(zlt::test::unused_tcp_port());
  t["surprise"] = true;
  expect_error(zlt_node_manager_add_tunnel(a_, t.dump().c_str()), ZLT_ECONFIG,
               "unknown key 'surprise'");
  t.erase("surprise");
  ASSERT_EQ(zlt_node_manager_add_tunnel(a_, t.dump().c_str()), ZLT_OK) << zlt_last_error();
  expect_error(zlt_node_manager_add_tunnel(a_, t.dump().c_str()), ZLT_EEXISTS,
               "Tunnel 'db' already exists");
  expect_error(zlt_node_manager_remove_tunnel(a_, "nope"), ZLT_ENOTFOUND, "'nope' not found");
  EXPECT_EQ(status_of(a_)["tunnels"].size(), 1u);
  ASSERT_EQ(zlt_node_manager_remove_tunnel(a_, "db"), ZLT_OK);

  // The server side cannot listen on an address in use.
  std::uint16_t taken = 0;
  Fd listener = zlt::test::tcp_listen(&taken);
  ASSERT_TRUE(listener);
  json busy = {{"node_name", "node-b"},
               {"server", {{"listen", "127.0.0.1:" + std::to_string(taken)}}}};
  ASSERT_EQ(zlt_node_manager_new(rt_b_, busy.dump().c_str(), &b_), ZLT_OK) << zlt_last_error();
  EXPECT_EQ(zlt_node_manager_start(b_), ZLT_ECONNECTION) << zlt_last_error();
}

TEST(CapiNodeArguments, NullArgumentsAreRefusedWithTheirName) {
  char* out = reinterpret_cast<char*>(0x1);
  zlt_node_manager* m = reinterpret_cast<zlt_node_manager*>(0x1);
  expect_error(zlt_node_manager_new(nullptr, "{}", &m), ZLT_EINVAL, "zlt_node_manager_new: rt");
  EXPECT_EQ(m, nullptr);
  expect_error(zlt_node_manager_new(nullptr, "{}", nullptr), ZLT_EINVAL,
               "zlt_node_manager_new: out");
  expect_error(zlt_node_manager_on_event(nullptr, nullptr, nullptr), ZLT_EINVAL,
               "zlt_node_manager_on_event: mgr");
  expect_error(zlt_node_manager_set_overlay_resolver(nullptr, nullptr, nullptr), ZLT_EINVAL,
               "zlt_node_manager_set_overlay_resolver: mgr");
  expect_error(zlt_node_manager_add_tunnel(nullptr, "{}"), ZLT_EINVAL,
               "zlt_node_manager_add_tunnel: mgr");
  expect_error(zlt_node_manager_remove_tunnel(nullptr, "x"), ZLT_EINVAL,
               "zlt_node_manager_remove_tunnel: mgr");
  expect_error(zlt_node_manager_start(nullptr), ZLT_EINVAL, "zlt_node_manager_start: mgr");
  expect_error(zlt_node_manager_stop(nullptr), ZLT_EINVAL, "zlt_node_manager_stop: mgr");
  expect_error(zlt_node_manager_status(nullptr, &out), ZLT_EINVAL, "zlt_node_manager_status: mgr");
  EXPECT_EQ(out, nullptr);
  expect_error(zlt_node_manager_status(nullptr, nullptr), ZLT_EINVAL, "json_out");
  zlt_node_manager_free(nullptr);

  zlt_runtime* rt = nullptr;
  ASSERT_EQ(zlt_runtime_new(&rt), ZLT_OK);
  ASSERT_EQ(zlt_node_manager_new(rt, R"({"node_name":"a"})", &m), ZLT_OK) << zlt_last_error();
  expect_error(zlt_node_manager_add_tunnel(m, nullptr), ZLT_EINVAL, "tunnel_json");
  expect_error(zlt_node_manager_remove_tunnel(m, nullptr), ZLT_EINVAL, "name");
  zlt_node_manager_free(m);
  EXPECT_EQ(zlt_runtime_free(rt), ZLT_OK);
}

TEST_F(CapiNode, RuntimeFreedBeforeTheManager) {
  ASSERT_NO_FATAL_FAILURE(start_b());
  ASSERT_NO_FATAL_FAILURE(start_a());
  ASSERT_NO_FATAL_FAILURE(add_db_to_a("directonly"));
  ASSERT_TRUE(a_events_.wait(state_is("db", "connected")));

  ASSERT_EQ(zlt_runtime_free(rt_a_), ZLT_OK);
  rt_a_ = nullptr;
  const std::size_t seen = a_events_.size();
  char* out = nullptr;
  EXPECT_EQ(zlt_node_manager_status(a_, &out), ZLT_ESHUTDOWN);
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(zlt_node_manager_start(a_), ZLT_ESHUTDOWN);
  EXPECT_EQ(zlt_node_manager_stop(a_), ZLT_ESHUTDOWN);
  EXPECT_EQ(zlt_node_manager_remove_tunnel(a_, "db"), ZLT_ESHUTDOWN);
  EXPECT_EQ(zlt_node_manager_on_event(a_, nullptr, nullptr), ZLT_ESHUTDOWN);
  // Node b sees its source go away.
  EXPECT_TRUE(b_events_.wait(state_is("db", "disconnected")));
  zlt_node_manager_free(a_);
  a_ = nullptr;
  EXPECT_EQ(a_events_.size(), seen);  // nothing was reported after zlt_runtime_free
}

}  // namespace
