// The C interface, exercised only through include/zlayer_tunnel.h and the shared library:
// argument and configuration errors, tokens, a whole tunnel, the host callbacks (token
// validator, connection decisions, events calling back into the API), several threads at
// once, adopted sockets and the lifetime rules.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlayer_tunnel.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
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

constexpr const char* kToken = "s3cret";
constexpr const char* kServerConfig =
    R"({"listen":"127.0.0.1:0","public_bind":"127.0.0.1","data_port_range":[0,0],)"
    R"("tokens":[{"token":"s3cret"}]})";

std::string agent_config(int control_port, std::uint16_t local_port,
                         const std::string& token = kToken) {
  json services = json::array();
  if (local_port != 0) services.push_back({{"name", "echo"}, {"local_port", local_port}});
  json c = {{"server_url", "ws://127.0.0.1:" + std::to_string(control_port) + "/tunnel/v1"},
            {"token", token},
            {"reconnect_interval", "100ms"},
            {"max_reconnect_interval", "1s"},
            {"services", services}};
  return c.dump();
}

bool echo_through(std::uint16_t port, const std::string& payload) {
  Fd c = zlt::test::tcp_connect(port);
  if (!c) return false;
  zlt::test::set_timeouts(c.get(), 5s);
  if (!zlt::test::send_all(c.get(), payload)) return false;
  auto back = zlt::test::recv_exact(c.get(), payload.size());
  return back && *back == payload;
}

// ---- no runtime needed ----

TEST(CapiLibrary, VersionMatchesHeader) {
  EXPECT_STREQ(zlt_version(), ZLT_VERSION_STRING);
  char expected[32];
  std::snprintf(expected, sizeof expected, "%d.%d.%d", ZLT_VERSION_MAJOR, ZLT_VERSION_MINOR,
                ZLT_VERSION_PATCH);
  EXPECT_STREQ(zlt_version(), expected);
  EXPECT_EQ(ZLT_VERSION_NUMBER,
            (ZLT_VERSION_MAJOR << 16) | (ZLT_VERSION_MINOR << 8) | ZLT_VERSION_PATCH);
}

TEST(CapiLibrary, StrerrorCoversEveryCode) {
  const int codes[] = {ZLT_OK,      ZLT_EPROTOCOL, ZLT_EAUTH,     ZLT_ECONNECTION, ZLT_EREGISTRY,
                       ZLT_ECONFIG, ZLT_ETIMEOUT,  ZLT_ESHUTDOWN, ZLT_EINVAL,      ZLT_ENOTFOUND,
                       ZLT_EEXISTS, ZLT_ELIMIT,    ZLT_EIO,       ZLT_EINTERNAL,   ZLT_ENOMEM,
                       ZLT_ECLOSED};
  std::vector<std::string> seen;
  for (int c : codes) {
    std::string s = zlt_strerror(c);
    EXPECT_NE(s, "unknown error") << c;
    for (const auto& other : seen) EXPECT_NE(s, other);
    seen.push_back(s);
  }
  EXPECT_STREQ(zlt_strerror(-999), "unknown error");
  EXPECT_STREQ(zlt_strerror(1), "unknown error");
}

TEST(CapiLibrary, HashTokenVector) {
  char* hex = nullptr;
  ASSERT_EQ(zlt_hash_token("test", &hex), ZLT_OK);
  EXPECT_EQ(take(hex), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
}

TEST(CapiLibrary, NewTokensAreRandom) {
  char* a = nullptr;
  char* b = nullptr;
  ASSERT_EQ(zlt_token_new(&a), ZLT_OK);
  ASSERT_EQ(zlt_token_new(&b), ZLT_OK);
  std::string ta = take(a);
  std::string tb = take(b);
  EXPECT_EQ(ta.rfind("tun_", 0), 0u);
  EXPECT_EQ(ta.size(), 36u);
  EXPECT_NE(ta, tb);
}

TEST(CapiLibrary, NullArgumentsAreRefusedWithTheirName) {
  auto expect_inval = [](int rc, const char* fragment) {
    EXPECT_EQ(rc, ZLT_EINVAL);
    EXPECT_NE(std::string(zlt_last_error()).find(fragment), std::string::npos)
        << zlt_last_error() << " should mention " << fragment;
  };
  char* out = reinterpret_cast<char*>(0x1);
  expect_inval(zlt_hash_token(nullptr, &out), "zlt_hash_token: token");
  EXPECT_EQ(out, nullptr);  // outputs are cleared on failure
  expect_inval(zlt_hash_token("x", nullptr), "out_hex");
  expect_inval(zlt_token_new(nullptr), "zlt_token_new: out");
  expect_inval(zlt_set_log_level(nullptr), "level");
  expect_inval(zlt_set_log_level("loud"), "unknown level 'loud'");
  expect_inval(zlt_runtime_new(nullptr), "zlt_runtime_new: out");

  zlt_registry* reg = reinterpret_cast<zlt_registry*>(0x1);
  expect_inval(zlt_registry_new(nullptr, "{}", &reg), "zlt_registry_new: rt");
  EXPECT_EQ(reg, nullptr);
  expect_inval(zlt_registry_new(nullptr, "{}", nullptr), "out");
  expect_inval(zlt_registry_listen(nullptr, nullptr, 0, nullptr), "zlt_registry_listen: reg");
  expect_inval(zlt_registry_set_token_validator(nullptr, nullptr, nullptr), "reg");
  expect_inval(zlt_registry_on_event(nullptr, nullptr, nullptr), "reg");
  expect_inval(zlt_registry_status(nullptr, &out), "zlt_registry_status: reg");
  expect_inval(zlt_registry_stop(nullptr), "reg");
  expect_inval(zlt_registry_accept(nullptr, -1), "fd");
  expect_inval(zlt_verdict_set_reason(nullptr, "x"), "verdict");
  expect_inval(zlt_verdict_set_grant(nullptr, "{}"), "verdict");

  zlt_agent* agent = reinterpret_cast<zlt_agent*>(0x1);
  expect_inval(zlt_agent_new(nullptr, "{}", &agent), "zlt_agent_new: rt");
  EXPECT_EQ(agent, nullptr);
  expect_inval(zlt_agent_on_event(nullptr, nullptr, nullptr), "agent");
  expect_inval(zlt_agent_on_connection(nullptr, nullptr, nullptr), "agent");
  expect_inval(zlt_agent_start(nullptr), "agent");
  expect_inval(zlt_agent_stop(nullptr), "agent");
  expect_inval(zlt_agent_status(nullptr, &out), "zlt_agent_status: agent");
  expect_inval(zlt_agent_status(nullptr, nullptr), "json_out");

  // Freeing nothing is allowed, as with free(NULL).
  EXPECT_EQ(zlt_runtime_free(nullptr), ZLT_OK);
  zlt_registry_free(nullptr);
  zlt_agent_free(nullptr);
  zlt_free(nullptr);
}

TEST(CapiLibrary, LastErrorIsPerThread) {
  EXPECT_EQ(zlt_token_new(nullptr), ZLT_EINVAL);
  std::string other;
  std::thread([&] { other = zlt_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_NE(std::string(zlt_last_error()), "");
  // Success leaves the message of the last failure in place.
  char* t = nullptr;
  ASSERT_EQ(zlt_token_new(&t), ZLT_OK);
  zlt_free(t);
  EXPECT_NE(std::string(zlt_last_error()).find("zlt_token_new"), std::string::npos);
}

TEST(CapiLibrary, LogCallbackReceivesRecords) {
  struct Seen {
    std::mutex mu;
    std::vector<std::string> lines;
  } seen;
  auto cb = [](void* user, int level, const char* component, const char* message,
               const char* fields) {
    auto* s = static_cast<Seen*>(user);
    std::lock_guard lock(s->mu);
    s->lines.push_back(std::to_string(level) + " " + component + ": " + message + " " + fields);
  };
  ASSERT_EQ(zlt_set_log_callback(cb, &seen), ZLT_OK);
  zlt_runtime* rt = nullptr;
  ASSERT_EQ(zlt_runtime_new(&rt), ZLT_OK);
  zlt_registry* reg = nullptr;
  // No tokens: the server warns that every agent will be refused.
  ASSERT_EQ(zlt_registry_new(rt, R"({"listen":"127.0.0.1:0"})", &reg), ZLT_OK);
  zlt_registry_free(reg);
  EXPECT_EQ(zlt_runtime_free(rt), ZLT_OK);
  ASSERT_EQ(zlt_set_log_callback(nullptr, nullptr), ZLT_OK);
  std::lock_guard lock(seen.mu);
  bool warned = false;
  for (const auto& l : seen.lines)
    if (l.rfind(std::to_string(ZLT_LOG_WARN) + " server: no tokens configured", 0) == 0)
      warned = true;
  EXPECT_TRUE(warned) << "records: " << seen.lines.size();
}

// ---- with a runtime ----

class CapiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(zlt_runtime_new(&rt_), ZLT_OK) << zlt_last_error(); }
  void TearDown() override {
    for (auto* a : agents_) zlt_agent_free(a);
    if (reg_ != nullptr) zlt_registry_free(reg_);
    EXPECT_EQ(zlt_runtime_free(rt_), ZLT_OK);
    state_.clear();
  }

  // A registry with the test configuration, listening on 127.0.0.1 (kernel-chosen port).
  void start_registry(const char* config = kServerConfig) {
    ASSERT_EQ(zlt_registry_new(rt_, config, &reg_), ZLT_OK) << zlt_last_error();
    ASSERT_EQ(zlt_registry_on_event(reg_, Events::callback, &server_events_), ZLT_OK);
    ASSERT_EQ(zlt_registry_listen(reg_, "127.0.0.1", 0, &control_port_), ZLT_OK)
        << zlt_last_error();
    ASSERT_GT(control_port_, 0);
  }
  zlt_agent* new_agent(const std::string& config, Events* events) {
    zlt_agent* a = nullptr;
    EXPECT_EQ(zlt_agent_new(rt_, config.c_str(), &a), ZLT_OK) << zlt_last_error();
    if (a == nullptr) return nullptr;
    agents_.push_back(a);
    EXPECT_EQ(zlt_agent_on_event(a, Events::callback, events), ZLT_OK);
    return a;
  }
  static std::uint16_t public_port(Events& events) {
    auto e = events.wait("service_registered");
    if (!e || !(*e)["public_port"].is_number()) return 0;
    return (*e)["public_port"].get<std::uint16_t>();
  }

  // State the callbacks point at, owned by the fixture so that it outlives the objects (they
  // are freed in TearDown, after the test body's locals are gone).
  template <class T>
  T& make() {
    auto p = std::make_shared<T>();
    state_.push_back(p);
    return *p;
  }

  std::vector<std::shared_ptr<void>> state_;
  zlt_runtime* rt_ = nullptr;
  zlt_registry* reg_ = nullptr;
  std::vector<zlt_agent*> agents_;
  int control_port_ = 0;
  Events server_events_;
};

TEST_F(CapiTest, BadConfigurationNamesTheField) {
  zlt_registry* reg = nullptr;
  EXPECT_EQ(zlt_registry_new(rt_, "{", &reg), ZLT_ECONFIG);
  EXPECT_NE(std::string(zlt_last_error()).find("invalid JSON"), std::string::npos)
      << zlt_last_error();
  EXPECT_EQ(zlt_registry_new(rt_, R"({"listen":5})", &reg), ZLT_ECONFIG);
  EXPECT_NE(std::string(zlt_last_error()).find("listen"), std::string::npos) << zlt_last_error();
  EXPECT_EQ(zlt_registry_new(rt_, R"({"bogus":true})", &reg), ZLT_ECONFIG);
  EXPECT_NE(std::string(zlt_last_error()).find("unknown key 'bogus'"), std::string::npos)
      << zlt_last_error();
  EXPECT_EQ(reg, nullptr);

  zlt_agent* agent = nullptr;
  EXPECT_EQ(zlt_agent_new(rt_, nullptr, &agent), ZLT_ECONFIG);
  EXPECT_NE(std::string(zlt_last_error()).find("server_url"), std::string::npos)
      << zlt_last_error();
  EXPECT_EQ(zlt_agent_new(rt_,
                          R"({"server_url":"ws://127.0.0.1:1/tunnel/v1","token":"t",)"
                          R"("services":[{"name":"a","local_port":"x"}]})",
                          &agent),
            ZLT_ECONFIG);
  EXPECT_NE(std::string(zlt_last_error()).find("services[0].local_port"), std::string::npos)
      << zlt_last_error();
  EXPECT_EQ(zlt_agent_new(rt_, R"({"server_url":"http://x","token":"t"})", &agent), ZLT_ECONFIG);
  EXPECT_NE(std::string(zlt_last_error()).find("server_url"), std::string::npos)
      << zlt_last_error();
  EXPECT_EQ(agent, nullptr);

  // Defaults are a valid registry (nothing listens until asked).
  ASSERT_EQ(zlt_registry_new(rt_, nullptr, &reg), ZLT_OK) << zlt_last_error();
  EXPECT_EQ(zlt_registry_listen(reg, "127.0.0.1", 70000, nullptr), ZLT_EINVAL);
  EXPECT_NE(std::string(zlt_last_error()).find("70000"), std::string::npos);
  zlt_registry_free(reg);
}

TEST_F(CapiTest, FullTunnel) {
  EchoServer echo;
  start_registry();
  Events& events = make<Events>();
  zlt_agent* agent = new_agent(agent_config(control_port_, echo.port()), &events);
  ASSERT_NE(agent, nullptr);
  ASSERT_EQ(zlt_agent_start(agent), ZLT_OK);
  std::uint16_t port = public_port(events);
  ASSERT_GT(port, 0) << "no service_registered event";
  EXPECT_TRUE(server_events_.wait("tunnel_connected"));

  EXPECT_TRUE(echo_through(port, "hello through the C interface"));
  EXPECT_TRUE(echo_through(port, zlt::test::pattern_bytes(200000, 7)));

  char* s = nullptr;
  ASSERT_EQ(zlt_agent_status(agent, &s), ZLT_OK);
  json status = json::parse(take(s));
  EXPECT_EQ(status["state"], "connected");
  EXPECT_EQ(status["services"][0]["public_port"], port);
  ASSERT_EQ(zlt_registry_status(reg_, &s), ZLT_OK);
  json server_status = json::parse(take(s));
  EXPECT_TRUE(server_status.is_object());
  EXPECT_NE(server_status.dump().find(std::to_string(port)), std::string::npos);

  ASSERT_EQ(zlt_agent_stop(agent), ZLT_OK);
  EXPECT_TRUE(server_events_.wait("tunnel_disconnected"));
  EXPECT_EQ(zlt_agent_stop(agent), ZLT_OK);  // idempotent
}

TEST_F(CapiTest, ListenOnTheConfiguredAddress) {
  ASSERT_EQ(zlt_registry_new(rt_, kServerConfig, &reg_), ZLT_OK);
  int port = 0;
  ASSERT_EQ(zlt_registry_listen(reg_, nullptr, -1, &port), ZLT_OK) << zlt_last_error();
  EXPECT_GT(port, 0);
  Fd c = zlt::test::tcp_connect(static_cast<std::uint16_t>(port));
  EXPECT_TRUE(c);
  EXPECT_EQ(zlt_registry_stop(reg_), ZLT_OK);
  EXPECT_EQ(zlt_registry_listen(reg_, "127.0.0.1", 0, &port), ZLT_ESHUTDOWN);
  EXPECT_EQ(zlt_registry_stop(reg_), ZLT_OK);  // idempotent
}

struct ValidatorState {
  std::atomic<int> calls{0};
  std::string token;
  std::string hash;
  bool accept = true;
  const char* grant = nullptr;
  int grant_rc = 0;
  std::string grant_error;
  int bad_grant_rc = 0;
  std::string bad_grant_error;
};

int validator(void* user, const char* token, const char* token_hash, zlt_token_verdict* verdict) {
  auto* s = static_cast<ValidatorState*>(user);
  s->token = token;
  s->hash = token_hash;
  s->bad_grant_rc = zlt_verdict_set_grant(verdict, R"({"allowed_ports":[5,"x"]})");
  s->bad_grant_error = zlt_last_error();
  if (s->grant != nullptr) {
    s->grant_rc = zlt_verdict_set_grant(verdict, s->grant);
    if (s->grant_rc != ZLT_OK) s->grant_error = zlt_last_error();
  }
  if (!s->accept) zlt_verdict_set_reason(verdict, "go away, said the host");
  ++s->calls;
  return s->accept ? 1 : 0;
}

TEST_F(CapiTest, TokenValidatorAccepts) {
  EchoServer echo;
  // The configured list knows nothing of this token: only the host's validator admits it.
  start_registry();
  auto& state = make<ValidatorState>();
  state.grant = R"({"name":"from-host","allowed_ports":[1024,65535],"allow":["service:*"]})";
  ASSERT_EQ(zlt_registry_set_token_validator(reg_, validator, &state), ZLT_OK);
  Events& events = make<Events>();
  zlt_agent* agent = new_agent(agent_config(control_port_, echo.port(), "host-token"), &events);
  ASSERT_EQ(zlt_agent_start(agent), ZLT_OK);
  std::uint16_t port = public_port(events);
  ASSERT_GT(port, 0);
  EXPECT_TRUE(echo_through(port, "validated"));
  EXPECT_EQ(state.token, "host-token");
  char* hex = nullptr;
  ASSERT_EQ(zlt_hash_token("host-token", &hex), ZLT_OK);
  EXPECT_EQ(state.hash, take(hex));
  EXPECT_EQ(state.grant_rc, ZLT_OK) << state.grant_error;
  EXPECT_EQ(state.bad_grant_rc, ZLT_ECONFIG);
  EXPECT_NE(state.bad_grant_error.find("grant.allowed_ports"), std::string::npos)
      << state.bad_grant_error;
  auto connected = server_events_.wait("tunnel_connected");
  ASSERT_TRUE(connected);
  EXPECT_EQ((*connected)["name"], "from-host");
}

TEST_F(CapiTest, TokenValidatorRefusesWithReason) {
  start_registry();
  auto& state = make<ValidatorState>();
  state.accept = false;
  ASSERT_EQ(zlt_registry_set_token_validator(reg_, validator, &state), ZLT_OK);
  Events& events = make<Events>();
  zlt_agent* agent = new_agent(agent_config(control_port_, 0), &events);
  ASSERT_EQ(zlt_agent_start(agent), ZLT_OK);
  auto failed = events.wait("auth_failed");
  ASSERT_TRUE(failed);
  EXPECT_NE((*failed)["reason"].get<std::string>().find("go away, said the host"),
            std::string::npos)
      << failed->dump();
  EXPECT_EQ(state.token, kToken);

  // Without the validator the configured token list applies again.
  ASSERT_EQ(zlt_registry_set_token_validator(reg_, nullptr, nullptr), ZLT_OK);
  EXPECT_TRUE(events.wait("authenticated"));
}

TEST_F(CapiTest, ValidatorCannotRemoveItself) {
  start_registry();
  struct State {
    zlt_registry* reg = nullptr;
    std::atomic<int> rc{1};
  };
  auto& state = make<State>();
  state.reg = reg_;
  auto cb = [](void* user, const char*, const char*, zlt_token_verdict*) -> int {
    auto* s = static_cast<State*>(user);
    s->rc = zlt_registry_set_token_validator(s->reg, nullptr, nullptr);
    return 1;
  };
  ASSERT_EQ(zlt_registry_set_token_validator(reg_, cb, &state), ZLT_OK);
  Events& events = make<Events>();
  zlt_agent* agent = new_agent(agent_config(control_port_, 0, "any"), &events);
  ASSERT_EQ(zlt_agent_start(agent), ZLT_OK);
  EXPECT_TRUE(events.wait("authenticated"));
  EXPECT_EQ(state.rc.load(), ZLT_EINVAL);
}

TEST_F(CapiTest, ConnectionCallbackRefuses) {
  EchoServer echo;
  start_registry();
  struct Decisions {
    std::mutex mu;
    std::vector<std::string> seen;
  };
  auto& decisions = make<Decisions>();
  auto refuse = [](void* user, const char* service_id, const char* connection_id,
                   const char* client_addr) -> int {
    auto* d = static_cast<Decisions*>(user);
    std::lock_guard lock(d->mu);
    d->seen.push_back(std::string(service_id) + " " + connection_id + " " + client_addr);
    return 0;
  };
  Events& events = make<Events>();
  zlt_agent* agent = new_agent(agent_config(control_port_, echo.port()), &events);
  ASSERT_EQ(zlt_agent_on_connection(agent, refuse, &decisions), ZLT_OK);
  ASSERT_EQ(zlt_agent_start(agent), ZLT_OK);
  std::uint16_t port = public_port(events);
  ASSERT_GT(port, 0);

  Fd c = zlt::test::tcp_connect(port);
  ASSERT_TRUE(c);
  zlt::test::send_all(c.get(), "let me in");
  EXPECT_TRUE(zlt::test::wait_closed(c.get(), 5s));
  EXPECT_EQ(echo.accepted(), 0);
  {
    std::lock_guard lock(decisions.mu);
    ASSERT_EQ(decisions.seen.size(), 1u);
    EXPECT_NE(decisions.seen[0].find(" 127.0.0.1:"), std::string::npos) << decisions.seen[0];
  }

  // Back to the default: everything is accepted.
  ASSERT_EQ(zlt_agent_on_connection(agent, nullptr, nullptr), ZLT_OK);
  EXPECT_TRUE(echo_through(port, "now accepted"));
}

TEST_F(CapiTest, StatusFromInsideAnEventCallback) {
  EchoServer echo;
  start_registry();
  struct Inner {
    zlt_agent* agent = nullptr;
    zlt_registry* reg = nullptr;
    std::atomic<int> rc{1};
    std::string state;
    std::string server;
  };
  auto& inner = make<Inner>();
  Events& events = make<Events>();
  events.hook = [&inner](const json& e) {
    if (e["event"] != "service_registered") return;
    char* s = nullptr;
    inner.rc = zlt_agent_status(inner.agent, &s);
    if (inner.rc == ZLT_OK) inner.state = json::parse(take(s))["state"];
    if (zlt_registry_status(inner.reg, &s) == ZLT_OK) inner.server = take(s);
  };
  inner.reg = reg_;
  inner.agent = new_agent(agent_config(control_port_, echo.port()), &events);
  ASSERT_EQ(zlt_agent_start(inner.agent), ZLT_OK);
  ASSERT_GT(public_port(events), 0);
  EXPECT_EQ(inner.rc.load(), ZLT_OK);
  EXPECT_EQ(inner.state, "connected");
  EXPECT_FALSE(inner.server.empty());
}

TEST_F(CapiTest, CallsFromManyThreads) {
  EchoServer echo;
  start_registry();
  Events& events = make<Events>();
  zlt_agent* agent = new_agent(agent_config(control_port_, echo.port()), &events);
  ASSERT_EQ(zlt_agent_start(agent), ZLT_OK);
  std::uint16_t port = public_port(events);
  ASSERT_GT(port, 0);

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        char* s = nullptr;
        if (zlt_agent_status(agent, &s) != ZLT_OK) ++failures;
        zlt_free(s);
        if (zlt_registry_status(reg_, &s) != ZLT_OK) ++failures;
        zlt_free(s);
        if (zlt_hash_token("x", &s) != ZLT_OK) ++failures;
        zlt_free(s);
      }
      // Each thread also creates and frees an agent of its own (never started).
      zlt_agent* own = nullptr;
      if (zlt_agent_new(rt_, agent_config(control_port_, 0, "t" + std::to_string(t)).c_str(),
                        &own) != ZLT_OK)
        ++failures;
      zlt_agent_free(own);
      if (!echo_through(port, "thread " + std::to_string(t))) ++failures;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(CapiTest, AcceptsSocketsTheHostAccepted) {
  EchoServer echo;
  ASSERT_EQ(zlt_registry_new(rt_, kServerConfig, &reg_), ZLT_OK);
  std::uint16_t host_port = 0;
  Fd listener = zlt::test::tcp_listen(&host_port);
  ASSERT_TRUE(listener);
  std::atomic<int> accept_rc{1};
  std::thread acceptor([&] {
    int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    accept_rc = fd >= 0 ? zlt_registry_accept(reg_, fd) : -100;
  });
  Events& events = make<Events>();
  zlt_agent* agent = new_agent(agent_config(host_port, echo.port()), &events);
  ASSERT_EQ(zlt_agent_start(agent), ZLT_OK);
  std::uint16_t port = public_port(events);
  acceptor.join();
  EXPECT_EQ(accept_rc.load(), ZLT_OK) << zlt_last_error();
  ASSERT_GT(port, 0);
  EXPECT_TRUE(echo_through(port, "adopted"));
}

TEST_F(CapiTest, AcceptTakesTheDescriptorEvenOnFailure) {
  ASSERT_EQ(zlt_registry_new(rt_, kServerConfig, &reg_), ZLT_OK);
  auto closed_by_library = [](const std::function<int(int)>& call, int expected) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    Fd ours(sv[0]);
    EXPECT_EQ(call(sv[1]), expected);
    // The library closed its end: ours sees end-of-file.
    EXPECT_TRUE(zlt::test::wait_closed(ours.get(), 2s));
  };
  closed_by_library([](int fd) { return zlt_registry_accept(nullptr, fd); }, ZLT_EINVAL);
  ASSERT_EQ(zlt_registry_stop(reg_), ZLT_OK);
  closed_by_library([this](int fd) { return zlt_registry_accept(reg_, fd); }, ZLT_ESHUTDOWN);
}

TEST_F(CapiTest, FreeingAnAgentInsideItsOwnCallback) {
  EchoServer echo;
  start_registry();
  struct Freeing {
    zlt_agent* agent = nullptr;
    std::atomic<bool> freed{false};
    std::atomic<int> after_free{0};
  };
  auto& f = make<Freeing>();
  Events& events = make<Events>();
  events.hook = [&f](const json& e) {
    if (f.freed) {
      ++f.after_free;
      return;
    }
    if (e["event"] == "service_registered") {
      zlt_agent_free(f.agent);  // the handle is the callback's own agent
      f.freed = true;
    }
  };
  // Not in agents_: the callback frees it.
  ASSERT_EQ(zlt_agent_new(rt_, agent_config(control_port_, echo.port()).c_str(), &f.agent), ZLT_OK);
  ASSERT_EQ(zlt_agent_on_event(f.agent, Events::callback, &events), ZLT_OK);
  ASSERT_EQ(zlt_agent_start(f.agent), ZLT_OK);
  ASSERT_TRUE(events.wait("service_registered"));
  EXPECT_TRUE(f.freed);
  // The deferred destruction closes the session; the server notices.
  EXPECT_TRUE(server_events_.wait("tunnel_disconnected"));
  EXPECT_EQ(f.after_free.load(), 0);
}

// start() right after stop(), while the goodbye of the previous session is still in flight:
// the old connection must be abandoned cleanly, not freed under its session.
TEST_F(CapiTest, AgentRestartsAfterStop) {
  start_registry();
  Events& events = make<Events>();
  zlt_agent* agent = new_agent(agent_config(control_port_, 0), &events);
  for (std::size_t round = 1; round <= 3; ++round) {
    ASSERT_EQ(zlt_agent_start(agent), ZLT_OK);
    ASSERT_TRUE(events.wait_count("authenticated", round)) << "round " << round;
    ASSERT_EQ(zlt_agent_stop(agent), ZLT_OK);
  }
}

TEST_F(CapiTest, RuntimeCannotBeFreedFromItsOwnCallback) {
  start_registry();
  struct Attempt {
    zlt_runtime* rt = nullptr;
    std::atomic<int> rc{1};
    std::string message;
  };
  auto& attempt = make<Attempt>();
  attempt.rt = rt_;
  Events& events = make<Events>();
  events.hook = [&attempt](const json& e) {
    if (e["event"] != "authenticated") return;
    attempt.rc = zlt_runtime_free(attempt.rt);
    attempt.message = zlt_last_error();
  };
  zlt_agent* agent = new_agent(agent_config(control_port_, 0), &events);
  ASSERT_EQ(zlt_agent_start(agent), ZLT_OK);
  ASSERT_TRUE(events.wait("authenticated"));
  EXPECT_EQ(attempt.rc.load(), ZLT_EINVAL);
  EXPECT_NE(attempt.message.find("zlt_runtime_free"), std::string::npos) << attempt.message;
  // Still running.
  char* s = nullptr;
  EXPECT_EQ(zlt_agent_status(agent, &s), ZLT_OK);
  zlt_free(s);
}

TEST(CapiLifetime, RuntimeFreedBeforeItsObjects) {
  zlt_runtime* rt = nullptr;
  ASSERT_EQ(zlt_runtime_new(&rt), ZLT_OK);
  zlt_registry* reg = nullptr;
  ASSERT_EQ(zlt_registry_new(rt, kServerConfig, &reg), ZLT_OK);
  int control_port = 0;
  ASSERT_EQ(zlt_registry_listen(reg, "127.0.0.1", 0, &control_port), ZLT_OK);
  Events events;
  zlt_agent* agent = nullptr;
  ASSERT_EQ(zlt_agent_new(rt, agent_config(control_port, 0).c_str(), &agent), ZLT_OK);
  ASSERT_EQ(zlt_agent_on_event(agent, Events::callback, &events), ZLT_OK);
  ASSERT_EQ(zlt_agent_start(agent), ZLT_OK);
  ASSERT_TRUE(events.wait("authenticated"));

  ASSERT_EQ(zlt_runtime_free(rt), ZLT_OK);
  const std::size_t seen = events.size();
  char* s = nullptr;
  EXPECT_EQ(zlt_agent_status(agent, &s), ZLT_ESHUTDOWN);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(zlt_agent_start(agent), ZLT_ESHUTDOWN);
  EXPECT_EQ(zlt_registry_status(reg, &s), ZLT_ESHUTDOWN);
  EXPECT_EQ(zlt_registry_listen(reg, "127.0.0.1", 0, nullptr), ZLT_ESHUTDOWN);
  EXPECT_EQ(zlt_registry_stop(reg), ZLT_ESHUTDOWN);
  zlt_agent_free(agent);
  zlt_registry_free(reg);
  EXPECT_EQ(events.size(), seen);  // nothing was reported after zlt_runtime_free
}

TEST_F(CapiTest, ReloadRevokesARemovedTokenAndRefusesABadConfiguration) {
  EchoServer echo;
  start_registry(R"({"listen":"127.0.0.1:0","public_bind":"127.0.0.1","data_port_range":[0,0],)"
                 R"("tokens":[{"token":"s3cret"},{"token":"other"}]})");
  Events& kept = make<Events>();
  Events& revoked = make<Events>();
  zlt_agent* a = new_agent(agent_config(control_port_, echo.port()), &kept);
  zlt_agent* b = new_agent(agent_config(control_port_, echo.port(), "other"), &revoked);
  ASSERT_EQ(zlt_agent_start(a), ZLT_OK);
  ASSERT_EQ(zlt_agent_start(b), ZLT_OK);
  const std::uint16_t port = public_port(kept);
  ASSERT_GT(port, 0);
  ASSERT_TRUE(revoked.wait("authenticated"));

  char* report = nullptr;
  ASSERT_EQ(zlt_registry_reload(reg_, kServerConfig, &report), ZLT_OK) << zlt_last_error();
  json r = json::parse(take(report));
  EXPECT_EQ(r["revoked"], 1);
  EXPECT_EQ(r["tokens"], 1);
  auto gone = revoked.wait("disconnected");
  ASSERT_TRUE(gone);
  EXPECT_NE(gone->dump().find("token revoked"), std::string::npos) << gone->dump();
  EXPECT_TRUE(echo_through(port, zlt::test::pattern_bytes(100000, 11)));

  EXPECT_EQ(zlt_registry_reload(reg_, R"({"max_connections":0})", &report), ZLT_ECONFIG);
  EXPECT_EQ(report, nullptr);
  EXPECT_NE(std::string(zlt_last_error()).find("max_connections"), std::string::npos)
      << zlt_last_error();
  // NULL: the last configuration again (what a certificate rotation uses).
  EXPECT_EQ(zlt_registry_reload(reg_, nullptr, nullptr), ZLT_OK) << zlt_last_error();
  EXPECT_TRUE(echo_through(port, "still here"));
  EXPECT_FALSE(kept.wait("disconnected", std::chrono::milliseconds(0)));
  EXPECT_EQ(zlt_registry_reload(nullptr, nullptr, nullptr), ZLT_EINVAL);
}

TEST_F(CapiTest, DrainReturnsWhenTheLastStreamEnds) {
  EchoServer echo;
  start_registry();
  Events& events = make<Events>();
  zlt_agent* a = new_agent(agent_config(control_port_, echo.port()), &events);
  ASSERT_EQ(zlt_agent_start(a), ZLT_OK);
  const std::uint16_t port = public_port(events);
  ASSERT_GT(port, 0);
  zlt::test::Fd conn = zlt::test::tcp_connect(port);
  ASSERT_TRUE(conn);
  zlt::test::set_timeouts(conn.get(), std::chrono::seconds(10));
  ASSERT_TRUE(zlt::test::send_all(conn.get(), std::string("before")));
  ASSERT_EQ(zlt::test::recv_exact(conn.get(), 6).value_or(""), "before");

  EXPECT_EQ(zlt_registry_drain(reg_, -1), ZLT_EINVAL);
  std::atomic<bool> returned{false};
  int rc = -1;
  std::thread drainer([&] {
    rc = zlt_registry_drain(reg_, 60000);
    returned = true;
  });
  // Not taking anything new, but the open stream carries on.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    refused = !zlt::test::tcp_connect(port);
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(refused) << "the public port still takes connections during the drain";
  const std::string payload = zlt::test::pattern_bytes(300000, 12);
  ASSERT_TRUE(zlt::test::send_all(conn.get(), payload));
  EXPECT_EQ(zlt::test::recv_exact(conn.get(), payload.size()).value_or(""), payload);
  EXPECT_FALSE(returned.load());
  conn = zlt::test::Fd();
  const auto closed = std::chrono::steady_clock::now();
  drainer.join();
  EXPECT_EQ(rc, ZLT_OK) << zlt_last_error();
  EXPECT_LT(std::chrono::steady_clock::now() - closed, std::chrono::seconds(10));
  EXPECT_TRUE(events.wait("disconnected"));
}

}  // namespace
