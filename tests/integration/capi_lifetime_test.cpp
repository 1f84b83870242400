// Freeing a handle while other threads are inside calls on it: every such call completes or
// returns ZLT_ECLOSED, and nothing touches freed memory (run under ZLT_SANITIZE=address or
// thread to see the latter).
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlayer_tunnel.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr const char* kServerConfig =
    R"({"listen":"127.0.0.1:0","public_bind":"127.0.0.1","data_port_range":[0,0],)"
    R"("tokens":[{"token":"s3cret"}]})";

// Holds the runtime's loop thread inside a token validator until released, so that calls
// made meanwhile from other threads are all still in progress when a handle is freed.
struct LoopGate {
  std::mutex mu;
  std::condition_variable cv;
  int entered = 0;
  bool open = false;

  static int validator(void* user, const char*, const char*, zlt_token_verdict*) {
    auto* gate = static_cast<LoopGate*>(user);
    std::unique_lock lock(gate->mu);
    ++gate->entered;
    gate->cv.notify_all();
    gate->cv.wait(lock, [gate] { return gate->open; });
    gate->open = false;
    return 0;  // refused: the agent that triggered it has done its job
  }
  bool wait_entered(int n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 10s, [&] { return entered >= n; });
  }
  void release() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

// 'S' (sleeping) from /proc: the thread is blocked waiting, which in these threads happens
// only inside the library call under test (or after it has returned, which `done` tells).
bool is_sleeping(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'S';
}

struct Caller {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  int rc = 1;
  std::thread thread;
};

bool wait_blocked_or_done(std::vector<Caller>& callers) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (auto& c : callers) {
    while (!c.done.load() && !is_sleeping(c.tid.load())) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
  }
  return true;
}

TEST(CapiLifetime, FreeingWhileOtherThreadsAreInCallsIsSafe) {
  zlt_runtime* rt = nullptr;
  ASSERT_EQ(zlt_runtime_new(&rt), ZLT_OK) << zlt_last_error();
  LoopGate gate;
  zlt_registry* gatekeeper = nullptr;
  ASSERT_EQ(zlt_registry_new(rt, kServerConfig, &gatekeeper), ZLT_OK) << zlt_last_error();
  ASSERT_EQ(zlt_registry_set_token_validator(gatekeeper, LoopGate::validator, &gate), ZLT_OK);
  int port = 0;
  ASSERT_EQ(zlt_registry_listen(gatekeeper, "127.0.0.1", 0, &port), ZLT_OK) << zlt_last_error();
  const std::string knock_config = R"({"server_url":"ws://127.0.0.1:)" + std::to_string(port) +
                                   R"(/tunnel/v1","token":"s3cret","reconnect_interval":"10s"})";
  std::vector<zlt_agent*> knockers;

  constexpr int kRounds = 4;
  constexpr int kCallersPerHandle = 4;
  for (int round = 1; round <= kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    zlt_registry* reg = nullptr;
    zlt_agent* agent = nullptr;
    ASSERT_EQ(zlt_registry_new(rt, kServerConfig, &reg), ZLT_OK) << zlt_last_error();
    ASSERT_EQ(zlt_agent_new(rt, knock_config.c_str(), &agent), ZLT_OK) << zlt_last_error();

    // An agent authenticating stops the loop in the validator.
    zlt_agent* knocker = nullptr;
    ASSERT_EQ(zlt_agent_new(rt, knock_config.c_str(), &knocker), ZLT_OK) << zlt_last_error();
    knockers.push_back(knocker);
    ASSERT_EQ(zlt_agent_start(knocker), ZLT_OK);
    ASSERT_TRUE(gate.wait_entered(round));

    std::vector<Caller> callers(2 * kCallersPerHandle);
    std::latch started(static_cast<std::ptrdiff_t>(callers.size()));
    for (std::size_t i = 0; i < callers.size(); ++i) {
      Caller& c = callers[i];
      c.thread = std::thread([&c, &started, reg, agent, i] {
        c.tid = static_cast<pid_t>(::syscall(SYS_gettid));
        started.count_down();
        char* out = nullptr;
        if (i % 2 == 0)
          c.rc =
              (i % 4 == 0) ? zlt_registry_status(reg, &out) : zlt_registry_list_grants(reg, &out);
        else
          c.rc = zlt_agent_status(agent, &out);
        zlt_free(out);
        c.done = true;
      });
    }
    started.wait();
    ASSERT_TRUE(wait_blocked_or_done(callers));

    // The registry is freed while every call is waiting for the loop; the agent's free starts
    // only once the registry's has returned, after the calls on the agent ran.
    std::vector<Caller> freer(1);
    freer[0].thread = std::thread([&f = freer[0], reg, agent] {
      f.tid = static_cast<pid_t>(::syscall(SYS_gettid));
      zlt_registry_free(reg);
      zlt_agent_free(agent);
      f.done = true;
    });
    while (freer[0].tid.load() == 0) std::this_thread::yield();
    ASSERT_TRUE(wait_blocked_or_done(freer));
    gate.release();

    freer[0].thread.join();
    for (std::size_t i = 0; i < callers.size(); ++i) {
      callers[i].thread.join();
      if (i % 2 == 0) {
        EXPECT_EQ(callers[i].rc, ZLT_ECLOSED) << "call " << i;
      } else {
        EXPECT_EQ(callers[i].rc, ZLT_OK) << "call " << i;
      }
    }
  }
  for (auto* k : knockers) zlt_agent_free(k);
  zlt_registry_free(gatekeeper);
  EXPECT_EQ(zlt_runtime_free(rt), ZLT_OK);
}

}  // namespace
