// `--metrics` and `--admin-listen` on the `zlt` command: separate processes, scraped over
// HTTP; the agent's /ready follows its connection to a server that goes away.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/subprocess.hpp"
#include "support/tunnel_checks.hpp"
#include "support/zlt_cli.hpp"

namespace zlt::test {
namespace {

int status_of(const std::optional<std::string>& response) {
  if (!response || response->size() < 12) return 0;
  return std::atoi(response->substr(9, 3).c_str());
}

std::optional<std::string> get(std::uint16_t port, const std::string& path,
                               const std::string& extra = "") {
  return http_exchange(
      port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "Connection: close\r\n\r\n");
}

TEST(CliMetrics, ServerAndAgentServeMetricsReadinessAndASeparateAdminListener) {
  ignore_sigpipe();
  EchoServer echo;
  auto server = Subprocess::start(
      zlt({"server", "--listen", "127.0.0.1:0", "--port-range", "0-0", "--public-bind", "127.0.0.1",
           "--token", "s3cret", "--admin-token", "adm1n", "--metrics", "127.0.0.1:0",
           "--admin-listen", "127.0.0.1:0", "--status-interval", "0"}));
  ASSERT_TRUE(server);
  const std::string admin_line = wait_for_text(*server, "admin API on http://127.0.0.1:");
  const std::uint16_t admin_port = number_after(admin_line, "http://127\\.0\\.0\\.1:");
  const std::string listen_line = wait_for_text(*server, "listening on ws://127.0.0.1:");
  const std::uint16_t control_port = number_after(listen_line, "ws://127\\.0\\.0\\.1:");
  const std::string metrics_line = wait_for_text(*server, "/ready on http://127.0.0.1:");
  const std::uint16_t server_metrics = number_after(metrics_line, "http://127\\.0\\.0\\.1:");
  ASSERT_NE(admin_port, 0) << admin_line;
  ASSERT_NE(control_port, 0) << listen_line;
  ASSERT_NE(server_metrics, 0) << metrics_line;

  EXPECT_EQ(status_of(get(server_metrics, "/ready")), 200);
  EXPECT_EQ(status_of(get(admin_port, "/admin/v1/status", "Authorization: Bearer adm1n\r\n")), 200);
  EXPECT_EQ(status_of(get(admin_port, "/admin/v1/status")), 401);
  EXPECT_EQ(status_of(get(control_port, "/admin/v1/status", "Authorization: Bearer adm1n\r\n")),
            404);

  const std::string url = "ws://127.0.0.1:" + std::to_string(control_port) + "/tunnel/v1";
  auto agent = Subprocess::start(
      zlt({"agent", "--server", url, "--token", "s3cret", "--service",
           "web:" + std::to_string(echo.port()), "--metrics", "0", "--status-interval", "0"}));
  ASSERT_TRUE(agent);
  const std::string agent_line = wait_for_text(*agent, "/ready on http://127.0.0.1:");
  const std::uint16_t agent_metrics = number_after(agent_line, "http://127\\.0\\.0\\.1:");
  ASSERT_NE(agent_metrics, 0) << agent_line;
  const std::string registered = wait_for_text(*agent, "registered web on public port ");
  const std::uint16_t public_port = number_after(registered, "on public port ");
  ASSERT_NE(public_port, 0) << registered;
  ASSERT_TRUE(eventually([&] { return status_of(get(agent_metrics, "/ready")) == 200; }));

  std::string why;
  const std::string payload = probe_payload(50'000);
  ASSERT_TRUE(echoes(public_port, payload, &why)) << why;
  const std::string series = "zlt_server_bytes_total{service=\"web\",direction=\"in\"} " +
                             std::to_string(payload.size()) + "\n";
  EXPECT_TRUE(eventually([&] {
    auto r = get(server_metrics, "/metrics");
    return r && r->find(series) != std::string::npos;
  })) << series;

  // The server goes away: the agent is no longer ready, and says why.
  ::kill(server->pid(), SIGTERM);
  EXPECT_TRUE(server->wait(5s).has_value());
  std::optional<std::string> ready;
  ASSERT_TRUE(eventually([&] {
    ready = get(agent_metrics, "/ready");
    return status_of(ready) == 503;
  }));
  EXPECT_NE(ready->find("agent: not connected"), std::string::npos) << *ready;
  EXPECT_EQ(status_of(get(agent_metrics, "/healthz")), 200);
  ::kill(agent->pid(), SIGTERM);
  EXPECT_TRUE(agent->wait(5s).has_value());
}

TEST(CliMetrics, BadMetricsAddressIsAUsageError) {
  ZltRun run = run_zlt(
      {"agent", "--server", "ws://127.0.0.1:1/tunnel/v1", "--token", "t", "--metrics", "nowhere"});
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.output.find("--metrics"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace zlt::test
