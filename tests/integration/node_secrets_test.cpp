// `zlt node` without tokens in argv or in its files: each tunnel's token comes from a
// token_file, the admin token of the node's server from --admin-token-file or
// $ZLT_ADMIN_TOKEN.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/net.hpp"
#include "support/subprocess.hpp"
#include "support/zlt_cli.hpp"

namespace zlt::test {
namespace {

using nlohmann::json;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "zlt_node_secrets_" + std::to_string(::getpid()) + "_" + name;
}

std::string write_file(const std::string& name, const std::string& text, mode_t mode = 0600) {
  const std::string path = temp_path(name);
  std::ofstream(path) << text;
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string cmdline_of(pid_t pid) {
  std::string s = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : s)
    if (c == '\0') c = ' ';
  return s;
}

// argv running zlt with no inherited token variables, plus `vars`.
std::vector<std::string> zlt_env(std::vector<std::string> vars, std::vector<std::string> args) {
  std::vector<std::string> argv = {"env", "-u", "ZLT_TOKEN", "-u", "ZLT_ADMIN_TOKEN"};
  argv.insert(argv.end(), vars.begin(), vars.end());
  std::vector<std::string> rest = zlt(std::move(args));
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

json tunnel(std::uint16_t local_port, std::uint16_t remote_port, const std::string& token_file,
            std::uint16_t control_port) {
  return {{"name", "db"},
          {"from", "a"},
          {"to", "b"},
          {"local_port", local_port},
          {"remote_port", remote_port},
          {"token_file", token_file},
          {"routing_mode", "directonly"},
          {"direct_url", "ws://127.0.0.1:" + std::to_string(control_port) + "/tunnel/v1"}};
}

json node_b(const json& t) {
  return {{"node_name", "b"},
          {"server",
           {{"listen", "127.0.0.1:0"}, {"data_port_range", {0, 0}}, {"public_bind", "127.0.0.1"}}},
          {"tunnels", json::array({t})}};
}

json node_a(const json& t) {
  return {{"node_name", "a"},
          {"reconnect_interval", "100ms"},
          {"max_reconnect_interval", "300ms"},
          {"tunnels", json::array({t})}};
}

std::string token_for(const std::string& tag) {
  return "tok_" + tag + "_" + std::to_string(::getpid()) + "_5be1c0a3";
}

TEST(NodeSecrets, TunnelTokensFromFilesAndAdminTokenFromAFileFlag) {
  ignore_sigpipe();
  EchoServer echo;
  const std::string token = token_for("tunnel");
  const std::string admin = token_for("admin");
  const std::string token_file = write_file("tunnel_token", token + "\n");
  const std::string admin_file = write_file("admin_token", admin + "\n");

  const std::string b_path =
      write_file("b.json", node_b(tunnel(echo.port(), 0, token_file, 1)).dump());
  auto b = Subprocess::start(
      zlt_env({}, {"node", "--config", b_path, "--admin-token-file", admin_file}));
  ASSERT_TRUE(b);
  const std::string listening = wait_for_text(*b, "listening on ws://127.0.0.1:");
  const std::uint16_t control = number_after(listening, "listening on ws://127\\.0\\.0\\.1:");
  ASSERT_NE(control, 0) << listening;
  const std::string bound = wait_for_text(*b, "tunnel db: internal listener on");
  const std::uint16_t internal = number_after(bound, "internal listener on 127\\.0\\.0\\.1:");
  ASSERT_NE(internal, 0) << bound;

  const std::string a_path =
      write_file("a.json", node_a(tunnel(echo.port(), internal, token_file, control)).dump());
  auto a = Subprocess::start(zlt_env({}, {"node", "--config", a_path}));
  ASSERT_TRUE(a);
  ASSERT_FALSE(wait_for_text(*a, "tunnel db: connected").empty());

  // Bytes pass, so both sides read the same token from the file.
  Fd c = tcp_connect(internal);
  ASSERT_TRUE(c);
  set_timeouts(c.get(), std::chrono::seconds(10));
  const std::string payload = pattern_bytes(50000, 11);
  ASSERT_TRUE(send_all(c.get(), payload));
  auto back = recv_exact(c.get(), payload.size());
  ASSERT_TRUE(back);
  EXPECT_TRUE(*back == payload);

  // The admin API of b's server answers the token of the file flag, and only that one.
  const std::string url = "http://127.0.0.1:" + std::to_string(control);
  std::string output;
  EXPECT_EQ(run_command(
                zlt_env({}, {"grant", "--admin", url, "--admin-token-file", admin_file, "--list"}),
                &output),
            0)
      << output;
  EXPECT_EQ(
      run_command(zlt_env({"ZLT_ADMIN_TOKEN=wrong"}, {"grant", "--admin", url, "--list"}), &output),
      1)
      << output;

  // No token in argv, in the node files, or in the output.
  for (pid_t pid : {a->pid(), b->pid()}) {
    EXPECT_EQ(cmdline_of(pid).find(token), std::string::npos);
    EXPECT_EQ(cmdline_of(pid).find(admin), std::string::npos);
  }
  EXPECT_EQ(read_file(a_path).find(token), std::string::npos);
  EXPECT_EQ(read_file(b_path).find(token), std::string::npos);

  ::kill(a->pid(), SIGTERM);
  ::kill(b->pid(), SIGTERM);
  EXPECT_TRUE(exited_with(a->wait(std::chrono::seconds(5)), 0));
  EXPECT_TRUE(exited_with(b->wait(std::chrono::seconds(5)), 0));
  for (const std::string& p : {token_file, admin_file, a_path, b_path}) ::unlink(p.c_str());
}

TEST(NodeSecrets, BadTokenFilesAndFlagsAreUsageErrors) {
  const std::string missing = temp_path("no_such_token");
  const std::string b_path = write_file("bad_b.json", node_b(tunnel(1, 0, missing, 1)).dump());
  std::string output;
  EXPECT_EQ(run_command(zlt_env({}, {"node", "--config", b_path}), &output), 2) << output;
  EXPECT_NE(output.find("tunnels[0].token_file " + missing + ": cannot open"), std::string::npos)
      << output;

  // A shared token file is warned about, naming the file and never the token.
  const std::string token = token_for("shared");
  const std::string shared = write_file("shared_token", token + "\n", 0644);
  const std::string a_path = write_file("shared_a.json", node_a(tunnel(1, 1, shared, 1)).dump());
  auto a = Subprocess::start(zlt_env({}, {"node", "--config", a_path}));
  ASSERT_TRUE(a);
  const std::string warning = wait_for_text(*a, "is readable by group or others");
  EXPECT_NE(warning.find(shared), std::string::npos) << warning;
  EXPECT_EQ(warning.find(token), std::string::npos) << warning;
  // The warning comes before the signal handlers are in place; this line after.
  ASSERT_FALSE(wait_for_text(*a, "node a running with 1 tunnel(s)").empty());
  ::kill(a->pid(), SIGTERM);
  EXPECT_TRUE(exited_with(a->wait(std::chrono::seconds(5)), 0));

  // An admin token flag for a node without a server is a mistake.
  EXPECT_EQ(run_command(zlt_env({}, {"node", "--config", a_path, "--admin-token", "x"}), &output),
            2)
      << output;
  EXPECT_NE(output.find("has no \"server\""), std::string::npos) << output;
  for (const std::string& p : {b_path, shared, a_path}) ::unlink(p.c_str());
}

}  // namespace
}  // namespace zlt::test
