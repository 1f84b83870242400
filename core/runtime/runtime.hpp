// The event loop on its own thread. Everything in core runs on this thread, so core needs no
// locks; other threads reach it through a command queue woken by uv_async.
#pragma once

#include <uv.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/common/error.hpp"

namespace zlt {

class Runtime {
 public:
  // Something that lives on the loop and must be told when the runtime stops (servers,
  // agents, the libwebsockets context). shutdown() runs on the loop thread and must close
  // every handle it owns; finalize() runs after the loop has drained, still on the loop thread,
  // for teardown that must happen outside uv_run (libwebsockets' second destroy).
  class Participant {
   public:
    virtual ~Participant() = default;
    virtual void shutdown() = 0;
    virtual void finalize() {}
  };

  // Starts the loop thread. Fails only if libuv cannot create the loop or the thread.
  static Result<std::unique_ptr<Runtime>> start(std::string name = "zlt-loop");
  ~Runtime();  // stop() then join
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  uv_loop_t* loop() { return &loop_; }
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_id_; }
  bool stopped() const { return stopping_.load(); }

  // Queues fn to run on the loop thread (never inline). Returns false if the runtime is
  // stopping and fn will not run.
  bool post(std::function<void()> fn);
  // Runs fn on the loop thread and waits for it. On the loop thread itself it runs inline, so
  // host callbacks may call back into the API without deadlocking. Returns false (fn not run)
  // if the runtime is stopping.
  bool invoke(const std::function<void()>& fn);

  // Loop-thread only. Participants are shut down in reverse order of registration.
  void add_participant(Participant* p);
  void remove_participant(Participant* p);
  // Loop-thread only: a named participant owned by the runtime (created once per runtime).
  Participant* find_owned(const std::string& key) const;
  Participant* add_owned(const std::string& key, std::unique_ptr<Participant> p);

  // Stops the loop: shuts down participants, drains the loop, finalizes, joins the thread.
  // Idempotent; safe from any thread except the loop thread itself (there it only begins the
  // stop, and the destructor completes it).
  void stop();

 private:
  Runtime() = default;
  void run_thread();
  void drain_commands();
  void begin_shutdown();

  uv_loop_t loop_{};
  uv_async_t wake_{};
  uv_timer_t watchdog_{};
  std::thread thread_;
  std::thread::id thread_id_;
  std::atomic<bool> stopping_{false};
  bool shutdown_begun_ = false;

  std::mutex mu_;  // guards commands_ only: the hand-off point between threads
  std::deque<std::function<void()>> commands_;

  std::vector<Participant*> participants_;
  std::vector<std::pair<std::string, std::unique_ptr<Participant>>> owned_;
};

// Held while a loop or a libwebsockets context creates its internal descriptors, so the
// transport can tell which eventfd libwebsockets made (see LwsContext).
std::mutex& loop_setup_mutex();

// Milliseconds since the Unix epoch (saturating at 0 before 1970), for Heartbeat timestamps.
std::uint64_t unix_time_ms();

}  // namespace zlt
