// A GoogleTest fixture owning a libuv loop, with event-driven waits: the loop runs until a
// condition holds or a deadline passes (no sleeping). At the end every handle must be closed.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <functional>

namespace zlt::test {

class UvLoopTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Runs the loop until done() is true (checked after every loop iteration) or the timeout
  // passes; returns done().
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Runs the loop for a fixed time: only for checking that something does NOT happen.
  void run_for(std::chrono::milliseconds duration);
  // Runs until nothing is left to do (every handle closed); false if that took too long.
  bool run_to_completion(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Called at the start of TearDown, before the loop is drained: release loop objects here.
  virtual void release() {}

  uv_loop_t loop_{};
};

}  // namespace zlt::test
