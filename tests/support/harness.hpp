// A tunnel on loopback for integration tests: a runtime, a TunnelServer listening on
// 127.0.0.1 (kernel-chosen ports everywhere) and any number of agents, with their events
// collected so tests can wait for them instead of sleeping.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/agent/agent.hpp"
#include "core/config/config.hpp"
#include "core/runtime/runtime.hpp"
#include "core/server/tunnel_server.hpp"
#include "zlt/event_json.hpp"

namespace zlt::test {

using namespace std::chrono_literals;

// Events pushed from the loop thread, awaited by the test thread.
class EventLog {
 public:
  void push(const nlohmann::json& e);
  // The first event (oldest first, including ones already seen) matching `pred`.
  std::optional<nlohmann::json> wait_for(const std::function<bool(const nlohmann::json&)>& pred,
                                         std::chrono::milliseconds timeout = 10s);
  std::optional<nlohmann::json> wait_event(const std::string& name,
                                           std::chrono::milliseconds timeout = 10s);
  std::size_t count(const std::string& name);
  std::vector<nlohmann::json> all();
  void clear();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<nlohmann::json> events_;
};

// Waits until pred() (evaluated on the test thread) holds; false on timeout.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s);

class Harness {
 public:
  static constexpr const char* kToken = "s3cret";

  Harness();
  ~Harness();

  // Test defaults: listen 127.0.0.1:0, kernel-chosen public ports on 127.0.0.1, kToken.
  static config::TunnelServerConfig server_config();
  config::TunnelClientConfig client_config(std::vector<config::ServiceConfig> services = {}) const;

  void start_server(config::TunnelServerConfig config = server_config());
  void stop_server();  // destroys the server (as a crash of the server process would)
  TunnelAgent& start_agent(config::TunnelClientConfig config);
  TunnelAgent& start_agent(std::vector<config::ServiceConfig> services) {
    return start_agent(client_config(std::move(services)));
  }
  // The public port of `service` of agent `index`, once registered (0 on timeout).
  std::uint16_t public_port(const std::string& service, std::size_t index = 0,
                            std::chrono::milliseconds timeout = 10s);

  // Runs f on the loop thread and waits.
  void on_loop(const std::function<void()>& f) { runtime_->invoke(f); }
  nlohmann::json server_status();
  nlohmann::json agent_status(std::size_t index = 0);

  Runtime& runtime() { return *runtime_; }
  TunnelServer& server() { return *server_; }
  TunnelAgent& agent(std::size_t index = 0) { return *agents_.at(index); }
  std::size_t agent_count() const { return agents_.size(); }
  std::uint16_t control_port() const { return control_port_; }
  std::string url() const;
  EventLog& server_events() { return server_events_; }
  // Loop thread: the server's events go as JSON to `sink` instead of server_events().
  void set_server_event_sink(JsonEventSink sink);
  EventLog& agent_events(std::size_t index = 0) { return *agent_events_.at(index); }

 private:
  // The observers come first: they outlive the server and the agents that report to them.
  std::unique_ptr<JsonTunnelServerObserver> server_json_;
  std::vector<std::unique_ptr<JsonTunnelAgentObserver>> agent_json_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<TunnelServer> server_;
  std::vector<std::unique_ptr<TunnelAgent>> agents_;
  std::vector<std::unique_ptr<EventLog>> agent_events_;
  EventLog server_events_;
  std::uint16_t control_port_ = 0;
};

}  // namespace zlt::test
