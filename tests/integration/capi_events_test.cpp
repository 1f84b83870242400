// The one event policy of the C interface: events are queued per runtime and delivered at the
// loop's next turn, in the order they happened across objects, never from inside another
// callback; an event of an object freed, or whose callback was removed, before delivery is
// dropped; a callback may free its own object or another. Uses only zlayer_tunnel.h.
#include <gtest/gtest.h>
#include <zlayer_tunnel.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kServerConfig =
    R"({"listen":"127.0.0.1:0","public_bind":"127.0.0.1","data_port_range":[0,0],)"
    R"("tokens":[{"token":"s3cret0"},{"token":"s3cret1"},{"token":"s3cret2"}]})";

// Agent number `n` has token s3cret<n>: one session per token.
std::string agent_config(int control_port, std::size_t n) {
  json c = {{"server_url", "ws://127.0.0.1:" + std::to_string(control_port) + "/tunnel/v1"},
            {"token", "s3cret" + std::to_string(n)},
            {"reconnect_interval", "100ms"},
            {"max_reconnect_interval", "1s"},
            {"services", json::array()}};
  return c.dump();
}

// Every event of every object of one runtime, in the order the host received them.
struct Entry {
  std::string source;
  json event;
};

class Log {
 public:
  void add(Entry entry) {
    {
      std::lock_guard lock(mu_);
      entries_.push_back(std::move(entry));
    }
    cv_.notify_all();
  }
  // Waits for an entry matching pred; its index in the log.
  std::optional<std::size_t> wait(const std::function<bool(const Entry&)>& pred,
                                  std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    std::optional<std::size_t> found;
    cv_.wait_for(lock, timeout, [&] {
      for (std::size_t i = 0; i < entries_.size(); ++i)
        if (pred(entries_[i])) {
          found = i;
          return true;
        }
      return false;
    });
    return found;
  }
  // Waits for an entry after index `from` matching pred; its index.
  std::optional<std::size_t> wait_after(std::size_t from,
                                        const std::function<bool(const Entry&)>& pred,
                                        std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    std::optional<std::size_t> found;
    cv_.wait_for(lock, timeout, [&] {
      for (std::size_t i = from + 1; i < entries_.size(); ++i)
        if (pred(entries_[i])) {
          found = i;
          return true;
        }
      return false;
    });
    return found;
  }
  // Waits until n entries match pred.
  bool wait_count(const std::function<bool(const Entry&)>& pred, std::size_t n,
                  std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      std::size_t seen = 0;
      for (const auto& e : entries_) seen += pred(e) ? 1 : 0;
      return seen >= n;
    });
  }
  std::vector<Entry> all() {
    std::lock_guard lock(mu_);
    return entries_;
  }

  // Set when a callback began while another was still running: the library called into the
  // host from inside a callback.
  std::atomic<int> depth{0};
  std::atomic<bool> reentered{false};
  // Guards every Source's hook: a test sets one while the loop thread delivers events.
  std::mutex hook_mu;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> entries_;
};

// One object's event callback: records into the shared log, then runs the optional hook (on
// the loop thread, to make calls from inside a callback).
struct Source {
  Log* log = nullptr;
  std::string name;
  std::function<void(const json&)> hook;  // under log->hook_mu

  void set_hook(std::function<void(const json&)> f) {
    std::lock_guard lock(log->hook_mu);
    hook = std::move(f);
  }

  static void callback(void* user, const zlt_event* ev) {
    auto* self = static_cast<Source*>(user);
    if (self->log->depth.fetch_add(1) > 0) self->log->reentered = true;
    json j = json::parse(ev->json);
    EXPECT_EQ(j.value("event", ""), ev->name);
    self->log->add({self->name, j});
    std::function<void(const json&)> hook;
    {
      std::lock_guard lock(self->log->hook_mu);
      hook = self->hook;
    }
    if (hook) hook(j);
    self->log->depth.fetch_sub(1);
  }
};

std::function<bool(const Entry&)> is(const std::string& source, const std::string& event,
                                     const std::string& state = "") {
  return [source, event, state](const Entry& e) {
    return e.source == source && e.event.value("event", "") == event &&
           (state.empty() || e.event.value("state", "") == state);
  };
}

class CapiEvents : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(zlt_runtime_new(&rt_), ZLT_OK) << zlt_last_error();
    ASSERT_EQ(zlt_registry_new(rt_, kServerConfig, &reg_), ZLT_OK) << zlt_last_error();
    ASSERT_EQ(zlt_registry_on_event(reg_, Source::callback, &source("registry")), ZLT_OK);
    ASSERT_EQ(zlt_registry_listen(reg_, "127.0.0.1", 0, &control_port_), ZLT_OK)
        << zlt_last_error();
  }
  void TearDown() override {
    for (zlt_agent*& a : agents_) zlt_agent_free(a);
    zlt_registry_free(reg_);
    EXPECT_EQ(zlt_runtime_free(rt_), ZLT_OK);
  }

  // Owned by the fixture: the callbacks point at them until the runtime is freed.
  Source& source(const std::string& name) {
    sources_.push_back(Source{&log_, name, {}});
    return sources_.back();
  }
  // Agent number i (from 0), its events recorded as "agent<i>", started and authenticated.
  zlt_agent*& connected_agent(Source*& src) {
    zlt_agent*& a = agents_.emplace_back(nullptr);
    const std::string name = "agent" + std::to_string(agents_.size() - 1);
    src = &source(name);
    EXPECT_EQ(zlt_agent_new(rt_, agent_config(control_port_, agents_.size() - 1).c_str(), &a),
              ZLT_OK)
        << zlt_last_error();
    EXPECT_EQ(zlt_agent_on_event(a, Source::callback, src), ZLT_OK);
    EXPECT_EQ(zlt_agent_start(a), ZLT_OK);
    EXPECT_TRUE(log_.wait(is(name, "state", "connected"))) << name;
    return a;
  }
  // The entries of `source` after index `from`.
  std::vector<Entry> after(std::size_t from, const std::string& source) {
    std::vector<Entry> out;
    auto entries = log_.all();
    for (std::size_t i = from + 1; i < entries.size(); ++i)
      if (entries[i].source == source) out.push_back(entries[i]);
    return out;
  }

  Log log_;
  std::deque<Source> sources_;  // stable addresses
  std::deque<zlt_agent*> agents_;
  zlt_runtime* rt_ = nullptr;
  zlt_registry* reg_ = nullptr;
  int control_port_ = 0;
};

// Two objects report from inside one callback: their events arrive afterwards, one by one,
// in the order they happened (not grouped by object, not in creation order).
TEST_F(CapiEvents, OrderHoldsAcrossObjectsAndNoCallbackRunsInsideAnother) {
  Source* first = nullptr;
  Source* second = nullptr;
  zlt_agent*& a0 = connected_agent(first);
  zlt_agent*& a1 = connected_agent(second);
  std::atomic<int> stopped_inside{0};
  // Once a third agent is connected, its callback stops agent1, then agent0.
  Source* trigger = &source("trigger");
  trigger->set_hook([&](const json& e) {
    if (e.value("event", "") != "state" || e.value("state", "") != "connected") return;
    if (stopped_inside.exchange(1) != 0) return;
    EXPECT_EQ(zlt_agent_stop(a1), ZLT_OK);
    EXPECT_EQ(zlt_agent_stop(a0), ZLT_OK);
  });
  zlt_agent*& a2 = agents_.emplace_back(nullptr);
  ASSERT_EQ(zlt_agent_new(rt_, agent_config(control_port_, 2).c_str(), &a2), ZLT_OK);
  ASSERT_EQ(zlt_agent_on_event(a2, Source::callback, trigger), ZLT_OK);
  ASSERT_EQ(zlt_agent_start(a2), ZLT_OK);

  auto at = log_.wait(is("trigger", "state", "connected"));
  ASSERT_TRUE(at);
  auto one = log_.wait(is("agent1", "state", "disconnected"));
  auto zero = log_.wait(is("agent0", "state", "disconnected"));
  ASSERT_TRUE(one);
  ASSERT_TRUE(zero);
  EXPECT_LT(*at, *one);
  EXPECT_LT(*one, *zero) << "agent1 was stopped first";
  EXPECT_FALSE(log_.reentered.load());
}

// An object freed from another object's callback: the event it had queued is dropped, its
// destruction follows (the registry sees its session end), and nothing of it arrives later.
TEST_F(CapiEvents, FreeingAnotherObjectInsideACallbackDropsItsQueuedEvents) {
  Source* victim_src = nullptr;
  Source* killer_src = nullptr;
  zlt_agent*& victim = connected_agent(victim_src);  // agent0
  zlt_agent*& killer = connected_agent(killer_src);  // agent1
  std::atomic<bool> done{false};
  // Triggered by the killer's own stop below, from the test thread.
  killer_src->set_hook([&](const json& e) {
    if (e.value("state", "") != "disconnected" || done.exchange(true)) return;
    EXPECT_EQ(zlt_agent_stop(victim), ZLT_OK);  // queues agent0's state event
    zlt_agent_free(victim);                     // ... which must now never arrive
    victim = nullptr;
    EXPECT_EQ(zlt_agent_start(killer), ZLT_OK);  // a marker queued after it
  });
  ASSERT_EQ(zlt_agent_stop(killer), ZLT_OK);
  auto at = log_.wait(is("agent1", "state", "disconnected"));
  ASSERT_TRUE(at);
  // The marker: the killer's next report. Everything queued before it has been delivered by
  // then.
  ASSERT_TRUE(log_.wait_after(*at, is("agent1", "state")));
  EXPECT_TRUE(after(*at, "agent0").empty()) << after(*at, "agent0").front().event.dump();
  EXPECT_TRUE(done.load());
  // Destroyed once the callback returned: the registry sees both sessions end (the killer's
  // first one and the victim's).
  EXPECT_TRUE(log_.wait_count(is("registry", "tunnel_disconnected"), 2));
  EXPECT_FALSE(log_.reentered.load());
}

// A callback frees its own object after making it report: that report is dropped, the object
// is destroyed once the callback has returned, and the other objects carry on.
TEST_F(CapiEvents, FreeingItsOwnObjectInsideItsCallbackDropsItsQueuedEvents) {
  Source* self_src = nullptr;
  Source* other_src = nullptr;
  zlt_agent*& self = connected_agent(self_src);  // agent0
  zlt_agent*& other = connected_agent(other_src);
  std::atomic<bool> done{false};
  self_src->set_hook([&](const json& e) {
    if (e.value("state", "") != "disconnected" || done.exchange(true)) return;
    EXPECT_EQ(zlt_agent_start(self), ZLT_OK);  // queues agent0's next state
    zlt_agent_free(self);                      // ... which must never arrive
    self = nullptr;
    EXPECT_EQ(zlt_agent_stop(other), ZLT_OK);  // a marker queued after it
  });
  ASSERT_EQ(zlt_agent_stop(self), ZLT_OK);
  auto at = log_.wait(is("agent0", "state", "disconnected"));
  ASSERT_TRUE(at);
  ASSERT_TRUE(log_.wait(is("agent1", "state", "disconnected")));
  EXPECT_TRUE(after(*at, "agent0").empty()) << after(*at, "agent0").front().event.dump();
  EXPECT_TRUE(done.load());
  EXPECT_FALSE(log_.reentered.load());
}

// Removing the callback drops what was queued for it, even when a callback is set again before
// delivery: the new callback sees only what happens after it was set.
TEST_F(CapiEvents, RemovingTheCallbackDropsQueuedEvents) {
  Source* quiet_src = nullptr;
  Source* marker_src = nullptr;
  zlt_agent*& quiet = connected_agent(quiet_src);  // agent0
  zlt_agent*& marker = connected_agent(marker_src);
  std::atomic<bool> done{false};
  marker_src->set_hook([&](const json& e) {
    if (e.value("state", "") != "disconnected" || done.exchange(true)) return;
    EXPECT_EQ(zlt_agent_stop(quiet), ZLT_OK);  // queues agent0's "disconnected"
    EXPECT_EQ(zlt_agent_on_event(quiet, nullptr, nullptr), ZLT_OK);
    EXPECT_EQ(zlt_agent_on_event(quiet, Source::callback, quiet_src), ZLT_OK);
    EXPECT_EQ(zlt_agent_start(marker), ZLT_OK);  // a marker queued after it
  });
  ASSERT_EQ(zlt_agent_stop(marker), ZLT_OK);
  auto at = log_.wait(is("agent1", "state", "disconnected"));
  ASSERT_TRUE(at);
  ASSERT_TRUE(log_.wait_after(*at, is("agent1", "state")));
  // The queued state change is gone. The end of agent0's goodbye ("disconnected", "agent
  // stopping") happens after the callback was set again, so it may be delivered.
  for (const auto& e : after(*at, "agent0"))
    EXPECT_FALSE(e.event.contains("state")) << e.event.dump();
  // What happens after the callback was set again is delivered.
  ASSERT_EQ(zlt_agent_start(quiet), ZLT_OK);
  EXPECT_TRUE(log_.wait_after(*at, is("agent0", "state", "connected")));
  auto later = after(*at, "agent0");
  ASSERT_FALSE(later.empty());
  EXPECT_NE(later.front().event.value("state", ""), "disconnected") << later.front().event.dump();
  EXPECT_TRUE(done.load());
}

}  // namespace
