// For the tests of the C interface: events delivered on a runtime's loop thread and awaited by
// the test thread, and strings the library allocated. Uses only zlayer_tunnel.h.
#pragma once

#include <gtest/gtest.h>
#include <zlayer_tunnel.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace zlt::test {

// Takes a string the library allocated.
inline std::string take(char* s) {
  std::string out = s != nullptr ? s : "";
  zlt_free(s);
  return out;
}

// Events delivered on the loop thread, awaited by the test thread. An optional hook runs on
// the loop thread inside the callback, to test calls made from there.
class Events {
 public:
  using json = nlohmann::json;

  static void callback(void* user, const zlt_event* ev) {
    auto* self = static_cast<Events*>(user);
    json j = json::parse(ev->json);
    EXPECT_EQ(j.value("event", ""), ev->name);
    if (self->hook) self->hook(j);
    {
      std::lock_guard lock(self->mu_);
      self->events_.push_back(std::move(j));
    }
    self->cv_.notify_all();
  }

  std::optional<json> wait(const std::function<bool(const json&)>& pred,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    std::optional<json> found;
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
  std::optional<json> wait(const std::string& name,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return wait([&](const json& e) { return e.value("event", "") == name; }, timeout);
  }
  // Waits until `n` events match `pred`; the n-th of them.
  std::optional<json> wait_nth(const std::function<bool(const json&)>& pred, std::size_t n,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    std::optional<json> found;
    cv_.wait_for(lock, timeout, [&] {
      std::size_t seen = 0;
      for (const auto& e : events_)
        if (pred(e) && ++seen == n) {
          found = e;
          return true;
        }
      return false;
    });
    return found;
  }
  // Every event so far, in order.
  std::vector<json> all() {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return events_.size();
  }
  // Waits until `name` has been seen `n` times.
  bool wait_count(const std::string& name, std::size_t n,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      std::size_t seen = 0;
      for (const auto& e : events_) seen += e.value("event", "") == name ? 1 : 0;
      return seen >= n;
    });
  }
  std::vector<std::string> names() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& e : events_) out.push_back(e.value("event", ""));
    return out;
  }

  std::function<void(const json&)> hook;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<json> events_;
};

}  // namespace zlt::test
