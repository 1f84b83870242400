// `zlt node` as a user runs it: two zlt processes, one config file each, bridge a local service
// of node a to a port on node b; status lines show it; a restart of b is survived; SIGHUP
// reloads the file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/net.hpp"
#include "support/paths.hpp"
#include "support/subprocess.hpp"
#include "support/zlt_cli.hpp"

namespace zlt::test {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "zlt_node_" + std::to_string(::getpid()) + "_" + name;
}

void write_file(const std::string& path, const json& j) {
  std::ofstream(path) << j.dump(2);
}

// Reads JSON lines until one satisfies `pred`; the line (null on timeout or end of output).
// Every line must be a JSON object.
json wait_json(Subprocess& p, const std::function<bool(const json&)>& pred,
               std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return nullptr;
    auto line = p.read_line(left);
    if (!line) return nullptr;
    json j = json::parse(*line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "not a JSON line: " << *line;
    if (j.is_object() && pred(j)) return j;
  }
}

std::function<bool(const json&)> state_is(const std::string& tunnel, const std::string& state) {
  return [=](const json& j) {
    return j.value("event", "") == "tunnel_state" && j.value("tunnel", "") == tunnel &&
           j.value("state", "") == state;
  };
}

// A status line whose entry for `tunnel` satisfies `pred`.
std::function<bool(const json&)> status_with(const std::string& tunnel,
                                             const std::function<bool(const json&)>& pred) {
  return [=](const json& j) {
    if (j.value("event", "") != "status" || !j.contains("tunnels")) return false;
    for (const auto& t : j["tunnels"])
      if (t.value("name", "") == tunnel) return pred(t);
    return false;
  };
}

bool echo_through(std::uint16_t port, std::size_t size, std::uint64_t seed) {
  Fd fd = tcp_connect(port);
  if (!fd) return false;
  set_timeouts(fd.get(), 10s);
  const std::string data = pattern_bytes(size, seed);
  std::thread sender([&] {
    send_all(fd.get(), data);
    ::shutdown(fd.get(), SHUT_WR);
  });
  auto back = recv_until_eof(fd.get());
  sender.join();
  return back && back->size() == data.size() &&
         fnv1a(back->data(), back->size()) == fnv1a(data.data(), data.size());
}

json tunnel_json(const std::string& name, std::uint16_t local_port, std::uint16_t remote_port,
                 const std::string& token, std::uint16_t control_port) {
  return {{"name", name},
          {"from", "a"},
          {"to", "b"},
          {"local_port", local_port},
          {"remote_port", remote_port},
          {"expose", "internal"},
          {"token", token},
          {"routing_mode", "directonly"},
          {"direct_url", "ws://127.0.0.1:" + std::to_string(control_port) + "/tunnel/v1"}};
}

json node_b(std::uint16_t listen_port, const json& tunnels) {
  return {{"node_name", "b"},
          {"server",
           {{"listen", "127.0.0.1:" + std::to_string(listen_port)},
            {"data_port_range", {0, 0}},
            {"public_bind", "127.0.0.1"},
            {"heartbeat_interval", "1s"}}},
          {"tunnels", tunnels}};
}

json node_a(const json& tunnels) {
  return {{"node_name", "a"},
          {"reconnect_interval", "100ms"},
          {"max_reconnect_interval", "300ms"},
          {"heartbeat_interval", "1s"},
          {"tunnels", tunnels}};
}

std::unique_ptr<Subprocess> start_node(const std::string& config) {
  return Subprocess::start(
      zlt({"node", "--config", config, "--log-format", "json", "--status-interval", "200ms"}));
}

// b's control port and the internal listener's port of `tunnel`, from its startup lines.
void read_b_ports(Subprocess& b, const std::string& tunnel, std::uint16_t* control,
                  std::uint16_t* internal) {
  json listening = wait_json(b, [](const json& j) {
    return j.value("msg", "").find("listening on ws://127.0.0.1:") != std::string::npos;
  });
  ASSERT_TRUE(listening.is_object());
  *control = number_after(listening.value("msg", ""), "listening on ws://127\\.0\\.0\\.1:");
  json bound = wait_json(b, [&](const json& j) {
    return j.value("msg", "").find("tunnel " + tunnel + ": internal listener on") !=
           std::string::npos;
  });
  ASSERT_TRUE(bound.is_object());
  *internal = number_after(bound.value("msg", ""), "internal listener on 127\\.0\\.0\\.1:");
}

TEST(NodeCli, TwoNodesBridgeAServiceSurviveARestartAndReload) {
  ignore_sigpipe();
  EchoServer echo;
  const std::string a_path = temp_path("a.json");
  const std::string b_path = temp_path("b.json");

  // b first, on kernel-chosen ports; its ports are kept for the restart.
  write_file(b_path, node_b(0, json::array({tunnel_json("db", echo.port(), 0, "tok-db", 1)})));
  auto b = start_node(b_path);
  ASSERT_TRUE(b);
  std::uint16_t control = 0;
  std::uint16_t internal = 0;
  read_b_ports(*b, "db", &control, &internal);
  ASSERT_NE(control, 0);
  ASSERT_NE(internal, 0);

  json a_tunnels = json::array({tunnel_json("db", echo.port(), internal, "tok-db", control)});
  write_file(a_path, node_a(a_tunnels));
  auto a = start_node(a_path);
  ASSERT_TRUE(a);
  ASSERT_TRUE(wait_json(*a, state_is("db", "connected")).is_object());
  ASSERT_TRUE(wait_json(*b, state_is("db", "connected")).is_object());
  ASSERT_TRUE(echo_through(internal, 200000, 1));

  // Status lines of both nodes: connected, bytes counted, latency measured.
  auto moving = [](const json& t) {
    return t.value("state", "") == "connected" && t.value("bytes_in", 0u) >= 200000 &&
           t.value("bytes_out", 0u) >= 200000 && t["latency_ms"].is_number() &&
           t["connected_at"].is_string() && t.contains("reconnects");
  };
  EXPECT_TRUE(wait_json(*a, status_with("db", moving)).is_object());
  EXPECT_TRUE(wait_json(*b, status_with("db", moving)).is_object());

  // Restart b on the same ports: a notices, comes back, bytes flow again.
  ::kill(b->pid(), SIGTERM);
  EXPECT_TRUE(exited_with(b->wait(5s), 0));
  ASSERT_TRUE(wait_json(*a, state_is("db", "disconnected")).is_object());
  write_file(b_path,
             node_b(control, json::array({tunnel_json("db", echo.port(), internal, "tok-db", 1)})));
  b = start_node(b_path);
  ASSERT_TRUE(b);
  ASSERT_TRUE(wait_json(*a, state_is("db", "connected")).is_object());
  ASSERT_TRUE(wait_json(*b, state_is("db", "connected")).is_object());
  ASSERT_TRUE(echo_through(internal, 100000, 2));
  EXPECT_TRUE(wait_json(*a, status_with("db", [](const json& t) {
                return t.value("bytes_in", 0u) >= 300000 && t.value("reconnects", 0u) == 1;
              })).is_object());

  // SIGHUP: both files gain a tunnel; it starts, db is not touched.
  json b_tunnels = json::array({tunnel_json("db", echo.port(), internal, "tok-db", 1),
                                tunnel_json("db2", echo.port(), 0, "tok-db2", 1)});
  write_file(b_path, node_b(control, b_tunnels));
  a_tunnels.push_back(tunnel_json("db2", echo.port(), 0, "tok-db2", control));
  write_file(a_path, node_a(a_tunnels));
  ::kill(b->pid(), SIGHUP);
  std::uint16_t db2_port = 0;
  json bound = wait_json(*b, [](const json& j) {
    return j.value("msg", "").find("tunnel db2: internal listener on") != std::string::npos;
  });
  ASSERT_TRUE(bound.is_object());
  db2_port = number_after(bound.value("msg", ""), "internal listener on 127\\.0\\.0\\.1:");
  ::kill(a->pid(), SIGHUP);
  ASSERT_TRUE(wait_json(*a, state_is("db2", "connected")).is_object());
  ASSERT_TRUE(wait_json(*b, state_is("db2", "connected")).is_object());
  EXPECT_TRUE(echo_through(db2_port, 50000, 3));
  EXPECT_TRUE(echo_through(internal, 50000, 4));

  ::kill(a->pid(), SIGTERM);
  ::kill(b->pid(), SIGTERM);
  EXPECT_TRUE(exited_with(a->wait(5s), 0));
  EXPECT_TRUE(exited_with(b->wait(5s), 0));
  ::unlink(a_path.c_str());
  ::unlink(b_path.c_str());
}

TEST(NodeCli, BadConfigExitsTwoNamingTheField) {
  const std::string path = temp_path("bad.json");
  write_file(path, {{"node_name", "a"},
                    {"tunnels", json::array({{{"name", "t"},
                                              {"from", "a"},
                                              {"to", "b"},
                                              {"local_port", 0},
                                              {"remote_port", 1},
                                              {"direct_url", "ws://127.0.0.1:1/"}}})}});
  std::string output;
  int code = run_command(zlt({"node", "--config", path}), &output);
  EXPECT_EQ(code, 2) << output;
  EXPECT_NE(output.find("tunnels[0].local_port: cannot be 0"), std::string::npos) << output;
  EXPECT_NE(output.find(path), std::string::npos) << output;
  code = run_command(zlt({"node"}), &output);
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("--config is required"), std::string::npos) << output;
  code = run_command(zlt({"help", "node"}), &output);
  EXPECT_EQ(code, 0);
  EXPECT_NE(output.find("--status-interval"), std::string::npos) << output;
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace zlt::test
