// The `zlt` command as a user runs it: a separate process, its output parsed, its exit codes
// checked, bytes sent through a tunnel made of two zlt processes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/net.hpp"
#include "support/paths.hpp"
#include "support/subprocess.hpp"
#include "support/zlt_cli.hpp"

namespace zlt::test {
namespace {

using Clock = std::chrono::steady_clock;

TEST(CliBasics, Version) {
  ZltRun r = run_zlt({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.output, std::string("zlt ") + ZLT_VERSION_STRING + "\n");
}

TEST(CliBasics, HashToken) {
  ZltRun r = run_zlt({"hash-token", "test"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.output, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n");
}

TEST(CliBasics, TokenNew) {
  ZltRun a = run_zlt({"token", "new"});
  ZltRun b = run_zlt({"token", "new"});
  EXPECT_EQ(a.code, 0);
  EXPECT_TRUE(std::regex_match(a.output, std::regex("tun_[0-9a-f]{32}\n"))) << a.output;
  EXPECT_NE(a.output, b.output);
}

TEST(CliBasics, HelpEverywhere) {
  ZltRun top = run_zlt({"--help"});
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.output.find("quickstart"), std::string::npos);
  EXPECT_EQ(run_zlt({"help"}).code, 0);
  ZltRun server = run_zlt({"server", "--help"});
  EXPECT_EQ(server.code, 0);
  EXPECT_NE(server.output.find("--port-range"), std::string::npos);
  ZltRun agent = run_zlt({"help", "agent"});
  EXPECT_EQ(agent.code, 0);
  EXPECT_NE(agent.output.find("--service"), std::string::npos);
  ZltRun quickstart = run_zlt({"quickstart", "-h"});
  EXPECT_EQ(quickstart.code, 0);
  EXPECT_NE(quickstart.output.find("--duration"), std::string::npos);
}

TEST(CliBasics, BadFlagsExitTwoWithMessage) {
  ZltRun unknown = run_zlt({"server", "--bogus"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.output.find("zlt server: unknown flag '--bogus'"), std::string::npos)
      << unknown.output;

  ZltRun range = run_zlt({"server", "--port-range", "x"});
  EXPECT_EQ(range.code, 2);
  EXPECT_EQ(range.output, "zlt server: --port-range: expected A-B, got 'x'\n");

  ZltRun missing = run_zlt({"server", "--listen"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.output.find("--listen: missing value"), std::string::npos) << missing.output;

  ZltRun service = run_zlt(
      {"agent", "--server", "ws://127.0.0.1:1/tunnel/v1", "--token", "t", "--service", "web"});
  EXPECT_EQ(service.code, 2);
  EXPECT_NE(service.output.find("zlt agent: --service:"), std::string::npos) << service.output;

  ZltRun no_server = run_zlt({"agent", "--token", "t"});
  EXPECT_EQ(no_server.code, 2);
  EXPECT_NE(no_server.output.find("--server is required"), std::string::npos) << no_server.output;

  EXPECT_EQ(run_zlt({"frobnicate"}).code, 2);
  EXPECT_EQ(run_zlt({"hash-token"}).code, 2);
}

TEST(CliBasics, BadConfigFileExitTwoNamingTheField) {
  std::string unknown_key =
      write_temp_file("unknown.json", R"({"listen": "127.0.0.1:0", "bogus_key": 1})");
  ZltRun a = run_zlt({"server", "--config", unknown_key});
  EXPECT_EQ(a.code, 2);
  EXPECT_NE(a.output.find("bogus_key"), std::string::npos) << a.output;
  EXPECT_NE(a.output.find(unknown_key), std::string::npos) << a.output;

  std::string bad_range = write_temp_file("range.json", R"({"data_port_range": [10, 20]})");
  ZltRun b = run_zlt({"server", "--config", bad_range});
  EXPECT_EQ(b.code, 2);
  EXPECT_NE(b.output.find("data_port_range"), std::string::npos) << b.output;

  std::string bad_service =
      write_temp_file("agent.json",
                      R"({"server_url": "ws://127.0.0.1:1/tunnel/v1", "token": "t",
          "services": [{"name": "web", "local_port": "eighty"}]})");
  ZltRun c = run_zlt({"agent", "--config", bad_service});
  EXPECT_EQ(c.code, 2);
  EXPECT_NE(c.output.find("services[0].local_port"), std::string::npos) << c.output;

  std::string not_json = write_temp_file("broken.json", "{ listen: ");
  ZltRun d = run_zlt({"server", "--config", not_json});
  EXPECT_EQ(d.code, 2);
  EXPECT_NE(d.output.find("invalid JSON"), std::string::npos) << d.output;

  ZltRun e = run_zlt({"server", "--config", ::testing::TempDir() + "no-such-file.json"});
  EXPECT_EQ(e.code, 2);

  for (const auto& p : {unknown_key, bad_range, bad_service, not_json}) ::unlink(p.c_str());
}

TEST(CliBasics, ConfigFileWithFlagsOnTop) {
  // The file leaves out the token, which the flag supplies; the flag's server wins.
  std::string file = write_temp_file(
      "agent_ok.json",
      R"({"server_url": "http://wrong", "services": [{"name": "x", "local_port": 1}]})");
  ZltRun r = run_zlt({"agent", "--config", file, "--server", "ws://127.0.0.1:1/tunnel/v1",
                      "--service", "x:2", "--token", "t"});
  // Both services are named x: the merged config is checked as a whole.
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("duplicate service name: x"), std::string::npos) << r.output;
  ::unlink(file.c_str());
}

TEST(CliTunnel, ServerAndAgentCarryBytesAndStopOnSigterm) {
  ignore_sigpipe();
  EchoServer echo;
  auto server = Subprocess::start(
      zlt({"server", "--listen", "127.0.0.1:0", "--port-range", "0-0", "--public-bind", "127.0.0.1",
           "--token", "s3cret", "--log-format", "json", "--status-interval", "300ms"}));
  ASSERT_TRUE(server);
  std::string listen_line = wait_for_text(*server, "listening on ws://127.0.0.1:");
  ASSERT_FALSE(listen_line.empty());
  auto listen_json = nlohmann::json::parse(listen_line, nullptr, false);
  ASSERT_TRUE(listen_json.is_object()) << listen_line;
  const std::uint16_t control_port =
      number_after(listen_json.value("msg", ""), "listening on ws://127\\.0\\.0\\.1:");
  ASSERT_NE(control_port, 0) << listen_line;

  const std::string url = "ws://127.0.0.1:" + std::to_string(control_port) + "/tunnel/v1";
  auto agent =
      Subprocess::start(zlt({"agent", "--server", url, "--token", "s3cret", "--service",
                             "echo:" + std::to_string(echo.port()), "--status-interval", "300ms"}));
  ASSERT_TRUE(agent);
  std::string registered = wait_for_text(*agent, "registered echo on public port ");
  ASSERT_FALSE(registered.empty());
  const std::uint16_t public_port = number_after(registered, "on public port ");
  ASSERT_NE(public_port, 0) << registered;

  Fd c = tcp_connect(public_port);
  ASSERT_TRUE(c);
  set_timeouts(c.get(), 5s);
  const std::string payload = pattern_bytes(64 * 1024, 42);
  ASSERT_TRUE(send_all(c.get(), payload));
  auto reply = recv_exact(c.get(), payload.size());
  ASSERT_TRUE(reply);
  EXPECT_TRUE(*reply == payload);

  // Both periodic status lines appear and count what moved.
  std::string agent_status = wait_for_text(*agent, "status: connected, 1/1 services registered");
  EXPECT_FALSE(agent_status.empty());
  bool server_counted = false;
  const auto deadline = Clock::now() + 5s;
  while (!server_counted && Clock::now() < deadline) {
    std::string line = wait_for_text(*server, "\"msg\":\"status: ", 2s);
    auto j = nlohmann::json::parse(line, nullptr, false);
    server_counted = j.is_object() && j.value("tunnels", 0) == 1 &&
                     j.value("bytes_out", std::uint64_t{0}) >= payload.size();
  }
  EXPECT_TRUE(server_counted);
  c = Fd();

  const auto stop_at = Clock::now();
  ::kill(agent->pid(), SIGTERM);
  ::kill(server->pid(), SIGTERM);
  auto agent_exit = agent->wait(2s);
  auto server_exit = server->wait(
      2s - std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stop_at));
  EXPECT_TRUE(exited_with(agent_exit, 0)) << (agent_exit ? *agent_exit : -1);
  EXPECT_TRUE(exited_with(server_exit, 0)) << (server_exit ? *server_exit : -1);
  EXPECT_LT(Clock::now() - stop_at, 2s);
}

TEST(CliTunnel, ServerCannotListenExitsOne) {
  std::uint16_t port = 0;
  Fd holder = tcp_listen(&port);
  ZltRun r = run_zlt({"server", "--listen", "127.0.0.1:" + std::to_string(port), "--token", "t"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot listen"), std::string::npos) << r.output;
}

TEST(CliQuickstart, FetchesThePageAndExitsCleanly) {
  ZltRun r = run_zlt({"quickstart", "--duration", "3s"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("200 OK"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("curl http://127.0.0.1:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("What moved"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace zlt::test
