// Tokens kept out of argv: a real `zlt server` and `zlt agent` given their token only through
// $ZLT_TOKEN or only through --token-file connect and carry bytes, and the token is nowhere in
// either process's /proc/<pid>/cmdline.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/redis_server.hpp"
#include "support/subprocess.hpp"
#include "support/zlt_cli.hpp"

namespace zlt::test {
namespace {

// A fresh random-looking token per test, so a hit in cmdline cannot come from elsewhere.
std::string test_token(std::string_view tag) {
  return "tun_" + std::string(tag) + "_" + std::to_string(::getpid()) + "_9f2c41d7";
}

// argv running zlt with exactly `vars` as its token variables: inherited ones are removed,
// so the test depends on nothing in the environment that runs it.
std::vector<std::string> zlt_with_env(std::vector<std::string> vars,
                                      std::vector<std::string> args) {
  std::vector<std::string> argv = {"env", "-u", "ZLT_TOKEN", "-u", "ZLT_ADMIN_TOKEN", "-u",
                                   "ZLT_CLUSTER_SECRET"};
  argv.insert(argv.end(), vars.begin(), vars.end());
  std::vector<std::string> rest = zlt(std::move(args));
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

ZltRun run_zlt_with_env(std::vector<std::string> vars, std::vector<std::string> args) {
  ZltRun r;
  r.code = run_command(zlt_with_env(std::move(vars), std::move(args)), &r.output);
  return r;
}

std::string cmdline_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  for (char& c : s)
    if (c == '\0') c = ' ';
  return s;
}

std::string write_secret_file(const std::string& name, const std::string& text, mode_t mode) {
  std::string path = write_temp_file(name, text);
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

// The control port from the server's "listening on ws://127.0.0.1:PORT" line; 0 if none.
std::uint16_t wait_for_control_port(Subprocess& server) {
  std::string line = wait_for_text(server, "listening on ws://127.0.0.1:");
  return number_after(line, "listening on ws://127\\.0\\.0\\.1:");
}

std::string control_url(std::uint16_t port) {
  return "ws://127.0.0.1:" + std::to_string(port) + "/tunnel/v1";
}

// The agent registered its service and bytes echo back through the server's public port.
void expect_tunnel_carries_bytes(Subprocess& agent) {
  std::string registered = wait_for_text(agent, "registered echo on public port ");
  ASSERT_FALSE(registered.empty()) << "the agent never registered";
  const std::uint16_t public_port = number_after(registered, "on public port ");
  ASSERT_NE(public_port, 0) << registered;
  Fd c = tcp_connect(public_port);
  ASSERT_TRUE(c);
  set_timeouts(c.get(), std::chrono::seconds(5));
  const std::string payload = pattern_bytes(16 * 1024, 7);
  ASSERT_TRUE(send_all(c.get(), payload));
  auto reply = recv_exact(c.get(), payload.size());
  ASSERT_TRUE(reply);
  EXPECT_TRUE(*reply == payload);
}

std::vector<std::string> server_args() {
  return {"server", "--listen", "127.0.0.1:0", "--port-range", "0-0", "--public-bind", "127.0.0.1"};
}

// Starts a zlt server with exactly `vars` as its token variables and `extra` flags; its
// control port, or 0 when it never said it was listening.
std::uint16_t start_server(std::unique_ptr<Subprocess>& server, std::vector<std::string> vars,
                           std::vector<std::string> extra = {}) {
  std::vector<std::string> args = server_args();
  args.insert(args.end(), extra.begin(), extra.end());
  server = Subprocess::start(zlt_with_env(std::move(vars), std::move(args)));
  return server ? wait_for_control_port(*server) : 0;
}

TEST(CliSecrets, TokenOnlyFromEnvironment) {
  ignore_sigpipe();
  EchoServer echo;
  const std::string token = test_token("env");
  std::unique_ptr<Subprocess> server;
  const std::uint16_t port = start_server(server, {"ZLT_TOKEN=" + token});
  ASSERT_NE(port, 0);

  auto agent = Subprocess::start(
      zlt_with_env({"ZLT_TOKEN=" + token}, {"agent", "--server", control_url(port), "--service",
                                            "echo:" + std::to_string(echo.port())}));
  ASSERT_TRUE(agent);
  expect_tunnel_carries_bytes(*agent);

  for (pid_t pid : {server->pid(), agent->pid()}) {
    const std::string cmdline = cmdline_of(pid);
    EXPECT_NE(cmdline.find("zlt"), std::string::npos) << cmdline;
    EXPECT_EQ(cmdline.find(token), std::string::npos) << cmdline;
  }
}

TEST(CliSecrets, WrongTokenFromEnvironmentIsRefused) {
  // The counterpart of the test above: the variable is really what the agent sends.
  const std::string token = test_token("right");
  std::unique_ptr<Subprocess> server;
  const std::uint16_t port = start_server(server, {"ZLT_TOKEN=" + token});
  ASSERT_NE(port, 0);
  auto agent = Subprocess::start(
      zlt_with_env({"ZLT_TOKEN=" + test_token("wrong")}, {"agent", "--server", control_url(port)}));
  ASSERT_TRUE(agent);
  std::string refused = wait_for_text(*agent, "authentication refused");
  EXPECT_FALSE(refused.empty());
}

TEST(CliSecrets, EnvironmentBeatsTheConfigFileAndTheFileFlagBeatsTheEnvironment) {
  ignore_sigpipe();
  EchoServer echo;
  const std::string token = test_token("order");
  std::unique_ptr<Subprocess> server;
  const std::uint16_t port = start_server(server, {"ZLT_TOKEN=" + token});
  ASSERT_NE(port, 0);
  // The file's token is stale; the stronger sources carry the right one.
  nlohmann::json agent_config = {
      {"server_url", control_url(port)},
      {"token", "tun_stale"},
      {"services", {{{"name", "echo"}, {"local_port", echo.port()}}}},
  };
  const std::string config = write_temp_file("order_agent.json", agent_config.dump());
  auto by_env =
      Subprocess::start(zlt_with_env({"ZLT_TOKEN=" + token}, {"agent", "--config", config}));
  ASSERT_TRUE(by_env);
  expect_tunnel_carries_bytes(*by_env);
  by_env.reset();

  const std::string file = write_secret_file("order_token", token + "\n", 0600);
  auto by_file = Subprocess::start(
      zlt_with_env({"ZLT_TOKEN=tun_stale"}, {"agent", "--config", config, "--token-file", file}));
  ASSERT_TRUE(by_file);
  expect_tunnel_carries_bytes(*by_file);
  ::unlink(config.c_str());
  ::unlink(file.c_str());
}

TEST(CliSecrets, TokenOnlyFromFile) {
  ignore_sigpipe();
  EchoServer echo;
  const std::string token = test_token("file");
  const std::string file = write_secret_file("token", token + "\r\n", 0600);
  std::unique_ptr<Subprocess> server;
  const std::uint16_t port = start_server(server, {}, {"--token-file", file});
  ASSERT_NE(port, 0);

  auto agent = Subprocess::start(
      zlt_with_env({}, {"agent", "--server", control_url(port), "--token-file", file, "--service",
                        "echo:" + std::to_string(echo.port())}));
  ASSERT_TRUE(agent);
  expect_tunnel_carries_bytes(*agent);

  for (pid_t pid : {server->pid(), agent->pid()}) {
    const std::string cmdline = cmdline_of(pid);
    EXPECT_NE(cmdline.find(file), std::string::npos) << cmdline;
    EXPECT_EQ(cmdline.find(token), std::string::npos) << cmdline;
  }
  ::unlink(file.c_str());
}

TEST(CliSecrets, SharedTokenFileIsWarnedAboutWithoutTheToken) {
  const std::string token = test_token("shared");
  const std::string file = write_secret_file("shared_token", token + "\n", 0644);
  auto agent = Subprocess::start(
      zlt_with_env({}, {"agent", "--server", "ws://127.0.0.1:1/tunnel/v1", "--token-file", file}));
  ASSERT_TRUE(agent);
  std::string warning = wait_for_text(*agent, "readable by group or others");
  ASSERT_FALSE(warning.empty());
  EXPECT_NE(warning.find(file), std::string::npos) << warning;
  EXPECT_NE(warning.find("WARN"), std::string::npos) << warning;
  EXPECT_EQ(warning.find(token), std::string::npos) << warning;
  ::unlink(file.c_str());
}

TEST(CliSecrets, AdminTokenFromEnvironmentAndFile) {
  const std::string admin = test_token("admin");
  std::unique_ptr<Subprocess> server;
  const std::uint16_t port =
      start_server(server, {"ZLT_ADMIN_TOKEN=" + admin}, {"--token", "tun_agent"});
  ASSERT_NE(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::string file = write_secret_file("admin_token", admin + "\n", 0600);

  ZltRun from_file =
      run_zlt_with_env({}, {"grant", "--admin", url, "--admin-token-file", file, "--list"});
  EXPECT_EQ(from_file.code, 0) << from_file.output;
  auto listed = nlohmann::json::parse(from_file.output, nullptr, false);
  EXPECT_TRUE(listed.is_object() && listed["grants"].is_array()) << from_file.output;

  ZltRun from_env =
      run_zlt_with_env({"ZLT_ADMIN_TOKEN=" + admin}, {"grant", "--admin", url, "--list"});
  EXPECT_EQ(from_env.code, 0) << from_env.output;

  // The file flag beats the variable: a wrong variable does not matter, a wrong file does.
  ZltRun file_wins = run_zlt_with_env(
      {"ZLT_ADMIN_TOKEN=wrong"}, {"grant", "--admin", url, "--admin-token-file", file, "--list"});
  EXPECT_EQ(file_wins.code, 0) << file_wins.output;
  ZltRun wrong = run_zlt_with_env({"ZLT_ADMIN_TOKEN=wrong"}, {"grant", "--admin", url, "--list"});
  EXPECT_EQ(wrong.code, 1) << wrong.output;

  EXPECT_EQ(cmdline_of(server->pid()).find(admin), std::string::npos);
  ::unlink(file.c_str());
}

TEST(CliSecrets, BadTokenSourcesAreUsageErrors) {
  const std::string file = write_secret_file("ok_token", "tun_x\n", 0600);
  const std::string empty = write_secret_file("empty_token", "\n", 0600);
  const std::vector<std::string> agent = {"agent", "--server", "ws://127.0.0.1:1/tunnel/v1"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = agent;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };

  ZltRun both = run_zlt_with_env({}, with({"--token", "tun_x", "--token-file", file}));
  EXPECT_EQ(both.code, 2);
  EXPECT_EQ(both.output, "zlt agent: --token and --token-file: give one, not both\n");

  ZltRun blank = run_zlt_with_env({}, with({"--token-file", empty}));
  EXPECT_EQ(blank.code, 2);
  EXPECT_EQ(blank.output, "zlt agent: --token-file " + empty + ": the first line is empty\n");

  ZltRun unset_env = run_zlt_with_env({"ZLT_TOKEN="}, agent);
  EXPECT_EQ(unset_env.code, 2);
  EXPECT_EQ(unset_env.output, "zlt agent: ZLT_TOKEN: is set but empty\n");

  ZltRun none = run_zlt_with_env({}, agent);
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.output.find("--token, --token-file or $ZLT_TOKEN is required"), std::string::npos)
      << none.output;

  ZltRun access =
      run_zlt_with_env({}, {"access", "--server", "ws://127.0.0.1:1/tunnel/v1", "--target",
                            "service:db", "--token", "tun_x", "--token-file", file});
  EXPECT_EQ(access.code, 2);
  EXPECT_NE(access.output.find("--token and --token-file: give one"), std::string::npos)
      << access.output;

  ZltRun grant = run_zlt_with_env({}, {"grant", "--admin", "http://127.0.0.1:1", "--admin-token",
                                       "a", "--admin-token-file", file, "--list"});
  EXPECT_EQ(grant.code, 2);
  EXPECT_NE(grant.output.find("--admin-token and --admin-token-file: give one"), std::string::npos)
      << grant.output;

  ZltRun server = run_zlt_with_env(
      {}, {"server", "--admin-token", "a", "--admin-token-file", file, "--listen", "127.0.0.1:0"});
  EXPECT_EQ(server.code, 2);
  EXPECT_NE(server.output.find("--admin-token-file: give one"), std::string::npos) << server.output;
  ::unlink(file.c_str());
  ::unlink(empty.c_str());
}

// A cluster member started from the command line, its secret only in $ZLT_CLUSTER_SECRET:
// it joins (its lease appears in Redis) and the secret is not in its argv.
TEST(CliSecrets, ClusterMemberTakesItsSecretFromTheEnvironment) {
  RedisServer redis;
  ASSERT_TRUE(redis.ok()) << "redis-server did not start (scripts/setup installs it)";
  const std::string secret = test_token("cluster-secret");
  std::unique_ptr<Subprocess> server;
  const std::uint16_t port =
      start_server(server, {"ZLT_TOKEN=" + test_token("agent"), "ZLT_CLUSTER_SECRET=" + secret},
                   {"--cluster-redis", redis.url(), "--node-id", "cli-1", "--advertise-url",
                    "ws://127.0.0.1:1/tunnel/v1"});
  ASSERT_NE(port, 0);
  EXPECT_NE(wait_for_text(*server, "cluster store available"), "");
  // The lease is written right after the store comes up; another connection may ask first.
  EXPECT_TRUE(eventually(
      [&] { return redis.command({"SISMEMBER", "zlt:members", "cli-1"}) == ":1\r\n"; }, 5s));
  auto entry = redis.command({"GET", "zlt:member:cli-1"});
  ASSERT_TRUE(entry);
  EXPECT_NE(entry->find("\"node_id\":\"cli-1\""), std::string::npos) << *entry;
  EXPECT_EQ(entry->find(secret), std::string::npos) << "the secret was published";
  EXPECT_EQ(cmdline_of(server->pid()).find(secret), std::string::npos);

  // Without a secret anywhere, the member refuses to start and names the field.
  ZltRun missing = run_zlt_with_env(
      {}, {"server", "--listen", "127.0.0.1:0", "--cluster-redis", redis.url(), "--node-id",
           "cli-2", "--advertise-url", "ws://127.0.0.1:1/tunnel/v1"});
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find("cluster.secret: must be at least 16 characters"),
            std::string::npos)
      << missing.output;
}

}  // namespace
}  // namespace zlt::test
