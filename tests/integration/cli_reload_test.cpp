// `zlt server` as an operator runs it: SIGHUP reloads the config file without dropping the
// tunnels it still allows, SIGTERM drains (open streams finish, /ready turns 503), a second
// signal exits at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/subprocess.hpp"
#include "support/tunnel_checks.hpp"
#include "support/zlt_cli.hpp"

namespace zlt::test {
namespace {

using nlohmann::json;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "zlt_reload_" + std::to_string(::getpid()) + "_" + name;
}

json server_file(const std::vector<std::string>& tokens, std::size_t max_connections = 100) {
  json list = json::array();
  for (const auto& t : tokens) list.push_back({{"name", "agent-" + t}, {"token", t}});
  return {{"tokens", list}, {"max_connections", max_connections}};
}

void write_file(const std::string& path, const json& j) { std::ofstream(path) << j.dump(2); }

int status_of(const std::optional<std::string>& response) {
  if (!response || response->size() < 12) return 0;
  return std::atoi(response->substr(9, 3).c_str());
}

std::optional<std::string> get(std::uint16_t port, const std::string& path) {
  return http_exchange(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

// Sends `n` bytes of pattern `seed` on `fd` and checks the echo, byte for byte.
bool echo_round(int fd, std::size_t n, std::uint64_t seed) {
  const std::string out = pattern_bytes(n, seed);
  if (!send_all(fd, out)) return false;
  auto back = recv_exact(fd, n);
  return back && fnv1a(back->data(), back->size()) == fnv1a(out.data(), out.size());
}

struct RunningServer {
  std::unique_ptr<Subprocess> process;
  std::uint16_t control = 0;
  std::uint16_t metrics = 0;
  std::string url() const {
    return "ws://127.0.0.1:" + std::to_string(control) + "/tunnel/v1";
  }
};

RunningServer start_server(const std::string& config, const std::string& grace) {
  RunningServer s;
  s.process = Subprocess::start(zlt({"server", "--config", config, "--listen", "127.0.0.1:0",
                                     "--port-range", "0-0", "--public-bind", "127.0.0.1",
                                     "--metrics", "127.0.0.1:0", "--grace-period", grace,
                                     "--status-interval", "0"}));
  if (!s.process) return s;
  s.control = number_after(wait_for_text(*s.process, "listening on ws://127.0.0.1:"),
                           "ws://127\\.0\\.0\\.1:");
  s.metrics = number_after(wait_for_text(*s.process, "/ready on http://127.0.0.1:"),
                           "http://127\\.0\\.0\\.1:");
  return s;
}

// An agent process for `token`, serving `port` as `name`; `public_port` gets its public port.
std::unique_ptr<Subprocess> start_agent(const RunningServer& s, const std::string& token,
                                        const std::string& name, std::uint16_t port,
                                        std::uint16_t* public_port) {
  auto agent = Subprocess::start(zlt({"agent", "--server", s.url(), "--token", token, "--service",
                                      name + ":" + std::to_string(port), "--status-interval",
                                      "0"}));
  if (!agent) return agent;
  *public_port = number_after(wait_for_text(*agent, "registered " + name + " on public port "),
                              "on public port ");
  return agent;
}

TEST(CliReload, SighupReloadsTokensAndSigtermDrainsARunningTransfer) {
  ignore_sigpipe();
  EchoServer echo;
  const std::string config = temp_path("server.json");
  write_file(config, server_file({"tok-a", "tok-b"}));
  RunningServer server = start_server(config, "20s");
  ASSERT_TRUE(server.process);
  ASSERT_NE(server.control, 0);
  ASSERT_NE(server.metrics, 0);

  std::uint16_t port_a = 0;
  std::uint16_t port_b = 0;
  auto agent_a = start_agent(server, "tok-a", "web", echo.port(), &port_a);
  auto agent_b = start_agent(server, "tok-b", "db", echo.port(), &port_b);
  ASSERT_NE(port_a, 0);
  ASSERT_NE(port_b, 0);

  // A transfer through the untouched service runs across the reload and into the drain.
  Fd conn = tcp_connect(port_a);
  ASSERT_TRUE(conn);
  set_timeouts(conn.get(), 10s);
  ASSERT_TRUE(echo_round(conn.get(), 256u << 10, 1));

  write_file(config, server_file({"tok-a", "tok-c"}));  // tok-b removed
  ::kill(server.process->pid(), SIGHUP);
  EXPECT_NE(wait_for_text(*server.process, "configuration reloaded: 2 token(s), 1 session(s) "
                                           "revoked"),
            "");
  EXPECT_NE(wait_for_text(*agent_b, "token revoked"), "");
  ASSERT_TRUE(echo_round(conn.get(), 256u << 10, 2));
  std::uint16_t port_c = 0;
  auto agent_c = start_agent(server, "tok-c", "cache", echo.port(), &port_c);
  EXPECT_NE(port_c, 0) << "the token added by the reload is not accepted";

  // A bad file is refused, named, and changes nothing.
  write_file(config, server_file({"tok-a"}, 0));
  ::kill(server.process->pid(), SIGHUP);
  const std::string refused =
      wait_for_text(*server.process, "reload failed, keeping the running configuration");
  EXPECT_NE(refused.find("max_connections"), std::string::npos) << refused;
  ASSERT_TRUE(echo_round(conn.get(), 256u << 10, 3));
  const std::string metrics = get(server.metrics, "/metrics").value_or("");
  EXPECT_NE(metrics.find("zlt_server_config_reloads_total{result=\"success\"} 1\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("zlt_server_config_reloads_total{result=\"failure\"} 1\n"),
            std::string::npos);
  EXPECT_NE(metrics.find("zlt_server_config_last_reload_successful 0\n"), std::string::npos);
  std::string why;
  EXPECT_TRUE(echoes(port_c, probe_payload(), &why)) << why;

  // SIGTERM: not ready, no new connections, the open one finishes, then the server exits.
  EXPECT_EQ(status_of(get(server.metrics, "/ready")), 200);
  ::kill(server.process->pid(), SIGTERM);
  EXPECT_NE(wait_for_text(*server.process, "draining: no new sessions or connections"), "");
  auto ready = get(server.metrics, "/ready");
  EXPECT_EQ(status_of(ready), 503);
  EXPECT_NE(ready.value_or("").find("server: draining"), std::string::npos);
  EXPECT_NE(get(server.metrics, "/metrics").value_or("").find("zlt_server_draining 1\n"),
            std::string::npos);
  EXPECT_FALSE(tcp_connect(port_c));
  ASSERT_TRUE(echo_round(conn.get(), 1u << 20, 4));
  EXPECT_FALSE(server.process->wait(100ms).has_value()) << "exited with a stream still open";
  conn = Fd();
  EXPECT_TRUE(exited_with(server.process->wait(5s), 0));
  ::kill(agent_a->pid(), SIGTERM);
  ::kill(agent_c->pid(), SIGTERM);
  ::unlink(config.c_str());
}

TEST(CliReload, ASecondSignalEndsTheDrainAtOnce) {
  ignore_sigpipe();
  EchoServer echo;
  const std::string config = temp_path("second.json");
  write_file(config, server_file({"tok-a"}));
  RunningServer server = start_server(config, "60s");
  ASSERT_TRUE(server.process);
  std::uint16_t port = 0;
  auto agent = start_agent(server, "tok-a", "web", echo.port(), &port);
  ASSERT_NE(port, 0);
  Fd conn = tcp_connect(port);
  ASSERT_TRUE(conn);
  set_timeouts(conn.get(), 10s);
  ASSERT_TRUE(echo_round(conn.get(), 4096, 5));
  ::kill(server.process->pid(), SIGTERM);
  EXPECT_NE(wait_for_text(*server.process, "draining:"), "");
  const auto second = std::chrono::steady_clock::now();
  ::kill(server.process->pid(), SIGTERM);
  EXPECT_TRUE(exited_with(server.process->wait(5s), 128 + SIGTERM));
  EXPECT_LT(std::chrono::steady_clock::now() - second, 5s);
  EXPECT_TRUE(wait_closed(conn.get(), 5s));
  ::kill(agent->pid(), SIGTERM);
  ::unlink(config.c_str());
}

json agent_file(const RunningServer& s, const std::vector<std::pair<std::string, int>>& services) {
  json list = json::array();
  for (const auto& [name, port] : services) list.push_back({{"name", name}, {"local_port", port}});
  return {{"server_url", s.url()}, {"token", "tok-a"}, {"services", list}};
}

TEST(CliReload, SighupChangesTheAgentsServicesWithoutReconnecting) {
  ignore_sigpipe();
  EchoServer echo;
  EchoServer other;
  const std::string server_config = temp_path("agent-server.json");
  write_file(server_config, server_file({"tok-a"}));
  RunningServer server = start_server(server_config, "5s");
  ASSERT_TRUE(server.process);
  const std::string config = temp_path("agent.json");
  write_file(config, agent_file(server, {{"web", echo.port()}, {"old", echo.port()}}));
  auto agent = Subprocess::start(zlt({"agent", "--config", config, "--status-interval", "0"}));
  ASSERT_TRUE(agent);
  const std::uint16_t web =
      number_after(wait_for_text(*agent, "registered web on public port "), "on public port ");
  ASSERT_NE(web, 0);
  ASSERT_NE(wait_for_text(*agent, "registered old on public port "), "");
  Fd conn = tcp_connect(web);
  ASSERT_TRUE(conn);
  set_timeouts(conn.get(), 10s);
  ASSERT_TRUE(echo_round(conn.get(), 256u << 10, 31));

  write_file(config, agent_file(server, {{"web", echo.port()}, {"cache", other.port()}}));
  ::kill(agent->pid(), SIGHUP);
  EXPECT_NE(wait_for_text(*agent, "configuration reloaded: 1 service(s) added, 1 removed, 0 "
                                  "changed"),
            "");
  const std::uint16_t cache =
      number_after(wait_for_text(*agent, "registered cache on public port "), "on public port ");
  ASSERT_NE(cache, 0);
  std::string why;
  EXPECT_TRUE(echoes(cache, probe_payload(), &why)) << why;
  EXPECT_EQ(other.accepted(), 1);
  ASSERT_TRUE(echo_round(conn.get(), 1u << 20, 32));

  // A bad file: named, refused, nothing changes.
  std::ofstream(config) << R"({"server_url": ")" << server.url()
                        << R"(", "token": "tok-a", "services": [{"name": "web", "local_port": "x"}]})";
  ::kill(agent->pid(), SIGHUP);
  const std::string refused =
      wait_for_text(*agent, "reload failed, keeping the running configuration");
  EXPECT_NE(refused.find("services[0].local_port"), std::string::npos) << refused;
  EXPECT_TRUE(echoes(cache, probe_payload(), &why)) << why;
  ASSERT_TRUE(echo_round(conn.get(), 64u << 10, 33));
  conn = Fd();

  ::kill(agent->pid(), SIGTERM);
  EXPECT_TRUE(exited_with(agent->wait(5s), 0));
  ::kill(server.process->pid(), SIGTERM);
  EXPECT_TRUE(exited_with(server.process->wait(10s), 0));
  ::unlink(config.c_str());
  ::unlink(server_config.c_str());
}

}  // namespace
}  // namespace zlt::test
