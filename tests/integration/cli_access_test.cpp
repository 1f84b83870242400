// On-demand access as a user runs it: `zlt server` with an admin token, `zlt agent` exposing an
// internal service, `zlt grant` issuing a short-lived token and `zlt access` serving a local
// port until its TTL or the grant runs out.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "support/net.hpp"
#include "support/subprocess.hpp"
#include "support/tunnel_checks.hpp"
#include "support/zlt_cli.hpp"

namespace zlt::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kAdmin = "admin-secret";

class CliAccess : public ::testing::Test {
 protected:
  void SetUp() override {
    ignore_sigpipe();
    server_ = Subprocess::start(
        zlt({"server", "--listen", "127.0.0.1:0", "--port-range", "0-0", "--public-bind",
             "127.0.0.1", "--token", "owner", "--admin-token", kAdmin, "--log-format", "json"}));
    ASSERT_TRUE(server_);
    std::string line = wait_for_text(*server_, "listening on ws://127.0.0.1:");
    port_ = number_after(line, "listening on ws://127\\.0\\.0\\.1:");
    ASSERT_NE(port_, 0) << line;
    agent_ = Subprocess::start(zlt({"agent", "--server", url(), "--token", "owner", "--service",
                                    "db:" + std::to_string(echo_.port()) + "/internal"}));
    ASSERT_TRUE(agent_);
    ASSERT_FALSE(wait_for_text(*agent_, "registered db as an internal service").empty());
  }
  void TearDown() override {
    for (auto* p : {agent_.get(), server_.get()})
      if (p != nullptr) ::kill(p->pid(), SIGTERM);
  }

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/tunnel/v1"; }
  std::string admin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // `zlt grant ...`: its stdout only (stderr carries the grant id and expiry for people).
  std::string grant(std::vector<std::string> args) {
    std::vector<std::string> argv = {zlt_path(), "grant",         "--admin",
                                     admin(),    "--admin-token", kAdmin};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string out;
    EXPECT_EQ(run_command(argv, &out), 0) << out;
    return out;
  }
  std::string grant_token(const std::string& target, const std::string& ttl) {
    std::string out = grant({"--target", target, "--ttl", ttl});
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  std::unique_ptr<Subprocess> access(const std::string& token, std::vector<std::string> more) {
    std::vector<std::string> args = {"access", "--server", url(), "--token", token};
    args.insert(args.end(), more.begin(), more.end());
    return Subprocess::start(zlt(args));
  }
  // Waits for the "Access via HOST:PORT until T" line; its port.
  std::uint16_t access_port(Subprocess& p, std::string* line_out = nullptr) {
    std::string line = wait_for_text(p, "Access via ");
    if (line_out != nullptr) *line_out = line;
    return number_after(line, "Access via 127\\.0\\.0\\.1:");
  }

  EchoServer echo_;
  std::unique_ptr<Subprocess> server_;
  std::unique_ptr<Subprocess> agent_;
  std::uint16_t port_ = 0;
};

TEST_F(CliAccess, GrantExpiryEndsAccessOnBothEnds) {
  const std::string token = grant_token("service:db", "4s");
  ASSERT_TRUE(token.starts_with("tun_")) << token;
  auto a = access(token, {"--target", "service:db", "--ttl", "1m"});
  ASSERT_TRUE(a);
  std::string line;
  const std::uint16_t port = access_port(*a, &line);
  ASSERT_NE(port, 0) << line;
  EXPECT_NE(line.find(" until 20"), std::string::npos) << line;
  Fd c = tcp_connect(port);
  ASSERT_TRUE(c);
  set_timeouts(c.get(), 10s);
  const std::string payload = pattern_bytes(256 * 1024, 3);
  ASSERT_TRUE(send_all(c.get(), payload));
  EXPECT_EQ(recv_exact(c.get(), payload.size()).value_or(""), payload);

  // SIGHUP (a log rotation, say) has nothing to reload here and ends nothing.
  ASSERT_EQ(::kill(a->pid(), SIGHUP), 0);
  EXPECT_NE(wait_for_text(*a, "SIGHUP: nothing to reload"), "");
  ASSERT_TRUE(send_all(c.get(), std::string("after SIGHUP")));
  EXPECT_EQ(recv_exact(c.get(), 12).value_or(""), "after SIGHUP");

  // The grant runs out long before the access's own TTL: the server ends it.
  std::string ended = wait_for_text(*a, "the server ended access", 10s);
  EXPECT_NE(ended.find("fatal: token expired"), std::string::npos) << ended;
  EXPECT_TRUE(wait_closed(c.get(), 2s));
  EXPECT_TRUE(exited_with(a->wait(5s), 1));

  auto again = access(token, {"--target", "service:db"});
  ASSERT_TRUE(again);
  std::string refused = wait_for_text(*again, "refused the token", 10s);
  EXPECT_NE(refused.find("tunnel token expired"), std::string::npos) << refused;
  EXPECT_TRUE(exited_with(again->wait(5s), 1));
}

TEST_F(CliAccess, AccessTtlExpiryExitsZeroAndFreesThePort) {
  const std::string token = grant_token("service:db", "10m");
  auto a = access(token, {"--target", "service:db", "--ttl", "1s"});
  ASSERT_TRUE(a);
  const std::uint16_t port = access_port(*a);
  ASSERT_NE(port, 0);
  std::string why;
  EXPECT_TRUE(echoes(port, probe_payload(), &why)) << why;
  EXPECT_TRUE(exited_with(a->wait(5s), 0));
  Fd gone = tcp_connect(port);
  EXPECT_FALSE(gone);
}

TEST_F(CliAccess, RefusedTargetExitsOneWithTheReason) {
  const std::string token = grant_token("service:db", "10m");
  auto a = access(token, {"--target", "service:other"});
  ASSERT_TRUE(a);
  std::string refused = wait_for_text(*a, "refused service:other", 10s);
  EXPECT_NE(refused.find("target not allowed"), std::string::npos) << refused;
  EXPECT_TRUE(exited_with(a->wait(5s), 1));
}

TEST_F(CliAccess, GrantListAndRevoke) {
  const std::string token = grant_token("service:db", "10m");
  auto listed = nlohmann::json::parse(grant({"--list"}), nullptr, false)["grants"];
  ASSERT_TRUE(listed.is_array()) << listed.dump();
  ASSERT_EQ(listed.size(), 1u);
  const std::string id = listed[0]["grant_id"];

  auto a = access(token, {"--target", "service:db"});
  ASSERT_TRUE(a);
  ASSERT_NE(access_port(*a), 0);
  grant({"--revoke", id});
  std::string ended = wait_for_text(*a, "the server ended access", 5s);
  EXPECT_NE(ended.find("fatal: token revoked"), std::string::npos) << ended;
  EXPECT_TRUE(exited_with(a->wait(5s), 1));
}

TEST_F(CliAccess, WrongAdminTokenAndBadFlags) {
  std::string out;
  int code = run_command(zlt({"grant", "--admin", admin(), "--admin-token", "wrong", "--target",
                              "service:db", "--ttl", "1m"}),
                         &out);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("401"), std::string::npos) << out;
  ZltRun ttl0 = run_zlt(
      {"access", "--server", url(), "--token", "x", "--target", "service:db", "--ttl", "0s"});
  EXPECT_EQ(ttl0.code, 2) << ttl0.output;
  EXPECT_NE(ttl0.output.find("ttl"), std::string::npos) << ttl0.output;
  ZltRun bad = run_zlt({"access", "--server", url(), "--token", "x", "--target", "nowhere"});
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("nowhere"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace zlt::test
