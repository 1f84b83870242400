#include "core/runtime/runtime.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <future>

#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"

namespace zlt {
namespace {

// A participant that leaves a handle open would keep uv_run from ever returning; after this
// long the runtime closes whatever is left and says so.
constexpr std::uint64_t kShutdownWatchdogMs = 5000;

void ignore_sigpipe_once() {
  // Writes to a socket whose peer has gone raise SIGPIPE, and libuv does not suppress it.
  // Only replace the default disposition: a host that installed a handler keeps it.
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
      signal(SIGPIPE, SIG_IGN);
  });
}

}  // namespace

std::uint64_t unix_time_ms() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}

std::mutex& loop_setup_mutex() {
  static std::mutex mu;
  return mu;
}

Result<std::unique_ptr<Runtime>> Runtime::start(std::string name) {
  ignore_sigpipe_once();
  std::unique_ptr<Runtime> rt(new Runtime());
  std::unique_lock setup(loop_setup_mutex());
  int rc = uv_loop_init(&rt->loop_);
  if (rc != 0) return make_error(Errc::internal, "uv_loop_init: " + std::string(uv_strerror(rc)));
  rc = uv_async_init(&rt->loop_, &rt->wake_, [](uv_async_t* a) {
    guard_callback("runtime wake-up", [a] { static_cast<Runtime*>(a->data)->drain_commands(); });
  });
  if (rc != 0) {
    uv_loop_close(&rt->loop_);
    return make_error(Errc::internal, "uv_async_init: " + std::string(uv_strerror(rc)));
  }
  rt->wake_.data = rt.get();
  setup.unlock();
  std::promise<void> ready;
  auto ready_future = ready.get_future();
  Runtime* raw = rt.get();
  rt->thread_ = std::thread([raw, &ready, name] {
    raw->thread_id_ = std::this_thread::get_id();
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    ready.set_value();
    raw->run_thread();
  });
  ready_future.wait();
  return rt;
}

Runtime::~Runtime() {
  assert(!on_loop_thread() && "a Runtime must not be destroyed on its own loop thread");
  stop();
}

bool Runtime::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (stopping_.load()) return false;
    commands_.push_back(std::move(fn));
  }
  uv_async_send(&wake_);
  return true;
}

bool Runtime::invoke(const std::function<void()>& fn) {
  if (on_loop_thread()) {
    fn();
    return true;
  }
  std::promise<void> done;
  auto finished = done.get_future();
  // An exception from fn reaches the caller, as it would when called inline on the loop.
  if (!post([&] {
        try {
          fn();
          done.set_value();
        } catch (...) {
          done.set_exception(std::current_exception());
        }
      }))
    return false;
  finished.get();
  return true;
}

void Runtime::add_participant(Participant* p) {
  assert(on_loop_thread());
  participants_.push_back(p);
}

void Runtime::remove_participant(Participant* p) {
  assert(on_loop_thread());
  participants_.erase(std::remove(participants_.begin(), participants_.end(), p),
                      participants_.end());
}

Runtime::Participant* Runtime::find_owned(const std::string& key) const {
  for (const auto& [k, p] : owned_)
    if (k == key) return p.get();
  return nullptr;
}

Runtime::Participant* Runtime::add_owned(const std::string& key, std::unique_ptr<Participant> p) {
  assert(on_loop_thread());
  owned_.emplace_back(key, std::move(p));
  return owned_.back().second.get();
}

void Runtime::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_.store(true);
  }
  if (thread_.joinable()) {
    uv_async_send(&wake_);
    if (!on_loop_thread()) thread_.join();
  }
}

void Runtime::drain_commands() {
  for (;;) {
    std::deque<std::function<void()>> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(commands_);
    }
    if (batch.empty()) break;
    // A command that throws loses only itself, not the rest of the batch or the process.
    for (auto& fn : batch) guard_callback("runtime command", fn);
  }
  // Once stopping_ is set no command can be queued (post checks it under the lock), so the
  // queue drained above is the last one.
  if (stopping_.load() && !shutdown_begun_) begin_shutdown();
}

void Runtime::begin_shutdown() {
  shutdown_begun_ = true;
  // Newest first: objects created later may depend on earlier ones.
  auto participants = participants_;
  for (auto it = participants.rbegin(); it != participants.rend(); ++it) (*it)->shutdown();
  for (auto it = owned_.rbegin(); it != owned_.rend(); ++it) it->second->shutdown();
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);

  uv_timer_init(&loop_, &watchdog_);
  uv_timer_start(
      &watchdog_,
      [](uv_timer_t* t) {
        uv_walk(
            t->loop,
            [](uv_handle_t* h, void* self) {
              if (h == self || uv_is_closing(h)) return;
              guard_callback("shutdown watchdog", [h] {
                ZLT_LOG(error, "runtime") << "closing a " << uv_handle_type_name(h->type)
                                          << " handle left open at shutdown";
              });
              uv_close(h, nullptr);
            },
            t);
      },
      kShutdownWatchdogMs, 0);
  // Unreferenced: it fires only while something else still keeps the loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&watchdog_));
}

void Runtime::run_thread() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (shutdown_begun_) uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
  for (auto it = participants_.rbegin(); it != participants_.rend(); ++it) (*it)->finalize();
  for (auto it = owned_.rbegin(); it != owned_.rend(); ++it) it->second->finalize();
  uv_run(&loop_, UV_RUN_DEFAULT);
  owned_.clear();
  uv_run(&loop_, UV_RUN_NOWAIT);
  if (uv_loop_close(&loop_) != 0) {
    // Only unreferenced handles can remain; close them and retry.
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop_);
    if (rc != 0) ZLT_LOG(error, "runtime") << "loop not closed cleanly: " << uv_strerror(rc);
  }
}

}  // namespace zlt
