// A legitimate tunnel that keeps moving hash-checked bytes while a test attacks the server, so
// the test can show that nobody else was disturbed: its own agent, its own echo service, and a
// client thread that sends blocks through the public port and checks every byte that returns.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "support/harness.hpp"
#include "support/net.hpp"

namespace zlt::test {

class Bystander {
 public:
  struct Options {
    std::string service = "bystander";
    std::size_t block = 64u << 10;  // bytes per echo round
    // Rounds per TCP connection before the client reconnects, so new streams are opened during
    // the attack too, not only bytes on an old one.
    int rounds_per_connection = 16;
    // The longest gap between two completed rounds that still counts as undisturbed.
    std::chrono::milliseconds max_stall{2000};
  };

  // Starts the echo service and an agent for it on `harness`'s server (which must be running),
  // waits for the public port, starts the client thread and waits for its first round. A
  // failure to start is reported by finish().
  explicit Bystander(Harness& harness);
  Bystander(Harness& harness, Options options);
  ~Bystander();
  Bystander(const Bystander&) = delete;
  Bystander& operator=(const Bystander&) = delete;

  // Waits for one more round, stops the client thread and says whether every byte came back
  // intact and no gap between rounds exceeded max_stall.
  ::testing::AssertionResult finish();

  std::uint64_t bytes_verified() const { return bytes_verified_.load(); }
  std::uint64_t rounds() const { return rounds_.load(); }
  // The client thread has seen a failure (finish() will say which).
  bool failed() {
    std::lock_guard lock(mu_);
    return !failure_.empty();
  }

 private:
  void run();
  void fail(std::string why);

  Options options_;
  EchoServer echo_;
  std::uint16_t public_port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> bytes_verified_{0};
  std::atomic<std::uint64_t> rounds_{0};
  std::chrono::steady_clock::duration longest_stall_{};
  std::mutex mu_;
  std::string failure_;
  std::thread thread_;
};

}  // namespace zlt::test
