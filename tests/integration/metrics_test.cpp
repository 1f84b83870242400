// Metrics and readiness over real sockets: a scrape of /metrics after bytes moved through a
// real tunnel shows exactly those bytes, /ready follows the agent's connection, the metrics
// listener's bounds refuse clearly, and the separate admin listener takes the admin API off
// the control listener.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "core/crypto/crypto.hpp"
#include "core/transport/demo_http.hpp"
#include "core/transport/metrics_listener.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/tunnel_checks.hpp"

namespace zlt::test {
namespace {

constexpr const char* kAdmin = "admin-secret";

struct Reply {
  int status = 0;
  std::string head;
  std::string body;
};

Reply get(std::uint16_t port, const std::string& path, const std::string& extra = "") {
  Reply r;
  auto resp = http_exchange(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra +
                                      "Connection: close\r\n\r\n");
  if (!resp || resp->size() < 12) return r;
  r.status = std::atoi(resp->substr(9, 3).c_str());
  auto split = resp->find("\r\n\r\n");
  r.head = resp->substr(0, split);
  if (split != std::string::npos) r.body = resp->substr(split + 4);
  return r;
}

// The value of the sample written exactly as `series` ("name{a=\"b\"}"), if present.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ')
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return std::nullopt;
}

class MetricsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    h_.on_loop([&] {
      listeners_.clear();
      agent_.reset();
    });
  }

  // A metrics listener on the harness's loop (kernel-chosen port) serving `source`.
  std::uint16_t listen(MetricsSource source, config::HttpListenerLimits limits = {}) {
    std::uint16_t port = 0;
    h_.on_loop([&] {
      auto l = MetricsListener::start(h_.runtime(), "127.0.0.1:0", limits, std::move(source));
      if (!l) {
        ADD_FAILURE() << l.error().message;
        return;
      }
      port = (*l)->address().port();
      listeners_.push_back(std::move(*l));
    });
    return port;
  }

  std::uint16_t listen_server() {
    TunnelServer* s = &h_.server();
    return listen({[s] { return s->metrics(); }, [s] { return s->readiness(); }});
  }

  Harness h_;
  std::vector<std::unique_ptr<MetricsListener>> listeners_;
  std::unique_ptr<TunnelAgent> agent_;  // one the test drives itself
};

TEST_F(MetricsTest, ByteCountersMatchTheBytesMovedThroughARealTunnel) {
  h_.start_server();
  EchoServer echo;
  TunnelAgent& agent = h_.start_agent({config::ServiceConfig::tcp("echo", echo.port())});
  const std::uint16_t pub = h_.public_port("echo");
  ASSERT_NE(pub, 0);
  const std::uint16_t server_metrics = listen_server();
  TunnelAgent* a = &agent;
  const std::uint16_t agent_metrics =
      listen({[a] { return a->metrics(); }, [a] { return a->readiness(); }});

  // Three connections, 1000 + 20000 + 300000 bytes each way.
  std::uint64_t moved = 0;
  for (std::size_t n : {1000u, 20000u, 300000u}) {
    std::string why;
    ASSERT_TRUE(echoes(pub, probe_payload(n), &why)) << why;
    moved += n;
  }
  const std::string in = "zlt_server_bytes_total{service=\"echo\",direction=\"in\"}";
  const std::string out = "zlt_server_bytes_total{service=\"echo\",direction=\"out\"}";
  Reply scrape;
  ASSERT_TRUE(eventually([&] {
    scrape = get(server_metrics, "/metrics");
    return sample(scrape.body, in) == static_cast<double>(moved) &&
           sample(scrape.body, out) == static_cast<double>(moved) &&
           sample(scrape.body, "zlt_server_streams_active{service=\"echo\"}") == 0.0;
  })) << scrape.body;
  EXPECT_EQ(scrape.status, 200);
  EXPECT_NE(scrape.head.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
            std::string::npos)
      << scrape.head;
  EXPECT_EQ(sample(scrape.body, "zlt_server_streams_total{service=\"echo\"}"), 3.0);
  EXPECT_EQ(sample(scrape.body, "zlt_server_tunnels"), 1.0);
  EXPECT_EQ(sample(scrape.body,
                   "zlt_server_services{service=\"echo\",protocol=\"tcp\","
                   "internal=\"false\"}"),
            1.0);
  EXPECT_EQ(sample(scrape.body, "zlt_server_traffic_bytes_total{direction=\"in\"}"),
            static_cast<double>(moved));
  EXPECT_NE(scrape.body.find("# TYPE zlt_server_bytes_total counter"), std::string::npos);
  EXPECT_NE(scrape.body.find("zlt_build_info{version=\""), std::string::npos);
  EXPECT_GT(sample(scrape.body, "process_resident_memory_bytes").value_or(0), 0.0);
  EXPECT_GT(sample(scrape.body, "process_open_fds").value_or(0), 0.0);

  // The agent's side of the same bytes: in from the server to the local service, out back.
  Reply agent_scrape;
  ASSERT_TRUE(eventually([&] {
    agent_scrape = get(agent_metrics, "/metrics");
    return sample(agent_scrape.body, "zlt_agent_bytes_total{service=\"echo\",direction=\"in\"}") ==
               static_cast<double>(moved) &&
           sample(agent_scrape.body, "zlt_agent_bytes_total{service=\"echo\",direction=\"out\"}") ==
               static_cast<double>(moved);
  })) << agent_scrape.body;
  EXPECT_EQ(sample(agent_scrape.body, "zlt_agent_connected"), 1.0);
  EXPECT_EQ(sample(agent_scrape.body, "zlt_agent_streams_total{service=\"echo\"}"), 3.0);
}

TEST_F(MetricsTest, AuthFailuresAreCountedByReason) {
  h_.start_server();
  const std::uint16_t port = listen_server();
  auto cfg = h_.client_config();
  cfg.token = "not-the-token";
  h_.start_agent(cfg);
  ASSERT_TRUE(eventually([&] {
    return sample(get(port, "/metrics").body,
                  "zlt_server_auth_failures_total{reason=\"invalid_token\"}") >= 1.0;
  }));
  const std::string text = get(port, "/metrics").body;
  // A token never appears in the text.
  EXPECT_EQ(text.find("not-the-token"), std::string::npos);
  EXPECT_EQ(text.find(Harness::kToken), std::string::npos);
}

TEST_F(MetricsTest, ReadyFollowsTheAgentsConnection) {
  h_.start_server();
  EchoServer echo;
  auto cfg = h_.client_config({config::ServiceConfig::tcp("db", echo.port())});
  cfg.reconnect_interval = std::chrono::milliseconds(200);
  std::uint16_t port = 0;
  h_.on_loop([&] {
    auto a = TunnelAgent::create(h_.runtime(), cfg);
    ASSERT_TRUE(a) << a.error().message;
    agent_ = std::move(*a);
  });
  TunnelAgent* a = agent_.get();
  port = listen({[a] { return a->metrics(); }, [a] { return a->readiness(); }});

  Reply before = get(port, "/ready");
  EXPECT_EQ(before.status, 503);
  EXPECT_NE(before.body.find("agent: not connected"), std::string::npos) << before.body;
  EXPECT_EQ(get(port, "/healthz").status, 200);  // up, not ready

  h_.on_loop([&] { agent_->start(); });
  ASSERT_TRUE(eventually([&] { return get(port, "/ready").status == 200; }));
  EXPECT_EQ(get(port, "/ready").body, "ready\n");
  EXPECT_EQ(sample(get(port, "/metrics").body, "zlt_agent_service_registered{service=\"db\"}"),
            1.0);

  h_.stop_server();
  Reply after;
  ASSERT_TRUE(eventually([&] {
    after = get(port, "/ready");
    return after.status == 503;
  }));
  EXPECT_NE(after.body.find("agent: not connected"), std::string::npos) << after.body;
  EXPECT_EQ(sample(get(port, "/metrics").body, "zlt_agent_connected"), 0.0);
}

TEST_F(MetricsTest, ServerReadyWhileListening) {
  h_.start_server();
  const std::uint16_t port = listen_server();
  EXPECT_EQ(get(port, "/ready").status, 200);
  h_.on_loop([&] { h_.server().stop(); });
  Reply r = get(port, "/ready");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "server: stopped\n");
}

TEST_F(MetricsTest, ListenerBoundsRefuseClearly) {
  h_.start_server();
  config::HttpListenerLimits limits;
  limits.max_connections = 1;
  limits.max_request_head = 256;
  limits.idle_timeout = std::chrono::milliseconds(300);
  TunnelServer* s = &h_.server();
  const std::uint16_t port =
      listen({[s] { return s->metrics(); }, [s] { return s->readiness(); }}, limits);

  EXPECT_EQ(get(port, "/nowhere").status, 404);
  auto post = http_exchange(port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->substr(9, 3), "405");

  std::string big = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(400, 'a') + "\r\n\r\n";
  auto too_big = http_exchange(port, big);
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->substr(9, 3), "431");
  EXPECT_NE(too_big->find("request head over 256 bytes"), std::string::npos) << *too_big;

  // One connection held open: the next one is answered 503 and closed.
  Fd held = tcp_connect(port);
  ASSERT_TRUE(held);
  ASSERT_TRUE(eventually([&] {
    auto r = http_exchange(port, "GET /metrics HTTP/1.1\r\n\r\n");
    return r && r->find("503") != std::string::npos &&
           r->find("too many connections (max 1)") != std::string::npos;
  }));
  // The held connection sends nothing: it is closed after the idle timeout, and the slot is
  // free again.
  EXPECT_TRUE(wait_closed(held.get(), std::chrono::seconds(5)));
  EXPECT_TRUE(eventually([&] { return get(port, "/healthz").status == 200; }));
}

TEST_F(MetricsTest, AdminApiMovesToItsOwnListener) {
  auto cfg = Harness::server_config();
  cfg.admin_token_hash = crypto::hash_token(kAdmin);
  cfg.admin_listen = "127.0.0.1:0";
  h_.start_server(cfg);
  std::optional<SockAddr> admin;
  h_.on_loop([&] { admin = h_.server().admin_address(); });
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->ip(), "127.0.0.1");
  const std::string bearer = std::string("Authorization: Bearer ") + kAdmin + "\r\n";

  Reply ok = get(admin->port(), "/admin/v1/status", bearer);
  EXPECT_EQ(ok.status, 200) << ok.head;
  EXPECT_NE(ok.body.find("\"tunnel_count\""), std::string::npos) << ok.body;
  EXPECT_EQ(get(admin->port(), "/admin/v1/status").status, 401);
  EXPECT_EQ(get(admin->port(), "/admin/v1/grants", bearer).status, 200);

  // The control listener no longer serves it, even with the right token.
  EXPECT_EQ(get(h_.control_port(), "/admin/v1/status", bearer).status, 404);
  EXPECT_EQ(get(h_.control_port(), "/admin/v1/grants", bearer).status, 404);
  EXPECT_EQ(get(h_.control_port(), "/healthz").status, 200);
}

TEST_F(MetricsTest, WithoutAdminListenTheControlListenerServesTheAdminApi) {
  auto cfg = Harness::server_config();
  cfg.admin_token_hash = crypto::hash_token(kAdmin);
  h_.start_server(cfg);
  const std::string bearer = std::string("Authorization: Bearer ") + kAdmin + "\r\n";
  EXPECT_EQ(get(h_.control_port(), "/admin/v1/status", bearer).status, 200);
  std::optional<SockAddr> admin;
  h_.on_loop([&] { admin = h_.server().admin_address(); });
  EXPECT_FALSE(admin);
}

}  // namespace
}  // namespace zlt::test

namespace zlt::test {
namespace {

// The quickstart's demo page is served by the same HttpServer as the metrics listener.
TEST(DemoHttp, ServesThePageHealthAndRefusals) {
  Harness h;
  std::unique_ptr<DemoHttpService> demo;
  h.on_loop([&] {
    auto started = DemoHttpService::start(h.runtime().loop(), "127.0.0.1");
    ASSERT_TRUE(started) << started.error().message;
    demo = std::move(*started);
  });
  ASSERT_TRUE(demo);
  const std::uint16_t port = demo->port();
  Reply page = get(port, "/?from=test");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.head.find("text/html"), std::string::npos) << page.head;
  EXPECT_NE(page.body.find("It works!"), std::string::npos) << page.body;
  EXPECT_EQ(get(port, "/healthz").body, "ok\n");
  EXPECT_EQ(get(port, "/nothing").status, 404);
  auto post = http_exchange(port,
                            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                            "Connection: close\r\n\r\nabc");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->substr(0, 12), "HTTP/1.1 405");
  std::uint64_t requests = 0;
  h.on_loop([&] {
    requests = demo->requests();
    demo.reset();
  });
  EXPECT_EQ(requests, 4u);
}

}  // namespace
}  // namespace zlt::test
