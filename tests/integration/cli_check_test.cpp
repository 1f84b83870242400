// `zlt check` as a user runs it: a good file passes with a summary, a bad one is refused with
// every bad field named, comments are allowed, and nothing is opened or bound.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "support/net.hpp"
#include "support/zlt_cli.hpp"

namespace zlt::test {
namespace {

TEST(CliCheck, GoodServerFilePassesWithASummaryAndBindsNothing) {
  // The listen port is held here: a server would fail to start, a check must not care.
  std::uint16_t port = 0;
  Fd holder = tcp_listen(&port);
  ASSERT_TRUE(holder);
  const std::string file = write_temp_file("check_server.json", R"({
    "listen": "127.0.0.1:)" + std::to_string(port) + R"(",
    "data_port_range": [30000, 30099],
    "tokens": [{"name": "edge-1", "token": "tun_a"}, {"name": "ops", "token": "tun_b"}],
    "admin_token": "tun_admin"
  })");
  ZltRun r = run_zlt({"check", "--config", file});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("a good server config"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ws://127.0.0.1:" + std::to_string(port) + "/tunnel/v1"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("2 tokens (edge-1, ops)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("admin API on"), std::string::npos) << r.output;
  // Plain tokens in the file are never echoed.
  EXPECT_EQ(r.output.find("tun_a"), std::string::npos) << r.output;
  ::unlink(file.c_str());
}

TEST(CliCheck, ThreeBadFieldsAreAllNamedAndExitTwo) {
  const std::string file = write_temp_file("check_bad.json", R"({
    "server_url": "ws://127.0.0.1:1/tunnel/v1",
    "token": "t",
    "services": [
      {"name": "web", "local_port": 8080},
      {"name": "dns", "protocol": "udp", "local_port": 53},
      {"name": "db", "local_port": 70000}
    ],
    "heartbeat_interval": "soon",
    "proxy": "socks5://127.0.0.1:1080"
  })");
  ZltRun r = run_zlt({"check", "--config", file, "--role", "agent"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(file + ": 3 errors (checked as agent config)"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("  services[2].local_port: expected an integer 0..65535\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("  heartbeat_interval: invalid duration format: soon\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("  proxy: must start with http://\n"), std::string::npos) << r.output;
  ::unlink(file.c_str());
}

TEST(CliCheck, CommentsAreAllowedAndRoleIsToldFromKeys) {
  const std::string file = write_temp_file("check_comments.json", R"(
    // An agent for the edge; the token comes from $ZLT_TOKEN.
    {
      "server_url": "wss://tunnel.example.com:3679/tunnel/v1", /* the public server */
      "services": [
        {"name": "web", "local_port": 8080, "remote_port": 30080}, // public
        {"name": "db", "local_port": 5432, "internal": true}
      ],
      "local_host": "127.0.0.1" /* "//" inside strings stays data: */
    })");
  ZltRun r = run_zlt({"check", "--config", file});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("a good agent config"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("token not in the file"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 services (web tcp 8080->30080, db tcp 5432 internal)"),
            std::string::npos)
      << r.output;
  ::unlink(file.c_str());
}

TEST(CliCheck, NodeFileAndRoleProblems) {
  const std::string node = write_temp_file("check_node.json", R"({
    "node_name": "a",
    "tunnels": [{"name": "t1", "from": "a", "to": "b", "local_port": 5432, "remote_port": 0,
                 "direct_url": "ws://127.0.0.1:1/tunnel/v1"}]
  })");
  ZltRun good = run_zlt({"check", "--config", node});
  EXPECT_EQ(good.code, 0) << good.output;
  EXPECT_NE(good.output.find("a good node config: node a, no server side, 1 tunnel: 1 from"),
            std::string::npos)
      << good.output;

  // Checked as a server, the node's keys are unknown ones.
  ZltRun as_server = run_zlt({"check", "--config", node, "--role", "server"});
  EXPECT_EQ(as_server.code, 2) << as_server.output;
  EXPECT_NE(as_server.output.find("unknown key 'node_name'"), std::string::npos)
      << as_server.output;
  EXPECT_NE(as_server.output.find("unknown key 'tunnels'"), std::string::npos) << as_server.output;

  const std::string mixed =
      write_temp_file("check_mixed.json", R"({"listen": "x:1", "token": "t"})");
  ZltRun guess = run_zlt({"check", "--config", mixed});
  EXPECT_EQ(guess.code, 2) << guess.output;
  EXPECT_NE(guess.output.find("give --role"), std::string::npos) << guess.output;

  EXPECT_EQ(run_zlt({"check", "--config", node, "--role", "client"}).code, 2);
  EXPECT_EQ(run_zlt({"check"}).code, 2);
  ZltRun missing = run_zlt({"check", "--config", ::testing::TempDir() + "no-such-file.json"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.output.find("cannot open"), std::string::npos) << missing.output;
  ::unlink(node.c_str());
  ::unlink(mixed.c_str());
}

}  // namespace
}  // namespace zlt::test
