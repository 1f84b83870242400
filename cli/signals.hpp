// Stop signals for the long-running subcommands (and SIGHUP for those that reload their
// configuration). SIGINT and SIGTERM are blocked in every
// thread and collected by the main thread with sigtimedwait, so no handler ever runs inside
// core code and the loop thread is never interrupted. Construct before any thread starts
// (threads inherit the mask).
#pragma once

#include <pthread.h>

#include <chrono>

namespace zlt::cli {

class SignalWaiter {
 public:
  // What wait() returns besides a signal number.
  static constexpr int kTimeout = 0;
  static constexpr int kWoken = -1;

  // `reload`: SIGHUP is collected too (wait() returns it) instead of ending the process.
  explicit SignalWaiter(bool reload = false);
  SignalWaiter(const SignalWaiter&) = delete;
  SignalWaiter& operator=(const SignalWaiter&) = delete;

  // Waits up to `timeout` for SIGINT/SIGTERM (returns it), wake() (kWoken) or nothing
  // (kTimeout). Main thread only.
  int wait(std::chrono::milliseconds timeout);
  // Makes the main thread's wait() return kWoken. Any thread.
  void wake();
  // Called once a stop has begun: a further SIGINT/SIGTERM ends the process at once, even
  // while the main thread is blocked waiting for the loop.
  void exit_on_next_signal();

 private:
  pthread_t main_thread_;
  bool reload_ = false;
};

}  // namespace zlt::cli
