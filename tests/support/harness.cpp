#include "support/harness.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "core/runtime/log.hpp"

#include "core/crypto/crypto.hpp"

namespace zlt::test {

void EventLog::push(const nlohmann::json& e) {
  {
    std::lock_guard lock(mu_);
    events_.push_back(e);
  }
  cv_.notify_all();
}

std::optional<nlohmann::json> EventLog::wait_for(
    const std::function<bool(const nlohmann::json&)>& pred, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  std::optional<nlohmann::json> found;
  cv_.wait_for(lock, timeout, [&] {
    for (const auto& e : events_)
      if (pred(e)) {
        found = e;
        return true;
      }
    return false;
  });
  return found;
}

std::optional<nlohmann::json> EventLog::wait_event(const std::string& name,
                                                   std::chrono::milliseconds timeout) {
  return wait_for([&](const nlohmann::json& e) { return e.value("event", "") == name; }, timeout);
}

std::size_t EventLog::count(const std::string& name) {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& e : events_)
    if (e.value("event", "") == name) ++n;
  return n;
}

std::vector<nlohmann::json> EventLog::all() {
  std::lock_guard lock(mu_);
  return events_;
}

void EventLog::clear() {
  std::lock_guard lock(mu_);
  events_.clear();
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

Harness::Harness() {
  // ZLT_LOG_LEVEL=debug (or trace) shows the library's logs while debugging a test.
  if (const char* level = std::getenv("ZLT_LOG_LEVEL"))
    if (auto l = parse_log_level(level)) Log::set_level(*l);
  auto rt = Runtime::start("zlt-test");
  if (!rt) {
    ADD_FAILURE() << rt.error().message;
    return;
  }
  runtime_ = std::move(*rt);
}

Harness::~Harness() {
  if (!runtime_) return;
  runtime_->invoke([this] {
    agents_.clear();
    server_.reset();
  });
  runtime_.reset();
}

config::TunnelServerConfig Harness::server_config() {
  config::TunnelServerConfig c;
  c.listen = "127.0.0.1:0";
  c.public_bind = "127.0.0.1";
  c.data_port_range = {0, 0};
  config::TokenEntry t;
  t.name = "test";
  t.sha256 = crypto::hash_token(kToken);
  c.tokens.push_back(t);
  // Generous liveness: sanitizer builds on a loaded machine are slow, and a session declared
  // dead mid-transfer fails a test that is not about heartbeats (those set their own).
  c.heartbeat_interval = 1s;
  c.heartbeat_timeout = 10s;
  c.connect_timeout = 5s;
  return c;
}

config::TunnelClientConfig Harness::client_config(
    std::vector<config::ServiceConfig> services) const {
  config::TunnelClientConfig c(url(), kToken);
  c.services = std::move(services);
  c.reconnect_interval = 100ms;
  c.max_reconnect_interval = 1s;
  c.heartbeat_interval = 1s;
  c.heartbeat_timeout = 10s;
  c.connect_timeout = 5s;
  return c;
}

std::string Harness::url() const {
  return "ws://127.0.0.1:" + std::to_string(control_port_) + "/tunnel/v1";
}

void Harness::start_server(config::TunnelServerConfig config) {
  runtime_->invoke([&] {
    auto s = TunnelServer::create(*runtime_, std::move(config));
    if (!s) {
      ADD_FAILURE() << "server: " << s.error().message;
      return;
    }
    server_ = std::move(*s);
    set_server_event_sink([this](const nlohmann::json& e) { server_events_.push(e); });
    // A restarted server comes back on the same port when it had one.
    auto addr = server_->listen("127.0.0.1", control_port_);
    if (!addr) {
      ADD_FAILURE() << "listen: " << addr.error().message;
      return;
    }
    control_port_ = addr->port();
  });
}

void Harness::set_server_event_sink(JsonEventSink sink) {
  auto json = std::make_unique<JsonTunnelServerObserver>(std::move(sink));
  if (server_) server_->set_observer(json.get());
  server_json_ = std::move(json);
}

void Harness::stop_server() {
  runtime_->invoke([&] { server_.reset(); });
}

TunnelAgent& Harness::start_agent(config::TunnelClientConfig config) {
  TunnelAgent* out = nullptr;
  auto log = std::make_unique<EventLog>();
  EventLog* log_raw = log.get();
  agent_events_.push_back(std::move(log));
  runtime_->invoke([&] {
    auto a = TunnelAgent::create(*runtime_, std::move(config));
    if (!a) {
      ADD_FAILURE() << "agent: " << a.error().message;
      return;
    }
    agent_json_.push_back(std::make_unique<JsonTunnelAgentObserver>(
        [log_raw](const nlohmann::json& e) { log_raw->push(e); }));
    (*a)->set_observer(agent_json_.back().get());
    (*a)->start();
    out = a->get();
    agents_.push_back(std::move(*a));
  });
  return *out;
}

std::uint16_t Harness::public_port(const std::string& service, std::size_t index,
                                   std::chrono::milliseconds timeout) {
  auto e = agent_events(index).wait_for(
      [&](const nlohmann::json& ev) {
        return ev.value("event", "") == "service_registered" && ev.value("name", "") == service;
      },
      timeout);
  if (!e || (*e)["public_port"].is_null()) return 0;
  return (*e)["public_port"].get<std::uint16_t>();
}

nlohmann::json Harness::server_status() {
  nlohmann::json j;
  runtime_->invoke([&] { j = server_ ? server_->status() : nlohmann::json(); });
  return j;
}

nlohmann::json Harness::agent_status(std::size_t index) {
  nlohmann::json j;
  runtime_->invoke([&] { j = agents_.at(index)->status(); });
  return j;
}

}  // namespace zlt::test
